"""Recomputing KPI results with the engine and storing them, with their inputs."""

from __future__ import annotations

import datetime
import os
import zoneinfo
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from headway.accounts.models import User
from headway.audit.services import audit_record
from headway.engine.compute import ComputeRequest, ComputeResult, ResultRow
from headway.engine.formula import measure_inputs
from headway.engine.problems import HeadwayError, Problem
from headway.engine.workspace import Workspace, workspace_from_data
from headway.kpis.choices import EntryKind
from headway.kpis.models import Dataset, Kpi
from headway.kpis.workspace_io import workspace_data
from headway.lib.periods import Grain, Period, period_containing
from headway.results.engine import app_engine
from headway.results.locks import exclude_locked, is_period_locked, locked_spans
from headway.results.manual import manual_results_refresh
from headway.results.models import Result
from headway.results.selectors import RECOMPUTE_REFUSED, RECOMPUTED


def app_workspace() -> Workspace:
    """The database's KPI system as an engine workspace (data files by absolute path)."""
    data = workspace_data(base_dir=None)
    return workspace_from_data(data, Path(settings.DATA_DIR) / "headway.yaml")


def _decimal(value: float | int | None) -> Decimal | None:
    if value is None:
        return None
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


# A Result's numbers have 30 digits, 10 of them after the point (results.models.Result).
_STORED_LIMIT = Decimal(10) ** 20


def _unstorable(results: list[Result]) -> list[Problem]:
    """The computed numbers the app database cannot hold: a value, target or attainment
    of 20 digits or more before the point, or any number that is not finite (JSON has no
    infinity). One problem per KPI and number, naming the first period it happens in."""
    problems: dict[tuple[str, str], Problem] = {}
    for result in results:
        columns = {"value": result.value, "target": result.target, "attainment": result.attainment}
        measures = {f"measure {name}": value for name, value in result.measures.items()}
        for name, number in {**columns, **measures}.items():
            if number is None or isinstance(number, bool):
                continue
            exact = Decimal(number)
            fits = exact.is_finite() and (name not in columns or abs(exact) < _STORED_LIMIT)
            if not fits and (result.kpi.key, name) not in problems:
                group = f" ({result.group_dimension} {result.group_value})"
                problems[result.kpi.key, name] = Problem(
                    f"its {name} for {result.period}{group if result.group_dimension else ''} "
                    f"is {number}, which cannot be stored (at most 20 digits before the "
                    "point): check the data it is computed from",
                    key=result.kpi.key,
                )
    return list(problems.values())


def _measure_values(
    workspace: Workspace, result: ComputeResult, row: ResultRow
) -> dict[str, float | int | None]:
    values: dict[str, float | int | None] = {}
    for name, back in measure_inputs(workspace.kpis[row.kpi].formula):
        period: Period = row.period.shift(-back)
        label = name if back == 0 else f"{name}@{period.label}"
        values[label] = result.measure_value(workspace, name, period, row.group)
    return values


def _stored(
    kpi: Kpi,
    workspace: Workspace,
    result: ComputeResult,
    row: ResultRow,
    dimension: str,
    now: datetime.datetime,
    as_of: datetime.datetime | None,
) -> Result:
    """The Result to store for one computed row ("" as the dimension for the totals)."""
    return Result(
        kpi=kpi,
        period=row.period.label,
        period_start=row.period.start,
        group_dimension=dimension,
        group_value=(row.group or "") if dimension else "",
        value=_decimal(row.value),
        target=_decimal(row.target),
        attainment=_decimal(row.attainment),
        status=row.status.value,
        measures=_measure_values(workspace, result, row),
        computed_at=now,
        data_as_of=as_of,
    )


@dataclass(frozen=True)
class RecomputeSummary:
    kpis: int
    results: int
    seconds: float
    # Periods left as they were because they are closed (see headway.results.locks).
    locked_periods: int = 0


def _data_as_of(workspace: Workspace) -> datetime.datetime | None:
    times = []
    for dataset in workspace.model.datasets.values():
        path = workspace.base_dir / dataset.file
        if path.exists():
            times.append(os.path.getmtime(path))
    if not times:
        return None
    return datetime.datetime.fromtimestamp(max(times), tz=datetime.UTC)


def results_recompute(
    *,
    by: User | None,
    kpi_keys: tuple[str, ...] = (),
    start: Period | None = None,
    end: Period | None = None,
) -> RecomputeSummary:
    """Runs the engine for the KPIs (all active ones by default) and stores every value,
    the organisation's totals and each group of the dimensions their data shares.

    The Results of closed periods (locked, see `headway.results.locks`) stay exactly as
    they are: none of them is deleted or replaced."""
    began = timezone.now()
    workspace = app_workspace()
    unknown = [key for key in kpi_keys if key not in workspace.kpis]
    if unknown:
        raise HeadwayError(
            [Problem(f"no active KPI computed by a formula has the key {key!r}") for key in unknown]
        )
    keys = kpi_keys or tuple(workspace.kpis)
    datasets = {dataset.key: dataset for dataset in Dataset.objects.all()}
    breakdowns: dict[str, list[str]] = {}
    for key in keys:
        shared: set[str] | None = None
        for name in workspace.kpi_datasets(workspace.kpis[key]):
            dimensions = set(datasets[name].dimensions)
            shared = dimensions if shared is None else shared & dimensions
        for dimension in sorted(shared or ()):
            breakdowns.setdefault(dimension, []).append(key)
    computed: list[tuple[ComputeResult, str | None]] = []
    with app_engine(workspace) as engine:
        computed.append((engine.compute(ComputeRequest(kpis=keys, start=start, end=end)), None))
        for dimension, dimension_keys in breakdowns.items():
            request = ComputeRequest(kpis=tuple(dimension_keys), start=start, end=end, by=dimension)
            computed.append((engine.compute(request), dimension))
    as_of = _data_as_of(workspace)
    kpis = {kpi.key: kpi for kpi in Kpi.objects.filter(key__in=keys)}
    now = timezone.now()
    rows: list[tuple[Period, Result]] = []
    for result, breakdown in computed:
        for row in result.rows:
            rows.append(
                (
                    row.period,
                    _stored(kpis[row.kpi], workspace, result, row, breakdown or "", now, as_of),
                )
            )
    problems = _unstorable([result for _, result in rows])
    if problems:
        # Nothing is written: the results stay as they were, and the caller says why.
        _record_refusal(by, list(kpis.values()), problems)
        raise HeadwayError(problems)
    with transaction.atomic():
        # Read in the writing transaction, so that a period closed while the engine ran
        # is left alone too.
        spans = locked_spans()
        locked = {
            period for period, _ in rows if is_period_locked(period.start, period.last_day, spans)
        }
        fresh = [result for period, result in rows if period not in locked]
        stale = exclude_locked(Result.objects.filter(kpi__in=kpis.values()), spans)
        if start is not None:
            stale = stale.filter(period_start__gte=start.start)
        if end is not None:
            stale = stale.filter(period_start__lte=end.last_day)
        removed = stale.count()
        stale.delete()
        Result.objects.bulk_create(fresh, batch_size=2000)
        audit_record(
            actor=by,
            action=RECOMPUTED,
            object_type="results.result",
            object_label=f"{len(kpis)} KPIs",
            before={"results": removed},
            after={
                "results": len(fresh),
                "kpis": sorted(kpis),
                "from": start.label if start else None,
                "to": end.label if end else None,
                "locked_periods": sorted({period.label for period in locked}),
            },
        )
    seconds = (timezone.now() - began).total_seconds()
    return RecomputeSummary(
        kpis=len(kpis), results=len(fresh), seconds=seconds, locked_periods=len(locked)
    )


def _record_refusal(by: User | None, kpis: list[Kpi], problems: list[Problem]) -> None:
    """Records, for each KPI of a refused recompute, that its stored results were not
    replaced and why, so that the pages and the API showing them can say so (see
    `headway.results.selectors.recompute_refusals`) until a recompute of the KPI is
    stored. The whole batch is refused, so KPIs without a problem of their own are named
    too, with the problems of the others."""
    with transaction.atomic():
        for kpi in sorted(kpis, key=lambda item: item.key):
            own = [problem.message for problem in problems if problem.key == kpi.key]
            others = sorted({str(problem.key) for problem in problems if problem.key != kpi.key})
            reason = "; ".join(own)
            if others:
                reason += ("; " if reason else "") + (
                    f"recomputed together with {', '.join(others)}, whose numbers cannot be stored"
                )
            audit_record(
                actor=by,
                action=RECOMPUTE_REFUSED,
                target=kpi,
                after={"problems": own, "with": others},
                reason=reason,
            )


def results_refresh_kpi(*, key: str, by: User | None) -> list[str]:
    """Brings one KPI's stored results up to date after it or its targets changed.

    Returns the problems that stopped the recompute (empty when it ran): the change itself
    is already saved and stands either way."""
    kpi = Kpi.objects.filter(key=key).first()
    if kpi is None or not kpi.is_active:
        return []
    if kpi.entry == EntryKind.MANUAL:
        # Values entered by hand: their Results follow the new targets and thresholds.
        manual_results_refresh(kpi=kpi, by=by)
        return []
    try:
        results_recompute(by=by, kpi_keys=(key,))
    except HeadwayError as error:
        return [problem.message for problem in error.problems]
    return []


def results_refresh_dataset(
    *,
    dataset_key: str,
    by: User | None,
    touched_from: datetime.datetime | None = None,
    touched_to: datetime.datetime | None = None,
) -> list[str]:
    """After new data in a dataset, recomputes the active KPIs whose measures read it.

    With `touched_from` and `touched_to`, the earliest and latest time among the rows the
    import added or changed (ImportRun.touched_from/to), only the periods those times
    touch and the periods that read them through prev() are recomputed, for the totals
    and every group (see headway.engine.incremental), which gives the results of a full
    recompute. With `touched_from` alone, every period from the one holding it onwards:
    earlier periods did not see the change, and later ones are all recomputed.

    Returns the problems that stopped the recompute (empty when it ran); the data itself
    is already in place either way."""
    try:
        workspace = app_workspace()
        keys = tuple(
            key for key, kpi in workspace.kpis.items() if dataset_key in workspace.kpi_datasets(kpi)
        )
        if not keys:
            return []
        if touched_from is None:
            results_recompute(by=by, kpi_keys=keys)
            return []
        if touched_to is not None:
            _results_refresh_touched(workspace, keys, dataset_key, touched_from, touched_to, by)
            return []
        # A day early, so that no offset between UTC and the organisation's zone can
        # leave out the period the change falls in.
        zone = zoneinfo.ZoneInfo(workspace.timezone)
        first_day = touched_from.astimezone(zone).date() - datetime.timedelta(days=1)
        by_grain: dict[Grain, list[str]] = {}
        for key in keys:
            by_grain.setdefault(workspace.kpis[key].spec.grain, []).append(key)
        for grain, grain_keys in by_grain.items():
            start = period_containing(grain, first_day, workspace.fiscal_year_start)
            results_recompute(by=by, kpi_keys=tuple(grain_keys), start=start)
    except HeadwayError as error:
        return [problem.message for problem in error.problems]
    return []


def _local_span(
    workspace: Workspace, first: datetime.datetime, last: datetime.datetime
) -> tuple[datetime.datetime, datetime.datetime]:
    """The touched times as local wall time. An import keeps a naive time column's values
    as they are but records them as UTC, while an aware column's are real UTC: the span
    covers both readings (the engine narrows it to the rows it finds in it)."""
    zone = zoneinfo.ZoneInfo(workspace.timezone)

    def readings(moment: datetime.datetime) -> list[datetime.datetime]:
        aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=datetime.UTC)
        return [
            aware.astimezone(zone).replace(tzinfo=None),
            aware.astimezone(datetime.UTC).replace(tzinfo=None),
        ]

    return min(readings(first)), max(readings(last))


def _known(
    workspace: Workspace, keys: tuple[str, ...], dimension: str
) -> tuple[dict[str, tuple[Period, Period]], dict[str, frozenset[str | None]]]:
    """The range of each KPI's stored totals, and the groups stored for `dimension`."""
    fiscal = workspace.fiscal_year_start
    periods: dict[str, tuple[Period, Period]] = {}
    groups: dict[str, set[str | None]] = {}
    rows = Result.objects.filter(kpi__key__in=keys, group_dimension=dimension).values_list(
        "kpi__key", "period_start", "group_value"
    )
    starts: dict[str, list[datetime.date]] = {}
    for key, start, group in rows:
        starts.setdefault(key, []).append(start)
        # The None group (rows without a value for the dimension) is stored as "".
        groups.setdefault(key, set()).add(group or None)
    for key, found in starts.items():
        grain = workspace.kpis[key].spec.grain
        periods[key] = (
            period_containing(grain, min(found), fiscal),
            period_containing(grain, max(found), fiscal),
        )
    return periods, {key: frozenset(found) for key, found in groups.items()}


def _results_refresh_touched(
    workspace: Workspace,
    keys: tuple[str, ...],
    dataset_key: str,
    touched_from: datetime.datetime,
    touched_to: datetime.datetime,
    by: User | None,
) -> None:
    """Recomputes only what the touched span reaches, and replaces exactly those Results
    (closed periods stay as they are)."""
    from headway.engine.incremental import Change, Known, recompute

    began = timezone.now()
    first, last = _local_span(workspace, touched_from, touched_to)
    change = Change(dataset=dataset_key, first=first, last=last)
    datasets = {dataset.key: dataset for dataset in Dataset.objects.all()}
    breakdowns: dict[str, list[str]] = {}
    for key in keys:
        shared: set[str] | None = None
        for name in workspace.kpi_datasets(workspace.kpis[key]):
            dimensions = set(datasets[name].dimensions)
            shared = dimensions if shared is None else shared & dimensions
        for dimension in sorted(shared or ()):
            breakdowns.setdefault(dimension, []).append(key)
    totals_range, _ = _known(workspace, keys, "")
    computed = []
    with app_engine(workspace) as engine:
        done = recompute(engine, [change], Known(periods=totals_range), kpis=keys)
        computed.append((done, ""))
        for dimension, dimension_keys in breakdowns.items():
            _, groups = _known(workspace, tuple(dimension_keys), dimension)
            known = Known(periods=totals_range, groups=groups)
            done = recompute(engine, [change], known, by=dimension, kpis=dimension_keys)
            computed.append((done, dimension))
    as_of = _data_as_of(workspace)
    kpis = {kpi.key: kpi for kpi in Kpi.objects.filter(key__in=keys)}
    now = timezone.now()
    rows: list[tuple[Period, Result]] = []
    for done, dimension in computed:
        for row, result in done.rows:
            rows.append(
                (row.period, _stored(kpis[row.kpi], workspace, result, row, dimension, now, as_of))
            )
    problems = _unstorable([result for _, result in rows])
    if problems:
        _record_refusal(by, list(kpis.values()), problems)
        raise HeadwayError(problems)
    with transaction.atomic():
        spans = locked_spans()
        locked = {
            period for period, _ in rows if is_period_locked(period.start, period.last_day, spans)
        }
        fresh = [result for period, result in rows if period not in locked]
        # Exactly the rows recomputed: per KPI, breakdown and period, the groups redone;
        # every row of a breakdown a KPI was computed in full for.
        replaced: dict[tuple[int, str, datetime.date], set[str]] = {}
        for stored in fresh:
            place = (stored.kpi.pk, stored.group_dimension, stored.period_start)
            replaced.setdefault(place, set()).add(stored.group_value)
        removed = 0
        stale = exclude_locked(Result.objects.all(), spans)
        for (kpi_id, dimension, start), values in replaced.items():
            removed += stale.filter(
                kpi_id=kpi_id, group_dimension=dimension, period_start=start, group_value__in=values
            ).delete()[0]
        for done, dimension in computed:
            if done.everything:
                removed += stale.filter(
                    kpi__key__in=done.everything, group_dimension=dimension
                ).delete()[0]
        Result.objects.bulk_create(fresh, batch_size=2000)
        audit_record(
            actor=by,
            action="results.recompute",
            object_type="results.result",
            object_label=f"{len(kpis)} KPIs",
            before={"results": removed},
            after={
                "results": len(fresh),
                "kpis": sorted(kpis),
                "dataset": dataset_key,
                "touched": [first.isoformat(), last.isoformat()],
                "periods": sorted({result.period for result in fresh}),
                "locked_periods": sorted({period.label for period in locked}),
                "seconds": round((timezone.now() - began).total_seconds(), 3),
            },
        )
