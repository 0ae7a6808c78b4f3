"""Pipedrive persons and deals through the v1 API, with a personal API token.

`GET /v1/{persons|deals}?start=..&limit=..&sort=update_time DESC` pages by offset, following
`additional_data.pagination` (`more_items_in_collection`, `next_start`). The v1 list has no
"changed since" filter, so the incremental sync reads newest first and stops at the first
record not changed after the cursor. Newest first also keeps the cursor safe: it is the
latest `update_time` of the first page, and anything changed later sorts before it and
comes in the next sync. A record changed during the sync moves to the front and shifts
the pages by one, so a record may come twice; it is written once.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, ClassVar, Final, Literal, Self

from pydantic import Field, model_validator

from headway.ingestion.sources.base import (
    FetchContext,
    KindConfig,
    RowSink,
    SourceError,
    SourceKind,
    request_with_backoff,
)
from headway.ingestion.sources.rest.common import (
    MISSING,
    BaseUrl,
    ColumnName,
    FieldPath,
    Secret,
    check_unique_columns,
    dig,
    excerpt,
    load_model,
    parse_instant,
    read_json,
)
from headway.lib.http import Response

SYSTEM: Final = "Pipedrive"
DEFAULT_BASE_URL: Final = "https://api.pipedrive.com"
UPDATED_FIELD: Final = "update_time"


class PipedriveConfig(KindConfig):
    """Which object, which fields into which columns, and where Pipedrive answers."""

    object: Literal["persons", "deals"]
    # Pipedrive field key (custom fields have 40-character keys; `org_id.name` reaches
    # into an object) -> dataset column.
    fields: dict[FieldPath, ColumnName] = Field(default_factory=dict, max_length=500)
    id_column: ColumnName = "id"
    updated_column: ColumnName = "updated_at"
    # https://api.pipedrive.com, or the company domain https://<company>.pipedrive.com/api
    base_url: BaseUrl = DEFAULT_BASE_URL
    page_size: int = Field(default=500, ge=1, le=500)
    # The x-api-token header keeps the token out of URLs; `query` sends ?api_token=.
    authenticate_by: Literal["header", "query"] = "header"

    @model_validator(mode="after")
    def _columns_are_unique(self) -> Self:
        check_unique_columns([self.id_column, *self.fields.values(), self.updated_column])
        return self


class PipedriveSecrets(KindConfig):
    """A Pipedrive user's personal API token (Settings > Personal preferences > API)."""

    api_token: Secret


def _wait(response: Response, attempt: int) -> float:
    """Seconds before retrying: Retry-After, else Pipedrive's x-ratelimit-reset (seconds
    until its window resets), else exponential backoff; at most 60."""
    for header in ("Retry-After", "x-ratelimit-reset"):
        value = response.headers.get(header, "").strip()
        try:
            return min(max(float(value), 0.0), 60.0)
        except ValueError:
            continue
    return float(min(2**attempt, 60))


class PipedriveKind(SourceKind):
    name = "pipedrive"
    label = "Pipedrive"
    description = (
        "Persons or deals from Pipedrive, with the fields you choose; later syncs fetch only "
        "what changed."
    )
    config_model: ClassVar[type[KindConfig]] = PipedriveConfig
    secrets_model: ClassVar[type[KindConfig]] = PipedriveSecrets
    incremental = True

    def fetch(
        self,
        config: Mapping[str, Any],
        secrets: Mapping[str, Any],
        cursor: str | None,
        sink: RowSink,
        context: FetchContext,
    ) -> str | None:
        settings = load_model(PipedriveConfig, config, context, "Pipedrive configuration")
        token = load_model(PipedriveSecrets, secrets, context, "Pipedrive credentials")
        secret = token.api_token.get_secret_value()
        headers = {"Accept": "application/json"}
        if settings.authenticate_by == "header":
            headers["x-api-token"] = secret
        since = parse_instant(cursor)
        latest: tuple[datetime.datetime, str] | None = None
        written: set[str] = set()
        start = 0
        while True:
            params = {
                "start": str(start),
                "limit": str(settings.page_size),
                "sort": f"{UPDATED_FIELD} DESC",
            }
            if settings.authenticate_by == "query":
                params["api_token"] = secret
            response = request_with_backoff(
                context,
                SYSTEM,
                "GET",
                f"{settings.base_url}/v1/{settings.object}",
                headers=headers,
                params=params,
                wait_for=_wait,
            )
            page = self._page(response, settings, context)
            for record in page.get("data") or []:
                if not isinstance(record, dict):
                    continue
                updated = record.get(UPDATED_FIELD)
                instant = parse_instant(updated)
                if since is not None and instant is not None and instant <= since:
                    # Newest first: everything from here on was in an earlier sync.
                    return latest[1] if latest is not None else cursor
                key = str(record.get("id"))
                if key in written:
                    continue
                written.add(key)
                sink.write(self._row(record, settings, context))
                if instant is not None and (latest is None or instant > latest[0]):
                    latest = (instant, str(updated))
            following = _next_start(page)
            if following is None:
                break
            if following <= start:
                raise SourceError(
                    f"{context.source_name}: Pipedrive's paging did not move on "
                    f"(next_start {following} after start {start}); the sync stopped"
                )
            start = following
        return latest[1] if latest is not None else cursor

    def _page(
        self, response: Response, settings: PipedriveConfig, context: FetchContext
    ) -> Mapping[str, Any]:
        name = context.source_name
        body = read_json(response, context, SYSTEM) if response.body else {}
        details = body if isinstance(body, dict) else {}
        message = str(details.get("error") or excerpt(response) or "no explanation")
        if response.status == 401:
            raise SourceError(
                f"{name}: Pipedrive refused the API token (wrong, regenerated, or its user "
                "was deactivated); save the current token in the source's credentials"
            )
        if response.status == 403:
            raise SourceError(f"{name}: Pipedrive refused access to {settings.object}: {message}")
        if response.status == 404:
            raise SourceError(
                f"{name}: Pipedrive answered 404 Not Found; check the base URL "
                f"({settings.base_url})"
            )
        if not 200 <= response.status < 300 or details.get("success") is False:
            raise SourceError(
                f"{name}: Pipedrive refused the request (HTTP {response.status}): {message}",
                retry=response.status >= 500,
            )
        data = details.get("data")
        if "data" not in details or not isinstance(data, list | None):
            raise SourceError(
                f"{name}: Pipedrive's answer has no list of {settings.object}; check the base "
                f"URL ({settings.base_url})"
            )
        return details

    def _row(
        self, record: Mapping[str, Any], settings: PipedriveConfig, context: FetchContext
    ) -> dict[str, object]:
        row: dict[str, object] = {settings.id_column: record.get("id")}
        for field, column in settings.fields.items():
            value = dig(record, field)
            if value is MISSING:
                if dig(record, field.split(".")[0]) is MISSING:
                    raise SourceError(
                        f"{context.source_name}: Pipedrive has no field {field} on "
                        f"{settings.object} (a custom field deleted, or its key changed?); "
                        "fix the source's field mapping"
                    )
                value = None  # an object field that is empty (null)
            row[column] = value
        row[settings.updated_column] = record.get(UPDATED_FIELD)
        return row


def _next_start(page: Mapping[str, Any]) -> int | None:
    additional = page.get("additional_data")
    pagination = additional.get("pagination") if isinstance(additional, dict) else None
    if not isinstance(pagination, dict) or not pagination.get("more_items_in_collection"):
        return None
    following = pagination.get("next_start")
    if isinstance(following, bool) or not isinstance(following, int):
        return None
    return following
