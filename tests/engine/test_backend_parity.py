"""The engine gives the same rows on DuckDB, PostgreSQL and Spark (docs/warehouse.md).

Every golden workspace, the benchmark's workspace at 20,000 leads and a workspace of edge
cases (integer sums past 2^63, unsigned and float columns, an empty text beside a missing
one, offsets in timestamps, an ISO week across new year, fiscal quarters) are computed on
each backend, for the totals and broken down by each dimension, and every row must equal
DuckDB's: numbers within 1e-9 relative, nulls and text exactly. DuckDB's rows are checked
against an independent reference by test_golden.py; here the backends are checked
against DuckDB.

PostgreSQL is the machine's server (HEADWAY_TEST_POSTGRES_URL, by default
postgres://postgres@127.0.0.1:5432/test), in a schema of this run that is dropped
afterwards. Spark runs in local mode; its cases share one test so that they share one
Spark session (starting one takes ~20 s) in one worker process.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from headway.engine.compute import ComputeRequest, Engine, ResultRow
from headway.engine.workspace import Workspace, load_workspace

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden"
GOLDEN_WORKSPACES = sorted(path.name for path in GOLDEN.iterdir() if path.is_dir())
POSTGRES_URL = os.environ.get(
    "HEADWAY_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test"
)
SPARK_URL = "spark://local[2]"
BENCH_LEADS = 20_000

Key = tuple[str, str, str | None, str | None]  # kpi, period label, dimension, group


def postgres_schema_url(schema: str) -> str:
    separator = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{separator}schema={schema}"


def drop_schema(schema: str) -> None:
    import psycopg

    conninfo = POSTGRES_URL.replace("postgres://", "postgresql://", 1).split("?")[0]
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(scope="module")
def postgres_warehouse() -> Iterator[str]:
    """A PostgreSQL warehouse URL whose schema belongs to this run alone."""
    schema = f"h3_parity_{uuid.uuid4().hex[:12]}"
    try:
        yield postgres_schema_url(schema)
    finally:
        drop_schema(schema)


@pytest.fixture(scope="module")
def bench_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The benchmark's six tables (Parquet) and its 20 KPIs at 20,000 leads."""
    folder = tmp_path_factory.mktemp("bench")
    subprocess.run(
        [sys.executable, str(ROOT / "bench" / "generate.py"), "--leads", str(BENCH_LEADS),
         "--out", str(folder)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return folder / "workspace.yaml"


EDGE_YAML = """\
version: 1
organization: {name: Edge Cases Ltd, timezone: Asia/Taipei, fiscal_year_start: 4}
datasets:
  events:
    file: events.parquet
    key: id
    time: at
    dimensions: [team, level]
measures:
  events: {dataset: events, agg: count}
  big: {dataset: events, agg: sum, column: big}
  huge: {dataset: events, agg: sum, column: huge}
  avg_score: {dataset: events, agg: avg, column: score}
  flagged_amount: {dataset: events, agg: sum, column: amount, filter: "flag = true"}
  teams_scoring: {dataset: events, agg: count_distinct, column: team, filter: "score >= 2"}
  ratio: {dataset: events, agg: sum, column: ratio}
  lowest: {dataset: events, agg: min, column: amount}
  highest: {dataset: events, agg: max, column: score}
kpis:
  - {key: weekly, name: Weekly events, formula: events, unit: count, grain: week}
  - {key: big, name: Big sum, formula: big, unit: number, grain: month}
  - {key: huge, name: Unsigned sum, formula: huge, unit: number, grain: quarter}
  - {key: score, name: Average score, formula: avg_score, unit: score, grain: quarter}
  - {key: flagged, name: Flagged amount, formula: flagged_amount, unit: number, grain: year}
  - {key: teams, name: Teams scoring, formula: teams_scoring, unit: count, grain: quarter}
  - {key: ratio, name: Ratio, formula: ratio / events, unit: number, grain: month}
  - {key: spread, name: Spread, formula: highest - lowest, unit: number, grain: month}
"""


def write_edge_workspace(folder: Path) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    utc = dt.UTC
    taipei = dt.timezone(dt.timedelta(hours=8))
    moments = [
        dt.datetime(2026, 12, 31, 15, 59, tzinfo=utc),  # 23:59 in Taipei: 2026-W53
        dt.datetime(2026, 12, 31, 16, 0, tzinfo=utc),  # 00:00 on 1 January: still W53
        dt.datetime(2027, 1, 4, 0, 0, tzinfo=taipei),  # Monday: 2027-W01
        dt.datetime(2026, 3, 31, 16, 30, tzinfo=utc),  # 1 April in Taipei: fiscal Q1
        dt.datetime(2026, 3, 31, 15, 30, tzinfo=utc),  # 31 March: fiscal 2025-Q4
        dt.datetime(2026, 6, 15, 12, 0, tzinfo=utc),
        dt.datetime(2026, 6, 16, 12, 0, tzinfo=utc),
        dt.datetime(2026, 6, 17, 12, 0, tzinfo=utc),
    ]
    count = len(moments)
    table = pa.table(
        {
            "id": pa.array(range(1, count + 1), pa.int64()),
            "at": pa.array(moments, pa.timestamp("us", tz="UTC")),
            # An empty text and a missing value are different groups.
            "team": pa.array(["north", "", None, "north", "south", "", None, "south"]),
            "level": pa.array([1, 2, 3, 1, 2, 3, None, 1], pa.int64()),
            # June's two overflow a 64-bit integer when summed.
            "big": pa.array([5, -7, 3, 1, 2, 2**62, 2**62, None], pa.int64()),
            "huge": pa.array([1, 2, 3, 4, 5, 2**64 - 1, 2**63, 6], pa.uint64()),
            "score": pa.array([1, 2, 2, 3, None, 4, 5, 2], pa.int32()),
            "amount": pa.array([0.1, 0.2, 0.3, 1e-9, 1e12, -2.5, None, 7.25], pa.float64()),
            "flag": pa.array([True, False, True, None, True, True, False, True], pa.bool_()),
            "ratio": pa.array([0.5, 1.25, 0.1, 3.0, 2.0, 0.3, 0.7, 0.9], pa.float32()),
        }
    )
    pq.write_table(table, folder / "events.parquet")
    path = folder / "headway.yaml"
    path.write_text(EDGE_YAML, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def edge_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_edge_workspace(tmp_path_factory.mktemp("edge"))


def requests_for(workspace: Workspace, only: frozenset[str] | None = None) -> list[ComputeRequest]:
    """The totals, then every dimension (or those `only` names) with the KPIs whose
    datasets all have it."""
    requests = [ComputeRequest()]
    dimensions = sorted(
        {name for dataset in workspace.model.datasets.values() for name in dataset.dimensions}
        & (
            only
            or {
                name for dataset in workspace.model.datasets.values() for name in dataset.dimensions
            }
        )
    )
    for dimension in dimensions:
        kpis = tuple(
            kpi.key
            for kpi in workspace.kpis.values()
            if all(
                dimension in workspace.model.datasets[name].dimensions
                for name in workspace.kpi_datasets(kpi)
            )
        )
        if kpis:
            requests.append(ComputeRequest(kpis=kpis, by=dimension))
    return requests


def compute_all(
    workspace: Workspace, warehouse: str | None, only: frozenset[str] | None = None
) -> dict[Key, ResultRow]:
    rows: dict[Key, ResultRow] = {}
    with Engine(workspace, warehouse=warehouse) as engine:
        for request in requests_for(workspace, only):
            for row in engine.compute(request).rows:
                key = (row.kpi, row.period.label, request.by, row.group)
                assert key not in rows, key
                rows[key] = row
    return rows


def same(left: Any, right: Any) -> bool:
    if left is None or right is None or isinstance(left, str) or isinstance(right, str):
        return left == right
    return math.isclose(left, right, rel_tol=1e-9)


def assert_same_rows(expected: dict[Key, ResultRow], got: dict[Key, ResultRow], where: str) -> None:
    assert expected, f"{where}: DuckDB computed no rows"
    assert list(got) == list(expected), f"{where}: not the same rows, in the same order"
    for key, want in expected.items():
        row = got[key]
        for field in ("value", "target", "attainment", "status"):
            assert same(getattr(row, field), getattr(want, field)), (
                f"{where} {key} {field}: {getattr(row, field)!r} where DuckDB has "
                f"{getattr(want, field)!r}"
            )


def every_workspace(bench: Path, edge: Path) -> list[tuple[str, Path]]:
    golden = [(name, GOLDEN / name / "headway.yaml") for name in GOLDEN_WORKSPACES]
    return [*golden, ("bench-20k", bench), ("edge-cases", edge)]


def test_there_are_golden_workspaces_to_compare():
    assert {"berlin_support", "fiscal_april", "taipei_sales", "unassigned_rows"} <= set(
        GOLDEN_WORKSPACES
    )


@pytest.mark.parametrize("name", [*GOLDEN_WORKSPACES, "bench-20k", "edge-cases"])
def test_postgres_gives_every_row_duckdb_gives(
    name: str, postgres_warehouse: str, bench_workspace: Path, edge_workspace: Path
):
    path = dict(every_workspace(bench_workspace, edge_workspace))[name]
    workspace = load_workspace(path)
    expected = compute_all(workspace, None)
    assert_same_rows(expected, compute_all(workspace, postgres_warehouse), f"PostgreSQL {name}")


def test_the_edge_cases_hold_what_they_claim(edge_workspace: Path):
    # The parity below means something only if the edge cases are edges: a sum beyond
    # 2^63, an unsigned sum beyond 2^64, an empty text group beside the missing one.
    rows = compute_all(load_workspace(edge_workspace), None)
    assert rows[("big", "2026-06", None, None)].value == 2**63
    # Fiscal 2026-Q1 (April to June): 1 April in Taipei (4) and the three June rows.
    assert rows[("huge", "2026-Q1", None, None)].value == 4 + 2**64 - 1 + 2**63 + 6
    assert ("weekly", "2026-W53", None, None) in rows
    assert rows[("weekly", "2026-W53", None, None)].value == 2
    groups = {group for (_, _, by, group) in rows if by == "team"}
    assert groups == {"", "north", "south", None}


# On Spark each query costs about a second even on tiny data: the benchmark's workspace is
# broken down by its widest dimension and by market_size's only; PostgreSQL takes all six.
SPARK_BENCH_DIMENSIONS = frozenset({"team", "region"})


@pytest.mark.slow
def test_spark_local_gives_every_row_duckdb_gives(bench_workspace: Path, edge_workspace: Path):
    from headway.engine.backends.spark import stop_sessions

    try:
        for name, path in every_workspace(bench_workspace, edge_workspace):
            workspace = load_workspace(path)
            only = SPARK_BENCH_DIMENSIONS if name == "bench-20k" else None
            expected = compute_all(workspace, None, only)
            rows = compute_all(workspace, SPARK_URL, only)
            assert_same_rows(expected, rows, f"Spark {name}")
    finally:
        # The worker goes on with other tests: Spark's JVM need not stay.
        stop_sessions()
