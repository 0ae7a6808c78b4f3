"""A SQL source's configuration (URL, table or query, cursor, limits) and its secrets.

The URL names the database without its password (`postgresql://user@host:5432/db`,
`mysql://user@host:3306/db`, `mariadb://...`); the password is a secret, stored
encrypted. The URL is taken apart here and the drivers get each part on its own, so no
driver option (a Unix socket, a password file, a second host) can come in through it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import unquote, urlsplit

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError
from sqlglot import exp

from headway.ingestion.sources.base import KindConfig, SourceError
from headway.ingestion.sources.sql.vetting import vet_query

__all__ = [
    "DEFAULT_MAX_ROWS",
    "Endpoint",
    "SqlConfig",
    "SqlSecrets",
    "Target",
    "parse_column",
    "parse_table",
    "parse_url",
]

DEFAULT_MAX_ROWS = 1_000_000
MAX_MAX_ROWS = 10_000_000
MAX_TIMEOUT_SECONDS = 3600

# URL scheme: (sqlglot dialect, system named in messages, default port).
SCHEMES: dict[str, tuple[str, str, int]] = {
    "postgresql": ("postgres", "PostgreSQL", 5432),
    "postgres": ("postgres", "PostgreSQL", 5432),
    "mysql": ("mysql", "MySQL", 3306),
    "mariadb": ("mysql", "MariaDB", 3306),
}

_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?"
_HOST_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.?")
_IPV6 = re.compile(r"[0-9A-Fa-f:.]+")
_BARE = r"[^\W\d][\w$]*"
_QUOTED = {"postgres": r'"(?:[^"]|"")+"', "mysql": r"`(?:[^`]|``)+`"}
_MAX_NAME = {"postgres": 63, "mysql": 64}


@dataclass(frozen=True)
class Target:
    """Where a SQL source connects: the URL taken apart."""

    scheme: str
    host: str
    port: int
    database: str
    user: str

    @property
    def dialect(self) -> str:
        return SCHEMES[self.scheme][0]

    @property
    def system(self) -> str:
        return SCHEMES[self.scheme][1]

    @property
    def where(self) -> str:
        """The server as messages name it: `PostgreSQL at db.example.com:5432`."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.system} at {host}:{self.port}"


@dataclass(frozen=True)
class Endpoint:
    """A target with what it takes to log in: given to the executors, never shown."""

    target: Target
    password: str = field(repr=False)
    tls: str = "prefer"


def parse_url(url: str) -> Target:
    """The parts of a database URL; ValueError says what is wrong (never echoing a password)."""
    text = url.strip()
    scheme = text.split("://", 1)[0].lower() if "://" in text else ""
    if scheme not in SCHEMES:
        raise ValueError(
            "the URL must start with postgresql://, mysql:// or mariadb:// "
            "(for example postgresql://reader@db.example.com:5432/sales)"
        )
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise ValueError("the URL's port must be a number from 1 to 65535") from None
    if parts.password is not None:
        raise ValueError(
            "the URL must not contain a password: enter it in the source's credentials, "
            "where it is stored encrypted"
        )
    if parts.query or parts.fragment:
        raise ValueError(
            "the URL must not have options after '?' or '#': TLS is a setting of the source"
        )
    user = unquote(parts.username or "")
    if not user:
        raise ValueError("the URL must name the database user: postgresql://user@host/database")
    host = parts.hostname or ""
    if not host:
        raise ValueError("the URL must name the server: postgresql://user@host/database")
    if parts.netloc.rsplit("@", 1)[-1].startswith("["):
        if not _IPV6.fullmatch(host):
            raise ValueError("the URL's server is not a valid IPv6 address")
    elif not _HOST_NAME.fullmatch(host):
        raise ValueError(
            "the URL's server must be a host name or an IP address (no socket paths, no "
            "lists of hosts)"
        )
    database = unquote(parts.path[1:] if parts.path.startswith("/") else parts.path)
    if not database or "/" in database:
        raise ValueError("the URL must name one database: postgresql://user@host/database")
    for value in (user, database):
        if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in value):
            raise ValueError("the URL's user and database must not contain control characters")
    default_port = SCHEMES[scheme][2]
    if port is not None and not 1 <= port <= 65535:
        raise ValueError("the URL's port must be a number from 1 to 65535")
    return Target(scheme=scheme, host=host, port=port or default_port, database=database, user=user)


def _identifier(part: str, dialect: str) -> exp.Identifier:
    quote = '"' if dialect == "postgres" else "`"
    if part.startswith(quote):
        name = part[1:-1].replace(quote * 2, quote)
    elif dialect == "postgres":
        # PostgreSQL folds unquoted names to lower case (ASCII letters only).
        name = "".join(ch.lower() if "A" <= ch <= "Z" else ch for ch in part)
    else:
        name = part
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in name) or not name.strip():
        raise ValueError(f"the name {part!r} holds control characters or only spaces")
    if len(name.encode("utf-8")) > _MAX_NAME[dialect]:
        raise ValueError(f"the name {part!r} is longer than the database allows")
    return exp.Identifier(this=name, quoted=True)


def _names(text: str, dialect: str, most: int) -> list[exp.Identifier]:
    part = rf"(?:{_BARE}|{_QUOTED[dialect]})"
    pattern = rf"{part}(?:\.{part}){{0,{most - 1}}}"
    stripped = text.strip()
    if not re.fullmatch(pattern, stripped):
        raise ValueError("not a name")
    parts = re.findall(part, stripped)
    return [_identifier(piece, dialect) for piece in parts]


def parse_table(text: str, dialect: str) -> exp.Table:
    """A table name, optionally with its schema (`sales.orders`, `"Sales"."Orders"`), as a
    table node with every part quoted; ValueError if it is anything else."""
    try:
        names = _names(text, dialect, 2)
    except ValueError as error:
        if str(error) != "not a name":
            raise
        quote = '"' if dialect == "postgres" else "`"
        raise ValueError(
            f"{text!r} is not a table name: write table or schema.table, quoting a name "
            f"with {quote} when it has spaces or capitals that matter"
        ) from None
    if len(names) == 2:
        return exp.Table(this=names[1], db=names[0])
    return exp.Table(this=names[0])


def parse_column(text: str, dialect: str) -> exp.Identifier:
    """One column name as an identifier node (quoted); ValueError if it is anything else."""
    try:
        return _names(text, dialect, 1)[0]
    except ValueError as error:
        if str(error) != "not a name":
            raise
        raise ValueError(f"{text!r} is not a column name") from None


def _problem(message: str) -> PydanticCustomError:
    return PydanticCustomError("sql_source", "{message}", {"message": message})


class SqlConfig(KindConfig):
    """Where the rows come from: a database URL and a table or a SELECT."""

    url: str = Field(
        description=(
            "postgresql://user@host:5432/database, mysql://user@host:3306/database or "
            "mariadb://...; no password here (it goes in the credentials)"
        ),
        max_length=2000,
    )
    table: str | None = Field(
        default=None,
        description="A table or view (schema.table) to read whole; or give a query instead",
        max_length=300,
    )
    query: str | None = Field(
        default=None,
        description="One SELECT whose rows are the dataset; or give a table instead",
        validate_default=True,
    )
    cursor_column: str | None = Field(
        default=None,
        description=(
            "A column that grows with every change (updated_at, an increasing id): each "
            "sync then reads only rows where it is greater than the last value seen"
        ),
        max_length=200,
    )
    max_rows: int = Field(
        default=DEFAULT_MAX_ROWS,
        ge=1,
        le=MAX_MAX_ROWS,
        description="A sync that would return more rows than this fails instead",
    )
    timeout_seconds: int | None = Field(
        default=None,
        ge=1,
        le=MAX_TIMEOUT_SECONDS,
        description="Seconds the query may run (the installation's default when empty)",
    )
    tls: Literal["prefer", "require", "verify"] = Field(
        default="prefer",
        description=(
            "prefer: encrypt when the server offers it (PostgreSQL); require: always "
            "encrypt; verify: encrypt and check the server's certificate and name"
        ),
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        try:
            parse_url(value)
        except ValueError as error:
            raise _problem(str(error)) from None
        return value.strip()

    @field_validator("table")
    @classmethod
    def _table(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or not value.strip():
            return None
        try:
            parse_table(value, _dialect_of(info))
        except ValueError as error:
            raise _problem(str(error)) from None
        return value.strip()

    @field_validator("query")
    @classmethod
    def _query(cls, value: str | None, info: ValidationInfo) -> str | None:
        if "table" not in info.data:  # the table's own problem is reported
            return value
        if value is None or not value.strip():
            if info.data["table"] is None:
                raise _problem("give either a table or a query")
            return None
        if info.data.get("table") is not None:
            raise _problem("give either a table or a query, not both")
        try:
            vet_query(value, _dialect_of(info))
        except SourceError as error:
            raise _problem(str(error)) from None
        return value.strip()

    @field_validator("cursor_column")
    @classmethod
    def _cursor(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or not value.strip():
            return None
        try:
            parse_column(value, _dialect_of(info))
        except ValueError as error:
            raise _problem(str(error)) from None
        return value.strip()

    @property
    def target(self) -> Target:
        return parse_url(self.url)

    @property
    def dialect(self) -> str:
        return self.target.dialect


def _dialect_of(info: ValidationInfo) -> str:
    """The dialect of the URL validated before this field (PostgreSQL when it was bad: the
    URL's own problem is reported on its own)."""
    url = info.data.get("url")
    if isinstance(url, str):
        try:
            return parse_url(url).dialect
        except ValueError:
            pass
    return "postgres"


class SqlSecrets(KindConfig):
    """The database user's password: stored encrypted, never shown again."""

    password: SecretStr = Field(
        default=SecretStr(""),
        description="The password of the URL's database user",
        max_length=1000,
    )
