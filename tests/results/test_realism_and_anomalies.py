"""Target realism over the last 12 periods, and values unusual for their own history."""

from __future__ import annotations

import statistics

import pytest

from headway.engine.model import Direction
from headway.results.analysis.anomalies import anomalies
from headway.results.analysis.realism import Verdict, realism

# Fourteen months: only the last twelve count.
CONVERSION = [0.02, 0.20, 0.055, 0.058, 0.061, 0.052, 0.081, 0.057, 0.06, 0.063, 0.054, 0.059]
CONVERSION += [0.056, 0.062]


def test_a_target_met_in_one_month_of_twelve_is_too_hard() -> None:
    found = realism(CONVERSION, 0.08, Direction.UP)
    assert found is not None
    last_twelve = CONVERSION[-12:]
    assert (found.periods, found.met) == (12, 1)
    assert found.share == pytest.approx(1 / 12)
    assert found.verdict is Verdict.TOO_HARD
    # Met in half the months: the median, (0.058 + 0.059) / 2.
    assert found.half_time_target == pytest.approx(statistics.median(last_twelve))
    assert found.half_time_target == pytest.approx(0.0585)
    assert sum(value >= found.half_time_target for value in last_twelve) == 6


def test_a_target_met_in_eleven_months_of_twelve_is_too_easy() -> None:
    found = realism(CONVERSION, 0.053, Direction.UP)
    assert found is not None
    assert (found.met, found.verdict) == (11, Verdict.TOO_EASY)


def test_a_target_met_half_the_time_is_realistic() -> None:
    found = realism(CONVERSION, 0.0585, Direction.UP)
    assert found is not None
    assert (found.met, found.verdict) == (6, Verdict.REALISTIC)


def test_realism_of_a_down_kpi_counts_values_at_or_below_the_target() -> None:
    costs = [5200.0, 4800.0, 5000.0, 6100.0, 4700.0, 5300.0, 4900.0, 5050.0]
    found = realism(costs, 5000, Direction.DOWN)
    assert found is not None
    assert (found.periods, found.met) == (8, 4)
    assert found.share == 0.5
    assert found.half_time_target == pytest.approx(5025)


def test_realism_needs_six_values_and_skips_missing_ones() -> None:
    assert realism([1.0, None, 2.0, 3.0, 4.0, 5.0], 3, Direction.UP) is None
    assert realism([1.0, None, 2.0, 3.0, 4.0, 5.0, 6.0], 3, Direction.UP) is not None


def test_a_value_outside_three_robust_deviations_of_its_history_is_flagged() -> None:
    values: list[float | None] = [20, 22, 19, 21, 20, 23, 18, 20, 45, 21, 12, 22]
    found = anomalies(values)
    assert [item.index for item in found] == [8, 10]
    first = found[0]
    # The eight values before index 8: median 20, absolute deviations 0 2 1 1 0 3 2 0,
    # whose median is 1; the band is 20 ± 3 × 1.4826.
    assert first.expected == 20
    assert (first.low, first.high) == pytest.approx((20 - 3 * 1.4826, 20 + 3 * 1.4826))


def test_no_value_is_flagged_before_six_points_of_history() -> None:
    assert anomalies([1, 1, 1, 1, 1, 500]) == []
    assert [item.index for item in anomalies([1, 1, 1, 1, 1, 1, 500])] == [6]


def test_a_jump_is_flagged_until_the_history_takes_it_in_and_missing_values_are_skipped() -> None:
    values: list[float | None] = [10.0] * 6 + [100.0, 101, 99, 100, None, 102, 98, 100, 101]
    values += [99.0, 100, 100, 101, 100, 10]
    found = [item.index for item in anomalies(values)]
    # The jump and the next two values stand out against six months at 10; with three
    # values at 100 in it the history's spread covers them. Twelve values at about 100
    # later, the old level of 10 is itself unusual.
    assert found == [6, 7, 8, 20]
