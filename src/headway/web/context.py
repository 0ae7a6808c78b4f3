"""Template context shared by every page."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


def organization(request: HttpRequest) -> dict[str, Any]:
    from headway.web.queries import organization_of, rights_of

    return {"organization": organization_of(request), "rights": rights_of(request)}
