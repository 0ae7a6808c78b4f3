"""Baseline (a): the bench KPIs written by hand in DuckDB SQL, as an expert would.

    python bench/baselines/duckdb_sql.py bench/data/1m --from 2024-01 --to 2026-12 [--by team]

One GROUP BY per dataset and time column, with FILTER clauses, over the Parquet files of
the data folder; a month x team spine so that empty periods count 0 and `lag()` finds the
previous month; the formulas in SQL; targets by ASOF join; attainment and status in SQL.
Prints the CSV of `headway compute --format csv`. Targets, directions and thresholds come
from the data folder's kpis.json (written by generate.py from bench/kpis.py); the measures
and formulas below are written by hand and must match bench/kpis.py.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

import duckdb

LOOKBACK_MONTHS = 12  # the largest n of prev(x, n) among the KPIs


def month(label: str) -> dt.date:
    year, mon = label.split("-")
    return dt.date(int(year), int(mon), 1)


def add_months(d: dt.date, n: int) -> dt.date:
    m = d.year * 12 + d.month - 1 + n
    return dt.date(m // 12, m % 12 + 1, 1)


def build_sql(data: Path, first: dt.date, last: dt.date, by: str | None) -> str:
    lo = add_months(first, -LOOKBACK_MONTHS)
    hi = add_months(last, 1)
    g = by or "'*'"  # the group key: the --by column, or one group for the totals

    def src(name: str) -> str:
        return f"read_parquet('{data / (name + '.parquet')}')"

    def rng(col: str) -> str:
        return f"{col} >= TIMESTAMP '{lo}' AND {col} < TIMESTAMP '{hi}'"

    market = ""
    market_join = ""
    market_kpi = ""
    if by is None:
        market = f""",
        market AS (
            SELECT month AS p, '*' AS team, sum(market_revenue) AS m_market_revenue
            FROM {src("market_size")} WHERE {rng("month")} GROUP BY ALL
        )"""
        market_join = "LEFT JOIN market USING (p, team)"
        market_kpi = ", m_revenue / nullif(m_market_revenue, 0) AS market_share"

    return f"""
    WITH
    leads AS (
        SELECT date_trunc('month', created_at)::DATE AS p, {g} AS team,
               count(*) AS m_leads,
               count(*) FILTER (WHERE source IN ('web', 'ads')) AS m_web_leads,
               count(DISTINCT owner) AS m_active_owners
        FROM {src("leads")} WHERE {rng("created_at")} GROUP BY ALL
    ),
    deals AS (
        SELECT date_trunc('month', closed_at)::DATE AS p, {g} AS team,
               count(*) FILTER (WHERE stage = 'won') AS m_won_deals,
               count(*) FILTER (WHERE stage = 'lost') AS m_lost_deals,
               sum(amount) FILTER (WHERE stage = 'won') AS m_revenue,
               avg(amount) FILTER (WHERE stage = 'won' AND amount >= 10000) AS m_big_deal_avg,
               max(amount) FILTER (WHERE stage = 'won') AS m_largest_deal,
               min(amount) FILTER (WHERE stage = 'won') AS m_smallest_deal,
               count(DISTINCT customer_id) FILTER (WHERE stage = 'won' AND is_first_purchase)
                   AS m_new_customers
        FROM {src("deals")} WHERE {rng("closed_at")} GROUP BY ALL
    ),
    deals_created AS (
        SELECT date_trunc('month', created_at)::DATE AS p, {g} AS team,
               count(*) AS m_deals_created
        FROM {src("deals")} WHERE {rng("created_at")} GROUP BY ALL
    ),
    customers AS (
        SELECT date_trunc('month', first_seen)::DATE AS p, {g} AS team,
               count(*) AS m_new_accounts,
               count(*) FILTER (WHERE segment = 'enterprise') AS m_enterprise_accounts
        FROM {src("customers")} WHERE {rng("first_seen")} GROUP BY ALL
    ),
    surveys AS (
        SELECT date_trunc('month', answered_at)::DATE AS p, {g} AS team,
               avg(csat) AS m_csat_avg,
               count(*) AS m_responses,
               count(*) FILTER (WHERE csat <= 2) AS m_detractors
        FROM {src("surveys")} WHERE {rng("answered_at")} GROUP BY ALL
    ),
    spend AS (
        SELECT date_trunc('month', month)::DATE AS p, {g} AS team, sum(amount) AS m_spend
        FROM {src("marketing_spend")} WHERE {rng("month")} GROUP BY ALL
    ){market},
    -- Groups: the values found in each dataset within the range (not the look-back).
    found AS (
        SELECT DISTINCT 'leads' AS ds, team FROM leads WHERE p >= DATE '{first}'
        UNION ALL SELECT DISTINCT 'deals', team FROM (
            SELECT team, p FROM deals UNION ALL SELECT team, p FROM deals_created
        ) WHERE p >= DATE '{first}'
        UNION ALL SELECT DISTINCT 'customers', team FROM customers WHERE p >= DATE '{first}'
        UNION ALL SELECT DISTINCT 'surveys', team FROM surveys WHERE p >= DATE '{first}'
        UNION ALL SELECT DISTINCT 'marketing_spend', team FROM spend WHERE p >= DATE '{first}'
        UNION ALL SELECT 'market_size', '*' WHERE {"true" if by is None else "false"}
    ),
    spine AS (
        SELECT p::DATE AS p, team
        FROM range(DATE '{lo}', DATE '{hi}', INTERVAL 1 MONTH) r(p),
             (SELECT DISTINCT team FROM found)
    ),
    base AS (
        SELECT p, team,
               coalesce(m_leads, 0) AS m_leads,
               coalesce(m_web_leads, 0) AS m_web_leads,
               coalesce(m_active_owners, 0) AS m_active_owners,
               coalesce(m_deals_created, 0) AS m_deals_created,
               coalesce(m_won_deals, 0) AS m_won_deals,
               coalesce(m_lost_deals, 0) AS m_lost_deals,
               coalesce(m_revenue, 0) AS m_revenue,
               m_big_deal_avg, m_largest_deal, m_smallest_deal,
               coalesce(m_new_customers, 0) AS m_new_customers,
               coalesce(m_new_accounts, 0) AS m_new_accounts,
               coalesce(m_enterprise_accounts, 0) AS m_enterprise_accounts,
               m_csat_avg,
               coalesce(m_responses, 0) AS m_responses,
               coalesce(m_detractors, 0) AS m_detractors,
               coalesce(m_spend, 0) AS m_spend
               {", coalesce(m_market_revenue, 0) AS m_market_revenue" if by is None else ""}
        FROM spine
        LEFT JOIN leads USING (p, team)
        LEFT JOIN deals USING (p, team)
        LEFT JOIN deals_created USING (p, team)
        LEFT JOIN customers USING (p, team)
        LEFT JOIN surveys USING (p, team)
        LEFT JOIN spend USING (p, team)
        {market_join}
    ),
    k AS (
        SELECT p, team,
            m_leads::DOUBLE AS leads,
            m_web_leads / nullif(m_leads, 0) AS web_lead_share,
            (m_leads - lag(m_leads) OVER w) / nullif(lag(m_leads) OVER w, 0) AS lead_growth,
            m_deals_created / nullif(m_leads, 0) AS opportunity_rate,
            m_won_deals / nullif(m_leads, 0) AS conversion_rate,
            m_won_deals / nullif(m_won_deals + m_lost_deals, 0) AS win_rate,
            m_revenue::DOUBLE AS revenue,
            m_revenue / nullif(lag(m_revenue) OVER w, 0) - 1 AS revenue_growth,
            (m_revenue - lag(m_revenue, 12) OVER w) / nullif(lag(m_revenue, 12) OVER w, 0)
                AS revenue_yoy,
            m_revenue / nullif(m_won_deals, 0) AS avg_deal_size,
            m_big_deal_avg AS big_deal_avg,
            m_largest_deal / nullif(m_smallest_deal, 0) AS deal_size_spread,
            m_new_customers::DOUBLE AS new_customers,
            m_spend / nullif(m_new_customers, 0) AS cac,
            (m_revenue - m_spend) / nullif(m_spend, 0) AS marketing_roi,
            m_csat_avg AS csat,
            m_detractors / nullif(m_responses, 0) AS detractor_rate,
            m_leads / nullif(m_active_owners, 0) AS leads_per_owner,
            m_enterprise_accounts / nullif(m_new_accounts, 0) AS enterprise_share
            {market_kpi}
        FROM base
        WINDOW w AS (PARTITION BY team ORDER BY p)
    ),
    long AS (
        SELECT * FROM k UNPIVOT INCLUDE NULLS (value FOR kpi IN (COLUMNS(* EXCLUDE (p, team))))
        WHERE p >= DATE '{first}'
    ),
    rows AS (
        SELECT l.*, m.ord, m.direction, m.green, m.amber
        FROM long l JOIN meta m USING (kpi)
        WHERE {"true" if by is None else "false"} OR EXISTS (
            SELECT 1 FROM kpi_datasets kd JOIN found f USING (ds)
            WHERE kd.kpi = l.kpi AND f.team = l.team
        )
    ),
    valued AS (
        SELECT r.*, t.value AS target
        FROM rows r ASOF LEFT JOIN targets t
            ON r.kpi = t.kpi AND r.team = t.team AND r.p >= t.start
    ),
    attained AS (
        SELECT *,
            CASE WHEN direction = 'up' THEN value / CASE WHEN target > 0 THEN target END
                 ELSE target / CASE WHEN value > 0 THEN value END END AS attainment
        FROM valued
    )
    SELECT kpi, strftime(p, '%Y-%m') AS period, team, value, target, attainment,
        CASE WHEN attainment IS NULL THEN 'none'
             WHEN attainment >= green THEN 'green'
             WHEN attainment >= amber THEN 'amber'
             ELSE 'red' END AS status
    FROM attained
    ORDER BY ord, p, team
    """


def sql_literal(v: object) -> str:
    if v is None:
        return "NULL"
    if isinstance(v, str):
        return "'" + v.replace("'", "''") + "'"
    return repr(v)


def values(rows: list[tuple[object, ...]], columns: str) -> str:
    body = ", ".join("(" + ", ".join(sql_literal(v) for v in r) + ")" for r in rows)
    return f"SELECT * FROM (VALUES {body}) v({columns})"


def load_meta(con: duckdb.DuckDBPyConnection, spec: dict[str, Any], kpi_keys: list[str]) -> None:
    """The tables `meta`, `kpi_datasets` and `targets` from kpis.json."""
    meta: list[tuple[object, ...]] = []
    kds: list[tuple[object, ...]] = []
    targets: list[tuple[object, ...]] = []
    for i, k in enumerate(spec["kpis"]):
        if k["key"] not in kpi_keys:
            continue
        th = k["thresholds"]
        meta.append((k["key"], i, k["direction"], th.get("green", 1.0), th.get("amber", 0.9)))
        kds += [(k["key"], ds) for ds in k["datasets"]]
        for t in k["targets"]:
            where = t["where"] or {}
            if set(where) - {"team"}:
                continue  # applies to a group of another dimension
            targets.append((k["key"], where.get("team", "*"), t["first_day"], float(t["value"])))
    con.execute(f"CREATE TABLE meta AS {values(meta, 'kpi, ord, direction, green, amber')}")
    con.execute(f"CREATE TABLE kpi_datasets AS {values(kds, 'kpi, ds')}")
    con.execute(
        "CREATE TABLE targets AS SELECT kpi, team, start::DATE AS start, value::DOUBLE AS value "
        f"FROM ({values(targets, 'kpi, team, start, value')})"
    )


def fmt(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v)
    return str(v)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("data", type=Path, help="data folder (with the Parquet files, kpis.json)")
    ap.add_argument("--from", dest="first", required=True, help="first month, e.g. 2024-01")
    ap.add_argument("--to", dest="last", required=True, help="last month, e.g. 2026-12")
    ap.add_argument("--by", choices=["team"])
    ap.add_argument("--show-sql", action="store_true")
    args = ap.parse_args()
    data: Path = args.data.resolve()
    spec = json.loads((data / "kpis.json").read_text())
    keys = spec["by_team"] if args.by else [k["key"] for k in spec["kpis"]]
    sql = build_sql(data, month(args.first), month(args.last), args.by)
    if args.show_sql:
        print(sql)
        return 0
    con = duckdb.connect()
    load_meta(con, spec, keys)
    rows = con.execute(sql).fetchall()
    out = csv.writer(sys.stdout, lineterminator="\n")
    header = ["kpi", "period", *([args.by] if args.by else []), "value", "target"]
    out.writerow([*header, "attainment", "status"])
    for kpi, period, team, value, target, attainment, status in rows:
        group = [team] if args.by else []
        out.writerow([kpi, period, *group, fmt(value), fmt(target), fmt(attainment), status])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
