"""The analysis of one KPI in one period, read from its stored Results and target versions.

This is the only module of the package that touches the database; the arithmetic is in the
pure modules beside it. The numbers are floats: they are derived figures for reading, while
the stored Results keep the exact Decimals.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.utils import timezone

from headway.accounts.models import Organization, Team
from headway.engine.formula import FormulaError, measure_names, parse_formula
from headway.engine.model import Direction, Unit
from headway.kpis.choices import EntryKind
from headway.kpis.models import Kpi, Measure, TargetVersion
from headway.lib.periods import Grain, Period, parse_period_label, period_containing
from headway.results.analysis.anomalies import Anomaly, anomalies
from headway.results.analysis.drivers import Driver, Pair, RateMix, contributions, rate_mix
from headway.results.analysis.forecast import Forecast, forecast_to_span
from headway.results.analysis.insights import Facts, Language, insights
from headway.results.analysis.realism import WINDOW, Realism, realism
from headway.results.analysis.series import (
    Change,
    Pacing,
    Point,
    Ytd,
    changes,
    off_target_streak,
    pacing,
    year_to_date,
)
from headway.results.analysis.shape import FormulaShape, Shape, formula_shape
from headway.results.choices import Status
from headway.results.models import Result

PREFERRED_DIMENSION = "team"


@dataclass(frozen=True)
class KpiAnalysis:
    """What can be said of a KPI in a period (see the package's docstring for each part).

    ``value``, ``target`` and ``status`` are the period's stored total. The changes compare
    it with the period before and the same period a year before; ``ytd`` and ``pacing`` are
    for additive KPIs only, ``pacing`` only while the period is under way. ``forecast``,
    ``realism``, ``anomalies`` (period labels) and the streak in the insights use complete
    periods only: a period under way is forecast rather than read. ``drivers`` compare each
    group's value with the period before, biggest move first, across every dimension the KPI
    has group results for; ``rate_mix`` splits a ratio KPI's change by team (or the first
    dimension it has).
    """

    kpi: str
    period: str
    value: float | None
    target: float | None
    status: Status
    change_previous: Change | None
    change_last_year: Change | None
    ytd: Ytd | None
    pacing: Pacing | None
    forecast: Forecast | None
    realism: Realism | None
    anomalies: list[str]
    drivers: list[Driver]
    rate_mix: RateMix | None
    insights_en: list[str]
    insights_zh: list[str]


def _float(value: object) -> float | None:
    return None if value is None else float(str(value))


def kpi_shape(kpi: Kpi) -> FormulaShape:
    """Whether the KPI is additive, a ratio, or neither; values entered by hand are neither."""
    if kpi.entry != EntryKind.FORMULA or not kpi.formula:
        return FormulaShape(Shape.OTHER)
    try:
        names = measure_names(parse_formula(kpi.formula))
    except FormulaError:
        return FormulaShape(Shape.OTHER)
    aggregations = dict(Measure.objects.filter(name__in=names).values_list("name", "agg"))
    return formula_shape(kpi.formula, aggregations)


def _target_of(versions: list[TargetVersion]) -> Callable[[Period], float | None]:
    """The organisation-wide target in effect in a period: the version with the latest start
    at or before its first day (the later decision on the same day)."""

    def target_of(period: Period) -> float | None:
        chosen = None
        for version in versions:
            if version.effective_start <= period.start:
                chosen = version
        return _float(chosen.value) if chosen is not None else None

    return target_of


def _today(organization: Organization) -> datetime.date:
    return timezone.now().astimezone(ZoneInfo(organization.timezone)).date()


def analyse_kpi(
    kpi: Kpi,
    period: str | None = None,
    *,
    forecast: bool = True,
    today: datetime.date | None = None,
) -> KpiAnalysis:
    """Analyses ``kpi`` in ``period`` (a label of the KPI's grain; by default its latest
    period with a result up to today). ``today`` is the organisation's local date unless
    given. ``forecast=False`` skips the forecast, and with it the seconds statsforecast takes
    to import. Raises PeriodLabelError for a bad label and ValueError for one of another
    grain."""
    organization = Organization.current()
    fiscal_year_start = organization.fiscal_year_start
    today = today or _today(organization)
    grain = Grain(kpi.grain)
    direction, unit = Direction(kpi.direction), Unit(kpi.unit)
    shape = kpi_shape(kpi)

    rows = list(Result.objects.filter(kpi=kpi).order_by("period_start"))
    totals = {row.period_start: row for row in rows if not row.group_dimension}
    groups: dict[str, dict[datetime.date, list[Result]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        if row.group_dimension:
            groups[row.group_dimension][row.period_start].append(row)

    def period_of(start: datetime.date) -> Period:
        return Period(grain, start, fiscal_year_start)

    if period is not None:
        analysed = parse_period_label(period, fiscal_year_start)
        if analysed.grain is not grain:
            raise ValueError(f"{kpi.key} is computed per {grain}, and {period!r} is not a {grain}")
    else:
        past = [start for start in totals if start <= today]
        analysed = (
            period_of(max(past)) if past else period_containing(grain, today, fiscal_year_start)
        )
    under_way = analysed.start <= today < analysed.end
    last_complete = analysed.shift(-1) if under_way else analysed

    points = [
        Point(period_of(start), _float(row.value), _float(row.target))
        for start, row in sorted(totals.items())
        if start <= analysed.start
    ]
    complete = [point for point in points if point.period <= last_complete]
    current = totals.get(analysed.start)
    value = _float(current.value) if current else None
    versions = list(
        TargetVersion.objects.filter(kpi=kpi, where_dimension="").order_by("effective_start", "pk")
    )
    target_of = _target_of(versions)
    target = _float(current.target) if current and current.target is not None else None
    if target is None:
        target = target_of(analysed)

    change_previous, change_last_year = changes(points, analysed)
    ytd = year_to_date(points, analysed) if shape.additive else None
    paced = (
        pacing(value, target, analysed, today, direction) if shape.additive and under_way else None
    )
    predicted = (
        forecast_to_span(complete, last_complete, target_of, direction, additive=shape.additive)
        if forecast
        else None
    )
    fair = (
        realism([point.value for point in complete][-WINDOW:], target, direction)
        if target is not None
        else None
    )
    unusual: list[Anomaly] = anomalies([point.value for point in complete])
    unusual_labels = [complete[found.index].period.label for found in unusual]
    own_anomaly = next(
        (found for found in unusual if complete[found.index].period == analysed), None
    )

    before = analysed.shift(-1)
    drivers: list[Driver] = []
    for dimension, by_start in sorted(groups.items()):
        drivers.extend(
            contributions(
                dimension,
                {row.group_value: _float(row.value) for row in by_start.get(before.start, [])},
                {row.group_value: _float(row.value) for row in by_start.get(analysed.start, [])},
                additive=shape.additive,
            )
        )
    drivers.sort(key=lambda d: -abs(d.change) if d.change is not None else 1)
    split = _rate_mix(shape, groups, before, analysed)

    team_names = dict(Team.objects.values_list("key", "name"))
    facts = Facts(
        name=kpi.name,
        unit=unit,
        direction=direction,
        period=analysed,
        off_target_streak=off_target_streak(complete, last_complete, direction),
        ytd=ytd,
        pacing=paced,
        forecast=predicted,
        realism=fair,
        anomaly=own_anomaly,
        previous_period=before.label,
        drivers=drivers,
        rate_mix=split,
        group_names=team_names,
    )
    return KpiAnalysis(
        kpi=kpi.key,
        period=analysed.label,
        value=value,
        target=target,
        status=Status(current.status) if current else Status.NONE,
        change_previous=change_previous,
        change_last_year=change_last_year,
        ytd=ytd,
        pacing=paced,
        forecast=predicted,
        realism=fair,
        anomalies=unusual_labels,
        drivers=drivers,
        rate_mix=split,
        insights_en=insights(facts, Language.EN, additive=shape.additive),
        insights_zh=insights(facts, Language.ZH_HANT, additive=shape.additive),
    )


def _pairs(rows: list[Result], numerator: str, denominator: str) -> dict[str, Pair]:
    pairs: dict[str, Pair] = {}
    for row in rows:
        n, d = row.measures.get(numerator), row.measures.get(denominator)
        if isinstance(n, int | float) and isinstance(d, int | float):
            pairs[row.group_value] = (float(n), float(d))
    return pairs


def _rate_mix(
    shape: FormulaShape,
    groups: dict[str, dict[datetime.date, list[Result]]],
    before: Period,
    after: Period,
) -> RateMix | None:
    if shape.shape is not Shape.RATIO or not groups or not shape.numerator:
        return None
    assert shape.denominator is not None
    dimension = PREFERRED_DIMENSION if PREFERRED_DIMENSION in groups else min(groups)
    by_start = groups[dimension]
    return rate_mix(
        dimension,
        shape.numerator,
        shape.denominator,
        _pairs(by_start.get(before.start, []), shape.numerator, shape.denominator),
        _pairs(by_start.get(after.start, []), shape.numerator, shape.denominator),
    )
