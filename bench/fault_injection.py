"""Fault injection: imports and recomputes killed with SIGKILL at random points, and the
PostgreSQL server stopped in the middle of them. Afterwards there must be no partial state,
and running the operation again must complete it exactly once.

    uv run python bench/fault_injection.py                       # 20 kills per operation
    uv run python bench/fault_injection.py --runs 50 --seed 7
    uv run python bench/fault_injection.py --databases sqlite --stop-runs 0 --error-runs 0

For each database (SQLite, and PostgreSQL in a throwaway database on the server of
HEADWAY_TEST_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/test) it builds the
organisation of tests/app: both datasets imported into the warehouse, results computed.
Then, each run from that same state, it runs in a child process

- import:    a new file for deals (one row changed, one unchanged, one new), and
- recompute: after that import, every KPI computed again (the results change),

and kills the child with SIGKILL: two runs in three at a random instrumented point (a
step of the import, before or after any SQL statement, before or after a COMMIT), drawn
from the points a clean run goes through; the third after a random delay, so that kills
also land inside DuckDB, the driver or an fsync. After each kill it checks

- the warehouse: each table is the old one or the new one (rows and sha256), no other;
- import runs: the earlier ones unchanged, the killed one missing, `running` or
  `succeeded` (then with the new table), never two;
- results: the old full set or the new full set (every value, target and status),
  never a mix;
- the audit log: exactly the rows of the operations that completed;
- SQLite's integrity check;

then runs the operation once more, untouched, and checks that it completed exactly once:
one new run succeeded, counting only what the killed run had not already put in, a killed
`running` run marked abandoned (and audited), no leftover files, and the data equal to a
clean run's.

"PostgreSQL stopped": a private PostgreSQL cluster (bench/pgcluster.py: initdb and pg_ctl in
a temporary folder, on a free port: never the shared server) holds the app database, and
each run crashes it with `pg_ctl stop -m immediate` (no checkpoint, recovery at the next
start) at a random point of the operation: every other run starts it again at once (a
restart the child lives through, its connection gone), the others once the child has ended.
Then it checks and reruns as above. Where no cluster can be made (no initdb, or root without
a `postgres` user), the child's own connection is ended by pg_terminate_backend instead, and
the table says so.

"Database error": at a random point where the operation talks to the database, an
OperationalError ("database is locked", as SQLite says past its busy timeout; a deadlock
or a serialization failure on PostgreSQL) is raised once, on both databases.

Children are forked from a process that has Django and Headway loaded, so a run costs the
operation, not an interpreter's start. Prints a table and writes it as JSON with --json:

    faulted      runs the fault hit while the operation ran
    ended first  runs whose operation was done before the fault came (a timer after its
                 end, a point after its last write): checked all the same
    points hit   distinct points the faults landed at (for a timed fault, the last point
                 passed), of the points a clean run goes through
    old/new      the state each fault left: the old table or results, or the new ones
    failures     checks that did not hold (listed below the table)

Exit status 0 when every check held, 1 when one failed.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The bench folder is sys.path[0] when run as a script; this keeps the import working when
# the module is loaded some other way (as the other benches do for their siblings).
sys.path.insert(0, str(Path(__file__).resolve().parent))
from pgcluster import (
    SHARED_SERVER_URL,
    Cluster,
    database_url,
    private_cluster,
    run_admin_statements,
    throwaway_database_name,
    why_unreachable,
)

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OPERATIONS = ("import", "recompute")

# The second file for deals: b changed, c unchanged, d new (a stays as it was).
DEALS_V2 = """\
deal_id,closed_at,team,stage,amount
b,2026-02-11,south,won,60
c,2026-02-12,north,lost,70
d,2026-03-01T09:30:00+08:00,north,won,40
"""


# Results --------------------------------------------------------------------------------


@dataclass
class Tally:
    """What the runs of one operation on one database under one kind of fault found."""

    database: str
    operation: str
    fault: str
    runs: int = 0
    faulted: int = 0
    finished_first: int = 0
    points_total: int = 0
    points: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "operation": self.operation,
            "fault": self.fault,
            "runs": self.runs,
            "faulted": self.faulted,
            "finished_before_the_fault": self.finished_first,
            "points_in_a_clean_run": self.points_total,
            "points_hit": dict(self.points),
            "outcomes": dict(self.outcomes),
            "failures": self.failures,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Tally:
        return cls(
            database=data["database"],
            operation=data["operation"],
            fault=data["fault"],
            runs=data["runs"],
            faulted=data["faulted"],
            finished_first=data["finished_before_the_fault"],
            points_total=data["points_in_a_clean_run"],
            points=Counter(data["points_hit"]),
            outcomes=Counter(data["outcomes"]),
            failures=list(data["failures"]),
        )


def print_table(tallies: list[Tally]) -> None:
    header = (
        f"{'database':<22} {'operation':<10} {'fault':<19} {'runs':>4} {'faulted':>7} "
        f"{'ended first':>11} {'points hit':>12} {'old/new':>8} {'failures':>8}"
    )
    print(header)
    print("-" * len(header))
    for tally in tallies:
        hit = f"{len(tally.points)}/{tally.points_total}"
        outcome = f"{tally.outcomes['old']}/{tally.outcomes['new']}"
        print(
            f"{tally.database:<22} {tally.operation:<10} {tally.fault:<19} {tally.runs:>4} "
            f"{tally.faulted:>7} {tally.finished_first:>11} {hit:>12} {outcome:>8} "
            f"{len(tally.failures):>8}"
        )
    for tally in tallies:
        for failure in tally.failures:
            print(f"FAILED {tally.database} {tally.operation} ({tally.fault}): {failure}")


# Databases: the app database and its saved states ---------------------------------------------


class Store:
    """The app database and the data folder of the runs, and the states they are reset to.

    The folder is always at the same path: the datasets hold their tables' absolute paths."""

    def __init__(
        self, folder: Path, url: str, admin_url: str | None, *, crashes: bool = False
    ) -> None:
        # Where the server crashes, databases are copied file by file: PostgreSQL 15's
        # default (WAL_LOG) copy keeps the template's sequence pages with their pre-logged
        # values, so after a crash the copy's sequences go back to the template's state
        # and hand out ids again (measured here: duplicate primary keys after recovery).
        self.strategy = " STRATEGY FILE_COPY" if crashes else ""
        self.folder = folder
        self.data = folder / "data"
        self.url = url
        self.admin_url = admin_url
        self.name = url.rpartition("/")[2] if admin_url else ""
        self.saved: list[str] = []

    def _admin(self, *statements: str) -> None:
        assert self.admin_url is not None
        run_admin_statements(self.admin_url, *statements)

    def create(self) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        if self.admin_url:
            self._admin(f'CREATE DATABASE "{self.name}"')

    def save(self, state: str) -> None:
        shutil.copytree(self.data, self.folder.parent / f"{self.folder.name}-{state}")
        if self.admin_url:
            self._admin(
                f'CREATE DATABASE "{self.name}_{state}" TEMPLATE "{self.name}"{self.strategy}'
            )
        self.saved.append(state)

    def reset(self, state: str) -> None:
        shutil.rmtree(self.data)
        shutil.copytree(self.folder.parent / f"{self.folder.name}-{state}", self.data)
        if self.admin_url:
            self._admin(
                f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)',
                f'CREATE DATABASE "{self.name}" TEMPLATE "{self.name}_{state}"{self.strategy}',
            )

    def drop(self) -> None:
        if self.admin_url:
            with contextlib.suppress(Exception):
                self._admin(
                    *(
                        f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
                        for name in [self.name, *(f"{self.name}_{s}" for s in self.saved)]
                    )
                )


# Children ---------------------------------------------------------------------------------


@dataclass
class Ended:
    """How a child ended: `ok` (with its value), `killed` (by SIGKILL) or `error`."""

    how: str
    value: Any = None
    error: str = ""
    points: list[str] = field(default_factory=list)
    seconds: float = 0.0


_SQL_TABLE = re.compile(r'(?:FROM|INTO|UPDATE|TABLE)\s+"?([\w.]+)"?', re.IGNORECASE)


def _instrument(log: Path, fault_at: int, fault: Callable[[str], None]) -> None:
    """In a child: every step of an import, SQL statement and COMMIT is a point, written to
    `log` as it is reached; at the `fault_at`-th one, `fault` happens."""
    from django.db import connection

    from headway.ingestion import services

    descriptor = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    seen: Counter[str] = Counter()
    count = 0

    def point(name: str) -> None:
        nonlocal count
        seen[name] += 1
        count += 1
        label = f"{name} #{seen[name]}"
        os.write(descriptor, (label + "\n").encode())
        if count == fault_at:
            fault(label)

    def statement(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        verb = sql.split(None, 1)[0].upper() if sql.strip() else "?"
        table = _SQL_TABLE.search(sql)
        what = f"{verb} {table.group(1)}" if table and verb != "SAVEPOINT" else verb
        point(f"before {what}")
        result = execute(sql, params, many, context)
        point(f"after {what}")
        return result

    connection.execute_wrappers.append(statement)
    # Django's backends have `_commit`; its stubs only know the public `commit`.
    commit = connection._commit  # type: ignore[attr-defined]

    def committing() -> None:
        point("before COMMIT")
        commit()
        point("after COMMIT")

    connection._commit = committing  # type: ignore[attr-defined]
    services.fault_hook = lambda step: point(f"step {step}")


def kill_self(label: str) -> None:
    os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(60)


def forked(
    work: Callable[[], Any],
    *,
    fault_at: int = 0,
    fault: Callable[[str], None] = kill_self,
    after: float | None = None,
    on_timer: Callable[[int], None] | None = None,
    timeout: float = 600,
) -> Ended:
    """Runs `work` in a forked child; its value (JSON) comes back through a file."""
    scratch = Path(tempfile.mkdtemp(prefix="headway-fault-child-"))
    out, log = scratch / "out.json", scratch / "points.log"
    began = time.monotonic()
    pid = os.fork()
    if pid == 0:  # the child
        code = 0
        # Its logging and tracebacks go to a file: an error comes back in `Ended.error`.
        quiet = os.open(scratch / "output.log", os.O_WRONLY | os.O_CREAT, 0o600)
        os.dup2(quiet, 1)
        os.dup2(quiet, 2)
        try:
            _instrument(log, fault_at, fault)
            value = work()
            out.write_text(json.dumps({"value": value}, default=str))
        except BaseException:
            code = 1
            with contextlib.suppress(Exception):
                out.write_text(json.dumps({"error": traceback.format_exc()[-3000:]}))
        finally:
            with contextlib.suppress(Exception):
                from django.db import connections

                connections.close_all()
            os._exit(code)
    timer_fired = after is None
    status = 0
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        elapsed = time.monotonic() - began
        if not timer_fired and elapsed >= (after or 0):
            timer_fired = True
            (on_timer or (lambda child: os.kill(child, signal.SIGKILL)))(pid)
            continue
        if elapsed > timeout:
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.001)
    seconds = time.monotonic() - began
    points = log.read_text().splitlines() if log.exists() else []
    report = json.loads(out.read_text()) if out.exists() and out.stat().st_size else {}
    shutil.rmtree(scratch, ignore_errors=True)
    if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL:
        return Ended("killed", points=points, seconds=seconds)
    if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
        return Ended("ok", value=report.get("value"), points=points, seconds=seconds)
    return Ended("error", error=str(report.get("error", status)), points=points, seconds=seconds)


# What the operations do, and what the state is ---------------------------------------------


def build_organisation(folder: Path) -> None:
    from django.core.management import call_command
    from tests.app.conftest import write_workspace

    from headway.engine.workspace import load_workspace
    from headway.ingestion.services import import_file
    from headway.kpis.models import Dataset
    from headway.kpis.workspace_io import apply_plan, plan_apply
    from headway.results.services import results_recompute

    call_command("migrate", verbosity=0, interactive=False)
    apply_plan(plan_apply(load_workspace(write_workspace(folder))), by=None)
    for key in ("leads", "deals"):
        run = import_file(dataset=Dataset.objects.get(key=key), path=folder / f"{key}.csv", by=None)
        assert run.status == "succeeded", run.error
    results_recompute(by=None)
    (folder / "new.csv").write_text(DEALS_V2, encoding="utf-8")


def do_import(folder: Path) -> dict[str, Any]:
    from headway.ingestion.services import import_file
    from headway.kpis.models import Dataset

    run = import_file(dataset=Dataset.objects.get(key="deals"), path=folder / "new.csv", by=None)
    return {"status": run.status, "error": run.error, "added": run.added, "updated": run.updated}


def do_recompute(folder: Path) -> dict[str, Any]:
    from headway.results.services import results_recompute

    summary = results_recompute(by=None)
    return {"results": summary.results}


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def inspect_state() -> dict[str, Any]:
    """The state of the installation, read in a child: warehouse tables (rows and bytes),
    import runs, results, audit rows, schemas, SQLite's integrity check."""
    import duckdb
    from django.conf import settings
    from django.db import connection

    from headway.audit.models import AuditEntry
    from headway.engine.data import quote_literal
    from headway.ingestion.models import DatasetSchema, ImportRun
    from headway.kpis.models import Dataset
    from headway.results.models import Result

    warehouse = Path(settings.HEADWAY_WAREHOUSE_DIR)
    keys = dict(Dataset.objects.values_list("key", "key_column"))
    tables = {}
    for path in sorted(warehouse.glob("*.parquet")):
        reader = duckdb.connect(":memory:")
        try:
            cursor = reader.execute(
                f"SELECT * FROM read_parquet({quote_literal(str(path))}) "
                f'ORDER BY "{keys[path.stem]}"'
            )
            columns = [item[0] for item in cursor.description]
            rows = cursor.fetchall()
        finally:
            reader.close()
        keys_seen = [row[columns.index(keys[path.stem])] for row in rows]
        tables[path.stem] = {
            "rows": _sha(repr(rows)),
            "count": len(rows),
            "duplicate_keys": len(keys_seen) - len(set(keys_seen)),
            "bytes": hashlib.sha256(path.read_bytes()).hexdigest(),
        }
    results = sorted(
        json.dumps(row, default=str, sort_keys=True)
        for row in Result.objects.values_list(
            "kpi__key",
            "period",
            "group_dimension",
            "group_value",
            "value",
            "target",
            "attainment",
            "status",
            "measures",
        )
    )
    state: dict[str, Any] = {
        "tables": tables,
        "leftovers": sorted(path.name for path in warehouse.glob("*.tmp-*")),
        "runs": [
            [run.pk, run.dataset.key, run.status, run.added, run.updated, run.unchanged]
            for run in ImportRun.objects.select_related("dataset").order_by("pk")
        ],
        "audit": [
            [entry.pk, entry.action, entry.object_type, entry.object_id]
            for entry in AuditEntry.objects.order_by("pk")
        ],
        "results": {"count": len(results), "sha": _sha("\n".join(results))},
        "schemas": {
            record.dataset.key: record.columns
            for record in DatasetSchema.objects.select_related("dataset")
        },
        "datasets": dict(Dataset.objects.values_list("key", "file")),
    }
    if connection.vendor == "sqlite":
        with connection.cursor() as integrity_cursor:
            integrity_cursor.execute("PRAGMA integrity_check")
            found = integrity_cursor.fetchone()
            state["integrity"] = found[0] if found else "?"
    return state


# The checks -----------------------------------------------------------------------------------


def _new_audit(before: dict[str, Any], now: dict[str, Any]) -> list[tuple[str, str]]:
    known = {entry[0] for entry in before["audit"]}
    return sorted((entry[1], entry[3]) for entry in now["audit"] if entry[0] not in known)


def _common(base: dict[str, Any], now: dict[str, Any], problems: list[str]) -> None:
    if now["audit"][: len(base["audit"])] != base["audit"]:
        problems.append("audit rows of earlier operations changed")
    if now["runs"][: len(base["runs"])] != base["runs"]:
        problems.append("earlier import runs changed")
    if now.get("integrity", "ok") != "ok":
        problems.append(f"SQLite integrity check: {now['integrity']}")
    for name, table in now["tables"].items():
        if table["duplicate_keys"]:
            problems.append(f"table {name} has {table['duplicate_keys']} duplicate keys")


def _same_rows(one: dict[str, Any] | None, other: dict[str, Any] | None) -> bool:
    if one is None or other is None:
        return one is other
    return bool(one["rows"] == other["rows"] and one["count"] == other["count"])


def check_import_faulted(
    base: dict[str, Any], clean: dict[str, Any], now: dict[str, Any]
) -> tuple[str, list[str]]:
    problems: list[str] = []
    _common(base, now, problems)
    deals = now["tables"].get("deals")
    if _same_rows(deals, base["tables"]["deals"]):
        outcome = "old"
        if deals["bytes"] != base["tables"]["deals"]["bytes"]:
            problems.append("the old deals table's file changed")
    elif _same_rows(deals, clean["tables"]["deals"]):
        outcome = "new"
    else:
        outcome = "mixed"
        problems.append("the deals table is neither the old one nor the new one")
    if not _same_rows(now["tables"].get("leads"), base["tables"]["leads"]):
        problems.append("the leads table changed")
    added = now["runs"][len(base["runs"]) :]
    audit = _new_audit(base, now)
    if len(added) > 1:
        problems.append(f"{len(added)} new import runs")
    if not added:
        if outcome == "new":
            problems.append("the table changed, but no import run was recorded")
        if audit:
            problems.append(f"audit rows without a run: {audit}")
    else:
        pk, status = str(added[0][0]), added[0][2]
        if status == "succeeded":
            if outcome != "new":
                problems.append("a run succeeded, but the table is the old one")
            expected = [(action, pk) for action, _ in _new_audit(base, clean)]
            if audit != sorted(expected):
                problems.append(f"audit rows {audit}, expected {sorted(expected)}")
        elif status == "running":
            if audit != [("import.start", pk)]:
                problems.append(f"audit rows {audit} for a run left running")
        elif status == "failed":
            # An error mid-import: the run says it failed, so it must have changed nothing.
            if outcome != "old":
                problems.append("the run failed, but the table is the new one")
            if audit != [("import.finish", pk), ("import.start", pk)]:
                problems.append(f"audit rows {audit} for a failed run")
        elif status == "abandoned":
            # Recording failed after the table was replaced, and the run says so.
            if outcome != "new":
                problems.append("the run was marked abandoned at once, but the table is old")
            actions = {action for action, _ in audit}
            if not {"import.start", "import.abandon"} <= actions or actions - {
                "import.start",
                "import.abandon",
                "import.finish",
            }:
                problems.append(f"audit rows {audit} for a run marked abandoned")
        else:
            problems.append(f"the faulted run is {status}")
    if now["results"] != base["results"]:
        problems.append("results changed (an import does not recompute)")
    if now["schemas"] != base["schemas"] or now["datasets"] != base["datasets"]:
        problems.append("the datasets' schemas or files changed")
    return outcome, problems


def check_import_rerun(
    base: dict[str, Any],
    clean: dict[str, Any],
    faulted: dict[str, Any],
    outcome: str,
    now: dict[str, Any],
    rerun: Ended,
) -> list[str]:
    problems: list[str] = []
    _common(base, now, problems)
    if rerun.how != "ok" or rerun.value.get("status") != "succeeded":
        return [f"the rerun did not succeed: {rerun.how} {rerun.value or rerun.error}"]
    if not _same_rows(now["tables"].get("deals"), clean["tables"]["deals"]):
        problems.append("after the rerun the deals table differs from a clean run's")
    if not _same_rows(now["tables"].get("leads"), base["tables"]["leads"]):
        problems.append("after the rerun the leads table changed")
    if now["leftovers"]:
        problems.append(f"leftover files: {now['leftovers']}")
    killed = faulted["runs"][len(base["runs"]) :]
    runs = now["runs"][len(base["runs"]) :]
    expected_runs = len(killed) + 1
    if len(runs) != expected_runs:
        problems.append(f"{len(runs)} new runs after the rerun, expected {expected_runs}")
        return problems
    if any(run[2] == "running" for run in runs):
        problems.append("a run is still running after the rerun")
    audit = _new_audit(faulted, now)
    last = runs[-1]
    expected_audit = [("import.finish", str(last[0])), ("import.start", str(last[0]))]
    if killed:
        pk, before, after = killed[0][0], killed[0][2], runs[0][2]
        wanted = "abandoned" if before == "running" else before
        if after != wanted:
            problems.append(f"the killed run is {after} after the rerun, expected {wanted}")
        if before == "running":
            expected_audit.append(("import.abandon", str(pk)))
    if audit != sorted(expected_audit):
        problems.append(f"audit rows of the rerun {audit}, expected {sorted(expected_audit)}")
    if last[2] != "succeeded":
        problems.append(f"the rerun's run is {last[2]}")
    clean_run = clean["runs"][-1]
    counted = (last[3], last[4])
    expected = (clean_run[3], clean_run[4]) if outcome == "old" else (0, 0)
    if counted != expected:
        problems.append(f"the rerun added/updated {counted}, expected {expected}")
    if now["results"] != base["results"]:
        problems.append("results changed")
    if now["schemas"] != clean["schemas"] or now["datasets"] != clean["datasets"]:
        problems.append("the datasets' schemas or files differ from a clean run's")
    return problems


def check_recompute_faulted(
    base: dict[str, Any], clean: dict[str, Any], now: dict[str, Any]
) -> tuple[str, list[str]]:
    problems: list[str] = []
    _common(base, now, problems)
    if now["results"] == base["results"]:
        outcome = "old"
    elif now["results"] == clean["results"]:
        outcome = "new"
    else:
        outcome = "mixed"
        problems.append(f"results are neither the old set nor the new set: {now['results']}")
    audit = [action for action, _ in _new_audit(base, now)]
    expected = [] if outcome == "old" else ["results.recompute"]
    if audit != expected:
        problems.append(f"audit rows {audit}, expected {expected} (results {outcome})")
    if now["tables"] != base["tables"] or now["runs"] != base["runs"]:
        problems.append("the warehouse or the import runs changed")
    return outcome, problems


def check_recompute_rerun(
    base: dict[str, Any],
    clean: dict[str, Any],
    faulted: dict[str, Any],
    outcome: str,
    now: dict[str, Any],
    rerun: Ended,
) -> list[str]:
    problems: list[str] = []
    _common(base, now, problems)
    if rerun.how != "ok":
        return [f"the rerun did not complete: {rerun.how} {rerun.error}"]
    if now["results"] != clean["results"]:
        problems.append("after the rerun the results differ from a clean run's")
    audit = [action for action, _ in _new_audit(faulted, now)]
    if audit != ["results.recompute"]:
        problems.append(f"audit rows of the rerun {audit}, expected one results.recompute")
    if now["tables"] != base["tables"] or now["runs"] != base["runs"]:
        problems.append("the warehouse or the import runs changed")
    return problems


CHECKS = {
    "import": (check_import_faulted, check_import_rerun),
    "recompute": (check_recompute_faulted, check_recompute_rerun),
}


# A campaign: one database, its runs -------------------------------------------------------------


def campaign(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Runs in a process of its own, with Django set up for the spec's database."""
    folder = Path(spec["folder"])
    store = Store(folder, spec["url"], spec.get("admin_url"), crashes=spec["fault"] == "stop")
    os.environ.update(
        HEADWAY_MODE="test",
        HEADWAY_DATA_DIR=str(store.data),
        DATABASE_URL=spec["url"],
        DJANGO_SETTINGS_MODULE="headway.site.settings",
    )
    os.environ.pop("HEADWAY_CREDENTIALS_KEYS", None)
    sys.path.insert(0, str(ROOT))
    store.create()
    import django

    django.setup()
    # Loaded once here, so that the forked children start at once.
    for module in ("headway.ingestion.services", "headway.results.services", "tests.app.conftest"):
        importlib.import_module(module)

    cluster = None
    if spec.get("cluster"):
        cluster = Cluster.from_json(spec["cluster"])
    rng = random.Random(spec["seed"])
    tallies: list[Tally] = []
    try:
        made = forked(lambda: build_organisation(folder))
        if made.how != "ok":
            raise RuntimeError(f"the organisation could not be built: {made.error}")
        store.save("before-import")
        imported = forked(lambda: do_import(folder))
        if imported.how != "ok" or imported.value["status"] != "succeeded":
            raise RuntimeError(f"the clean import failed: {imported.value or imported.error}")
        store.save("before-recompute")
        for operation in spec["operations"]:
            work = (
                (lambda: do_import(folder))
                if operation == "import"
                else (lambda: do_recompute(folder))
            )
            start_state = f"before-{operation}"
            store.reset(start_state)
            base = forked(inspect_state).value
            clean_run = forked(work)
            if clean_run.how != "ok":
                raise RuntimeError(f"a clean {operation} failed: {clean_run.error}")
            clean = forked(inspect_state).value
            points = clean_run.points
            tally = Tally(spec["label"], operation, spec["fault_label"], points_total=len(points))
            for number in range(spec["runs"]):
                store.reset(start_state)
                tally.runs += 1
                try:
                    run_once(
                        tally,
                        operation,
                        work,
                        base,
                        clean,
                        points,
                        clean_run.seconds,
                        number,
                        rng,
                        cluster,
                        spec,
                    )
                except Exception:
                    tally.failures.append(f"run {number}: {traceback.format_exc()[-1500:]}")
                    if cluster is not None and not cluster.is_running():
                        cluster.start()
            tallies.append(tally)
    finally:
        store.drop()
    return [tally.as_json() for tally in tallies]


def _faults(
    kind: str, number: int, cluster: Cluster | None, spec: dict[str, Any]
) -> tuple[str, Callable[[str], None], Callable[[int], None] | None]:
    """The fault of a run: its name, what happens at a point, what happens at a time."""
    if kind == "kill":
        return "SIGKILL", kill_self, None
    if kind == "error":
        # A transient database error (SQLite's "database is locked" past its busy timeout,
        # a deadlock, a serialization failure) where the operation talks to the database.
        def fail(label: str) -> None:
            from django.db import OperationalError

            raise OperationalError(f"database is locked (injected at {label})")

        return "database error", fail, None
    if kind == "stop":
        assert cluster is not None
        if number % 2:
            # A blip: the server crashes and is back at once; the child finds its
            # connection dead and a server that answers again.
            def blip(_: object) -> None:
                cluster.stop()
                cluster.start()

            return "server restarted", blip, blip

        def stop(_: object) -> None:
            cluster.stop()

        return "server stopped", stop, stop
    admin = spec["admin_url"]
    database = spec["url"].rpartition("/")[2]
    return (
        "backend terminated",
        lambda _: _terminate_own_backend(admin),
        lambda _: _terminate_backends(admin, database),
    )


def run_once(
    tally: Tally,
    operation: str,
    work: Callable[[], Any],
    base: dict[str, Any],
    clean: dict[str, Any],
    points: list[str],
    clean_seconds: float,
    number: int,
    rng: random.Random,
    cluster: Cluster | None,
    spec: dict[str, Any],
) -> None:
    check_faulted, check_rerun = CHECKS[operation]
    kind = spec["fault"]
    name, at_point, at_time = _faults(kind, number, cluster, spec)
    if number % 3 != 2 or at_time is None:
        at = rng.randint(1, len(points))
        ended = forked(work, fault_at=at, fault=at_point)
        hit = points[at - 1]
    else:
        delay = rng.uniform(0, clean_seconds * 1.1)
        ended = forked(work, after=delay, on_timer=at_time)
        hit = f"timer, after {ended.points[-1]}" if ended.points else "timer, at the start"
    if cluster is not None and not cluster.is_running():
        cluster.start()
    label = f"run {number} ({name} at {hit}; the child {ended.how})"
    if ended.how == "ok":
        tally.finished_first += 1
    elif kind == "kill" and ended.how != "killed":
        tally.failures.append(f"{label}: it failed by itself: {ended.error}")
        return
    else:
        tally.faulted += 1
        tally.points[hit] += 1
    faulted = forked(inspect_state)
    if faulted.how != "ok":
        tally.failures.append(f"{label}: the state cannot be read: {faulted.error}")
        return
    outcome, problems = check_faulted(base, clean, faulted.value)
    tally.outcomes[outcome] += 1
    rerun = forked(work)
    after = forked(inspect_state)
    if after.how != "ok":
        problems.append(f"the state after the rerun cannot be read: {after.error}")
    else:
        problems += check_rerun(base, clean, faulted.value, outcome, after.value, rerun)
    for problem in problems:
        tally.failures.append(f"{label}: {problem}")


def _terminate_own_backend(admin_url: str) -> None:
    """Ends this process's connection from the server's side (pg_terminate_backend)."""
    import psycopg
    from django.db import connection

    if connection.connection is None:
        return
    pid = connection.connection.info.backend_pid
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


def _terminate_backends(admin_url: str, database: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (database,),
        )


# The main process ----------------------------------------------------------------------------


def _spec(
    label: str,
    fault: str,
    fault_label: str,
    root: Path,
    runs: int,
    seed: int,
    operations: list[str],
    url: str | None = None,
    admin_url: str | None = None,
    cluster: Cluster | None = None,
) -> dict[str, Any]:
    folder = root / re.sub(r"\W+", "-", f"{label}-{fault}") / "case"
    folder.parent.mkdir(parents=True)
    if url is None:
        url = f"sqlite:///{folder / 'data' / 'app.sqlite3'}"
    return {
        "label": label,
        "fault": fault,
        "fault_label": fault_label,
        "folder": str(folder),
        "url": url,
        "admin_url": admin_url,
        "cluster": cluster.as_json() if cluster else None,
        "runs": runs,
        "seed": seed,
        "operations": operations,
    }


def _postgres_database(admin_url: str, tag: str) -> str:
    return database_url(admin_url, throwaway_database_name(f"headway_fault_{tag}"))


def run_campaigns(specs: list[dict[str, Any]], jobs: int) -> list[Tally]:
    """Each campaign in a process of its own (its own Django settings), `jobs` at a time."""
    pending = list(specs)
    running: list[tuple[subprocess.Popen[bytes], Path, dict[str, Any]]] = []
    tallies: list[Tally] = []
    while pending or running:
        while pending and len(running) < jobs:
            spec = pending.pop(0)
            out = Path(spec["folder"]).parent / "tallies.json"
            spec_file = Path(spec["folder"]).parent / "spec.json"
            spec_file.write_text(json.dumps(spec))
            process = subprocess.Popen(
                [sys.executable, __file__, "--campaign", str(spec_file), "--out", str(out)],
                cwd=ROOT,
            )
            running.append((process, out, spec))
        for item in list(running):
            process, out, spec = item
            if process.poll() is None:
                continue
            running.remove(item)
            if process.returncode == 0 and out.exists():
                tallies += [Tally.from_json(data) for data in json.loads(out.read_text())]
            else:
                failed = Tally(spec["label"], "setup", spec["fault_label"])
                failed.failures.append(f"the campaign ended with status {process.returncode}")
                tallies.append(failed)
        time.sleep(0.05)
    return tallies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="kills per operation and database")
    parser.add_argument(
        "--stop-runs", type=int, default=20, help="server stops per operation (0: none)"
    )
    parser.add_argument(
        "--error-runs",
        type=int,
        default=20,
        help="database errors injected per operation and database (0: none)",
    )
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--operations", default=",".join(OPERATIONS))
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--jobs", type=int, default=3, help="campaigns at once")
    parser.add_argument("--json", type=Path, help="write the table as JSON here")
    parser.add_argument("--campaign", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.campaign:
        result = campaign(json.loads(args.campaign.read_text()))
        args.out.write_text(json.dumps(result))
        return 0

    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 30)
    databases = [name.strip() for name in args.databases.split(",") if name.strip()]
    operations = [name.strip() for name in args.operations.split(",") if name.strip()]
    print(f"fault injection: seed {seed}, {args.runs} kills per operation and database")
    root = Path(tempfile.mkdtemp(prefix="headway-faults-"))
    specs = []
    notes = []
    exit_stack = contextlib.ExitStack()
    try:
        if "sqlite" in databases and args.runs:
            specs.append(_spec("sqlite", "kill", "SIGKILL", root, args.runs, seed, operations))
        if "sqlite" in databases and args.error_runs:
            specs.append(
                _spec(
                    "sqlite", "error", "database error", root, args.error_runs, seed + 3, operations
                )
            )
        if "postgresql" in databases:
            unreachable = why_unreachable(SHARED_SERVER_URL, connect_timeout=5)
            if unreachable is not None:
                print(
                    f"PostgreSQL at {SHARED_SERVER_URL} is not reachable: {unreachable}",
                    file=sys.stderr,
                )
                return 2
            if args.runs:
                specs.append(
                    _spec(
                        "postgresql",
                        "kill",
                        "SIGKILL",
                        root,
                        args.runs,
                        seed + 1,
                        operations,
                        url=_postgres_database(SHARED_SERVER_URL, "kill"),
                        admin_url=SHARED_SERVER_URL,
                    )
                )
            if args.error_runs:
                specs.append(
                    _spec(
                        "postgresql",
                        "error",
                        "database error",
                        root,
                        args.error_runs,
                        seed + 4,
                        operations,
                        url=_postgres_database(SHARED_SERVER_URL, "error"),
                        admin_url=SHARED_SERVER_URL,
                    )
                )
            if args.stop_runs:
                cluster, why = exit_stack.enter_context(private_cluster())
                if cluster is not None:
                    specs.append(
                        _spec(
                            "postgresql (private)",
                            "stop",
                            "server crash",
                            root,
                            args.stop_runs,
                            seed + 2,
                            operations,
                            url=_postgres_database(cluster.url, "stop"),
                            admin_url=cluster.url,
                            cluster=cluster,
                        )
                    )
                else:
                    notes.append(
                        f"no private PostgreSQL cluster ({why}): the import's connection "
                        "was ended with pg_terminate_backend instead of stopping a server"
                    )
                    specs.append(
                        _spec(
                            "postgresql",
                            "terminate",
                            "backend terminated",
                            root,
                            args.stop_runs,
                            seed + 2,
                            operations,
                            url=_postgres_database(SHARED_SERVER_URL, "term"),
                            admin_url=SHARED_SERVER_URL,
                        )
                    )
        began = time.monotonic()
        tallies = run_campaigns(specs, args.jobs)
        seconds = time.monotonic() - began
    finally:
        exit_stack.close()
        shutil.rmtree(root, ignore_errors=True)
    print()
    print_table(tallies)
    for note in notes:
        print(f"note: {note}")
    failures = sum(len(tally.failures) for tally in tallies)
    print(
        f"\n{sum(t.runs for t in tallies)} runs in {seconds:.0f} s, seed {seed}: "
        f"{failures} failures."
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "seed": seed,
                    "seconds": seconds,
                    "notes": notes,
                    "tallies": [tally.as_json() for tally in tallies],
                },
                indent=1,
            )
        )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
