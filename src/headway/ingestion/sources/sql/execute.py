"""Running one statement in a read-only session with a time limit, rows streamed.

`run_read_only` is the one way a SQL source reaches a database. It does not vet the
statement (`vetting` did); it makes sure that, vetted or not, the statement cannot write
and cannot run long:

PostgreSQL (psycopg 3)
    The session starts with `default_transaction_read_only=on`, `statement_timeout` and
    `standard_conforming_strings=on` (how sqlglot writes string literals) as startup
    options; the transaction is `BEGIN READ ONLY` (psycopg's `read_only`), then
    `SET TRANSACTION READ ONLY` and the transaction's `statement_timeout` again in case a pooler
    dropped the startup options. The statement runs through a named (server-side)
    cursor, so it is a `DECLARE ... CURSOR FOR`, which PostgreSQL only accepts for a query,
    and rows come in batches (`fetchmany`). No password file and no environment password
    are used: the password is the source's, or none.

MySQL and MariaDB (PyMySQL)
    `SET SESSION TRANSACTION READ ONLY`, the time limit (`max_statement_time` in seconds on
    MariaDB, `max_execution_time` in milliseconds on MySQL, told apart by the server's
    version string), then `START TRANSACTION READ ONLY`. The statement runs on an unbuffered
    cursor (`SSCursor`) read in batches. Multiple statements per call are off, `LOAD DATA
    LOCAL` is off (a hostile server could otherwise ask for the Headway server's files),
    and connect and read timeouts bound waiting on the network.

Both also keep a deadline of their own between batches: a statement whose rows come
slowly, batch after batch, is stopped too. The transaction is never committed; the
connection is closed at the end, whatever happens.

Driver errors become SourceError with a sentence naming the source and the server, never
the password: refused credentials, an unknown database, an unreachable server, the time
limit, a write refused by the read-only session, a missing permission, or the server's
own message for a query it refused.
"""

from __future__ import annotations

import contextlib
import ssl
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
import psycopg.errors
import pymysql  # type: ignore[import-untyped]
import pymysql.cursors  # type: ignore[import-untyped]
from pymysql.constants import CLIENT  # type: ignore[import-untyped]

from headway.ingestion.sources.base import SourceError
from headway.ingestion.sources.sql.config import Endpoint

__all__ = [
    "BATCH_SIZE",
    "CONNECT_TIMEOUT",
    "Columns",
    "Row",
    "Session",
    "read_only_session",
    "run_read_only",
]

BATCH_SIZE = 1000
CONNECT_TIMEOUT = 15
# A path that cannot exist (/dev/null is no folder), so libpq reads no password file.
_NO_PASSFILE = "/dev/null/headway-no-passfile"
_PG_SSLMODE = {"prefer": "prefer", "require": "require", "verify": "verify-full"}

Columns = Callable[[list[str]], None]
Row = Callable[[Sequence[object]], None]


@dataclass
class Session:
    """A connection in a read-only transaction with a time limit (see `read_only_session`).

    `connection` is the driver's (psycopg or PyMySQL); `deadline` is when the time limit
    runs out, on `time.monotonic`'s clock."""

    connection: Any
    deadline: float
    failure: _Failure
    _cursors: list[Any] = field(default_factory=list)

    def unbuffered(self) -> Any:
        """A PyMySQL unbuffered cursor, forgotten without being read to its end at close."""
        cursor = self.connection.cursor(pymysql.cursors.SSCursor)
        self._cursors.append(cursor)
        return cursor


@contextlib.contextmanager
def read_only_session(endpoint: Endpoint, *, timeout: float, source_name: str) -> Iterator[Session]:
    """Connects and opens a read-only transaction with the time limit; driver errors,
    in it or raised by the block, become SourceError; the connection is closed at the
    end, never committed."""
    failure = _Failure(endpoint, source_name, timeout)
    if endpoint.target.dialect == "postgres":
        with _pg_session(endpoint, timeout, failure) as session:
            yield session
    else:
        with _my_session(endpoint, timeout, failure) as session:
            yield session


def run_read_only(
    endpoint: Endpoint,
    sql: str,
    params: Sequence[object] = (),
    *,
    timeout: float,
    source_name: str,
    on_columns: Columns,
    on_row: Row,
    batch_size: int = BATCH_SIZE,
) -> None:
    """Runs `sql` (with `params` bound, if any) read-only, at most `timeout` seconds, and
    hands the column names to `on_columns`, then each row to `on_row`. A SourceError raised
    by a callback goes through as it is; every driver error becomes a SourceError."""
    bound = tuple(params) or None
    with read_only_session(endpoint, timeout=timeout, source_name=source_name) as session:
        if endpoint.target.dialect == "postgres":
            # A named cursor: DECLARE ... CURSOR FOR, which takes nothing but a query.
            with session.connection.cursor(name="headway_rows") as cursor:
                cursor.execute(sql, bound)
                on_columns([column.name for column in cursor.description or ()])
                _stream(cursor.fetchmany, on_row, batch_size, session)
        else:
            cursor = session.unbuffered()
            cursor.execute(sql, bound)
            on_columns([str(column[0]) for column in cursor.description or ()])
            _stream(cursor.fetchmany, on_row, batch_size, session)


class _Failure:
    """Turns driver errors into sentences for the person who set up the source."""

    def __init__(self, endpoint: Endpoint, source_name: str, timeout: float) -> None:
        self.endpoint = endpoint
        self.name = source_name
        self.timeout = timeout
        self.started = time.monotonic()

    def clean(self, message: str) -> str:
        """The server's message: its first line, without the password should it appear."""
        text = " ".join(message.strip().splitlines()[:1]).strip() or "no message"
        text = text.removeprefix("connection failed: ")
        password = self.endpoint.password
        if len(password) >= 3:
            text = text.replace(password, "***")
        return text[:500]

    @property
    def where(self) -> str:
        return self.endpoint.target.where

    def timed_out(self) -> SourceError:
        return SourceError(
            f"{self.name}: the query ran longer than {self.timeout:g} s, the time limit of "
            "this source, and was stopped; make it cheaper (a filter, an index, fewer "
            "columns) or raise the source's timeout_seconds"
        )

    def credentials(self) -> SourceError:
        return SourceError(
            f"{self.name}: {self.where} refused the credentials of the database user "
            f"{self.endpoint.target.user!r}; check the user name and the password"
        )

    def unreachable(self, message: str) -> SourceError:
        return SourceError(
            f"{self.name}: could not connect to {self.where}: {self.clean(message)}",
            retry=True,
        )

    def database(self, message: str) -> SourceError:
        return SourceError(f"{self.name}: {self.where}: {self.clean(message)}")

    def read_only(self, message: str) -> SourceError:
        return SourceError(
            f"{self.name}: {self.where} refused to run the query, which tried to write in "
            f"a read-only session ({self.clean(message)}); a source may only read"
        )

    def permission(self, message: str) -> SourceError:
        return SourceError(
            f"{self.name}: the database user {self.endpoint.target.user!r} may not do this on "
            f"{self.where}: {self.clean(message)}"
        )

    def refused(self, message: str) -> SourceError:
        return SourceError(f"{self.name}: {self.where} refused the query: {self.clean(message)}")

    def lost(self, message: str) -> SourceError:
        if time.monotonic() - self.started >= self.timeout:
            return self.timed_out()
        return SourceError(
            f"{self.name}: the connection to {self.where} was lost during the query: "
            f"{self.clean(message)}",
            retry=True,
        )


def _stream(
    fetch: Callable[[int], Sequence[Sequence[object]]],
    on_row: Row,
    batch_size: int,
    session: Session,
) -> None:
    while True:
        if time.monotonic() > session.deadline:
            raise session.failure.timed_out()
        rows = fetch(batch_size)
        if not rows:
            return
        for row in rows:
            on_row(row)


# PostgreSQL ------------------------------------------------------------------------------


def _pg_connect(endpoint: Endpoint, timeout: float, failure: _Failure) -> psycopg.Connection:
    target = endpoint.target
    milliseconds = max(1, round(timeout * 1000))
    options = " ".join(
        (
            "-c default_transaction_read_only=on",
            f"-c statement_timeout={milliseconds}",
            f"-c idle_in_transaction_session_timeout={max(milliseconds, 60_000)}",
            "-c standard_conforming_strings=on",
        )
    )
    settings: dict[str, str | int] = {
        "host": target.host,
        "port": target.port,
        "dbname": target.database,
        "user": target.user,
        "password": endpoint.password,
        "passfile": _NO_PASSFILE,
        "sslmode": _PG_SSLMODE[endpoint.tls],
        "gssencmode": "disable",
        "connect_timeout": CONNECT_TIMEOUT,
        "application_name": "headway",
        "options": options,
    }
    if endpoint.tls == "verify":
        settings["sslrootcert"] = "system"
    try:
        return psycopg.connect(autocommit=False, **settings)  # type: ignore[arg-type]
    except psycopg.OperationalError as error:
        message = str(error)
        lowered = message.lower()
        if "password" in lowered or "authentication failed" in lowered:
            raise failure.credentials() from None
        if "does not exist" in lowered:
            raise failure.database(message.rsplit("FATAL:", 1)[-1]) from None
        raise failure.unreachable(message) from None
    except psycopg.Error as error:
        raise failure.unreachable(str(error)) from None


def _pg_error(error: psycopg.Error, failure: _Failure) -> SourceError:
    diag = getattr(error, "diag", None)
    message = (diag.message_primary if diag is not None else None) or str(error)
    if isinstance(error, psycopg.errors.QueryCanceled):
        return failure.timed_out()
    if isinstance(error, psycopg.errors.ReadOnlySqlTransaction):
        return failure.read_only(message)
    if isinstance(error, psycopg.errors.InsufficientPrivilege):
        return failure.permission(message)
    if isinstance(error, psycopg.OperationalError) and error.sqlstate in (None, "57P01"):
        return failure.lost(message)
    return failure.refused(message)


@contextlib.contextmanager
def _pg_session(endpoint: Endpoint, timeout: float, failure: _Failure) -> Iterator[Session]:
    deadline = time.monotonic() + timeout
    connection = _pg_connect(endpoint, timeout, failure)
    try:
        connection.read_only = True  # BEGIN READ ONLY
        connection.execute("SET TRANSACTION READ ONLY")
        milliseconds = max(1, round(timeout * 1000))
        connection.execute("SELECT set_config('statement_timeout', %s, true)", (f"{milliseconds}",))
        yield Session(connection=connection, deadline=deadline, failure=failure)
    except psycopg.Error as error:
        raise _pg_error(error, failure) from None
    finally:
        with contextlib.suppress(Exception):
            connection.close()


# MySQL and MariaDB -----------------------------------------------------------------------

# Error numbers of MySQL and MariaDB (mysqld_error.h, errmsg.h).
_MY_CREDENTIALS = {1045, 1698, 1251, 2059}
_MY_DATABASE = {1044, 1049}
_MY_UNREACHABLE = {2002, 2003, 2005, 2006, 2013, 2055}
_MY_TIMEOUT = {1969, 3024, 1317, 1028}
_MY_READ_ONLY = {1792}
_MY_PERMISSION = {1142, 1143, 1227, 1370}


def _my_ssl(tls: str) -> ssl.SSLContext | None:
    if tls == "prefer":
        return None  # PyMySQL cannot fall back to plain text: TLS is on only when asked for
    context = ssl.create_default_context()
    if tls == "require":
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _my_connect(endpoint: Endpoint, timeout: float, failure: _Failure) -> pymysql.Connection:
    target = endpoint.target
    try:
        return pymysql.connect(
            host=target.host,
            port=target.port,
            user=target.user,
            password=endpoint.password,
            database=target.database,
            charset="utf8mb4",
            connect_timeout=CONNECT_TIMEOUT,
            read_timeout=timeout + 15,
            write_timeout=60,
            autocommit=False,
            local_infile=False,
            client_flag=0,  # no CLIENT.MULTI_STATEMENTS
            ssl=_my_ssl(endpoint.tls),
            program_name="headway",
        )
    except pymysql.MySQLError as error:
        code, message = _my_code(error)
        if code in _MY_CREDENTIALS:
            raise failure.credentials() from None
        if code in _MY_DATABASE:
            raise failure.database(message) from None
        raise failure.unreachable(message) from None


def _my_code(error: BaseException) -> tuple[int, str]:
    args: tuple[object, ...] = getattr(error, "args", ())
    if len(args) >= 2 and isinstance(args[0], int):
        return args[0], str(args[1])
    return 0, str(error)


def _my_error(error: pymysql.MySQLError, failure: _Failure) -> SourceError:
    code, message = _my_code(error)
    if code in _MY_TIMEOUT:
        return failure.timed_out()
    if code in _MY_READ_ONLY:
        return failure.read_only(message)
    if code in _MY_PERMISSION:
        return failure.permission(message)
    if code in _MY_UNREACHABLE:
        return failure.lost(message)
    return failure.refused(message)


@contextlib.contextmanager
def _my_session(endpoint: Endpoint, timeout: float, failure: _Failure) -> Iterator[Session]:
    deadline = time.monotonic() + timeout
    connection = _my_connect(endpoint, timeout, failure)
    assert not connection.client_flag & CLIENT.MULTI_STATEMENTS
    session = Session(connection=connection, deadline=deadline, failure=failure)
    try:
        with connection.cursor() as setup:
            setup.execute("SET SESSION TRANSACTION READ ONLY")
            if "mariadb" in connection.get_server_info().lower():
                setup.execute("SET SESSION max_statement_time = %s", (float(timeout),))
            else:
                setup.execute(
                    "SET SESSION max_execution_time = %s", (max(1, round(timeout * 1000)),)
                )
            setup.execute("START TRANSACTION READ ONLY")
        yield session
    except pymysql.MySQLError as error:
        raise _my_error(error, failure) from None
    finally:
        # Closing the connection, not the cursors: an unbuffered cursor would first read
        # every row left. The transaction, read-only anyway, ends with the session.
        for cursor in session._cursors:
            _abandon(cursor)
        with contextlib.suppress(Exception):
            connection.close()


def _abandon(cursor: Any) -> None:
    """Makes PyMySQL forget an unbuffered result instead of reading what is left of it
    when the cursor is closed or collected (after a cap or a deadline, that could be
    millions of rows); the connection is closed right after."""
    result = getattr(cursor, "_result", None)
    if result is not None:
        result.unbuffered_active = False
    cursor.connection = None
