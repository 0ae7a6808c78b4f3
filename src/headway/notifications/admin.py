"""The admin for notifications: read-only, since the services make them and each person
reads and settles their own on the site."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from headway.notifications.models import Notification, NotificationSettings


class ReadOnly(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Notification)
class NotificationAdmin(ReadOnly):
    list_display = ["person", "kind", "text", "actor", "created_at", "read_at", "mailed_at"]
    list_filter = ["kind"]
    search_fields = ["person__email", "text", "dedupe_key"]
    list_select_related = ["person", "actor"]
    date_hierarchy = "created_at"


@admin.register(NotificationSettings)
class NotificationSettingsAdmin(ReadOnly):
    list_display = ["person", "digest", "last_digest_at"]
    list_filter = ["digest"]
    search_fields = ["person__email"]
    list_select_related = ["person"]
