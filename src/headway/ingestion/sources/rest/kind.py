"""The REST/JSON kind: fetch, page, turn records into rows, keep the cursor."""

from __future__ import annotations

import base64
import datetime
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from headway.ingestion.sources.base import (
    FetchContext,
    KindConfig,
    RowSink,
    SourceError,
    SourceKind,
    cell_text,
    request_with_backoff,
)
from headway.ingestion.sources.rest.common import (
    MISSING,
    dig,
    excerpt,
    load_model,
    parse_instant,
    read_json,
    same_origin,
)
from headway.ingestion.sources.rest.config import (
    ApiKeyAuth,
    BasicAuth,
    BearerAuth,
    CursorPaging,
    LinkHeaderPaging,
    NextUrlPaging,
    OffsetPaging,
    PageNumberPaging,
    RestConfig,
    RestSecrets,
)
from headway.lib.http import Response

# Nested objects deeper than this stay one column of JSON text.
MAX_FLATTEN_DEPTH: Final = 8

_LINK: Final = re.compile(r"<([^>]*)>((?:\s*;\s*[^;,]*)*)")


def next_link(header: str) -> str | None:
    """The URL of `rel="next"` in a Link header (RFC 8288), or None."""
    for match in _LINK.finditer(header):
        for parameter in match.group(2).split(";"):
            name, _, value = parameter.strip().partition("=")
            if name.strip().lower() == "rel" and "next" in value.strip().strip('"').lower().split():
                return match.group(1).strip()
    return None


def flatten(record: Mapping[str, Any], separator: str, depth: int = 0) -> dict[str, Any]:
    """A record with nested objects spread into columns (`customer.city`); lists, empty
    objects and objects nested deeper than MAX_FLATTEN_DEPTH stay as JSON text."""
    row: dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, dict) and value and depth < MAX_FLATTEN_DEPTH:
            for inner, item in flatten(value, separator, depth + 1).items():
                row[f"{key}{separator}{inner}"] = item
        else:
            row[str(key)] = value
    return row


def _order(value: object) -> tuple[int, Any] | None:
    """How a cursor value sorts: numbers by value, timestamps by instant, other text as
    text; None for what cannot be a cursor (null, booleans, objects)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return (0, float(value))
    if isinstance(value, str) and value.strip():
        instant = parse_instant(value)
        if instant is not None:
            return (1, instant.astimezone(datetime.UTC))
        try:
            return (0, float(value))
        except ValueError:
            return (2, value)
    return None


def _with_query(url: str, extra: Mapping[str, str]) -> str:
    """`url` with the parameters of `extra` set (replacing any of the same name)."""
    if not extra:
        return url
    parts = urlsplit(url)
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in extra]
    query = urlencode([*kept, *extra.items()])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


@dataclass
class _Auth:
    headers: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)


def _auth(secrets: RestSecrets) -> _Auth:
    auth, out = secrets.auth, _Auth()
    if isinstance(auth, BearerAuth):
        out.headers["Authorization"] = f"Bearer {auth.token.get_secret_value()}"
    elif isinstance(auth, ApiKeyAuth):
        target = out.headers if auth.location == "header" else out.query
        target[auth.name] = auth.value.get_secret_value()
    elif isinstance(auth, BasicAuth):
        pair = f"{auth.username}:{auth.password.get_secret_value()}".encode()
        out.headers["Authorization"] = f"Basic {base64.b64encode(pair).decode('ascii')}"
    return out


class _Pages:
    """The requests of one fetch, one page after the other, as its paging style says."""

    def __init__(
        self, config: RestConfig, auth: _Auth, cursor: str | None, context: FetchContext
    ) -> None:
        self.config = config
        self.auth = auth
        self.context = context
        self.system = f"the API at {urlsplit(config.base_url).netloc}"
        self.start = config.base_url + config.path
        self.query: dict[str, str] = dict(config.params)
        if config.incremental is not None and cursor is not None:
            self.query[config.incremental.param] = cursor
        self.headers = {"Accept": "application/json", **config.headers, **auth.headers}

    def __iter__(self) -> Iterator[list[Mapping[str, Any]]]:
        config, paging = self.config, self.config.paging
        url: str = self.start
        query: dict[str, str] | None = dict(self.query)
        if isinstance(paging, PageNumberPaging):
            query = {**self.query, paging.param: str(paging.first)}
            if paging.size_param is not None:
                query[paging.size_param] = str(paging.size)
        elif isinstance(paging, OffsetPaging):
            query = {
                **self.query,
                paging.offset_param: "0",
                paging.limit_param: str(paging.limit),
            }
        pages = 0
        while True:
            pages += 1
            if pages > config.max_pages:
                raise SourceError(
                    f"{self.context.source_name}: {self.system} gave more than "
                    f"{config.max_pages:,} pages, the most this source takes (max_pages); "
                    "raise it if the data is really that large"
                )
            response = self._get(url, query)
            body = read_json(response, self.context, self.system)
            records = self._records(body)
            yield records
            if isinstance(paging, PageNumberPaging | OffsetPaging):
                if not records:
                    return
                assert query is not None
                if isinstance(paging, PageNumberPaging):
                    query[paging.param] = str(int(query[paging.param]) + 1)
                else:
                    query[paging.offset_param] = str(int(query[paging.offset_param]) + len(records))
            elif isinstance(paging, CursorPaging):
                token = dig(body, paging.cursor_path)
                if token is MISSING or token in (None, "") or not records:
                    return
                if not isinstance(token, str | int) or isinstance(token, bool):
                    raise SourceError(
                        f"{self.context.source_name}: {self.system} gave a next-page cursor at "
                        f"{paging.cursor_path} that is not text or a number"
                    )
                assert query is not None
                if query.get(paging.param) == str(token):
                    raise self._stuck(str(token))
                query[paging.param] = str(token)
            elif isinstance(paging, LinkHeaderPaging | NextUrlPaging):
                if isinstance(paging, LinkHeaderPaging):
                    found: object = next_link(response.headers.get("Link", ""))
                else:
                    found = dig(body, paging.next_url_path)
                if not isinstance(found, str) or not found.strip():
                    return
                following = urljoin(response.url, found.strip())
                if following in (url, response.url):
                    raise self._stuck(following)
                url, query = following, None
            else:
                return

    def _get(self, url: str, query: Mapping[str, str] | None) -> Response:
        if query is None:
            # A next-page URL from the server: it carries its own parameters.
            if not same_origin(url, self.start):
                raise SourceError(
                    f"{self.context.source_name}: {self.system} pointed the next page to "
                    f"another host ({urlsplit(url).netloc}); Headway does not follow it with "
                    "the source's credentials"
                )
            url, params = _with_query(url, self.auth.query), None
        else:
            params = {**query, **self.auth.query}
        response = request_with_backoff(
            self.context, self.system, "GET", url, headers=self.headers, params=params
        )
        if 200 <= response.status < 300:
            return response
        name = self.context.source_name
        detail = excerpt(response)
        if response.status in (401, 403):
            raise SourceError(
                f"{name}: {self.system} refused the credentials (HTTP {response.status}"
                f"{': ' + detail if detail else ''}); check the source's authentication"
            )
        if response.status == 404:
            raise SourceError(
                f"{name}: {self.system} answered 404 Not Found for {urlsplit(url).path}; "
                "check the base URL and the path"
            )
        raise SourceError(
            f"{name}: {self.system} answered HTTP {response.status}"
            f"{': ' + detail if detail else ''}",
            retry=response.status >= 500,
        )

    def _records(self, body: object) -> list[Mapping[str, Any]]:
        name, where = self.context.source_name, self.config.records_path
        found = dig(body, where)
        if found is None:
            return []
        if found is MISSING:
            keys = ", ".join(sorted(map(str, body)))[:200] if isinstance(body, dict) else ""
            raise SourceError(
                f"{name}: {self.system} answered without {where}"
                f"{f' (its fields: {keys})' if keys else ''}; check records_path"
            )
        if not isinstance(found, list):
            keys = ", ".join(sorted(map(str, found)))[:200] if isinstance(found, dict) else ""
            raise SourceError(
                f"{name}: {self.system} answered with {'an object' if keys else 'a value'} "
                f"where the records should be a list{f' (its fields: {keys})' if keys else ''}"
                "; set records_path to the list of records"
            )
        if not all(isinstance(record, dict) for record in found):
            raise SourceError(f"{name}: the records from {self.system} are not all JSON objects")
        return found

    def _stuck(self, token: str) -> SourceError:
        shown = token if len(token) <= 80 else token[:79] + "…"
        return SourceError(
            f"{self.context.source_name}: {self.system} gave the same next page twice "
            f"({shown}); the paging does not move on, so the sync stopped"
        )


class RestKind(SourceKind):
    name = "rest"
    label = "REST API (JSON)"
    description = (
        "Records from any HTTP API that answers JSON: a list at a path of the answer, paged "
        "by page number, offset, cursor, Link header or next-page URL."
    )
    config_model: ClassVar[type[KindConfig]] = RestConfig
    secrets_model: ClassVar[type[KindConfig]] = RestSecrets
    incremental = True

    def fetch(
        self,
        config: Mapping[str, Any],
        secrets: Mapping[str, Any],
        cursor: str | None,
        sink: RowSink,
        context: FetchContext,
    ) -> str | None:
        settings = load_model(RestConfig, config, context, "REST configuration")
        credentials = load_model(RestSecrets, secrets, context, "REST credentials")
        incremental = settings.incremental
        latest: tuple[tuple[int, Any], object] | None = None
        if incremental is not None and cursor is not None:
            order = _order(cursor)
            latest = (order, cursor) if order is not None else None
        for records in _Pages(settings, _auth(credentials), cursor, context):
            for record in records:
                if settings.fields:
                    row: dict[str, Any] = {}
                    for path, column in settings.fields.items():
                        value = dig(record, path)
                        row[column] = None if value is MISSING else value
                else:
                    row = flatten(record, settings.separator)
                sink.write(row)
                if incremental is not None:
                    value = dig(record, incremental.field)
                    order = _order(value)
                    # Tuples of one kind compare by value; of two kinds, by kind only.
                    if order is not None and (latest is None or order > latest[0]):
                        latest = (order, value)
        if incremental is None:
            return None
        return cell_text(latest[1]) if latest is not None else cursor
