"""The SQL source against live PostgreSQL and MariaDB: each test runs on both."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from headway.ingestion.sources.base import FetchContext, RowSink, SourceError
from headway.ingestion.sources.sql import SqlKind
from headway.ingestion.sources.sql import test_connection as check_connection
from headway.ingestion.sources.sql.execute import read_only_session, run_read_only
from tests.ingestion.sources_sql.conftest import Live, closed_port

KIND = SqlKind()
PASSWORD = "Corr3ct-Horse-Battery-Staple"


def fill_items(live: Live, count: int = 10) -> None:
    """items(id, name, amount, updated_at): ids 1..count, updated a day apart in 2024."""
    table = live.qualified("items")
    timestamp = "TIMESTAMP" if live.kind == "postgres" else "DATETIME(6)"
    live.run(
        f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, name VARCHAR(50), "
        f"amount DECIMAL(10, 2), updated_at {timestamp})"
    )
    values: list[object] = []
    for number in range(1, count + 1):
        values += [number, f"item {number}", f"{number}.50", f"2024-01-{number:02d} 10:00:00"]
    rows = ", ".join(["(%s, %s, %s, %s)"] * count)
    live.run(f"INSERT INTO {table} VALUES {rows}", values)


def read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def fetch(
    live: Live,
    tmp_path: Path,
    context: FetchContext,
    cursor: str | None = None,
    *,
    sink_rows: int = 100_000,
    secrets: dict[str, str] | None = None,
    **config: Any,
) -> tuple[list[dict[str, Any]], str | None]:
    path = tmp_path / f"rows-{time.monotonic_ns()}.jsonl"
    with RowSink(path, max_rows=sink_rows) as sink:
        new_cursor = KIND.fetch(
            live.config(**config),
            live.secrets if secrets is None else secrets,
            cursor,
            sink,
            context,
        )
    return read(path), new_cursor


def test_a_table_is_read_whole_with_its_values_as_text(
    live: Live, tmp_path: Path, context: FetchContext
) -> None:
    fill_items(live, 3)
    rows, cursor = fetch(live, tmp_path, context, table=live.table("items"))
    assert cursor is None  # no cursor column: no cursor
    assert sorted(rows, key=lambda row: row["id"]) == [
        {"id": "1", "name": "item 1", "amount": "1.50", "updated_at": "2024-01-01T10:00:00"},
        {"id": "2", "name": "item 2", "amount": "2.50", "updated_at": "2024-01-02T10:00:00"},
        {"id": "3", "name": "item 3", "amount": "3.50", "updated_at": "2024-01-03T10:00:00"},
    ]


def test_a_query_is_read_with_its_own_columns(
    live: Live, tmp_path: Path, context: FetchContext
) -> None:
    fill_items(live, 5)
    items = live.table("items")
    rows, _ = fetch(
        live,
        tmp_path,
        context,
        query=(
            f"SELECT CASE WHEN amount > 3 THEN 'big' ELSE 'small' END AS size, "
            f"count(*) AS n, sum(amount) AS total FROM {items} "
            "WHERE name LIKE 'item%' GROUP BY 1 ORDER BY 1"
        ),
    )
    assert rows == [
        {"size": "big", "n": "3", "total": "13.50"},
        {"size": "small", "n": "2", "total": "4.00"},
    ]


def test_a_cursor_column_brings_only_newer_rows_on_the_next_sync(
    live: Live, tmp_path: Path, context: FetchContext
) -> None:
    fill_items(live, 4)
    config = {"table": live.table("items"), "cursor_column": "updated_at"}
    rows, cursor = fetch(live, tmp_path, context, **config)
    assert [row["id"] for row in rows] == ["1", "2", "3", "4"]
    assert cursor == "2024-01-04T10:00:00"

    live.run(
        f"INSERT INTO {live.qualified('items')} VALUES "
        "(5, 'late', 1, '2024-02-01 09:00:00.250000'), (6, 'old', 1, '2023-12-31 00:00:00')"
    )
    live.run(f"UPDATE {live.qualified('items')} SET updated_at = '2024-03-01' WHERE id = 2")
    rows, cursor = fetch(live, tmp_path, context, cursor, **config)
    assert [row["id"] for row in rows] == ["5", "2"]  # in cursor order; 6 is older
    assert cursor == "2024-03-01T00:00:00"

    rows, again = fetch(live, tmp_path, context, cursor, **config)
    assert rows == []
    assert again == cursor  # nothing new: the cursor stays


def test_an_integer_cursor_on_a_query_with_percent_signs_brings_newer_rows(
    live: Live, tmp_path: Path, context: FetchContext
) -> None:
    fill_items(live, 12)
    config = {
        "query": f"SELECT id, name FROM {live.table('items')} WHERE name LIKE 'item 1%'",
        "cursor_column": "id",
    }
    rows, cursor = fetch(live, tmp_path, context, **config)
    assert [row["id"] for row in rows] == ["1", "10", "11", "12"]
    assert cursor == "12"
    rows, cursor = fetch(live, tmp_path, context, "10", **config)
    assert [row["id"] for row in rows] == ["11", "12"]
    assert cursor == "12"


def test_more_rows_than_max_rows_or_the_sinks_cap_fail_the_sync(
    live: Live, tmp_path: Path, context: FetchContext
) -> None:
    fill_items(live, 8)
    with pytest.raises(SourceError, match="more than 5 rows") as caught:
        fetch(live, tmp_path, context, table=live.table("items"), max_rows=5)
    assert "max_rows" in str(caught.value)
    with pytest.raises(SourceError, match="more than 3 rows"):
        fetch(live, tmp_path, context, sink_rows=3, table=live.table("items"))
    # Exactly the cap is fine.
    rows, _ = fetch(live, tmp_path, context, table=live.table("items"), max_rows=8)
    assert len(rows) == 8


def test_a_query_running_longer_than_the_timeout_is_stopped(
    live: Live, tmp_path: Path, context: FetchContext
) -> None:
    if live.kind == "postgres":
        slow = (
            "SELECT count(*) FROM generate_series(1, 100000) AS a "
            "CROSS JOIN generate_series(1, 100000) AS b"
        )
    else:
        fill_items(live, 1)
        live.run(f"CREATE TABLE {live.qualified('digits')} (d INTEGER)")
        live.run(
            f"INSERT INTO {live.qualified('digits')} VALUES (0),(1),(2),(3),(4),(5),(6),(7),(8),(9)"
        )
        digits = live.table("digits")
        slow = (
            "SELECT count(*) FROM "
            + ", ".join(f"{digits} AS d{index}" for index in range(10))
            + " WHERE d0.d + d1.d + d2.d + d3.d + d4.d + d5.d + d6.d + d7.d + d8.d + d9.d >= 0"
        )
    started = time.monotonic()
    with pytest.raises(SourceError, match="the query ran longer than 1 s") as caught:
        fetch(live, tmp_path, context, query=slow, timeout_seconds=1)
    assert time.monotonic() - started < 6
    assert str(caught.value).startswith("Sales DB: ")


def test_rows_that_come_too_slowly_are_stopped_by_the_deadline(live: Live) -> None:
    fill_items(live, 20)

    def slow_row(values: Sequence[object]) -> None:
        time.sleep(0.05)

    started = time.monotonic()
    with pytest.raises(SourceError, match=r"ran longer than 0\.3 s"):
        run_read_only(
            live.endpoint(),
            f"SELECT * FROM {live.qualified('items')}",
            timeout=0.3,
            source_name="Sales DB",
            on_columns=lambda names: None,
            on_row=slow_row,
            batch_size=2,
        )
    assert time.monotonic() - started < 3


def test_a_database_that_does_not_exist_is_named_without_the_password(
    live: Live, tmp_path: Path, context: FetchContext
) -> None:
    user = live.user_with_password(PASSWORD)
    config = {"url": live.url(user=user, database="no_such_database_here"), "table": "t"}
    with (
        RowSink(tmp_path / "rows.jsonl", max_rows=10) as sink,
        pytest.raises(SourceError) as caught,
    ):
        KIND.fetch(config, {"password": PASSWORD}, None, sink, context)
    message = str(caught.value)
    assert "no_such_database_here" in message
    assert live.server.host in message
    assert PASSWORD not in message
    assert not caught.value.retry


def test_an_unreachable_server_is_named_and_worth_retrying(
    live: Live, tmp_path: Path, context: FetchContext
) -> None:
    port = closed_port()
    config = {"url": live.url(port=port), "table": "t"}
    with (
        RowSink(tmp_path / "rows.jsonl", max_rows=10) as sink,
        pytest.raises(SourceError) as caught,
    ):
        KIND.fetch(config, {"password": PASSWORD}, None, sink, context)
    message = str(caught.value)
    assert message.startswith("Sales DB: could not connect to ")
    assert f"127.0.0.1:{port}" in message
    assert PASSWORD not in message
    assert caught.value.retry


def test_a_wrong_password_is_refused_without_showing_it(
    live: Live, tmp_path: Path, context: FetchContext
) -> None:
    """On MariaDB with a user of our own, whose right password works. The test PostgreSQL
    trusts every local connection (pg_hba `trust`), so no password can be wrong there: an
    unknown user is refused instead, the same way, without the password in the message."""
    fill_items(live, 2)
    config = {"table": live.table("items")}
    if live.kind == "mariadb":
        user = live.user_with_password(PASSWORD)
        right, _ = fetch(
            live, tmp_path, context, secrets={"password": PASSWORD}, url=live.url(user=user),
            **config,
        )  # fmt: skip
        assert len(right) == 2
    else:
        user = f"no_such_user_{live.namespace[-8:]}"
    wrong = "Wr0ng-" + PASSWORD
    with (
        RowSink(tmp_path / "rows.jsonl", max_rows=10) as sink,
        pytest.raises(SourceError) as caught,
    ):
        KIND.fetch({"url": live.url(user=user), **config}, {"password": wrong}, None, sink, context)
    message = str(caught.value)
    assert user in message
    assert wrong not in message
    assert PASSWORD not in message
    assert not caught.value.retry
    if live.kind == "mariadb":
        assert "refused the credentials" in message


def prepare_writes(live: Live) -> list[str]:
    """Items, a sequence and (MariaDB) a procedure that inserts; the statements that
    would write them."""
    fill_items(live, 3)
    items = live.qualified("items")
    name = live.namespace
    live.run(f"CREATE SEQUENCE {name}.counter")
    statements = [
        f"INSERT INTO {items} (id, name) VALUES (999, 'intruder')",
        f"UPDATE {items} SET name = 'changed'",
        f"DELETE FROM {items}",
        f"CREATE TABLE {name}.pwned (a INTEGER)",
        f"DROP TABLE {items}",
        f"TRUNCATE TABLE {items}",
        f"SELECT * FROM {items} FOR UPDATE",
    ]
    if live.kind == "postgres":
        return [
            *statements,
            f"WITH gone AS (DELETE FROM {items} RETURNING *) SELECT * FROM gone",
            f"SELECT * INTO {name}.pwned FROM {items}",
            f"SELECT nextval('{name}.counter')",
            f"CREATE TEMPORARY TABLE pwned AS SELECT * FROM {items}",
        ]
    live.run(
        f"CREATE PROCEDURE {name}.sneaky() "
        f"INSERT INTO {items} (id, name) VALUES (998, 'via procedure')"
    )
    return [
        *statements,
        f"SELECT nextval({name}.counter)",
        f"CREATE TEMPORARY TABLE {name}.pwned (a INTEGER)",
        f"REPLACE INTO {items} (id, name) VALUES (1, 'replaced')",
        f"CALL {name}.sneaky()",
        f"LOCK TABLES {items} WRITE",
    ]


def test_the_read_only_session_itself_refuses_every_write(live: Live) -> None:
    """Each statement straight on the session's connection: no vetting, no named or
    unbuffered cursor, only the read-only transaction between it and the data."""
    statements = prepare_writes(live)
    before = sorted(live.rows(f"SELECT * FROM {live.qualified('items')}"))
    tables = live.tables()
    user = live.user_with_password(PASSWORD)  # MariaDB: a user with every right on it
    for statement in statements:
        session = read_only_session(
            live.endpoint(user, PASSWORD), timeout=5, source_name="Sales DB"
        )
        with pytest.raises(SourceError) as caught, session as opened:
            opened.connection.cursor().execute(statement)
        assert "read-only session" in str(caught.value), statement
        assert sorted(live.rows(f"SELECT * FROM {live.qualified('items')}")) == before
        assert live.tables() == tables


def test_with_vetting_bypassed_the_executor_refuses_every_write(live: Live) -> None:
    items = live.qualified("items")
    statements = [
        *prepare_writes(live),
        f"SELECT 1; DELETE FROM {items}",
        f"SELECT 1; DROP TABLE {items}",
        f"WITH gone AS (DELETE FROM {items} RETURNING *) SELECT * FROM gone",
    ]
    before = sorted(live.rows(f"SELECT * FROM {items}"))
    tables = live.tables()
    for statement in statements:
        with pytest.raises(SourceError):
            run_read_only(
                live.endpoint(),
                statement,
                timeout=5,
                source_name="Sales DB",
                on_columns=lambda names: None,
                on_row=lambda values: None,
            )
        assert sorted(live.rows(f"SELECT * FROM {items}")) == before, statement
        assert live.tables() == tables, statement


def test_two_columns_of_the_same_name_are_refused_rather_than_merged(
    live: Live, tmp_path: Path, context: FetchContext
) -> None:
    fill_items(live, 2)
    items = live.table("items")
    with pytest.raises(SourceError, match=r"(more than one column named|Duplicate column)"):
        fetch(
            live,
            tmp_path,
            context,
            query=f"SELECT a.id, b.id FROM {items} a JOIN {items} b ON a.id = b.id",
        )


def test_values_of_many_types_reach_the_sink_as_text(
    live: Live, tmp_path: Path, context: FetchContext
) -> None:
    if live.kind == "postgres":
        query = (
            "SELECT 12345678901234567890::numeric AS big, 1.5::float8 AS f, true AS yes, "
            "DATE '2024-02-29' AS d, TIMESTAMPTZ '2024-02-29 12:00:00+00' AS ts, "
            "'\\x00ff'::bytea AS raw, NULL AS nothing, 'é ✓ 日本' AS text, "
            "'{\"a\": [1, 2]}'::jsonb AS doc"
        )
        expected = {
            "big": "12345678901234567890",
            "f": "1.5",
            "yes": "true",
            "d": "2024-02-29",
            "raw": "00ff",
            "nothing": None,
            "text": "é ✓ 日本",
            "doc": '{"a": [1, 2]}',
        }
    else:
        query = (
            "SELECT CAST(12345678901234567890 AS DECIMAL(30, 0)) AS big, "
            "CAST(1.5 AS DOUBLE) AS f, DATE '2024-02-29' AS d, "
            "TIMESTAMP '2024-02-29 12:00:00' AS ts, X'00FF' AS raw, NULL AS nothing, "
            "'é ✓ 日本' AS text"
        )
        expected = {
            "big": "12345678901234567890",
            "f": "1.5",
            "d": "2024-02-29",
            "ts": "2024-02-29T12:00:00",
            "raw": "00ff",
            "nothing": None,
            "text": "é ✓ 日本",
        }
    (row,), _ = fetch(live, tmp_path, context, query=query)
    assert {name: row[name] for name in expected} == expected
    if live.kind == "postgres":
        assert row["ts"].startswith("2024-02-29T")


def test_test_connection_checks_the_query_and_the_cursor_column_without_reading(
    live: Live, context: FetchContext
) -> None:
    fill_items(live, 3)
    good = live.config(table=live.table("items"), cursor_column="updated_at")
    check_connection(good, live.secrets, context)
    with pytest.raises(SourceError, match="no_such_table"):
        check_connection(live.config(table=live.table("no_such_table")), live.secrets, context)
    with pytest.raises(SourceError, match="cursor column 'missing' is not among") as caught:
        check_connection(
            live.config(table=live.table("items"), cursor_column="missing"),
            live.secrets,
            context,
        )
    assert "(id, name, amount, updated_at)" in str(caught.value)
    with pytest.raises(SourceError, match="cursor column 'n' is not among"):
        check_connection(
            live.config(
                query=f"SELECT id AS identifier, name AS n2 FROM {live.table('items')}",
                cursor_column="n",
            ),
            live.secrets,
            context,
        )
