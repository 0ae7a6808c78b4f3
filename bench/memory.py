"""Peak memory of `headway compute` and of the worker on the generated CRM data (issue 9).

    uv run python bench/generate.py --leads 10000000   # once: bench/data/10m/ (~25 s)
    uv run python bench/memory.py [--size 10m]          # ~3-7 min -> bench/results/memory-10m.json

The goal: every peak under 1 GiB (1024 MiB). Each command runs as a child process, the
venv's own `headway` executable, and two peaks are taken of it:

  tree     the largest sum of the resident set sizes (RSS) of the process and all of its
           descendants, sampled every 20 ms with psutil (a short spike between two
           samples can be missed; pages shared between processes are counted twice)
  largest  the kernel's high-water mark of the largest single process of the tree
           (`ru_maxrss` from wait4(), as `/usr/bin/time -v` reports it: never missed)

The goal is checked against the larger of the two. Measured, in this order:

  baselines  python -c "import duckdb" (the floor of any process that uses DuckDB);
             bench/baselines/floor.py (DuckDB alone reading and summing every column the
             KPIs need, from the same files); DuckDB alone checking that every dataset's
             key is unique, as Headway does on a first read (`GROUP BY key HAVING
             count(*) > 1`), both with DuckDB's default settings
  compute    `headway compute WORKSPACE --from 2024-01 --to 2026-12 --format csv`, the
             totals and `--by team` (the 19 KPIs whose datasets all have a team), first
             with an empty cache of checked files (every file's keys and values checked),
             then with the cache primed, as bench/compute.py runs them
  worker     an app database (SQLite) in a temporary folder whose warehouse holds the
             Parquet files (hard links) and the workspace, applied with `headway apply`;
             one `results.refresh` job queued per dataset (without an import run, each
             recomputes every period of every KPI that reads the dataset, which together is
             a full recompute), then `headway worker --once` runs the schedules and every
             job until the queue is empty; then `headway recompute` (the same full
             recompute in one go, from the command line) and an idle `headway worker --once`
             (the worker's own floor: Django, the schedules, no job)

Every job must succeed and the worker and `headway recompute` must store the same number of
results, or the benchmark stops with exit status 2. `--memory-limit` sets
HEADWAY_ENGINE_MEMORY_LIMIT for Headway's commands (default: Headway's own default).

Exit status: 0 when everything ran (even if a goal is missed: this is a report), 2 when a
command failed or the data is missing.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
GOAL_MIB = 1024.0
MIB = 1024 * 1024
SAMPLE_SECONDS = 0.02

# Checks each dataset's key the way the engine's first read does, with DuckDB's defaults.
KEY_CHECK = textwrap.dedent(
    """
    import json, sys, duckdb
    from pathlib import Path
    data = Path(sys.argv[1])
    keys = json.loads((data / "keys.json").read_text())
    con = duckdb.connect()
    for name, key in keys.items():
        src = f"read_parquet('{data / (name + '.parquet')}')"
        rows = con.execute(
            f'SELECT "{key}" FROM {src} GROUP BY "{key}" HAVING count(*) > 1 LIMIT 1'
        ).fetchall()
        assert not rows, (name, rows)
    """
)

# Run inside `headway manage shell -c`: queues one full refresh per dataset.
ENQUEUE = textwrap.dedent(
    """
    from headway.jobs.services import job_enqueue
    from headway.kpis.models import Dataset
    for dataset in Dataset.objects.order_by("key"):
        job_enqueue(kind="results.refresh", payload={"dataset": dataset.key})
    """
)

# Run inside `headway manage shell -c`: what the worker left behind, as one JSON line.
OUTCOME = textwrap.dedent(
    """
    import json
    from headway.jobs.models import Job
    from headway.results.models import Result
    jobs = [
        {"id": j.pk, "dataset": j.payload.get("dataset"), "status": j.status, "error": j.error}
        for j in Job.objects.order_by("pk")
    ]
    print("OUTCOME " + json.dumps({"jobs": jobs, "results": Result.objects.count()}))
    """
)


@dataclass
class Peak:
    name: str
    part: str  # baseline, compute, worker or setup
    command: list[str]
    wall_s: float
    tree_bytes: int
    largest_bytes: int
    returncode: int
    stdout: str
    stderr: str

    @property
    def peak_bytes(self) -> int:
        return max(self.tree_bytes, self.largest_bytes)

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "part": self.part,
            "command": self.command,
            "wall_s": round(self.wall_s, 3),
            "peak_tree_mib": round(self.tree_bytes / MIB, 1),
            "peak_largest_process_mib": round(self.largest_bytes / MIB, 1),
            "peak_mib": round(self.peak_bytes / MIB, 1),
        }


class Failed(Exception):
    pass


def tree_rss(process: psutil.Process) -> int:
    total = 0
    try:
        family = [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    for member in family:
        # A member may be gone between the listing and the reading.
        with contextlib.suppress(psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
            total += member.memory_info().rss
    return total


def measure(name: str, part: str, command: list[str], env: dict[str, str]) -> Peak:
    """Runs `command`, sampling its process tree's RSS until it exits."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(command, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env)
        watched = psutil.Process(proc.pid)
        tree = 0
        done = threading.Event()

        def sample() -> None:
            nonlocal tree
            while not done.is_set():
                tree = max(tree, tree_rss(watched))
                time.sleep(SAMPLE_SECONDS)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        # wait4() reaps the child and gives its rusage: ru_maxrss is the largest of the
        # process and of the descendants it waited for, in KiB.
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        done.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        peak = Peak(
            name=name,
            part=part,
            command=command,
            wall_s=wall,
            tree_bytes=tree,
            largest_bytes=usage.ru_maxrss * 1024,
            returncode=proc.returncode,
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
        )
    if peak.returncode != 0:
        raise Failed(
            f"{name} failed with exit status {peak.returncode}:\n  $ {' '.join(command)}\n"
            f"{peak.stderr[-3000:] or '(no stderr)'}"
        )
    print(
        f"  {name:44} {peak.peak_bytes / MIB:8.0f} MiB  (tree {peak.tree_bytes / MIB:6.0f}, "
        f"largest {peak.largest_bytes / MIB:6.0f})  {wall:6.1f} s",
        flush=True,
    )
    return peak


def csv_rows(peak: Peak, first_column: str) -> int:
    lines = peak.stdout.splitlines()
    if not lines or not lines[0].startswith(f"{first_column},"):
        raise Failed(f"{peak.name}: no CSV output:\n{peak.stdout[:500]}")
    return len(lines) - 1


def link_or_copy(source: Path, target: Path) -> str:
    try:
        os.link(source, target)
        return "hard link"
    except OSError:
        shutil.copy2(source, target)
        return "copy"


def versions() -> dict[str, str]:
    import duckdb

    return {"python": platform.python_version(), "duckdb": duckdb.__version__}


def commit() -> str | None:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--size", default="10m", help="data set under bench/data (default 10m)")
    ap.add_argument("--data", type=Path, help="data folder (default bench/data/<size>)")
    ap.add_argument("--out", type=Path, help="results file (default bench/results/...)")
    ap.add_argument(
        "--headway",
        default=str(Path(sys.executable).parent / "headway"),
        help="the headway executable (default: the one next to this Python)",
    )
    ap.add_argument(
        "--memory-limit",
        help="HEADWAY_ENGINE_MEMORY_LIMIT for Headway's commands (default: Headway's own)",
    )
    ap.add_argument(
        "--skip-worker", action="store_true", help="baselines and compute only (~1 min)"
    )
    return ap.parse_args()


class Bench:
    def __init__(self, args: argparse.Namespace, data: Path, scratch: Path) -> None:
        self.args = args
        self.data = data
        self.scratch = scratch
        self.spec: dict[str, Any] = json.loads((data / "kpis.json").read_text())
        self.meta: dict[str, Any] = json.loads((data / "meta.json").read_text())
        self.peaks: list[Peak] = []
        self.notes: dict[str, Any] = {}
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in {"HEADWAY_NO_CACHE", "DATABASE_URL", "HEADWAY_ENGINE_MEMORY_LIMIT"}
        }
        env["HEADWAY_DATA_DIR"] = str(scratch / "app")
        env["HEADWAY_MODE"] = "local"
        if args.memory_limit:
            env["HEADWAY_ENGINE_MEMORY_LIMIT"] = args.memory_limit
        self.env = env

    def run(self, name: str, part: str, command: list[str], cache: str = "cache") -> Peak:
        env = {**self.env, "HEADWAY_CACHE_DIR": str(self.scratch / cache)}
        peak = measure(name, part, command, env)
        self.peaks.append(peak)
        return peak

    def baselines(self) -> None:
        py = sys.executable
        print("baselines (DuckDB's default settings):")
        self.run("python -c 'import duckdb'", "baseline", [py, "-c", "import duckdb"])
        self.run(
            "duckdb reads the files (floor.py)",
            "baseline",
            [py, str(BENCH / "baselines" / "floor.py"), str(self.data)],
        )
        workspace = self.data / "workspace.yaml"
        keys = self.dataset_keys(workspace)
        (self.scratch / "keys").mkdir()
        for name in keys:
            link_or_copy(self.data / f"{name}.parquet", self.scratch / "keys" / f"{name}.parquet")
        (self.scratch / "keys" / "keys.json").write_text(json.dumps(keys))
        self.run(
            "duckdb checks the keys",
            "baseline",
            [py, "-c", KEY_CHECK, str(self.scratch / "keys")],
        )

    def dataset_keys(self, workspace: Path) -> dict[str, str]:
        """Each dataset's key column, from the workspace file itself."""
        from ruamel.yaml import YAML

        loaded = YAML(typ="safe").load(workspace.read_text(encoding="utf-8"))
        return {name: str(spec["key"]) for name, spec in loaded["datasets"].items()}

    def compute(self) -> None:
        hw = self.args.headway
        workspace = str(self.data / "workspace.yaml")
        span = ["--from", "2024-01", "--to", "2026-12", "--format", "csv"]
        team = ["--by", "team", *[x for k in self.spec["by_team"] for x in ("--kpi", k)]]
        print("headway compute:")
        rows = {}
        # A first read checks every file (unique keys, values) and remembers those that
        # passed in its cache of checked files; each mode's first read starts from an empty
        # cache of its own. The primed runs use the cache the totals' first read filled.
        runs = [
            ("first read", "totals", [], "cache"),
            ("first read", "by team", team, "cache-team"),
            ("cache primed", "totals", [], "cache"),
            ("cache primed", "by team", team, "cache"),
        ]
        for state, mode, extra, cache in runs:
            peak = self.run(
                f"compute {mode}, {state}",
                "compute",
                [hw, "compute", workspace, *span, *extra],
                cache,
            )
            rows[peak.name] = csv_rows(peak, "kpi")
        self.notes["compute_rows"] = rows
        for mode in ("totals", "by team"):
            if rows[f"compute {mode}, first read"] != rows[f"compute {mode}, cache primed"]:
                raise Failed(f"compute {mode}: the two runs printed different numbers of rows")

    def manage_shell(self, code: str) -> str:
        done = subprocess.run(
            [self.args.headway, "manage", "shell", "-c", code],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise Failed(f"headway manage shell failed:\n{done.stderr[-3000:]}")
        return done.stdout

    def outcome(self) -> dict[str, Any]:
        for line in self.manage_shell(OUTCOME).splitlines():
            if line.startswith("OUTCOME "):
                result: dict[str, Any] = json.loads(line.removeprefix("OUTCOME "))
                return result
        raise Failed("the worker's outcome could not be read")

    def worker(self) -> None:
        hw = self.args.headway
        folder = self.scratch / "app" / "warehouse" / "bench"
        folder.mkdir(parents=True)
        how = {link_or_copy(p, folder / p.name) for p in sorted(self.data.glob("*.parquet"))}
        shutil.copy2(self.data / "workspace.yaml", folder / "workspace.yaml")
        self.notes["warehouse_files"] = " and ".join(sorted(how))
        print("worker:")
        apply = [hw, "apply", str(folder / "workspace.yaml"), "--yes"]
        self.run("apply the workspace (set-up)", "setup", apply)
        self.manage_shell(ENQUEUE)
        queued = self.outcome()["jobs"]
        if not queued:
            raise Failed("no job was queued")
        self.run(f"worker: {len(queued)} full refresh jobs", "worker", [hw, "worker", "--once"])
        after_worker = self.outcome()
        failed = [job for job in after_worker["jobs"] if job["status"] != "succeeded"]
        if failed:
            raise Failed(f"jobs did not succeed: {failed}")
        self.run("headway recompute (all KPIs, one process)", "worker", [hw, "recompute"])
        after_recompute = self.outcome()
        if after_recompute["results"] != after_worker["results"] or not after_worker["results"]:
            raise Failed(
                f"the worker stored {after_worker['results']} results, headway recompute "
                f"{after_recompute['results']}"
            )
        self.run("worker idle (no job)", "worker", [hw, "worker", "--once"])
        self.notes["jobs"] = after_worker["jobs"]
        self.notes["results_stored"] = after_worker["results"]

    def report(self) -> dict[str, Any]:
        by_name = {p.name: p for p in self.peaks}
        floor = by_name["python -c 'import duckdb'"].peak_bytes
        reads = by_name["duckdb reads the files (floor.py)"].peak_bytes
        keys = by_name["duckdb checks the keys"].peak_bytes
        header = f"{'peak MiB':>9} {'x import':>9} {'x read':>7} {'x keys':>7}  goal"
        print(f"\n{'measurement':46} {header}")
        rows = []
        for p in self.peaks:
            row = p.summary()
            row["x_import_duckdb"] = round(p.peak_bytes / floor, 2)
            row["x_duckdb_reads"] = round(p.peak_bytes / reads, 2)
            row["x_duckdb_keys"] = round(p.peak_bytes / keys, 2)
            checked = p.part in {"compute", "worker"}
            row["goal_met"] = p.peak_bytes / MIB < GOAL_MIB if checked else None
            rows.append(row)
            verdict = {True: "met", False: "MISSED", None: ""}[row["goal_met"]]
            print(
                f"{p.name:46} {p.peak_bytes / MIB:9.0f} {row['x_import_duckdb']:8.2f}x "
                f"{row['x_duckdb_reads']:6.2f}x {row['x_duckdb_keys']:6.2f}x  {verdict}"
            )
        goals = {
            part: max(p.peak_bytes for p in self.peaks if p.part == part) / MIB
            for part in ("compute", "worker")
            if any(p.part == part for p in self.peaks)
        }
        for part, peak in goals.items():
            verdict = "met" if peak < GOAL_MIB else "MISSED"
            print(f"goal: peak of {part} under {GOAL_MIB:.0f} MiB: {peak:.0f} MiB, {verdict}")
        return {
            "rows": rows,
            "goals": {
                part: {"peak_mib": round(peak, 1), "limit_mib": GOAL_MIB, "met": peak < GOAL_MIB}
                for part, peak in goals.items()
            },
        }


def main() -> int:
    args = parse_args()
    data: Path = (args.data or BENCH / "data" / args.size).resolve()
    if not (data / "workspace.yaml").exists():
        print(
            f"no data in {data}: run bench/generate.py --leads N first (see bench/README.md)",
            file=sys.stderr,
        )
        return 2
    out: Path = args.out or BENCH / "results" / f"memory-{args.size}.json"
    load_before = os.getloadavg()
    # Next to the data, so that the warehouse's files can be hard links to it.
    with tempfile.TemporaryDirectory(prefix=".memory-", dir=data.parent) as scratch:
        bench = Bench(args, data, Path(scratch))
        try:
            bench.baselines()
            bench.compute()
            if not args.skip_worker:
                bench.worker()
        except Failed as error:
            print(f"\n{error}", file=sys.stderr)
            return 2
        report = bench.report()
    result = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "commit": commit(),
        "data": str(data),
        "leads": bench.meta.get("leads"),
        "parquet_bytes": sum(p.stat().st_size for p in data.glob("*.parquet")),
        "headway_engine_memory_limit": args.memory_limit or "default",
        "versions": versions(),
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "memory_bytes": psutil.virtual_memory().total,
        },
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "sample_seconds": SAMPLE_SECONDS,
        **report,
        "notes": bench.notes,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
