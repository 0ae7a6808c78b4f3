"""Changes, year to date and pacing, against numbers worked out by hand."""

from __future__ import annotations

from datetime import date

import pytest

from headway.engine.model import Direction
from headway.lib.periods import Grain, Period, parse_period_label
from headway.results.analysis.series import (
    Point,
    changes,
    off_target_streak,
    pacing,
    year_to_date,
)
from headway.results.analysis.shape import Shape, formula_shape


def month(label: str, fiscal_year_start: int = 1) -> Period:
    return parse_period_label(label, fiscal_year_start)


def monthly(values: dict[str, tuple[float | None, float | None]], fys: int = 1) -> list[Point]:
    return [Point(month(label, fys), value, target) for label, (value, target) in values.items()]


AGGREGATIONS = {"leads": "count", "revenue": "sum", "refunds": "sum", "buyers": "count_distinct"}


@pytest.mark.parametrize(
    ("formula", "shape"),
    [
        ("revenue", Shape.ADDITIVE),
        ("revenue - refunds", Shape.ADDITIVE),
        ("-refunds + leads", Shape.ADDITIVE),
        ("buyers", Shape.OTHER),
        ("revenue * 2", Shape.OTHER),
        ("revenue + 5", Shape.OTHER),
        ("revenue - prev(revenue)", Shape.OTHER),
        ("revenue / leads", Shape.RATIO),
        ("revenue / buyers", Shape.OTHER),
        ("(revenue - refunds) / leads", Shape.OTHER),
    ],
)
def test_only_counts_and_sums_added_or_subtracted_are_additive(formula: str, shape: Shape) -> None:
    assert formula_shape(formula, AGGREGATIONS).shape is shape


def test_a_ratio_names_its_numerator_and_denominator() -> None:
    found = formula_shape("revenue / leads", AGGREGATIONS)
    assert (found.numerator, found.denominator) == ("revenue", "leads")


def test_changes_compare_with_the_previous_month_and_the_same_month_last_year() -> None:
    points = monthly({"2025-03": (80, None), "2026-02": (120, None), "2026-03": (90, None)})
    previous, last_year = changes(points, month("2026-03"))
    assert previous is not None
    assert last_year is not None
    assert (previous.period, previous.absolute, previous.relative) == ("2026-02", -30, -0.25)
    assert (last_year.period, last_year.absolute, last_year.relative) == ("2025-03", 10, 0.125)


def test_a_change_from_zero_has_no_relative_change_and_a_missing_period_no_change() -> None:
    points = monthly({"2026-02": (0, None), "2026-03": (5, None)})
    previous, last_year = changes(points, month("2026-03"))
    assert previous is not None
    assert (previous.absolute, previous.relative) == (5, None)
    assert last_year is None


def test_year_to_date_follows_a_fiscal_year_starting_in_april() -> None:
    # Fiscal 2026 starts in April 2026: January to March 2026 belong to fiscal 2025.
    points = monthly(
        {
            "2026-02": (10, 12),
            "2026-03": (11, 12),
            "2026-04": (20, 25),
            "2026-05": (30, 25),
            "2026-06": (22, 25),
            "2026-07": (40, 25),
        },
        fys=4,
    )
    ytd = year_to_date(points, month("2026-06", 4))
    assert ytd is not None
    assert (ytd.year, ytd.periods, ytd.value, ytd.target) == ("2026", 3, 20 + 30 + 22, 75)
    assert ytd.attainment == pytest.approx(72 / 75)
    march = year_to_date(points, month("2026-03", 4))
    assert march is not None
    assert (march.year, march.value, march.target) == ("2025", 21, 24)


def test_year_to_date_has_no_target_when_a_period_of_it_has_none() -> None:
    points = monthly({"2026-01": (5, 10), "2026-02": (6, None)})
    ytd = year_to_date(points, month("2026-02"))
    assert ytd is not None
    assert (ytd.value, ytd.target) == (11, None)


def test_pacing_prorates_the_target_by_the_days_elapsed_today_included() -> None:
    # 10 November: 10 of November's 30 days, so a target of 300 expects 100 by today.
    paced = pacing(90, 300, month("2026-11"), date(2026, 11, 10), Direction.UP)
    assert paced is not None
    assert (paced.elapsed_days, paced.total_days) == (10, 30)
    assert paced.expected == pytest.approx(100)
    assert paced.projected == pytest.approx(270)
    assert paced.on_pace is False
    cost = pacing(90, 300, month("2026-11"), date(2026, 11, 10), Direction.DOWN)
    assert cost is not None
    assert cost.on_pace is True


def test_pacing_reaches_the_whole_target_on_the_last_day_and_needs_the_day_in_the_period() -> None:
    last = pacing(28, 28, month("2026-02"), date(2026, 2, 28), Direction.UP)
    assert last is not None
    assert (last.expected, last.on_pace) == (28, True)
    assert pacing(28, 28, month("2026-02"), date(2026, 3, 1), Direction.UP) is None
    assert pacing(None, 28, month("2026-02"), date(2026, 2, 3), Direction.UP) is None


def test_pacing_a_fiscal_quarter_counts_its_days() -> None:
    quarter = Period(Grain.QUARTER, date(2026, 4, 1), 4)
    paced = pacing(50, 91, quarter, date(2026, 4, 30), Direction.UP)
    assert paced is not None
    assert (paced.elapsed_days, paced.total_days, paced.expected) == (30, 91, 30)


def test_the_streak_counts_periods_off_target_in_a_row_up_to_the_period() -> None:
    points = monthly(
        {
            "2026-01": (5, 10),
            "2026-02": (12, 10),
            "2026-03": (8, 10),
            "2026-04": (9, 10),
            "2026-05": (7, 10),
        }
    )
    assert off_target_streak(points, month("2026-05"), Direction.UP) == 3
    assert off_target_streak(points, month("2026-02"), Direction.UP) == 0
    assert off_target_streak(points, month("2026-02"), Direction.DOWN) == 1
