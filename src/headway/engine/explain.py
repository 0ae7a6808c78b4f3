"""Explaining a number: the KPI in plain words, its measures, period bounds, SQL and inputs.

Every number Headway shows can be traced to its formula, measures, filters, period
boundaries and the query; this module gathers those facts as data for any front end.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass

from headway.engine.compute import ComputeRequest, Engine, Number, ResultRow
from headway.engine.formula import measure_inputs, to_text
from headway.engine.model import Aggregation, Direction, Unit
from headway.engine.problems import HeadwayError, Problem
from headway.engine.workspace import ResolvedMeasure, Workspace
from headway.lib.periods import Period, PeriodLabelError, local_bounds, parse_period_label


@dataclass(frozen=True)
class MeasureInput:
    """One measure value that went into the number."""

    measure: str
    period: Period
    periods_back: int
    value: Number | None


@dataclass(frozen=True)
class Explanation:
    kpi_key: str
    kpi_name: str
    definition: str
    formula: str
    measures: tuple[tuple[ResolvedMeasure, str], ...]
    period: Period
    local_start: str
    local_end: str
    timezone: str
    sql: tuple[str, ...]
    inputs: tuple[MeasureInput, ...]
    rows: tuple[ResultRow, ...]
    target_reason: str | None
    target_from: str | None


_AGG_WORDS = {
    Aggregation.COUNT: "the number of rows",
    Aggregation.COUNT_DISTINCT: "the number of distinct values of {column}",
    Aggregation.SUM: "the sum of {column}",
    Aggregation.AVG: "the average of {column}",
    Aggregation.MIN: "the smallest {column}",
    Aggregation.MAX: "the largest {column}",
}


def describe_measure(measure: ResolvedMeasure) -> str:
    spec = measure.spec
    words = _AGG_WORDS[spec.agg].format(column=spec.column)
    if spec.agg is Aggregation.COUNT and spec.column:
        words = f"the number of rows with a value in {spec.column}"
    text = f"{words} in dataset {spec.dataset}"
    if measure.filter is not None:
        text += f" where {measure.filter.text}"
    text += f", placed in periods by {measure.time_column}"
    return text


def describe_kpi(workspace: Workspace, key: str) -> str:
    kpi = workspace.kpis[key]
    spec = kpi.spec
    better = "higher is better" if spec.direction is Direction.UP else "lower is better"
    unit = {
        Unit.COUNT: "a count",
        Unit.NUMBER: "a number",
        Unit.PERCENT: "a percentage (stored as a fraction: 0.08 is 8%)",
        Unit.CURRENCY: f"an amount in {workspace.model.organization.currency}",
        Unit.SCORE: "a score",
    }[spec.unit]
    return (
        f"{spec.name} ({spec.key}) is {to_text(kpi.formula)}, computed per {spec.grain.value} "
        f"from the measures' totals for the period (a ratio over a team is the ratio of its "
        f"sums). It is {unit}; {better}."
    )


def explain(
    workspace: Workspace, key: str, period_label: str | None, by: str | None = None
) -> Explanation:
    if key not in workspace.kpis:
        known = ", ".join(workspace.kpis)
        raise HeadwayError(Problem(f"unknown KPI {key!r} (the workspace has: {known})"))
    kpi = workspace.kpis[key]
    chosen: Period | None = None
    if period_label is not None:
        try:
            chosen = parse_period_label(period_label, workspace.fiscal_year_start)
        except PeriodLabelError as error:
            raise HeadwayError(Problem(f"--period: {error}")) from None
    with Engine(workspace) as engine:
        # The whole history first when no period is named, to find the latest one.
        request = ComputeRequest(kpis=(key,), start=chosen, end=chosen)
        result = engine.compute(request)
        periods = result.periods[key]
        if not periods:
            raise HeadwayError(
                Problem(
                    f"KPI {key} has no {kpi.spec.grain.value} starting within "
                    f"{period_label or 'the data'}"
                )
            )
        period = periods[-1]
        if chosen is None:
            result = engine.compute(ComputeRequest(kpis=(key,), start=period, end=period))
        total = [row for row in result.rows if row.period == period]
        rows = list(total)
        if by is not None:
            grouped = engine.compute(ComputeRequest(kpis=(key,), start=period, end=period, by=by))
            rows += [row for row in grouped.rows if row.period == period]
    inputs = tuple(
        MeasureInput(
            measure=name,
            period=period.shift(-back),
            periods_back=back,
            value=result.measure_value(workspace, name, period.shift(-back), None),
        )
        for name, back in measure_inputs(kpi.formula)
    )
    zone = zoneinfo.ZoneInfo(workspace.timezone)
    start, end = local_bounds(period, zone)
    entry = total[0].target_entry if total else None
    return Explanation(
        kpi_key=key,
        kpi_name=kpi.spec.name,
        definition=describe_kpi(workspace, key),
        formula=kpi.spec.formula,
        measures=tuple(
            (workspace.measures[name], describe_measure(workspace.measures[name]))
            for name in kpi.measures
        ),
        period=period,
        local_start=start.isoformat(sep=" "),
        local_end=end.isoformat(sep=" "),
        timezone=workspace.timezone,
        sql=tuple(sql for _, sql in result.scans),
        inputs=inputs,
        rows=tuple(rows),
        target_reason=entry.entry.reason if entry else None,
        target_from=entry.entry.from_ if entry else None,
    )
