"""Whole pages, cached for the browser session that asked for them.

The most visited pages (home, a goal, a team, a KPI) are cached whole, per session, under
the `data` generation (`headway.changes.generations`): any committed write anywhere moves
it, so a cached page is never older than the data it shows. A page is reused only for the
same session and CSRF cookie (the page's forms carry a token made from it), language,
address (path and query) and htmx request, within the same quarter of an hour (pages
show today's date and what follows from it: freshness, forecasts, overdue actions).

A hit costs the request one query (the generations, which the session and the person are
checked against too) instead of the page's 5-20 queries and its rendering; a miss renders
as before, through the caches of the page's parts (the goal tree, a KPI's core), which
survive writes that do not concern them.

Where: each process's own memory (a bounded LRU, `HEADWAY_PAGE_CACHE_MB`), not Django's
cache: a page is one person's, seldom asked for again by the same person from another
process, and writing every page to a shared cache would cost each miss a write. Not
cached: anything but a 200 answer to GET or HEAD, an answer that sets a cookie or
changes the session, a request with messages waiting to be shown, and a request without
a CSRF cookie.
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.contrib.messages import get_messages
from django.http import HttpRequest, HttpResponse
from django.utils.translation import get_language

from headway.changes.answers import entry_of, response_of
from headway.changes.generations import current
from headway.lib.lru import ByteBoundLRU

View = TypeVar("View", bound=Callable[..., HttpResponse])

# Pages are rendered again at least this often: what they say about "today".
BUCKET_SECONDS = 15 * 60
HIT_HEADER = "X-Headway-Page-Cache"
_KEPT_HEADERS = ("Content-Type", "Content-Language", "Vary", "X-Frame-Options")


_LOCAL = ByteBoundLRU(int(getattr(settings, "HEADWAY_PAGE_CACHE_BYTES", 64 * 1024 * 1024)))


def forget_all() -> None:
    """For tests: this process keeps no page from before."""
    _LOCAL.clear()


def _enabled() -> bool:
    return bool(getattr(settings, "HEADWAY_PAGE_CACHE", False))


def _key(request: HttpRequest, view: str, data_generation: int) -> str | None:
    session_key = request.session.session_key
    csrf = request.COOKIES.get(settings.CSRF_COOKIE_NAME)
    if not session_key or not csrf:
        return None
    if len(get_messages(request)):
        return None
    parts = (
        view,
        request.method == "HEAD",
        request.get_full_path(),
        session_key,
        csrf,
        get_language(),
        request.headers.get("HX-Request", ""),
        request.headers.get("HX-Target", ""),
        data_generation,
        int(time.time() // BUCKET_SECONDS),
    )
    return "page:" + hashlib.sha256(repr(parts).encode()).hexdigest()


def cached_page(view: View) -> View:
    """Caches a signed-in page view's answers as described above. Put it inside
    `login_required`, so that only people signed in reach it."""
    name = f"{view.__module__}.{view.__qualname__}"

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not _enabled() or request.method not in ("GET", "HEAD"):
            return view(request, *args, **kwargs)
        generations = current()
        key = _key(request, name, generations.data) if generations is not None else None
        if key is None:
            return view(request, *args, **kwargs)
        entry = _LOCAL.get(key)
        if entry is not None:
            return response_of(entry, HIT_HEADER)
        response = view(request, *args, **kwargs)
        if (
            response.status_code == 200
            and not response.cookies
            and not getattr(response, "streaming", False)
            and not request.session.modified
            # The page's forms carry a token made from this cookie's secret (not from a
            # new one that only this answer's cookie would bring).
            and request.META.get("CSRF_COOKIE") == request.COOKIES.get(settings.CSRF_COOKIE_NAME)
        ):
            _LOCAL.put(key, entry_of(response, _KEPT_HEADERS))
            response[HIT_HEADER] = "miss"
        return response

    return wrapper  # type: ignore[return-value]
