"""Forecasts to the end of the target period and the chance of meeting the target.

Only the last test imports statsforecast (seconds, for numba) and fits AutoETS; the others
give the arithmetic around the model a fixed forecast.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import date

import pytest

from headway.engine.model import Direction
from headway.lib.periods import Grain, Period, parse_period_label
from headway.results.analysis.forecast import (
    Z80,
    Fit,
    Step,
    fit,
    forecast_to_span,
    normal_cdf,
    probability_of_meeting,
    season_length,
    target_span,
)
from headway.results.analysis.series import Point


def step(mean: float, sigma: float) -> Step:
    return Step(mean, mean - Z80 * sigma, mean + Z80 * sigma, mean - 2 * sigma, mean + 2 * sigma)


def fixed(*steps: Step) -> Callable[[Sequence[float], int, int], Fit]:
    def fitter(values: Sequence[float], horizon: int, season: int = 1) -> Fit:
        assert horizon == len(steps)
        return Fit("fixed", steps)

    return fitter


def months(first: str, values: Sequence[float | None], target: float | None) -> list[Point]:
    start = parse_period_label(first)
    return [Point(start.shift(i), value, target) for i, value in enumerate(values)]


def test_the_probability_is_direction_aware() -> None:
    assert probability_of_meeting(110, 10, 100, Direction.UP) == pytest.approx(0.841344746)
    assert probability_of_meeting(110, 10, 100, Direction.DOWN) == pytest.approx(0.158655254)
    assert probability_of_meeting(100, 10, 100, Direction.UP) == pytest.approx(0.5)
    assert probability_of_meeting(99, 0, 100, Direction.DOWN) == 1.0


def test_a_step_s_deviation_comes_from_its_80_percent_band() -> None:
    assert step(50, 4).sigma == pytest.approx(4)


def test_the_target_period_is_the_fiscal_quarter_or_year_the_next_period_falls_in() -> None:
    assert target_span(parse_period_label("2026-11")).label == "2026-Q4"
    # With April as the fiscal year's start, January 2027 is in fiscal 2026's fourth quarter.
    assert target_span(parse_period_label("2027-01", 4)).label == "2026-Q4"
    assert target_span(parse_period_label("2026-Q4")).label == "2026"
    assert target_span(parse_period_label("2027")).label == "2027"
    week = Period(Grain.WEEK, date(2026, 11, 23))
    assert target_span(week).label == "2026-Q4"


def test_season_is_tried_only_with_two_full_years() -> None:
    assert season_length(Grain.MONTH, 24) == 12
    assert season_length(Grain.MONTH, 23) == 1
    assert season_length(Grain.QUARTER, 8) == 4
    assert season_length(Grain.WEEK, 200) == 1


def test_an_additive_kpi_is_judged_on_the_quarter_s_total() -> None:
    # October is done (70); November and December are forecast at 60 ± 5 and 65 ± 6.
    points = months("2026-01", [50, 52, 55, 53, 58, 60, 61, 59, 62, 70], 60)
    found = forecast_to_span(
        points,
        parse_period_label("2026-10"),
        lambda period: 60.0,
        Direction.UP,
        additive=True,
        fitter=fixed(step(60, 5), step(65, 6)),
    )
    assert found is not None
    assert found.span == "2026-Q4"
    assert [point.period for point in found.points] == ["2026-11", "2026-12"]
    assert (found.expected, found.target) == (70 + 60 + 65, 180)
    # Deviations add up (errors fully correlated): 11.
    assert found.probability == pytest.approx(1 - normal_cdf((180 - 195) / 11))


def test_a_ratio_is_judged_on_the_last_period_of_the_quarter() -> None:
    points = months("2026-01", [0.05, 0.055, 0.06, 0.058, 0.061, 0.06, 0.062], 0.06)
    found = forecast_to_span(
        points,
        parse_period_label("2026-07"),
        lambda period: 0.065 if period.start >= date(2026, 9, 1) else 0.06,
        Direction.UP,
        additive=False,
        fitter=fixed(step(0.063, 0.002), step(0.064, 0.003)),
    )
    assert found is not None
    assert (found.span, found.expected, found.target) == ("2026-Q3", 0.064, 0.065)
    assert found.probability == pytest.approx(1 - normal_cdf((0.065 - 0.064) / 0.003))


def test_after_a_quarter_closes_the_next_quarter_is_forecast() -> None:
    points = months("2026-01", [float(v) for v in range(1, 13)], 10)
    found = forecast_to_span(
        points,
        parse_period_label("2026-12"),
        lambda period: 10.0,
        Direction.UP,
        additive=True,
        fitter=fixed(step(13, 1), step(14, 1), step(15, 1)),
    )
    assert found is not None
    assert (found.span, found.expected, found.target) == ("2027-Q1", 42, 30)


def test_fewer_than_six_values_since_the_last_gap_give_no_forecast() -> None:
    def never(values: Sequence[float], horizon: int, season: int = 1) -> Fit:
        raise AssertionError("no model is fitted to five points")

    points = months("2026-01", [5, 6, 7, None, 5, 6, 7, 8, 9], 5)
    assert (
        forecast_to_span(
            points,
            parse_period_label("2026-09"),
            lambda p: 5.0,
            Direction.UP,
            additive=True,
            fitter=never,
        )
        is None
    )


def test_six_values_or_a_constant_series_get_the_naive_method() -> None:
    six = fit([10, 12, 11, 13, 12, 14], 2)
    assert six is not None
    assert six.method == "naive"
    assert six.steps[0].mean == 14
    assert six.steps[1].sigma == pytest.approx(six.steps[0].sigma * math.sqrt(2))
    flat = fit([3.0] * 30, 3)
    assert flat is not None
    assert (flat.method, flat.steps[2].high95) == ("naive", 3)
    assert fit([1, 2, 3, 4, 5], 2) is None


@pytest.mark.slow
def test_autoets_follows_a_seasonal_series_with_nested_bands() -> None:
    """One fit, shared by every check: statsforecast's import is the slow part."""
    season = [0.8, 0.7, 0.9, 1.0, 1.1, 1.3, 1.4, 1.3, 1.1, 1.0, 0.9, 1.0]
    noise = [math.sin(i * 2.3) * 2 for i in range(36)]
    values = [100 * season[i % 12] + i + noise[i] for i in range(36)]
    made = fit(values, 3, season_length(Grain.MONTH, len(values)))
    assert made is not None
    assert made.method.startswith("AutoETS ETS(")
    assert made.method != "AutoETS ETS(A,N,N)"  # it found the season or the trend
    for item in made.steps:
        assert item.low95 < item.low80 < item.mean < item.high80 < item.high95
    # The next three months are January to March: March is above February, as each year.
    assert made.steps[2].mean > made.steps[1].mean
    assert made.steps[0].mean == pytest.approx(100 * 0.8 + 36, abs=8)
