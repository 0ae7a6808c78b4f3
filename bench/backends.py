"""The engine on each warehouse backend, over the benchmark's 1M-lead data (docs/warehouse.md).

    uv run python bench/generate.py --leads 1000000
    uv run python bench/backends.py --size 1m [--runs 3] [--postgres URL] [--spark URL]

In one process, for 2024-01..2026-12, the totals (20 KPIs) and `--by team` (19 KPIs):
  duckdb      the embedded DuckDB (the baseline): files read and checked, scans run there
  postgres    the machine's PostgreSQL (default postgres://postgres@127.0.0.1:5432/test, in a
              schema of this run, dropped afterwards): typed rows copied in with COPY once,
              scans run there with jit = off
  spark       PySpark in local mode (default spark://local[2]): typed rows staged as Parquet
              once, scans in Spark SQL
Reported separately, each in seconds:
  read_s      DuckDB reading and checking the six files (every backend does this first;
              the cache of checked files is primed, as in bench/compute.py)
  start_s     connecting: a PostgreSQL session; starting the Spark session
  load_s      handing the typed rows over: COPY into PostgreSQL / Parquet for Spark
              (0 for DuckDB, whose views read the files)
  compute_s   the median over --runs of computing the totals and `--by team` with the data
              already in place (a new engine each run, so the fingerprints are checked and
              nothing is copied again)
Every backend's rows must equal DuckDB's (values, targets and attainments within 1e-9
relative, nulls and statuses equal): exit status 1 otherwise. Writes
bench/results/backends-<size>.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT / "src"))

from headway.engine.checked import CheckedFiles  # noqa: E402
from headway.engine.compute import ComputeRequest, Engine  # noqa: E402
from headway.engine.workspace import Workspace, load_workspace  # noqa: E402
from headway.lib.periods import parse_period_label  # noqa: E402

REL_TOL = 1e-9
Key = tuple[str, str, str | None]


def requests(workspace: Workspace, spec: dict[str, Any]) -> list[ComputeRequest]:
    first = parse_period_label("2024-01", workspace.fiscal_year_start)
    last = parse_period_label("2026-12", workspace.fiscal_year_start)
    return [
        ComputeRequest(start=first, end=last),
        ComputeRequest(kpis=tuple(spec["by_team"]), start=first, end=last, by="team"),
    ]


def run_all(engine: Engine, todo: list[ComputeRequest]) -> dict[Key, tuple[Any, ...]]:
    rows: dict[Key, tuple[Any, ...]] = {}
    for request in todo:
        for row in engine.compute(request).rows:
            rows[(row.kpi, row.period.label, row.group)] = (
                row.value, row.target, row.attainment, str(row.status),
            )  # fmt: skip
    return rows


def measure(
    name: str, url: str | None, workspace_path: Path, spec: dict[str, Any], runs: int, cache: Path
) -> tuple[dict[str, Any], dict[Key, tuple[Any, ...]]]:
    checked = CheckedFiles(cache)
    workspace = load_workspace(workspace_path)
    todo = requests(workspace, spec)
    figures: dict[str, Any] = {"backend": name, "url": url or "duckdb"}
    with Engine(workspace, checked, warehouse=url) as engine:
        started = time.perf_counter()
        engine.load()
        figures["read_s"] = round(time.perf_counter() - started, 3)
        started = time.perf_counter()
        backend = engine.connect()
        figures["start_s"] = round(time.perf_counter() - started, 3)
        started = time.perf_counter()
        backend.prepare(engine.warehouse.datasets.values())  # type: ignore[union-attr]
        figures["load_s"] = round(time.perf_counter() - started, 3)
        figures["loaded"] = sorted(backend.loaded)
        started = time.perf_counter()
        rows = run_all(engine, todo)
        figures["first_compute_s"] = round(time.perf_counter() - started, 3)
    times = []
    for _ in range(runs):
        with Engine(load_workspace(workspace_path), checked, warehouse=url) as engine:
            engine.load()
            engine.connect()
            started = time.perf_counter()
            again = run_all(engine, todo)
            times.append(time.perf_counter() - started)
            assert engine.backend is not None
            figures["copied_again"] = sorted(engine.backend.loaded)
        assert again.keys() == rows.keys()
    figures["compute_s"] = round(statistics.median(times), 3)
    figures["compute_runs_s"] = [round(value, 3) for value in times]
    figures["rows"] = len(rows)
    return figures, rows


def differences(expected: dict[Key, tuple[Any, ...]], got: dict[Key, tuple[Any, ...]]) -> list[str]:
    found = []
    if expected.keys() != got.keys():
        found.append(f"rows differ: {len(expected)} against {len(got)}")
    for key, want in expected.items():
        have = got.get(key)
        if have is None:
            continue
        for position, (left, right) in enumerate(zip(want, have, strict=True)):
            if left is None or right is None or isinstance(left, str):
                equal = left == right
            else:
                equal = math.isclose(left, right, rel_tol=REL_TOL)
            if not equal:
                found.append(f"{key} field {position}: {right!r} where DuckDB has {left!r}")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="1m")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "HEADWAY_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test"
        ),
        help="'' to leave PostgreSQL out",
    )
    parser.add_argument("--spark", default="spark://local[2]", help="'' to leave Spark out")
    args = parser.parse_args()
    data = BENCH / "data" / args.size
    workspace = data / "workspace.yaml"
    if not workspace.exists():
        print(f"no data at {data}: run bench/generate.py first", file=sys.stderr)
        return 2
    spec = json.loads((data / "kpis.json").read_text())
    schema = f"bench_backends_{uuid.uuid4().hex[:8]}"
    backends: list[tuple[str, str | None]] = [("duckdb", None)]
    if args.postgres:
        separator = "&" if "?" in args.postgres else "?"
        backends.append(("postgres", f"{args.postgres}{separator}schema={schema}"))
    if args.spark:
        backends.append(("spark", args.spark))
    report: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"),
        "size": args.size,
        "runs": args.runs,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "load_average_before": list(os.getloadavg()),
        "backends": [],
    }
    failed = False
    with tempfile.TemporaryDirectory(prefix="headway-bench-backends-") as folder:
        os.environ["HEADWAY_CACHE_DIR"] = folder  # Spark's staging goes here too
        baseline: dict[Key, tuple[Any, ...]] = {}
        try:
            for name, url in backends:
                print(f"== {name}", flush=True)
                figures, rows = measure(
                    name, url, workspace, spec, args.runs, Path(folder) / "checked"
                )
                if name == "duckdb":
                    baseline = rows
                problems = differences(baseline, rows)
                figures["equal_to_duckdb"] = not problems
                failed = failed or bool(problems)
                for problem in problems[:10]:
                    print(f"  !! {problem}", file=sys.stderr)
                figures["url"] = figures["url"].split("?")[0] if name == "postgres" else url
                report["backends"].append(figures)
                print(
                    "  read {read_s:.2f} s, start {start_s:.2f} s, load {load_s:.2f} s, "
                    "first compute {first_compute_s:.2f} s, compute {compute_s:.2f} s "
                    "(median of {n}), {rows} rows, equal to DuckDB: {equal_to_duckdb}".format(
                        n=args.runs, **figures
                    ),
                    flush=True,
                )
        finally:
            if args.postgres:
                import psycopg

                conninfo = args.postgres.replace("postgres://", "postgresql://", 1)
                with psycopg.connect(conninfo.split("?")[0], autocommit=True) as connection:
                    connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    report["load_average_after"] = list(os.getloadavg())
    out = BENCH / "results" / f"backends-{args.size}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
