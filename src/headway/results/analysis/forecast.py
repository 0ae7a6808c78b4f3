"""Forecasts of a KPI to the end of its target period, with 80% and 95% bands, and the
probability of meeting the target.

**The target period.** A KPI is forecast from the period after the last complete one to the
end of the target period that next period falls in: the fiscal quarter for weekly and
monthly KPIs, the fiscal year for quarterly ones, and the next year for yearly ones. So on
26 November a monthly KPI is forecast for November (under way, so its partial value is not
used) and December, and the question is this quarter; after a quarter's last month closes,
the question becomes the next quarter, forecast three months ahead.

**What "meeting the target" means.** For an additive KPI (see :mod:`.shape`), the target
period's total: the actual values of its complete periods plus the forecast of the rest,
against the sum of its periods' targets. For any other KPI (a ratio, an average), the
value of the target period's last period against that period's target: "will we be on
target by the end of the quarter". Meeting is direction-aware: at or above the target, or at
or below it for KPIs where lower is better.

**The probability** comes from a normal approximation of the forecast distribution: each
step's standard deviation is the width of its 80% interval over 2 × 1.2816. For a total over
several steps the deviations are added (errors taken as fully correlated, as they nearly are
for the level-driven models ETS picks on short series); this errs on the side of too wide a
band rather than false confidence. ``bench/forecast_backtest.py`` measures the calibration.

**The model: AutoETS** (statsforecast), which fits the exponential-smoothing state-space
models (error, trend and season, each additive, multiplicative or none, with damped trends)
and picks one by AICc. Why it rather than the alternatives:

- KPI series are short (12 to 36 monthly points) and mostly level, trend and season: exactly
  the components of ETS, each with few parameters, so it stays stable where ARIMA's order
  search over the same points is erratic and its differencing makes bands swing.
- Its prediction intervals come from the state-space model itself, which is what a
  probability of meeting a target needs; Theta gives sharp point forecasts (the M3
  competition) but is simple exponential smoothing with drift and its bands are cruder.
- A naive or seasonal-naive forecast learns nothing of the level and its band is the spread
  of one-step changes; it is the yardstick of MASE in the backtest rather than the model.
- It is fast: 36 points fit in well under 0.1 s, so a monthly report over every KPI is quick.

Seasonality (12 for months, 4 for quarters) is tried only with two full years of points
(24 months, 8 quarters); shorter series are fitted without a season, which a single year
cannot identify. Weekly and yearly KPIs are fitted without a season. With fewer than
:data:`MIN_POINTS` points there is **no forecast** (None) rather than a line through noise.
Where AutoETS cannot fit (it refuses six points as "tiny datasets", and a constant series
has no likelihood), :func:`naive_forecast` (the last value, with a band that widens with the
spread of one-step changes) stands in, and the forecast's ``method`` says ``naive``.

statsforecast takes seconds to import (pandas, scipy, statsmodels), so it is imported inside
:func:`fit`, only when a forecast is made.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from headway.engine.model import Direction
from headway.lib.periods import Grain, Period, period_containing, periods_between
from headway.results.analysis.series import Point

MIN_POINTS = 6
"""Fewest consecutive values a forecast is made from; fewer give no forecast at all."""

ETS_MIN_POINTS = 7
"""Fewest values AutoETS fits (it refuses six as "tiny datasets"); below, the naive method."""

Z80 = 1.2815515655446004
"""The standard normal quantile bounding a central 80% interval."""
Z95 = 1.959963984540054

_SEASON = {Grain.WEEK: 1, Grain.MONTH: 12, Grain.QUARTER: 4, Grain.YEAR: 1}
_SPAN = {Grain.WEEK: Grain.QUARTER, Grain.MONTH: Grain.QUARTER, Grain.QUARTER: Grain.YEAR}


@dataclass(frozen=True)
class Step:
    """One forecast step: the mean and the bounds of the central 80% and 95% intervals."""

    mean: float
    low80: float
    high80: float
    low95: float
    high95: float

    @property
    def sigma(self) -> float:
        """The standard deviation of a normal with this step's 80% interval."""
        return max(self.high80 - self.low80, 0.0) / (2 * Z80)


@dataclass(frozen=True)
class Fit:
    """A model's forecast for the next ``len(steps)`` periods; ``method`` names the model
    (``AutoETS ETS(A,N,N)``, ``naive``)."""

    method: str
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class ForecastPoint:
    period: str
    mean: float
    low80: float
    high80: float
    low95: float
    high95: float


@dataclass(frozen=True)
class Forecast:
    """The forecast of the periods left in the target period ``span``, and the chance of
    meeting its target. ``expected`` is what is compared with ``target``: the span's
    expected total for an additive KPI, the last point's mean otherwise."""

    method: str
    span: str
    points: tuple[ForecastPoint, ...]
    expected: float
    target: float | None
    probability: float | None


def season_length(grain: Grain, points: int) -> int:
    """12 for months and 4 for quarters once there are two full years of points, else 1."""
    season = _SEASON[grain]
    return season if season > 1 and points >= 2 * season else 1


def normal_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def probability_of_meeting(mean: float, sigma: float, target: float, direction: Direction) -> float:
    """P(X >= target), or P(X <= target) for down KPIs, for X normal(mean, sigma)."""
    if sigma <= 0:
        return 1.0 if (mean >= target if direction is Direction.UP else mean <= target) else 0.0
    below = normal_cdf((target - mean) / sigma)
    return 1.0 - below if direction is Direction.UP else below


def naive_forecast(values: Sequence[float], horizon: int) -> Fit:
    """The last value for every step, with a random walk's band: the standard deviation of
    one-step changes times the square root of the steps ahead."""
    diffs = [later - earlier for earlier, later in itertools.pairwise(values)]
    mean_diff = sum(diffs) / len(diffs) if diffs else 0.0
    variance = (
        sum((d - mean_diff) ** 2 for d in diffs) / (len(diffs) - 1) if len(diffs) > 1 else 0.0
    )
    last = values[-1]
    steps = []
    for h in range(1, horizon + 1):
        sigma = math.sqrt(variance * h)
        steps.append(
            Step(
                last, last - Z80 * sigma, last + Z80 * sigma, last - Z95 * sigma, last + Z95 * sigma
            )
        )
    return Fit("naive", tuple(steps))


def fit(values: Sequence[float], horizon: int, season: int = 1) -> Fit | None:
    """AutoETS's forecast ``horizon`` steps after ``values``; None for fewer than MIN_POINTS."""
    if len(values) < MIN_POINTS or horizon < 1:
        return None
    if not all(math.isfinite(value) for value in values):
        return None
    if len(values) < ETS_MIN_POINTS or min(values) == max(values):
        # Too short for ETS, or constant: nothing to estimate, and no likelihood to do it.
        return naive_forecast(values, horizon)
    import numpy as np
    from statsforecast.models import AutoETS

    y = np.asarray(values, dtype=float)
    try:
        # Candidate models that do not fit divide by zero on the way to being rejected.
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            model = AutoETS(season_length=season).fit(y)
            predicted = model.predict(h=horizon, level=[80, 95])
        method = f"AutoETS {model.model_['method']}"
    except Exception:  # statsforecast raises bare ValueErrors and others alike
        return naive_forecast(values, horizon)
    steps = tuple(
        Step(
            float(predicted["mean"][i]),
            float(predicted["lo-80"][i]),
            float(predicted["hi-80"][i]),
            float(predicted["lo-95"][i]),
            float(predicted["hi-95"][i]),
        )
        for i in range(horizon)
    )
    if not all(math.isfinite(value) for step in steps for value in vars(step).values()):
        return naive_forecast(values, horizon)
    return Fit(method, steps)


def target_span(next_period: Period) -> Period:
    """The target period that ``next_period`` (the first period to forecast) falls in."""
    if next_period.grain is Grain.YEAR:
        return next_period
    return period_containing(
        _SPAN[next_period.grain], next_period.start, next_period.fiscal_year_start
    )


def history(points: Sequence[Point], last_complete: Period) -> list[float]:
    """The values up to ``last_complete``, from the last gap on (a model needs a run)."""
    values: list[float] = []
    for point in sorted(points, key=lambda point: point.period.start):
        if point.period > last_complete:
            break
        if point.value is None:
            values = []
        else:
            values.append(point.value)
    return values


def forecast_to_span(
    points: Sequence[Point],
    last_complete: Period,
    target_of: Callable[[Period], float | None],
    direction: Direction,
    *,
    additive: bool,
    fitter: Callable[[Sequence[float], int, int], Fit | None] = fit,
) -> Forecast | None:
    """The forecast from the period after ``last_complete`` to the end of its target span.

    ``points`` are the KPI's periods with values and targets (their targets are used for the
    span's complete periods); ``target_of`` gives the target of a period still to come.
    """
    values = history(points, last_complete)
    next_period = last_complete.shift(1)
    span = target_span(next_period)
    ahead = periods_between(
        next_period.grain, next_period.start, span.last_day, span.fiscal_year_start
    )
    if not ahead or len(values) < MIN_POINTS:
        return None
    made = fitter(values, len(ahead), season_length(last_complete.grain, len(values)))
    if made is None:
        return None
    forecast_points = tuple(
        ForecastPoint(period.label, step.mean, step.low80, step.high80, step.low95, step.high95)
        for period, step in zip(ahead, made.steps, strict=True)
    )
    targets_ahead = [target_of(period) for period in ahead]
    if additive:
        done = [
            point for point in points if span.start <= point.period.start <= last_complete.start
        ]
        expected = sum(point.value or 0.0 for point in done) + sum(step.mean for step in made.steps)
        sigma = sum(step.sigma for step in made.steps)
        known = [point.target for point in done] + targets_ahead
        target = (
            sum(value for value in known if value is not None)
            if all(value is not None for value in known)
            else None
        )
    else:
        expected, sigma, target = made.steps[-1].mean, made.steps[-1].sigma, targets_ahead[-1]
    probability = (
        probability_of_meeting(expected, sigma, target, direction) if target is not None else None
    )
    return Forecast(made.method, span.label, forecast_points, expected, target, probability)
