"""Benchmark of `headway compute` against hand-written baselines over the same Parquet.

    uv run python bench/generate.py --leads 1000000
    uv run python bench/compute.py --size 1m [--runs 3]

For 2024-01..2026-12 (36 months) it times, as subprocesses, round after round:
  headway       `headway compute WORKSPACE --from --to [--by team --kpi ...] --format csv`,
                the venv's executable, its cache of checked data files primed
  headway-cold  the same with an empty cache: data files checked (unique keys, types)
  sql           (a) bench/baselines/duckdb_sql.py: hand-written DuckDB SQL
  pandas        (b) bench/baselines/pandas_impl.py: vectorised pandas
  floor         (c) bench/baselines/floor.py: DuckDB reading and summing the needed columns
for the totals and for `--by team` (the 19 KPIs whose datasets all have `team`; market
share is totals-only because market_size has `region`, not `team`). Wall time runs from
process start to exit, start-up included; peak memory is the process's maximum RSS from
wait4(). Each command runs --runs times; the median wall time is reported, with the
largest peak.

Then it checks that Headway, (a) and (b) agree on every (kpi, period[, team]) row: value,
target and attainment within 1e-9 relative (null equals only null), the same status.
It prints a table with the ratios and the goals, and writes bench/results/compute-<size>.json.

Exit status: 0 when all agree, even if a goal is missed (this is a report); 1 when the
numbers disagree; 2 when a command fails (its stderr is printed) or the data is missing.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
BASELINES = BENCH / "baselines"
REL_TOL = 1e-9
ABS_TOL = 1e-12  # only for values that cancel to ~0 (e.g. a growth of exactly nothing)

Key = tuple[str, str, str]  # kpi, period, group ("" for totals)
Row = tuple[float | None, float | None, float | None, str]  # value, target, attainment, status


@dataclass
class Run:
    wall_s: float
    peak_rss: int  # bytes
    cpu_s: float  # user + system
    returncode: int
    stdout: str
    stderr: str


@dataclass
class Measured:
    engine: str
    mode: str
    command: list[str]
    runs: list[Run] = field(default_factory=list)
    cold: bool = False  # headway with an empty cache of checked files

    @property
    def wall(self) -> float:
        return statistics.median(r.wall_s for r in self.runs)

    @property
    def peak(self) -> int:
        return max(r.peak_rss for r in self.runs)

    @property
    def cpu(self) -> float:
        return statistics.median(r.cpu_s for r in self.runs)

    def summary(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "wall_s_median": self.wall,
            "wall_s": [r.wall_s for r in self.runs],
            "peak_rss_bytes": self.peak,
            "peak_rss_bytes_runs": [r.peak_rss for r in self.runs],
            "cpu_s_median": self.cpu,
        }


class CommandFailed(Exception):
    pass


def run(command: list[str], env: dict[str, str] | None = None) -> Run:
    """Runs `command` with its output in temporary files; wall time from start to exit and
    the child's own rusage (maximum RSS, CPU) from wait4()."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(command, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Run(
            wall_s=wall,
            peak_rss=usage.ru_maxrss * 1024,  # KiB on Linux
            cpu_s=usage.ru_utime + usage.ru_stime,
            returncode=proc.returncode,
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
        )


def parse_csv(text: str, by: str | None, who: str) -> dict[Key, Row]:
    """The rows of `compute --format csv` output, keyed by (kpi, period, group)."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    expected = ["kpi", "period", *([by] if by else []), "value", "target", "attainment"]
    expected.append("status")
    if header != expected:
        raise ValueError(f"{who}: CSV header is {header}, expected {expected}")
    rows: dict[Key, Row] = {}
    for n, rec in enumerate(reader, start=2):
        if not rec:
            continue
        if len(rec) != len(expected):
            raise ValueError(f"{who}: line {n} has {len(rec)} fields: {rec}")
        kpi, period = rec[0], rec[1]
        group = rec[2] if by else ""
        value, target, attainment, status = rec[-4:]
        key = (kpi, period, group)
        if key in rows:
            raise ValueError(f"{who}: line {n} repeats {key}")
        rows[key] = (num(value), num(target), num(attainment), status)
    return rows


def num(field_text: str) -> float | None:
    return None if field_text == "" else float(field_text)


def close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if math.isnan(a) or math.isnan(b):
        return False
    return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL)


def on_threshold(att: float | None, thresholds: tuple[float, float]) -> bool:
    """Whether an attainment is so near a threshold that rounding may decide its status."""
    return att is not None and any(abs(att - t) <= REL_TOL * abs(t) for t in thresholds)


@dataclass
class Agreement:
    left: str
    right: str
    mode: str
    rows: int = 0
    missing_left: list[Key] = field(default_factory=list)
    missing_right: list[Key] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)
    boundary_statuses: int = 0

    @property
    def ok(self) -> bool:
        return not (self.missing_left or self.missing_right or self.differences)

    def summary(self) -> dict[str, Any]:
        return {
            "left": self.left,
            "right": self.right,
            "mode": self.mode,
            "rows": self.rows,
            "agree": self.ok,
            "missing_in_left": [list(k) for k in self.missing_left[:20]],
            "missing_in_right": [list(k) for k in self.missing_right[:20]],
            "missing_in_left_count": len(self.missing_left),
            "missing_in_right_count": len(self.missing_right),
            "differences": self.differences[:50],
            "difference_count": len(self.differences),
            "statuses_on_a_threshold": self.boundary_statuses,
        }


def compare(
    left: tuple[str, dict[Key, Row]],
    right: tuple[str, dict[Key, Row]],
    mode: str,
    thresholds: dict[str, tuple[float, float]],
) -> Agreement:
    (lname, lrows), (rname, rrows) = left, right
    ag = Agreement(lname, rname, mode, rows=len(lrows))
    ag.missing_left = sorted(set(rrows) - set(lrows))
    ag.missing_right = sorted(set(lrows) - set(rrows))
    for key in sorted(set(lrows) & set(rrows)):
        a, b = lrows[key], rrows[key]
        bad = [
            f"{name} {x!r} != {y!r}"
            for name, x, y in zip(("value", "target", "attainment"), a[:3], b[:3], strict=True)
            if not close(x, y)
        ]
        if a[3] != b[3]:
            th = thresholds.get(key[0], (1.0, 0.9))
            if not bad and on_threshold(a[2], th) and on_threshold(b[2], th):
                ag.boundary_statuses += 1
            else:
                bad.append(f"status {a[3]!r} != {b[3]!r}")
        if bad:
            ag.differences.append(f"{'/'.join(k for k in key if k)}: " + "; ".join(bad))
    return ag


def describe(ag: Agreement) -> str:
    head = f"{ag.left} vs {ag.right} ({ag.mode}, {ag.rows} rows): "
    if ag.ok:
        extra = f", {ag.boundary_statuses} statuses on a threshold" if ag.boundary_statuses else ""
        return head + "agree" + extra
    lines = [head + "DISAGREE"]
    for k in ag.missing_left[:5]:
        lines.append(f"    only in {ag.right}: {k}")
    for k in ag.missing_right[:5]:
        lines.append(f"    only in {ag.left}: {k}")
    for d in ag.differences[:10]:
        lines.append(f"    {d}")
    more = len(ag.missing_left) + len(ag.missing_right) + len(ag.differences) - len(lines) + 1
    if more > 0:
        lines.append(f"    ... and {more} more")
    return "\n".join(lines)


def mib(n: float) -> str:
    return f"{n / 2**20:,.0f} MiB"


def git_commit() -> str | None:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        return head + ("+dirty src" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("duckdb", "pandas", "pyarrow", "numpy"):
        try:
            out[name] = __import__(name).__version__
        except ImportError:
            out[name] = "missing"
    return out


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {"platform": platform.platform(), "cpus": os.cpu_count()}
    try:
        import psutil

        info["memory_bytes"] = psutil.virtual_memory().total
    except ImportError:
        pass
    return info


def busy_cpu_seconds() -> float:
    """CPU seconds the whole machine has spent busy since boot (all processes)."""
    import psutil

    t = psutil.cpu_times()._asdict()
    idle = ("idle", "iowait", "steal", "guest", "guest_nice")  # guest is counted in user too
    return float(sum(v for k, v in t.items() if k not in idle))


def warm_page_cache(data: Path) -> None:
    for p in sorted(data.glob("*.parquet")):
        with p.open("rb") as f:
            while f.read(1 << 24):
                pass


def headway_env(cache: Path) -> dict[str, str]:
    """The environment of a headway run, with a cache of checked files of our own."""
    env = {k: v for k, v in os.environ.items() if k != "HEADWAY_NO_CACHE"}
    env["HEADWAY_CACHE_DIR"] = str(cache)
    return env


def failed(m: Measured, res: Run) -> int:
    print(f"\n{m.engine} ({m.mode}) failed with exit status {res.returncode}:", file=sys.stderr)
    print("  $ " + " ".join(m.command), file=sys.stderr)
    print(res.stderr or "(no stderr)", file=sys.stderr)
    return 2


def goal(mode: str, text: str, actual: float, op: str, limit: float) -> dict[str, Any]:
    met = {"<=": actual <= limit, ">=": actual >= limit, "<": actual < limit}[op]
    return {"mode": mode, "goal": text, "actual": actual, "op": op, "limit": limit, "met": met}


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--size", default="1m", help="data set under bench/data (default 1m)")
    ap.add_argument("--data", type=Path, help="data folder (default bench/data/<size>)")
    ap.add_argument("--runs", type=int, default=3, help="runs per command (default 3)")
    ap.add_argument("--from", dest="first", default="2024-01")
    ap.add_argument("--to", dest="last", default="2026-12")
    ap.add_argument(
        "--headway",
        default=str(Path(sys.executable).parent / "headway"),
        help="the headway executable (default: the one next to this Python)",
    )
    ap.add_argument(
        "--without-headway",
        action="store_true",
        help="measure and compare the baselines only; no goal is evaluated",
    )
    ap.add_argument("--modes", default="totals,team", help="totals,team (default both)")
    ap.add_argument("--out", type=Path, help="results file (default bench/results/...)")
    args = ap.parse_args()
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    args.modes = [m for m in args.modes.split(",") if m]
    if not args.modes or not set(args.modes) <= {"totals", "team"}:
        ap.error("--modes takes totals and/or team")
    return args


class Bench:
    def __init__(self, args: argparse.Namespace, data: Path, cache: Path) -> None:
        self.args = args
        self.data = data
        self.cache = cache
        self.spec: dict[str, Any] = json.loads((data / "kpis.json").read_text())
        self.meta: dict[str, Any] = json.loads((data / "meta.json").read_text())
        self.leads = int(self.meta["leads"])
        self.with_headway = not args.without_headway
        self.thresholds = {
            k["key"]: (k["thresholds"].get("green", 1.0), k["thresholds"].get("amber", 0.9))
            for k in self.spec["kpis"]
        }
        self.measured: dict[tuple[str, str], Measured] = {}
        py = sys.executable
        rng = ["--from", args.first, "--to", args.last]
        for mode in args.modes:
            by = ["--by", "team"] if mode == "team" else []
            if self.with_headway:
                kpis = [x for k in self.spec["by_team"] for x in ("--kpi", k)] if by else []
                ws = str(data / "workspace.yaml")
                cmd = [args.headway, "compute", ws, *rng, *by, *kpis, "--format", "csv"]
                self.add(Measured("headway", mode, cmd))
                self.add(Measured("headway-cold", mode, cmd, cold=True))
            self.add(
                Measured("sql", mode, [py, str(BASELINES / "duckdb_sql.py"), str(data), *rng, *by])
            )
            self.add(
                Measured(
                    "pandas", mode, [py, str(BASELINES / "pandas_impl.py"), str(data), *rng, *by]
                )
            )
        self.add(Measured("floor", "-", [py, str(BASELINES / "floor.py"), str(data)]))
        self.agreements: list[Agreement] = []
        self.load: dict[str, tuple[float, float, float]] = {}
        self.other_cpu = 0.0  # share of the machine's CPU used by other processes meanwhile

    def add(self, m: Measured) -> None:
        self.measured[(m.engine, m.mode)] = m

    def measure(self) -> int:
        """Runs every command --runs times, round after round; non-zero if one fails."""
        self.load["before"] = os.getloadavg()
        warm_page_cache(self.data)
        # Headway remembers the data files whose checks (unique keys, types) passed, in a
        # cache of checked files. "headway" runs with that cache primed: a repeated compute
        # over unchanged files. "headway-cold" runs with an empty one: the first compute after
        # the data changed. Both caches are ours, in a temporary folder, never the user's.
        warm_env = headway_env(self.cache / "warm")
        for m in self.measured.values():
            if m.engine == "headway":
                res = run(m.command, warm_env)
                print(f"  priming   {m.engine:12} {m.mode:6} {res.wall_s:7.3f} s (not counted)")
                if res.returncode != 0:
                    return failed(m, res)
        busy_before, started = busy_cpu_seconds(), time.perf_counter()
        runs = self.args.runs
        for rnd in range(runs):
            for i, m in enumerate(self.measured.values()):
                env = None
                if m.engine == "headway":
                    env = warm_env
                elif m.cold:
                    env = headway_env(self.cache / f"cold-{rnd}-{i}")
                res = run(m.command, env)
                print(
                    f"  run {rnd + 1}/{runs} {m.engine:12} {m.mode:6} {res.wall_s:7.3f} s "
                    f"{mib(res.peak_rss):>10}",
                    flush=True,
                )
                if res.returncode != 0:
                    return failed(m, res)
                m.runs.append(res)
        self.load["after"] = os.getloadavg()
        elapsed = time.perf_counter() - started
        ours = sum(r.cpu_s for m in self.measured.values() for r in m.runs)
        ours += sum(os.times()[:2])  # this process, a little
        busy = busy_cpu_seconds() - busy_before
        self.other_cpu = max(0.0, busy - ours) / (elapsed * (os.cpu_count() or 1))
        return 0

    def check(self) -> None:
        """(a) against (b), Headway against (a), and every run against the first run of its
        command (parallel sums may differ in the last bits, not more). Raises ValueError on
        output that is not the CSV of the contract."""
        results_dir = (self.args.out.parent if self.args.out else BENCH / "results").resolve()
        for mode in self.args.modes:
            by = "team" if mode == "team" else None
            engines = [
                e
                for e in ("headway", "headway-cold", "sql", "pandas")
                if (e, mode) in self.measured
            ]
            parsed = {e: parse_csv(self.measured[(e, mode)].runs[0].stdout, by, e) for e in engines}
            for e in engines:
                for i, later in enumerate(self.measured[(e, mode)].runs[1:], start=2):
                    again = parse_csv(later.stdout, by, f"{e} run {i}")
                    ag = compare((e, parsed[e]), (f"{e} run {i}", again), mode, self.thresholds)
                    if not ag.ok:
                        self.agreements.append(ag)
            pairs = [("sql", "pandas")]
            if self.with_headway:
                pairs += [("headway", "sql"), ("headway-cold", "sql")]
            for left, right in pairs:
                ag = compare((left, parsed[left]), (right, parsed[right]), mode, self.thresholds)
                self.agreements.append(ag)
                if not ag.ok:  # keep both outputs for a look
                    results_dir.mkdir(parents=True, exist_ok=True)
                    for e in (left, right):
                        path = results_dir / f"compute-{self.args.size}-{e}-{mode}.csv"
                        path.write_text(self.measured[(e, mode)].runs[0].stdout)
                        print(f"kept {e}'s output in {path}")

    def ratios_and_goals(self) -> tuple[dict[str, dict[str, float]], list[dict[str, Any]]]:
        floor = self.measured[("floor", "-")]
        ratios: dict[str, dict[str, float]] = {}
        goals: list[dict[str, Any]] = []
        for mode in self.args.modes:
            sql, pandas = self.measured[("sql", mode)], self.measured[("pandas", mode)]
            r = {"sql/floor": sql.wall / floor.wall, "pandas/sql": pandas.wall / sql.wall}
            hw = self.measured.get(("headway", mode))
            if hw:
                cold = self.measured[("headway-cold", mode)]
                r["headway/sql"] = hw.wall / sql.wall
                r["headway/floor"] = hw.wall / floor.wall
                r["pandas/headway"] = pandas.wall / hw.wall
                r["headway-cold/sql"] = cold.wall / sql.wall
                r["headway-cold/floor"] = cold.wall / floor.wall
                r["pandas/headway-cold"] = pandas.wall / cold.wall
                if self.leads == 10_000_000:
                    goals += [
                        goal(mode, "Headway <= 1.1x hand-written SQL", r["headway/sql"], "<=", 1.1),
                        goal(mode, "Headway <= 4x floor", r["headway/floor"], "<=", 4.0),
                        goal(mode, "pandas >= 3.5x Headway", r["pandas/headway"], ">=", 3.5),
                        goal(mode, "Headway peak memory < 1 GB", hw.peak / 1e9, "<", 1.0),
                        goal(mode, "Headway cold peak memory < 1 GB", cold.peak / 1e9, "<", 1.0),
                    ]
                elif self.leads == 1_000_000:
                    goals.append(goal(mode, "Headway < 1 s wall", hw.wall, "<", 1.0))
                    goals.append(goal(mode, "Headway cold < 1 s wall", cold.wall, "<", 1.0))
            ratios[mode] = r
        return ratios, goals

    def report(self) -> int:
        print()
        heads = ("wall (median)", "min", "max", "peak RSS", "CPU")
        widths = (14, 8, 8, 10, 8)
        print(
            f"{'mode':7} {'engine':12} "
            + " ".join(f"{h:>{w}}" for h, w in zip(heads, widths, strict=True))
        )
        for m in self.measured.values():
            walls = [r.wall_s for r in m.runs]
            print(
                f"{m.mode:7} {m.engine:12} {m.wall:12.3f} s {min(walls):8.3f} {max(walls):8.3f} "
                f"{mib(m.peak):>10} {m.cpu:7.2f}s"
            )
        ratios, goals = self.ratios_and_goals()
        print()
        for mode, r in ratios.items():
            items = list(r.items())
            for i in range(0, len(items), 5):
                label = mode if i == 0 else ""
                print(f"{label:7} " + "   ".join(f"{k} {v:.2f}x" for k, v in items[i : i + 5]))
        if goals:
            print()
            for g in goals:
                print(
                    f"{'met   ' if g['met'] else 'MISSED'} {g['mode']:7} {g['goal']:34} "
                    f"{g['actual']:.3f} {g['op']} {g['limit']}"
                )
        elif self.with_headway:
            print("\n(goals are set for 1m and 10m leads only)")
        print()
        for ag in self.agreements:
            print(describe(ag))
        print(
            f"\nother processes used {self.other_cpu:.0%} of the {os.cpu_count()} CPUs during "
            f"the runs (load average before {self.load['before'][0]:.2f})"
            + ("; figures from a busy machine are not comparable" if self.other_cpu > 0.1 else "")
        )

        args = self.args
        result = {
            "size": args.size,
            "data": str(self.data),
            "leads": self.leads,
            "rows": self.meta["rows"],
            "seed": self.meta["seed"],
            "range": [args.first, args.last],
            "runs": args.runs,
            "headway_measured": self.with_headway,
            "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "commit": git_commit(),
            "machine": machine(),
            "load_average_1_5_15": self.load,
            "other_processes_cpu_share": self.other_cpu,
            "versions": versions(),
            "measurements": {f"{e}/{m}": x.summary() for (e, m), x in self.measured.items()},
            "ratios": ratios,
            "goals": goals,
            "agreement": [ag.summary() for ag in self.agreements],
            "tolerance": {"relative": REL_TOL, "absolute": ABS_TOL},
        }
        out: Path = args.out or BENCH / "results" / f"compute-{args.size}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=1) + "\n")
        print(f"written {out}")
        return 0 if all(ag.ok for ag in self.agreements) else 1


def main() -> int:
    args = parse_args()
    data: Path = (args.data or BENCH / "data" / args.size).resolve()
    for needed in ("workspace.yaml", "kpis.json", "meta.json"):
        if not (data / needed).exists():
            print(f"missing {data / needed}; run bench/generate.py first", file=sys.stderr)
            return 2
    if not args.without_headway and not Path(args.headway).exists():
        print(f"no headway executable at {args.headway}", file=sys.stderr)
        return 2
    cache = Path(tempfile.mkdtemp(prefix="headway-bench-cache-"))
    try:
        bench = Bench(args, data, cache)
        print(f"data: {data} ({bench.leads:,} leads, {sum(bench.meta['rows'].values()):,} rows)")
        print(f"range {args.first}..{args.last}, {args.runs} runs each, modes: {args.modes}")
        if not bench.with_headway:
            print("Headway NOT measured (--without-headway): baselines only, no goals")
        status = bench.measure()
        if status:
            return status
        try:
            bench.check()
        except ValueError as exc:
            print(f"\nunreadable output: {exc}", file=sys.stderr)
            return 1
        return bench.report()
    finally:
        shutil.rmtree(cache, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
