"""Rolling-origin backtest of the KPI forecasts (headway.results.analysis.forecast).

    uv run python bench/forecast_backtest.py [--series 12] [--seed 7]

Two sets of monthly series:

- **tea-shop**: the example workspace computed by the engine (examples/tea-shop), its five
  monthly KPIs with their targets, and three additive measures behind them (leads, won
  deals, revenue: error and coverage only, they have no targets). November 2026 is a
  partial month and is left out: 23 complete months, 2024-12 to 2026-10.
- **generated**: ``--series`` seeded series of 60 months, additive counts with a level,
  a trend, a yearly season (peaking in summer) and noise (5-15% of the level). Each month's
  target is the true mean times a factor drawn from 0.9-1.1, so it is sometimes easy and
  sometimes not.

For every origin n (from 12 points for tea-shop, from 24 for generated), the model is fitted
on the first n values and forecasts h = 1..3 months, exactly as the product does
(``forecast.fit`` with ``season_length``). Reported per set:

- MAPE (months whose actual is 0 or that cross zero, such as sales growth, are left out)
  and MASE (mean absolute error over the in-sample mean absolute one-step change), for
  AutoETS and, as the yardstick, the naive method;
- empirical coverage of the 80% and 95% intervals;
- calibration of the probability of meeting the target, in buckets of 20 points: per
  forecast month, and "as shown", the probability the product shows (forecast_to_span:
  the quarter's total for additive series, the quarter's last month otherwise) against
  whether that target was then met.

Prints the tables and writes bench/results/forecast-backtest.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import random
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from headway.engine.compute import ComputeRequest, Engine
from headway.engine.model import Direction
from headway.engine.workspace import load_workspace
from headway.lib.periods import Grain, Period, parse_period_label
from headway.results.analysis.forecast import (
    Fit,
    fit,
    forecast_to_span,
    naive_forecast,
    probability_of_meeting,
    season_length,
)
from headway.results.analysis.series import Point, meets

ROOT = Path(__file__).resolve().parents[1]
TEA_SHOP = ROOT / "examples" / "tea-shop" / "headway.yaml"
RESULTS = ROOT / "bench" / "results" / "forecast-backtest.json"
HORIZON = 3
BUCKETS = [(0.0, 0.2), (0.2, 0.4), (0.4, 0.6), (0.6, 0.8), (0.8, 1.0000001)]
LAST_COMPLETE = "2026-10"


@dataclass
class Series:
    name: str
    start: Period
    values: list[float]
    targets: list[float | None]
    direction: Direction = Direction.UP
    additive: bool = False
    mape: bool = True  # False for series around zero

    def points(self, upto: int) -> list[Point]:
        return [Point(self.start.shift(i), self.values[i], self.targets[i]) for i in range(upto)]


@dataclass
class Tally:
    errors: list[float] = field(default_factory=list)  # absolute percentage errors
    scaled: list[float] = field(default_factory=list)  # absolute errors / naive MAE
    naive_errors: list[float] = field(default_factory=list)
    naive_scaled: list[float] = field(default_factory=list)
    inside80: list[bool] = field(default_factory=list)
    inside95: list[bool] = field(default_factory=list)
    step_calls: list[tuple[float, bool]] = field(default_factory=list)
    span_calls: list[tuple[float, bool]] = field(default_factory=list)
    fits: int = 0
    seconds: float = 0.0
    methods: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict[str, object]:
        def mean(values: Sequence[float | bool]) -> float | None:
            return statistics.fmean(values) if values else None

        return {
            "forecasts": len(self.scaled),
            "fits": self.fits,
            "seconds_per_fit": self.seconds / self.fits if self.fits else None,
            "mape": mean(self.errors),
            "mase": mean(self.scaled),
            "naive_mape": mean(self.naive_errors),
            "naive_mase": mean(self.naive_scaled),
            "coverage80": mean(self.inside80),
            "coverage95": mean(self.inside95),
            "calibration_per_month": calibration(self.step_calls),
            "calibration_as_shown": calibration(self.span_calls),
            "brier_as_shown": mean([(p - hit) ** 2 for p, hit in self.span_calls]),
            "methods": dict(sorted(self.methods.items(), key=lambda item: -item[1])),
        }


def calibration(calls: list[tuple[float, bool]]) -> list[dict[str, object]]:
    rows = []
    for low, high in BUCKETS:
        inside = [(p, hit) for p, hit in calls if low <= p < high]
        rows.append(
            {
                "bucket": f"{round(low * 100)}-{min(round(high * 100), 100)}%",
                "count": len(inside),
                "predicted": statistics.fmean(p for p, _ in inside) if inside else None,
                "met": statistics.fmean(hit for _, hit in inside) if inside else None,
            }
        )
    return rows


def tea_shop() -> list[Series]:
    workspace = load_workspace(TEA_SHOP)
    with Engine(workspace) as engine:
        result = engine.compute(ComputeRequest())
    last = parse_period_label(LAST_COMPLETE)
    found: list[Series] = []
    for key, kpi in workspace.kpis.items():
        if kpi.spec.grain is not Grain.MONTH:
            continue
        rows = sorted(
            (row for row in result.rows if row.kpi == key and row.period <= last),
            key=lambda row: row.period.start,
        )
        while rows and rows[0].value is None:  # sales growth has no month before the first
            rows.pop(0)
        found.append(
            Series(
                f"tea-shop {key}",
                rows[0].period,
                [float(row.value) for row in rows if row.value is not None],
                [row.target for row in rows],
                Direction(kpi.spec.direction),
                mape=key != "sales_growth",
            )
        )
    months = sorted({row.period for row in result.rows if row.period.grain is Grain.MONTH})
    months = [period for period in months if period <= last]
    for measure in ("leads", "won_deals", "revenue"):
        values = [
            float(result.measure_value(workspace, measure, period, None) or 0.0)
            for period in months
        ]
        found.append(
            Series(
                f"tea-shop {measure} (measure)",
                months[0],
                values,
                [None] * len(values),
                additive=True,
            )
        )
    return found


def generated(count: int, seed: int) -> list[Series]:
    rng = random.Random(seed)
    found = []
    for number in range(count):
        level = rng.uniform(50, 500)
        trend = rng.uniform(-0.004, 0.012) * level
        amplitude = rng.uniform(0.1, 0.35)
        noise = rng.uniform(0.05, 0.15)
        values: list[float] = []
        targets: list[float | None] = []
        for month in range(60):
            season = 1 + amplitude * math.sin(2 * math.pi * (month - 3) / 12)
            mean = max((level + trend * month) * season, 1.0)
            values.append(max(round(rng.gauss(mean, noise * mean)), 0))
            targets.append(mean * rng.uniform(0.9, 1.1))
        found.append(
            Series(
                f"generated {number + 1}",
                parse_period_label("2021-01"),
                [float(v) for v in values],
                targets,
                additive=True,
            )
        )
    return found


def backtest(series: Series, first_origin: int, tally: Tally) -> None:
    values = series.values
    for n in range(first_origin, len(values)):
        train = values[:n]
        began = time.perf_counter()
        made = fit(train, HORIZON, season_length(Grain.MONTH, n))
        tally.seconds += time.perf_counter() - began
        tally.fits += 1
        if made is None:
            continue
        tally.methods[made.method] = tally.methods.get(made.method, 0) + 1
        naive = naive_forecast(train, HORIZON)
        scale = statistics.fmean(abs(b - a) for a, b in itertools.pairwise(train))
        for h, (step, naive_step) in enumerate(zip(made.steps, naive.steps, strict=True)):
            i = n + h
            if i >= len(values):
                break
            actual = values[i]
            if scale > 0:
                tally.scaled.append(abs(actual - step.mean) / scale)
                tally.naive_scaled.append(abs(actual - naive_step.mean) / scale)
            if series.mape and actual != 0:
                tally.errors.append(abs(actual - step.mean) / abs(actual))
                tally.naive_errors.append(abs(actual - naive_step.mean) / abs(actual))
            tally.inside80.append(step.low80 <= actual <= step.high80)
            tally.inside95.append(step.low95 <= actual <= step.high95)
            target = series.targets[i]
            if target is not None:
                p = probability_of_meeting(step.mean, step.sigma, target, series.direction)
                tally.step_calls.append((p, meets(actual, target, series.direction)))
        span_call(series, n, made, tally)


def span_call(series: Series, n: int, made: Fit, tally: Tally) -> None:
    """The probability the product would show after n months, and whether it came true."""
    last = series.start.shift(n - 1)

    def reuse(values: Sequence[float], horizon: int, season: int = 1) -> Fit:
        return Fit(made.method, made.steps[:horizon])

    def target_of(period: Period) -> float | None:
        index = (period.start.year - series.start.start.year) * 12 + (
            period.start.month - series.start.start.month
        )
        return series.targets[index] if index < len(series.targets) else None

    shown = forecast_to_span(
        series.points(n),
        last,
        target_of,
        series.direction,
        additive=series.additive,
        fitter=reuse,
    )
    if shown is None or shown.probability is None or shown.target is None:
        return
    span_end = n + len(shown.points)
    if span_end > len(series.values):
        return
    if series.additive:
        quarter = parse_period_label(shown.span)
        actual = sum(
            series.values[i]
            for i in range(span_end)
            if quarter.start <= series.start.shift(i).start < quarter.end
        )
    else:
        actual = series.values[span_end - 1]
    tally.span_calls.append((shown.probability, meets(actual, shown.target, series.direction)))


def percent(value: object) -> str:
    return f"{value * 100:5.1f}%" if isinstance(value, float) else "    –"


def number(value: object) -> str:
    return f"{value:5.2f}" if isinstance(value, float) else "    –"


def report(name: str, summary: dict[str, object]) -> None:
    print(
        f"\n## {name}: {summary['forecasts']} forecasts from {summary['fits']} fits"
        f" ({number(summary['seconds_per_fit'])} s per fit)"
    )
    print(f"models chosen: {summary['methods']}")
    print("             MAPE    MASE")
    print(f"AutoETS    {percent(summary['mape'])}   {number(summary['mase'])}")
    print(f"naive      {percent(summary['naive_mape'])}   {number(summary['naive_mase'])}")
    print(
        f"interval coverage: 80% -> {percent(summary['coverage80'])},"
        f" 95% -> {percent(summary['coverage95'])}"
    )
    for title, key in (
        ("per month", "calibration_per_month"),
        ("as shown", "calibration_as_shown"),
    ):
        print(f"calibration, {title}:   bucket   count  predicted  met")
        rows = summary[key]
        assert isinstance(rows, list)
        for row in rows:
            print(
                f"    {row['bucket']:>8} {row['count']:6}  {percent(row['predicted'])}  "
                f"{percent(row['met'])}"
            )
    print(f"Brier score as shown: {number(summary['brier_as_shown'])}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=12, help="generated series (default 12)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    began = time.perf_counter()
    import statsforecast  # noqa: F401  (the import's seconds are not the fits')

    imported = time.perf_counter() - began
    sets = {"tea-shop": (tea_shop(), 12), "generated": (generated(args.series, args.seed), 24)}
    summaries: dict[str, object] = {}
    for name, (series_list, first_origin) in sets.items():
        tally = Tally()
        for series in series_list:
            backtest(series, first_origin, tally)
        summary = {"series": [s.name for s in series_list], **tally.summary()}
        report(name, summary)
        summaries[name] = summary
    output = {"statsforecast_import_seconds": imported, "seed": args.seed, "sets": summaries}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(output, indent=2), encoding="utf-8")
    print(f"\nwrote {RESULTS.relative_to(ROOT)} ({time.perf_counter() - began:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
