"""The benchmark workspace: datasets, measures and 20 monthly KPIs, as data.

`generate.py` renders this into `workspace.yaml` (the file `headway compute` reads) and
`kpis.json` (KPI keys, directions, thresholds, targets and datasets, which the baselines
read so that their targets and statuses match the workspace without parsing YAML). The
baselines' measures and formulas are written by hand in SQL and in pandas, so that a
mistake in either shows up as a disagreement with Headway.

Count and currency targets scale with the number of leads, so that statuses are a mix of
green, amber and red at every size.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

SEED_DEFAULT = 20260101
FIRST_MONTH = "2024-01"
MONTHS = 36
TEAMS = [f"t{i:02d}" for i in range(1, 21)]
SOURCES = ["web", "ads", "referral", "events", "outbound"]
PRODUCTS = ["basic", "pro", "enterprise", "addon"]
SEGMENTS = ["smb", "mid", "enterprise"]
CHANNELS = ["search", "social", "events", "email", "display"]
REGIONS = ["north", "south", "east", "west", "central"]


@dataclass(frozen=True)
class Dataset:
    file: str
    key: str
    time: str
    dimensions: list[str]


DATASETS: dict[str, Dataset] = {
    "leads": Dataset("leads.parquet", "lead_id", "created_at", ["team", "source", "product"]),
    "deals": Dataset("deals.parquet", "deal_id", "closed_at", ["team"]),
    "customers": Dataset("customers.parquet", "customer_id", "first_seen", ["team", "segment"]),
    "surveys": Dataset("surveys.parquet", "survey_id", "answered_at", ["team"]),
    "marketing_spend": Dataset("marketing_spend.parquet", "id", "month", ["team", "channel"]),
    # Market size is known per region, not per sales team: KPIs over it are totals-only.
    "market_size": Dataset("market_size.parquet", "id", "month", ["region", "product"]),
}


@dataclass(frozen=True)
class Measure:
    dataset: str
    agg: str
    column: str | None = None
    filter: str | None = None
    time: str | None = None


MEASURES: dict[str, Measure] = {
    "leads": Measure("leads", "count"),
    "web_leads": Measure("leads", "count", filter="source in ('web', 'ads')"),
    "active_owners": Measure("leads", "count_distinct", "owner"),
    "deals_created": Measure("deals", "count", time="created_at"),
    "won_deals": Measure("deals", "count", filter="stage = 'won'"),
    "lost_deals": Measure("deals", "count", filter="stage = 'lost'"),
    "revenue": Measure("deals", "sum", "amount", filter="stage = 'won'"),
    "big_deal_avg": Measure("deals", "avg", "amount", filter="stage = 'won' and amount >= 10000"),
    "largest_deal": Measure("deals", "max", "amount", filter="stage = 'won'"),
    "smallest_deal": Measure("deals", "min", "amount", filter="stage = 'won'"),
    "new_customers": Measure(
        "deals", "count_distinct", "customer_id", filter="stage = 'won' and is_first_purchase"
    ),
    "new_accounts": Measure("customers", "count"),
    "enterprise_accounts": Measure("customers", "count", filter="segment = 'enterprise'"),
    "csat_avg": Measure("surveys", "avg", "csat"),
    "responses": Measure("surveys", "count"),
    "detractors": Measure("surveys", "count", filter="csat <= 2"),
    "spend": Measure("marketing_spend", "sum", "amount"),
    "market_revenue": Measure("market_size", "sum", "market_revenue"),
}


@dataclass(frozen=True)
class Target:
    start: str  # a period label: 2026-01, 2025-Q3, 2026
    value: float
    where: dict[str, str] | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Kpi:
    key: str
    name: str
    formula: str
    unit: str
    measures: list[str]
    targets: list[Target]
    direction: str = "up"
    thresholds: dict[str, float] = field(default_factory=lambda: {"green": 1.0, "amber": 0.9})

    @property
    def datasets(self) -> list[str]:
        return sorted({MEASURES[m].dataset for m in self.measures})


def kpis(n_leads: int) -> list[Kpi]:
    """The 20 KPIs; `n_leads` scales the targets of counts and amounts."""
    per_month = n_leads / MONTHS
    return [
        Kpi(
            "leads",
            "Leads",
            "leads",
            "count",
            ["leads"],
            [
                Target("2024-01", round(per_month * 0.95)),
                Target("2026", round(per_month * 1.2), reason="2026 plan"),
            ],
        ),
        Kpi(
            "web_lead_share",
            "Share of leads from web and ads",
            "web_leads / leads",
            "percent",
            ["web_leads", "leads"],
            [Target("2024-01", 0.6)],
        ),
        Kpi(
            "lead_growth",
            "Lead growth, month on month",
            "(leads - prev(leads)) / prev(leads)",
            "percent",
            ["leads"],
            [Target("2024-01", 0.01)],
        ),
        Kpi(
            "opportunity_rate",
            "Deals opened per lead",
            "deals_created / leads",
            "percent",
            ["deals_created", "leads"],
            [Target("2024-01", 0.3)],
        ),
        Kpi(
            "conversion_rate",
            "Conversion rate",
            "won_deals / leads",
            "percent",
            ["won_deals", "leads"],
            [
                Target("2024-01", 0.085),
                Target("2025-07", 0.09, reason="mid-2025 review"),
                Target("2024-01", 0.1, where={"team": "t01"}),
                Target("2024-01", 0.08, where={"team": "t02"}),
            ],
        ),
        Kpi(
            "win_rate",
            "Win rate",
            "won_deals / (won_deals + lost_deals)",
            "percent",
            ["won_deals", "lost_deals"],
            [
                Target("2024-01", 0.38),
                Target("2025-01", 0.4, where={"team": "t01"}),
            ],
        ),
        Kpi(
            "revenue",
            "Revenue",
            "revenue",
            "currency",
            ["revenue"],
            [
                Target("2024-01", round(n_leads * 7.0)),
                Target("2025-Q3", round(n_leads * 8.5), reason="new product line"),
            ],
        ),
        Kpi(
            "revenue_growth",
            "Revenue growth, month on month",
            "revenue / prev(revenue) - 1",
            "percent",
            ["revenue"],
            [Target("2024-01", 0.01)],
        ),
        Kpi(
            "revenue_yoy",
            "Revenue growth, year on year",
            "(revenue - prev(revenue, 12)) / prev(revenue, 12)",
            "percent",
            ["revenue"],
            [Target("2024-01", 0.15)],
        ),
        Kpi(
            "avg_deal_size",
            "Average won deal",
            "revenue / won_deals",
            "currency",
            ["revenue", "won_deals"],
            [Target("2024-01", 3050.0)],
        ),
        Kpi(
            "big_deal_avg",
            "Average big deal (10k and more)",
            "big_deal_avg",
            "currency",
            ["big_deal_avg"],
            [Target("2024-01", 18200.0)],
        ),
        Kpi(
            "deal_size_spread",
            "Largest over smallest won deal",
            "largest_deal / smallest_deal",
            "number",
            ["largest_deal", "smallest_deal"],
            [Target("2024-01", 1200.0)],
        ),
        Kpi(
            "new_customers",
            "New customers",
            "new_customers",
            "count",
            ["new_customers"],
            [Target("2024-01", round(per_month * 0.037))],
        ),
        Kpi(
            "cac",
            "Customer acquisition cost",
            "spend / new_customers",
            "currency",
            ["spend", "new_customers"],
            [Target("2024-01", 2300.0)],
            direction="down",
            thresholds={"green": 1.0, "amber": 0.8},
        ),
        Kpi(
            "marketing_roi",
            "Return on marketing spend",
            "(revenue - spend) / spend",
            "number",
            ["revenue", "spend"],
            [Target("2024-01", 2.0)],
        ),
        Kpi(
            "csat",
            "Customer satisfaction",
            "csat_avg",
            "score",
            ["csat_avg"],
            [Target("2024-01", 3.85)],
            thresholds={"green": 1.0, "amber": 0.97},
        ),
        Kpi(
            "detractor_rate",
            "Share of answers rated 1 or 2",
            "detractors / responses",
            "percent",
            ["detractors", "responses"],
            [Target("2024-01", 0.15)],
            direction="down",
        ),
        Kpi(
            "leads_per_owner",
            "Leads per active salesperson",
            "leads / active_owners",
            "number",
            ["leads", "active_owners"],
            [Target("2024-01", round(per_month / 200 * 1.05, 2))],
        ),
        Kpi(
            "enterprise_share",
            "Share of new accounts that are enterprise",
            "enterprise_accounts / new_accounts",
            "percent",
            ["enterprise_accounts", "new_accounts"],
            [Target("2024-01", 0.08)],
        ),
        Kpi(
            "market_share",
            "Share of market",
            "revenue / market_revenue",
            "percent",
            ["revenue", "market_revenue"],
            [Target("2024-01", 0.12), Target("2026-01", 0.13)],
        ),
    ]


def by_team_kpis(n_leads: int) -> list[str]:
    """The KPIs that `--by team` accepts: those whose datasets all list `team`."""
    return [
        k.key for k in kpis(n_leads) if all("team" in DATASETS[d].dimensions for d in k.datasets)
    ]


def _flow(d: dict[str, Any]) -> str:
    """A YAML flow mapping; JSON strings are valid YAML double-quoted scalars."""
    parts = []
    for k, v in d.items():
        if isinstance(v, dict):
            parts.append(f"{k}: {_flow(v)}")
        elif isinstance(v, list):
            parts.append(f"{k}: [{', '.join(_scalar(x) for x in v)}]")
        else:
            parts.append(f"{k}: {_scalar(v)}")
    return "{" + ", ".join(parts) + "}"


def _scalar(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    s = str(v)
    if s.replace("_", "").isalnum() and not s[0].isdigit() and s not in ("true", "false", "null"):
        return s
    return json.dumps(s, ensure_ascii=False)


def workspace_yaml(n_leads: int) -> str:
    """The workspace file, version 1, with `file:` paths relative to its own folder."""
    out = [
        "# Generated by bench/generate.py from bench/kpis.py: edit those, not this file.",
        "version: 1",
        "organization:",
        "  name: Headway Bench Co",
        "  timezone: UTC",
        "  currency: USD",
        "  fiscal_year_start: 1",
        "  language: en",
        "",
        "teams:",
        "  - {key: sales, name: Sales}",
    ]
    out += [f"  - {{key: {t}, name: Team {t[1:]}, parent: sales}}" for t in TEAMS]
    out += ["", "goals:"]
    out += [
        "  - {key: grow, title: Grow revenue profitably, horizon: long, due: 2030-12-31}",
        "  - {key: satisfy, title: Keep customers happy, horizon: short, parent: grow,"
        " start: 2024-01-01, due: 2026-12-31}",
        "",
        "datasets:",
    ]
    for name, ds in DATASETS.items():
        out += [
            f"  {name}:",
            f"    file: {ds.file}",
            f"    key: {ds.key}",
            f"    time: {ds.time}",
            f"    dimensions: [{', '.join(ds.dimensions)}]",
        ]
    out += ["", "measures:"]
    for name, m in MEASURES.items():
        spec: dict[str, Any] = {"dataset": m.dataset, "agg": m.agg}
        if m.column:
            spec["column"] = m.column
        if m.filter:
            spec["filter"] = m.filter
        if m.time:
            spec["time"] = m.time
        out.append(f"  {name}: {_flow(spec)}")
    out += ["", "kpis:"]
    for k in kpis(n_leads):
        out += [
            f"  - key: {k.key}",
            f"    name: {_scalar(k.name)}",
            f"    goals: [{'satisfy' if k.key in ('csat', 'detractor_rate') else 'grow'}]",
            f"    formula: {_scalar(k.formula)}",
            f"    unit: {k.unit}",
            f"    direction: {k.direction}",
            "    grain: month",
            "    team: sales",
            f"    thresholds: {_flow(k.thresholds)}",
            "    targets:",
        ]
        for t in k.targets:
            # Period labels are written bare, as in the spec (`from: 2026-01`).
            entry = f"      - {{from: {t.start}, value: {t.value!r}"
            if t.where:
                entry += f", where: {_flow(t.where)}"
            if t.reason:
                entry += f", reason: {_scalar(t.reason)}"
            out.append(entry + "}")
    return "\n".join(out) + "\n"


_KEYWORDS = {"and", "or", "not", "in", "is", "null", "true", "false"}


def columns_needed(by: str | None = "team") -> dict[str, list[str]]:
    """Per dataset, the columns the measures read: time, aggregated and filter columns, and
    the `by` dimension where the dataset has it. What the floor baseline reads."""
    import re

    need: dict[str, set[str]] = {}
    for m in MEASURES.values():
        ds = DATASETS[m.dataset]
        cols = need.setdefault(m.dataset, set())
        cols.add(m.time or ds.time)
        if m.column:
            cols.add(m.column)
        if m.filter:
            bare = re.sub(r"'[^']*'", " ", m.filter)
            cols.update(w for w in re.findall(r"[A-Za-z_]\w*", bare) if w.lower() not in _KEYWORDS)
        if by and by in ds.dimensions:
            cols.add(by)
    return {name: sorted(cols) for name, cols in need.items()}


def first_day(label: str) -> str:
    """First day of a period label (`2026-01`, `2026-Q3`, `2026`, `2026-W05`), calendar
    years (fiscal_year_start is 1 in the bench workspace)."""
    import datetime as dt

    if "-W" in label:
        year, week = label.split("-W")
        return dt.date.fromisocalendar(int(year), int(week), 1).isoformat()
    if "-Q" in label:
        year, q = label.split("-Q")
        return dt.date(int(year), 3 * int(q) - 2, 1).isoformat()
    if "-" in label:
        year, month = label.split("-")
        return dt.date(int(year), int(month), 1).isoformat()
    return dt.date(int(label), 1, 1).isoformat()


def kpis_json(n_leads: int) -> dict[str, Any]:
    """What the baselines and compute.py need to know of the KPIs, in workspace order."""
    return {
        "kpis": [
            {
                "key": k.key,
                "formula": k.formula,
                "direction": k.direction,
                "thresholds": k.thresholds,
                "datasets": k.datasets,
                "targets": [
                    {
                        "from": t.start,
                        "first_day": first_day(t.start),
                        "value": t.value,
                        "where": t.where,
                    }
                    for t in k.targets
                ],
            }
            for k in kpis(n_leads)
        ],
        "by_team": by_team_kpis(n_leads),
        "columns": columns_needed(),
    }


if __name__ == "__main__":
    import sys

    print(workspace_yaml(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000), end="")
