"""Optimistic concurrency under real concurrency: two edits of the same object from the same
version, started together, give exactly one success and one conflict, for every editable
object (every model with a `version`), on SQLite and on PostgreSQL.

    uv run python bench/concurrency.py                            # 1,000 rounds per object
    uv run python bench/concurrency.py --rounds 25 --databases sqlite --json out.json
    uv run python bench/concurrency.py --objects kpi,meeting --rounds 200

For each database a process of its own sets Django up on a database of its own (SQLite: a
file in WAL mode with IMMEDIATE transactions and a busy timeout, Headway's own settings;
PostgreSQL: a throwaway database on the server of HEADWAY_TEST_POSTGRES_URL, default
postgres://postgres@127.0.0.1:5432/test), migrates it and builds the organisation of
tests/app, plus one of every other editable object: a review meeting being prepared with
an agenda item, a proposal, a comment, a workshop, a source, a dataset and a measure of the
bench's own, and notification settings. Then, per object and round:

- the main thread reads the object's version;
- two threads, each with its own database connection, load the object, wait at a
  barrier and submit an edit from that version at the same moment, each with a value of
  its own, through the service the web pages and the API call (for datasets and measures,
  which only the admin edits, through the admin's change form: a real request each);
- the round is right when exactly one edit succeeded and the other was refused as a
  conflict (ConflictError; the admin's conflict error), and afterwards the object is at
  the next version, holds the winner's value (the loser's wrote nothing), and exactly one
  audit row was written, for that object.

Anything else is an anomaly; the first few are described. Prints per database and
object: rounds, successes, conflicts, anomalies and the rounds per second; writes the
same as JSON with --json. Exit status 0 when every round of every object was right.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The bench folder is sys.path[0] when run as a script; this keeps the import working when
# the module is loaded some other way (as the other benches do for their siblings).
sys.path.insert(0, str(Path(__file__).resolve().parent))
from pgcluster import (
    SHARED_SERVER_URL,
    database_url,
    run_admin_statements,
    throwaway_database_name,
    why_unreachable,
)

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
DATABASES = ("sqlite", "postgresql")
BARRIER_SECONDS = 60
EXAMPLES = 5

# The editable objects, by the model that holds the version (app label and model name).
OBJECTS = {
    "organization": "accounts.organization",
    "team": "accounts.team",
    "goal": "goals.goal",
    "dataset": "kpis.dataset",
    "measure": "kpis.measure",
    "kpi": "kpis.kpi",
    "source": "ingestion.source",
    "meeting": "reviews.meeting",
    "agenda_item": "reviews.agendaitem",
    "action": "reviews.action",
    "proposal": "participation.proposal",
    "comment": "participation.comment",
    "workshop": "participation.workshop",
    "glossary_entry": "participation.glossaryentry",
    "notification_settings": "notifications.notificationsettings",
}


# Results --------------------------------------------------------------------------------


@dataclass
class Tally:
    """What the rounds of one object on one database came to."""

    database: str
    object: str
    rounds: int = 0
    successes: int = 0
    conflicts: int = 0
    anomalies: int = 0
    seconds: float = 0.0
    examples: list[str] = field(default_factory=list)

    def anomaly(self, text: str) -> None:
        self.anomalies += 1
        if len(self.examples) < EXAMPLES:
            self.examples.append(text)

    def as_json(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "object": self.object,
            "rounds": self.rounds,
            "successes": self.successes,
            "conflicts": self.conflicts,
            "anomalies": self.anomalies,
            "seconds": round(self.seconds, 3),
            "examples": self.examples,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Tally:
        return cls(**data)

    @property
    def right(self) -> bool:
        return (
            self.anomalies == 0
            and self.rounds > 0
            and self.successes == self.rounds
            and self.conflicts == self.rounds
        )


def print_table(tallies: list[Tally]) -> None:
    header = (
        f"{'database':<11} {'object':<22} {'rounds':>6} {'successes':>9} {'conflicts':>9} "
        f"{'anomalies':>9} {'rounds/s':>8}"
    )
    print(header)
    print("-" * len(header))
    for tally in tallies:
        rate = tally.rounds / tally.seconds if tally.seconds else 0.0
        print(
            f"{tally.database:<11} {tally.object:<22} {tally.rounds:>6} {tally.successes:>9} "
            f"{tally.conflicts:>9} {tally.anomalies:>9} {rate:>8.1f}"
        )
    for tally in tallies:
        for example in tally.examples:
            print(f"ANOMALY {tally.database} {tally.object}: {example}")


# The objects and their edits ------------------------------------------------------------------


@dataclass
class Edit:
    """How to read an editable object and edit it from a version.

    `apply(pk, version, value)` runs in a worker thread and raises ConflictError (or
    returns "conflict") when the version is stale; `value(round, side)` is the value each
    side writes; `stored(pk)` reads the object's version and value afterwards."""

    name: str
    model: Any
    pk: Callable[[], int]
    value: Callable[[int, int], Any]
    apply: Callable[[int, int, Any], object]
    stored_value: Callable[[Any], Any]
    action: str
    before_round: Callable[[int], None] | None = None
    version_when_missing: int | None = None

    def stored(self, pk: int) -> tuple[int, Any]:
        found = self.model.objects.filter(pk=pk).first()
        if found is None:
            return (self.version_when_missing or 0, None)
        return found.version, self.stored_value(found)


class AdminClients:
    """A signed-in admin client per worker thread (a test client is not shared)."""

    def __init__(self, person: Any) -> None:
        self.person = person
        self.local = threading.local()

    def client(self) -> Any:
        from django.test import Client

        client = getattr(self.local, "client", None)
        if client is None:
            client = Client()
            client.force_login(self.person)
            self.local.client = client
        return client


CONFLICT_TEXT = "Someone else changed this while you were editing it"


def _admin_post(clients: AdminClients, url: str, data: dict[str, Any]) -> str | None:
    response = clients.client().post(url, data)
    if response.status_code == 302:
        return None
    text = response.content.decode(errors="replace")
    if response.status_code == 200 and CONFLICT_TEXT in text:
        return "conflict"
    raise RuntimeError(f"the admin answered {response.status_code}: {text[:300]!r}")


def build(folder: Path) -> dict[str, Edit]:
    """The organisation and one of every editable object; the edits of each."""
    from django.core.management import call_command
    from tests.app.conftest import build_organisation
    from tests.ingestion.test_syncs import ListedRows

    from headway.accounts.models import Organization, Team
    from headway.accounts.services import organization_update, team_update
    from headway.goals.models import Goal
    from headway.goals.services import goal_update
    from headway.ingestion import sources
    from headway.ingestion.models import Source
    from headway.ingestion.syncs import source_create, source_update
    from headway.kpis.models import Dataset, Kpi, Measure
    from headway.kpis.services import kpi_update
    from headway.notifications.models import Digest, NotificationSettings
    from headway.notifications.services import settings_of, settings_update
    from headway.participation.comments import comment_add, comment_edit
    from headway.participation.glossary import glossary_update
    from headway.participation.models import (
        Comment,
        GlossaryEntry,
        Proposal,
        ProposalKind,
        Workshop,
    )
    from headway.participation.proposals import proposal_create, proposal_update
    from headway.participation.workshops import workshop_create, workshop_update
    from headway.reviews.choices import ActionStatus
    from headway.reviews.models import Action, AgendaItem, Meeting
    from headway.reviews.services import (
        action_close,
        agenda_item_add,
        cycle_create,
        item_notes_save,
        meeting_create,
        meeting_prepare,
        meeting_update,
    )

    call_command("migrate", verbosity=0, interactive=False)
    org = build_organisation(folder)
    admin, member = org.admin, org.member
    admin.is_staff = admin.is_superuser = True
    admin.save()
    sources.KINDS["test-rows"] = ListedRows()

    when = datetime.datetime(2026, 4, 15, 10, tzinfo=datetime.UTC)
    cycle = cycle_create(by=admin, period="2026-Q1")
    meeting = meeting_create(
        by=admin, cycle=cycle, title="Bench review", scheduled_at=when, chair=admin
    )
    meeting = meeting_prepare(meeting=meeting, by=admin, today=datetime.date(2026, 4, 10))
    item = agenda_item_add(meeting=meeting, by=admin, title="A point of the bench")
    proposal = proposal_create(
        by=member,
        kind=ProposalKind.RETIRE_KPI,
        title="Retire revenue",
        why="Nobody reads it",
        kpi=Kpi.objects.get(key="revenue"),
    )
    comment = comment_add(by=member, subject_kind="kpi", subject_key="conversion", text="Hm.")
    workshop = workshop_create(by=admin, topic="Bench workshop", starts_at=when, facilitator=admin)
    source = source_create(
        dataset=Dataset.objects.get(key="deals"),
        kind="test-rows",
        name="Bench CRM",
        config={"rows": []},
        secrets={"token": "good"},
        every_minutes=None,
        by=admin,
    )
    dataset = Dataset.objects.create(
        key="bench", file=str(folder / "bench.csv"), key_column="id", dimensions=["team"]
    )
    measure = Measure.objects.create(name="bench_rows", dataset=dataset, agg="count")
    notification_settings = settings_of(admin)
    team, goal = Team.objects.get(key="north"), Goal.objects.get(key="grow")
    kpi = Kpi.objects.get(key="conversion")
    clients = AdminClients(admin)
    digests = list(Digest.values)

    def text(label: str) -> Callable[[int, int], str]:
        return lambda number, side: f"{label} {number}{'ab'[side]}"

    edits = [
        Edit(
            "organization",
            Organization,
            lambda: Organization.current().pk,
            text("Company"),
            lambda pk, version, value: organization_update(
                by=admin, expected_version=version, name=value
            ),
            lambda found: found.name,
            "organization.update",
        ),
        Edit(
            "team",
            Team,
            lambda: team.pk,
            text("North"),
            lambda pk, version, value: team_update(
                team=Team.objects.get(pk=pk), by=admin, expected_version=version, name=value
            ),
            lambda found: found.name,
            "team.update",
        ),
        Edit(
            "goal",
            Goal,
            lambda: goal.pk,
            text("Grow"),
            lambda pk, version, value: goal_update(
                goal=Goal.objects.get(pk=pk), by=admin, expected_version=version, title=value
            ),
            lambda found: found.title,
            "goal.update",
        ),
        Edit(
            "dataset",
            Dataset,
            lambda: dataset.pk,
            lambda number, side: 2 * number + side + 1,
            lambda pk, version, value: _admin_post(
                clients,
                f"/admin/kpis/dataset/{pk}/change/",
                {
                    "key": "bench",
                    "file": dataset.file,
                    "key_column": "id",
                    "time_column": "",
                    "dimensions": '["team"]',
                    "freshness_hours": str(value),
                    "edited_version": str(version),
                },
            ),
            lambda found: found.freshness_hours,
            "dataset.update",
        ),
        Edit(
            "measure",
            Measure,
            lambda: measure.pk,
            lambda number, side: f"id > {2 * number + side}",
            lambda pk, version, value: _admin_post(
                clients,
                f"/admin/kpis/measure/{pk}/change/",
                {
                    "name": "bench_rows",
                    "dataset": str(dataset.pk),
                    "agg": "count",
                    "column": "",
                    "filter": value,
                    "time_column": "",
                    "edited_version": str(version),
                },
            ),
            lambda found: found.filter,
            "measure.update",
        ),
        Edit(
            "kpi",
            Kpi,
            lambda: kpi.pk,
            text("Conversion"),
            lambda pk, version, value: kpi_update(
                kpi=Kpi.objects.get(pk=pk), by=admin, expected_version=version, name=value
            ),
            lambda found: found.name,
            "kpi.update",
        ),
        Edit(
            "source",
            Source,
            lambda: source.pk,
            text("Bench CRM"),
            lambda pk, version, value: source_update(
                source=Source.objects.get(pk=pk),
                version=version,
                by=admin,
                name=value,
                config={"rows": []},
                every_minutes=None,
                is_active=True,
            ),
            lambda found: found.name,
            "source.update",
        ),
        Edit(
            "meeting",
            Meeting,
            lambda: meeting.pk,
            text("Bench review"),
            lambda pk, version, value: meeting_update(
                meeting=Meeting.objects.get(pk=pk), by=admin, expected_version=version, title=value
            ),
            lambda found: found.title,
            "review.meeting.update",
        ),
        Edit(
            "agenda_item",
            AgendaItem,
            lambda: item.pk,
            text("Notes"),
            lambda pk, version, value: item_notes_save(
                item=AgendaItem.objects.select_related("meeting").get(pk=pk),
                by=admin,
                notes=value,
                expected_version=version,
            ),
            lambda found: found.notes,
            "review.agenda.notes",
        ),
    ]

    # An action is closed once: each round closes a new one.
    actions: dict[str, int] = {}

    def new_action(number: int) -> None:
        actions["pk"] = Action.objects.create(
            meeting=meeting, title=f"Action {number}", owner=admin, due=datetime.date(2026, 5, 1)
        ).pk

    edits.append(
        Edit(
            "action",
            Action,
            lambda: actions["pk"],
            text("Closed"),
            lambda pk, version, value: action_close(
                action=Action.objects.select_related("meeting").get(pk=pk),
                by=admin,
                status=ActionStatus.DROPPED,
                note=value,
                expected_version=version,
            ),
            lambda found: found.closing_note,
            "review.action.close",
            before_round=new_action,
        )
    )
    glossary_kpi = Kpi.objects.get(key="revenue")
    edits += [
        Edit(
            "proposal",
            Proposal,
            lambda: proposal.pk,
            text("Retire revenue"),
            lambda pk, version, value: proposal_update(
                proposal=Proposal.objects.get(pk=pk),
                by=member,
                expected_version=version,
                title=value,
            ),
            lambda found: found.title,
            "participation.proposal.update",
        ),
        Edit(
            "comment",
            Comment,
            lambda: comment.pk,
            text("Hm"),
            lambda pk, version, value: comment_edit(
                comment=Comment.objects.get(pk=pk), by=member, text=value, expected_version=version
            ),
            lambda found: found.text,
            "participation.comment.edit",
        ),
        Edit(
            "workshop",
            Workshop,
            lambda: workshop.pk,
            text("Bench workshop"),
            lambda pk, version, value: workshop_update(
                workshop=Workshop.objects.get(pk=pk),
                by=admin,
                expected_version=version,
                topic=value,
            ),
            lambda found: found.topic,
            "participation.workshop.update",
        ),
        Edit(
            "glossary_entry",
            GlossaryEntry,
            # The entry is made by the first edit (from "version 0": no entry yet).
            lambda: getattr(GlossaryEntry.objects.filter(kpi=glossary_kpi).first(), "pk", 0),
            text("What revenue means"),
            lambda pk, version, value: glossary_update(
                kpi=Kpi.objects.get(pk=glossary_kpi.pk),
                by=admin,
                meaning_en=value,
                meaning_zh="",
                why_en="",
                why_zh="",
                expected_version=version,
            ),
            lambda found: found.meaning_en,
            "participation.glossary.update",
            version_when_missing=0,
        ),
        Edit(
            "notification_settings",
            NotificationSettings,
            lambda: notification_settings.pk,
            lambda number, side: digests[(number + side) % len(digests)],
            lambda pk, version, value: settings_update(
                person=admin, by=admin, digest=value, expected_version=version
            ),
            lambda found: found.digest,
            "notifications.settings",
        ),
    ]
    return {edit.name: edit for edit in edits}


# The rounds --------------------------------------------------------------------------------


def _attempt(edit: Edit, pk: int, version: int, value: Any, barrier: threading.Barrier) -> str:
    """One side of a round, in a worker thread (which keeps its own connection)."""
    from headway.audit.errors import ConflictError

    try:
        barrier.wait()
        outcome = edit.apply(pk, version, value)
    except ConflictError:
        return "conflict"
    except threading.BrokenBarrierError:
        return "error: the other side never came to the barrier"
    except Exception as error:  # an anomaly, described
        return f"error: {type(error).__name__}: {error}"[:500]
    return "conflict" if outcome == "conflict" else "success"


def _last_audit_pk() -> int:
    from headway.audit.models import AuditEntry

    return AuditEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def run_object(edit: Edit, rounds: int, database: str, pool: ThreadPoolExecutor) -> Tally:
    from headway.audit.models import AuditEntry

    tally = Tally(database, edit.name)
    started = time.perf_counter()
    for number in range(rounds):
        if edit.before_round is not None:
            edit.before_round(number)
        pk = edit.pk()
        version, _ = edit.stored(pk)
        since = _last_audit_pk()
        barrier = threading.Barrier(2, timeout=BARRIER_SECONDS)
        values = [edit.value(number, side) for side in (0, 1)]
        sides = [pool.submit(_attempt, edit, pk, version, values[side], barrier) for side in (0, 1)]
        outcomes = [side.result() for side in sides]
        tally.rounds += 1
        tally.successes += outcomes.count("success")
        tally.conflicts += outcomes.count("conflict")
        problems = []
        if sorted(outcomes) != ["conflict", "success"]:
            problems.append(f"outcomes {outcomes}")
        else:
            winner = values[outcomes.index("success")]
            pk = edit.pk()
            now_version, now_value = edit.stored(pk)
            if now_version != version + 1:
                problems.append(f"version {version} -> {now_version}, not {version + 1}")
            if now_value != winner:
                problems.append(f"holds {now_value!r}, not the winner's {winner!r}")
            written = list(
                AuditEntry.objects.filter(pk__gt=since).values_list(
                    "action", "object_type", "object_id"
                )
            )
            wanted = [(edit.action, OBJECTS[edit.name], str(pk))]
            if written != wanted:
                problems.append(f"audit rows {written}, not {wanted}")
        if problems:
            tally.anomaly(f"round {number} (from version {version}): " + "; ".join(problems))
    tally.seconds = time.perf_counter() - started
    return tally


def campaign(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Runs in a process of its own, with Django set up for the spec's database."""
    folder = Path(spec["folder"])
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    os.environ.update(
        HEADWAY_MODE="test",
        HEADWAY_DATA_DIR=str(data),
        DATABASE_URL=spec["url"],
        DJANGO_SETTINGS_MODULE="headway.site.settings",
    )
    os.environ.pop("HEADWAY_CREDENTIALS_KEYS", None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection, connections
    from django.test.utils import setup_test_environment

    from headway.lib.security_log import LOGGER_NAME

    # The test client's host, and e-mail kept in memory (owners are told of the agenda).
    setup_test_environment()
    # Sign-ins and changes of rights of the set-up would fill the table's output.
    logging.getLogger(LOGGER_NAME).disabled = True
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    edits = build(folder)
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
        if mode.lower() != "wal":
            raise RuntimeError(f"SQLite is in journal mode {mode}, not WAL")
    tallies = []

    def close_connection() -> None:
        connections.close_all()

    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="edit") as pool:
        for name in spec["objects"]:
            try:
                tallies.append(run_object(edits[name], spec["rounds"], spec["label"], pool))
            except Exception:
                failed = Tally(spec["label"], name)
                failed.anomaly(traceback.format_exc()[-1500:])
                tallies.append(failed)
        for closing in [pool.submit(close_connection) for _ in range(2)]:
            closing.result()
    return [tally.as_json() for tally in tallies]


# The databases --------------------------------------------------------------------------------


def _postgres_admin(*statements: str) -> None:
    run_admin_statements(SHARED_SERVER_URL, *statements, connect_timeout=10)


def run_database(
    database: str, rounds: int, objects: list[str], root: Path
) -> tuple[subprocess.Popen[bytes], Path, Callable[[], None]]:
    folder = root / database
    folder.mkdir()
    cleanup: Callable[[], None] = lambda: None  # noqa: E731
    if database == "sqlite":
        url = f"sqlite:///{folder / 'headway.sqlite3'}"
    else:
        name = throwaway_database_name("headway_concurrency")
        _postgres_admin(f'CREATE DATABASE "{name}"')
        url = database_url(SHARED_SERVER_URL, name)

        def cleanup() -> None:
            _postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    spec = {"label": database, "url": url, "folder": str(folder), "rounds": rounds}
    spec["objects"] = objects
    spec_file = folder / "spec.json"
    spec_file.write_text(json.dumps(spec))
    out = folder / "tallies.json"
    process = subprocess.Popen(
        [sys.executable, __file__, "--campaign", str(spec_file), "--out", str(out)], cwd=ROOT
    )
    return process, out, cleanup


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=1000, help="rounds per object and database")
    parser.add_argument("--databases", default=",".join(DATABASES))
    parser.add_argument("--objects", default=",".join(OBJECTS), help="which objects (by name)")
    parser.add_argument("--json", type=Path, help="write the table as JSON here")
    parser.add_argument("--campaign", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.campaign:
        result = campaign(json.loads(args.campaign.read_text()))
        args.out.write_text(json.dumps(result))
        return 0

    databases = [name.strip() for name in args.databases.split(",") if name.strip()]
    objects = [name.strip() for name in args.objects.split(",") if name.strip()]
    unknown = sorted(set(databases) - set(DATABASES)) + sorted(set(objects) - set(OBJECTS))
    if unknown or args.rounds < 1:
        parser.error(f"unknown: {', '.join(unknown)}" if unknown else "--rounds must be >= 1")
    if "postgresql" in databases:
        unreachable = why_unreachable(SHARED_SERVER_URL, connect_timeout=10)
        if unreachable is not None:
            print(
                f"PostgreSQL at {SHARED_SERVER_URL} is not reachable: {unreachable}",
                file=sys.stderr,
            )
            return 2
    print(
        f"concurrency: {args.rounds} rounds of two concurrent edits per object and database "
        f"({', '.join(databases)})",
        flush=True,
    )
    root = Path(tempfile.mkdtemp(prefix="headway-concurrency-"))
    tallies: list[Tally] = []
    try:
        running = [
            (database, *run_database(database, args.rounds, objects, root))
            for database in databases
        ]
        for database, process, out, cleanup in running:
            try:
                process.wait()
                if process.returncode == 0 and out.exists():
                    tallies += [Tally.from_json(data) for data in json.loads(out.read_text())]
                else:
                    failed = Tally(database, "setup")
                    failed.anomaly(f"the campaign ended with status {process.returncode}")
                    tallies.append(failed)
            finally:
                with contextlib.suppress(Exception):
                    cleanup()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print_table(tallies)
    if args.json:
        args.json.write_text(json.dumps([tally.as_json() for tally in tallies], indent=2) + "\n")
    wrong = Counter(tally.database for tally in tallies if not tally.right)
    if wrong:
        print(f"NOT RIGHT: {dict(wrong)}")
        return 1
    print(f"every round right: one success and one conflict each, {len(tallies)} objects")
    return 0


if __name__ == "__main__":
    sys.exit(main())
