"""Benchmark of a CSV import into Headway's warehouse against DuckDB's own CSV reader.

    uv run python bench/import_csv.py                       # 1,000,000 rows, 3 rounds
    uv run python bench/import_csv.py --rows 20000 --repeats 1   # a quick look

It generates (once, then reuses) a deals-like CSV of --rows rows in bench/data/import-<size>/:
`deals.csv` (deal_id key, created_at timestamp, source, team, owner, product and stage text,
amount a decimal number, seats a whole number) and `deals-changed.csv`, the same rows with
the amount of every 100th deal changed (1% of the rows).

Round after round, each measurement in a fresh process and a fresh folder, it times:
  duckdb-table     CREATE TABLE t AS SELECT * FROM read_csv('deals.csv') into a new DuckDB
                   database file (connect, create, close: the goal's baseline)
  duckdb-parquet   COPY (SELECT * FROM read_csv('deals.csv')) TO 'x.parquet' (zstd, the
                   codec Headway writes): DuckDB doing the job Headway's import does
  headway          headway.ingestion.services.import_file in a Django process with a new
                   SQLite app database and an empty dataset: the first import, then the
                   same file again (nothing changes), then deals-changed.csv (1% updated).
                   Only the import_file calls are timed.
  headway-cli      `headway import deals FILE` as a user runs it (the venv's executable), the
                   same three imports after an untimed `headway apply`: process wall time,
                   start-up, Django and the recompute check included.
Each figure is the median of --repeats rounds. Rates are rows per second; a ratio is
Headway's rate over a baseline's. The goal (issue 4) is a first import at no less than
0.8x the rate of duckdb-table, both timed in process. The CLI is compared with the
baselines' process wall times (Python start-up and `import duckdb` included).

Peak memory: the maximum RSS of the process during the timed step (VmHWM, reset before
it), or of the whole process for headway-cli.

Exit status 0 when every import did what it should (counts checked), even if the goal is
missed; 2 when a command failed. Writes bench/results/import-<size>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compute as cb  # the compute benchmark's process runner and report helpers
import generate as gen
import kpis as ws

BENCH = Path(__file__).resolve().parent

GOAL = 0.8  # Headway's first import at least 0.8x DuckDB's read_csv into a table
DATA_VERSION = 1  # bump when the generated files change shape
DATASET = "deals"
WORKSPACE = """\
version: 1
organization: {name: Import benchmark, timezone: UTC, currency: USD}
datasets:
  deals: {file: deals.csv, key: deal_id, time: created_at,
          dimensions: [team, source, product, stage]}
measures:
  revenue: {dataset: deals, agg: sum, column: amount}
  seats: {dataset: deals, agg: sum, column: seats}
kpis: []
"""

# What each measurement is, in the order of the report.
BASELINES = ("duckdb-table", "duckdb-parquet")
IMPORTS = ("first", "again", "changed")
LABELS = {
    "duckdb-table": "duckdb read_csv -> table (baseline)",
    "duckdb-parquet": "duckdb read_csv -> parquet",
    "headway/first": "headway first import",
    "headway/again": "headway same file again",
    "headway/changed": "headway 1% of rows changed",
    "headway-cli/first": "headway import (CLI) first",
    "headway-cli/again": "headway import (CLI) again",
    "headway-cli/changed": "headway import (CLI) 1% changed",
}


# The data ------------------------------------------------------------------------------


def deals_sql(rows: int) -> str:
    """The deals, computed by DuckDB from (row, column, seed) with generate.py's macros."""
    return f"""
        SELECT
            i + 1 AS deal_id,
            seasonal_ts(i, 0) AS created_at,
            {gen._pick("u(i, 2)", ws.SOURCES, [0.35, 0.6, 0.75, 0.85])} AS source,
            team_of(u(i, 3)) AS team,
            'rep' || lpad((team_idx(u(i, 3)) * 10 + floor(u(i, 4) * 10)::INT + 1)::VARCHAR,
                          3, '0') || '@bench.example' AS owner,
            {gen._pick("u(i, 5)", ws.PRODUCTS, [0.4, 0.7, 0.8])} AS product,
            CASE WHEN u(i, 6) < 0.3 THEN 'won' WHEN u(i, 6) < 0.8 THEN 'lost' ELSE 'open' END
                AS stage,
            round(1000 * exp(0.6 * normal(i, 7)), 2) AS amount,
            1 + floor(u(i, 9) * 50)::BIGINT AS seats
        FROM range({rows}) t(i)
    """


def changed_rows(rows: int) -> int:
    return rows // 100


def generate_data(rows: int, seed: int, folder: Path) -> dict[str, Any]:
    """Writes deals.csv and deals-changed.csv, unless the folder holds them already."""
    import duckdb

    meta_path = folder / "meta.json"
    wanted = {"version": DATA_VERSION, "rows": rows, "seed": seed, "duckdb": duckdb.__version__}
    if meta_path.exists():
        meta: dict[str, Any] = json.loads(meta_path.read_text())
        files = [folder / "deals.csv", folder / "deals-changed.csv"]
        if all(meta.get(k) == v for k, v in wanted.items()) and all(p.exists() for p in files):
            print(f"data: reusing {folder}")
            return meta
    folder.mkdir(parents=True, exist_ok=True)
    print(f"data: generating {rows:,} rows into {folder} (seed {seed})", flush=True)
    started = time.perf_counter()
    connection = duckdb.connect()
    connection.execute("SET preserve_insertion_order = true")
    gen.macros(connection, seed)
    sql = deals_sql(rows)
    for name, select in (
        ("deals.csv", sql),
        # Every 100th deal's amount changes: 1% of the rows are updates.
        (
            "deals-changed.csv",
            f"SELECT * REPLACE (CASE WHEN deal_id % 100 = 0 THEN round(amount + 1, 2) "
            f"ELSE amount END AS amount) FROM ({sql})",
        ),
    ):
        path = folder / name
        connection.execute(f"COPY ({select}) TO '{path}' (FORMAT csv, HEADER)")
    connection.close()
    meta = wanted | {
        "changed_rows": changed_rows(rows),
        "bytes": {p.name: p.stat().st_size for p in sorted(folder.glob("*.csv"))},
    }
    meta_path.write_text(json.dumps(meta, indent=1) + "\n")
    print(f"data: done in {time.perf_counter() - started:.1f} s")
    return meta


# The workers: one measurement each, in a process of its own ----------------------------


def peak_reset() -> None:
    """Starts a new peak RSS for this process (Linux: VmHWM is reset by clear_refs 5)."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        pass


def peak_rss() -> int:
    """This process's peak RSS since the last reset, in bytes (ru_maxrss where no /proc)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def worker_baseline(kind: str, csv: Path, work: Path) -> dict[str, Any]:
    import duckdb

    source = f"read_csv('{csv}')"
    peak_reset()
    started = time.perf_counter()
    if kind == "duckdb-table":
        connection = duckdb.connect(str(work / "baseline.duckdb"))
        connection.execute(f"CREATE TABLE t AS SELECT * FROM {source}")
        rows = connection.execute("SELECT count(*) FROM t").fetchone()
        connection.close()
    else:
        connection = duckdb.connect()
        target = work / "baseline.parquet"
        connection.execute(
            f"COPY (SELECT * FROM {source}) TO '{target}' (FORMAT parquet, COMPRESSION zstd)"
        )
        rows = connection.execute(f"SELECT count(*) FROM read_parquet('{target}')").fetchone()
        connection.close()
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "peak_rss": peak_rss(), "rows": int(rows[0]) if rows else 0}


def app_environment(work: Path) -> dict[str, str]:
    """A Headway of its own in `work`: a new SQLite database, warehouse and cache."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "PYTEST_VERSION", "HEADWAY_NO_CACHE", "DJANGO_SETTINGS_MODULE"}
    }
    env["HEADWAY_MODE"] = "local"
    env["HEADWAY_DATA_DIR"] = str(work / "app")
    env["HEADWAY_CACHE_DIR"] = str(work / "cache")
    return env


def worker_headway(csv: Path, changed: Path, work: Path) -> dict[str, Any]:
    os.environ.clear()
    os.environ.update(app_environment(work))
    (work / "workspace.yaml").write_text(WORKSPACE, encoding="utf-8")
    # Django set up as the command line does it (headway.cli.app.setup_django, migrate).
    os.environ["DJANGO_SETTINGS_MODULE"] = "headway.site.settings"
    import django
    from django.conf import settings
    from django.core.management import call_command

    Path(settings.DATA_DIR).mkdir(parents=True, exist_ok=True)
    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    from headway.engine.workspace import load_workspace
    from headway.ingestion import services
    from headway.kpis.models import Dataset
    from headway.kpis.workspace_io import apply_plan, plan_apply

    apply_plan(plan_apply(load_workspace(work / "workspace.yaml")), by=None)
    marks: list[tuple[str, float]] = []
    # The import's named steps (the fault tests' hook), for a breakdown of the time.
    if hasattr(services, "fault_hook"):
        services.fault_hook = lambda name: marks.append((name, time.perf_counter()))
    out: dict[str, Any] = {}
    for label, path in (("first", csv), ("again", csv), ("changed", changed)):
        dataset = Dataset.objects.get(key=DATASET)
        marks.clear()
        peak_reset()
        started = time.perf_counter()
        run = services.import_file(dataset=dataset, path=path, by=None, source="cli")
        seconds = time.perf_counter() - started
        steps, previous = [], started
        for name, when in marks:
            steps.append([name, when - previous])
            previous = when
        out[label] = {
            "seconds": seconds,
            "peak_rss": peak_rss(),
            "status": str(run.status),
            "error": run.error,
            "rows_in_file": run.rows_in_file,
            "added": run.added,
            "updated": run.updated,
            "unchanged": run.unchanged,
            "steps": steps,
        }
    return out


def worker(args: argparse.Namespace) -> int:
    csv, changed, work = Path(args.csv), Path(args.changed), Path(args.work)
    if args.worker == "headway":
        result = worker_headway(csv, changed, work)
    else:
        result = worker_baseline(args.worker, csv, work)
    print(json.dumps(result))
    return 0


# The runs ----------------------------------------------------------------------------


@dataclass
class Figure:
    """One measurement, over the rounds."""

    name: str
    seconds: list[float] = field(default_factory=list)  # timed step (in process)
    wall: list[float] = field(default_factory=list)  # the process, start to exit
    peak_rss: list[int] = field(default_factory=list)
    steps: list[list[Any]] = field(default_factory=list)  # of the last round

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def median_wall(self) -> float:
        return statistics.median(self.wall) if self.wall else float("nan")

    def summary(self, rows: int) -> dict[str, Any]:
        return {
            "seconds_median": self.median,
            "seconds": self.seconds,
            "rows_per_second": rows / self.median,
            "process_wall_median": self.median_wall if self.wall else None,
            "process_wall": self.wall,
            "peak_rss_bytes": max(self.peak_rss),
            "steps_last_round": self.steps,
        }


class Failed(Exception):
    pass


def check(label: str, got: dict[str, Any], rows: int, changed: int) -> None:
    """Every import did what it should: the counts of a first import, an unchanged
    re-import and a 1% update."""
    expected = {
        "first": (rows, 0, 0),
        "again": (0, 0, rows),
        "changed": (0, changed, rows - changed),
    }[label]
    found = (got.get("added"), got.get("updated"), got.get("unchanged"))
    if got.get("status") != "succeeded" or found != expected:
        raise Failed(
            f"headway {label}: status {got.get('status')}, (added, updated, unchanged) "
            f"{found}, expected {expected}; {got.get('error') or ''}"
        )


def run_worker(kind: str, data: Path, work: Path) -> tuple[cb.Run, dict[str, Any]]:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        kind,
        "--csv",
        str(data / "deals.csv"),
        "--changed",
        str(data / "deals-changed.csv"),
        "--work",
        str(work),
    ]
    res = cb.run(command)
    if res.returncode != 0:
        raise Failed(f"{kind} failed with exit status {res.returncode}:\n{res.stderr}")
    result: dict[str, Any] = json.loads(res.stdout.strip().splitlines()[-1])
    return res, result


def run_cli(headway: str, data: Path, work: Path, rows: int, changed: int) -> dict[str, cb.Run]:
    env = app_environment(work)
    workspace = work / "workspace.yaml"
    workspace.write_text(WORKSPACE, encoding="utf-8")
    res = cb.run([headway, "apply", str(workspace)], env)
    if res.returncode != 0:
        raise Failed(f"headway apply failed ({res.returncode}):\n{res.stderr}")
    out = {}
    for label, name in (
        ("first", "deals.csv"),
        ("again", "deals.csv"),
        ("changed", "deals-changed.csv"),
    ):
        res = cb.run([headway, "import", DATASET, str(data / name)], env)
        if res.returncode != 0:
            raise Failed(f"headway import ({label}) failed ({res.returncode}):\n{res.stderr}")
        expected = {
            "first": f"{rows} added, 0 updated, 0 unchanged",
            "again": f"0 added, 0 updated, {rows} unchanged",
            "changed": f"0 added, {changed} updated, {rows - changed} unchanged",
        }[label]
        if expected not in res.stdout:
            raise Failed(f"headway import ({label}) said {res.stdout.strip()!r}, not {expected}")
        out[label] = res
    return out


def measure(args: argparse.Namespace, data: Path, rows: int, figures: dict[str, Figure]) -> None:
    changed = changed_rows(rows)
    for round_number in range(1, args.repeats + 1):
        for kind in (*BASELINES, "headway", *(["headway-cli"] if args.cli else [])):
            work = Path(tempfile.mkdtemp(prefix=f"headway-import-bench-{kind}-"))
            try:
                if kind == "headway-cli":
                    runs = run_cli(args.headway, data, work, rows, changed)
                    for label, res in runs.items():
                        fig = figures[f"{kind}/{label}"]
                        fig.seconds.append(res.wall_s)
                        fig.wall.append(res.wall_s)
                        fig.peak_rss.append(res.peak_rss)
                        show(round_number, args.repeats, fig.name, res.wall_s, res.peak_rss)
                    continue
                res, result = run_worker(kind, data, work)
                if kind == "headway":
                    for label in IMPORTS:
                        got = result[label]
                        check(label, got, rows, changed)
                        fig = figures[f"{kind}/{label}"]
                        fig.seconds.append(got["seconds"])
                        fig.peak_rss.append(got["peak_rss"])
                        fig.steps = got["steps"]
                        show(round_number, args.repeats, fig.name, got["seconds"], got["peak_rss"])
                else:
                    if result["rows"] != rows:
                        raise Failed(f"{kind} read {result['rows']} rows, not {rows}")
                    fig = figures[kind]
                    fig.seconds.append(result["seconds"])
                    fig.wall.append(res.wall_s)
                    fig.peak_rss.append(result["peak_rss"])
                    show(
                        round_number, args.repeats, fig.name, result["seconds"], result["peak_rss"]
                    )
            finally:
                shutil.rmtree(work, ignore_errors=True)


def show(round_number: int, repeats: int, name: str, seconds: float, peak: int) -> None:
    print(
        f"  run {round_number}/{repeats} {name:36} {seconds:8.3f} s {cb.mib(peak):>10}", flush=True
    )


# The report ----------------------------------------------------------------------------


def report(
    args: argparse.Namespace,
    data: Path,
    rows: int,
    figures: dict[str, Figure],
    meta: dict[str, Any],
) -> dict[str, Any]:
    table = figures["duckdb-table"]
    parquet = figures["duckdb-parquet"]
    print()
    print(
        f"{'':36} {'median s':>9} {'min':>7} {'max':>7} {'rows/s':>11} {'peak RSS':>9} "
        f"{'vs table':>9} {'vs parquet':>10}"
    )
    ratios: dict[str, dict[str, float]] = {}
    for key, fig in figures.items():
        if not fig.seconds:
            continue
        cli = key.startswith("headway-cli/")
        # The CLI's wall time is set against the baselines' process wall times.
        base_table = table.median_wall if cli else table.median
        base_parquet = parquet.median_wall if cli else parquet.median
        r = {"vs_table": base_table / fig.median, "vs_parquet": base_parquet / fig.median}
        ratios[key] = r
        shown = (
            f"{r['vs_table']:8.2f}x {r['vs_parquet']:9.2f}x"
            if key.startswith("headway")
            else f"{'':9} {'':10}"
        )
        print(
            f"{LABELS[key]:36} {fig.median:9.3f} {min(fig.seconds):7.3f} {max(fig.seconds):7.3f} "
            f"{rows / fig.median:11,.0f} {cb.mib(max(fig.peak_rss)):>9} {shown}"
        )
    if args.cli:
        print(
            f"\n(baselines as whole processes, for the CLI rows: table {table.median_wall:.3f} s, "
            f"parquet {parquet.median_wall:.3f} s)"
        )
    first = ratios["headway/first"]["vs_table"]
    met = first >= GOAL
    print(
        f"\n{'met   ' if met else 'MISSED'} goal: Headway's first import at >= {GOAL}x the rate of "
        f"DuckDB's read_csv into a table: {first:.2f}x"
        + ("" if rows == 1_000_000 else f" (the goal is for 1,000,000 rows; this is {rows:,})")
    )
    if args.steps:
        for key in ("headway/first", "headway/changed"):
            print(f"\nsteps of {LABELS[key]} (last round), seconds since the previous step:")
            for name, seconds in figures[key].steps:
                if seconds >= 0.005:
                    print(f"  {name:28} {seconds:7.3f}")
    return {
        "rows": rows,
        "data": str(data),
        "data_meta": meta,
        "repeats": args.repeats,
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "commit": cb.git_commit(),
        "machine": cb.machine(),
        "versions": cb.versions(),
        "measurements": {k: f.summary(rows) for k, f in figures.items() if f.seconds},
        "ratios": ratios,
        "goal": {"ratio": GOAL, "actual": first, "met": met},
    }


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000, help="rows of the CSV (default 1000000)")
    ap.add_argument("--repeats", type=int, default=3, help="rounds of measurements (default 3)")
    ap.add_argument("--seed", type=int, default=ws.SEED_DEFAULT)
    ap.add_argument("--data", type=Path, help="data folder (default bench/data/import-<size>)")
    ap.add_argument("--out", type=Path, help="results file (default bench/results/...)")
    ap.add_argument("--no-cli", dest="cli", action="store_false", help="skip `headway import`")
    ap.add_argument("--steps", action="store_true", help="print where the import's time goes")
    ap.add_argument(
        "--headway",
        default=str(Path(sys.executable).parent / "headway"),
        help="the headway executable for the CLI runs (default: the one next to this Python)",
    )
    # One measurement in this process: how the runs above call this script.
    ap.add_argument("--worker", choices=[*BASELINES, "headway"], help=argparse.SUPPRESS)
    ap.add_argument("--csv", help=argparse.SUPPRESS)
    ap.add_argument("--changed", help=argparse.SUPPRESS)
    ap.add_argument("--work", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.repeats < 1:
        ap.error("--repeats must be at least 1")
    if not 100 <= args.rows <= 30_000_000:
        ap.error("--rows must be between 100 and 30000000")
    return args


def main() -> int:
    args = parse_args()
    if args.worker:
        return worker(args)
    rows: int = args.rows
    data: Path = (args.data or BENCH / "data" / f"import-{gen.size_label(rows)}").resolve()
    if args.cli and not Path(args.headway).exists():
        print(f"no headway executable at {args.headway}", file=sys.stderr)
        return 2
    meta = generate_data(rows, args.seed, data)
    for path in (data / "deals.csv", data / "deals-changed.csv"):
        with path.open("rb") as handle:  # into the page cache, for everyone alike
            while handle.read(1 << 24):
                pass
    names = [*BASELINES, *(f"headway/{x}" for x in IMPORTS)]
    names += [f"headway-cli/{x}" for x in IMPORTS] if args.cli else []
    figures = {name: Figure(LABELS[name]) for name in names}
    print(f"{rows:,} rows, {args.repeats} rounds; load average {os.getloadavg()[0]:.2f}")
    busy_before, started = cb.busy_cpu_seconds(), time.perf_counter()
    try:
        measure(args, data, rows, figures)
    except Failed as error:
        print(f"\n{error}", file=sys.stderr)
        return 2
    result = report(args, data, rows, figures, meta)
    elapsed = time.perf_counter() - started
    busy = cb.busy_cpu_seconds() - busy_before
    ours = sum(os.times()[:4])  # this process and the measured ones (waited for)
    cpus = os.cpu_count() or 1
    result["other_processes_cpu_share"] = max(0.0, busy - ours) / (elapsed * cpus)
    result["load_average_after"] = os.getloadavg()
    print(
        f"\nother processes used {result['other_processes_cpu_share']:.0%} of the {cpus} CPUs "
        "during the runs"
    )
    out: Path = args.out or BENCH / "results" / f"import-{gen.size_label(rows)}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
