"""The admin for report subscriptions and the archive of sent reports (read-only: a sent
report stays as it was sent)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from headway.reports.models import ReportSubscription, SentReport


@admin.register(ReportSubscription)
class ReportSubscriptionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["user", "team", "language", "created_at"]
    list_filter = ["language", "team"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(SentReport)
class SentReportAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["period", "team", "language", "made_at"]
    list_filter = ["period", "language"]
    exclude = ["html", "pdf", "xlsx"]
    readonly_fields = ["period", "team", "language", "made_at", "recipients", "failed"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
