"""HTTP answers as the per-process caches keep them (`headway.lib.lru.Entry`): the body
and the headers worth sending again, never a cookie. Shared by the page cache
(`headway.web.page_cache`) and the API's read cache (`headway.api.read_cache`)."""

from __future__ import annotations

from collections.abc import Iterable

from django.http import HttpResponse

from headway.lib.lru import Entry


def entry_of(response: HttpResponse, kept_headers: Iterable[str]) -> Entry:
    return (
        bytes(response.content),
        [(name, response[name]) for name in kept_headers if response.has_header(name)],
    )


def response_of(entry: Entry, hit_header: str) -> HttpResponse:
    """The kept answer again, marked as a hit with `hit_header`."""
    body, headers = entry
    response = HttpResponse(body)
    for name, value in headers:
        response[name] = value
    response[hit_header] = "hit"
    return response
