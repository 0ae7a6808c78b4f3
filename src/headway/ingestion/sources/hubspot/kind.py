"""HubSpot CRM contacts and deals through the CRM v3 API, with a private-app token.

A full sync lists every record (`GET /crm/v3/objects/{object}`, paged by
`paging.next.after`). An incremental sync searches for the records modified after the
cursor (`POST /crm/v3/objects/{object}/search`, sorted by the last-modified date). The
search API stops at 10,000 results for one query, and offsets shift when a record leaves
the results during a sync, so each page is a new search from the last modified date seen,
skipping the records already written at that instant.

The search is bounded above by the time the sync started: a record changed while the
sync runs is left for the next sync, so the cursor (the latest modification written) never
passes a change that was not written.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Final, Literal, Self

from pydantic import Field, StringConstraints, model_validator

from headway.ingestion.sources.base import (
    FetchContext,
    KindConfig,
    RowSink,
    SourceError,
    SourceKind,
    request_with_backoff,
)
from headway.ingestion.sources.rest.common import (
    BaseUrl,
    ColumnName,
    Secret,
    check_unique_columns,
    excerpt,
    load_model,
    parse_instant,
    read_json,
)
from headway.lib.http import Response

SYSTEM: Final = "HubSpot"
DEFAULT_BASE_URL: Final = "https://api.hubapi.com"

# "The search endpoints are limited to 10,000 total results for any given query";
# paging past it is answered with a 400. Only a run of records modified at one instant is
# paged by offset, and such a run cannot be longer.
SEARCH_RESULT_CAP = 10_000

# The property that holds the last modification, per object, as HubSpot's search
# documentation lists it (contacts keep their older name).
MODIFIED_PROPERTY: Final = {"contacts": "lastmodifieddate", "deals": "hs_lastmodifieddate"}

_EPOCH: Final = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)

# How far before the start of a full sync its cursor stays at most, so that a change made
# while listing is fetched again by the next sync even if this machine's clock runs a little
# ahead of HubSpot's.
CLOCK_MARGIN: Final = datetime.timedelta(minutes=1)

PropertyName = Annotated[
    str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_]+$")
]


class HubSpotConfig(KindConfig):
    """Which object, which properties into which columns, and where HubSpot answers."""

    object: Literal["contacts", "deals"]
    # HubSpot property (internal name) -> dataset column.
    fields: dict[PropertyName, ColumnName] = Field(default_factory=dict, max_length=200)
    id_column: ColumnName = "id"
    updated_column: ColumnName = "updated_at"
    base_url: BaseUrl = DEFAULT_BASE_URL
    page_size: int = Field(default=100, ge=1, le=100)

    @model_validator(mode="after")
    def _columns_are_unique(self) -> Self:
        check_unique_columns([self.id_column, *self.fields.values(), self.updated_column])
        return self


class HubSpotSecrets(KindConfig):
    """The access token of a HubSpot private app with the CRM read scopes."""

    access_token: Secret


def _milliseconds(instant: datetime.datetime) -> int:
    return (instant - _EPOCH) // datetime.timedelta(milliseconds=1)


def _iso(instant: datetime.datetime) -> str:
    """A timestamp as HubSpot writes them: 2026-01-05T09:30:00.123Z."""
    utc = instant.astimezone(datetime.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


class _Session:
    """One fetch: the calls to HubSpot and what their errors mean."""

    def __init__(self, config: HubSpotConfig, token: str, context: FetchContext) -> None:
        self.config = config
        self.context = context
        self.headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: object | None = None,
    ) -> Any:
        response = request_with_backoff(
            self.context,
            SYSTEM,
            method,
            self.config.base_url + path,
            headers=self.headers,
            params=params,
            json_body=body,
            wait_for=self.wait,
        )
        if 200 <= response.status < 300:
            return read_json(response, self.context, SYSTEM)
        raise self.error(response)

    def wait(self, response: Response, attempt: int) -> float:
        """Seconds before retrying a 429 or a passing server error. HubSpot's daily limit
        does not lift within a sync, so it ends the sync at once."""
        details = _details(response)
        if response.status == 429 and str(details.get("policyName", "")).upper() == "DAILY":
            raise SourceError(
                f"{self.context.source_name}: HubSpot's daily API limit for this account is "
                "used up; the next sync after midnight (HubSpot's time) will go on",
                retry=True,
            )
        value = response.headers.get("Retry-After", "").strip()
        try:
            return min(max(float(value), 0.0), 60.0)
        except ValueError:
            return float(min(2**attempt, 60))

    def error(self, response: Response) -> SourceError:
        name = self.context.source_name
        details = _details(response)
        message = str(details.get("message") or excerpt(response) or "no explanation")
        category = str(details.get("category", ""))
        if response.status == 401:
            return SourceError(
                f"{name}: HubSpot refused the access token (expired or wrong); create a new "
                "one in the private app's settings and save it in the source's credentials"
            )
        if response.status == 403:
            if category == "MISSING_SCOPES":
                scopes = _required_scopes(details) or [f"crm.objects.{self.config.object}.read"]
                return SourceError(
                    f"{name}: HubSpot's private app is missing the scopes to read "
                    f"{self.config.object} ({', '.join(scopes)}); add them to the app"
                )
            return SourceError(f"{name}: HubSpot refused access to {self.config.object}: {message}")
        if response.status == 400:
            missing = _missing_properties(details)
            if missing:
                return _drift(name, self.config.object, missing)
            return SourceError(
                f"{name}: HubSpot refused the request ({category or 400}): {message}"
            )
        if response.status == 404:
            return SourceError(
                f"{name}: HubSpot answered 404 Not Found; check the base URL "
                f"({self.config.base_url})"
            )
        return SourceError(
            f"{name}: HubSpot answered HTTP {response.status}: {message}",
            retry=response.status >= 500,
        )


def _details(response: Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _required_scopes(details: Mapping[str, Any]) -> list[str]:
    scopes: list[str] = []
    for item in details.get("errors") or []:
        context = item.get("context") if isinstance(item, dict) else None
        if isinstance(context, dict):
            for key in ("requiredGranularScopes", "requiredScopes"):
                scopes.extend(str(scope) for scope in context.get(key) or [])
    return scopes


def _missing_properties(details: Mapping[str, Any]) -> list[str]:
    """The properties a 400 says do not exist (HubSpot's PROPERTY_DOESNT_EXIST)."""
    names: list[str] = []
    for item in details.get("errors") or []:
        if not isinstance(item, dict) or item.get("code") != "PROPERTY_DOESNT_EXIST":
            continue
        context = item.get("context")
        found = context.get("propertyName") if isinstance(context, dict) else None
        if isinstance(found, list):
            names.extend(str(name) for name in found)
        elif found:
            names.append(str(found))
        else:
            names.append(str(item.get("message", "a property")))
    return names


def _drift(source: str, object_name: str, properties: list[str]) -> SourceError:
    listed = ", ".join(sorted(set(properties)))
    return SourceError(
        f"{source}: HubSpot has no property {listed} on {object_name} (renamed or deleted "
        "in HubSpot?); fix the source's field mapping"
    )


class _Writer:
    """Writes records as rows, each record once, and works out the cursor.

    The cursor is the latest modification written, but never past `ceiling`: a full list
    reads records as they are when each page is read, so one listed early and changed
    during the sync must not fall behind a cursor set by a record listed later. A record
    that comes twice (changed again during the sync) is written once, and the cursor stays
    below its newer modification so that the next sync fetches it."""

    def __init__(
        self,
        config: HubSpotConfig,
        sink: RowSink,
        source: str,
        ceiling: datetime.datetime | None = None,
    ) -> None:
        self.config = config
        self.sink = sink
        self.source = source
        self.ceiling = ceiling
        self.latest: tuple[datetime.datetime, str] | None = None
        self.written: set[str] = set()

    def write(self, record: Mapping[str, Any]) -> None:
        properties = record.get("properties") or {}
        missing = [name for name in self.config.fields if name not in properties]
        if missing:
            # HubSpot leaves out a requested property that does not exist (an empty one
            # comes as null): the CRM's schema changed under the mapping.
            raise _drift(self.source, self.config.object, missing)
        record_id = str(record.get("id"))
        updated = record.get("updatedAt")
        instant = parse_instant(updated)
        if record_id in self.written:
            if instant is not None:
                below = instant - datetime.timedelta(milliseconds=1)
                self.ceiling = below if self.ceiling is None else min(self.ceiling, below)
            return
        self.written.add(record_id)
        row: dict[str, object] = {self.config.id_column: record.get("id")}
        for name, column in self.config.fields.items():
            row[column] = properties.get(name)
        row[self.config.updated_column] = updated
        self.sink.write(row)
        if instant is not None and (self.latest is None or instant > self.latest[0]):
            self.latest = (instant, str(updated))

    def cursor(self, previous: str | None) -> str | None:
        if self.latest is None:
            return previous
        instant, text = self.latest
        if self.ceiling is not None and instant > self.ceiling:
            return _iso(self.ceiling)
        return text


class HubSpotKind(SourceKind):
    name = "hubspot"
    label = "HubSpot"
    description = (
        "Contacts or deals from HubSpot's CRM, with the properties you choose; later syncs "
        "fetch only what changed."
    )
    config_model: ClassVar[type[KindConfig]] = HubSpotConfig
    secrets_model: ClassVar[type[KindConfig]] = HubSpotSecrets
    incremental = True

    def fetch(
        self,
        config: Mapping[str, Any],
        secrets: Mapping[str, Any],
        cursor: str | None,
        sink: RowSink,
        context: FetchContext,
    ) -> str | None:
        settings = load_model(HubSpotConfig, config, context, "HubSpot configuration")
        credentials = load_model(HubSpotSecrets, secrets, context, "HubSpot credentials")
        session = _Session(settings, credentials.access_token.get_secret_value(), context)
        started = context.now()
        since = parse_instant(cursor)
        if since is None:
            # No cursor (or one that is not a timestamp, which a full sync repairs). The
            # cursor stays a margin before the start, for changes made while listing.
            writer = _Writer(settings, sink, context.source_name, started - CLOCK_MARGIN)
            self._list(session, writer)
        else:
            # The search ends at the start: what changes later comes in the next sync.
            writer = _Writer(settings, sink, context.source_name)
            self._search(session, writer, since, started)
        return writer.cursor(cursor)

    def _list(self, session: _Session, writer: _Writer) -> None:
        config = session.config
        params = {"limit": str(config.page_size), "archived": "false"}
        if config.fields:
            params["properties"] = ",".join(config.fields)
        after: str | None = None
        while True:
            page = session.call(
                "GET",
                f"/crm/v3/objects/{config.object}",
                params=params if after is None else {**params, "after": after},
            )
            for record in _results(page, session):
                writer.write(record)
            following = _next_after(page)
            if following is None:
                return
            if following == after:
                raise SourceError(
                    f"{session.context.source_name}: HubSpot's paging did not move on "
                    f"(after={following} twice); the sync stopped"
                )
            after = following

    def _search(
        self,
        session: _Session,
        writer: _Writer,
        since: datetime.datetime,
        until: datetime.datetime,
    ) -> None:
        """Pages by key, not by offset: each page is a new search from the last
        modification time seen (skipping the records already written at that instant), so
        a record that changes during the sync and leaves the results does not shift the
        pages, and no query comes near the search's cap. Only a page that is all one
        instant is followed by `after`, within that instant."""
        config = session.config
        modified = MODIFIED_PROPERTY[config.object]
        operator, bound = "GT", _milliseconds(since)
        at_bound: set[str] = set()  # written with the modification time `bound`
        offset = 0
        while True:
            body: dict[str, Any] = {
                "filterGroups": [
                    {
                        "filters": [
                            {"propertyName": modified, "operator": operator, "value": str(bound)},
                            {
                                "propertyName": modified,
                                "operator": "LTE",
                                "value": str(_milliseconds(until)),
                            },
                        ]
                    }
                ],
                "sorts": [{"propertyName": modified, "direction": "ASCENDING"}],
                "properties": list(dict.fromkeys([*config.fields, modified])),
                "limit": config.page_size,
            }
            if offset:
                body["after"] = str(offset)
            page = session.call("POST", f"/crm/v3/objects/{config.object}/search", body=body)
            results = _results(page, session)
            stamps: list[tuple[str, int | None]] = []
            for record in results:
                record_id, stamp = str(record.get("id")), _modified_ms(record, modified)
                stamps.append((record_id, stamp))
                if stamp == bound and record_id in at_bound:
                    continue
                writer.write(record)
            if _next_after(page) is None or not results:
                return
            last = stamps[-1][1]
            if last is None:
                raise SourceError(
                    f"{session.context.source_name}: HubSpot's search answered records "
                    f"without {modified}; the sync cannot page through them"
                )
            if operator == "GTE" and last == bound:
                # The whole page is one instant: go on within it.
                offset += len(results)
                at_bound |= {record_id for record_id, stamp in stamps if stamp == bound}
                if offset + config.page_size > SEARCH_RESULT_CAP:
                    raise SourceError(
                        f"{session.context.source_name}: more than {SEARCH_RESULT_CAP:,} "
                        f"HubSpot {config.object} share one modification time; HubSpot's "
                        "search cannot page through them (clear the source's cursor for a "
                        "full sync)"
                    )
            else:
                operator, bound, offset = "GTE", last, 0
                at_bound = {record_id for record_id, stamp in stamps if stamp == last}


def _results(page: Any, session: _Session) -> list[Mapping[str, Any]]:
    results = page.get("results") if isinstance(page, dict) else None
    if not isinstance(results, list) or not all(isinstance(item, dict) for item in results):
        raise SourceError(
            f"{session.context.source_name}: HubSpot's answer has no list of results; "
            f"check the base URL ({session.config.base_url})"
        )
    return results


def _next_after(page: Mapping[str, Any]) -> str | None:
    paging = page.get("paging")
    following = paging.get("next") if isinstance(paging, dict) else None
    after = following.get("after") if isinstance(following, dict) else None
    return str(after) if after not in (None, "") else None


def _modified_ms(record: Mapping[str, Any], modified: str) -> int | None:
    properties = record.get("properties") or {}
    value = properties.get(modified) if isinstance(properties, dict) else None
    instant = parse_instant(value) or parse_instant(record.get("updatedAt"))
    if instant is None and isinstance(value, str) and value.isdigit():
        return int(value)
    return _milliseconds(instant) if instant is not None else None
