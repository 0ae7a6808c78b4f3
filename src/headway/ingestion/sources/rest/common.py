"""What every JSON-over-HTTP kind shares: validated names and URLs, dot paths into JSON,
timestamps, and the first reading of a response.

The generic REST kind is the most general of the HTTP kinds; the CRM kinds (HubSpot,
Salesforce, Pipedrive) are JSON over HTTP too and use these helpers rather than copies.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from typing import Annotated, Any, Final, TypeVar
from urllib.parse import urlsplit, urlunsplit

from pydantic import AfterValidator, SecretStr, StringConstraints, ValidationError

from headway.ingestion.sources.base import (
    FetchContext,
    KindConfig,
    SourceError,
    config_problems,
)
from headway.lib.http import Response

__all__ = [
    "MISSING",
    "BaseUrl",
    "ColumnName",
    "FieldPath",
    "Identifier",
    "Secret",
    "check_unique_columns",
    "dig",
    "excerpt",
    "http_url",
    "load_model",
    "parse_instant",
    "read_json",
    "same_origin",
]

# The engine reserves this column for row numbers (headway.engine.data.ROW_COLUMN).
_RESERVED_COLUMN: Final = "__headway_row__"
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")


def _column_name(value: str) -> str:
    if value != value.strip():
        raise ValueError("a column name cannot start or end with spaces")
    if _CONTROL.search(value):
        raise ValueError("a column name cannot hold control characters")
    if value == _RESERVED_COLUMN:
        raise ValueError(f"the column name {value!r} is reserved")
    return value


ColumnName = Annotated[
    str, StringConstraints(min_length=1, max_length=128), AfterValidator(_column_name)
]
"""The name of a column of the dataset a source fills."""

FieldPath = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_$@:-]+(\.[A-Za-z0-9_$@:-]+)*$"
    ),
]
"""A field of a JSON record, nested fields joined by dots (`owner.email`)."""

Identifier = Annotated[
    str, StringConstraints(min_length=1, max_length=80, pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
]
"""A name made of letters, digits and underscores, starting with a letter."""


def _not_empty(value: SecretStr) -> SecretStr:
    if not value.get_secret_value().strip():
        raise ValueError("cannot be empty")
    return value


Secret = Annotated[SecretStr, AfterValidator(_not_empty)]
"""A credential: never shown in reprs or messages, never empty."""


def http_url(value: str) -> str:
    """An http or https URL with a host, without credentials, query or fragment; the
    trailing slash is dropped so that paths can be appended."""
    value = value.strip()
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 -- reading it validates the port
    except ValueError as error:
        raise ValueError(f"not a valid URL ({error})") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError("the URL must start with https:// (or http://)")
    if not parts.hostname:
        raise ValueError("the URL has no host")
    if "@" in parts.netloc:
        raise ValueError("credentials belong in the secrets, not in the URL")
    if parts.query or parts.fragment:
        raise ValueError("the URL cannot have a query (?...) or a fragment (#...)")
    if _CONTROL.search(value) or " " in value:
        raise ValueError("the URL cannot hold spaces or control characters")
    return urlunsplit((parts.scheme.lower(), parts.netloc, parts.path.rstrip("/"), "", ""))


BaseUrl = Annotated[str, StringConstraints(max_length=2000), AfterValidator(http_url)]


def check_unique_columns(names: list[str]) -> None:
    """ValueError naming a column that two fields fill (names are case-insensitive)."""
    seen: set[str] = set()
    for name in names:
        if name.lower() in seen:
            raise ValueError(f"two fields go to the column {name!r}")
        seen.add(name.lower())


M = TypeVar("M", bound=KindConfig)


def load_model(model: type[M], data: Mapping[str, Any], context: FetchContext, what: str) -> M:
    """`data` as `model`, or SourceError listing every problem (never the values)."""
    try:
        return model.model_validate(dict(data))
    except ValidationError:
        problems = "; ".join(config_problems(model, data))
        raise SourceError(f"{context.source_name}: the {what} is not valid: {problems}") from None


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()
"""What `dig` returns when a path leads nowhere (as opposed to a JSON null)."""


def dig(value: object, path: str) -> Any:
    """The value at a dot path in JSON (`data.items`; "" is the value itself), MISSING
    when a step is absent or not an object.

    A key that itself holds dots (`@odata.nextLink`) is found too: at each level the
    longest run of steps that is a key wins."""
    if not path:
        return value
    steps = path.split(".")
    while steps:
        if not isinstance(value, Mapping):
            return MISSING
        for size in range(len(steps), 0, -1):
            key = ".".join(steps[:size])
            if key in value:
                value = value[key]
                steps = steps[size:]
                break
        else:
            return MISSING
    return value


def parse_instant(value: object) -> datetime.datetime | None:
    """An ISO-8601 timestamp (`2024-01-15T10:30:00.123Z`, `+0000`, `2024-01-15 10:30:00`)
    as an aware datetime; a time without an offset is taken as UTC. None if not one."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        instant = datetime.datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=datetime.UTC)
    return instant


def excerpt(response: Response, limit: int = 200) -> str:
    """The start of a response body on one line, for a message."""
    text = " ".join(_CONTROL.sub(" ", response.text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def read_json(response: Response, context: FetchContext, system: str) -> Any:
    """The JSON body of a response, or SourceError naming the source and the system."""
    try:
        return response.json()
    except ValueError:
        raise SourceError(
            f"{context.source_name}: {system} answered with something that is not JSON "
            f"(HTTP {response.status}: {excerpt(response, 80) or 'empty'})"
        ) from None


def same_origin(first: str, second: str) -> bool:
    """Whether two absolute URLs share scheme, host and port."""

    def origin(url: str) -> tuple[str, str, int | None]:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        port = parts.port or {"http": 80, "https": 443}.get(scheme)
        return scheme, (parts.hostname or "").lower(), port

    try:
        return origin(first) == origin(second)
    except ValueError:
        return False
