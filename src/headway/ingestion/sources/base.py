"""What every kind of source is: a configuration, its secrets, and a fetch into rows.

A source kind knows one outside system (a CRM's API, a SQL database, any REST/JSON API).
It is pure Python: no Django, no warehouse. Its `fetch` writes rows into a `RowSink` and
returns the cursor for the next incremental sync; the sync service (ingestion.syncs) turns
the rows into an import, so that every source gets the same guarantees as a file upload:
checked as a whole, all or nothing, upserted by the dataset's key, drift reported.

A kind raises `SourceError` for anything the person must act on (refused credentials, a
field that no longer exists, a rate limit that did not lift), with a sentence that names
the source and the system; never a traceback.
"""

from __future__ import annotations

import abc
import datetime
import decimal
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

from headway.lib.http import (
    HttpError,
    Response,
    SafeHttpClient,
    UnsafeAddressError,
    UnsupportedUrlError,
)

__all__ = [
    "FetchContext",
    "KindConfig",
    "RowSink",
    "SourceError",
    "SourceKind",
    "cell_text",
    "config_problems",
    "request_with_backoff",
]


class SourceError(Exception):
    """A sync that cannot go on, in a sentence for the person who set up the source.

    `retry` says whether trying again later may help (a server down, a rate limit that did
    not lift), as opposed to something a person must fix (refused credentials)."""

    def __init__(self, message: str, *, retry: bool = False) -> None:
        super().__init__(message)
        self.retry = retry


class KindConfig(BaseModel):
    """Base of every kind's configuration and secrets models: unknown fields are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def config_problems(model: type[KindConfig], data: Mapping[str, Any]) -> list[str]:
    """Every problem with a configuration, each naming its field ("page_size: ...")."""
    try:
        model.model_validate(dict(data))
    except ValidationError as error:
        problems = []
        for item in error.errors():
            where = ".".join(str(part) for part in item["loc"]) or "configuration"
            problems.append(f"{where}: {item['msg']}")
        return problems
    return []


def cell_text(value: object) -> str | None:
    """A value from an outside system as the text a CSV cell would hold; the import
    types the column. Nested JSON (lists, objects) is kept as its JSON text."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return str(value)


class RowSink:
    """Where a fetch puts its rows: one JSON object of text cells per line of a file.

    Rows go to disk as they come, so a sync of a million rows does not hold them in
    memory. `columns` is every column seen, in the order first seen (the fixed columns
    a kind declares first). Past `max_rows` the sink raises SourceError: the cap is a
    setting, and a bigger result is refused rather than cut short.
    """

    def __init__(
        self,
        path: Path,
        *,
        max_rows: int,
        columns: list[str] | None = None,
        progress: Callable[[int], None] | None = None,
        progress_every: int = 1000,
    ) -> None:
        self.path = path
        self.max_rows = max_rows
        self.rows = 0
        self._columns: dict[str, None] = dict.fromkeys(columns or [])
        self._progress = progress
        self._progress_every = progress_every
        self._handle: IO[str] = path.open("w", encoding="utf-8")

    @property
    def columns(self) -> list[str]:
        return list(self._columns)

    def write(self, row: Mapping[str, object]) -> None:
        if self.rows >= self.max_rows:
            raise SourceError(
                f"the source returned more than {self.max_rows:,} rows, the most one sync "
                "takes; narrow it (a filter, a smaller table) or raise the limit"
            )
        cells = {str(name): cell_text(value) for name, value in row.items()}
        for name in cells:
            if name not in self._columns:
                self._columns[name] = None
        self._handle.write(json.dumps(cells, ensure_ascii=False))
        self._handle.write("\n")
        self.rows += 1
        if self._progress is not None and self.rows % self._progress_every == 0:
            self._progress(self.rows)

    def close(self) -> None:
        if not self._handle.closed:
            self._handle.close()
        if self._progress is not None:
            self._progress(self.rows)

    def __enter__(self) -> RowSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class FetchContext:
    """What a fetch may use besides its configuration.

    `http` is the one outbound client (SSRF-safe; its allow list comes from the
    HEADWAY_HTTP_ALLOW setting). `sleep` and `now` are injected so that tests of backoff
    and cursors need not wait or depend on the clock. `source_name` is the name people
    gave the source, for messages.
    """

    http: SafeHttpClient
    source_name: str
    sleep: Callable[[float], None] = time.sleep
    now: Callable[[], datetime.datetime] = field(
        default=lambda: datetime.datetime.now(tz=datetime.UTC)
    )
    max_retries: int = 5
    # Seconds a statement may run (SQL sources) before it is cancelled.
    statement_timeout: float = 300.0


class SourceKind(abc.ABC):
    """One kind of source. Subclasses set the class attributes and implement `fetch`.

    `config_model` holds what may be shown again (URL, object, field mapping, schedule
    hints); `secrets_model` holds credentials, stored encrypted and never shown again.
    `incremental` says whether `fetch` honours a cursor.
    """

    name: ClassVar[str]
    label: ClassVar[str]
    description: ClassVar[str]
    config_model: ClassVar[type[KindConfig]]
    secrets_model: ClassVar[type[KindConfig]]
    incremental: ClassVar[bool] = False
    # Whether the worker runs it on a schedule; uploads and pushes come in by themselves.
    syncable: ClassVar[bool] = True

    def problems(self, config: Mapping[str, Any], secrets: Mapping[str, Any]) -> list[str]:
        """Every problem with the configuration and secrets, before anything is saved."""
        return config_problems(self.config_model, config) + config_problems(
            self.secrets_model, secrets
        )

    @abc.abstractmethod
    def fetch(
        self,
        config: Mapping[str, Any],
        secrets: Mapping[str, Any],
        cursor: str | None,
        sink: RowSink,
        context: FetchContext,
    ) -> str | None:
        """Writes the rows changed since `cursor` (all rows when None or not incremental)
        into `sink` and returns the cursor for the next sync (None: no cursor)."""


def _retry_after(response: Response, attempt: int) -> float:
    """Seconds to wait before retrying: the server's Retry-After when it gives one in
    seconds, else exponential backoff (1, 2, 4, ... s, at most 60)."""
    value = response.headers.get("Retry-After", "").strip()
    if value:
        try:
            return min(max(float(value), 0.0), 60.0)
        except ValueError:
            pass
    return float(min(2**attempt, 60))


def request_with_backoff(
    context: FetchContext,
    system: str,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    json_body: object | None = None,
    data: bytes | None = None,
    retry_statuses: frozenset[int] = frozenset({429, 502, 503, 504}),
    wait_for: Callable[[Response, int], float] = _retry_after,
) -> Response:
    """Sends a request, waiting and retrying on a rate limit (429) or a passing server
    error, at most `context.max_retries` times; then SourceError names the system.

    Transport failures (refused address, timeout, too large) become SourceError too. Any
    other status is returned for the kind to read (401 and 403 mean refused credentials)."""
    attempt = 0
    while True:
        try:
            response = context.http.request(
                method, url, headers=headers, params=params, json=json_body, data=data
            )
        except HttpError as error:
            raise SourceError(
                f"{context.source_name}: {system} could not be reached: {error}",
                retry=not isinstance(error, UnsafeAddressError | UnsupportedUrlError),
            ) from error
        if response.status not in retry_statuses:
            return response
        if attempt >= context.max_retries:
            what = (
                "kept refusing with a rate limit"
                if response.status == 429
                else (f"kept answering {response.status}")
            )
            raise SourceError(
                f"{context.source_name}: {system} {what} after {attempt + 1} tries; "
                "the next sync will try again",
                retry=True,
            )
        context.sleep(wait_for(response, attempt))
        attempt += 1
