"""The API's reads, cached in each process under the data's generation.

Everyone signed in reads every team, goal, KPI, target and result (docs/permission-
matrix.md), so these answers are the same for every caller: one cached answer serves them
all, until the next committed write anywhere moves the `data` generation
(`headway.changes.generations`) or the quarter of an hour ends. The caller is still
checked on every request (the token, or the signed-in session) before a cached answer is
sent; a caller that does not pass goes on to the operation, which answers 401 as before.
`/me`, manual values, datasets and every write are never cached.
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.utils.translation import get_language

from headway.accounts.permissions import is_signed_in
from headway.accounts.services import token_user
from headway.changes.answers import entry_of, response_of
from headway.changes.generations import current
from headway.lib.lru import ByteBoundLRU

# Operations (by their ids) whose answer depends on nothing but the path and the data.
SHARED_READS = frozenset(
    {
        "teams_list",
        "teams_read",
        "goals_list",
        "goals_read",
        "kpis_list",
        "kpis_read",
        "targets_list",
        "targets_read",
        "results_list",
        "results_read",
    }
)
BUCKET_SECONDS = 15 * 60
HIT_HEADER = "X-Headway-Read-Cache"
_KEPT_HEADERS = ("Content-Type", "ETag", "Content-Language")

_LOCAL = ByteBoundLRU(int(getattr(settings, "HEADWAY_PAGE_CACHE_BYTES", 64 * 1024 * 1024)) // 2)


def forget_all() -> None:
    """For tests: this process keeps no answer from before."""
    _LOCAL.clear()


def _caller_passes(request: HttpRequest) -> bool:
    """What the API's authenticators check (headway.api.auth), without the rest."""
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, raw = header.partition(" ")
        return scheme.lower() == "bearer" and token_user(raw.strip()) is not None
    return is_signed_in(getattr(request, "user", None))


def _key(request: HttpRequest, operation: str, data_generation: int) -> str:
    parts = (
        operation,
        request.get_full_path(),
        get_language(),
        data_generation,
        int(time.time() // BUCKET_SECONDS),
    )
    return "api-read:" + hashlib.sha256(repr(parts).encode()).hexdigest()


def cached_reads(run: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """A ninja view decorator (mode "view": around the whole operation, authentication
    included) that caches the answers of the operations in SHARED_READS."""
    operation = getattr(getattr(run, "__self__", None), "view_func", None)
    name = getattr(operation, "__name__", "")
    if name not in SHARED_READS:
        return run

    @functools.wraps(run)
    def cached(request: HttpRequest, **values: Any) -> HttpResponseBase:
        if not getattr(settings, "HEADWAY_PAGE_CACHE", False) or request.method != "GET":
            return run(request, **values)
        generations = current()
        if generations is None:
            return run(request, **values)
        key = _key(request, name, generations.data)
        entry = _LOCAL.get(key)
        if entry is not None and _caller_passes(request):
            return response_of(entry, HIT_HEADER)
        response = run(request, **values)
        if (
            response.status_code == 200
            and isinstance(response, HttpResponse)
            and not response.cookies
        ):
            _LOCAL.put(
                key,
                entry_of(response, _KEPT_HEADERS),
            )
            response[HIT_HEADER] = "miss"
        return response

    return cached
