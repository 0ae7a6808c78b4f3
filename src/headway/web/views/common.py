"""Small helpers every view uses."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

CONFLICT_MESSAGE = _(
    "Someone else changed this while you were editing it. Reload the page to see their "
    "change, then make yours again."
)


def is_htmx(request: HttpRequest) -> bool:
    """The request comes from htmx and wants a fragment of a page, not a whole one."""
    return request.headers.get("HX-Request") == "true"


def require(allowed: bool) -> None:
    """Deny by default: a 403 page unless the check passed."""
    if not allowed:
        raise PermissionDenied
