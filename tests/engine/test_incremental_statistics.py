"""What an incremental recompute avoids reading: the periods between a period and those its
prev() reaches, the periods whose measure values are known already, the footers of parts
seen before, and the older parts a new part's keys cannot collide with. Every shortcut
must give the numbers a full compute gives."""

from __future__ import annotations

import datetime
import os
import random
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from headway.engine.checked import CheckedFiles
from headway.engine.compute import ComputeRequest, ComputeResult, Engine
from headway.engine.data import DatasetRequest, Warehouse
from headway.engine.filters import ColumnNeed
from headway.engine.incremental import Change, Known, merge, recompute
from headway.engine.parts import (
    PartFacts,
    _FactsPartsSource,
    span_from_statistics,
    typed_bound,
)
from headway.engine.problems import HeadwayError
from headway.engine.workspace import load_workspace
from headway.lib.periods import Grain, Period
from tests.engine.test_incremental import (
    DAYS,
    ORDER_COLUMNS,
    START,
    TEAMS,
    VISIT_COLUMNS,
    WORKSPACE,
    _assert_same,
    _orders,
    _write,
)


def _compute(path: Path, cache: Path, by: str | None) -> ComputeResult:
    with Engine(load_workspace(path), CheckedFiles(cache)) as engine:
        return engine.compute(ComputeRequest(by=by))


@settings(
    max_examples=int(os.environ.get("HEADWAY_HYPOTHESIS_EXAMPLES", "15")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    seed=st.integers(0, 2**32 - 1),
    days=st.sampled_from([(DAYS - 30, DAYS - 30), (200, 210), (0, 5), (DAYS + 100, DAYS + 100)]),
    batch=st.integers(1, 30),
    new_team=st.booleans(),
    by=st.sampled_from([None, "team"]),
    tell_groups=st.booleans(),
)
def test_results_that_reuse_known_measure_values_equal_a_full_compute(
    tmp_path_factory: pytest.TempPathFactory,
    seed: int,
    days: tuple[int, int],
    batch: int,
    new_team: bool,
    by: str | None,
    tell_groups: bool,
) -> None:
    rng = random.Random(seed)
    folder = tmp_path_factory.mktemp("reuse")
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
    added = _orders(rng, 10_000, batch, days, ("east",) if new_team else TEAMS)
    _write(folder / "orders" / "part-001.parquet", added, ORDER_COLUMNS)
    times: list[Any] = [row[1] for row in added]
    change = Change(
        dataset="orders",
        first=min(times),
        last=max(times),
        groups={"team": frozenset(str(row[2]) for row in added)} if tell_groups else None,
    )
    with Engine(load_workspace(folder / "headway.yaml"), CheckedFiles(cache)) as engine:
        recomputed = recompute(engine, [change], Known.of(earlier), by=by)
    full = _compute(folder / "headway.yaml", cache, by)
    _assert_same(merge(earlier.rows, recomputed), full.rows)


YEARLY = """\
version: 1
organization: {name: Test, timezone: UTC}
datasets:
  orders: {file: orders, key: order_id, time: placed_at, dimensions: [team]}
measures:
  amount: {dataset: orders, agg: sum, column: amount}
kpis:
  - {key: yoy, name: Year on year, formula: "amount - prev(amount, 12)", unit: currency,
     grain: month}
"""


def _yearly(folder: Path) -> Path:
    """Two years of one order a month (amount = its month's number), as monthly parts."""
    (folder / "orders").mkdir()
    (folder / "headway.yaml").write_text(YEARLY, encoding="utf-8")
    for number in range(24):
        placed = datetime.datetime(2024 + number // 12, number % 12 + 1, 15)
        _write(
            folder / "orders" / f"part-{number:03d}.parquet",
            [(number + 1, placed, "north", float(number + 1), 1)],
            ORDER_COLUMNS,
        )
    return folder / "headway.yaml"


def _ranges(result: ComputeResult) -> list[tuple[datetime.date, datetime.date]]:
    return [item for scan, _ in result.scans for item in scan.ranges or ()]


def test_a_dependant_reads_the_period_prev_reaches_and_not_the_year_between(
    tmp_path: Path,
) -> None:
    path = _yearly(tmp_path)
    cache = tmp_path / "cache"
    earlier = _compute(path, cache, None)
    # A second order in December 2025: December is touched, and it reads December 2024.
    row = [(100, datetime.datetime(2025, 12, 20), "north", 1000.0, 1)]
    _write(tmp_path / "orders" / "part-100.parquet", row, ORDER_COLUMNS)
    change = Change("orders", row[0][1], row[0][1])  # type: ignore[arg-type]
    without_inputs = Known(periods=Known.of(earlier).periods)
    with Engine(load_workspace(path), CheckedFiles(cache)) as engine:
        done = recompute(engine, [change], without_inputs)
    results = {id(result): result for _, result in done.rows}
    assert [_ranges(result) for result in results.values()] == [
        [
            (datetime.date(2024, 12, 1), datetime.date(2025, 1, 1)),
            (datetime.date(2025, 12, 1), datetime.date(2026, 1, 1)),
        ]
    ]
    values = {item.period.label: item.value for item, _ in done.rows}
    # December 2025: 24 + 1000, less December 2024's 12.
    assert values == {"2025-12": 24 + 1000 - 12}


def test_known_measure_values_stand_in_for_the_periods_they_cover(tmp_path: Path) -> None:
    path = _yearly(tmp_path)
    cache = tmp_path / "cache"
    earlier = _compute(path, cache, None)
    row = [(100, datetime.datetime(2025, 12, 20), "north", 1000.0, 1)]
    _write(tmp_path / "orders" / "part-100.parquet", row, ORDER_COLUMNS)
    change = Change("orders", row[0][1], row[0][1])  # type: ignore[arg-type]
    with Engine(load_workspace(path), CheckedFiles(cache)) as engine:
        done = recompute(engine, [change], Known.of(earlier))
    # Only December 2025 is read: December 2024's value is known.
    (result,) = {id(result): result for _, result in done.rows}.values()
    assert _ranges(result) == [(datetime.date(2025, 12, 1), datetime.date(2026, 1, 1))]
    assert [(item.period.label, item.value) for item, _ in done.rows] == [("2025-12", 1012.0)]
    # A value given is the value used (a wrong one shows it is not read again).
    december = Period(Grain.MONTH, datetime.date(2024, 12, 1))
    inputs = {("amount", Grain.MONTH, december.start, None): 500.0}
    with Engine(load_workspace(path), CheckedFiles(cache)) as engine:
        computed = engine.compute(
            ComputeRequest(
                kpis=("yoy",), start=december.shift(12), end=december.shift(12), inputs=inputs
            )
        )
    assert [item.value for item in computed.rows] == [24 + 1000 - 500.0]


# Parts: what their statistics spare ----------------------------------------------------


class _Recorder:
    """A DuckDB connection that remembers the SQL it was given."""

    def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
        self.connection = connection
        self.sql: list[str] = []

    def execute(self, sql: str) -> Any:
        self.sql.append(sql)
        return self.connection.execute(sql)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.connection, name)


def _load(folder: Path, cache: Path) -> list[str]:
    """Loads the orders parts as a compute does; returns the SQL it ran."""
    warehouse = Warehouse("UTC", CheckedFiles(cache))
    recorder = _Recorder(warehouse.connection)
    warehouse.connection = recorder  # type: ignore[assignment]
    request = DatasetRequest(
        name="orders",
        file=folder,
        shown_file="orders",
        key="order_id",
        needs={"placed_at": frozenset({ColumnNeed.TIME}), "amount": frozenset({ColumnNeed.NUMBER})},
    )
    try:
        warehouse.load_all([request])
    finally:
        recorder.connection.close()
    return recorder.sql


def _part(folder: Path, name: str, keys: range) -> None:
    rows = [
        (key, datetime.datetime(2026, 1, 1) + datetime.timedelta(hours=key), "north", 1.0, 1)
        for key in keys
    ]
    _write(folder / name, rows, ORDER_COLUMNS)


def _parts_read(sql: list[str], folder: Path) -> set[str]:
    """The parts named in the statements that read rows or footers."""
    return {
        entry.name
        for statement in sql
        for entry in folder.iterdir()
        if (str(entry) in statement and "read_parquet" in statement)
        or ("parquet_" in statement and str(entry) in statement)
    }


def test_an_unchanged_part_is_not_opened_to_learn_its_schema_again(tmp_path: Path) -> None:
    folder = tmp_path / "orders"
    folder.mkdir()
    _part(folder, "p1.parquet", range(1, 11))
    _part(folder, "p2.parquet", range(11, 21))
    cache = tmp_path / "cache"
    first = _load(folder, cache)
    assert any("parquet_schema" in statement for statement in first)
    again = _load(folder, cache)
    assert not any("parquet_schema" in s or "parquet_metadata" in s for s in again)
    # A part rewritten is a new version: its footer is read again, and only its.
    _part(folder, "p2.parquet", range(11, 22))
    changed = _load(folder, cache)
    footers = [s for s in changed if "parquet_schema" in s]
    assert len(footers) == 1
    assert "p2.parquet" in footers[0]
    assert "p1.parquet" not in footers[0]


def _key_reads(sql: list[str]) -> list[str]:
    return [statement for statement in sql if " IN (SELECT " in statement]


def test_a_new_part_is_compared_only_with_the_parts_its_keys_could_be_in(tmp_path: Path) -> None:
    folder = tmp_path / "orders"
    folder.mkdir()
    cache = tmp_path / "cache"
    _part(folder, "p1.parquet", range(1, 11))
    _part(folder, "p2.parquet", range(100, 111, 2))
    _load(folder, cache)
    # Keys above every older part's: no older part is read at all.
    _part(folder, "p3.parquet", range(200, 202))
    assert _key_reads(_load(folder, cache)) == []
    # Keys within p2's range (between its even keys): p2 alone is read, and passes.
    _part(folder, "p4.parquet", range(105, 108, 2))
    (statement,) = _key_reads(_load(folder, cache))
    assert "p2.parquet" in statement
    assert "p1.parquet" not in statement
    assert "p3.parquet" not in statement.split(" IN ")[0]


def test_a_key_within_an_older_parts_range_that_repeats_names_both_places(tmp_path: Path) -> None:
    folder = tmp_path / "orders"
    folder.mkdir()
    cache = tmp_path / "cache"
    _part(folder, "p1.parquet", range(1, 11))
    _part(folder, "p2.parquet", range(100, 111, 2))
    _load(folder, cache)
    _part(folder, "p3.parquet", range(103, 105))  # 104 is p2's third row
    with pytest.raises(HeadwayError) as raised:
        _load(folder, cache)
    message = str(raised.value)
    assert (
        "duplicate key order_id = 104 in orders/p2.parquet row 3 and orders/p3.parquet row 2"
        in message
    )


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ("42", "BIGINT", 42),
        ("-7", "INTEGER", -7),
        ("2.5", "DOUBLE", 2.5),
        ("2026-01-31 23:59:59", "TIMESTAMP", datetime.datetime(2026, 1, 31, 23, 59, 59)),
        ("2026-01-31", "DATE", datetime.date(2026, 1, 31)),
        ("t01", "VARCHAR", "t01"),
        # Types whose order the text does not give are left to the reader.
        ("12.50", "DECIMAL(10,2)", None),
        ("2026-01-31 23:59:59+00", "TIMESTAMP WITH TIME ZONE", None),
        ("not a number", "BIGINT", None),
        (None, "BIGINT", None),
    ],
)
def test_statistics_are_typed_only_where_their_order_is_known(
    text: str | None, kind: str, expected: object
) -> None:
    assert typed_bound(text, kind) == expected


def _span_source(groups: list[tuple[str, str]]) -> _FactsPartsSource:
    part = Path("p.parquet")
    facts = PartFacts(schema=(), rows=len(groups), stats={"t": tuple(groups)})
    return _FactsPartsSource(
        duckdb.connect(), "r", {"t": "TIMESTAMP"}, [part], {part: facts}, {part: None}
    )


def test_statistics_give_the_span_only_when_no_row_group_reaches_over_its_bounds() -> None:
    first, last = datetime.datetime(2026, 2, 1), datetime.datetime(2026, 2, 28, 23, 59)
    inside = _span_source(
        [
            ("2026-01-01 00:00:00", "2026-01-31 10:00:00"),
            ("2026-02-03 08:00:00", "2026-02-10 09:00:00"),
        ]
    )
    assert span_from_statistics(inside, "t", first, last) == (
        datetime.datetime(2026, 2, 3, 8),
        datetime.datetime(2026, 2, 10, 9),
    )
    outside = _span_source([("2026-03-01 00:00:00", "2026-03-31 10:00:00")])
    assert span_from_statistics(outside, "t", first, last) == (None, None)
    over = _span_source([("2026-01-20 00:00:00", "2026-02-02 00:00:00")])
    assert span_from_statistics(over, "t", first, last) is None
    assert span_from_statistics(inside, "other", first, last) is None
