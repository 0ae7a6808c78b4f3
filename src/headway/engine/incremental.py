"""Incremental recompute: after new or changed rows, redo only the results they touch.

A KPI's value for a period reads the rows of that period, and through prev(x, n) those of
the period n before it. So when rows arrive whose times lie between `first` and `last`:

- the periods of the KPI's grain holding those times are *touched*;
- a period that reads a touched one through prev() is a *dependant* (prev(x, n): n
  periods later; nested prevs add up, as `measure_inputs` gives them);
- periods that were outside the data's range before and are inside it now are *new* (a
  full compute lists every period between the data's first and last, empty ones too);

and only those are recomputed, for the totals and, with a breakdown, for the groups the
rows hold. A group seen for the first time gets every period (a full compute gives every
group a row in every period), and the groups the change did not touch get the new periods.

Known limits (a full recompute puts them right): a change that moves or removes the
first or last rows of the data, so that the range shrinks, leaves the periods that fell
out of it; and a group whose rows all moved to other groups keeps its earlier rows.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from headway.engine.compute import ComputeRequest, ComputeResult, Engine, Number, ResultRow
from headway.engine.data import quote_identifier, quote_literal
from headway.engine.formula import measure_inputs
from headway.engine.parts import span_from_statistics
from headway.engine.problems import HeadwayError, Problem
from headway.engine.workspace import ResolvedKpi, Workspace
from headway.lib.periods import Grain, Period, period_containing

Group = str | None


@dataclass(frozen=True)
class Change:
    """New or changed rows of one dataset: the first and last of their times (local wall
    time, every time column of the rows, old versions of changed rows included) and,
    optionally, per dimension the values the rows hold (old and new)."""

    dataset: str
    first: datetime.datetime
    last: datetime.datetime
    groups: Mapping[str, frozenset[Group]] | None = None


Inputs = Mapping[tuple[str, Grain, datetime.date, Group], Number | None]


@dataclass(frozen=True)
class Known:
    """What the results to be brought up to date cover: per KPI its first and last
    period, and with a breakdown the groups it has rows for.

    `inputs`, when given, are the measure values behind those results, keyed as
    ComputeResult.aggregates: every measure of each KPI, for each of its periods and
    groups, a missing key meaning the period and group had no rows. The periods a
    change did not touch keep their values, so that prev() of a dependant is taken from
    them instead of being read again."""

    periods: Mapping[str, tuple[Period, Period]]
    groups: Mapping[str, frozenset[Group]] = field(default_factory=dict)
    inputs: Inputs | None = None

    @classmethod
    def of(cls, result: ComputeResult) -> Known:
        """What an earlier compute's result covers."""
        groups: dict[str, set[Group]] = defaultdict(set)
        for row in result.rows:
            groups[row.kpi].add(row.group)
        return cls(
            periods={key: (found[0], found[-1]) for key, found in result.periods.items() if found},
            groups={key: frozenset(found) for key, found in groups.items()},
            inputs=result.aggregates,
        )


@dataclass(frozen=True)
class PeriodPlan:
    """The periods of one KPI to recompute, and why."""

    touched: tuple[Period, ...]
    dependants: tuple[Period, ...]
    new: tuple[Period, ...]

    @property
    def periods(self) -> tuple[Period, ...]:
        return tuple(sorted({*self.touched, *self.dependants, *self.new}))


def touched_periods(
    grain: Grain, first: datetime.date, last: datetime.date, fiscal_year_start: int = 1
) -> list[Period]:
    """Every period of `grain` that holds a day between `first` and `last`."""
    period = period_containing(grain, first, fiscal_year_start)
    end = period_containing(grain, last, fiscal_year_start)
    found = []
    while period <= end:
        found.append(period)
        period = period.shift(1)
    return found


def periods_to_recompute(
    touched: Iterable[Period],
    offsets: Iterable[int],
    first: Period,
    last: Period,
    known: tuple[Period, Period] | None = None,
) -> PeriodPlan:
    """The periods to recompute for a KPI that reads its data `offsets` periods back
    (0 for the period itself), when the data's range is now `first`..`last`, the
    earlier results covered `known`, and a change touched the `touched` periods.

    >>> from headway.lib.periods import Grain, Period
    >>> import datetime
    >>> month = lambda m: Period(Grain.MONTH, datetime.date(2026, m, 1))
    >>> plan = periods_to_recompute([month(3)], [0, 1, 3], month(1), month(5), None)
    >>> [p.label for p in plan.periods]
    ['2026-03', '2026-04']
    """

    def inside(period: Period) -> bool:
        return first <= period <= last

    touched_set = {period for period in touched if inside(period)}
    reaches = {offset for offset in offsets if offset > 0}
    dependants = {
        period.shift(offset) for period in touched_set for offset in reaches
    } - touched_set
    new: set[Period] = set()
    if known is not None:
        before, after = known
        # Only the periods before and after the known ones are visited (a weekly KPI's
        # years of known periods in between cost nothing).
        period = first
        while period <= last and period < before:
            new.add(period)
            period = period.shift(1)
        period = max(first, after.shift(1))
        while period <= last:
            new.add(period)
            period = period.shift(1)
    return PeriodPlan(
        touched=tuple(sorted(touched_set)),
        dependants=tuple(sorted(period for period in dependants if inside(period))),
        new=tuple(sorted(new)),
    )


@dataclass
class Recomputed:
    """The rows recomputed (each with the compute result that explains it), what was
    planned per KPI, and the KPIs computed in full (nothing was known of them)."""

    rows: list[tuple[ResultRow, ComputeResult]]
    plans: dict[str, PeriodPlan]
    groups: dict[str, frozenset[Group]]
    everything: set[str] = field(default_factory=set)
    requests: list[ComputeRequest] = field(default_factory=list)


@dataclass
class _Span:
    """The times of the changed rows' data as found now, and their groups."""

    low: datetime.datetime | None = None
    high: datetime.datetime | None = None
    groups: set[Group] = field(default_factory=set)


def _offsets(workspace: Workspace, kpi: ResolvedKpi, datasets: set[str]) -> set[int]:
    return {
        back
        for name, back in measure_inputs(kpi.formula)
        if workspace.measures[name].spec.dataset in datasets
    }


def _inspect(
    engine: Engine, changes: Sequence[Change], by: str | None, need_groups: bool
) -> dict[tuple[str, str], _Span]:
    """Per changed dataset and time column: the first and last time of the rows now in
    the changed span (the range can only grow that far) and, with `by`, their groups.
    Reads only the span's rows (Parquet statistics skip the rest where the data is in
    time order, as appended parts are), and none where the statistics tell."""
    workspace = engine.workspace
    columns: dict[str, set[str]] = defaultdict(set)
    for measure in workspace.measures.values():
        columns[measure.spec.dataset].add(measure.time_column)
    loaded = engine.load(sorted({change.dataset for change in changes}))
    assert engine.warehouse is not None
    found: dict[tuple[str, str], _Span] = {}
    for change in changes:
        dataset = loaded[change.dataset]
        group_sql = None
        if need_groups and by is not None and by in dataset.column_types:
            column = quote_identifier(by)
            kind = dataset.column_types[by].upper()
            group_sql = column if kind == "VARCHAR" else f"CAST({column} AS VARCHAR)"
        low = quote_literal(change.first.isoformat(sep=" "))
        high = quote_literal(change.last.isoformat(sep=" "))
        parts = engine.warehouse.parts.get(change.dataset)
        for name in sorted(columns[change.dataset]):
            span = found.setdefault((change.dataset, name), _Span())
            # Parts whose statistics lie wholly inside or outside the span (as appended,
            # time-ordered parts do) give its first and last time without a read.
            known = (
                span_from_statistics(parts, name, change.first, change.last)
                if parts is not None and group_sql is None
                else None
            )
            if known is not None:
                if known[0] is not None and known[1] is not None:
                    span.low = known[0] if span.low is None else min(span.low, known[0])
                    span.high = known[1] if span.high is None else max(span.high, known[1])
                continue
            time = quote_identifier(name)
            groups = f", list(DISTINCT {group_sql})" if group_sql else ""
            row = engine.warehouse.connection.execute(
                f"SELECT min({time}), max({time}){groups} FROM {dataset.view} "  # noqa: S608
                f"WHERE {time} >= TIMESTAMP {low} AND {time} <= TIMESTAMP {high}"
            ).fetchone()
            if row is None or row[0] is None:
                continue
            span.low = row[0] if span.low is None else min(span.low, row[0])
            span.high = row[1] if span.high is None else max(span.high, row[1])
            if group_sql:
                span.groups.update(row[2] or ())
    return found


def recompute(
    engine: Engine,
    changes: Sequence[Change],
    known: Known,
    *,
    by: str | None = None,
    kpis: Sequence[str] = (),
) -> Recomputed:
    """Recomputes what `changes` touch of the results `known` describes, for the totals
    (`by` None) or the groups of `by`. KPIs that read none of the changed datasets are
    left out; those `known` says nothing of are computed in full."""
    workspace = engine.workspace
    for change in changes:
        if change.dataset not in workspace.model.datasets:
            raise HeadwayError(Problem(f"unknown dataset {change.dataset!r}"))
        if change.last < change.first:
            raise HeadwayError(
                Problem(
                    f"dataset {change.dataset}: the changed rows' last time {change.last} is "
                    f"before their first {change.first}"
                )
            )
    changed = {change.dataset for change in changes}
    selected = [workspace.kpis[key] for key in kpis] if kpis else list(workspace.kpis.values())
    affected = [kpi for kpi in selected if changed & set(workspace.kpi_datasets(kpi))]
    given: dict[str, set[Group]] = defaultdict(set)
    unknown_groups = False
    for change in changes:
        if by is not None and change.groups is not None and by in change.groups:
            given[change.dataset].update(change.groups[by])
        elif by is not None:
            unknown_groups = True
    spans = _inspect(engine, changes, by, unknown_groups)
    fiscal = workspace.fiscal_year_start
    result = Recomputed(rows=[], plans={}, groups={})
    # Requests that share their periods and groups share their scans: one compute each.
    batches: dict[tuple[Grain, tuple[Period, ...], frozenset[Group] | None], list[str]] = {}
    wanted: dict[tuple[str, frozenset[Group] | None], set[Period]] = defaultdict(set)
    # Per KPI: the periods whose measure values are known and still right, per dataset.
    reusable: dict[str, _Reusable] = {}
    for kpi in affected:
        grain = kpi.spec.grain
        known_range = known.periods.get(kpi.key)
        known_groups = known.groups.get(kpi.key) if by is not None else None
        if known_range is None or (by is not None and known_groups is None):
            result.everything.add(kpi.key)
            continue
        low, high = known_range
        touched: set[Period] = set()
        touched_groups: set[Group] = set()
        for change in changes:
            if change.dataset not in workspace.kpi_datasets(kpi):
                continue
            touched.update(touched_periods(grain, change.first.date(), change.last.date(), fiscal))
            touched_groups.update(given.get(change.dataset, ()))
            for name in {
                workspace.measures[measure].time_column
                for measure in kpi.measures
                if workspace.measures[measure].spec.dataset == change.dataset
            }:
                span = spans.get((change.dataset, name))
                if span is None or span.low is None or span.high is None:
                    continue
                low = min(low, period_containing(grain, span.low.date(), fiscal))
                high = max(high, period_containing(grain, span.high.date(), fiscal))
                touched_groups.update(span.groups)
        plan = periods_to_recompute(
            touched, _offsets(workspace, kpi, changed), low, high, known_range
        )
        result.plans[kpi.key] = plan
        reusable[kpi.key] = _Reusable(known_range, _touched_by_dataset(workspace, kpi, changes))
        if by is None:
            wanted[(kpi.key, None)].update(plan.periods)
            continue
        assert known_groups is not None
        if unknown_groups:
            # Rows may have left a group without a trace: redo every group known.
            touched_groups |= known_groups
        fresh = frozenset(touched_groups - known_groups)
        old = frozenset(touched_groups & known_groups)
        untouched = frozenset(known_groups - touched_groups)
        everything = _all_periods(low, high)
        if old:
            wanted[(kpi.key, old)].update(plan.periods)
        if fresh:
            wanted[(kpi.key, fresh)].update(everything)
        if untouched and plan.new:
            wanted[(kpi.key, untouched)].update(plan.new)
        result.groups[kpi.key] = frozenset(known_groups | touched_groups)
    for (key, groups), periods in wanted.items():
        if periods:
            grain = workspace.kpis[key].spec.grain
            hull = (min(periods), max(periods))
            batches.setdefault((grain, hull, groups), []).append(key)
    for (_, (start, end), groups), keys in batches.items():
        inputs = _batch_inputs(workspace, known, reusable, keys, start, end, groups)
        request = ComputeRequest(
            kpis=tuple(keys), start=start, end=end, by=by, groups=groups, inputs=inputs
        )
        computed = engine.compute(request)
        result.requests.append(request)
        for row in computed.rows:
            # The batch's range may hold periods a KPI did not ask for (a hull of several
            # KPIs' periods, or of non-contiguous ones): only the planned ones are kept.
            if row.period in wanted[(row.kpi, groups)]:
                result.rows.append((row, computed))
    if result.everything:
        request = ComputeRequest(kpis=tuple(sorted(result.everything)), by=by)
        computed = engine.compute(request)
        result.requests.append(request)
        result.rows.extend((row, computed) for row in computed.rows)
    return result


@dataclass(frozen=True)
class _Reusable:
    """The periods of a KPI whose known measure values still hold: those of its known
    range, except, per changed dataset, the periods the change touched."""

    known: tuple[Period, Period]
    touched: Mapping[str, frozenset[Period]]

    def holds(self, dataset: str, period: Period) -> bool:
        low, high = self.known
        return low <= period <= high and period not in self.touched.get(dataset, ())


def _touched_by_dataset(
    workspace: Workspace, kpi: ResolvedKpi, changes: Sequence[Change]
) -> dict[str, frozenset[Period]]:
    found: dict[str, set[Period]] = defaultdict(set)
    for change in changes:
        found[change.dataset].update(
            touched_periods(
                kpi.spec.grain,
                change.first.date(),
                change.last.date(),
                workspace.fiscal_year_start,
            )
        )
    return {name: frozenset(periods) for name, periods in found.items()}


def _batch_inputs(
    workspace: Workspace,
    known: Known,
    reusable: Mapping[str, _Reusable],
    keys: Sequence[str],
    start: Period,
    end: Period,
    groups: frozenset[Group] | None,
) -> dict[tuple[str, Grain, datetime.date, Group], Number | None]:
    """The known measure values a batch's compute may take instead of reading them:
    for every period of the batch's range, those its formulas read (prev() included)
    from periods the change left alone. An empty mapping still tells the compute to
    read only the periods the formulas reach, not every one in between."""
    inputs: dict[tuple[str, Grain, datetime.date, Group], Number | None] = {}
    if known.inputs is None:
        return inputs
    periods = _all_periods(start, end)
    for key in keys:
        kpi = workspace.kpis[key]
        reuse = reusable.get(key)
        if reuse is None:
            continue
        # Of a group seen for the first time nothing is known: a missing value there
        # means "not computed", not "no rows".
        wanted: frozenset[Group] = (
            frozenset({None}) if groups is None else groups & known.groups.get(key, frozenset())
        )
        for name, back in measure_inputs(kpi.formula):
            measure = workspace.measures[name]
            empty: Number | None = 0 if measure.spec.agg.is_zero_when_empty else None
            for period in periods:
                source = period.shift(-back)
                if not reuse.holds(measure.spec.dataset, source):
                    continue
                for group in wanted:
                    place = (name, source.grain, source.start, group)
                    inputs[place] = known.inputs.get(place, empty)
    return inputs


def _all_periods(first: Period, last: Period) -> list[Period]:
    found = []
    period = first
    while period <= last:
        found.append(period)
        period = period.shift(1)
    return found


def merge(
    earlier: Iterable[ResultRow], recomputed: Recomputed, everything: bool = True
) -> list[ResultRow]:
    """The earlier rows with the recomputed ones in their place, ordered as a compute
    orders them (KPI order of the earlier rows, then period, then group). The rows of
    KPIs computed in full replace all of their earlier rows."""
    fresh = {(row.kpi, row.period, row.group): row for row, _ in recomputed.rows}
    merged: dict[tuple[str, Period, Group], ResultRow] = {}
    for row in earlier:
        if everything and row.kpi in recomputed.everything:
            continue
        merged[(row.kpi, row.period, row.group)] = row
    merged.update(fresh)
    order = {key: index for index, key in enumerate(dict.fromkeys(key for key, _, _ in merged))}
    return sorted(
        merged.values(),
        key=lambda row: (
            order[row.kpi],
            row.period.start,
            row.group is None,
            row.group or "",
        ),
    )
