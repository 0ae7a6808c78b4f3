"""Numbers, periods and statuses as people read them, in the active language.

Pure helpers over Django's locale formats, shared by the templates and the charts.
"""

from __future__ import annotations

import datetime
import re
from decimal import ROUND_HALF_UP, Decimal
from typing import assert_never

from django.utils import formats, numberformat
from django.utils.translation import gettext as _

from headway.kpis.choices import Unit
from headway.results.choices import Status

Amount = Decimal | float | int

NO_VALUE = "—"

_WEEK = re.compile(r"^([0-9]{4})-W([0-9]{2})$")
_MONTH = re.compile(r"^([0-9]{4})-([0-9]{2})$")
_QUARTER = re.compile(r"^([0-9]{4})-Q([1-4])$")
_YEAR = re.compile(r"^([0-9]{4})$")


def as_decimal(value: Amount) -> Decimal:
    # repr of a float is the shortest text that round-trips: 0.08, not 0.08000000000000000166.
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def _rounded(value: Amount, places: int) -> Decimal:
    # Django's number formatting cuts digits off; round half up first, as people do.
    return as_decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def number_text(value: Amount, places: int = 0) -> str:
    """A number grouped by thousands with the active language's decimal mark.

    Django's zh-Hant format has no thousands separator and groups by four (萬); Taiwan
    and Hong Kong write business figures as 1,234,567, so an empty separator means
    a comma every three digits.
    """
    separator = str(formats.get_format("THOUSAND_SEPARATOR"))
    grouping = formats.get_format("NUMBER_GROUPING")
    if not separator:
        separator, grouping = ",", 3
    return str(
        numberformat.format(
            _rounded(value, places),
            str(formats.get_format("DECIMAL_SEPARATOR")),
            decimal_pos=places,
            grouping=grouping,
            thousand_sep=separator,
            force_grouping=True,
        )
    )


def _is_whole(value: Amount) -> bool:
    return as_decimal(value) % 1 == 0


def kpi_value_text(value: Amount | None, unit: str, currency: str = "") -> str:
    """A KPI value in its unit: 8.3% for a percent (stored as 0.083), TWD 5,000, 1,234."""
    if value is None:
        return NO_VALUE
    kind = Unit(unit)
    if kind is Unit.PERCENT:
        return f"{number_text(as_decimal(value) * 100, 1)}%"
    if kind is Unit.CURRENCY:
        places = 0 if abs(as_decimal(value)) >= 100 else 2
        amount = number_text(value, places)
        return f"{currency} {amount}" if currency else amount
    if kind is Unit.COUNT:
        return number_text(value, 0 if _is_whole(value) else 1)
    if kind is Unit.NUMBER:
        return number_text(value, 0 if _is_whole(value) else 2)
    if kind is Unit.SCORE:
        return number_text(value, 2)
    assert_never(kind)


def attainment_text(value: Amount | None) -> str:
    """Attainment as a percentage of the target: 0.935 is 93.5%."""
    if value is None:
        return NO_VALUE
    return f"{number_text(as_decimal(value) * 100, 1)}%"


def period_name(label: str, start: datetime.date | None = None) -> str:
    """A period label in words of the active language: July 2026, 2026 Q3, 2026 week 5."""
    if match := _MONTH.match(label):
        day = start or datetime.date(int(match[1]), int(match[2]), 1)
        return str(formats.date_format(day, "YEAR_MONTH_FORMAT"))
    if match := _QUARTER.match(label):
        return _("%(year)s Q%(quarter)s") % {"year": match[1], "quarter": match[2]}
    if match := _WEEK.match(label):
        return _("%(year)s week %(week)s") % {"year": match[1], "week": int(match[2])}
    if _YEAR.match(label):
        return label
    return label


def status_of(value: str | Status | None) -> Status:
    return Status(value) if value else Status.NONE


def trend_words(trend: str, is_good: bool | None) -> str:
    """What a trend arrow says, for people who cannot see it."""
    if trend == "up":
        if is_good is True:
            return _("Up since the previous period (better)")
        return _("Up since the previous period (worse)")
    if trend == "down":
        if is_good is True:
            return _("Down since the previous period (better)")
        return _("Down since the previous period (worse)")
    if trend == "flat":
        return _("Unchanged since the previous period")
    return _("No earlier period to compare with")


TREND_ARROWS = {"up": "↑", "down": "↓", "flat": "→", "none": "·"}


def grain_word(grain: str) -> str:
    """The period length as it reads inside a sentence ("per month")."""
    words = {
        "week": _("per week"),
        "month": _("per month"),
        "quarter": _("per quarter"),
        "year": _("per year"),
    }
    return words.get(grain, grain)


def unit_words(unit: str, currency: str) -> str:
    kind = Unit(unit)
    if kind is Unit.COUNT:
        return _("It is a count")
    if kind is Unit.NUMBER:
        return _("It is a number")
    if kind is Unit.PERCENT:
        return _("It is a percentage")
    if kind is Unit.CURRENCY:
        return _("It is an amount in %(currency)s") % {"currency": currency}
    if kind is Unit.SCORE:
        return _("It is a score")
    assert_never(kind)


def kpi_sentence(
    *, name: str, formula: str, grain: str, unit: str, direction: str, currency: str
) -> str:
    """A KPI's definition in plain words, in the active language."""
    computed = _(
        "%(name)s is %(formula)s, computed %(grain)s from the totals of its measures for "
        "the period (a ratio over a team is the ratio of its sums)."
    ) % {"name": name, "formula": formula, "grain": grain_word(grain)}
    better = _("higher is better") if direction == "up" else _("lower is better")
    return f"{computed} " + _("%(unit)s; %(better)s.") % {
        "unit": unit_words(unit, currency),
        "better": better,
    }


def measure_sentence(
    *, agg: str, column: str, dataset: str, filter_text: str, time_column: str
) -> str:
    """What a measure adds up, in plain words."""
    if agg == "count" and column:
        what = _("the number of rows with a value in %(column)s") % {"column": column}
    else:
        what = {
            "count": _("the number of rows"),
            "count_distinct": _("the number of distinct values of %(column)s"),
            "sum": _("the sum of %(column)s"),
            "avg": _("the average of %(column)s"),
            "min": _("the smallest %(column)s"),
            "max": _("the largest %(column)s"),
        }[agg] % {"column": column}
    values = {"what": what, "dataset": dataset, "filter": filter_text, "time": time_column}
    if filter_text:
        return (
            _("%(what)s in dataset %(dataset)s where %(filter)s, placed in periods by %(time)s")
            % values
        )
    return _("%(what)s in dataset %(dataset)s, placed in periods by %(time)s") % values
