"""The admin for the KPI catalogue. Target versions are read-only: a target is never
overwritten, only followed by a new version (on the KPI's page, or `headway apply`)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from headway.accounts.admin import AuditedModelAdmin
from headway.kpis.models import Dataset, Kpi, KpiGoal, Measure, TargetVersion
from headway.kpis.services import formula_problems


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class KpiGoalInline(admin.TabularInline):  # type: ignore[type-arg]
    model = KpiGoal
    extra = 0
    autocomplete_fields = ["goal"]


TARGET_FIELDS = (
    "effective_from",
    "value",
    "where_dimension",
    "where_value",
    "reason",
    "decided_by",
    "decided_at",
    "origin",
)


class TargetVersionInline(admin.TabularInline):  # type: ignore[type-arg]
    model = TargetVersion
    extra = 0
    fields = TARGET_FIELDS
    readonly_fields = TARGET_FIELDS
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Dataset)
class DatasetAdmin(AuditedModelAdmin):
    list_display = ["key", "file", "key_column", "time_column"]
    search_fields = ["key", "file"]
    readonly_fields = ["version"]


@admin.register(Measure)
class MeasureAdmin(AuditedModelAdmin):
    list_display = ["name", "dataset", "agg", "column", "filter"]
    list_filter = ["agg", "dataset"]
    search_fields = ["name", "column", "filter"]
    readonly_fields = ["version"]


class KpiAdminForm(forms.ModelForm):  # type: ignore[type-arg]
    """The same formula check as the KPI services."""

    class Meta:
        model = Kpi
        fields = "__all__"

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        problems = formula_problems(data.get("formula") or "", data.get("entry") or "formula")
        if problems:
            self.add_error("formula", problems)
        return data


@admin.register(Kpi)
class KpiAdmin(AuditedModelAdmin):
    form = KpiAdminForm
    list_display = ["name", "key", "unit", "grain", "direction", "team", "owner", "is_active"]
    list_filter = ["is_active", "unit", "grain", "team"]
    search_fields = ["name", "key", "formula"]
    autocomplete_fields = ["team", "owner"]
    readonly_fields = ["version"]
    inlines = [KpiGoalInline, TargetVersionInline]


@admin.register(KpiGoal)
class KpiGoalAdmin(AuditedModelAdmin):
    list_display = ["kpi", "goal", "weight"]
    list_filter = ["goal"]
    autocomplete_fields = ["kpi", "goal"]


@admin.register(TargetVersion)
class TargetVersionAdmin(ReadOnlyAdmin):
    """Read-only: the database refuses updates to target versions anyway."""

    list_display = [
        "kpi",
        "effective_from",
        "value",
        "where_dimension",
        "where_value",
        "decided_by",
        "decided_at",
        "origin",
    ]
    list_filter = ["origin", "kpi"]
    search_fields = ["kpi__key", "kpi__name", "reason"]
