"""Baseline (b): the bench KPIs in straightforward vectorised pandas.

    python bench/baselines/pandas_impl.py bench/data/1m --from 2024-01 --to 2026-12 [--by team]

Reads the columns it needs with pyarrow (strings as categoricals), puts each row in its
month, groups by month (and team) with boolean-masked columns standing for the filters,
lays the aggregates on a (group x month) grid so that empty months count 0 and prev() is a
shift, and computes the formulas with numpy, NaN standing for null. Prints the CSV of
`headway compute --format csv`. Targets, directions and thresholds come from the data
folder's kpis.json; the measures and formulas below are written by hand and must match
bench/kpis.py.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

LOOKBACK_MONTHS = 12  # the largest n of prev(x, n) among the KPIs
Grid = np.ndarray  # float64, shape (groups, months); NaN is null


def month_number(label: str) -> int:
    """Months since 1970-01, as numpy's datetime64[M] counts them."""
    year, mon = label.split("-")
    return (int(year) - 1970) * 12 + int(mon) - 1


def label(month: int) -> str:
    return f"{1970 + month // 12:04d}-{month % 12 + 1:02d}"


class Frames:
    """Reads a data folder's tables and aggregates them per month (and team)."""

    def __init__(self, data: Path, lo: int, hi: int, first: int, by: str | None) -> None:
        self.data, self.lo, self.hi, self.first, self.by = data, lo, hi, first, by
        self.keys = ["p", by] if by else ["p"]
        self.found: dict[str, set[str]] = {}  # dataset -> groups with rows within the range

    def read(self, name: str, time: str, columns: list[str], strings: list[str]) -> pd.DataFrame:
        table = pq.read_table(
            self.data / f"{name}.parquet", columns=[time, *columns], read_dictionary=strings
        )
        df = table.to_pandas(date_as_object=False)
        months = df[time].to_numpy().astype("datetime64[M]").astype(np.int64)
        keep = (months >= self.lo) & (months < self.hi) & ~np.isnat(df[time].to_numpy())
        df = df[keep].copy()
        df["p"] = months[keep] - self.lo
        return df

    def group(self, df: pd.DataFrame) -> Any:
        return df.groupby(self.keys, observed=True, sort=False)

    def note(self, dataset: str, agg: pd.DataFrame) -> pd.DataFrame:
        """Records the groups found within the range; indexes the totals by '*'."""
        if not self.by:
            agg = agg.set_axis(pd.MultiIndex.from_arrays([agg.index, ["*"] * len(agg)]))
        in_range = agg.index.get_level_values(0) >= self.first - self.lo
        self.found.setdefault(dataset, set()).update(agg.index.get_level_values(1)[in_range])
        return agg

    def leads(self) -> pd.DataFrame:
        df = self.read("leads", "created_at", ["source", "team", "owner"], ["source", "team"])
        df["web"] = df["source"].isin(["web", "ads"])
        agg = self.group(df).agg(
            leads=("web", "size"), web_leads=("web", "sum"), active_owners=("owner", "nunique")
        )
        return self.note("leads", agg)

    def deals(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        cols = ["stage", "amount", "is_first_purchase", "customer_id", "team"]
        df = self.read("deals", "closed_at", cols, ["stage", "team"])
        won = df["stage"] == "won"
        df["won"] = won
        df["lost"] = df["stage"] == "lost"
        df["won_amount"] = df["amount"].where(won)
        df["big_amount"] = df["amount"].where(won & (df["amount"] >= 10000))
        agg = self.group(df).agg(
            won_deals=("won", "sum"),
            lost_deals=("lost", "sum"),
            revenue=("won_amount", "sum"),
            big_deal_avg=("big_amount", "mean"),
            largest_deal=("won_amount", "max"),
            smallest_deal=("won_amount", "min"),
        )
        first_wins = df[won & df["is_first_purchase"].fillna(False).astype(bool)]
        agg["new_customers"] = self.group(first_wins)["customer_id"].nunique()
        created = self.read("deals", "created_at", ["team"], ["team"])
        agg_created = self.group(created).size().to_frame("deals_created")
        return self.note("deals", agg), self.note("deals", agg_created)

    def customers(self) -> pd.DataFrame:
        df = self.read("customers", "first_seen", ["team", "segment"], ["team", "segment"])
        df["enterprise"] = df["segment"] == "enterprise"
        agg = self.group(df).agg(
            new_accounts=("enterprise", "size"), enterprise_accounts=("enterprise", "sum")
        )
        return self.note("customers", agg)

    def surveys(self) -> pd.DataFrame:
        df = self.read("surveys", "answered_at", ["team", "csat"], ["team"])
        df["detractor"] = df["csat"] <= 2
        agg = self.group(df).agg(
            csat_avg=("csat", "mean"), responses=("csat", "size"), detractors=("detractor", "sum")
        )
        return self.note("surveys", agg)

    def spend(self) -> pd.DataFrame:
        df = self.read("marketing_spend", "month", ["team", "amount"], ["team"])
        return self.note("marketing_spend", self.group(df).agg(spend=("amount", "sum")))

    def market(self) -> pd.DataFrame:
        df = self.read("market_size", "month", ["market_revenue"], [])
        return self.note(
            "market_size", self.group(df).agg(market_revenue=("market_revenue", "sum"))
        )


ZERO_WHEN_EMPTY = {
    "leads", "web_leads", "active_owners", "deals_created", "won_deals", "lost_deals",
    "revenue", "new_customers", "new_accounts", "enterprise_accounts", "responses",
    "detractors", "spend", "market_revenue",
}  # fmt: skip


def div(a: Grid, b: Grid) -> Grid:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b == 0, np.nan, a / np.where(b == 0, 1, b))


def prev(x: Grid, n: int = 1) -> Grid:
    out = np.full_like(x, np.nan)
    out[:, n:] = x[:, :-n]
    return out


FORMULAS: dict[str, Callable[[dict[str, Grid]], Grid]] = {
    "leads": lambda m: m["leads"],
    "web_lead_share": lambda m: div(m["web_leads"], m["leads"]),
    "lead_growth": lambda m: div(m["leads"] - prev(m["leads"]), prev(m["leads"])),
    "opportunity_rate": lambda m: div(m["deals_created"], m["leads"]),
    "conversion_rate": lambda m: div(m["won_deals"], m["leads"]),
    "win_rate": lambda m: div(m["won_deals"], m["won_deals"] + m["lost_deals"]),
    "revenue": lambda m: m["revenue"],
    "revenue_growth": lambda m: div(m["revenue"], prev(m["revenue"])) - 1,
    "revenue_yoy": lambda m: div(m["revenue"] - prev(m["revenue"], 12), prev(m["revenue"], 12)),
    "avg_deal_size": lambda m: div(m["revenue"], m["won_deals"]),
    "big_deal_avg": lambda m: m["big_deal_avg"],
    "deal_size_spread": lambda m: div(m["largest_deal"], m["smallest_deal"]),
    "new_customers": lambda m: m["new_customers"],
    "cac": lambda m: div(m["spend"], m["new_customers"]),
    "marketing_roi": lambda m: div(m["revenue"] - m["spend"], m["spend"]),
    "csat": lambda m: m["csat_avg"],
    "detractor_rate": lambda m: div(m["detractors"], m["responses"]),
    "leads_per_owner": lambda m: div(m["leads"], m["active_owners"]),
    "enterprise_share": lambda m: div(m["enterprise_accounts"], m["new_accounts"]),
    "market_share": lambda m: div(m["revenue"], m["market_revenue"]),
}


def target_of(entries: list[tuple[str, float]], day: str) -> float | None:
    """The value of the entry with the latest first day at or before `day`."""
    best: tuple[str, float] | None = None
    for start, value in entries:
        if start <= day and (best is None or start >= best[0]):
            best = (start, value)
    return best[1] if best else None


def compute(data: Path, first_label: str, last_label: str, by: str | None) -> list[list[str]]:
    spec = json.loads((data / "kpis.json").read_text())
    keys = set(spec["by_team"] if by else [k["key"] for k in spec["kpis"]])
    first, last = month_number(first_label), month_number(last_label)
    lo, hi = first - LOOKBACK_MONTHS, last + 1
    f = Frames(data, lo, hi, first, by)
    deals, deals_created = f.deals()
    aggs = [f.leads(), deals, deals_created, f.customers(), f.surveys(), f.spend()]
    if not by:
        aggs.append(f.market())

    groups = sorted(set().union(*f.found.values())) if by else ["*"]
    months = hi - lo
    grid_index = pd.MultiIndex.from_product([range(months), groups])
    measures: dict[str, Grid] = {}
    for agg in aggs:
        wide = agg.reindex(grid_index)
        for col in wide.columns:
            values = wide[col].to_numpy(dtype=np.float64, na_value=np.nan)
            if col in ZERO_WHEN_EMPTY:
                values = np.nan_to_num(values, nan=0.0)
            measures[col] = values.reshape(months, len(groups)).T

    rows: list[list[str]] = []
    for kpi in spec["kpis"]:
        key = kpi["key"]
        if key not in keys:
            continue
        values = FORMULAS[key](measures)
        found = set().union(*(f.found.get(ds, set()) for ds in kpi["datasets"]))
        th = kpi["thresholds"]
        green, amber = th.get("green", 1.0), th.get("amber", 0.9)
        entries = {
            group: [
                (t["first_day"], float(t["value"]))
                for t in kpi["targets"]
                if (t["where"] or {}) == ({by: group} if by else {})
            ]
            for group in groups
        }
        for mi in range(first - lo, months):
            period = label(lo + mi)
            for gi, group in enumerate(groups):
                if by and group not in found:
                    continue
                value = float(values[gi, mi])
                v = None if math.isnan(value) else value
                target = target_of(entries[group], period + "-01")
                attainment = None
                if v is not None and target is not None:
                    if kpi["direction"] == "up":
                        attainment = v / target if target > 0 else None
                    else:
                        attainment = target / v if v > 0 else None
                if attainment is None:
                    status = "none"
                elif attainment >= green:
                    status = "green"
                elif attainment >= amber:
                    status = "amber"
                else:
                    status = "red"
                row = [key, period, *([group] if by else []), fmt(v), fmt(target)]
                rows.append([*row, fmt(attainment), status])
    return rows


def fmt(v: float | None) -> str:
    return "" if v is None else repr(v)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("data", type=Path, help="data folder (with the Parquet files, kpis.json)")
    ap.add_argument("--from", dest="first", required=True, help="first month, e.g. 2024-01")
    ap.add_argument("--to", dest="last", required=True, help="last month, e.g. 2026-12")
    ap.add_argument("--by", choices=["team"])
    args = ap.parse_args()
    rows = compute(args.data.resolve(), args.first, args.last, args.by)
    out = csv.writer(sys.stdout, lineterminator="\n")
    group = [args.by] if args.by else []
    out.writerow(["kpi", "period", *group, "value", "target", "attainment", "status"])
    out.writerows(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
