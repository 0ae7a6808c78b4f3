"""Golden tests: small workspaces run through `headway compute`, row by row.

Each workspace lives in tests/engine/golden/<name>/ (a headway.yaml and CSV files). The
numbers it should give are worked out here a second time, independently of the engine:
plain Python over the same rows, with csv, datetime and zoneinfo, following
docs/workspace-spec.md. Nothing of headway.engine (or DuckDB) is used for an expectation.

Every test compares every output row (kpi, period, group, value, target, attainment,
status): numbers with math.isclose(rel_tol=1e-9), nulls and text with ==. Many tests also
pin a few hand-worked numbers, so that a mistake shared by the engine and the reference
below would still be caught.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import Run, run_headway, run_headway_process

GOLDEN = Path(__file__).parent / "golden"
TAIPEI = GOLDEN / "taipei_sales"
BERLIN = GOLDEN / "berlin_support"
FISCAL = GOLDEN / "fiscal_april"
UNASSIGNED = GOLDEN / "unassigned_rows"

Value = int | float | None
Row = dict[str, Any]  # a data row: text or None per column, and "_at", its local time
OUTPUT_NUMBERS = ("value", "target", "attainment")


# --- The reference: periods ----------------------------------------------------------

MONTHS_PER_STEP = {"month": 1, "quarter": 3, "year": 12}


def _month_index(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


def _month_start(index: int) -> dt.date:
    return dt.date(index // 12, index % 12 + 1, 1)


def start_of(grain: str, day: dt.date, fiscal: int) -> dt.date:
    """The first day of the period of `grain` holding `day` (ISO weeks start on Monday)."""
    if grain == "week":
        return day - dt.timedelta(days=day.weekday())
    index = _month_index(day)
    return _month_start(index - (index - (fiscal - 1)) % MONTHS_PER_STEP[grain])


def shifted(grain: str, start: dt.date, periods: int) -> dt.date:
    if grain == "week":
        return start + dt.timedelta(weeks=periods)
    return _month_start(_month_index(start) + periods * MONTHS_PER_STEP[grain])


def label_of(grain: str, start: dt.date, fiscal: int) -> str:
    if grain == "week":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    if grain == "month":
        return f"{start.year}-{start.month:02d}"
    fiscal_year = start.year if start.month >= fiscal else start.year - 1
    if grain == "year":
        return str(fiscal_year)
    return f"{fiscal_year}-Q{(start.month - fiscal) % 12 // 3 + 1}"


def parse_label(label: str, fiscal: int) -> tuple[str, dt.date]:
    """The grain and first day of a label of any grain (quarters and years are fiscal)."""
    if "-W" in label:
        year, week = label.split("-W")
        return "week", dt.date.fromisocalendar(int(year), int(week), 1)
    if "-Q" in label:
        year, quarter = label.split("-Q")
        return "quarter", _month_start(int(year) * 12 + fiscal - 1 + 3 * (int(quarter) - 1))
    if len(label) == 4:
        return "year", dt.date(int(label), fiscal, 1)
    year, month = label.split("-")
    return "month", dt.date(int(year), int(month), 1)


def first_day_of(label: str, fiscal: int) -> dt.date:
    return parse_label(label, fiscal)[1]


def last_day_of(label: str, fiscal: int) -> dt.date:
    grain, start = parse_label(label, fiscal)
    return shifted(grain, start, 1) - dt.timedelta(days=1)


def period_starts(grain: str, first_day: dt.date, last_day: dt.date, fiscal: int) -> list[dt.date]:
    """Starts of the periods of `grain` whose first day lies in [first_day, last_day]."""
    start = start_of(grain, first_day, fiscal)
    if start < first_day:
        start = shifted(grain, start, 1)
    starts = []
    while start <= last_day:
        starts.append(start)
        start = shifted(grain, start, 1)
    return starts


# --- The reference: data, measures, KPIs ---------------------------------------------


def local_time(text: str, zone: ZoneInfo) -> dt.datetime:
    """Wall time in `zone`: a timestamp with an offset is converted, the rest is local."""
    moment = dt.datetime.fromisoformat(text.strip())
    if moment.tzinfo is not None:
        return moment.astimezone(zone).replace(tzinfo=None)
    return moment


def read_rows(path: Path, time_column: str, zone: str) -> list[Row]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows: list[Row] = [
            {name: (text if text != "" else None) for name, text in record.items()}
            for record in csv.DictReader(handle)
        ]
    for row in rows:
        row["_at"] = local_time(row[time_column], ZoneInfo(zone))
    return rows


def truth(text: str | None) -> bool | None:
    return None if text is None else text.strip().lower() == "true"


def number(text: str | None) -> float | None:
    return None if text is None else float(text)


def every_row(row: Row) -> bool:
    return True


@dataclass(frozen=True)
class Measure:
    rows: list[Row] = field(repr=False)
    agg: str
    column: str | None = None
    keep: Callable[[Row], bool] = every_row


@dataclass(frozen=True)
class Target:
    start: str
    value: float
    where: tuple[str, str] | None = None


Lookup = Callable[..., Value]  # lookup(measure_name, periods_back=0)


@dataclass(frozen=True)
class Kpi:
    key: str
    grain: str
    uses: tuple[str, ...]
    formula: Callable[[Lookup], Value]
    direction: str = "up"
    green: float = 1.0
    amber: float = 0.9
    targets: tuple[Target, ...] = ()


def minus(left: Value, right: Value) -> Value:
    return None if left is None or right is None else left - right


def over(left: Value, right: Value) -> Value:
    return None if left is None or right is None or right == 0 else left / right


def aggregate(rows: Iterable[Row], measure: Measure) -> Value:
    chosen = [row for row in rows if measure.keep(row)]
    if measure.agg == "count":
        return len(chosen)
    assert measure.column is not None
    present = [row[measure.column] for row in chosen if row[measure.column] is not None]
    if measure.agg == "count_distinct":
        return len(set(present))
    numbers = [float(text) for text in present]
    if measure.agg == "sum":
        return math.fsum(numbers)
    if not numbers:
        return None
    if measure.agg == "avg":
        return math.fsum(numbers) / len(numbers)
    return min(numbers) if measure.agg == "min" else max(numbers)


def attainment(value: Value, target: float | None, direction: str) -> float | None:
    if value is None or target is None:
        return None
    numerator, divisor = (value, target) if direction == "up" else (target, value)
    return numerator / divisor if divisor > 0 else None


def status(share: float | None, kpi: Kpi) -> str:
    if share is None:
        return "none"
    if share >= kpi.green:
        return "green"
    return "amber" if share >= kpi.amber else "red"


@dataclass
class Reference:
    """A workspace worked out again in plain Python: its measures and KPIs, in file order."""

    fiscal: int
    measures: dict[str, Measure]
    kpis: list[Kpi]

    def kpi(self, key: str) -> Kpi:
        return next(kpi for kpi in self.kpis if kpi.key == key)

    def value(
        self,
        name: str,
        grain: str,
        start: dt.date,
        by: str | None = None,
        group: str | None = None,
    ) -> Value:
        measure = self.measures[name]
        end = shifted(grain, start, 1)
        rows = (
            row
            for row in measure.rows
            if start <= row["_at"].date() < end and (by is None or row[by] == group)
        )
        return aggregate(rows, measure)

    def target(self, kpi: Kpi, start: dt.date, by: str | None, group: str | None) -> float | None:
        chosen: tuple[dt.date, float] | None = None
        for entry in kpi.targets:
            if by is None and entry.where is not None:
                continue
            if by is not None and entry.where != (by, group):
                continue
            first_day = first_day_of(entry.start, self.fiscal)
            if first_day <= start and (chosen is None or first_day >= chosen[0]):
                chosen = (first_day, entry.value)
        return None if chosen is None else chosen[1]

    def rows(
        self,
        kpis: Sequence[str] = (),
        start: str | None = None,
        end: str | None = None,
        by: str | None = None,
    ) -> list[dict[str, Any]]:
        """What `headway compute` should print, in the order of `kpis` (default: all)."""
        expected: list[dict[str, Any]] = []
        for key in kpis or [kpi.key for kpi in self.kpis]:
            kpi = self.kpi(key)
            data = {id(rows): rows for rows in (self.measures[name].rows for name in kpi.uses)}
            times = [row["_at"].date() for rows in data.values() for row in rows]
            first = (
                first_day_of(start, self.fiscal)
                if start
                else start_of(kpi.grain, min(times), self.fiscal)
            )
            last = (
                last_day_of(end, self.fiscal)
                if end
                else shifted(kpi.grain, start_of(kpi.grain, max(times), self.fiscal), 1)
                - dt.timedelta(days=1)
            )
            starts = period_starts(kpi.grain, first, last, self.fiscal)
            groups: list[str | None] = [None]
            if by is not None:
                range_end = shifted(kpi.grain, starts[-1], 1)
                groups = sorted(
                    {
                        row[by]
                        for rows in data.values()
                        for row in rows
                        if starts[0] <= row["_at"].date() < range_end
                    },
                    key=lambda group: (group is None, group or ""),
                )
            for period in starts:
                for group in groups:

                    def lookup(
                        name: str,
                        back: int = 0,
                        period: dt.date = period,
                        group: str | None = group,
                        grain: str = kpi.grain,
                    ) -> Value:
                        return self.value(name, grain, shifted(grain, period, -back), by, group)

                    value = kpi.formula(lookup)
                    target = self.target(kpi, period, by, group)
                    share = attainment(value, target, kpi.direction)
                    row: dict[str, Any] = {
                        "kpi": key,
                        "period": label_of(kpi.grain, period, self.fiscal),
                    }
                    if by is not None:
                        row[by] = group
                    row |= {
                        "value": value,
                        "target": target,
                        "attainment": share,
                        "status": status(share, kpi),
                    }
                    expected.append(row)
        return expected


# --- The four workspaces, as the reference reads them ----------------------------------


def won(row: Row) -> bool:
    return row["stage"] == "won"


def taipei() -> Reference:
    zone = "Asia/Taipei"
    leads = read_rows(TAIPEI / "data" / "leads.csv", "created_at", zone)
    deals = read_rows(TAIPEI / "data" / "deals.csv", "closed_at", zone)
    measures = {
        "leads": Measure(leads, "count"),
        "web_leads": Measure(leads, "count", keep=lambda row: row["source"] in ("web", "ads")),
        "offline_leads": Measure(
            leads,
            "count",
            keep=lambda row: row["source"] is not None and row["source"] not in ("web", "ads"),
        ),
        "good_leads": Measure(
            leads, "count", keep=lambda row: row["score"] is not None and float(row["score"]) >= 3
        ),
        "unscored_leads": Measure(leads, "count", keep=lambda row: row["score"] is None),
        "won_deals": Measure(deals, "count", keep=won),
        "lost_deals": Measure(
            deals, "count", keep=lambda row: row["stage"] is not None and row["stage"] != "won"
        ),
        "revenue": Measure(deals, "sum", "amount", won),
        "avg_deal": Measure(deals, "avg", "amount", won),
        "biggest_deal": Measure(deals, "max", "amount", won),
        "smallest_deal": Measure(deals, "min", "amount", won),
        "customers": Measure(deals, "count_distinct", "customer_id", won),
        "new_customers": Measure(
            deals,
            "count_distinct",
            "customer_id",
            lambda row: won(row) and truth(row["is_first_purchase"]) is True,
        ),
        "repeat_sales": Measure(
            deals, "count", keep=lambda row: won(row) and truth(row["is_first_purchase"]) is False
        ),
        "discounted": Measure(
            deals, "count", keep=lambda row: row["discount"] is not None and won(row)
        ),
    }

    def just(name: str) -> Callable[[Lookup], Value]:
        return lambda m: m(name)

    kpis = [
        Kpi(
            "conversion_rate",
            "month",
            ("won_deals", "leads"),
            lambda m: over(m("won_deals"), m("leads")),
            targets=(
                Target("2026-Q2", 0.5),
                Target("2026-01", 0.4),
                Target("2026-W27", 0.6),
                Target("2026-01", 0.45, ("team", "north")),
                Target("2026-03", 0.3, ("team", "south")),
            ),
        ),
        Kpi(
            "web_share",
            "month",
            ("web_leads", "leads"),
            lambda m: over(m("web_leads"), m("leads")),
        ),
        Kpi(
            "lead_quality",
            "month",
            ("good_leads", "leads", "unscored_leads"),
            lambda m: over(m("good_leads"), minus(m("leads"), m("unscored_leads"))),
        ),
        Kpi("offline_leads", "month", ("offline_leads",), just("offline_leads")),
        Kpi("customers", "month", ("customers",), just("customers")),
        Kpi("new_customers", "month", ("new_customers",), just("new_customers")),
        Kpi("repeat_sales", "month", ("repeat_sales",), just("repeat_sales")),
        Kpi("avg_deal", "month", ("avg_deal",), just("avg_deal")),
        Kpi("biggest_deal", "month", ("biggest_deal",), just("biggest_deal")),
        Kpi("smallest_deal", "month", ("smallest_deal",), just("smallest_deal")),
        Kpi(
            "revenue",
            "month",
            ("revenue",),
            just("revenue"),
            green=1.2,
            amber=0.8,
            targets=(
                Target("2026-01", 10000),
                Target("2026-02", 7750),
                Target("2026-05", 0),
                Target("2026-06", 2000),
            ),
        ),
        Kpi(
            "loss_ratio",
            "month",
            ("lost_deals", "won_deals"),
            lambda m: over(m("lost_deals"), m("won_deals")),
        ),
        Kpi(
            "discount_share",
            "month",
            ("discounted", "won_deals"),
            lambda m: over(m("discounted"), m("won_deals")),
        ),
        Kpi("lead_growth", "month", ("leads",), lambda m: minus(m("leads"), m("leads", 1))),
        Kpi("lead_change_2", "month", ("leads",), lambda m: minus(m("leads"), m("leads", 2))),
        Kpi(
            "avg_deal_change",
            "month",
            ("avg_deal",),
            lambda m: minus(m("avg_deal"), m("avg_deal", 1)),
        ),
        Kpi("monthly_leads", "month", ("leads",), just("leads")),
        Kpi("weekly_leads", "week", ("leads",), just("leads"), targets=(Target("2026-01", 2),)),
    ]
    return Reference(fiscal=1, measures=measures, kpis=kpis)


def berlin() -> Reference:
    tickets = read_rows(BERLIN / "data" / "tickets.csv", "opened_at", "Europe/Berlin")
    measures = {
        "tickets": Measure(tickets, "count"),
        "avg_hours": Measure(tickets, "avg", "hours"),
        "escalations": Measure(tickets, "count", keep=lambda row: truth(row["escalated"]) is True),
        "urgent": Measure(tickets, "count", keep=lambda row: number(row["priority"]) in (1, 2)),
        "slow_calm": Measure(
            tickets,
            "count",
            keep=lambda row: (number(row["hours"]) or 0) > 24 and truth(row["escalated"]) is False,
        ),
    }
    kpis = [
        Kpi(
            "weekly_tickets",
            "week",
            ("tickets",),
            lambda m: m("tickets"),
            direction="down",
            amber=0.6,
            targets=(Target("2026-01", 2),),
        ),
        Kpi("monthly_tickets", "month", ("tickets",), lambda m: m("tickets")),
        Kpi(
            "resolution_hours",
            "month",
            ("avg_hours",),
            lambda m: m("avg_hours"),
            direction="down",
            amber=0.75,
            targets=(
                Target("2026-01", 10),
                Target("2026-Q2", 20),
                Target("2026-W44", 15),
                Target("2026-01", 6, ("region", "north")),
            ),
        ),
        Kpi(
            "escalation_rate",
            "month",
            ("escalations", "tickets"),
            lambda m: over(m("escalations"), m("tickets")),
            direction="down",
            targets=(Target("2026-01", 0.25),),
        ),
        Kpi(
            "ticket_growth",
            "month",
            ("tickets",),
            lambda m: minus(m("tickets"), m("tickets", 1)),
            direction="down",
            targets=(Target("2026-01", 1),),
        ),
        Kpi("urgent_tickets", "quarter", ("urgent",), lambda m: m("urgent")),
        Kpi("slow_calm", "month", ("slow_calm",), lambda m: m("slow_calm")),
    ]
    return Reference(fiscal=1, measures=measures, kpis=kpis)


def fiscal_april() -> Reference:
    orders = read_rows(FISCAL / "data" / "orders.csv", "ordered_at", "America/New_York")
    measures = {
        "net_sales": Measure(orders, "sum", "amount", lambda row: truth(row["returned"]) is False),
        "orders": Measure(orders, "count"),
        "returns": Measure(orders, "count", keep=lambda row: truth(row["returned"]) is True),
        "avg_rating": Measure(orders, "avg", "rating"),
        "big_orders": Measure(
            orders,
            "count",
            keep=lambda row: (
                (number(row["amount"]) or 0) >= 100
                and row["channel"] is not None
                and row["channel"] != "store"
            ),
        ),
    }
    kpis = [
        Kpi(
            "quarterly_sales",
            "quarter",
            ("net_sales",),
            lambda m: m("net_sales"),
            targets=(
                Target("2026", 500),
                Target("2026-Q4", 300),
                Target("2026", 400, ("region", "east")),
            ),
        ),
        Kpi(
            "sales_growth",
            "quarter",
            ("net_sales",),
            lambda m: minus(m("net_sales"), m("net_sales", 1)),
        ),
        Kpi(
            "rating_change",
            "quarter",
            ("avg_rating",),
            lambda m: minus(m("avg_rating"), m("avg_rating", 1)),
        ),
        Kpi(
            "return_rate",
            "quarter",
            ("returns", "orders"),
            lambda m: over(m("returns"), m("orders")),
            direction="down",
            targets=(Target("2025", 0.2),),
        ),
        Kpi("big_orders", "quarter", ("big_orders",), lambda m: m("big_orders")),
        Kpi("yearly_sales", "year", ("net_sales",), lambda m: m("net_sales")),
        Kpi(
            "monthly_sales",
            "month",
            ("net_sales",),
            lambda m: m("net_sales"),
            targets=(Target("2026", 150), Target("2026-Q3", 100)),
        ),
    ]
    return Reference(fiscal=4, measures=measures, kpis=kpis)


def unassigned() -> Reference:
    calls = read_rows(UNASSIGNED / "data" / "calls.csv", "called_at", "Asia/Taipei")
    measures = {"calls": Measure(calls, "count"), "minutes": Measure(calls, "sum", "minutes")}
    kpis = [
        Kpi(
            "calls",
            "month",
            ("calls",),
            lambda m: m("calls"),
            targets=(Target("2026-01", 4), Target("2026-01", 1, ("team", "north"))),
        ),
        Kpi("minutes", "month", ("minutes",), lambda m: m("minutes")),
    ]
    return Reference(fiscal=1, measures=measures, kpis=kpis)


# --- Running the engine and comparing ---------------------------------------------------


def compute(
    workspace: Path,
    *options: str,
    output: str = "csv",
    by: str | None = None,
) -> list[dict[str, Any]]:
    """`headway compute` rows, read back from CSV or JSON with nulls as None."""
    arguments = [*options, *(["--by", by] if by else [])]
    run = run_headway("compute", workspace / "headway.yaml", *arguments, "--format", output)
    assert run.exit_code == 0, run.stderr
    return parse_output(run, output, by)


def parse_output(run: Run, output: str, by: str | None) -> list[dict[str, Any]]:
    columns = ["kpi", "period", *([by] if by else []), "value", "target", "attainment", "status"]
    if output == "json":
        rows = run.json_rows()
        for row in rows:
            assert list(row) == columns
        return rows
    assert run.stdout.splitlines()[0] == ",".join(columns)
    parsed = []
    for record in csv.DictReader(io.StringIO(run.stdout)):
        assert list(record) == columns
        row: dict[str, Any] = dict(record)
        for name in OUTPUT_NUMBERS:
            row[name] = float(record[name]) if record[name] != "" else None
        if by:
            row[by] = record[by] if record[by] != "" else None
        parsed.append(row)
    return parsed


def same(actual: Any, expected: Any) -> bool:
    if actual is None or expected is None or isinstance(expected, str):
        return actual == expected
    return math.isclose(actual, expected, rel_tol=1e-9, abs_tol=1e-12)


def keyed(rows: Iterable[dict[str, Any]], by: str | None) -> dict[tuple[Any, ...], dict]:
    return {(row["kpi"], row["period"], row[by] if by else None): row for row in rows}


def assert_rows(actual: list[dict[str, Any]], expected: list[dict[str, Any]], by: str | None):
    """The same rows, KPIs in the expected order and each KPI's periods ascending."""
    actual_keys, expected_keys = keyed(actual, by), keyed(expected, by)
    assert len(actual_keys) == len(actual), "a (kpi, period, group) appears twice"
    missing = [key for key in expected_keys if key not in actual_keys]
    extra = [key for key in actual_keys if key not in expected_keys]
    assert (missing, extra) == ([], []), "rows missing (left) or unexpected (right)"
    order = list(dict.fromkeys((row["kpi"], row["period"]) for row in actual))
    assert order == list(dict.fromkeys((row["kpi"], row["period"]) for row in expected))
    wrong = [
        f"{key}: {name} is {actual_keys[key][name]!r}, expected {row[name]!r}"
        for key, row in expected_keys.items()
        for name in (*OUTPUT_NUMBERS, "status")
        if not same(actual_keys[key][name], row[name])
    ]
    assert not wrong, "\n".join(wrong)


def check(
    workspace: Path,
    reference: Reference,
    kpis: Sequence[str] = (),
    start: str | None = None,
    end: str | None = None,
    by: str | None = None,
    output: str = "csv",
) -> dict[tuple[Any, ...], dict]:
    """Computes with the engine, compares every row with the reference, returns them."""
    options = [option for key in kpis for option in ("--kpi", key)]
    options += [*(["--from", start] if start else []), *(["--to", end] if end else [])]
    actual = compute(workspace, *options, output=output, by=by)
    assert_rows(actual, reference.rows(kpis, start, end, by), by)
    return keyed(actual, by)


def values(rows: dict[tuple[Any, ...], dict], kpi: str, group: str | None = None) -> dict:
    """period -> value of one KPI (and group), for hand-worked checks."""
    return {
        period: row["value"] for (key, period, g), row in rows.items() if (key, g) == (kpi, group)
    }


def close(actual: dict[str, Value], expected: dict[str, Value]) -> bool:
    return actual.keys() == expected.keys() and all(
        same(actual[period], expected[period]) for period in expected
    )


@pytest.fixture(scope="module")
def taipei_reference() -> Reference:
    return taipei()


@pytest.fixture(scope="module")
def berlin_reference() -> Reference:
    return berlin()


# --- Taipei: months and weeks at UTC+8, groups, targets, filters --------------------------


def test_without_from_or_to_every_kpi_runs_from_the_first_to_the_last_period_with_data(
    taipei_reference: Reference,
):
    rows = check(TAIPEI, taipei_reference)
    kpis = list(dict.fromkeys(key for key, _, _ in rows))
    assert kpis == [kpi.key for kpi in taipei_reference.kpis]
    assert [period for key, period, _ in rows if key == "revenue"] == [
        "2026-01",
        "2026-02",
        "2026-03",
        "2026-04",
        "2026-05",
        "2026-06",
        "2026-07",
    ]
    weeks = [period for key, period, _ in rows if key == "weekly_leads"]
    # The first lead is on Friday 2026-01-02 (week 1), the last on 2026-07-15 (week 29).
    assert weeks[0] == "2026-W01"
    assert weeks[-1] == "2026-W29"
    assert len(weeks) == 29


def test_months_in_taipei_start_at_local_midnight_whatever_the_offset_written(
    taipei_reference: Reference,
):
    rows = check(TAIPEI, taipei_reference, ["monthly_leads"], "2026-01", "2026-03")
    # January: L01-L05, including 2026-01-31T23:59+08:00 and the naive 2026-01-31 23:50.
    # February: L06 (2026-01-31T16:30Z is 00:30 on 1 February in Taipei) to L10
    # (2026-02-28T15:59:59Z is 23:59:59 local). March: L11 (2026-02-28T16:00Z is midnight
    # on 1 March) to L14 (the date 2026-03-31).
    assert close(values(rows, "monthly_leads"), {"2026-01": 5.0, "2026-02": 5.0, "2026-03": 4.0})


def test_weeks_of_a_month_range_are_those_starting_on_a_monday_within_it(
    taipei_reference: Reference,
):
    rows = check(TAIPEI, taipei_reference, ["weekly_leads"], "2026-01", "2026-02")
    weekly = values(rows, "weekly_leads")
    # 2026-W01 starts on 2025-12-29, before --from, so the lead of 2 January is left out.
    assert list(weekly) == [f"2026-W{week:02d}" for week in range(2, 10)]
    # Week 5 ends on Sunday 1 February: L04, L05, L06 (16:30Z on 31 January, Sunday 00:30
    # local) and L08 (Sunday 23:30 +08:00). L07 (16:30Z on 1 February) is Monday 00:30.
    assert weekly["2026-W05"] == 4
    assert weekly["2026-W06"] == 1
    assert rows[("weekly_leads", "2026-W06", None)]["status"] == "red"
    assert rows[("weekly_leads", "2026-W05", None)]["status"] == "green"


def test_a_month_is_in_the_range_when_its_first_day_is_even_for_week_labels(
    taipei_reference: Reference,
):
    # 2026-W06 starts on Monday 2 February, so February (from the 1st) is out; 2026-W14
    # ends on Sunday 5 April, so April (from the 1st) is in.
    rows = check(TAIPEI, taipei_reference, ["monthly_leads"], "2026-W06", "2026-W14")
    assert list(values(rows, "monthly_leads")) == ["2026-03", "2026-04"]


def test_a_ratio_over_the_organisation_is_the_ratio_of_its_sums(taipei_reference: Reference):
    totals = check(TAIPEI, taipei_reference, ["conversion_rate"], "2026-01", "2026-02")
    teams = check(TAIPEI, taipei_reference, ["conversion_rate"], "2026-01", "2026-01", by="team")
    # January: 3 won deals over 5 leads. North 1/2, south 2/2, west 0/1: their mean is 0.5.
    assert same(totals[("conversion_rate", "2026-01", None)]["value"], 3 / 5)
    by_team = {group: row["value"] for (_, _, group), row in teams.items()}
    assert close(by_team, {"north": 0.5, "south": 1.0, "west": 0.0})
    assert not same(sum(by_team.values()) / len(by_team), 3 / 5)


def test_a_customer_who_buys_from_two_teams_counts_once_in_the_total(
    taipei_reference: Reference,
):
    totals = check(TAIPEI, taipei_reference, ["customers"], "2026-01", "2026-02")
    teams = check(TAIPEI, taipei_reference, ["customers"], "2026-01", "2026-02", by="team")
    # C1 bought from north and south in January, C4 in February.
    assert close(values(totals, "customers"), {"2026-01": 2.0, "2026-02": 2.0})
    assert close(values(teams, "customers", "north"), {"2026-01": 1.0, "2026-02": 1.0})
    assert close(values(teams, "customers", "south"), {"2026-01": 2.0, "2026-02": 2.0})


def test_an_average_over_teams_is_the_mean_of_all_rows_not_of_team_means(
    taipei_reference: Reference,
):
    totals = check(TAIPEI, taipei_reference, ["avg_deal"], "2026-01", "2026-01")
    check(TAIPEI, taipei_reference, ["avg_deal"], "2026-01", "2026-01", by="team")
    # Won in January: 900 (north), 10000 and 1100 (south). Team means 900 and 5550.
    assert same(totals[("avg_deal", "2026-01", None)]["value"], 12000 / 3)
    assert not same(12000 / 3, (900 + 5550) / 2)


def test_min_and_max_compare_amounts_as_numbers_not_as_text(taipei_reference: Reference):
    rows = check(TAIPEI, taipei_reference, ["biggest_deal", "smallest_deal"])
    # As text "900" > "10000" and "1100" < "900".
    assert rows[("biggest_deal", "2026-01", None)]["value"] == 10000
    assert rows[("smallest_deal", "2026-01", None)]["value"] == 900
    check(TAIPEI, taipei_reference, ["biggest_deal", "smallest_deal"], by="team")


def test_a_month_without_rows_counts_zero_and_has_no_average_minimum_or_maximum(
    taipei_reference: Reference,
):
    kpis = ["monthly_leads", "revenue", "customers", "avg_deal", "biggest_deal", "smallest_deal"]
    rows = check(TAIPEI, taipei_reference, kpis, "2026-04", "2026-04", output="json")
    april = {key: row["value"] for (key, _, _), row in rows.items()}
    assert april == {
        "monthly_leads": 0,
        "revenue": 0,
        "customers": 0,
        "avg_deal": None,
        "biggest_deal": None,
        "smallest_deal": None,
    }


def test_division_by_zero_is_null(taipei_reference: Reference):
    rows = check(TAIPEI, taipei_reference, ["loss_ratio", "discount_share", "conversion_rate"])
    # March: two lost deals and no won one. April: no deals and no leads at all.
    for key in ("loss_ratio", "discount_share"):
        assert rows[(key, "2026-03", None)]["value"] is None
        assert rows[(key, "2026-04", None)]["value"] is None
    assert rows[("conversion_rate", "2026-04", None)]["value"] is None
    assert rows[("conversion_rate", "2026-04", None)]["status"] == "none"
    assert same(rows[("loss_ratio", "2026-07", None)]["value"], 1.0)


def test_prev_reaches_across_an_empty_month_and_back_before_from(taipei_reference: Reference):
    kpis = ["lead_growth", "lead_change_2", "avg_deal_change"]
    rows = check(TAIPEI, taipei_reference, kpis, "2026-02", "2026-06", output="json")
    # Leads per month: 5, 5, 4, 0, 1, 3 (January to June); January is before --from.
    assert close(
        values(rows, "lead_growth"),
        {"2026-02": 0, "2026-03": -1, "2026-04": -4, "2026-05": 1, "2026-06": 2},
    )
    assert close(
        values(rows, "lead_change_2"),
        {"2026-02": 5, "2026-03": -1, "2026-04": -5, "2026-05": -3, "2026-06": 3},
    )
    # Average won deal: January 4000, February 6200/3, then none until May (1500).
    assert close(
        values(rows, "avg_deal_change"),
        {"2026-02": 6200 / 3 - 4000, "2026-03": None, "2026-04": None, "2026-05": None,
         "2026-06": 1300 - 1500},
    )  # fmt: skip


def test_prev_of_a_group_uses_the_same_group(taipei_reference: Reference):
    check(TAIPEI, taipei_reference, ["lead_growth", "avg_deal_change"], "2026-02", by="team")


def test_the_target_is_the_entry_with_the_latest_from_at_or_before_the_month(
    taipei_reference: Reference,
):
    rows = check(TAIPEI, taipei_reference, ["conversion_rate"])
    targets = {period: row["target"] for (_, period, _), row in rows.items()}
    # 2026-Q2 starts on 1 April; 2026-W27 starts on Monday 29 June, so June keeps 0.5.
    assert targets == {
        "2026-01": 0.4,
        "2026-02": 0.4,
        "2026-03": 0.4,
        "2026-04": 0.5,
        "2026-05": 0.5,
        "2026-06": 0.5,
        "2026-07": 0.6,
    }


def test_group_targets_apply_only_to_their_group_and_the_total_ignores_them(
    taipei_reference: Reference,
):
    rows = check(TAIPEI, taipei_reference, ["conversion_rate"], by="team", output="json")
    targets = {(period, group): row["target"] for (_, period, group), row in rows.items()}
    assert targets[("2026-01", "north")] == 0.45
    assert targets[("2026-02", "south")] is None  # south's entry starts in March
    assert targets[("2026-03", "south")] == 0.3
    assert targets[("2026-06", "east")] is None  # entries without where are the total's
    assert targets[("2026-01", "west")] is None


def test_by_lists_the_groups_found_in_the_range_each_with_every_period(
    taipei_reference: Reference,
):
    kpis = ["conversion_rate", "revenue"]
    rows = check(TAIPEI, taipei_reference, kpis, "2026-02", "2026-05", by="team")
    # West only has a lead in January and east only rows in June: both are outside.
    assert {group for _, _, group in rows} == {"north", "south"}
    assert len(rows) == 2 * 4 * 2
    assert rows[("revenue", "2026-04", "north")]["value"] == 0


def test_custom_thresholds_give_green_amber_red_and_none(taipei_reference: Reference):
    rows = check(TAIPEI, taipei_reference, ["revenue"])
    statuses = {period: row["status"] for (_, period, _), row in rows.items()}
    # green 1.2 and amber 0.8: January 12000/10000 = 1.2 exactly, February 6200/7750 = 0.8
    # exactly, March 0, May a target of 0 (no attainment), June 2600/2000.
    assert statuses == {
        "2026-01": "green",
        "2026-02": "amber",
        "2026-03": "red",
        "2026-04": "red",
        "2026-05": "none",
        "2026-06": "green",
        "2026-07": "green",
    }
    assert rows[("revenue", "2026-05", None)]["attainment"] is None


def test_filters_with_in_not_is_null_is_not_null_not_equal_and_numbers(
    taipei_reference: Reference,
):
    kpis = ["web_share", "lead_quality", "offline_leads", "loss_ratio", "discount_share"]
    rows = check(TAIPEI, taipei_reference, kpis)
    check(TAIPEI, taipei_reference, kpis, by="team")
    # January leads: web, ads, event (no score), web, referral; scores 4, 2, -, 5, 3.
    assert same(rows[("web_share", "2026-01", None)]["value"], 3 / 5)
    assert rows[("offline_leads", "2026-01", None)]["value"] == 2
    assert same(rows[("lead_quality", "2026-01", None)]["value"], 3 / 4)
    # February's 3.5 counts as >= 3: scores 1, 5, -, 3.5, 2.
    assert same(rows[("lead_quality", "2026-02", None)]["value"], 2 / 4)
    # January: D02 has a discount; February: D05 (D03, lost, closes on 1 February local).
    assert same(rows[("discount_share", "2026-01", None)]["value"], 1 / 3)
    assert same(rows[("loss_ratio", "2026-02", None)]["value"], 1 / 3)


def test_booleans_in_any_case_from_a_bom_csv_with_quoted_commas_and_newlines(
    taipei_reference: Reference,
):
    kpis = ["new_customers", "repeat_sales", "customers"]
    rows = check(TAIPEI, taipei_reference, kpis)
    # true and TRUE (C1, C2) against False (C1 again); false for C4's second purchase.
    assert close(
        values(rows, "new_customers"),
        {"2026-01": 2, "2026-02": 2, "2026-03": 0, "2026-04": 0, "2026-05": 2,
         "2026-06": 1, "2026-07": 1},
    )  # fmt: skip
    assert values(rows, "repeat_sales")["2026-01"] == 1
    # D11's note spans two lines; the file still holds exactly 15 deals.
    deals = taipei_reference.measures["won_deals"].rows
    assert len(deals) == 15
    assert "\n" in deals[1]["note"]
    assert "," in deals[1]["note"]


def test_several_kpi_flags_give_only_those_kpis(taipei_reference: Reference):
    rows = check(TAIPEI, taipei_reference, ["customers", "revenue", "weekly_leads"], "2026-06")
    assert list(dict.fromkeys(key for key, _, _ in rows)) == [
        "customers",
        "revenue",
        "weekly_leads",
    ]


def test_csv_and_json_print_the_same_rows_with_exactly_the_spec_columns(
    taipei_reference: Reference,
):
    arguments = ["compute", TAIPEI / "headway.yaml", "--kpi", "avg_deal", "--by", "team"]
    as_csv = run_headway(*arguments, "--from", "2026-03", "--to", "2026-03", "--format", "csv")
    as_json = run_headway(*arguments, "--from", "2026-03", "--to", "2026-03", "--format", "json")
    assert as_csv.exit_code == 0
    assert as_json.exit_code == 0
    # March has lost deals only: no average, no target, so every null is an empty field.
    assert as_csv.stdout.splitlines() == [
        "kpi,period,team,value,target,attainment,status",
        "avg_deal,2026-03,north,,,,none",
        "avg_deal,2026-03,south,,,,none",
    ]
    assert json.loads(as_json.stdout) == [
        {"kpi": "avg_deal", "period": "2026-03", "team": team, "value": None, "target": None,
         "attainment": None, "status": "none"}
        for team in ("north", "south")
    ]  # fmt: skip
    totals = run_headway("compute", TAIPEI / "headway.yaml", "--kpi", "revenue", "--format", "csv")
    assert totals.stdout.splitlines()[0] == "kpi,period,value,target,attainment,status"
    as_rows = compute(TAIPEI, "--kpi", "revenue", output="json")
    assert_rows(parse_output(totals, "csv", None), as_rows, None)


# --- Berlin: the clocks change on 29 March and 25 October 2026 ----------------------------


def test_berlin_weeks_follow_the_clock_change_in_march(berlin_reference: Reference):
    rows = check(BERLIN, berlin_reference, ["weekly_tickets"], "2026-03", "2026-04")
    weekly = values(rows, "weekly_tickets")
    # Week 13 ends on Sunday 29 March: T03 (00:30Z, 01:30 CET) and T04 (01:30Z, 03:30
    # CEST). T05 (22:30Z on the 29th) is Monday 00:30 CEST, week 14, with T06, T07, T08
    # and T09. With a fixed +01:00, T05 would fall on Sunday.
    assert weekly["2026-W13"] == 2
    assert weekly["2026-W14"] == 5
    assert rows[("weekly_tickets", "2026-W14", None)]["status"] == "red"  # 2/5
    assert rows[("weekly_tickets", "2026-W13", None)]["status"] == "green"  # 2/2
    assert rows[("weekly_tickets", "2026-W15", None)]["status"] == "none"  # 2/0


def test_berlin_months_follow_both_clock_changes(berlin_reference: Reference):
    rows = check(BERLIN, berlin_reference, ["monthly_tickets"])
    # T01 (23:30Z on 28 February) is 00:30 on 1 March; T06 (22:15Z on 31 March) and T07
    # (06:30+08:00 on 1 April) are April in summer time; T08 is a naive 31 March 23:30.
    # T12 (22:30Z on 31 October) is 23:30 in winter time, still October. T13 (23:30Z on
    # 31 December) is 1 January 2027.
    assert close(
        values(rows, "monthly_tickets"),
        {"2026-02": 1, "2026-03": 6, "2026-04": 2, "2026-05": 0, "2026-06": 0, "2026-07": 0,
         "2026-08": 0, "2026-09": 0, "2026-10": 3, "2026-11": 0, "2026-12": 2, "2027-01": 3},
    )  # fmt: skip


def test_iso_week_53_runs_across_new_year(berlin_reference: Reference):
    rows = check(BERLIN, berlin_reference, ["weekly_tickets"], "2026-12", "2027-01")
    weekly = values(rows, "weekly_tickets")
    # Mondays from 7 December to 25 January. 2026-W53 is 28 December to 3 January: T16,
    # T13 (1 January 00:30) and T15 (Sunday 3 January 23:30); T14 is Monday 00:30 of
    # 2027-W01. T17 (Sunday 27 December 23:59:59+01:00) is 2026-W52.
    assert list(weekly) == [
        "2026-W50", "2026-W51", "2026-W52", "2026-W53",
        "2027-W01", "2027-W02", "2027-W03", "2027-W04",
    ]  # fmt: skip
    assert (weekly["2026-W52"], weekly["2026-W53"], weekly["2027-W01"]) == (1, 3, 1)
    assert rows[("weekly_tickets", "2026-W53", None)]["status"] == "amber"  # 2/3 >= 0.6


def test_week_53_is_also_found_without_from_or_to(berlin_reference: Reference):
    rows = check(BERLIN, berlin_reference, ["weekly_tickets"])
    weeks = [period for _, period, _ in rows]
    assert weeks[0] == "2026-W09"
    assert weeks[-1] == "2027-W01"
    assert "2026-W53" in weeks


def test_lower_is_better_divides_the_target_by_the_value_and_not_by_zero_or_less(
    berlin_reference: Reference,
):
    kpis = ["resolution_hours", "escalation_rate", "ticket_growth"]
    rows = check(BERLIN, berlin_reference, kpis, output="json")
    # March: 92 hours over 6 tickets against a target of 10.
    assert same(rows[("resolution_hours", "2026-03", None)]["attainment"], 10 / (92 / 6))
    # April has no escalation: a rate of 0 has no attainment when lower is better.
    assert rows[("escalation_rate", "2026-04", None)]["value"] == 0
    assert rows[("escalation_rate", "2026-04", None)]["status"] == "none"
    # Fewer tickets than the month before: a negative value has no attainment either.
    assert rows[("ticket_growth", "2026-04", None)]["value"] == -4
    assert rows[("ticket_growth", "2026-04", None)]["attainment"] is None
    assert same(rows[("ticket_growth", "2026-12", None)]["attainment"], 1 / 2)
    statuses = {row["status"] for (key, _, _), row in rows.items() if key == "resolution_hours"}
    assert statuses == {"green", "amber", "red", "none"}


def test_targets_from_a_quarter_or_a_week_label_start_on_its_first_day(
    berlin_reference: Reference,
):
    rows = check(BERLIN, berlin_reference, ["resolution_hours"], "2026-03", "2026-12")
    targets = {period: row["target"] for (_, period, _), row in rows.items()}
    # 2026-Q2 starts on 1 April; 2026-W44 on Monday 26 October, so November is its first.
    assert targets["2026-03"] == 10
    assert targets["2026-04"] == 20
    assert targets["2026-10"] == 20
    assert targets["2026-11"] == 15


def test_berlin_groups_with_a_group_target(berlin_reference: Reference):
    kpis = ["resolution_hours", "escalation_rate", "monthly_tickets"]
    rows = check(BERLIN, berlin_reference, kpis, by="region", output="json")
    assert rows[("resolution_hours", "2026-03", "north")]["target"] == 6
    assert rows[("resolution_hours", "2026-03", "south")]["target"] is None


def test_every_berlin_kpi_over_the_whole_data_in_json(berlin_reference: Reference):
    rows = check(BERLIN, berlin_reference, output="json")
    # Quarters of the calendar year; priorities 1 and 2 are urgent (in (1, 2)).
    assert close(
        values(rows, "urgent_tickets"),
        {"2026-Q1": 4, "2026-Q2": 1, "2026-Q3": 0, "2026-Q4": 2, "2027-Q1": 2},
    )
    assert values(rows, "slow_calm")["2026-02"] == 1


def test_the_installed_command_prints_what_the_reference_expects(berlin_reference: Reference):
    run = run_headway_process(
        "compute", BERLIN / "headway.yaml", "--kpi", "weekly_tickets", "--kpi",
        "escalation_rate", "--from", "2026-03", "--to", "2026-04", "--format", "csv",
    )  # fmt: skip
    assert run.exit_code == 0, run.stderr
    expected = berlin_reference.rows(["weekly_tickets", "escalation_rate"], "2026-03", "2026-04")
    assert_rows(parse_output(run, "csv", None), expected, None)


# --- A fiscal year from April, from CSV, Parquet and XLSX ---------------------------------


def _instant(text: str, zone: ZoneInfo) -> dt.datetime:
    moment = dt.datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def write_parquet(rows: list[Row], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    zone = ZoneInfo("America/New_York")
    table = pa.table(
        {
            "order_id": pa.array([row["order_id"] for row in rows], pa.string()),
            "ordered_at": pa.array(
                [_instant(row["ordered_at"], zone) for row in rows],
                pa.timestamp("us", tz="UTC"),
            ),
            "region": pa.array([row["region"] for row in rows], pa.string()),
            "channel": pa.array([row["channel"] for row in rows], pa.string()),
            "amount": pa.array([number(row["amount"]) for row in rows], pa.float64()),
            "returned": pa.array([truth(row["returned"]) for row in rows], pa.bool_()),
            "rating": pa.array(
                [None if row["rating"] is None else int(row["rating"]) for row in rows],
                pa.int64(),
            ),
        }
    )
    pq.write_table(table, path)


def write_xlsx(rows: list[Row], path: Path) -> None:
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["order_id", "ordered_at", "region", "channel", "amount", "returned", "rating"])
    for row in rows:
        sheet.append(
            [
                row["order_id"],
                row["_at"],  # local wall time, as a spreadsheet date cell
                row["region"],
                row["channel"],
                number(row["amount"]),
                truth(row["returned"]),
                None if row["rating"] is None else int(row["rating"]),
            ]
        )
    workbook.save(path)


@pytest.fixture(params=["csv", "parquet", "xlsx"])
def fiscal_workspace(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """The fiscal_april workspace reading its orders from CSV, Parquet or XLSX."""
    if request.param == "csv":
        return FISCAL
    folder = tmp_path / "fiscal_april"
    shutil.copytree(FISCAL, folder)
    rows = fiscal_april().measures["orders"].rows
    data = folder / "data" / f"orders.{request.param}"
    (write_parquet if request.param == "parquet" else write_xlsx)(rows, data)
    (folder / "data" / "orders.csv").unlink()
    settings = folder / "headway.yaml"
    settings.write_text(
        settings.read_text(encoding="utf-8").replace("orders.csv", data.name), encoding="utf-8"
    )
    return folder


def test_fiscal_quarters_and_years_are_the_same_from_csv_parquet_and_xlsx(
    fiscal_workspace: Path,
):
    reference = fiscal_april()
    rows = check(fiscal_workspace, reference)
    # Fiscal 2025-Q4 is January to March 2026: O01 and O02 (03:00Z on 1 April is 23:00
    # on 31 March in New York). Fiscal 2026-Q4 is January to March 2027.
    assert close(
        values(rows, "quarterly_sales"),
        {"2025-Q4": 300, "2026-Q1": 250.5, "2026-Q2": 400, "2026-Q3": 0, "2026-Q4": 310,
         "2027-Q1": 70},
    )  # fmt: skip
    assert close(values(rows, "yearly_sales"), {"2025": 300, "2026": 960.5, "2027": 70})
    check(fiscal_workspace, reference, ["quarterly_sales", "return_rate"], by="region")


def test_a_fiscal_year_label_as_from_and_to_runs_from_april_to_march():
    reference = fiscal_april()
    rows = check(FISCAL, reference, start="2026", end="2026")
    assert list(values(rows, "monthly_sales")) == [
        "2026-04", "2026-05", "2026-06", "2026-07", "2026-08", "2026-09",
        "2026-10", "2026-11", "2026-12", "2027-01", "2027-02", "2027-03",
    ]  # fmt: skip
    assert list(values(rows, "quarterly_sales")) == ["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"]
    assert list(values(rows, "yearly_sales")) == ["2026"]
    # prev reaches fiscal 2025-Q4 (300) before --from; the empty 2026-Q3 is 0 net sales
    # but has no average rating, so the rating change next to it is null.
    assert close(
        values(rows, "sales_growth"),
        {"2026-Q1": 250.5 - 300, "2026-Q2": 400 - 250.5, "2026-Q3": -400, "2026-Q4": 310},
    )
    assert values(rows, "rating_change")["2026-Q3"] is None
    assert values(rows, "rating_change")["2026-Q4"] is None


def test_a_fiscal_quarter_label_selects_its_months():
    rows = check(FISCAL, fiscal_april(), ["monthly_sales", "quarterly_sales"], "2026-Q1", "2026-Q2")
    assert list(values(rows, "monthly_sales")) == [
        "2026-04", "2026-05", "2026-06", "2026-07", "2026-08", "2026-09",
    ]  # fmt: skip
    assert list(values(rows, "quarterly_sales")) == ["2026-Q1", "2026-Q2"]


def test_fiscal_year_and_quarter_labels_as_target_starts():
    rows = check(FISCAL, fiscal_april(), ["monthly_sales", "quarterly_sales", "return_rate"])
    monthly = {
        period: row["target"] for (key, period, _), row in rows.items() if key == "monthly_sales"
    }
    # "2026" starts on 1 April 2026 and "2026-Q3" on 1 October 2026.
    assert monthly["2026-03"] is None
    assert monthly["2026-04"] == 150
    assert monthly["2026-09"] == 150
    assert monthly["2026-10"] == 100
    assert monthly["2027-03"] == 100
    assert rows[("quarterly_sales", "2025-Q4", None)]["target"] is None
    assert rows[("quarterly_sales", "2026-Q3", None)]["target"] == 500
    assert rows[("quarterly_sales", "2026-Q4", None)]["target"] == 300
    # Returns: one in fiscal 2026-Q1 (of 4 orders), one in 2026-Q4 (of 3).
    assert same(rows[("return_rate", "2026-Q1", None)]["attainment"], 0.2 / (1 / 4))


# --- Rows with no value for the --by dimension --------------------------------------------


def test_rows_without_a_group_are_a_group_of_their_own():
    reference = unassigned()
    rows = compute(UNASSIGNED, "--kpi", "minutes", by="team", output="json")
    assert_rows(rows, reference.rows(["minutes"], by="team"), "team")
    assert close(values(keyed(rows, "team"), "minutes", None), {"2026-01": 50, "2026-02": 0})


def test_rows_without_a_group_do_not_get_the_organisations_target():
    # Entries without where apply to the total only; the calls no team has claimed are not
    # the total, so they have no target (and no attainment or status).
    rows = keyed(compute(UNASSIGNED, "--kpi", "calls", by="team", output="json"), "team")
    assert rows[("calls", "2026-01", "north")]["target"] == 1
    assert rows[("calls", "2026-01", None)]["value"] == 2
    assert rows[("calls", "2026-01", None)]["target"] is None
    assert rows[("calls", "2026-01", None)]["status"] == "none"
    assert_rows(list(rows.values()), unassigned().rows(["calls"], by="team"), "team")
