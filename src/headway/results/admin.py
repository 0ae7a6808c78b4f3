"""The admin for computed results: read-only, since `headway recompute` writes them."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from headway.results.models import Result


@admin.register(Result)
class ResultAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = [
        "kpi",
        "period",
        "group_dimension",
        "group_value",
        "value",
        "target",
        "attainment",
        "status",
        "computed_at",
    ]
    list_filter = ["status", "group_dimension", "kpi"]
    search_fields = ["kpi__key", "period", "group_value"]
    list_select_related = ["kpi"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
