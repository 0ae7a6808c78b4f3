"""Template context shared by every page."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from django.http import HttpRequest


def organization(request: HttpRequest) -> dict[str, Any]:
    from headway.web.queries import organization_of, rights_of

    return {
        "organization": organization_of(request),
        "rights": rights_of(request),
        "unread_notifications": unread_notifications(request),
    }


def unread_notifications(request: HttpRequest) -> Callable[[], int]:
    """The bell's count, read (one query) only when a page shows it, and only once: a
    template calls it where it is used, and htmx fragments that do not show it never do."""
    from headway.notifications.services import unread_count

    @cache
    def count() -> int:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return 0
        return unread_count(user)

    return count
