"""The admin for reviews: read-only, since the review pages and their services write
(and audit) every change."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from headway.reviews.models import Action, Decision, Meeting, OwnerComment, ReviewCycle


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ReviewCycle)
class ReviewCycleAdmin(ReadOnlyAdmin):
    list_display = ["title", "period", "period_start", "period_end", "created_at"]


@admin.register(Meeting)
class MeetingAdmin(ReadOnlyAdmin):
    list_display = ["title", "cycle", "team", "scheduled_at", "chair", "status"]
    list_filter = ["status", "cycle"]


@admin.register(Decision)
class DecisionAdmin(ReadOnlyAdmin):
    list_display = ["meeting", "kind", "kpi", "status", "recorded_by", "decided_by", "applied_at"]
    list_filter = ["status", "kind"]


@admin.register(Action)
class ActionAdmin(ReadOnlyAdmin):
    list_display = ["title", "owner", "due", "status", "meeting"]
    list_filter = ["status"]


@admin.register(OwnerComment)
class OwnerCommentAdmin(ReadOnlyAdmin):
    list_display = ["meeting", "kpi", "author", "written_at"]
