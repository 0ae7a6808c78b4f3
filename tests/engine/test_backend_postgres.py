"""The PostgreSQL warehouse: COPY, never row inserts; JIT off; no copy of unchanged data;
clear errors when it cannot be reached. Against the machine's server, in a schema of this
module's own that is dropped afterwards."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from headway.engine.backends.postgres import PostgresBackend
from headway.engine.compute import ComputeRequest, Engine
from headway.engine.problems import HeadwayError
from headway.engine.workspace import load_workspace
from tests.conftest import run_headway
from tests.engine.test_backend_parity import drop_schema, postgres_schema_url

WORKSPACE = """\
version: 1
organization: {name: Copy Test, timezone: Europe/Berlin}
datasets:
  orders: {file: orders.csv, key: id, time: at, dimensions: [shop]}
measures:
  orders: {dataset: orders, agg: count}
  amount: {dataset: orders, agg: sum, column: amount}
kpis:
  - {key: orders, name: Orders, formula: orders, unit: count, grain: month}
  - {key: amount, name: Amount, formula: amount, unit: number, grain: month}
"""


@pytest.fixture
def schema() -> Iterator[str]:
    name = f"h3_pg_{uuid.uuid4().hex[:12]}"
    try:
        yield name
    finally:
        drop_schema(name)


def write_orders(folder: Path, rows: int) -> Path:
    lines = ["id,at,shop,amount"]
    for number in range(1, rows + 1):
        shop = ("", "a", "b")[number % 3]  # an empty field is a missing shop
        lines.append(f"{number},2026-0{1 + number % 3}-1{number % 9} 10:00,{shop},{number / 10}")
    (folder / "orders.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "headway.yaml").write_text(WORKSPACE, encoding="utf-8")
    return folder / "headway.yaml"


class Spy:
    """Records every statement and COPY that psycopg cursors run in this process."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.statements: list[str] = []
        self.copies: list[str] = []
        execute = psycopg.Cursor.execute
        copy = psycopg.Cursor.copy

        def spied_execute(cursor: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
            self.statements.append(str(query))
            return execute(cursor, query, *args, **kwargs)

        def spied_copy(cursor: Any, statement: Any, *args: Any, **kwargs: Any) -> Any:
            self.copies.append(str(statement))
            return copy(cursor, statement, *args, **kwargs)

        monkeypatch.setattr(psycopg.Cursor, "execute", spied_execute)
        monkeypatch.setattr(psycopg.Cursor, "copy", spied_copy)


def table_rows(schema: str, table: str) -> int:
    conninfo = postgres_schema_url(schema).replace("postgres://", "postgresql://", 1)
    with psycopg.connect(conninfo.split("?")[0]) as connection:
        row = connection.execute(f'SELECT count(*) FROM "{schema}"."{table}"').fetchone()
    assert row is not None
    return int(row[0])


def test_it_loads_the_rows_with_one_copy_and_no_insert(
    tmp_path: Path, schema: str, monkeypatch: pytest.MonkeyPatch
):
    workspace = load_workspace(write_orders(tmp_path, 2500))
    spy = Spy(monkeypatch)
    with Engine(workspace, warehouse=postgres_schema_url(schema)) as engine:
        result = engine.compute(ComputeRequest())
        backend = engine.backend
        assert isinstance(backend, PostgresBackend)
        table = backend.table_name(engine.warehouse.datasets["orders"])  # type: ignore[union-attr]
    assert len(spy.copies) == 1
    assert spy.copies[0].startswith(f'COPY "{schema}"."{table}"')
    assert "FROM STDIN" in spy.copies[0]
    data_inserts = [s for s in spy.statements if "INSERT" in s.upper() and table in s]
    assert data_inserts == []
    # Every row arrived: the table holds the file's 2,500 and the counts add up to them.
    assert table_rows(schema, table) == 2500
    assert sum(row.value or 0 for row in result.rows if row.kpi == "orders") == 2500
    amounts = sum(row.value or 0 for row in result.rows if row.kpi == "amount")
    assert amounts == pytest.approx(sum(number / 10 for number in range(1, 2501)), rel=1e-12)


def test_its_sessions_run_without_jit_and_with_a_statement_timeout(tmp_path: Path, schema: str):
    workspace = load_workspace(write_orders(tmp_path, 3))
    url = postgres_schema_url(schema) + "&statement_timeout=42"
    with Engine(workspace, warehouse=url) as engine:
        backend = engine.connect()
        assert backend.fetch("SHOW jit") == [("off",)]
        assert backend.fetch("SHOW statement_timeout") == [("42s",)]


def test_it_does_not_copy_an_unchanged_file_again_but_does_a_changed_one(
    tmp_path: Path, schema: str, monkeypatch: pytest.MonkeyPatch
):
    path = write_orders(tmp_path, 30)
    url = postgres_schema_url(schema)
    with Engine(load_workspace(path), warehouse=url) as engine:
        engine.compute(ComputeRequest())
        assert engine.backend is not None
        assert engine.backend.loaded == ["orders"]
    spy = Spy(monkeypatch)
    with Engine(load_workspace(path), warehouse=url) as engine:
        first = engine.compute(ComputeRequest())
        assert engine.backend is not None
        assert (engine.backend.loaded, engine.backend.reused) == ([], ["orders"])
    assert spy.copies == []
    # A new row (and a new modification time) is copied again, and counted.
    time.sleep(0.01)
    with (tmp_path / "orders.csv").open("a", encoding="utf-8") as handle:
        handle.write("31,2026-01-05 09:00,a,1.5\n")
    with Engine(load_workspace(path), warehouse=url) as engine:
        second = engine.compute(ComputeRequest())
        assert engine.backend is not None
        assert engine.backend.loaded == ["orders"]
    assert len(spy.copies) == 1
    total = {row.kpi: 0 for row in first.rows}
    for row in second.rows:
        total[row.kpi] += row.value or 0
    for row in first.rows:
        total[row.kpi] -= row.value or 0
    assert total["orders"] == 1
    assert total["amount"] == pytest.approx(1.5)


def test_it_names_the_host_it_cannot_reach_and_hides_the_password(tmp_path: Path):
    workspace = write_orders(tmp_path, 3)
    run = run_headway(
        "compute", workspace, "--warehouse", "postgresql://bob:hunter2@127.0.0.1:1/test"
    )
    assert run.exit_code == 2
    assert "cannot reach the PostgreSQL warehouse at 127.0.0.1:1" in run.stderr
    assert "bob:***@127.0.0.1:1" in run.stderr
    assert "hunter2" not in run.stderr + run.stdout
    assert "Traceback" not in run.stderr


def test_it_explains_with_the_sql_postgresql_runs(tmp_path: Path, schema: str):
    workspace = write_orders(tmp_path, 30)
    run = run_headway(
        "explain", workspace, "--kpi", "amount", "--warehouse", postgres_schema_url(schema)
    )
    assert run.exit_code == 0, run.stderr
    assert f'FROM "{schema}"."hw_orders_' in run.stdout
    assert "CAST('2026-" in run.stdout  # PostgreSQL's timestamp literal, not DuckDB's
    assert "copied in with COPY" in run.stdout


def test_the_app_takes_its_warehouse_from_the_environment():
    url = "postgresql://app@db.internal:5432/kpis?schema=warehouse"
    code = "from headway.site import settings; print(settings.HEADWAY_WAREHOUSE_URL)"
    env = {**os.environ, "HEADWAY_WAREHOUSE_URL": url, "HEADWAY_MODE": "test"}
    run = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert run.stdout.strip() == url


def test_a_refused_connection_is_a_headway_error_not_a_traceback(tmp_path: Path):
    workspace = load_workspace(write_orders(tmp_path, 3))
    with (
        Engine(workspace, warehouse="postgresql://postgres@127.0.0.1:1/test") as engine,
        pytest.raises(HeadwayError, match=r"127\.0\.0\.1:1"),
    ):
        engine.compute(ComputeRequest())
