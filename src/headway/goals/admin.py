"""The admin for goals; its saves are audited (see `AuditedModelAdmin`)."""

from __future__ import annotations

from django.contrib import admin

from headway.accounts.admin import AuditedModelAdmin
from headway.goals.models import Goal


@admin.register(Goal)
class GoalAdmin(AuditedModelAdmin):
    list_display = ["title", "key", "horizon", "status", "team", "owner", "due"]
    list_filter = ["horizon", "status", "team"]
    search_fields = ["title", "key", "statement"]
    autocomplete_fields = ["parent", "team", "owner"]
    readonly_fields = ["version"]
