"""The SQL source's configuration and the statement built from it (no database needed)."""

from __future__ import annotations

from typing import Any

import pytest

from headway.ingestion.sources import kind_named
from headway.ingestion.sources.base import FetchContext, RowSink, SourceError, config_problems
from headway.ingestion.sources.sql import SqlConfig, SqlKind, SqlSecrets
from headway.ingestion.sources.sql import test_connection as check_connection
from headway.ingestion.sources.sql.config import parse_table, parse_url
from headway.ingestion.sources.sql.statement import build_statement
from tests.ingestion.sources_sql.conftest import closed_port

PG = "postgresql://reader@db.example.com:5432/sales"
MY = "mysql://reader@db.example.com/sales"


def problems(**config: Any) -> list[str]:
    return config_problems(SqlConfig, config)


def test_the_kind_is_registered_as_sql_and_is_incremental() -> None:
    kind = kind_named("sql")
    assert isinstance(kind, SqlKind)
    assert kind.incremental
    assert kind.config_model is SqlConfig
    assert kind.secrets_model is SqlSecrets


@pytest.mark.parametrize(
    ("url", "dialect", "port", "system"),
    [
        ("postgresql://reader@db.example.com:6543/sales", "postgres", 6543, "PostgreSQL"),
        ("postgres://reader@db.example.com/sales", "postgres", 5432, "PostgreSQL"),
        ("mysql://reader@10.0.0.5/sales", "mysql", 3306, "MySQL"),
        ("mariadb://reader@[::1]:3307/sales", "mysql", 3307, "MariaDB"),
        ("POSTGRESQL://read%40er@db.example.com/my%20db", "postgres", 5432, "PostgreSQL"),
    ],
)
def test_a_database_url_is_taken_apart(url: str, dialect: str, port: int, system: str) -> None:
    target = parse_url(url)
    assert (target.dialect, target.port, target.system) == (dialect, port, system)
    assert problems(url=url, table="t") == []


def test_percent_escapes_in_the_user_and_database_are_decoded() -> None:
    target = parse_url("postgresql://read%40er@db.example.com/my%20db")
    assert (target.user, target.database) == ("read@er", "my db")


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("postgresql://reader:hunter2@db.example.com/sales", "must not contain a password"),
        ("postgresql://reader:@db.example.com/sales", "must not contain a password"),
        ("sqlite:///tmp/x.db", "must start with"),
        ("jdbc:postgresql://db/sales", "must start with"),
        ("db.example.com/sales", "must start with"),
        ("postgresql://db.example.com/sales", "name the database user"),
        ("postgresql://reader@/sales", "name the server"),
        ("postgresql://reader@%2Frun%2Fpostgresql/sales", "host name or an IP address"),
        ("postgresql://reader@a.example.com,b.example.com/sales", "host name or an IP"),
        ("postgresql://reader@db.example.com/", "name one database"),
        ("postgresql://reader@db.example.com/a/b", "name one database"),
        ("postgresql://reader@db.example.com/sales?sslmode=disable", "after '?'"),
        ("postgresql://reader@db.example.com/sales?passfile=/etc/x", "after '?'"),
        ("postgresql://reader@db.example.com:70000/sales", "port"),
        ("postgresql://reader@db.example.com:http/sales", "port"),
    ],
)
def test_a_bad_url_is_refused_with_a_reason(url: str, words: str) -> None:
    found = problems(url=url, table="t")
    assert len(found) == 1
    assert found[0].startswith("url: ")
    assert words in found[0]
    assert "hunter2" not in found[0]


def test_a_source_needs_a_table_or_a_query_but_not_both() -> None:
    assert problems(url=PG) == ["query: give either a table or a query"]
    assert problems(url=PG, table="t", query="SELECT 1") == [
        "query: give either a table or a query, not both"
    ]


def test_a_query_is_vetted_when_the_configuration_is_checked() -> None:
    (problem,) = problems(url=PG, query="SELECT 1; DROP TABLE users")
    assert problem.startswith("query: ")
    assert "2 statements" in problem


def test_a_query_is_vetted_in_the_dialect_of_the_url() -> None:
    assert problems(url=MY, query="SELECT `id` FROM `deals`") == []
    assert problems(url=PG, query="SELECT `id` FROM `deals`") != []


@pytest.mark.parametrize(
    ("text", "dialect", "sql"),
    [
        ("orders", "postgres", '"orders"'),
        ("Sales.Orders", "postgres", '"sales"."orders"'),
        ('"Sales"."Big Orders"', "postgres", '"Sales"."Big Orders"'),
        ('"we""ird"', "postgres", '"we""ird"'),
        ("Sales.Orders", "mysql", "`Sales`.`Orders`"),
        ("`my db`.`order`", "mysql", "`my db`.`order`"),
        ("ventes_été", "postgres", '"ventes_été"'),
    ],
)
def test_a_table_name_becomes_a_quoted_identifier(text: str, dialect: str, sql: str) -> None:
    assert parse_table(text, dialect).sql(dialect=dialect) == sql


@pytest.mark.parametrize(
    "text",
    [
        "orders; DROP TABLE users",
        "orders --",
        "a.b.c",
        "orders o",
        "(SELECT 1)",
        "pg_sleep(1)",
        '"unterminated',
        "",
        "1orders",
        '"tab\tname"',
    ],
)
def test_anything_but_a_table_name_is_refused(text: str) -> None:
    found = problems(url=PG, table=text) if text else problems(url=PG, table=text, query=None)
    assert found


def test_a_cursor_column_must_be_one_column_name() -> None:
    assert problems(url=PG, table="t", cursor_column="updated_at") == []
    (problem,) = problems(url=PG, table="t", cursor_column="updated_at; DROP TABLE t")
    assert problem.startswith("cursor_column: ")


def test_limits_are_bounded() -> None:
    assert problems(url=PG, table="t", max_rows=0)
    assert problems(url=PG, table="t", max_rows=100_000_000)
    assert problems(url=PG, table="t", timeout_seconds=0)
    assert problems(url=PG, table="t", timeout_seconds=100_000)
    assert problems(url=PG, table="t", tls="none")
    assert problems(url=PG, table="t", password="x")  # a secret is not configuration
    assert SqlConfig.model_validate({"url": PG, "table": "t"}).max_rows == 1_000_000


def test_the_password_is_kept_out_of_reprs() -> None:
    secrets = SqlSecrets.model_validate({"password": "hunter2"})
    assert "hunter2" not in repr(secrets)
    assert secrets.password.get_secret_value() == "hunter2"


def statement(cursor: str | None = None, **config: Any) -> tuple[str, tuple[object, ...]]:
    built = build_statement(SqlConfig.model_validate(config), cursor=cursor, limit=101)
    return built.sql, built.params


def test_a_table_is_read_with_select_star_and_a_row_cap() -> None:
    assert statement(url=PG, table="sales.orders") == (
        'SELECT * FROM "sales"."orders" LIMIT 101',
        (),
    )


def test_a_cursor_filters_and_orders_by_its_column_and_is_bound_as_a_parameter() -> None:
    sql, params = statement("2024-05-01T10:00:00", url=PG, table="orders", cursor_column="ts")
    assert sql == 'SELECT * FROM "orders" WHERE "ts" > %s ORDER BY "ts" LIMIT 101'
    assert params == ("2024-05-01T10:00:00",)


def test_without_a_cursor_yet_every_row_is_read_in_cursor_order() -> None:
    sql, params = statement(None, url=PG, table="orders", cursor_column="ts")
    assert sql == 'SELECT * FROM "orders" ORDER BY "ts" LIMIT 101'
    assert params == ()


def test_a_query_becomes_a_subquery_and_its_percent_signs_are_escaped_for_the_driver() -> None:
    sql, params = statement(
        "7", url=MY, query="SELECT id, name FROM t WHERE name LIKE 'a%'", cursor_column="id"
    )
    assert sql == (
        "SELECT * FROM (SELECT id, name FROM t WHERE name LIKE 'a%%') AS `headway_rows` "
        "WHERE `headway_rows`.`id` > %s ORDER BY `headway_rows`.`id` LIMIT 101"
    )
    assert params == (7,)  # an integer cursor is bound as an integer on MySQL


def test_a_cursor_that_looks_like_sql_is_only_ever_a_parameter() -> None:
    evil = "0' OR '1'='1'; DROP TABLE orders; --"
    sql, params = statement(evil, url=PG, table="orders", cursor_column="id")
    assert evil not in sql
    assert params == (evil,)


def test_a_refused_query_never_reaches_the_database(tmp_path: Any) -> None:
    context = FetchContext(http=None, source_name="Sales DB")  # type: ignore[arg-type]
    config = {"url": f"postgresql://reader@127.0.0.1:{closed_port()}/x", "query": "DELETE FROM t"}
    with (
        RowSink(tmp_path / "rows.jsonl", max_rows=10) as sink,
        pytest.raises(SourceError) as caught,
    ):
        SqlKind().fetch(config, {}, None, sink, context)
    # The vetting's sentence, not "could not connect": no connection was tried.
    assert "one SELECT" in str(caught.value)
    assert str(caught.value).startswith("Sales DB: ")
    with pytest.raises(SourceError, match="one SELECT"):
        check_connection(config, {}, context)
