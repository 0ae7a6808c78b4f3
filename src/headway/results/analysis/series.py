"""Changes, year-to-date totals and pacing of one KPI's series of values (pure arithmetic).

A series is a sequence of :class:`Point`: a period, its value and its target, either of which
may be missing. Nothing here reads a database; :mod:`.kpis` builds the points from Results.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass

from headway.engine.model import Direction
from headway.lib.periods import Grain, Period, period_containing


@dataclass(frozen=True)
class Point:
    """One period of a series: its value and target (None when there is none)."""

    period: Period
    value: float | None
    target: float | None


@dataclass(frozen=True)
class Change:
    """How a value moved against an earlier period's: ``absolute`` is now minus then;
    ``relative`` is that over the earlier value's magnitude (None when it was 0)."""

    period: str
    previous: float
    absolute: float
    relative: float | None


@dataclass(frozen=True)
class Ytd:
    """Year to date of an additive KPI: the values and targets of the fiscal year's periods
    up to and including the analysed one, summed. ``target`` is None when any of those
    periods has no target."""

    year: str
    periods: int
    value: float
    target: float | None

    @property
    def attainment(self) -> float | None:
        if self.target is None or self.target == 0:
            return None
        return self.value / self.target


@dataclass(frozen=True)
class Pacing:
    """An additive KPI part-way through its period: the value so far against the target
    prorated by the days elapsed (today counts as elapsed, so on the last day the whole
    target is expected). ``on_pace`` is direction-aware; ``projected`` extends the value at
    the same daily rate to the end of the period."""

    value: float
    target: float
    expected: float
    elapsed_days: int
    total_days: int
    on_pace: bool
    projected: float


def meets(value: float, target: float, direction: Direction) -> bool:
    """Whether ``value`` meets ``target``: at or above it, or at or below it for down KPIs."""
    return value >= target if direction is Direction.UP else value <= target


def change(current: float | None, previous: Point | None) -> Change | None:
    """``current`` against the value of ``previous`` (None when either is missing)."""
    if current is None or previous is None or previous.value is None:
        return None
    absolute = current - previous.value
    relative = absolute / abs(previous.value) if previous.value != 0 else None
    return Change(previous.period.label, previous.value, absolute, relative)


def point_at(points: Sequence[Point], period: Period) -> Point | None:
    for point in points:
        if point.period == period:
            return point
    return None


def changes(points: Sequence[Point], period: Period) -> tuple[Change | None, Change | None]:
    """The value of ``period`` against the period before and the same period a year before
    (for weeks, 52 weeks before: the same weekday, a week off after an ISO year of 53)."""
    current = point_at(points, period)
    value = current.value if current else None
    per_year = {Grain.WEEK: 52, Grain.MONTH: 12, Grain.QUARTER: 4, Grain.YEAR: 1}[period.grain]
    return (
        change(value, point_at(points, period.shift(-1))),
        change(value, point_at(points, period.shift(-per_year))),
    )


def off_target_streak(points: Sequence[Point], period: Period, direction: Direction) -> int:
    """How many periods in a row, ending with ``period``, had a value that missed its target."""
    by_period = {point.period: point for point in points}
    streak = 0
    current = period
    while (point := by_period.get(current)) is not None:
        if (
            point.value is None
            or point.target is None
            or meets(point.value, point.target, direction)
        ):
            break
        streak += 1
        current = current.shift(-1)
    return streak


def year_to_date(points: Sequence[Point], period: Period) -> Ytd | None:
    """The fiscal year's values and targets up to ``period``, summed (additive KPIs only).

    The fiscal year is the one ``period`` starts in, following ``period.fiscal_year_start``:
    with April as its start, 2026-06 sums April, May and June 2026. A period counts when its
    first day falls in the fiscal year (so weeks straddling its start count in the year they
    start in). Periods without a value count as nothing; None when no period has a value.
    """
    year = period_containing(Grain.YEAR, period.start, period.fiscal_year_start)
    chosen = [
        point
        for point in points
        if year.start <= point.period.start <= period.start and point.value is not None
    ]
    if not chosen:
        return None
    value = sum(point.value for point in chosen if point.value is not None)
    targets = [point.target for point in chosen]
    target = (
        sum(target for target in targets if target is not None)
        if all(target is not None for target in targets)
        else None
    )
    return Ytd(year.label, len(chosen), value, target)


def pacing(
    value: float | None,
    target: float | None,
    period: Period,
    today: datetime.date,
    direction: Direction,
) -> Pacing | None:
    """The value so far against the target prorated by elapsed days (additive KPIs only).

    None unless ``today`` falls inside ``period`` and both value and target are known.
    """
    if value is None or target is None or not period.start <= today < period.end:
        return None
    total_days = (period.end - period.start).days
    elapsed_days = (today - period.start).days + 1
    share = elapsed_days / total_days
    expected = target * share
    return Pacing(
        value=value,
        target=target,
        expected=expected,
        elapsed_days=elapsed_days,
        total_days=total_days,
        on_pace=meets(value, expected, direction),
        projected=value / share,
    )
