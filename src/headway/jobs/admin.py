"""The admin for jobs: read-only, since only the worker and the services write them."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from headway.jobs.models import Job


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["pk", "kind", "status", "attempts", "run_after", "claimed_by", "finished_at"]
    list_filter = ["kind", "status"]
    readonly_fields = [field.name for field in Job._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
