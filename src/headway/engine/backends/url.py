"""Warehouse URLs: which backend runs the engine's scans, and where it is.

    duckdb:                                     the embedded DuckDB (the default)
    postgresql://user:secret@host:5432/db?schema=headway_warehouse&statement_timeout=600
    spark://local[2]   spark://local[*]         PySpark in local mode, in this process
    spark://host:7077                           a standalone Spark master
    sc://host:15002                             a Spark Connect server

Only parsing lives here (no driver is imported), so the workspace model can check a URL
the moment it is read. Passwords are never shown: messages use `masked`.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

DEFAULT_SCHEMA = "headway_warehouse"
DEFAULT_STATEMENT_TIMEOUT_S = 600
_SCHEMA_PATTERN = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_LOCAL_PATTERN = re.compile(r"^local(\[(\*|[1-9][0-9]{0,3})\])?$")
# Options of the URL that are Headway's own; any other query parameter goes to libpq.
_POSTGRES_OPTIONS = {"schema", "statement_timeout"}
_SPARK_OPTIONS = {"staging"}


class WarehouseUrlError(ValueError):
    """A URL that names no backend Headway knows, or names one badly; a sentence for people."""


class BackendKind(enum.StrEnum):
    DUCKDB = "duckdb"
    POSTGRES = "postgres"
    SPARK = "spark"


@dataclass(frozen=True)
class WarehouseUrl:
    kind: BackendKind
    masked: str
    host: str = ""
    port: int | None = None
    # PostgreSQL: the connection string for psycopg (password included: never print it).
    conninfo: str = field(default="", repr=False)
    schema: str = DEFAULT_SCHEMA
    statement_timeout_s: int = DEFAULT_STATEMENT_TIMEOUT_S
    # Spark: what SparkSession.builder gets (master or remote), and where typed data is staged.
    spark_master: str = ""
    spark_remote: str = ""
    staging: str | None = None

    @property
    def where(self) -> str:
        """host:port for messages about reaching the server."""
        return f"{self.host}:{self.port}" if self.port else self.host


def mask(url: str) -> str:
    """The URL with its password (and a Spark Connect token) replaced by ***."""
    url = re.sub(r"(?i)(;token=)[^;/?#]*", r"\1***", url)
    # By pattern, not by urlsplit: spark://local[2] is no valid host for urlsplit.
    found = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*://)([^@/?#]*)@", url)
    if found is None or ":" not in found.group(2):
        return url
    user = found.group(2).split(":", 1)[0]
    return f"{found.group(1)}{user}:***@{url[found.end() :]}"


def parse_url(url: str | None) -> WarehouseUrl:
    """Parses a warehouse URL; None or empty means the embedded DuckDB."""
    text = (url or "").strip()
    if text in ("", "duckdb", "duckdb:", "duckdb://", "duckdb:///:memory:"):
        return WarehouseUrl(kind=BackendKind.DUCKDB, masked="duckdb")
    shown = mask(text)
    scheme = text.split("://", 1)[0].lower() if "://" in text else ""
    if scheme in ("postgres", "postgresql"):
        return _postgres(text, shown)
    if scheme == "spark":
        return _spark(text, shown)
    if scheme == "sc":
        return _spark_connect(text, shown)
    raise WarehouseUrlError(
        f"warehouse {shown!r}: unknown kind of URL; use duckdb, postgresql://user@host:5432/db"
        "?schema=NAME, spark://local[2], spark://HOST:7077 or sc://HOST:15002"
    )


def _query(text: str, shown: str) -> dict[str, str]:
    query = text.partition("?")[2].partition("#")[0]
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=False)
    except ValueError as error:
        raise WarehouseUrlError(f"warehouse {shown!r}: {error}") from None
    found: dict[str, str] = {}
    for key, value in pairs:
        if key in found:
            raise WarehouseUrlError(f"warehouse {shown!r}: the option {key!r} is given twice")
        found[key] = value
    return found


def _port(text: str, shown: str) -> int | None:
    try:
        return urlsplit(text).port
    except ValueError:
        raise WarehouseUrlError(
            f"warehouse {shown!r}: the port is not a number from 0 to 65535"
        ) from None


def _postgres(text: str, shown: str) -> WarehouseUrl:
    parts = urlsplit(text)
    port = _port(text, shown)
    host = parts.hostname or ""
    if not host:
        raise WarehouseUrlError(f"warehouse {shown!r}: a PostgreSQL URL names its host")
    database = unquote(parts.path.lstrip("/"))
    if not database:
        raise WarehouseUrlError(f"warehouse {shown!r}: a PostgreSQL URL names its database")
    options = _query(text, shown)
    schema = options.get("schema", DEFAULT_SCHEMA)
    if not _SCHEMA_PATTERN.match(schema):
        raise WarehouseUrlError(
            f"warehouse {shown!r}: schema {schema!r} is not a plain lower-case name "
            "(letters, digits and _, at most 63)"
        )
    timeout_text = options.get("statement_timeout", str(DEFAULT_STATEMENT_TIMEOUT_S))
    if not timeout_text.isdigit() or not 1 <= int(timeout_text) <= 86400:
        raise WarehouseUrlError(
            f"warehouse {shown!r}: statement_timeout is in seconds, from 1 to 86400 "
            f"(got {timeout_text!r})"
        )
    libpq = {key: value for key, value in options.items() if key not in _POSTGRES_OPTIONS}
    from psycopg.conninfo import make_conninfo

    conninfo = make_conninfo(
        "",
        host=host,
        port=port or 5432,
        dbname=database,
        user=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        **libpq,
    )
    return WarehouseUrl(
        kind=BackendKind.POSTGRES,
        masked=shown,
        host=host,
        port=port or 5432,
        conninfo=conninfo,
        schema=schema,
        statement_timeout_s=int(timeout_text),
    )


def _spark(text: str, shown: str) -> WarehouseUrl:
    rest = text[len("spark://") :]
    address, _, _ = rest.partition("?")
    options = _query(text, shown)
    unknown = set(options) - _SPARK_OPTIONS
    if unknown:
        raise WarehouseUrlError(
            f"warehouse {shown!r}: unknown option {sorted(unknown)[0]!r} (Spark URLs take staging)"
        )
    staging = options.get("staging") or None
    if address.startswith("local"):
        if not _LOCAL_PATTERN.match(address):
            raise WarehouseUrlError(
                f"warehouse {shown!r}: local mode is spark://local, spark://local[N] or "
                "spark://local[*]"
            )
        master = address if "[" in address else "local[*]"
        return WarehouseUrl(
            kind=BackendKind.SPARK, masked=shown, host="local", spark_master=master, staging=staging
        )
    port = _port(text, shown)
    host = urlsplit(text).hostname or ""
    if not host:
        raise WarehouseUrlError(f"warehouse {shown!r}: a Spark master URL names its host")
    return WarehouseUrl(
        kind=BackendKind.SPARK,
        masked=shown,
        host=host,
        port=port or 7077,
        spark_master=f"spark://{host}:{port or 7077}",
        staging=staging,
    )


def _spark_connect(text: str, shown: str) -> WarehouseUrl:
    port = _port(text, shown)
    host = urlsplit(text).hostname or ""
    if not host:
        raise WarehouseUrlError(f"warehouse {shown!r}: a Spark Connect URL names its host")
    options = _query(text, shown)
    staging = options.pop("staging", None) or None
    # Spark Connect's own parameters (token, use_ssl, user_id...) travel in the URL's path
    # after a slash, as `sc://host:port/;token=...`; they are passed on untouched.
    remote = text.split("?", 1)[0]
    return WarehouseUrl(
        kind=BackendKind.SPARK,
        masked=shown,
        host=host,
        port=port or 15002,
        spark_remote=remote,
        staging=staging,
    )
