"""The admin for imports: read-only, since only `import_file` writes them."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from headway.ingestion.models import DatasetSchema, ImportRun, RejectedRow, Source, StaleNotice


class _ReadOnly(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class RejectedRowInline(admin.TabularInline):  # type: ignore[type-arg]
    model = RejectedRow
    fields = ["line", "column", "value", "reason"]
    readonly_fields = ["line", "column", "value", "reason"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(ImportRun)
class ImportRunAdmin(_ReadOnly):
    list_display = [
        "dataset",
        "started_at",
        "status",
        "source",
        "file_name",
        "added",
        "updated",
        "unchanged",
        "rejected",
        "by",
    ]
    list_filter = ["status", "source", "dataset"]
    search_fields = ["dataset__key", "file_name", "sha256"]
    list_select_related = ["dataset", "by"]
    inlines = [RejectedRowInline]


@admin.register(DatasetSchema)
class DatasetSchemaAdmin(_ReadOnly):
    list_display = ["dataset", "updated_at"]
    list_select_related = ["dataset"]


@admin.register(Source)
class SourceAdmin(_ReadOnly):
    """Read-only: sources change through their page (credentials are encrypted there and
    never shown, so they are left out here too)."""

    list_display = ["name", "dataset", "kind", "every_minutes", "is_active", "last_sync_at"]
    list_filter = ["kind", "is_active"]
    exclude = ["secrets"]


@admin.register(StaleNotice)
class StaleNoticeAdmin(_ReadOnly):
    list_display = ["dataset", "refreshed_at", "notified_at"]
