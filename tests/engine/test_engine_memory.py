"""The engine's memory limit (HEADWAY_ENGINE_MEMORY_LIMIT) and its spilling to disk."""

from __future__ import annotations

import tempfile
from pathlib import Path

import duckdb
import pytest

from headway.engine.data import DEFAULT_ENGINE_MEMORY_LIMIT, Warehouse
from headway.engine.problems import HeadwayError
from tests.conftest import run_headway

WORKSPACE = """\
version: 1
organization: {name: Test, timezone: UTC}
datasets:
  events: {file: events.parquet, key: event_id, time: happened_at}
measures:
  events: {dataset: events, agg: count}
  amount: {dataset: events, agg: sum, column: amount}
kpis:
  - {key: events, name: Events, formula: events, unit: count, grain: year}
  - {key: amount, name: Amount, formula: amount, unit: count, grain: year}
"""


def duckdb_setting(limit: str) -> str:
    """How DuckDB itself shows a memory limit it was given (e.g. '244.1 MiB' for 256MB)."""
    with duckdb.connect(":memory:") as connection:
        connection.execute(f"SET memory_limit = '{limit}'")
        row = connection.execute("SELECT current_setting('memory_limit')").fetchone()
    assert row is not None
    return str(row[0])


def warehouse_setting(name: str) -> str:
    warehouse = Warehouse("UTC")
    try:
        row = warehouse.connection.execute(f"SELECT current_setting('{name}')").fetchone()
    finally:
        warehouse.close()
    assert row is not None
    return str(row[0])


def write_events(folder: Path, rows: int) -> Path:
    """`rows` events, one a minute from 2026-01-01, event i of amount i."""
    with duckdb.connect(":memory:") as connection:
        connection.execute(
            "COPY (SELECT i AS event_id, TIMESTAMP '2026-01-01' + to_minutes(i) AS happened_at, "
            f"i AS amount FROM range({rows}) t(i)) TO '{folder / 'events.parquet'}' "
            "(FORMAT parquet)"
        )
    workspace = folder / "headway.yaml"
    workspace.write_text(WORKSPACE, encoding="utf-8")
    return workspace


def test_the_engine_limits_its_memory_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HEADWAY_ENGINE_MEMORY_LIMIT", raising=False)
    assert warehouse_setting("memory_limit") == duckdb_setting(DEFAULT_ENGINE_MEMORY_LIMIT)


def test_it_takes_the_memory_limit_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADWAY_ENGINE_MEMORY_LIMIT", " 1.5GB ")
    assert warehouse_setting("memory_limit") == duckdb_setting("1.5GB")
    assert duckdb_setting("1.5GB") != duckdb_setting(DEFAULT_ENGINE_MEMORY_LIMIT)


@pytest.mark.parametrize("value", ["lots", "-1GB", "80%", "12", "1GB; SET threads = 1"])
def test_it_rejects_a_memory_limit_that_is_not_an_amount(
    value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEADWAY_ENGINE_MEMORY_LIMIT", value)
    with pytest.raises(HeadwayError):
        Warehouse("UTC")
    run = run_headway("compute", write_events(tmp_path, 10))
    assert run.exit_code == 2, run
    assert run.stderr == (
        f"error: HEADWAY_ENGINE_MEMORY_LIMIT is {value.strip()!r}: write an amount of memory "
        "such as 256MB or 2GB\n"
    )


def test_it_computes_data_larger_than_its_memory_limit_by_spilling_to_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Three columns of 8 bytes: 72 MB of values, and a table of every key for the check.
    rows = 3_000_000
    workspace = write_events(tmp_path, rows)
    monkeypatch.setenv("HEADWAY_ENGINE_MEMORY_LIMIT", "64MB")
    monkeypatch.setenv("HEADWAY_NO_CACHE", "1")  # every key checked: the largest need
    run = run_headway("compute", workspace, "--format", "json")
    assert run.exit_code == 0, run
    values = {(row["kpi"], row["period"]): row["value"] for row in run.json_rows()}
    # One event a minute: 3,000,000 minutes from 2026-01-01 run into 2031.
    minutes_2026 = 365 * 24 * 60
    assert values[("events", "2026")] == minutes_2026
    assert values[("amount", "2026")] == minutes_2026 * (minutes_2026 - 1) // 2
    assert sum(v for (kpi, _), v in values.items() if kpi == "events") == rows
    assert sum(v for (kpi, _), v in values.items() if kpi == "amount") == rows * (rows - 1) // 2


def test_it_spills_into_a_folder_of_its_own_and_removes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    temporary, current = tmp_path / "tmp", tmp_path / "current"
    temporary.mkdir()
    current.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    monkeypatch.chdir(current)
    monkeypatch.setenv("HEADWAY_ENGINE_MEMORY_LIMIT", "64MB")
    warehouse = Warehouse("UTC")
    other = Warehouse("UTC")
    try:
        assert list(temporary.iterdir()) == []
        # What a grouping needs grows with the threads: fixed, so that it spills anywhere.
        warehouse.connection.execute("SET threads = 2")
        # Three million distinct keys do not fit in 64 MB: the grouping spills.
        row = warehouse.connection.execute(
            "SELECT count(*) FROM (SELECT i FROM range(3000000) t(i) GROUP BY i "
            "HAVING count(*) = 1)"
        ).fetchone()
        assert row == (3_000_000,)
        spilled = list(temporary.iterdir())
        assert len(spilled) == 1
        assert spilled[0].name.startswith("headway-engine-")
    finally:
        warehouse.close()
        other.close()
    assert list(temporary.iterdir()) == []
    # DuckDB's own default would have been ".tmp" in the current folder.
    assert list(current.iterdir()) == []


def test_it_says_which_setting_to_raise_when_the_checks_run_out_of_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = write_events(tmp_path, 300_000)
    monkeypatch.setenv("HEADWAY_ENGINE_MEMORY_LIMIT", "1MB")
    monkeypatch.setenv("HEADWAY_NO_CACHE", "1")
    run = run_headway("compute", workspace)
    assert run.exit_code == 2, run
    assert "HEADWAY_ENGINE_MEMORY_LIMIT is 1MB): raise it" in run.stderr
    assert "events.parquet" in run.stderr
    assert "Traceback" not in run.stderr
