"""Computing KPIs: plan the scans, run them, evaluate formulas, attach targets.

load data ─▶ plan scans ─▶ run SQL (aggregates per period and group)
          ─▶ evaluate each KPI's formula over the aggregates ─▶ targets and status
"""

from __future__ import annotations

import datetime
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import duckdb

from headway.engine.backends import Backend, QueryFailed, connect
from headway.engine.checked import CheckedFiles
from headway.engine.data import (
    DatasetRequest,
    LoadedDataset,
    Warehouse,
    quote_identifier,
    quote_literal,
)
from headway.engine.formula import evaluate, measure_inputs
from headway.engine.model import Direction, Status
from headway.engine.plan import Scan, ScanMeasure, day_ranges, scan_sql
from headway.engine.problems import HeadwayError, Problem
from headway.engine.workspace import ResolvedKpi, ResolvedTarget, Workspace
from headway.lib.periods import Grain, Period, period_containing, periods_between

Number = int | float
OUTPUT_COLUMNS = frozenset({"kpi", "period", "value", "target", "attainment", "status"})


@dataclass(frozen=True)
class ComputeRequest:
    """What to compute: which KPIs, which periods, and the breakdown."""

    kpis: tuple[str, ...] = ()
    start: Period | None = None
    end: Period | None = None
    by: str | None = None
    # With `by`: only these groups (None: rows without a value for the dimension), each
    # given a row for every period whether or not it has data there, as a compute over
    # the whole range gives every group found anywhere in it. Lets an incremental compute
    # redo the groups a change touched and nothing else.
    groups: frozenset[str | None] | None = None
    # Measure values known already, keyed as ComputeResult.aggregates (a period and group
    # without rows holds what a compute gives it: 0, or None): a (measure, grain, period)
    # known for every group asked for is not read again, and only the periods the KPIs
    # read are (not the ones between a period and those its prev() reaches). With `by`,
    # used only together with `groups`.
    inputs: Mapping[tuple[str, Grain, datetime.date, str | None], Number | None] | None = None


@dataclass(frozen=True)
class ResultRow:
    """One KPI value for one period (and group), with its target and status."""

    kpi: str
    period: Period
    group: str | None
    value: Number | None
    target: float | None
    attainment: float | None
    status: Status
    target_entry: ResolvedTarget | None = None


@dataclass
class ComputeResult:
    """The rows, plus the plan and SQL behind them, so every number can be explained."""

    rows: list[ResultRow]
    scans: list[tuple[Scan, str]]
    periods: dict[str, list[Period]]
    aggregates: dict[tuple[str, Grain, datetime.date, str | None], Number | None] = field(
        default_factory=dict
    )

    def measure_value(
        self, workspace: Workspace, measure: str, period: Period, group: str | None
    ) -> Number | None:
        return _lookup(self.aggregates, workspace, measure, period, group)


def attainment_of(value: Number | None, target: float | None, direction: Direction) -> float | None:
    """value / target when higher is better, target / value when lower is better."""
    if value is None or target is None:
        return None
    numerator, divisor = (value, target) if direction is Direction.UP else (target, value)
    if divisor <= 0:
        return None
    result = numerator / divisor
    if not math.isfinite(result):
        return None
    # 0.09 / 0.1 is 0.8999999999999999 in binary floating point; 12 significant digits
    # (well within a double's precision) make it 0.9, which meets an amber of 0.9, and the
    # number printed is the number compared.
    return float(f"{result:.12g}")


def status_of(attainment: float | None, green: float, amber: float) -> Status:
    if attainment is None:
        return Status.NONE
    if attainment >= green:
        return Status.GREEN
    if attainment >= amber:
        return Status.AMBER
    return Status.RED


def target_for(
    kpi: ResolvedKpi, period: Period, by: str | None, group: str | None
) -> ResolvedTarget | None:
    """The entry with the latest start at or before the period's first day, for the group."""
    chosen: ResolvedTarget | None = None
    for target in kpi.targets:
        where = target.entry.where
        if by is None:
            if where is not None:
                continue
        elif group is None or where is None or where.get(by) != group or len(where) != 1:
            # Entries without `where` are the total's; rows with no value for the
            # dimension match no entry at all.
            continue
        if target.starts.start > period.start:
            continue
        if chosen is None or (target.starts.start, target.position) >= (
            chosen.starts.start,
            chosen.position,
        ):
            chosen = target
    return chosen


def _lookup(
    aggregates: dict[tuple[str, Grain, datetime.date, str | None], Number | None],
    workspace: Workspace,
    measure: str,
    period: Period,
    group: str | None,
) -> Number | None:
    key = (measure, period.grain, period.start, group)
    if key in aggregates:
        return aggregates[key]
    # No row for this period and group: nothing happened, so counts and sums are 0.
    return 0 if workspace.measures[measure].spec.agg.is_zero_when_empty else None


def _plain_number(value: Any) -> Number | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return value
    raise TypeError(f"unexpected aggregate {value!r}")


class Engine:
    """Computes a workspace's KPIs from its data files."""

    def __init__(
        self,
        workspace: Workspace,
        checked: CheckedFiles | None = None,
        warehouse: str | None = None,
    ) -> None:
        self.workspace = workspace
        self.checked = checked
        self.warehouse: Warehouse | None = None
        # Where the scans run (docs/warehouse.md): the given URL, else the workspace's
        # `warehouse:`, else the embedded DuckDB that reads the files.
        self.warehouse_url = warehouse if warehouse else workspace.model.warehouse
        self.backend: Backend | None = None

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.backend is not None:
            self.backend.close()
            self.backend = None
        if self.warehouse is not None:
            self.warehouse.close()
            self.warehouse = None

    def connect(self) -> Backend:
        """The backend the scans run on, connected on first use (validate never needs it)."""
        if self.warehouse is None:
            self.warehouse = Warehouse(self.workspace.timezone, self.checked)
        if self.backend is None:
            self.backend = connect(self.warehouse_url, self.warehouse)
        return self.backend

    def load(self, names: Sequence[str] | None = None) -> dict[str, LoadedDataset]:
        """Reads and checks the named datasets (all of them by default, as validate does)."""
        workspace = self.workspace
        if self.warehouse is None:
            self.warehouse = Warehouse(workspace.timezone, self.checked)
        wanted = list(workspace.model.datasets) if names is None else list(names)
        missing = [name for name in wanted if name not in self.warehouse.datasets]
        if not missing:
            return self.warehouse.datasets
        needs = workspace.column_needs()
        requests = []
        for name in missing:
            dataset = workspace.model.datasets[name]
            requests.append(
                DatasetRequest(
                    name=name,
                    file=(workspace.base_dir / dataset.file),
                    shown_file=str(workspace.base_dir / dataset.file),
                    key=dataset.key,
                    needs={column: frozenset(kinds) for column, kinds in needs[name].items()},
                    workspace_file=workspace.shown_path,
                    workspace_line=workspace.line_of("datasets", name, "file"),
                )
            )
        loaded = self.warehouse.load_all(requests)
        self._check_literals(loaded, set(missing))
        return loaded

    def _check_literals(self, loaded: dict[str, LoadedDataset], datasets: set[str]) -> None:
        """A filter comparing a number column with 'abc' would fail at run time: say so now."""
        problems = []
        for name, measure in self.workspace.measures.items():
            if measure.filter is None or measure.spec.dataset not in datasets:
                continue
            types = loaded[measure.spec.dataset].column_types
            for comparison in measure.filter.comparisons:
                kind = types.get(comparison.column, "VARCHAR").upper()
                if kind == "VARCHAR":
                    continue
                assert self.warehouse is not None
                try:
                    self.warehouse.connection.execute(
                        f"SELECT CAST({quote_literal(comparison.literal)} AS {kind})"
                    )
                except duckdb.Error:
                    problems.append(
                        Problem(
                            f"filter compares the {kind.lower()} column {comparison.column!r} "
                            f"with the text {comparison.literal!r}",
                            file=self.workspace.shown_path,
                            line=self.workspace.line_of("measures", name, "filter"),
                            key=f"measures.{name}.filter",
                        )
                    )
        if problems:
            raise HeadwayError(problems)

    def compute(self, request: ComputeRequest) -> ComputeResult:
        kpis = self._select_kpis(request)
        self._check_by(kpis, request.by)
        # Only the data the KPIs asked for is read: a broken file of another KPI's
        # dataset does not stop this one (validate checks them all).
        needed = dict.fromkeys(name for kpi in kpis for name in self.workspace.kpi_datasets(kpi))
        loaded = self.load(list(needed))
        backend = self.connect()
        backend.prepare(loaded[name] for name in needed)
        periods = self._periods(kpis, request, loaded)
        reads, reused = self._to_read(kpis, periods, request)
        scans = self._plan(kpis, periods, request.by, request.groups, reads)
        aggregates: dict[tuple[str, Grain, datetime.date, str | None], Number | None] = {}
        present: dict[tuple[str, str], set[tuple[Grain, datetime.date, str | None]]] = defaultdict(
            set
        )
        executed: list[tuple[Scan, str]] = []
        for scan in scans:
            dataset = loaded[scan.dataset]
            sql = scan_sql(scan, dataset, backend.relation(dataset), backend.dialect)
            shown = backend.describe(dataset) + dataset.definition
            executed.append((scan, f"{shown};\n\n{sql}"))
            try:
                records = backend.fetch(sql)
            except QueryFailed as error:
                raise HeadwayError(
                    Problem(
                        f"reading dataset {scan.dataset} failed: {error}",
                        file=loaded[scan.dataset].shown_file,
                    )
                ) from None
            offset = len(scan.grains) + (1 if scan.by else 0)
            for record in records:
                index = next(i for i, _ in enumerate(scan.grains) if record[i] is not None)
                grain = scan.grains[index]
                start: datetime.date = record[index]
                group = record[len(scan.grains)] if scan.by else None
                if record[offset]:
                    present[(scan.dataset, scan.time_column)].add((grain, start, group))
                for position, item in enumerate(scan.measures):
                    value = _plain_number(record[offset + 1 + position])
                    if value is None and item.measure.spec.agg.is_zero_when_empty:
                        value = 0
                    aggregates[(item.measure.name, grain, start, group)] = value
        if request.inputs is not None:
            # Over what a scan of several grains read of a reused period only in part.
            for key, known in request.inputs.items():
                if key[:3] in reused:
                    aggregates[key] = known
        rows = []
        for kpi in kpis:
            kpi_periods = periods[kpi.key]
            groups: list[str | None] = [None]
            if request.by is not None and request.groups is not None:
                groups = sorted(request.groups, key=lambda group: (group is None, group or ""))
            elif request.by is not None:
                groups = self._groups(kpi, kpi_periods, present)
            # The periods that prev() reaches, then the KPI's own: prev(x, n) of the period
            # at index i is simply index i - n (no date arithmetic per value).
            history = (
                [kpi_periods[0].shift(-back) for back in range(kpi.lookback, 0, -1)] + kpi_periods
                if kpi_periods
                else []
            )
            for position, period in enumerate(kpi_periods):
                for group in groups:
                    rows.append(
                        self._row(
                            kpi,
                            period,
                            request.by,
                            group,
                            aggregates,
                            history,
                            position + kpi.lookback,
                        )
                    )
        return ComputeResult(rows=rows, scans=executed, periods=periods, aggregates=aggregates)

    def _row(
        self,
        kpi: ResolvedKpi,
        period: Period,
        by: str | None,
        group: str | None,
        aggregates: dict[tuple[str, Grain, datetime.date, str | None], Number | None],
        history: list[Period],
        index: int,
    ) -> ResultRow:
        workspace = self.workspace

        def value_of(measure: str, offset: int) -> Number | None:
            return _lookup(aggregates, workspace, measure, history[index - offset], group)

        value = evaluate(kpi.formula, value_of)
        entry = target_for(kpi, period, by, group)
        target = entry.entry.value if entry is not None else None
        attainment = attainment_of(value, target, kpi.spec.direction)
        status = status_of(attainment, kpi.spec.thresholds.green, kpi.spec.thresholds.amber)
        return ResultRow(
            kpi=kpi.key,
            period=period,
            group=group,
            value=value,
            target=target,
            attainment=attainment,
            status=status,
            target_entry=entry,
        )

    def _select_kpis(self, request: ComputeRequest) -> list[ResolvedKpi]:
        workspace = self.workspace
        if not request.kpis:
            return [workspace.kpis[kpi.key] for kpi in workspace.model.kpis]
        unknown = [key for key in request.kpis if key not in workspace.kpis]
        if unknown:
            known = ", ".join(workspace.kpis)
            raise HeadwayError(
                [Problem(f"unknown KPI {key!r} (the workspace has: {known})") for key in unknown]
            )
        return [workspace.kpis[key] for key in dict.fromkeys(request.kpis)]

    def _check_by(self, kpis: Sequence[ResolvedKpi], by: str | None) -> None:
        if by is None:
            return
        if by in OUTPUT_COLUMNS:
            # The group's column would collide with an output column of the same name.
            raise HeadwayError(
                Problem(f"--by {by}: {by!r} is a column of the output; it cannot be a group")
            )
        problems = []
        for kpi in kpis:
            for dataset in self.workspace.kpi_datasets(kpi):
                if by not in self.workspace.model.datasets[dataset].dimensions:
                    problems.append(
                        Problem(
                            f"KPI {kpi.key} cannot be broken down by {by!r}: dataset "
                            f"{dataset} does not list it among its dimensions",
                            file=self.workspace.shown_path,
                            line=self.workspace.line_of("datasets", dataset, "dimensions"),
                        )
                    )
                    break
        if problems:
            raise HeadwayError(problems)

    def _extents(
        self, kpis: Sequence[ResolvedKpi], loaded: dict[str, LoadedDataset]
    ) -> dict[tuple[str, str], tuple[datetime.datetime | None, datetime.datetime | None]]:
        """The first and last time of each dataset and time column the KPIs use."""
        assert self.warehouse is not None
        pairs = {
            (measure.spec.dataset, measure.time_column)
            for kpi in kpis
            for measure in (self.workspace.measures[name] for name in kpi.measures)
        }
        extents = {}
        for dataset, column in sorted(pairs):
            time = quote_identifier(column)
            row = self.warehouse.connection.execute(
                f"SELECT min({time}), max({time}) FROM {loaded[dataset].view}"
            ).fetchone()
            assert row is not None
            extents[(dataset, column)] = (row[0], row[1])
        return extents

    def _periods(
        self,
        kpis: Sequence[ResolvedKpi],
        request: ComputeRequest,
        loaded: dict[str, LoadedDataset],
    ) -> dict[str, list[Period]]:
        extents = {}
        if request.start is None or request.end is None:
            extents = self._extents(kpis, loaded)
        periods: dict[str, list[Period]] = {}
        fiscal = self.workspace.fiscal_year_start
        for kpi in kpis:
            grain = kpi.spec.grain
            first_day = request.start.start if request.start is not None else None
            last_day = request.end.last_day if request.end is not None else None
            if first_day is None or last_day is None:
                times = [
                    extents[(measure.spec.dataset, measure.time_column)]
                    for measure in (self.workspace.measures[name] for name in kpi.measures)
                ]
                lows = [low for low, _ in times if low is not None]
                highs = [high for _, high in times if high is not None]
                if not lows or not highs:
                    periods[kpi.key] = []
                    continue
                if first_day is None:
                    first_day = period_containing(grain, min(lows).date(), fiscal).start
                if last_day is None:
                    last_day = period_containing(grain, max(highs).date(), fiscal).last_day
            periods[kpi.key] = periods_between(grain, first_day, last_day, fiscal)
        return periods

    def _plan(
        self,
        kpis: Sequence[ResolvedKpi],
        periods: dict[str, list[Period]],
        by: str | None,
        groups: frozenset[str | None] | None = None,
        reads: dict[tuple[str, str], set[Period]] | None = None,
    ) -> list[Scan]:
        """Groups the KPIs' measures into one scan per dataset and time column; with
        `reads`, of only the periods it lists (none: no scan)."""
        grains: dict[tuple[str, str], dict[Grain, None]] = defaultdict(dict)
        members: dict[tuple[str, str], dict[str, None]] = defaultdict(dict)
        bounds: dict[tuple[str, str], tuple[datetime.date, datetime.date]] = {}
        for kpi in kpis:
            kpi_periods = periods[kpi.key]
            if not kpi_periods:
                continue
            first = kpi_periods[0].shift(-kpi.lookback).start
            end = kpi_periods[-1].end
            for name in kpi.measures:
                measure = self.workspace.measures[name]
                key = (measure.spec.dataset, measure.time_column)
                grains[key][kpi.spec.grain] = None
                members[key][name] = None
                low, high = bounds.get(key, (first, end))
                bounds[key] = (min(low, first), max(high, end))
        scans = []
        for number, key in enumerate(members):
            dataset, time_column = key
            ranges = None
            if reads is not None:
                ranges = day_ranges(reads.get(key, ()))
                if not ranges:
                    continue
                bounds[key] = (ranges[0][0], max(end for _, end in ranges))
            scans.append(
                Scan(
                    dataset=dataset,
                    time_column=time_column,
                    grains=tuple(sorted(grains[key], key=list(Grain).index)),
                    measures=tuple(
                        ScanMeasure(
                            alias=f"m{number}_{index}", measure=self.workspace.measures[name]
                        )
                        for index, name in enumerate(members[key])
                    ),
                    first_day=bounds[key][0],
                    end_day=bounds[key][1],
                    by=by,
                    fiscal_year_start=self.workspace.fiscal_year_start,
                    groups=groups if by is not None else None,
                    ranges=ranges,
                )
            )
        return scans

    def _to_read(
        self,
        kpis: Sequence[ResolvedKpi],
        periods: dict[str, list[Period]],
        request: ComputeRequest,
    ) -> tuple[dict[tuple[str, str], set[Period]] | None, set[tuple[str, Grain, datetime.date]]]:
        """With known inputs: per dataset and time column the periods the KPIs still
        have to read, and the (measure, grain, period start) taken from the inputs.
        (None, nothing) without them."""
        inputs = request.inputs
        if inputs is None or (request.by is not None and request.groups is None):
            return None, set()
        groups = request.groups if request.by is not None else None
        wanted: frozenset[str | None] = frozenset({None}) if groups is None else groups
        reads: dict[tuple[str, str], set[Period]] = defaultdict(set)
        reused: set[tuple[str, Grain, datetime.date]] = set()
        for kpi in kpis:
            for name, back in measure_inputs(kpi.formula):
                measure = self.workspace.measures[name]
                for period in periods[kpi.key]:
                    source = period.shift(-back)
                    if all((name, source.grain, source.start, group) in inputs for group in wanted):
                        reused.add((name, source.grain, source.start))
                    else:
                        reads[(measure.spec.dataset, measure.time_column)].add(source)
        return reads, reused

    def _groups(
        self,
        kpi: ResolvedKpi,
        kpi_periods: list[Period],
        present: dict[tuple[str, str], set[tuple[Grain, datetime.date, str | None]]],
    ) -> list[str | None]:
        """The dimension's values found in the KPI's datasets within the range."""
        starts = {period.start for period in kpi_periods}
        found: set[str | None] = set()
        for name in kpi.measures:
            measure = self.workspace.measures[name]
            for grain, start, group in present.get((measure.spec.dataset, measure.time_column), ()):
                if grain is kpi.spec.grain and start in starts:
                    found.add(group)
        # Text order, with rows that have no value for the dimension last.
        return sorted(found, key=lambda group: (group is None, group or ""))
