"""Generate the benchmark's CRM data as Parquet, with its workspace file.

    uv run python bench/generate.py --leads 1000000              # -> bench/data/1m/
    uv run python bench/generate.py --leads 10000000             # -> bench/data/10m/
    uv run python bench/generate.py --leads 200000 --out /tmp/x  # anywhere

Everything is computed by DuckDB from `range()` and `hash()` of (row number, column, seed),
so it runs in parallel, streams to Parquet without holding tables in memory, and is the same
byte for byte for a given seed and DuckDB version. Naive timestamps are local time of the
workspace's timezone, which is UTC.

Tables (N = --leads):
  leads            N rows        lead_id, created_at, source, team, owner, product
  deals            ~0.3 N        deal_id, lead_id, customer_id, team, created_at, closed_at,
                                 stage, amount, is_first_purchase
  customers        0.1 N         customer_id, first_seen, team, segment
  surveys          0.2 N         survey_id, answered_at, team, customer_id, csat
  marketing_spend  36x20x5       id, month, team, channel, amount
  market_size      36x5x4        id, month, region, product, market_revenue
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
import kpis as ws

BENCH = Path(__file__).resolve().parent
BUCKETS = 4096


def size_label(n: int) -> str:
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}m"
    if n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)


def month_weights() -> list[float]:
    """Relative volume of each of the 36 months: growth of ~50% over three years, a spring
    peak, a summer dip and a December slump."""
    season = [0.95, 1.0, 1.15, 1.2, 1.1, 1.0, 0.85, 0.8, 1.05, 1.1, 1.0, 0.8]
    return [(1 + 0.5 * m / (ws.MONTHS - 1)) * season[m % 12] for m in range(ws.MONTHS)]


def month_buckets() -> list[int]:
    """Inverse CDF of the month weights over BUCKETS equal slices of [0, 1)."""
    w = month_weights()
    total = sum(w)
    cum, acc = [], 0.0
    for x in w:
        acc += x / total
        cum.append(acc)
    out, m = [], 0
    for b in range(BUCKETS):
        q = (b + 0.5) / BUCKETS
        while cum[m] < q:
            m += 1
        out.append(m)
    return out


def _list(values: list[str]) -> str:
    return "[" + ", ".join(f"'{v}'" for v in values) + "]"


def _pick(x: str, values: list[str], cum: list[float]) -> str:
    """SQL choosing values[i] for the first i with x < cum[i]; the last value otherwise."""
    whens = " ".join(f"WHEN {x} < {c} THEN '{v}'" for v, c in zip(values, cum, strict=False))
    return f"CASE {whens} ELSE '{values[-1]}' END"


def macros(con: duckdb.DuckDBPyConnection, seed: int) -> None:
    if not 0 <= seed < 2**30:
        raise SystemExit("--seed must be in [0, 2**30)")
    # u(i, k): uniform in [0, 1) for row i < 2**26 and column k < 64; independent across i, k
    # and seeds.
    con.execute(
        f"CREATE MACRO u(i, k) AS "
        f"hash(i * 64 + k + {seed} * 4294967296)::DOUBLE / 18446744073709551616.0"
    )
    # A standard normal from two uniforms (Box-Muller).
    con.execute(
        "CREATE MACRO normal(i, k) AS sqrt(-2 * ln(1 - u(i, k))) * cos(2 * pi() * u(i, k + 1))"
    )
    con.execute(f"CREATE MACRO month_idx(x) AS {month_buckets()}[floor(x * {BUCKETS})::INT + 1]")
    # A timestamp uniformly placed in the seasonally drawn month.
    con.execute(
        f"CREATE MACRO seasonal_ts(i, k) AS "
        f"(DATE '{ws.FIRST_MONTH}-01' + to_months(month_idx(u(i, k))))::TIMESTAMP + "
        f"to_seconds(floor(u(i, k + 1) * 86400 * "
        f"day(last_day(DATE '{ws.FIRST_MONTH}-01' + to_months(month_idx(u(i, k))))))::BIGINT)"
    )
    # Teams have different sizes: t01 is the largest.
    con.execute("CREATE MACRO team_idx(x) AS floor(20 * pow(x, 1.4))::INT")
    con.execute("CREATE MACRO team_of(x) AS 't' || lpad((team_idx(x) + 1)::VARCHAR, 2, '0')")


def copy(con: duckdb.DuckDBPyConnection, sql: str, path: Path) -> int:
    con.execute(f"COPY ({sql}) TO '{path}' (FORMAT parquet, WRITE_BLOOM_FILTER false)")
    n = con.execute(f"SELECT count(*) FROM read_parquet('{path}')").fetchone()
    return int(n[0]) if n else 0


def generate(n_leads: int, out: Path, seed: int) -> dict[str, int]:
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = true")
    macros(con, seed)
    n_customers = max(1, n_leads // 10)
    n_surveys = max(1, n_leads // 5)
    rows: dict[str, int] = {}
    timings: dict[str, float] = {}

    def write(name: str, sql: str) -> None:
        t0 = time.perf_counter()
        rows[name] = copy(con, sql, out / f"{name}.parquet")
        timings[name] = time.perf_counter() - t0
        print(f"  {name:16} {rows[name]:>12,} rows  {timings[name]:6.1f} s", flush=True)

    # leads: k 0-9
    write(
        "leads",
        f"""
        SELECT
            i + 1 AS lead_id,
            seasonal_ts(i, 0) AS created_at,
            {_pick("u(i, 2)", ws.SOURCES, [0.35, 0.6, 0.75, 0.85])} AS source,
            team_of(u(i, 3)) AS team,
            'rep' || lpad((team_idx(u(i, 3)) * 10 + floor(u(i, 4) * 10)::INT + 1)::VARCHAR,
                          3, '0') || '@bench.example' AS owner,
            {_pick("u(i, 5)", ws.PRODUCTS, [0.4, 0.7, 0.8])} AS product
        FROM range({n_leads}) t(i)
        """,
    )

    # deals: up to two per lead (27% get a first, 3% a second), k 16-31 (+8 for the second);
    # read back from leads.parquet for the lead's time, team, source and product.
    leads_path = out / "leads.parquet"
    write(
        "deals",
        f"""
        WITH d AS (
            SELECT *, (lead_id - 1) * 2 + slot AS j
            FROM (SELECT *, unnest([0, 1]) AS slot FROM read_parquet('{leads_path}'))
            WHERE (slot = 0 AND u((lead_id - 1) * 2, 16) < 0.27)
               OR (slot = 1 AND u((lead_id - 1) * 2 + 1, 16) < 0.03)
        ), s AS (
            SELECT *,
                u(j, 17) AS r_stage,
                CASE source WHEN 'referral' THEN 0.45 WHEN 'events' THEN 0.32
                            WHEN 'web' THEN 0.3 WHEN 'ads' THEN 0.26 ELSE 0.2 END
                    * (1.15 - 0.015 * right(team, 2)::INT)
                    AS p_won,
                created_at + to_seconds(floor(u(j, 18) * 14 * 86400)::BIGINT) AS d_created
            FROM d
        )
        SELECT
            j + 1 AS deal_id,
            lead_id,
            1 + floor(u(j, 19) * {n_customers})::BIGINT AS customer_id,
            team,
            d_created AS created_at,
            CASE WHEN r_stage < 0.8 THEN
                d_created + to_seconds((3600 + floor(u(j, 20) * 90 * 86400))::BIGINT)
            END AS closed_at,
            CASE WHEN r_stage < p_won THEN 'won' WHEN r_stage < 0.8 THEN 'lost' ELSE 'open' END
                AS stage,
            round(
                CASE product WHEN 'basic' THEN 800 WHEN 'pro' THEN 3000
                             WHEN 'enterprise' THEN 12000 ELSE 300 END
                * exp(0.6 * normal(j, 21)), 2) AS amount,
            u(j, 23) < 0.45 AS is_first_purchase
        FROM s
        """,
    )

    # customers: k 32-39
    write(
        "customers",
        f"""
        SELECT
            i + 1 AS customer_id,
            seasonal_ts(i, 32) AS first_seen,
            team_of(u(i, 34)) AS team,
            {_pick("u(i, 35)", ws.SEGMENTS, [0.7, 0.92])} AS segment
        FROM range({n_customers}) t(i)
        """,
    )

    # surveys: k 40-47; teams differ a little in satisfaction.
    write(
        "surveys",
        f"""
        WITH s AS (
            SELECT i, team_idx(u(i, 42)) AS ti, u(i, 44) AS r FROM range({n_surveys}) t(i)
        )
        SELECT
            i + 1 AS survey_id,
            seasonal_ts(i, 40) AS answered_at,
            't' || lpad((ti + 1)::VARCHAR, 2, '0') AS team,
            1 + floor(u(i, 43) * {n_customers})::BIGINT AS customer_id,
            (1 + (r > 0.05 + ti * 0.002)::INT + (r > 0.13 + ti * 0.003)::INT
               + (r > 0.33 + ti * 0.004)::INT + (r > 0.63 + ti * 0.004)::INT)::INTEGER AS csat
        FROM s
        """,
    )

    weights = month_weights()
    n_weights = len(weights)
    n_ch = len(ws.CHANNELS)
    # marketing_spend: one row per month x team x channel; k 48-49.
    write(
        "marketing_spend",
        f"""
        SELECT
            (m * 20 + t) * {n_ch} + c + 1 AS id,
            (DATE '{ws.FIRST_MONTH}-01' + to_months(m))::DATE AS month,
            't' || lpad((t + 1)::VARCHAR, 2, '0') AS team,
            {_list(ws.CHANNELS)}[c + 1] AS channel,
            round({n_leads} * 0.1 * [0.35, 0.25, 0.15, 0.1, 0.15][c + 1]
                  * {weights}[m + 1] * (1.4 - t * 0.04)
                  * (0.8 + 0.4 * u((m * 20 + t) * {n_ch} + c, 48)), 2) AS amount
        FROM range({n_weights}) a(m), range(20) b(t), range({n_ch}) d(c)
        ORDER BY id
        """,
    )
    n_p = len(ws.PRODUCTS)
    n_r = len(ws.REGIONS)
    # market_size: one row per month x region x product; k 50.
    write(
        "market_size",
        f"""
        SELECT
            (m * {n_r} + r) * {n_p} + p + 1 AS id,
            (DATE '{ws.FIRST_MONTH}-01' + to_months(m))::DATE AS month,
            {_list(ws.REGIONS)}[r + 1] AS region,
            {_list(ws.PRODUCTS)}[p + 1] AS product,
            round({n_leads} * 60 * [0.3, 0.25, 0.2, 0.15, 0.1][r + 1]
                  * [0.2, 0.35, 0.4, 0.05][p + 1] * (1 + 0.25 * m / 35)
                  * (0.9 + 0.2 * u((m * {n_r} + r) * {n_p} + p, 50)), 2) AS market_revenue
        FROM range({n_weights}) a(m), range({n_r}) b(r), range({n_p}) c(p)
        ORDER BY id
        """,
    )
    con.close()
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--leads", type=int, required=True, help="number of leads (e.g. 1000000)")
    ap.add_argument("--out", type=Path, help="output folder (default bench/data/<size>)")
    ap.add_argument("--seed", type=int, default=ws.SEED_DEFAULT)
    args = ap.parse_args()
    if not 1000 <= args.leads <= 30_000_000:
        # Row numbers times 64 must stay below 2**32 for u() to be independent of the seed.
        raise SystemExit("--leads must be between 1000 and 30000000")
    out: Path = args.out or BENCH / "data" / size_label(args.leads)
    print(f"generating {args.leads:,} leads into {out} (seed {args.seed})", flush=True)
    t0 = time.perf_counter()
    rows = generate(args.leads, out, args.seed)
    (out / "workspace.yaml").write_text(ws.workspace_yaml(args.leads), encoding="utf-8")
    (out / "kpis.json").write_text(json.dumps(ws.kpis_json(args.leads), indent=1) + "\n")
    sizes = {p.name: p.stat().st_size for p in sorted(out.glob("*.parquet"))}
    meta = {
        "leads": args.leads,
        "seed": args.seed,
        "rows": rows,
        "duckdb": duckdb.__version__,
        "bytes": sizes,
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    total = sum(sizes.values())
    print(
        f"done in {time.perf_counter() - t0:.1f} s; {math.ceil(total / 2**20)} MiB of Parquet; "
        f"workspace: {out / 'workspace.yaml'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
