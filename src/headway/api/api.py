"""The REST API, version 1 (django-ninja; OpenAPI at /api/v1/openapi.json)."""

from __future__ import annotations

from ninja import NinjaAPI

api = NinjaAPI(title="Headway API", version="1.0.0", urls_namespace="api")
