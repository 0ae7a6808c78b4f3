"""Incremental recompute: the periods a change touches, their prev() dependants, and that
the recomputed rows merged into the earlier result equal a full compute of the new data."""

from __future__ import annotations

import datetime
import math
import os
import random
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from headway.engine.checked import CheckedFiles
from headway.engine.compute import ComputeRequest, Engine, ResultRow
from headway.engine.incremental import (
    Change,
    Known,
    merge,
    periods_to_recompute,
    recompute,
    touched_periods,
)
from headway.engine.problems import HeadwayError
from headway.engine.workspace import load_workspace
from headway.lib.periods import Grain, Period

WORKSPACE = """\
version: 1
organization: {name: Test, timezone: UTC}
datasets:
  orders: {file: orders, key: order_id, time: placed_at, dimensions: [team]}
  visits: {file: visits.parquet, key: visit_id, time: seen_at, dimensions: [team]}
measures:
  orders: {dataset: orders, agg: count}
  amount: {dataset: orders, agg: sum, column: amount}
  basket: {dataset: orders, agg: avg, column: amount}
  buyers: {dataset: orders, agg: count_distinct, column: customer}
  visits: {dataset: visits, agg: count}
kpis:
  - {key: orders, name: Orders, formula: orders, unit: count, grain: month}
  - {key: growth, name: Growth, formula: "orders / prev(orders) - 1", unit: percent,
     grain: month}
  - {key: amount_q3, name: Against 3 back, formula: "amount - prev(amount, 3)",
     unit: currency, grain: month}
  - {key: yoy, name: Year on year, formula: "amount / prev(prev(amount, 11))", unit: percent,
     grain: month}
  - {key: basket, name: Basket, formula: basket, unit: currency, grain: week}
  - {key: buyers, name: Buyers, formula: buyers / visits, unit: percent, grain: quarter}
"""

START = datetime.datetime(2025, 1, 1)
DAYS = 600
TEAMS = ("north", "south")


def month(year: int, number: int) -> Period:
    return Period(Grain.MONTH, datetime.date(year, number, 1))


# Period arithmetic, worked by hand ------------------------------------------------------


def test_the_touched_periods_are_those_holding_a_day_of_the_span() -> None:
    found = touched_periods(Grain.MONTH, datetime.date(2026, 1, 31), datetime.date(2026, 3, 1))
    assert [period.label for period in found] == ["2026-01", "2026-02", "2026-03"]
    weeks = touched_periods(Grain.WEEK, datetime.date(2026, 1, 4), datetime.date(2026, 1, 5))
    # Sunday 4 January is in week 1, Monday 5 January starts week 2.
    assert [period.label for period in weeks] == ["2026-W01", "2026-W02"]
    quarters = touched_periods(Grain.QUARTER, datetime.date(2026, 5, 1), datetime.date(2026, 5, 2))
    assert [period.label for period in quarters] == ["2026-Q2"]


def test_prev_dependants_are_the_periods_n_later_within_the_range() -> None:
    # A change in March of a KPI reading x, prev(x) and prev(x, 3), data Jan..Dec:
    # March itself, April (its prev) and June (its prev(x, 3)).
    plan = periods_to_recompute([month(2026, 3)], [0, 1, 3], month(2026, 1), month(2026, 12))
    assert [period.label for period in plan.touched] == ["2026-03"]
    assert [period.label for period in plan.dependants] == ["2026-04", "2026-06"]
    assert plan.new == ()


def test_nested_prevs_compound_and_dependants_past_the_data_are_left_out() -> None:
    # prev(prev(x, 11)) reads 12 back; data ends in 2026-12, so a change in 2026-03
    # has no dependant in range while one in 2025-11 has 2026-11.
    late = periods_to_recompute([month(2026, 3)], [0, 12], month(2025, 1), month(2026, 12))
    assert late.dependants == ()
    early = periods_to_recompute([month(2025, 11)], [0, 12], month(2025, 1), month(2026, 12))
    assert [period.label for period in early.dependants] == ["2026-11"]


def test_a_span_over_several_periods_depends_on_each_of_them() -> None:
    plan = periods_to_recompute(
        [month(2026, 2), month(2026, 3)], [1, 2], month(2026, 1), month(2026, 12)
    )
    # Feb+1, Feb+2 = Mar (touched), Apr; Mar+1, Mar+2 = Apr, May.
    assert [period.label for period in plan.dependants] == ["2026-04", "2026-05"]
    assert [period.label for period in plan.periods] == ["2026-02", "2026-03", "2026-04", "2026-05"]


def test_periods_new_to_the_range_are_recomputed_even_when_empty() -> None:
    # Results covered 2026-03..2026-06; rows arrive in 2026-09: July and August are now
    # inside the data's range (empty periods), September is touched, and all three are
    # new (every group needs a row for them).
    plan = periods_to_recompute(
        [month(2026, 9)], [0], month(2026, 3), month(2026, 9), (month(2026, 3), month(2026, 6))
    )
    assert [period.label for period in plan.touched] == ["2026-09"]
    assert [period.label for period in plan.new] == ["2026-07", "2026-08", "2026-09"]


def test_touched_periods_outside_the_data_range_are_dropped() -> None:
    # A span read with a margin reaches into a period that holds no data.
    plan = periods_to_recompute(
        [month(2026, 12), month(2027, 1)], [0, 1], month(2026, 1), month(2026, 12)
    )
    assert [period.label for period in plan.periods] == ["2026-12"]


# Merged incremental results equal a full compute ----------------------------------------


def _write(path: Path, rows: list[tuple[object, ...]], columns: str) -> None:
    connection = duckdb.connect()
    try:
        connection.execute(f"CREATE TABLE t ({columns})")
        if rows:
            marks = ", ".join("?" for _ in rows[0])
            connection.executemany(f"INSERT INTO t VALUES ({marks})", rows)
        connection.execute(f"COPY t TO '{path}' (FORMAT parquet)")
    finally:
        connection.close()


ORDER_COLUMNS = "order_id BIGINT, placed_at TIMESTAMP, team VARCHAR, amount DOUBLE, customer BIGINT"
VISIT_COLUMNS = "visit_id BIGINT, seen_at TIMESTAMP, team VARCHAR"


def _orders(
    rng: random.Random, first_id: int, count: int, days: tuple[int, int], teams: tuple[str, ...]
) -> list[tuple[object, ...]]:
    return [
        (
            first_id + index,
            START + datetime.timedelta(days=rng.randint(*days), minutes=rng.randint(0, 1439)),
            rng.choice(teams),
            round(rng.uniform(1, 500), 2),
            rng.randint(1, 40),
        )
        for index in range(count)
    ]


def _close(a: float | int | None, b: float | int | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def _assert_same(merged: list[ResultRow], full: list[ResultRow]) -> None:
    def keyed(rows: list[ResultRow]) -> dict[tuple[str, str, str | None], ResultRow]:
        return {(row.kpi, row.period.label, row.group): row for row in rows}

    left, right = keyed(merged), keyed(full)
    assert len(left) == len(merged)
    assert len(right) == len(full)
    assert sorted(left, key=str) == sorted(right, key=str)
    for key, row in right.items():
        other = left[key]
        assert _close(other.value, row.value), (key, other.value, row.value)
        assert _close(other.target, row.target), key
        assert other.status == row.status, key


def _compute(workspace_path: Path, cache: Path, by: str | None) -> list[ResultRow]:
    with Engine(load_workspace(workspace_path), CheckedFiles(cache)) as engine:
        return engine.compute(ComputeRequest(by=by)).rows


BATCHES = st.sampled_from(["last day", "middle", "before the start", "after a gap", "anywhere"])


@settings(
    max_examples=int(os.environ.get("HEADWAY_HYPOTHESIS_EXAMPLES", "20")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    seed=st.integers(0, 2**32 - 1),
    where=BATCHES,
    batch=st.integers(1, 30),
    new_team=st.booleans(),
    by=st.sampled_from([None, "team"]),
    tell_groups=st.booleans(),
)
def test_merged_incremental_results_equal_a_full_compute(
    tmp_path_factory: pytest.TempPathFactory,
    seed: int,
    where: str,
    batch: int,
    new_team: bool,
    by: str | None,
    tell_groups: bool,
) -> None:
    rng = random.Random(seed)
    folder = tmp_path_factory.mktemp("incremental")
    cache = folder / "cache"
    (folder / "orders").mkdir()
    (folder / "headway.yaml").write_text(WORKSPACE, encoding="utf-8")
    base = _orders(rng, 1, rng.randint(50, 300), (30, DAYS - 30), TEAMS)
    _write(folder / "orders" / "part-000.parquet", base, ORDER_COLUMNS)
    visits = [
        (index, START + datetime.timedelta(days=rng.randint(0, DAYS)), rng.choice(TEAMS))
        for index in range(1, rng.randint(20, 80))
    ]
    _write(folder / "visits.parquet", visits, VISIT_COLUMNS)
    earlier = _compute(folder / "headway.yaml", cache, by)

    days = {
        "last day": (DAYS - 30, DAYS - 30),
        "middle": (200, 210),
        "before the start": (0, 5),
        "after a gap": (DAYS + 100, DAYS + 100),
        "anywhere": (0, DAYS + 60),
    }[where]
    teams = ("east",) if new_team else TEAMS
    added = _orders(rng, 10_000, batch, days, teams)
    _write(folder / "orders" / "part-001.parquet", added, ORDER_COLUMNS)
    times = [row[1] for row in added]
    assert all(isinstance(time, datetime.datetime) for time in times)
    change = Change(
        dataset="orders",
        first=min(times),  # type: ignore[type-var]
        last=max(times),  # type: ignore[type-var]
        groups={"team": frozenset(str(row[2]) for row in added)} if tell_groups else None,
    )
    with Engine(load_workspace(folder / "headway.yaml"), CheckedFiles(cache)) as engine:
        recomputed = recompute(engine, [change], _known(earlier), by=by)
    full = _compute(folder / "headway.yaml", cache, by)
    _assert_same(merge(earlier, recomputed), full)
    # Only what the change touched was recomputed, never every row (the visits-only rows
    # of other KPIs and untouched periods are left as they were).
    if where in ("middle", "last day") and not new_team:
        assert len(recomputed.rows) < len(full)


def _known(rows: list[ResultRow]) -> Known:
    periods: dict[str, list[Period]] = {}
    groups: dict[str, set[str | None]] = {}
    for row in rows:
        periods.setdefault(row.kpi, []).append(row.period)
        groups.setdefault(row.kpi, set()).add(row.group)
    return Known(
        periods={key: (min(found), max(found)) for key, found in periods.items()},
        groups={key: frozenset(found) for key, found in groups.items()},
    )


def test_known_of_a_result_gives_its_range_and_groups(tmp_path: Path) -> None:
    (tmp_path / "orders").mkdir()
    (tmp_path / "headway.yaml").write_text(WORKSPACE, encoding="utf-8")
    rows = [
        (1, datetime.datetime(2025, 3, 5), "north", 10.0, 1),
        (2, datetime.datetime(2025, 5, 5), "south", 20.0, 2),
    ]
    _write(tmp_path / "orders" / "a.parquet", rows, ORDER_COLUMNS)
    _write(tmp_path / "visits.parquet", [(1, datetime.datetime(2025, 4, 1), "x")], VISIT_COLUMNS)
    with Engine(load_workspace(tmp_path / "headway.yaml")) as engine:
        result = engine.compute(ComputeRequest(kpis=("orders",), by="team"))
    known = Known.of(result)
    assert known.periods["orders"] == (month(2025, 3), month(2025, 5))
    assert known.groups["orders"] == frozenset({"north", "south"})


def test_a_change_to_an_unknown_dataset_is_refused(tmp_path: Path) -> None:
    (tmp_path / "orders").mkdir()
    (tmp_path / "headway.yaml").write_text(WORKSPACE, encoding="utf-8")
    _write(tmp_path / "orders" / "a.parquet", [], ORDER_COLUMNS)
    with (
        Engine(load_workspace(tmp_path / "headway.yaml")) as engine,
        pytest.raises(HeadwayError) as raised,
    ):
        recompute(engine, [Change("refunds", START, START)], Known(periods={}))
    assert "unknown dataset 'refunds'" in str(raised.value)


# Datasets made of Parquet parts ----------------------------------------------------------


def _parts_workspace(folder: Path) -> Path:
    (folder / "orders").mkdir(exist_ok=True)
    (folder / "headway.yaml").write_text(WORKSPACE, encoding="utf-8")
    _write(folder / "visits.parquet", [(1, START, "north")], VISIT_COLUMNS)
    return folder / "headway.yaml"


def test_parts_are_read_as_one_table(tmp_path: Path) -> None:
    path = _parts_workspace(tmp_path)
    _write(tmp_path / "orders" / "p1.parquet", [(1, START, "north", 10.0, 1)], ORDER_COLUMNS)
    _write(tmp_path / "orders" / "p2.parquet", [(2, START, "south", 5.5, 2)], ORDER_COLUMNS)
    with Engine(load_workspace(path)) as engine:
        rows = engine.compute(ComputeRequest(kpis=("orders", "amount_q3"))).rows
    values = {(row.kpi, row.period.label): row.value for row in rows}
    assert values == {("orders", "2025-01"): 2, ("amount_q3", "2025-01"): 15.5}


def test_a_key_repeated_in_two_parts_names_both_parts_and_rows(tmp_path: Path) -> None:
    path = _parts_workspace(tmp_path)
    cache = CheckedFiles(tmp_path / "cache")
    _write(tmp_path / "orders" / "p1.parquet", [(1, START, "north", 1.0, 1)], ORDER_COLUMNS)
    with Engine(load_workspace(path), cache) as engine:
        engine.compute(ComputeRequest(kpis=("orders",)))
    new = [(2, START, "north", 1.0, 1), (1, START, "south", 2.0, 2)]
    _write(tmp_path / "orders" / "p2.parquet", new, ORDER_COLUMNS)
    # The first part is known to be unique; the second is compared with it all the same.
    with Engine(load_workspace(path), cache) as engine, pytest.raises(HeadwayError) as raised:
        engine.compute(ComputeRequest(kpis=("orders",)))
    message = str(raised.value)
    assert "duplicate key order_id = 1" in message
    assert "p1.parquet row 1" in message
    assert "p2.parquet row 2" in message


def test_a_part_with_other_columns_is_refused_by_name(tmp_path: Path) -> None:
    path = _parts_workspace(tmp_path)
    _write(tmp_path / "orders" / "p1.parquet", [(1, START, "north", 1.0, 1)], ORDER_COLUMNS)
    _write(
        tmp_path / "orders" / "p2.parquet",
        [(2, START, "north", "1.0", 1)],
        "order_id BIGINT, placed_at TIMESTAMP, team VARCHAR, amount VARCHAR, customer BIGINT",
    )
    with Engine(load_workspace(path)) as engine, pytest.raises(HeadwayError) as raised:
        engine.compute(ComputeRequest(kpis=("orders",)))
    assert "p2.parquet" in str(raised.value)
    assert "differ from those of p1.parquet" in str(raised.value)


def test_an_empty_folder_of_parts_is_an_error_naming_the_dataset(tmp_path: Path) -> None:
    path = _parts_workspace(tmp_path)
    with Engine(load_workspace(path)) as engine, pytest.raises(HeadwayError) as raised:
        engine.compute(ComputeRequest(kpis=("orders",)))
    assert "dataset orders: the folder" in str(raised.value)
    assert "holds no .parquet file" in str(raised.value)
