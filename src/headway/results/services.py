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
from headway.engine.compute import ComputeRequest, ComputeResult, Engine, ResultRow
from headway.engine.formula import measure_inputs
from headway.engine.problems import HeadwayError, Problem
from headway.engine.workspace import Workspace, workspace_from_data
from headway.kpis.choices import EntryKind
from headway.kpis.models import Dataset, Kpi
from headway.kpis.workspace_io import workspace_data
from headway.lib.periods import Grain, Period, period_containing
from headway.results.locks import exclude_locked, is_period_locked, locked_spans
from headway.results.manual import manual_results_refresh
from headway.results.models import Result


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
    with Engine(workspace) as engine:
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
                    Result(
                        kpi=kpis[row.kpi],
                        period=row.period.label,
                        period_start=row.period.start,
                        group_dimension=breakdown or "",
                        group_value=(row.group or "") if breakdown else "",
                        value=_decimal(row.value),
                        target=_decimal(row.target),
                        attainment=_decimal(row.attainment),
                        status=row.status.value,
                        measures=_measure_values(workspace, result, row),
                        computed_at=now,
                        data_as_of=as_of,
                    ),
                )
            )
    problems = _unstorable([result for _, result in rows])
    if problems:
        # Nothing is written: the results stay as they were, and the caller says why.
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
            action="results.recompute",
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
    *, dataset_key: str, by: User | None, touched_from: datetime.datetime | None = None
) -> list[str]:
    """After new data in a dataset, recomputes the active KPIs whose measures read it.

    With `touched_from`, the earliest time among the rows the import changed, only the
    periods from the one holding that time onwards are recomputed (per KPI grain), which
    gives the same results as a full recompute: earlier periods did not see the change,
    and later ones (prev() of a changed period included) are all recomputed.

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
