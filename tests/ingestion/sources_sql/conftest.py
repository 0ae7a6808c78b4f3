"""Live PostgreSQL and MariaDB for the SQL source's tests, each test in a fresh namespace.

The servers come from HEADWAY_TEST_POSTGRES_URL (default
postgres://postgres@127.0.0.1:5432/test) and HEADWAY_TEST_MYSQL_URL (default
mysql://root@127.0.0.1:3306/test); CI runs both. A test gets a schema (PostgreSQL) or a
database (MariaDB) named headway_src_<pid>_<random>, dropped when the test ends, so runs
in parallel (pytest-xdist) and runs that crashed leave nothing in each other's way.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import psycopg
import pymysql
import pytest

from headway.ingestion.sources.base import FetchContext, RowSink
from headway.ingestion.sources.sql.config import Endpoint, Target
from headway.lib.http import SafeHttpClient

POSTGRES_URL = os.environ.get(
    "HEADWAY_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test"
)
MYSQL_URL = os.environ.get("HEADWAY_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test")


@dataclass
class Server:
    host: str
    port: int
    user: str
    password: str
    database: str


def _server(url: str, default_port: int) -> Server:
    parts = urlsplit(url)
    return Server(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or default_port,
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        database=parts.path.lstrip("/"),
    )


@dataclass
class Live:
    """One live database namespace, with an administrator's connection to fill it."""

    kind: str  # "postgres" or "mariadb"
    server: Server
    namespace: str
    admin: Any
    made: list[str] = field(default_factory=list)

    @property
    def scheme(self) -> str:
        return "postgresql" if self.kind == "postgres" else "mariadb"

    @property
    def database(self) -> str:
        return self.server.database if self.kind == "postgres" else self.namespace

    def url(
        self, *, user: str | None = None, database: str | None = None, port: int | None = None
    ) -> str:
        return (
            f"{self.scheme}://{user or self.server.user}@{self.server.host}:"
            f"{port or self.server.port}/{database or self.database}"
        )

    @property
    def secrets(self) -> dict[str, str]:
        return {"password": self.server.password} if self.server.password else {}

    def table(self, name: str) -> str:
        """The name a source's configuration uses for a table of this namespace."""
        return f"{self.namespace}.{name}" if self.kind == "postgres" else name

    def qualified(self, name: str) -> str:
        """The table's name in SQL run by the administrator."""
        return f"{self.namespace}.{name}"

    def config(self, **fields: Any) -> dict[str, Any]:
        return {"url": self.url(), **fields}

    def endpoint(self, user: str | None = None, password: str | None = None) -> Endpoint:
        target = Target(
            scheme=self.scheme,
            host=self.server.host,
            port=self.server.port,
            database=self.database,
            user=user or self.server.user,
        )
        return Endpoint(target=target, password=password or self.server.password)

    def run(self, sql: str, params: Sequence[object] = ()) -> None:
        with self.admin.cursor() as cursor:
            cursor.execute(sql, params or None)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        with self.admin.cursor() as cursor:
            cursor.execute(sql)
            return [tuple(row) for row in cursor.fetchall()]

    def tables(self) -> set[str]:
        found = self.rows(
            "SELECT table_name FROM information_schema.tables "
            f"WHERE table_schema = '{self.namespace}'"
        )
        return {str(row[0]) for row in found}

    def user_with_password(self, password: str) -> str:
        """A database user whose password is `password`, with every right on this
        namespace. The test PostgreSQL trusts local connections (pg_hba `trust`), so a
        password is never checked there: the server's own user stands in."""
        if self.kind == "postgres":
            return self.server.user
        user = f"hw_{self.namespace[-8:]}"
        self.run(f"CREATE USER '{user}'@'%%' IDENTIFIED BY %s", (password,))
        self.made.append(f"'{user}'@'%'")
        self.run(f"GRANT ALL ON {self.namespace}.* TO '{user}'@'%'")
        return user


def _postgres_admin(server: Server) -> Any:
    return psycopg.connect(
        host=server.host,
        port=server.port,
        user=server.user,
        password=server.password or None,
        dbname=server.database,
        autocommit=True,
        connect_timeout=5,
    )


def _mariadb_admin(server: Server) -> Any:
    return pymysql.connect(
        host=server.host,
        port=server.port,
        user=server.user,
        password=server.password,
        database=server.database,
        autocommit=True,
        connect_timeout=5,
    )


@pytest.fixture(params=["postgres", "mariadb"])
def live(request: pytest.FixtureRequest) -> Iterator[Live]:
    """A fresh schema (PostgreSQL) or database (MariaDB) on the test servers."""
    kind: str = request.param
    namespace = f"headway_src_{os.getpid()}_{secrets.token_hex(4)}"
    if kind == "postgres":
        server = _server(POSTGRES_URL, 5432)
        admin = _postgres_admin(server)
        statement = f"CREATE SCHEMA {namespace}"
        drop = f"DROP SCHEMA IF EXISTS {namespace} CASCADE"
    else:
        server = _server(MYSQL_URL, 3306)
        admin = _mariadb_admin(server)
        statement = f"CREATE DATABASE {namespace} CHARACTER SET utf8mb4"
        drop = f"DROP DATABASE IF EXISTS {namespace}"
    database = Live(kind=kind, server=server, namespace=namespace, admin=admin)
    database.run(statement)
    try:
        yield database
    finally:
        try:
            database.run(drop)
            for user in database.made:
                database.run(f"DROP USER IF EXISTS {user}")
        finally:
            admin.close()


@pytest.fixture
def context() -> FetchContext:
    return FetchContext(http=SafeHttpClient(), source_name="Sales DB", statement_timeout=20)


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[RowSink]:
    with RowSink(tmp_path / "rows.jsonl", max_rows=100_000) as rows:
        yield rows


def closed_port() -> int:
    """A local TCP port nothing listens on (it was free a moment ago)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port
