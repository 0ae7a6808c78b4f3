"""Vetting of source queries: bypass payloads refused, analytic SELECTs accepted."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlglot import exp

from headway.ingestion.sources.base import SourceError
from headway.ingestion.sources.sql.vetting import MAX_NESTING, denied_function, render, vet_query
from tests.ingestion.sources_sql.vetting_corpus import (
    ACCEPTED_BOTH,
    ACCEPTED_MYSQL,
    ACCEPTED_POSTGRES,
    REFUSED,
    REFUSED_POSTGRES,
)

DIALECTS = ["postgres", "mysql"]


def test_the_corpus_is_as_big_as_promised() -> None:
    assert len(REFUSED) + len(REFUSED_POSTGRES) >= 40
    assert len(ACCEPTED_BOTH) + len(ACCEPTED_POSTGRES) + len(ACCEPTED_MYSQL) >= 40


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize(("name", "sql"), REFUSED, ids=[name for name, _ in REFUSED])
def test_a_bypass_payload_is_refused_with_a_reason(name: str, sql: str, dialect: str) -> None:
    with pytest.raises(SourceError) as caught:
        vet_query(sql, dialect)
    message = str(caught.value)
    assert message
    assert "Traceback" not in message


@pytest.mark.parametrize(
    ("name", "sql"), REFUSED_POSTGRES, ids=[name for name, _ in REFUSED_POSTGRES]
)
def test_a_postgres_bypass_payload_is_refused(name: str, sql: str) -> None:
    with pytest.raises(SourceError):
        vet_query(sql, "postgres")


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("sql", ACCEPTED_BOTH)
def test_an_analytic_select_is_accepted_on_both_databases(sql: str, dialect: str) -> None:
    assert isinstance(vet_query(sql, dialect), exp.Query)


@pytest.mark.parametrize("sql", ACCEPTED_POSTGRES)
def test_a_postgres_analytic_select_is_accepted(sql: str) -> None:
    assert isinstance(vet_query(sql, "postgresql"), exp.Query)


@pytest.mark.parametrize("sql", ACCEPTED_MYSQL)
def test_a_mysql_analytic_select_is_accepted(sql: str) -> None:
    assert isinstance(vet_query(sql, "mariadb"), exp.Query)


@pytest.mark.parametrize(
    ("sql", "words"),
    [
        ("SELECT 1; DROP TABLE users", "2 statements"),
        ("DELETE FROM users", "one SELECT"),
        ("DELETE FROM users", "a DELETE statement"),
        ("WITH x AS (DELETE FROM users RETURNING *) SELECT * FROM x", "DELETE"),
        ("SELECT * INTO t2 FROM users", "SELECT ... INTO"),
        ("SELECT * FROM users FOR UPDATE", "FOR UPDATE"),
        ("SELECT pg_sleep(10)", "pg_sleep()"),
        ("SELECT PG_SLEEP(10)", "pg_sleep()"),
        ("DO $$ BEGIN END $$", "DO statement"),
        ("SELECT /*!50000 sleep(1) */ 1", "executable comments"),
        ("SELECT 1 /* \u200b */", "U+200B"),
        ("SELECT " + "(" * (MAX_NESTING + 1) + "1" + ")" * (MAX_NESTING + 1), "nests"),
    ],
)
def test_a_refusal_says_what_is_refused(sql: str, words: str) -> None:
    with pytest.raises(SourceError) as caught:
        vet_query(sql, "postgres")
    assert words in str(caught.value)


def test_a_variable_assignment_is_named_as_such_on_mysql() -> None:
    with pytest.raises(SourceError, match="assigning a variable"):
        vet_query("SELECT @x := 1", "mysql")


def test_an_optimizer_hint_is_refused_because_it_can_lift_the_time_limit() -> None:
    with pytest.raises(SourceError, match="time limit"):
        vet_query("SELECT /*+ SET_VAR(max_execution_time=0) */ 1", "mysql")


def test_what_runs_is_the_vetted_rendering_without_comments() -> None:
    query = vet_query("SELECT id -- the key\nFROM deals /* all of them */", "postgres")
    assert render(query, "postgres") == "SELECT id FROM deals"


def test_the_rendering_of_an_accepted_query_is_accepted_again_unchanged() -> None:
    for sql in ACCEPTED_BOTH:
        for dialect in DIALECTS:
            text = render(vet_query(sql, dialect), dialect)
            assert render(vet_query(text, dialect), dialect) == text


def test_a_backslash_before_a_quote_keeps_the_rest_inside_the_string_on_mysql() -> None:
    # MySQL reads \' as a quote inside the string: one literal, nothing after it.
    query = vet_query("SELECT 'a\\'; DROP TABLE users; --' AS x", "mysql")
    assert isinstance(query, exp.Select)
    (literal,) = list(query.find_all(exp.Literal))
    assert "DROP TABLE users" in literal.this
    assert render(query, "mysql").startswith("SELECT 'a''; DROP TABLE users;")


def test_a_backslash_before_a_quote_ends_the_string_on_postgres() -> None:
    # With standard_conforming_strings (forced on by the session) \ is an ordinary
    # character, so the quote ends the string and the DROP is a second statement.
    with pytest.raises(SourceError, match="2 statements"):
        vet_query("SELECT 'a\\'; DROP TABLE users; --'", "postgres")


def test_function_names_are_compared_after_unicode_normalisation_and_case_folding() -> None:
    assert denied_function("PG_SLEEP")
    assert denied_function("\uff50\uff47_\uff53\uff4c\uff45\uff45\uff50")  # fullwidth
    assert denied_function('"lo_import"')
    assert denied_function("dblink_connect_u")
    assert not denied_function("lower")
    assert not denied_function("date_trunc")
    assert not denied_function("current_setting")


def test_an_unknown_dialect_is_refused() -> None:
    with pytest.raises(SourceError, match="dialect"):
        vet_query("SELECT 1", "oracle")


def test_a_very_long_query_is_refused_before_parsing() -> None:
    with pytest.raises(SourceError, match="longer than"):
        vet_query("SELECT " + "1 + " * 30_000 + "1", "postgres")


_SQL_WORDS = [
    "SELECT", "FROM", "WHERE", "WITH", "AS", "INSERT", "INTO", "DELETE", "UPDATE", "SET",
    "DROP", "TABLE", "UNION", "ALL", "(", ")", ",", ";", "*", "1", "'x'", "$$a$$", "--",
    "/*", "*/", "/*!", "@x", ":=", "t", "pg_sleep(1)", "sleep(1)", "FOR", "UPDATE", "CASE",
    "WHEN", "THEN", "END", "=", "AND", "OR", "NOT", "::int", "->", "\\", '"', "`", "?",
    "%s", "$1", "RETURNING", "OVER", "PARTITION", "BY", "ORDER", "LIMIT", "DO", "COPY",
    "\n",
]  # fmt: skip


@settings(max_examples=200, derandomize=True, database=None)
@given(text=st.text(max_size=200), dialect=st.sampled_from(DIALECTS))
def test_vetting_arbitrary_text_raises_nothing_but_source_error(text: str, dialect: str) -> None:
    with contextlib.suppress(SourceError):
        vet_query(text, dialect)


@settings(max_examples=250, derandomize=True, database=None)
@given(
    words=st.lists(st.sampled_from(_SQL_WORDS), min_size=1, max_size=30),
    dialect=st.sampled_from(DIALECTS),
)
def test_vetting_sql_like_noise_raises_nothing_but_source_error_and_accepts_only_reads(
    words: list[str], dialect: str
) -> None:
    try:
        query = vet_query(" ".join(words), dialect)
    except SourceError:
        return
    # Whatever passes is a query with no write, lock, INTO or denied call anywhere.
    assert isinstance(query, exp.Query)
    for node in query.walk():
        assert not isinstance(node, exp.DML | exp.DDL | exp.Into | exp.Lock | exp.Command)
        if isinstance(node, exp.Anonymous):
            assert not denied_function(node.name)
