"""The admin for computed results and values entered by hand: read-only, since
`headway recompute` and the services of `headway.results.manual` write them."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from headway.results.models import ManualValue, Result


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


@admin.register(ManualValue)
class ManualValueAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Read-only: values are entered, approved and rejected on the KPI's values page (or
    through the API), whose services keep every entry and write the audit log."""

    list_display = [
        "kpi",
        "period",
        "value",
        "status",
        "entered_by",
        "entered_at",
        "decided_by",
        "decided_at",
    ]
    list_filter = ["status", "kpi"]
    search_fields = ["kpi__key", "period", "comment", "decision_note"]
    list_select_related = ["kpi", "entered_by", "decided_by"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
