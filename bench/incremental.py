"""Incremental recompute benchmark (issue 9): append one day of leads and deals to the
generated data set as new Parquet parts, recompute only what they touch, and compare
with a full compute of the same workspace in the same process.

    uv run python bench/incremental.py --size 1m
    uv run python bench/incremental.py --size 10m      # -> bench/results/incremental-10m.json

The data set of generate.py is converted once into parts (bench/data/<size>-parts/):
leads and deals become one Parquet file per month of created_at (the load that brought
the rows), each sorted by its dataset's time column (leads: created_at, deals:
closed_at) in row groups of ROW_GROUP_ROWS, as a pipeline that appends a file per load
and sorts it by time writes them; the other datasets are read where they are. Sorted
parts let the Parquet statistics skip what a restricted scan does not need.

Goals: append + incremental compute <= 0.3 s, >= 5x faster than the full compute, and
the incremental rows merged into the earlier result equal the full compute's rows (1e-9
relative).

Each phase is timed twice: wall time, and the CPU seconds (user + sys) the whole process
spent in it, over all of DuckDB's threads. On a shared machine the wall time grows with
the load; the CPU time much less, so the report gives both, and the load average.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb

from headway.engine.checked import CheckedFiles
from headway.engine.compute import ComputeRequest, Engine, ResultRow
from headway.engine.incremental import Change, Known, merge, recompute
from headway.engine.workspace import Workspace, load_workspace

HERE = Path(__file__).resolve().parent
PARTED = ("leads", "deals")
# The time column each part is sorted by: the dataset's own (`time:` in the workspace).
SORTED_BY = {"leads": "created_at", "deals": "closed_at"}
ROW_GROUP_ROWS = 16_384
# Written beside the parts: data converted another way is converted again.
LAYOUT = f"monthly by created_at; sorted by {SORTED_BY}; row groups of {ROW_GROUP_ROWS}"
# Parts are named in the order they were loaded, so the newest sorts last.
APPENDED = "part-9000-2027-01-01.parquet"


def convert(data: Path, parts: Path) -> None:
    """leads and deals as monthly parts in time order; a workspace that reads them."""
    marker = parts / "layout.txt"
    if (parts / "workspace.yaml").exists() and marker.exists() and marker.read_text() == LAYOUT:
        return
    print(f"converting {data} into parts in {parts} ...", flush=True)
    began = time.perf_counter()
    connection = duckdb.connect()
    for name in PARTED:
        folder = parts / name
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.parquet"):
            old.unlink()
        source = data / f"{name}.parquet"
        connection.execute(
            f"CREATE TABLE {name} AS SELECT * FROM read_parquet('{source}') ORDER BY created_at"
        )
        months = connection.execute(
            f"SELECT DISTINCT strftime(created_at, '%Y-%m') FROM {name} ORDER BY 1"
        ).fetchall()
        for number, (month,) in enumerate(months, start=1):
            target = folder / f"part-{number:04d}-{month}.parquet"
            connection.execute(
                f"COPY (SELECT * FROM {name} WHERE strftime(created_at, '%Y-%m') = '{month}' "
                f"ORDER BY {SORTED_BY[name]} NULLS LAST, created_at) TO '{target}' "
                f"(FORMAT parquet, ROW_GROUP_SIZE {ROW_GROUP_ROWS})"
            )
        connection.execute(f"DROP TABLE {name}")
    connection.close()
    text = (data / "workspace.yaml").read_text(encoding="utf-8")
    for line in [line for line in text.splitlines() if line.strip().startswith("file: ")]:
        file = line.split("file: ", 1)[1].strip()
        stem = file.removesuffix(".parquet")
        target = stem if stem in PARTED else str((data / file).resolve())
        text = text.replace(line, line.replace(file, target))
    (parts / "workspace.yaml").write_text(text, encoding="utf-8")
    marker.write_text(LAYOUT, encoding="utf-8")
    print(f"converted in {time.perf_counter() - began:.1f} s", flush=True)


def prepare_day(connection: duckdb.DuckDBPyConnection, parts: Path) -> None:
    """The new day's rows, staged in memory as an import would have them: the leads of
    the last day moved one day on, with new keys, and the deals of those leads."""
    leads = f"'{parts / 'leads'}/*.parquet'"
    deals = f"'{parts / 'deals'}/*.parquet'"
    connection.execute(
        f"""
        CREATE TABLE new_leads AS
        WITH last_day AS (SELECT max(created_at)::DATE AS day FROM read_parquet({leads})),
             top AS (SELECT max(lead_id) AS id FROM read_parquet({leads}))
        SELECT (SELECT id FROM top) + row_number() OVER (ORDER BY lead_id) AS lead_id,
               created_at + INTERVAL 1 DAY AS created_at, source, team, owner, product,
               lead_id AS old_lead
        FROM read_parquet({leads})
        WHERE created_at >= (SELECT day FROM last_day)
        """
    )
    connection.execute(
        f"""
        CREATE TABLE new_deals AS
        WITH top AS (SELECT max(deal_id) AS id FROM read_parquet({deals}))
        SELECT (SELECT id FROM top) + row_number() OVER (ORDER BY d.deal_id) AS deal_id,
               n.lead_id, d.customer_id, d.team, d.created_at + INTERVAL 1 DAY AS created_at,
               d.closed_at + INTERVAL 1 DAY AS closed_at, d.stage, d.amount,
               d.is_first_purchase
        FROM read_parquet({deals}) d JOIN new_leads n ON d.lead_id = n.old_lead
        """
    )


def append(connection: duckdb.DuckDBPyConnection, parts: Path) -> None:
    """Writes the staged day as one new part per dataset, sorted as the others are,
    synced to disk."""
    for name, select in (
        ("leads", "SELECT * EXCLUDE (old_lead) FROM new_leads"),
        ("deals", "SELECT * FROM new_deals"),
    ):
        target = parts / name / APPENDED
        connection.execute(
            f"COPY ({select} ORDER BY {SORTED_BY[name]} NULLS LAST, created_at) TO '{target}' "
            f"(FORMAT parquet, ROW_GROUP_SIZE {ROW_GROUP_ROWS})"
        )
        with target.open("rb") as handle:
            os.fsync(handle.fileno())


def changes(connection: duckdb.DuckDBPyConnection) -> list[Change]:
    """What an import of the day knows of its rows: their times and teams."""
    found = []
    for name, columns in (("leads", ["created_at"]), ("deals", ["created_at", "closed_at"])):
        table = f"new_{name}"
        low = ", ".join(f"min({column})" for column in columns)
        high = ", ".join(f"max({column})" for column in columns)
        row = connection.execute(
            f"SELECT least({low}), greatest({high}), list(DISTINCT team) FROM {table}"
        ).fetchone()
        assert row is not None
        found.append(Change(name, row[0], row[1], {"team": frozenset(row[2])}))
    return found


def remove_appended(parts: Path) -> None:
    for name in PARTED:
        (parts / name / APPENDED).unlink(missing_ok=True)


def close(a: float | int | None, b: float | int | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def disagreements(merged: list[ResultRow], full: list[ResultRow]) -> list[str]:
    left = {(row.kpi, row.period.label, row.group): row for row in merged}
    right = {(row.kpi, row.period.label, row.group): row for row in full}
    found = [f"only incremental: {key}" for key in left.keys() - right.keys()]
    found += [f"only full: {key}" for key in right.keys() - left.keys()]
    for key in left.keys() & right.keys():
        a, b = left[key], right[key]
        if not (close(a.value, b.value) and close(a.target, b.target) and a.status == b.status):
            found.append(f"{key}: incremental {a.value} {a.status}, full {b.value} {b.status}")
    return sorted(found)


def cpu_seconds() -> float:
    """User + system CPU time of this process so far, all threads included."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def one_run(workspace: Workspace, parts: Path, cache: Path, by_team: list[str]) -> dict[str, Any]:
    modes: list[tuple[str, str | None, tuple[str, ...]]] = [
        ("totals", None, ()),
        ("team", "team", tuple(by_team)),
    ]
    remove_appended(parts)
    earlier: dict[str, list[ResultRow]] = {}
    known: dict[str, Known] = {}
    with Engine(workspace, CheckedFiles(cache)) as engine:
        for mode, by, kpis in modes:
            result = engine.compute(ComputeRequest(kpis=kpis, by=by))
            earlier[mode], known[mode] = result.rows, Known.of(result)
    staging = duckdb.connect()
    prepare_day(staging, parts)
    day = changes(staging)
    began, cpu = time.perf_counter(), cpu_seconds()
    append(staging, parts)
    appended, appended_cpu = time.perf_counter() - began, cpu_seconds() - cpu
    incremental: dict[str, float] = {}
    incremental_cpu: dict[str, float] = {}
    recomputed = {}
    for mode, by, kpis in modes:
        began, cpu = time.perf_counter(), cpu_seconds()
        with Engine(workspace, CheckedFiles(cache)) as engine:
            recomputed[mode] = recompute(engine, day, known[mode], by=by, kpis=kpis)
        incremental[mode] = time.perf_counter() - began
        incremental_cpu[mode] = cpu_seconds() - cpu
    full: dict[str, float] = {}
    full_cpu: dict[str, float] = {}
    problems: dict[str, list[str]] = {}
    rows: dict[str, int] = {}
    for mode, by, kpis in modes:
        began, cpu = time.perf_counter(), cpu_seconds()
        with Engine(workspace, CheckedFiles(cache)) as engine:
            result = engine.compute(ComputeRequest(kpis=kpis, by=by))
        full[mode] = time.perf_counter() - began
        full_cpu[mode] = cpu_seconds() - cpu
        problems[mode] = disagreements(merge(earlier[mode], recomputed[mode]), result.rows)
        rows[mode] = len(recomputed[mode].rows)
    remove_appended(parts)
    result_of_run = {
        "append_s": appended,
        "incremental_s": incremental,
        "full_s": full,
        "append_cpu_s": appended_cpu,
        "incremental_cpu_s": incremental_cpu,
        "full_cpu_s": full_cpu,
        "recomputed_rows": rows,
        "new_rows": {
            name: int(staging.execute(f"SELECT count(*) FROM new_{name}").fetchone()[0])  # type: ignore[index]
            for name in PARTED
        },
        "disagreements": problems,
    }
    staging.close()
    return result_of_run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1m")
    parser.add_argument("--data", type=Path)
    parser.add_argument("--parts", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    data = args.data or HERE / "data" / args.size
    parts = args.parts or HERE / "data" / f"{args.size}-parts"
    out = args.out or HERE / "results" / f"incremental-{args.size}.json"
    if not (data / "workspace.yaml").exists():
        print(f"no data in {data}: run bench/generate.py first", file=sys.stderr)
        return 2
    convert(data, parts)
    by_team = json.loads((data / "kpis.json").read_text())["by_team"]
    began = time.perf_counter()
    workspace = load_workspace(parts / "workspace.yaml")
    parse_s = time.perf_counter() - began
    runs = []
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="headway-bench-incremental-") as cache:
        for number in range(args.runs):
            run = one_run(workspace, parts, Path(cache), by_team)
            runs.append(run)
            print(f"run {number + 1}: {json.dumps(run, default=str)}", flush=True)
    load_after = os.getloadavg()
    summary: dict[str, Any] = {}
    ok = True
    for mode in ("totals", "team"):
        append_s = statistics.median(run["append_s"] for run in runs)
        inc = statistics.median(run["incremental_s"][mode] for run in runs)
        total = statistics.median(run["append_s"] + run["incremental_s"][mode] for run in runs)
        full = statistics.median(run["full_s"][mode] for run in runs)
        total_cpu = statistics.median(
            run["append_cpu_s"] + run["incremental_cpu_s"][mode] for run in runs
        )
        full_cpu = statistics.median(run["full_cpu_s"][mode] for run in runs)
        same = all(not run["disagreements"][mode] for run in runs)
        ok = ok and same
        summary[mode] = {
            "append_s": round(append_s, 4),
            "incremental_s": round(inc, 4),
            "total_s": round(total, 4),
            "full_s": round(full, 4),
            "full_over_total": round(full / total, 2),
            "total_cpu_s": round(total_cpu, 4),
            "full_cpu_s": round(full_cpu, 4),
            "full_over_total_cpu": round(full_cpu / total_cpu, 2) if total_cpu else None,
            "recomputed_rows": runs[0]["recomputed_rows"][mode],
            "identical": same,
            "goals": {
                "total <= 0.3 s": total <= 0.3,
                "full >= 5x total": full >= 5 * total,
                "identical": same,
            },
        }
    report = {
        "date": datetime.date.today().isoformat(),
        "size": args.size,
        "runs": args.runs,
        "workspace_parse_s": round(parse_s, 4),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "duckdb": duckdb.__version__,
        # 1-, 5- and 15-minute load averages before the first run and after the last.
        "load_average": {"before": load_before, "after": load_after},
        "summary": summary,
        "runs_detail": runs,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1, default=str), encoding="utf-8")
    print(
        f"\n{'mode':8} {'append':>8} {'incr.':>8} {'total':>8} {'full':>8} {'ratio':>7} "
        f"{'cpu tot.':>9} {'cpu full':>9} {'ratio':>7} same"
    )
    for mode, item in summary.items():
        print(
            f"{mode:8} {item['append_s']:8.3f} {item['incremental_s']:8.3f} "
            f"{item['total_s']:8.3f} {item['full_s']:8.3f} {item['full_over_total']:6.1f}x "
            f"{item['total_cpu_s']:9.3f} {item['full_cpu_s']:9.3f} "
            f"{item['full_over_total_cpu'] or 0:6.1f}x {item['identical']}"
        )
    print(
        "load average (1, 5, 15 min): "
        f"before {', '.join(f'{value:.1f}' for value in load_before)}; "
        f"after {', '.join(f'{value:.1f}' for value in load_after)}"
    )
    for run in runs:
        for mode, found in run["disagreements"].items():
            for line in found[:20]:
                print(f"DISAGREE {mode}: {line}")
    print(f"-> {out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
