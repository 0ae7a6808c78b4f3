"""Reporting periods: ISO weeks, months, and calendar or fiscal quarters and years.

A :class:`Period` is a span of local calendar days ``[start, end)``. Labels are the
text people write in workspace files and read in reports: ``2026-W05`` (ISO week),
``2026-01`` (month), ``2026-Q1`` (quarter) and ``2026`` (year).

Quarters and years follow the fiscal year when ``fiscal_year_start`` is not 1, and are
labelled by the calendar year in which the fiscal year starts: with
``fiscal_year_start=4``, ``2026`` runs from 2026-04-01 to 2027-03-31 and ``2026-Q4`` is
January to March 2027. Weeks and months never depend on the fiscal year.

The module is pure date arithmetic; time zones only come in at the edge, where
:func:`to_local` turns stored instants into local wall time and :func:`local_bounds`
turns a period into the instants that bound it.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

__all__ = [
    "Grain",
    "Period",
    "PeriodLabelError",
    "local_bounds",
    "parse_period_label",
    "period_containing",
    "periods_between",
    "to_local",
    "validate_fiscal_year_start",
]


class Grain(enum.StrEnum):
    """How long a period is."""

    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


class PeriodLabelError(ValueError):
    """A period label that cannot be parsed.

    ``str(e)`` is a sentence for people naming the label and what labels look like, e.g.
    ``'2026-13' is not a period label: use 2026-W05, 2026-01, 2026-Q1 or 2026``.
    """


_LABEL_HINT: Final = "use 2026-W05, 2026-01, 2026-Q1 or 2026"

# [0-9] rather than \d: \d also matches digits of other scripts, which int() would
# happily accept, so "٢٠٢٦" would otherwise pass as a year.
_WEEK_LABEL: Final = re.compile(r"([0-9]{4})-W([0-9]{2})")
_MONTH_LABEL: Final = re.compile(r"([0-9]{4})-([0-9]{2})")
_QUARTER_LABEL: Final = re.compile(r"([0-9]{4})-Q([0-9])")
_YEAR_LABEL: Final = re.compile(r"([0-9]{4})")

_MONTHS_PER_STEP: Final[dict[Grain, int]] = {Grain.MONTH: 1, Grain.QUARTER: 3, Grain.YEAR: 12}


def validate_fiscal_year_start(month: int) -> None:
    """Raise ValueError unless ``month`` is a month number from 1 to 12."""
    # bool is an int subclass; True as "January" is a bug upstream, not a month.
    if isinstance(month, bool) or not isinstance(month, int) or not 1 <= month <= 12:
        raise ValueError(f"fiscal_year_start must be a month number from 1 to 12, not {month!r}")


def _month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def _first_of_month_index(index: int) -> date:
    year, month0 = divmod(index, 12)
    if not date.min.year <= year <= date.max.year:
        raise OverflowError(f"the period would start in year {year}, outside 1..9999")
    return date(year, month0 + 1, 1)


def _start_containing(grain: Grain, day: date, fiscal_year_start: int) -> date:
    if grain is Grain.WEEK:
        # 0001-01-01 is a Monday, so this never steps below date.min.
        return day - timedelta(days=day.weekday())
    if grain is Grain.MONTH:
        return day.replace(day=1)
    step = _MONTHS_PER_STEP[grain]
    months_into_step = (day.month - fiscal_year_start) % step
    return _first_of_month_index(_month_index(day) - months_into_step)


def _shifted_start(grain: Grain, start: date, n: int) -> date:
    if grain is Grain.WEEK:
        return start + timedelta(weeks=n)
    return _first_of_month_index(_month_index(start) + n * _MONTHS_PER_STEP[grain])


def _fiscal_year(day: date, fiscal_year_start: int) -> int:
    return day.year if day.month >= fiscal_year_start else day.year - 1


@dataclass(frozen=True)
class Period:
    """A week, month, quarter or year of local calendar days, from ``start`` to ``end``.

    ``start`` must be the first day of a period of ``grain``: a Monday for weeks, the
    first of a month otherwise, on a quarter or fiscal year boundary for quarters and
    years. Anything else raises ValueError, because a period starting mid-week would have
    no label. ``fiscal_year_start`` (a month, 1-12) only moves quarters and years.
    ``grain`` may also be given as its string value (``"week"``).

    Periods of the same grain order by ``start``; ordering periods of different grains
    raises TypeError. Equality compares all three fields.
    """

    grain: Grain
    start: date
    fiscal_year_start: int = 1

    def __post_init__(self) -> None:
        # Grain is a StrEnum so that "week" read from a file or a database column works
        # too; normalising here keeps `is` comparisons and equality with real members.
        object.__setattr__(self, "grain", Grain(self.grain))
        # A datetime is a date too, but would break comparisons with plain dates later.
        if isinstance(self.start, datetime) or not isinstance(self.start, date):
            raise TypeError(f"start must be a date, not {self.start!r}")
        validate_fiscal_year_start(self.fiscal_year_start)
        first_day = _start_containing(self.grain, self.start, self.fiscal_year_start)
        if first_day != self.start:
            raise ValueError(
                f"{self.start.isoformat()} is not the first day of a {self.grain}"
                f" (that {self.grain} starts on {first_day.isoformat()})"
            )

    @property
    def end(self) -> date:
        """The first day after the period, which is the start of the next one.

        Raises OverflowError for the last periods before 9999-12-31.
        """
        return _shifted_start(self.grain, self.start, 1)

    @property
    def last_day(self) -> date:
        """The last day in the period."""
        return self.end - timedelta(days=1)

    @property
    def label(self) -> str:
        """The period's name: ``2026-W05``, ``2026-01``, ``2026-Q1`` or ``2026``."""
        if self.grain is Grain.WEEK:
            iso = self.start.isocalendar()
            return f"{iso.year:04d}-W{iso.week:02d}"
        if self.grain is Grain.MONTH:
            return f"{self.start.year:04d}-{self.start.month:02d}"
        fiscal_year = _fiscal_year(self.start, self.fiscal_year_start)
        if self.grain is Grain.YEAR:
            return f"{fiscal_year:04d}"
        quarter = (self.start.month - self.fiscal_year_start) % 12 // 3 + 1
        return f"{fiscal_year:04d}-Q{quarter}"

    def shift(self, n: int) -> Period:
        """The period ``n`` periods later, or earlier for negative ``n``.

        Raises OverflowError when that period would start outside years 1..9999.
        """
        return Period(self.grain, _shifted_start(self.grain, self.start, n), self.fiscal_year_start)

    def _comparable_start(self, other: object) -> date | None:
        if not isinstance(other, Period):
            return None
        if other.grain is not self.grain:
            raise TypeError(f"cannot order a {self.grain} against a {other.grain}")
        return other.start

    def __lt__(self, other: object) -> bool:
        other_start = self._comparable_start(other)
        if other_start is None:
            return NotImplemented
        return self.start < other_start

    def __le__(self, other: object) -> bool:
        other_start = self._comparable_start(other)
        if other_start is None:
            return NotImplemented
        return self.start <= other_start

    def __gt__(self, other: object) -> bool:
        other_start = self._comparable_start(other)
        if other_start is None:
            return NotImplemented
        return self.start > other_start

    def __ge__(self, other: object) -> bool:
        other_start = self._comparable_start(other)
        if other_start is None:
            return NotImplemented
        return self.start >= other_start

    def __str__(self) -> str:
        return self.label


def period_containing(grain: Grain, day: date, fiscal_year_start: int = 1) -> Period:
    """The period of ``grain`` that ``day`` falls in.

    Raises OverflowError when that period would start before 0001-01-01 (a fiscal
    period containing January of year 1).
    """
    validate_fiscal_year_start(fiscal_year_start)
    if isinstance(day, datetime):
        # Taking .date() silently would use whatever zone the datetime is in; the caller
        # has to decide the local day (see to_local).
        raise TypeError(f"day must be a date, not a datetime: {day!r}")
    grain = Grain(grain)
    return Period(grain, _start_containing(grain, day, fiscal_year_start), fiscal_year_start)


def _label_error(label: str, reason: str = _LABEL_HINT) -> PeriodLabelError:
    shown = label if len(label) <= 40 else label[:37] + "..."
    return PeriodLabelError(f"{shown!r} is not a period label: {reason}")


def parse_period_label(label: str, fiscal_year_start: int = 1) -> Period:
    """The period a label such as ``2026-W05``, ``2026-01``, ``2026-Q1`` or ``2026`` names.

    Surrounding whitespace is ignored. Quarter and year labels are read as fiscal when
    ``fiscal_year_start`` is not 1; the returned period carries ``fiscal_year_start``
    whatever its grain. Raises PeriodLabelError for anything else.
    """
    validate_fiscal_year_start(fiscal_year_start)
    if not isinstance(label, str):
        raise TypeError(f"a period label is a string, not {label!r}")
    text = label.strip()

    if match := _WEEK_LABEL.fullmatch(text):
        year, week = int(match[1]), int(match[2])
        if year < 1:
            raise _label_error(label)
        try:
            start = date.fromisocalendar(year, week, 1)
        except ValueError:
            if week == 53:
                raise _label_error(
                    label, f"ISO year {match[1]} has 52 weeks, so its last is {match[1]}-W52"
                ) from None
            raise _label_error(label) from None
        return Period(Grain.WEEK, start, fiscal_year_start)

    if match := _MONTH_LABEL.fullmatch(text):
        year, month = int(match[1]), int(match[2])
        if year < 1 or not 1 <= month <= 12:
            raise _label_error(label)
        return Period(Grain.MONTH, date(year, month, 1), fiscal_year_start)

    if match := _QUARTER_LABEL.fullmatch(text):
        year, quarter = int(match[1]), int(match[2])
        if year < 1 or not 1 <= quarter <= 4:
            raise _label_error(label)
        first_month = year * 12 + fiscal_year_start - 1 + 3 * (quarter - 1)
        # Late quarters of fiscal year 9999 start in the year 10000, which date cannot hold.
        try:
            start = _first_of_month_index(first_month)
        except OverflowError:
            raise _label_error(label, "it would start after the year 9999") from None
        return Period(Grain.QUARTER, start, fiscal_year_start)

    if match := _YEAR_LABEL.fullmatch(text):
        year = int(match[1])
        if year < 1:
            raise _label_error(label)
        return Period(Grain.YEAR, date(year, fiscal_year_start, 1), fiscal_year_start)

    raise _label_error(label)


def periods_between(
    grain: Grain, first_day: date, last_day: date, fiscal_year_start: int = 1
) -> list[Period]:
    """Every period of ``grain`` whose first day lies in ``[first_day, last_day]``, ascending.

    A period already under way on ``first_day`` is left out, as is one that starts after
    ``last_day``; the list is empty when ``last_day`` is before ``first_day``.
    """
    validate_fiscal_year_start(fiscal_year_start)
    if last_day < first_day:
        return []
    grain = Grain(grain)
    if isinstance(first_day, datetime) or isinstance(last_day, datetime):
        raise TypeError("periods_between takes dates, not datetimes")
    # Found by month arithmetic rather than by shifting the containing period, which may
    # start before 0001-01-01 (a fiscal year containing January of year 1).
    try:
        if grain is Grain.WEEK:
            first_start = first_day + timedelta(days=-first_day.weekday() % 7)
        else:
            step = _MONTHS_PER_STEP[grain]
            index = _month_index(first_day)
            months_to_go = (fiscal_year_start - first_day.month) % step
            if months_to_go == 0 and first_day.day > 1:
                months_to_go = step
            first_start = _first_of_month_index(index + months_to_go)
    except OverflowError:
        return []
    period = Period(grain, first_start, fiscal_year_start)
    periods: list[Period] = []
    while period.start <= last_day:
        periods.append(period)
        try:
            period = period.shift(1)
        except OverflowError:
            break
    return periods


def to_local(moment: datetime, tz: ZoneInfo) -> datetime:
    """The naive local wall time in ``tz`` of an aware ``moment``.

    A naive ``moment`` is taken to be local already and is returned unchanged. In the
    hour repeated when clocks go back, the result keeps ``fold=1`` for the second pass.
    """
    if moment.utcoffset() is None:
        return moment
    return moment.astimezone(tz).replace(tzinfo=None)


def _first_instant_of_day(day: date, tz: ZoneInfo) -> datetime:
    midnight = datetime.combine(day, time())
    # fold=0 picks the first of two midnights when clocks go back across it.
    candidate = midnight.replace(tzinfo=tz)
    utc = candidate.astimezone(UTC)
    if utc.astimezone(tz).replace(tzinfo=None) == midnight:
        return candidate
    # Midnight falls in a gap. The instant clocks jump is somewhere between reading
    # midnight with the offset after the jump (fold=1) and with the offset before it
    # (fold=0); it is the first instant whose wall time is midnight or later. Searching
    # rather than trusting the fold=0 reading covers jumps that do not start at 00:00.
    low = midnight.replace(tzinfo=tz, fold=1).astimezone(UTC)
    high = utc
    if high < low:
        low, high = high, low
    low_s, high_s = int(low.timestamp()), int(high.timestamp())
    while low_s < high_s:
        mid_s = (low_s + high_s) // 2
        wall = datetime.fromtimestamp(mid_s, tz).replace(tzinfo=None)
        if wall >= midnight:
            high_s = mid_s
        else:
            low_s = mid_s + 1
    return datetime.fromtimestamp(high_s, tz)


def local_bounds(period: Period, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The aware instants at which ``period`` starts and ends in ``tz``: ``[start, end)``.

    Each is local midnight of ``period.start`` and ``period.end``. When clocks jump over
    midnight that day, the bound is the first instant that exists on it (01:00 for a
    one-hour jump at 00:00); when they go back across midnight, the earlier midnight.
    Both carry ``tz``, so compare them with other aware datetimes, not with naive ones.
    """
    return _first_instant_of_day(period.start, tz), _first_instant_of_day(period.end, tz)
