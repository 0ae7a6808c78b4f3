"""Fake HubSpot, Salesforce, Pipedrive and REST servers, real HTTP on 127.0.0.1.

Each fake speaks the documented JSON of its API (paging, error bodies, 429 with
Retry-After) over a set of records the test controls. Connectors reach them through a
SafeHttpClient that allows 127.0.0.1 only; `sleep` is a recorder, so backoff is asserted
without waiting. An autouse guard fails any test whose code tries to connect anywhere but
loopback.
"""

from __future__ import annotations

import datetime
import ipaddress
import itertools
import json
import re
import socket
import socketserver
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from headway.ingestion.sources.base import FetchContext, RowSink
from headway.lib.http import SafeHttpClient

SOURCE_NAME = "Sales pipeline"
NOW = datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.UTC)


# --- the HTTP plumbing ------------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    """One request a fake server received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return {name: values[0] for name, values in parse_qs(self.body.decode()).items()}


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # JSON unless bytes
    headers: dict[str, str] = field(default_factory=dict)


class FakeServer(ThreadingHTTPServer):
    """A loopback HTTP server that hands each request to `app` and records it."""

    daemon_threads = True

    def __init__(
        self,
        app: Callable[[Seen], Reply],
        host: str = "127.0.0.1",
        family: socket.AddressFamily = socket.AF_INET,
    ) -> None:
        self.address_family = family
        self.app = app
        self.requests: list[Seen] = []
        self.connections = 0
        super().__init__((host, 0), _Handler)
        self.host = host
        self.thread = threading.Thread(target=self.serve_forever, args=(0.01,), daemon=True)
        self.thread.start()

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)  # no reverse DNS lookup
        self.server_name, self.server_port = "localhost", self.server_address[1]

    def verify_request(self, request: Any, client_address: Any) -> bool:
        self.connections += 1
        return True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass

    @property
    def port(self) -> int:
        return self.server_port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: FakeServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        parts = urlsplit(self.path)
        seen = Seen(
            method=self.command,
            path=parts.path,
            query={name: values[0] for name, values in parse_qs(parts.query).items()},
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
        )
        self.server.requests.append(seen)
        reply = self.server.app(seen)
        content = (
            reply.body
            if isinstance(reply.body, bytes)
            else json.dumps(reply.body).encode()
            if reply.body is not None
            else b""
        )
        self.send_response(reply.status)
        headers = {"Content-Type": "application/json", **reply.headers}
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    do_POST = do_GET


class FakeApi:
    """A fake API: replies queued in `failures` come first (a 429, a 503), then `handle`."""

    def __init__(self) -> None:
        self.failures: list[Reply] = []
        self.server = FakeServer(self)

    def __call__(self, seen: Seen) -> Reply:
        if self.failures:
            return self.failures.pop(0)
        return self.handle(seen)

    def handle(self, seen: Seen) -> Reply:
        raise NotImplementedError

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def requests(self) -> list[Seen]:
        return self.server.requests


def stamp(minute: int) -> datetime.datetime:
    """A distinct instant per record: minutes after 2026-01-01 09:00 UTC."""
    return datetime.datetime(2026, 1, 1, 9, 0, tzinfo=datetime.UTC) + datetime.timedelta(
        minutes=minute
    )


# --- HubSpot ----------------------------------------------------------------------------

HUBSPOT_TOKEN = "pat-na1-good"


def _hubspot_iso(instant: datetime.datetime) -> str:
    return instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}Z"


class FakeHubSpot(FakeApi):
    """CRM v3 objects: list paged by `after` (the next id), search paged by offset and
    capped at `search_cap` results, errors as HubSpot words them."""

    def __init__(self, object_name: str = "deals") -> None:
        super().__init__()
        self.object = object_name
        self.modified = "lastmodifieddate" if object_name == "contacts" else "hs_lastmodifieddate"
        self.schema = {"dealname", "amount", "dealstage", "email", "firstname", self.modified}
        self.records: dict[int, dict[str, Any]] = {}
        self.search_cap = 10_000
        self.scopes_missing = False
        self.after_search: Callable[[], None] | None = None  # called after each search page

    def put(self, record_id: int, updated: datetime.datetime, **properties: Any) -> None:
        text = _hubspot_iso(updated)
        self.records[record_id] = {
            "id": str(record_id),
            "properties": {**properties, self.modified: text, "hs_object_id": str(record_id)},
            "createdAt": "2025-12-01T08:00:00.000Z",
            "updatedAt": text,
            "archived": False,
        }

    def _shown(self, record: dict[str, Any], requested: Sequence[str]) -> dict[str, Any]:
        stored = record["properties"]
        properties = {"hs_object_id": stored["hs_object_id"]}
        for name in requested:
            if name in self.schema:  # a requested property that does not exist is left out
                properties[name] = stored.get(name)
        return {**record, "properties": properties}

    def handle(self, seen: Seen) -> Reply:
        if seen.headers.get("authorization") != f"Bearer {HUBSPOT_TOKEN}":
            return Reply(
                401,
                {
                    "status": "error",
                    "message": "Authentication credentials not found. This API supports "
                    "OAuth 2.0 authentication.",
                    "correlationId": "0b1c",
                    "category": "INVALID_AUTHENTICATION",
                },
            )
        if self.scopes_missing:
            return Reply(
                403,
                {
                    "status": "error",
                    "message": "This app hasn't been granted all required scopes to make "
                    "this call.",
                    "correlationId": "0b1d",
                    "errors": [
                        {
                            "message": "One or more of the following scopes are required.",
                            "context": {
                                "requiredGranularScopes": [f"crm.objects.{self.object}.read"]
                            },
                        }
                    ],
                    "category": "MISSING_SCOPES",
                },
            )
        base = f"/crm/v3/objects/{self.object}"
        ordered = [self.records[key] for key in sorted(self.records)]
        if seen.method == "GET" and seen.path == base:
            limit = int(seen.query.get("limit", "10"))
            after = int(seen.query.get("after", "0"))
            requested = [p for p in seen.query.get("properties", "").split(",") if p]
            rest = [r for r in ordered if int(r["id"]) >= after]
            page, more = rest[:limit], rest[limit:]
            body: dict[str, Any] = {"results": [self._shown(r, requested) for r in page]}
            if more:
                body["paging"] = {"next": {"after": more[0]["id"], "link": f"{base}?after=x"}}
            return Reply(200, body)
        if seen.method == "POST" and seen.path == f"{base}/search":
            reply = self._search(seen.json())
            if self.after_search is not None:
                self.after_search()
            return reply
        return Reply(
            404, {"status": "error", "message": "not found", "category": "OBJECT_NOT_FOUND"}
        )

    def _search(self, request: dict[str, Any]) -> Reply:
        named = [f["propertyName"] for g in request.get("filterGroups", []) for f in g["filters"]]
        named += [s["propertyName"] for s in request.get("sorts", [])]
        named += request.get("properties", [])
        unknown = [name for name in named if name not in self.schema]
        if unknown:
            return Reply(
                400,
                {
                    "status": "error",
                    "message": f"There was a problem with the request: {unknown[0]}",
                    "correlationId": "0b1e",
                    "category": "VALIDATION_ERROR",
                    "errors": [
                        {
                            "message": f'Property "{name}" does not exist',
                            "code": "PROPERTY_DOESNT_EXIST",
                            "context": {"propertyName": [name]},
                        }
                        for name in unknown
                    ],
                },
            )
        found = list(self.records.values())
        for group in request["filterGroups"]:
            for item in group["filters"]:
                value = int(item["value"])

                def millis(record: dict[str, Any]) -> int:
                    instant = datetime.datetime.fromisoformat(record["updatedAt"])
                    return int(instant.timestamp() * 1000)

                check = {
                    "GT": lambda r, v=value: millis(r) > v,
                    "GTE": lambda r, v=value: millis(r) >= v,
                    "LT": lambda r, v=value: millis(r) < v,
                    "LTE": lambda r, v=value: millis(r) <= v,
                }[item["operator"]]
                found = [record for record in found if check(record)]
        found.sort(key=lambda r: (r["updatedAt"], int(r["id"])))
        offset = int(request.get("after", "0"))
        limit = int(request.get("limit", 10))
        if offset + limit > self.search_cap:
            return Reply(
                400,
                {
                    "status": "error",
                    "message": f"The search endpoints are limited to {self.search_cap} results",
                    "category": "VALIDATION_ERROR",
                },
            )
        page = found[offset : offset + limit]
        body: dict[str, Any] = {
            "total": len(found),
            "results": [self._shown(r, request.get("properties", [])) for r in page],
        }
        if offset + limit < len(found):
            body["paging"] = {"next": {"after": str(offset + limit)}}
        return Reply(200, body)


# --- Salesforce -------------------------------------------------------------------------

SALESFORCE_CLIENT = ("3MVG9-consumer-key", "consumer-secret")
SALESFORCE_REFRESH = "5Aep-refresh-token"
_SOQL = re.compile(
    r"^SELECT (?P<fields>.+?) FROM (?P<object>\w+)"
    r"(?: WHERE (?P<field>\w+) > (?P<since>\S+))? ORDER BY (?P<order>\w+) ASC$"
)


def _salesforce_stamp(instant: datetime.datetime) -> str:
    return instant.strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def _soql_error(soql: str, message: str) -> str:
    """Salesforce's way: the query, a caret, the position, then what is wrong."""
    return f"\n{soql}\n       ^\nERROR at Row:1:Column:12\n{message}"


class FakeSalesforce(FakeApi):
    """The OAuth token endpoint and the REST query API: SOQL parsed (the shape the
    connector builds), batches of `batch` records followed by `nextRecordsUrl`."""

    FIELDS = frozenset(
        {
            "Id",
            "Name",
            "Company",
            "Status",
            "Email",
            "Amount",
            "StageName",
            "SystemModstamp",
            "LastModifiedDate",
        }
    )

    def __init__(self) -> None:
        super().__init__()
        self.objects = {"Lead", "Opportunity"}
        self.records: list[dict[str, Any]] = []
        self.tokens: set[str] = set()
        self.counter = itertools.count(1)
        self.batch = 2
        self.cursors: dict[str, list[dict[str, Any]]] = {}
        self.limit_exceeded = False
        self.instance_url: str | None = None  # what the token answer names; self by default

    def put(
        self, record_id: str, updated: datetime.datetime, owner: str | None = None, **fields: Any
    ) -> None:
        self.records = [r for r in self.records if r["Id"] != record_id]
        record = {"Id": record_id, **fields, "SystemModstamp": _salesforce_stamp(updated)}
        record["Owner"] = (
            None
            if owner is None
            else {
                "attributes": {"type": "User", "url": "/services/data/v60.0/sobjects/User/005x"},
                "Name": owner,
            }
        )
        self.records.append(record)

    def expire_sessions(self) -> None:
        self.tokens.clear()

    def handle(self, seen: Seen) -> Reply:
        if seen.path == "/services/oauth2/token":
            return self._token(seen.form())
        if seen.headers.get("authorization", "").removeprefix("Bearer ") not in self.tokens:
            return Reply(
                401, [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
            )
        if self.limit_exceeded:
            return Reply(
                403,
                [
                    {
                        "message": "TotalRequests Limit exceeded.",
                        "errorCode": "REQUEST_LIMIT_EXCEEDED",
                    }
                ],
            )
        if seen.path == "/services/data/v60.0/query":
            return self._query(seen.query["q"])
        if seen.path.startswith("/services/data/v60.0/query/"):
            locator = seen.path.rsplit("/", 1)[1]
            return self._batch(locator, len(self.cursors.get(locator, [])))
        return Reply(
            404, [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]
        )

    def _token(self, form: dict[str, str]) -> Reply:
        if (form.get("client_id"), form.get("client_secret")) != SALESFORCE_CLIENT:
            return Reply(
                400,
                {"error": "invalid_client_id", "error_description": "client identifier invalid"},
            )
        grant = form.get("grant_type")
        if grant == "refresh_token" and form.get("refresh_token") != SALESFORCE_REFRESH:
            return Reply(
                400, {"error": "invalid_grant", "error_description": "expired access/refresh token"}
            )
        if grant not in ("refresh_token", "client_credentials"):
            return Reply(
                400,
                {
                    "error": "unsupported_grant_type",
                    "error_description": "grant type not supported",
                },
            )
        token = f"00Dxx!session-{next(self.counter)}"
        self.tokens.add(token)
        return Reply(
            200,
            {
                "access_token": token,
                "instance_url": self.instance_url or self.url,
                "id": "https://login.salesforce.com/id/00Dxx/005xx",
                "token_type": "Bearer",
                "issued_at": "1767258000000",
                "signature": "c2lnbmF0dXJl",
            },
        )

    def _query(self, soql: str) -> Reply:
        match = _SOQL.match(soql)
        if match is None:
            return Reply(400, [{"message": "unexpected token", "errorCode": "MALFORMED_QUERY"}])
        if match["object"] not in self.objects:
            message = f"sObject type '{match['object']}' is not supported."
            return Reply(
                400, [{"message": _soql_error(soql, message), "errorCode": "INVALID_TYPE"}]
            )
        # Field names are case-insensitive; answers spell them as Salesforce does.
        canonical = {name.lower(): name for name in self.FIELDS | {"Owner"}}
        fields = [name.strip() for name in match["fields"].split(",")]
        for name in fields:
            if name.split(".")[0].lower() not in canonical:
                message = (
                    f"No such column '{name}' on entity '{match['object']}'. If you are "
                    "attempting to use a custom field, be sure to append the '__c' after the "
                    "custom field name. Please reference your WSDL or the describe call for the "
                    "appropriate names."
                )
                return Reply(
                    400, [{"message": _soql_error(soql, message), "errorCode": "INVALID_FIELD"}]
                )
        rows = list(self.records)
        if match["since"]:
            since = datetime.datetime.fromisoformat(match["since"])
            rows = [r for r in rows if datetime.datetime.fromisoformat(r["SystemModstamp"]) > since]
        rows.sort(key=lambda r: r["SystemModstamp"])
        shaped = []
        for record in rows:
            item: dict[str, Any] = {
                "attributes": {
                    "type": match["object"],
                    "url": f"/services/data/v60.0/sobjects/{match['object']}/{record['Id']}",
                }
            }
            for name in fields:
                top = canonical[name.split(".")[0].lower()]
                item[top] = record.get(top)
            shaped.append(item)
        locator = f"01gD0000002HU6K{next(self.counter)}"
        self.cursors[locator] = shaped
        return self._batch(locator, len(shaped))

    def _batch(self, locator: str, total: int) -> Reply:
        rows = self.cursors.get(locator, [])
        taken, left = rows[: self.batch], rows[self.batch :]
        self.cursors[locator] = left
        body: dict[str, Any] = {"totalSize": total, "done": not left, "records": taken}
        if left:
            body["nextRecordsUrl"] = f"/services/data/v60.0/query/{locator}"
        return Reply(200, body)


# --- Pipedrive --------------------------------------------------------------------------

PIPEDRIVE_TOKEN = "pd-0123456789abcdef"


def pipedrive_time(instant: datetime.datetime) -> str:
    return instant.strftime("%Y-%m-%d %H:%M:%S")


class FakePipedrive(FakeApi):
    """v1 list endpoints: start/limit paging, `sort`, `data: null` when empty."""

    def __init__(self, object_name: str = "persons") -> None:
        super().__init__()
        self.object = object_name
        self.records: dict[int, dict[str, Any]] = {}
        self.after_page: Callable[[int], None] | None = None  # called with each page's start

    def put(self, record_id: int, updated: datetime.datetime, **fields: Any) -> None:
        self.records[record_id] = {
            "id": record_id,
            "add_time": "2025-12-01 08:00:00",
            **fields,
            "update_time": pipedrive_time(updated),
        }

    def handle(self, seen: Seen) -> Reply:
        token = seen.headers.get("x-api-token") or seen.query.get("api_token")
        if token != PIPEDRIVE_TOKEN:
            return Reply(
                401,
                {
                    "success": False,
                    "error": "unauthorized access",
                    "errorCode": 401,
                    "error_info": "Please check developers.pipedrive.com for more information "
                    "about Pipedrive API.",
                },
            )
        if seen.path != f"/v1/{self.object}":
            return Reply(404, {"success": False, "error": "Unknown method .", "errorCode": 404})
        start = int(seen.query.get("start", "0"))
        limit = min(int(seen.query.get("limit", "100")), 500)
        rows = list(self.records.values())
        field_name, _, direction = seen.query.get("sort", "id ASC").partition(" ")
        rows.sort(key=lambda r: (r[field_name], r["id"]), reverse=direction.upper() == "DESC")
        page = rows[start : start + limit]
        more = start + limit < len(rows)
        pagination: dict[str, Any] = {
            "start": start,
            "limit": limit,
            "more_items_in_collection": more,
        }
        if more:
            pagination["next_start"] = start + limit
        if self.after_page is not None:
            self.after_page(start)
        return Reply(
            200,
            {
                "success": True,
                "data": page or None,
                "additional_data": {"pagination": pagination},
            },
            headers={
                "x-ratelimit-limit": "40",
                "x-ratelimit-remaining": "39",
                "x-ratelimit-reset": "2",
            },
        )


# --- a generic REST API -----------------------------------------------------------------


class FakeRest(FakeApi):
    """GET /v1/items: `records` wrapped at `wrap` (a dot path, "" for a bare list), paged
    in the given style, filtered by `updated_since` (records with updated_at after it),
    behind `check_auth`."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[dict[str, Any]] = []
        self.style = "none"
        self.page_size = 2
        self.wrap = "data.items"
        self.check_auth: Callable[[Seen], bool] = lambda seen: True

    def handle(self, seen: Seen) -> Reply:
        if not self.check_auth(seen):
            return Reply(401, {"error": "unauthorized", "message": "Invalid API key"})
        if seen.path != "/v1/items":
            return Reply(404, {"error": "not_found"})
        rows = list(self.records)
        since = seen.query.get("updated_since")
        if since is not None:
            rows = [r for r in rows if r["updated_at"] > since]
        size = self.page_size
        extra: dict[str, Any] = {}
        headers: dict[str, str] = {}
        if self.style == "page_number":
            number = int(seen.query.get("page", "1"))
            size = int(seen.query.get("per_page", size))
            rows = rows[(number - 1) * size : number * size]
        elif self.style == "offset":
            offset, limit = int(seen.query.get("offset", "0")), int(seen.query.get("limit", size))
            rows = rows[offset : offset + limit]
        elif self.style in ("cursor", "link_header", "next_url"):
            position = int(seen.query.get("cursor", seen.query.get("from", "0")))
            more = position + size < len(rows)
            rows = rows[position : position + size]
            if self.style == "cursor":
                extra = {"meta": {"next_cursor": str(position + size) if more else None}}
            elif self.style == "link_header" and more:
                query = "&".join(f"{k}={v}" for k, v in seen.query.items() if k != "from")
                headers["Link"] = (
                    f'<{self.url}/v1/items?{query}&from=0>; rel="first", '
                    f"<{self.url}/v1/items?{query}{'&' if query else ''}"
                    f'from={position + size}>; rel="next"'
                )
            elif self.style == "next_url":
                extra = {"links": {"next": f"/v1/items?from={position + size}" if more else None}}
        body: Any = rows
        for step in reversed(self.wrap.split(".") if self.wrap else []):
            body = {step: body}
        if isinstance(body, dict):
            body = {**body, **extra}
        return Reply(200, body, headers)


# --- fixtures ---------------------------------------------------------------------------


@dataclass
class Sleeps:
    """The `sleep` of a FetchContext: records the waits instead of waiting."""

    waits: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def context(sleeps: Sleeps) -> FetchContext:
    """What a sync passes a kind, with the fakes on 127.0.0.1 allowed."""
    return make_context(sleeps, allow=["127.0.0.1"])


def make_context(
    sleeps: Sleeps,
    *,
    allow: Sequence[str] = (),
    resolver: Callable[[str], Sequence[str]] | None = None,
    max_retries: int = 5,
) -> FetchContext:
    client = SafeHttpClient(allow=allow, resolver=resolver, timeout=5, connect_timeout=2)
    return FetchContext(
        http=client, source_name=SOURCE_NAME, sleep=sleeps, now=lambda: NOW, max_retries=max_retries
    )


class Sinks:
    """Fresh RowSinks, one per fetch, and the rows each one received."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0

    def new(self, max_rows: int = 100_000) -> RowSink:
        self.count += 1
        return RowSink(self.folder / f"rows-{self.count}.ndjson", max_rows=max_rows)


@pytest.fixture
def sinks(tmp_path: Path) -> Sinks:
    return Sinks(tmp_path)


def rows_of(sink: RowSink) -> list[dict[str, str | None]]:
    """Every row the sink received, in order (closing it)."""
    sink.close()
    with sink.path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def _serve(api: FakeApi) -> Iterator[Any]:
    yield api
    api.server.stop()


@pytest.fixture
def hubspot() -> Iterator[FakeHubSpot]:
    yield from _serve(FakeHubSpot())


@pytest.fixture
def salesforce() -> Iterator[FakeSalesforce]:
    yield from _serve(FakeSalesforce())


@pytest.fixture
def pipedrive() -> Iterator[FakePipedrive]:
    yield from _serve(FakePipedrive())


@pytest.fixture
def rest() -> Iterator[FakeRest]:
    yield from _serve(FakeRest())


def ipv6_loopback_available() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


def _canary_app(seen: Seen) -> Reply:
    return Reply(200, {"canary": True})


@pytest.fixture
def canary() -> Iterator[FakeServer]:
    """Where an attacker aims, on 127.0.0.1: it must never hear from a connector."""
    server = FakeServer(_canary_app)
    yield server
    server.stop()


@pytest.fixture
def canary6() -> Iterator[FakeServer | None]:
    """The canary on ::1 (None where this machine has no IPv6 loopback)."""
    if not ipv6_loopback_available():
        yield None
        return
    server = FakeServer(_canary_app, "::1", socket.AF_INET6)
    yield server
    server.stop()


def _is_loopback(host: str) -> bool:
    address = ipaddress.ip_address(host.split("%")[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every TCP connection the code under test opens; anything but loopback fails."""
    attempts: list[tuple[str, int]] = []
    real_connect = socket.socket.connect

    def guarded(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            attempts.append((address[0], address[1]))
            if not _is_loopback(address[0]):
                raise AssertionError(f"the test tried to contact {address[0]}")
        real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    return attempts


def by_key(rows: Sequence[Mapping[str, Any]], key: str = "id") -> dict[Any, Mapping[str, Any]]:
    return {row[key]: row for row in rows}
