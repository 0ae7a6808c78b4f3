"""Nothing written without its audit row, and no audit row ever changed.

Every mutating service, found by introspection (every public function of Headway's own
modules, below the presentation layers, with a keyword-only `by`), is called in a valid
scenario and writes exactly one audit row, or, for the few listed with their reasons,
exactly the rows listed. A new service without a scenario here fails the first test.

The audit table itself refuses UPDATE and DELETE, through raw SQL and through the ORM
(`.update()`, `.delete()`, `save()` of an existing row), on the database of the run
(SQLite, and PostgreSQL in the PostgreSQL run of scripts/test).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyotp
import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError

import headway
from headway.accounts import services as accounts
from headway.accounts import two_factor
from headway.accounts.models import Membership, Organization, User
from headway.audit.models import AuditEntry
from headway.engine.workspace import load_workspace
from headway.goals import services as goals
from headway.goals.models import Goal
from headway.ingestion import push, sources, syncs
from headway.ingestion import services as ingestion
from headway.ingestion.models import Source
from headway.jobs import services as jobs
from headway.kpis import services as kpis
from headway.kpis import workspace_io
from headway.kpis.models import Dataset, Kpi
from headway.notifications import services as notifications
from headway.participation import comments, glossary, proposals, workshops
from headway.participation.models import (
    IdeaKind,
    ProposalKind,
    ProposalStatus,
    Workshop,
    WorkshopIdea,
)
from headway.reports import delivery
from headway.results import alerts, locks, manual
from headway.results import services as results
from headway.results.models import PeriodLock
from headway.reviews import services as reviews
from headway.reviews.choices import DecisionKind
from headway.reviews.models import Action, AgendaItem, Decision, Meeting
from tests.app.conftest import DEALS, Organisation
from tests.ingestion.test_syncs import ListedRows
from tests.reviews import conftest as review_fixtures
from tests.reviews.conftest import TODAY, at, decided, prepared, started

# The reviews' organisation, built once per module; each test runs in a savepoint of it.
built = review_fixtures.built
org = review_fixtures.org

# Presentation: it reads, and writes only through the services enumerated here.
PRESENTATION = ("headway.web", "headway.api", "headway.cli")


def mutating_services() -> set[str]:
    """Every public function of Headway's modules with a keyword-only `by` parameter.

    The engine and lib are left out: they know nothing of Django or people, and there `by`
    is a breakdown dimension, not who acted."""
    found = set()
    for info in pkgutil.walk_packages(headway.__path__, "headway."):
        name = info.name
        if name.startswith(PRESENTATION) or ".migrations" in name or name.endswith("__main__"):
            continue
        if name.startswith(("headway.engine.", "headway.lib.")):
            continue
        module = importlib.import_module(name)
        for attribute, function in vars(module).items():
            if (
                attribute.startswith("_")
                or not inspect.isfunction(function)
                or function.__module__ != name
            ):
                continue
            by = inspect.signature(function).parameters.get("by")
            if by is not None and by.kind is inspect.Parameter.KEYWORD_ONLY:
                found.add(f"{name}.{attribute}")
    return found


# The scenarios ----------------------------------------------------------------------------


class World:
    """The organisation of tests/app (recomputed), its people, and what scenarios need."""

    def __init__(self, organisation: Organisation, folder: Path) -> None:
        self.org = organisation
        self.folder = folder
        self.admin = organisation.admin
        self.manager = organisation.manager  # nora: manages north, owns conversion
        self.member = organisation.member  # mark: a member of north
        self.other_manager = organisation.other_manager  # sam: manages south

    def kpi(self, key: str = "conversion") -> Kpi:
        return Kpi.objects.get(key=key)

    def colleague(self) -> User:
        person = User.objects.create_user(
            email="mia@example.com", display_name="Mia Member", role="member"
        )
        Membership.objects.create(user=person, team=self.org.north)
        return person

    def meeting(self) -> Meeting:
        cycle = reviews.cycle_create(by=self.admin, period="2026-Q1")
        return reviews.meeting_create(
            by=self.admin,
            cycle=cycle,
            title="2026-Q1 review",
            scheduled_at=at(2026, 4, 15),
            chair=self.admin,
            participants=[self.manager, self.member],
        )

    def prepared(self) -> Meeting:
        return prepared(self.org, self.meeting())

    def started(self) -> Meeting:
        return started(self.org, self.meeting())

    def decided(self, kind: str = DecisionKind.KEEP, **details: Any) -> tuple[Meeting, Decision]:
        return decided(self.org, self.meeting(), kind, kpi_key="conversion", details=details)

    def item(self, meeting: Meeting) -> AgendaItem:
        return reviews.agenda_item_add(meeting=meeting, by=self.admin, title="Any other business")

    def proposal(self) -> Any:
        return proposals.proposal_create(
            by=self.member,
            kind=ProposalKind.RETIRE_KPI,
            title="Retire revenue",
            why="Nobody reads it",
            kpi=self.kpi("revenue"),
        )

    def comment(self) -> Any:
        return comments.comment_add(
            by=self.member, subject_kind="kpi", subject_key="conversion", text="Why so low?"
        )

    def workshop(self, running: bool = False) -> Workshop:
        workshop = workshops.workshop_create(
            by=self.admin,
            topic="Lead quality",
            starts_at=at(2026, 5, 4),
            facilitator=self.admin,
            invited=[self.member],
        )
        if running:
            workshop = workshops.workshop_start(workshop=workshop, by=self.admin)
        return workshop

    def idea(self) -> WorkshopIdea:
        return workshops.idea_add(
            workshop=self.workshop(running=True),
            by=self.member,
            kind=IdeaKind.values[0],
            text="Score the leads",
        )

    def manual_kpi(self, approval: bool = False, owner: User | None = None) -> Kpi:
        return kpis.kpi_create(
            by=self.admin,
            key="csat",
            name="CSAT",
            formula="",
            unit="number",
            grain="month",
            team=self.org.north,
            owner=owner or self.manager,
            entry="manual",
            manual_approval=approval,
        )

    def source(self) -> Source:
        return syncs.source_create(
            dataset=Dataset.objects.get(key="deals"),
            kind="test-rows",
            name="Test CRM",
            config={"rows": [{**_DEAL, "updated": 1}]},
            secrets={"token": "good"},
            every_minutes=None,
            by=self.admin,
        )

    def deals_file(self, text: str = DEALS) -> Path:
        path = self.folder / "deals-again.csv"
        path.write_text(text, encoding="utf-8")
        return path

    def two_factor_begun(self) -> str:
        self.admin.is_staff = True
        self.admin.save()
        return two_factor.two_factor_begin(by=self.admin)

    def two_factor_on(self) -> None:
        secret = self.two_factor_begun()
        assert two_factor.two_factor_confirm(by=self.admin, code=pyotp.TOTP(secret).now())


_DEAL = {"deal_id": "z", "closed_at": "2026-02-20", "team": "north", "stage": "won", "amount": 9}

Call = Callable[[], object]


@dataclass(frozen=True)
class Scenario:
    """How to call a service validly (`prepare` sets up, then returns the call), and the
    audit rows the call writes, in order."""

    prepare: Callable[[World], Call]
    writes: tuple[str, ...]


SCENARIOS: dict[str, Scenario] = {}

# The services that write more (or less) than one audit row, and why.
NOT_ONE_ROW = {
    "headway.jobs.services.job_enqueue": (
        "the job queue is the worker's bookkeeping: the service that asks for a job (a "
        "sync requested, a refresh after an import) writes the audit row, and the job "
        "writes its own when it runs"
    ),
    "headway.ingestion.services.import_file": (
        "an import records its start in a transaction of its own (so that one cut short "
        "is seen, and marked abandoned), then its end; the first import of a file dataset "
        "also records the table's schema and the dataset's move to its warehouse table"
    ),
    "headway.ingestion.push.push_rows": "an import: see import_file",
    "headway.ingestion.syncs.source_sync": "an import of the rows fetched: see import_file",
    "headway.participation.proposals.proposal_apply": (
        "the proposal's row, plus what applying it writes through the KPI services (here "
        "the KPI's retirement)"
    ),
    "headway.participation.workshops.idea_to_proposal": (
        "the new proposal's row (written by the proposals' own service) and the idea's"
    ),
    "headway.reviews.services.decision_apply": (
        "what the decision writes through the KPI services (a new target version), the "
        "decision's own row, then the recompute of the KPI's results"
    ),
    "headway.reviews.services.decisions_apply_all": "decision_apply for each decision",
    "headway.kpis.workspace_io.apply_plan": "one row per change of the plan (here two)",
}


def scenario(name: str, *writes: str) -> Callable[[Callable[[World], Call]], Any]:
    def register(prepare: Callable[[World], Call]) -> Callable[[World], Call]:
        assert f"headway.{name}" not in SCENARIOS, name
        SCENARIOS[f"headway.{name}"] = Scenario(prepare, writes)
        return prepare

    return register


# accounts ---------------------------------------------------------------------------------


@scenario("accounts.services.organization_update", "organization.update")
def _organization_update(w: World) -> Call:
    version = Organization.current().version
    return lambda: accounts.organization_update(
        by=w.admin, expected_version=version, name="Renamed"
    )


@scenario("accounts.services.token_create", "token.create")
def _token_create(w: World) -> Call:
    return lambda: accounts.token_create(by=w.member, name="laptop")


@scenario("accounts.services.token_revoke", "token.revoke")
def _token_revoke(w: World) -> Call:
    token, _ = accounts.token_create(by=w.member, name="laptop")
    return lambda: accounts.token_revoke(by=w.member, token=token)


@scenario("accounts.services.person_set_language", "person.language")
def _person_set_language(w: World) -> Call:
    return lambda: accounts.person_set_language(by=w.member, language="zh-hant")


@scenario("accounts.services.team_create", "team.create")
def _team_create(w: World) -> Call:
    return lambda: accounts.team_create(by=w.admin, key="east", name="East")


@scenario("accounts.services.team_update", "team.update")
def _team_update(w: World) -> Call:
    return lambda: accounts.team_update(
        team=w.org.north, by=w.admin, expected_version=w.org.north.version, name="Northern"
    )


@scenario("accounts.services.password_changed", "person.password_change")
def _password_changed(w: World) -> Call:
    def call() -> None:
        with transaction.atomic():  # it writes in the caller's transaction
            w.member.set_password("another long password 7")
            w.member.save()
            accounts.password_changed(person=w.member, by=w.member, how="change")

    return call


@scenario("accounts.two_factor.two_factor_begin", "person.two_factor_begin")
def _two_factor_begin(w: World) -> Call:
    w.admin.is_staff = True
    w.admin.save()
    return lambda: two_factor.two_factor_begin(by=w.admin)


@scenario("accounts.two_factor.two_factor_confirm", "person.two_factor_on")
def _two_factor_confirm(w: World) -> Call:
    secret = w.two_factor_begun()
    return lambda: two_factor.two_factor_confirm(by=w.admin, code=pyotp.TOTP(secret).now())


@scenario("accounts.two_factor.recovery_codes_renew", "person.recovery_codes_renew")
def _recovery_codes_renew(w: World) -> Call:
    w.two_factor_on()
    return lambda: two_factor.recovery_codes_renew(by=w.admin)


@scenario("accounts.two_factor.two_factor_disable", "person.two_factor_off")
def _two_factor_disable(w: World) -> Call:
    w.two_factor_on()
    return lambda: two_factor.two_factor_disable(by=w.admin, person=w.admin)


# goals and KPIs ---------------------------------------------------------------------------


@scenario("goals.services.goal_create", "goal.create")
def _goal_create(w: World) -> Call:
    return lambda: goals.goal_create(by=w.admin, key="keep", title="Keep customers", horizon="long")


@scenario("goals.services.goal_update", "goal.update")
def _goal_update(w: World) -> Call:
    goal = Goal.objects.get(key="grow")
    return lambda: goals.goal_update(
        goal=goal, by=w.admin, expected_version=goal.version, title="Grow more"
    )


@scenario("kpis.services.kpi_create", "kpi.create")
def _kpi_create(w: World) -> Call:
    return lambda: kpis.kpi_create(
        by=w.admin, key="lead_count", name="Leads", formula="leads", unit="count", grain="month"
    )


@scenario("kpis.services.kpi_update", "kpi.update")
def _kpi_update(w: World) -> Call:
    kpi = w.kpi()
    return lambda: kpis.kpi_update(kpi=kpi, by=w.admin, expected_version=kpi.version, name="Conv.")


@scenario("kpis.services.target_revise", "target.create")
def _target_revise(w: World) -> Call:
    return lambda: kpis.target_revise(
        kpi=w.kpi(), by=w.manager, effective_from="2026-06", value="0.55", reason="New season"
    )


@scenario("kpis.services.kpi_retire", "kpi.retire")
def _kpi_retire(w: World) -> Call:
    return lambda: kpis.kpi_retire(kpi=w.kpi("revenue"), by=w.admin, reason="Nobody reads it")


@scenario("kpis.workspace_io.apply_plan", "team.update", "goal.update")
def _apply_plan(w: World) -> Call:
    # The organisation's own workspace file with two changes, beside it (same data files).
    text = (w.folder / "headway.yaml").read_text(encoding="utf-8")
    text = text.replace("{key: north, name: North,", "{key: north, name: N,")
    path = w.folder / "two-changes.yaml"
    path.write_text(text.replace("{key: grow, title: Grow,", "{key: grow, title: Grow more,"))
    plan = workspace_io.plan_apply(load_workspace(path))
    return lambda: workspace_io.apply_plan(plan, by=w.admin)


# An import's start; its end, the table's schema and the dataset's move to the warehouse.
IMPORT_ROWS = ("import.start", "import.finish", "dataset.schema", "dataset.update")


# ingestion and jobs -----------------------------------------------------------------------


@scenario(
    "ingestion.services.import_file",
    *IMPORT_ROWS,
)
def _import_file(w: World) -> Call:
    path = w.deals_file()
    return lambda: ingestion.import_file(
        dataset=Dataset.objects.get(key="deals"), path=path, by=w.admin
    )


@scenario("ingestion.services.dataset_use_warehouse", "dataset.update")
def _dataset_use_warehouse(w: World) -> Call:
    return lambda: ingestion.dataset_use_warehouse(
        dataset=Dataset.objects.get(key="deals"), by=w.admin
    )


@scenario("ingestion.push.push_rows", *IMPORT_ROWS)
def _push_rows(w: World) -> Call:
    return lambda: push.push_rows(
        dataset=Dataset.objects.get(key="deals"), rows=[dict(_DEAL)], by=w.admin
    )


@scenario("ingestion.syncs.source_create", "source.create")
def _source_create(w: World) -> Call:
    return w.source


@scenario("ingestion.syncs.source_update", "source.update")
def _source_update(w: World) -> Call:
    source = w.source()
    return lambda: syncs.source_update(
        source=source,
        version=source.version,
        by=w.admin,
        name="Renamed CRM",
        config=source.config,
        every_minutes=60,
        is_active=True,
    )


@scenario("ingestion.syncs.source_sync_request", "source.sync_requested")
def _source_sync_request(w: World) -> Call:
    source = w.source()
    return lambda: syncs.source_sync_request(source=source, by=w.admin)


@scenario(
    "ingestion.syncs.source_sync",
    *IMPORT_ROWS,
)
def _source_sync(w: World) -> Call:
    from tests.ingestion.test_syncs import context

    source = w.source()
    return lambda: syncs.source_sync(source=source, by=w.admin, context=context())


@scenario("jobs.services.job_enqueue")
def _job_enqueue(w: World) -> Call:
    return lambda: jobs.job_enqueue(kind="results.refresh", payload={}, by=w.admin)


# results ----------------------------------------------------------------------------------


@scenario("results.services.results_recompute", "results.recompute")
def _results_recompute(w: World) -> Call:
    return lambda: results.results_recompute(by=w.admin)


@scenario("results.services.results_refresh_kpi", "results.recompute")
def _results_refresh_kpi(w: World) -> Call:
    return lambda: results.results_refresh_kpi(key="conversion", by=w.admin)


@scenario("results.services.results_refresh_dataset", "results.recompute")
def _results_refresh_dataset(w: World) -> Call:
    return lambda: results.results_refresh_dataset(dataset_key="deals", by=w.admin)


@scenario("results.manual.manual_results_refresh", "results.recompute")
def _manual_results_refresh(w: World) -> Call:
    kpi = w.manual_kpi()
    return lambda: manual.manual_results_refresh(kpi=kpi, by=w.admin)


@scenario("results.manual.manual_values_submit", "manual_values.submit")
def _manual_values_submit(w: World) -> Call:
    kpi = w.manual_kpi()
    return lambda: manual.manual_values_submit(
        kpi=kpi, values={"2026-09": Decimal("4.2")}, by=w.manager
    )


@scenario("results.manual.manual_value_decide", "manual_values.approve")
def _manual_value_decide(w: World) -> Call:
    # Entered by the team's manager, it waits for its owner's approval.
    kpi = w.manual_kpi(approval=True, owner=w.member)
    (entry,) = manual.manual_values_submit(
        kpi=kpi, values={"2026-09": Decimal("4.2")}, by=w.manager
    )
    assert entry.status == "pending"
    return lambda: manual.manual_value_decide(
        kpi=kpi, entry_ids=[entry.pk], approve=True, by=w.member
    )


@scenario("results.locks.period_lock", "period.lock")
def _period_lock(w: World) -> Call:
    return lambda: locks.period_lock(period="2026-01", by=w.admin, reason="Books closed")


@scenario("results.locks.period_reopen", "period.reopen")
def _period_reopen(w: World) -> Call:
    lock = locks.period_lock(period="2026-01", by=w.admin, reason="Books closed")
    assert isinstance(lock, PeriodLock)
    return lambda: locks.period_reopen(lock=lock, by=w.admin, reason="A late invoice")


@scenario("results.alerts.alert_channel_create", "alert_channel.create")
def _alert_channel_create(w: World) -> Call:
    return lambda: alerts.alert_channel_create(
        kind="slack",
        label="Sales alerts",
        url="http://127.0.0.1:9/hooks/sales",
        team_id=None,
        by=w.admin,
    )


# reviews ----------------------------------------------------------------------------------


@scenario("reviews.services.cycle_create", "review.cycle.create")
def _cycle_create(w: World) -> Call:
    return lambda: reviews.cycle_create(by=w.admin, period="2026-Q2")


@scenario("reviews.services.meeting_create", "review.meeting.create")
def _meeting_create(w: World) -> Call:
    cycle = reviews.cycle_create(by=w.admin, period="2026-Q1")
    return lambda: reviews.meeting_create(
        by=w.admin, cycle=cycle, title="Q1", scheduled_at=at(2026, 4, 15), chair=w.admin
    )


@scenario("reviews.services.meeting_update", "review.meeting.update")
def _meeting_update(w: World) -> Call:
    meeting = w.meeting()
    return lambda: reviews.meeting_update(
        meeting=meeting, by=w.admin, expected_version=meeting.version, location="Room 5"
    )


@scenario("reviews.services.meeting_prepare", "review.meeting.prepare")
def _meeting_prepare(w: World) -> Call:
    meeting = w.meeting()
    return lambda: reviews.meeting_prepare(meeting=meeting, by=w.admin, today=TODAY)


@scenario("reviews.services.agenda_item_add", "review.agenda.add")
def _agenda_item_add(w: World) -> Call:
    meeting = w.meeting()
    return lambda: reviews.agenda_item_add(meeting=meeting, by=w.admin, title="Hiring")


@scenario("reviews.services.agenda_reorder", "review.agenda.reorder")
def _agenda_reorder(w: World) -> Call:
    meeting = w.meeting()
    first, second = w.item(meeting), w.item(meeting)
    return lambda: reviews.agenda_reorder(meeting=meeting, by=w.admin, order=[second.pk, first.pk])


@scenario("reviews.services.agenda_item_move", "review.agenda.reorder")
def _agenda_item_move(w: World) -> Call:
    meeting = w.meeting()
    w.item(meeting)
    second = w.item(meeting)
    return lambda: reviews.agenda_item_move(item=second, by=w.admin, offset=-1)


@scenario("reviews.services.agenda_item_remove", "review.agenda.remove")
def _agenda_item_remove(w: World) -> Call:
    item = w.item(w.meeting())
    return lambda: reviews.agenda_item_remove(item=item, by=w.admin)


@scenario("reviews.services.comment_add", "review.comment.add")
def _review_comment_add(w: World) -> Call:
    meeting = w.prepared()
    assert AgendaItem.objects.filter(meeting=meeting, kpi=w.kpi("revenue")).exists()
    return lambda: reviews.comment_add(
        meeting=meeting, kpi=w.kpi("revenue"), by=w.other_manager, text="A slow quarter"
    )


@scenario("reviews.services.meeting_start", "review.meeting.start")
def _meeting_start(w: World) -> Call:
    meeting = w.prepared()
    return lambda: reviews.meeting_start(meeting=meeting, by=w.admin)


@scenario("reviews.services.meeting_conclude", "review.meeting.conclude")
def _meeting_conclude(w: World) -> Call:
    meeting = w.started()
    return lambda: reviews.meeting_conclude(meeting=meeting, by=w.admin)


@scenario("reviews.services.meeting_close", "review.meeting.close")
def _meeting_close(w: World) -> Call:
    meeting, decision = w.decided()
    reviews.decision_apply(decision=decision, by=w.admin)
    return lambda: reviews.meeting_close(meeting=meeting, by=w.admin)


@scenario("reviews.services.attendance_record", "review.meeting.attendance")
def _review_attendance_record(w: World) -> Call:
    meeting = w.started()
    return lambda: reviews.attendance_record(
        meeting=meeting, by=w.admin, present=[w.admin.pk, w.member.pk]
    )


@scenario("reviews.services.item_notes_save", "review.agenda.notes")
def _item_notes_save(w: World) -> Call:
    item = w.item(w.prepared())
    return lambda: reviews.item_notes_save(
        item=item, by=w.admin, notes="Agreed", expected_version=item.version
    )


@scenario("reviews.services.decision_record", "review.decision.record")
def _decision_record(w: World) -> Call:
    meeting = w.started()
    return lambda: reviews.decision_record(
        meeting=meeting, by=w.member, kind=DecisionKind.KEEP, reason="On track", kpi=w.kpi()
    )


@scenario("reviews.services.decision_decide", "review.decision.approve")
def _decision_decide(w: World) -> Call:
    meeting = w.started()
    decision = reviews.decision_record(
        meeting=meeting, by=w.member, kind=DecisionKind.KEEP, reason="On track", kpi=w.kpi()
    )
    return lambda: reviews.decision_decide(decision=decision, by=w.admin, approve=True)


@scenario("reviews.services.decision_withdraw", "review.decision.withdraw")
def _decision_withdraw(w: World) -> Call:
    _, decision = w.decided()
    return lambda: reviews.decision_withdraw(decision=decision, by=w.admin, note="Overtaken")


CHANGE_TARGET = {"value": "0.4", "effective_from": "2026-06"}


@scenario(
    "reviews.services.decision_apply",
    "target.create",
    "review.decision.apply",
    "results.recompute",
)
def _decision_apply(w: World) -> Call:
    _, decision = w.decided(DecisionKind.CHANGE_TARGET, **CHANGE_TARGET)
    return lambda: reviews.decision_apply(decision=decision, by=w.admin)


@scenario(
    "reviews.services.decisions_apply_all",
    "target.create",
    "review.decision.apply",
    "results.recompute",
)
def _decisions_apply_all(w: World) -> Call:
    meeting, _ = w.decided(DecisionKind.CHANGE_TARGET, **CHANGE_TARGET)
    return lambda: reviews.decisions_apply_all(meeting=meeting, by=w.admin)


@scenario("reviews.services.action_close", "review.action.close")
def _action_close(w: World) -> Call:
    action = Action.objects.create(
        meeting=w.meeting(), title="Call the lost leads", owner=w.member, due=TODAY
    )
    return lambda: reviews.action_close(action=action, by=w.member, expected_version=1)


@scenario("reviews.services.minutes_sent", "review.minutes.send")
def _minutes_sent(w: World) -> Call:
    meeting, _ = w.decided()
    return lambda: reviews.minutes_sent(
        meeting=meeting, by=w.admin, recipients=["mark@example.com"]
    )


# participation and notifications ----------------------------------------------------------


@scenario("participation.proposals.proposal_create", "participation.proposal.create")
def _proposal_create(w: World) -> Call:
    return w.proposal


@scenario("participation.proposals.proposal_update", "participation.proposal.update")
def _proposal_update(w: World) -> Call:
    proposal = w.proposal()
    return lambda: proposals.proposal_update(
        proposal=proposal, by=w.member, expected_version=proposal.version, title="Retire it"
    )


@scenario("participation.proposals.proposal_set_status", "participation.proposal.status")
def _proposal_set_status(w: World) -> Call:
    proposal = w.proposal()
    return lambda: proposals.proposal_set_status(
        proposal=proposal, by=w.admin, status=ProposalStatus.UNDER_REVIEW, expected_version=1
    )


@scenario("participation.proposals.proposal_accept", "participation.proposal.status")
def _proposal_accept(w: World) -> Call:
    proposal = w.proposal()
    return lambda: proposals.proposal_accept(proposal=proposal, by=w.admin, expected_version=1)


@scenario("participation.proposals.proposal_apply", "kpi.retire", "participation.proposal.apply")
def _proposal_apply(w: World) -> Call:
    proposal = proposals.proposal_accept(proposal=w.proposal(), by=w.admin)
    return lambda: proposals.proposal_apply(proposal=proposal, by=w.admin)


@scenario("participation.proposals.vote_add", "participation.vote.add")
def _vote_add(w: World) -> Call:
    proposal = w.proposal()
    return lambda: proposals.vote_add(proposal=proposal, by=w.manager)


@scenario("participation.proposals.vote_withdraw", "participation.vote.withdraw")
def _vote_withdraw(w: World) -> Call:
    proposal = w.proposal()
    proposals.vote_add(proposal=proposal, by=w.manager)
    return lambda: proposals.vote_withdraw(proposal=proposal, by=w.manager)


@scenario("participation.comments.comment_add", "participation.comment.add")
def _comment_add(w: World) -> Call:
    return w.comment


@scenario("participation.comments.comment_edit", "participation.comment.edit")
def _comment_edit(w: World) -> Call:
    comment = w.comment()
    return lambda: comments.comment_edit(
        comment=comment, by=w.member, text="Why so low in May?", expected_version=1
    )


@scenario("participation.comments.comment_hide", "participation.comment.hide")
def _comment_hide(w: World) -> Call:
    comment = w.comment()
    return lambda: comments.comment_hide(
        comment=comment, by=w.admin, reason="Off topic", expected_version=1
    )


@scenario("participation.comments.comment_unhide", "participation.comment.unhide")
def _comment_unhide(w: World) -> Call:
    comment = comments.comment_hide(comment=w.comment(), by=w.admin, reason="Off topic")
    return lambda: comments.comment_unhide(
        comment=comment, by=w.admin, expected_version=comment.version
    )


@scenario("participation.glossary.glossary_update", "participation.glossary.update")
def _glossary_update(w: World) -> Call:
    return lambda: glossary.glossary_update(
        kpi=w.kpi(),
        by=w.manager,
        meaning_en="Won deals per lead",
        meaning_zh="",
        why_en="",
        why_zh="",
        expected_version=0,
    )


@scenario("participation.workshops.workshop_create", "participation.workshop.create")
def _workshop_create(w: World) -> Call:
    return w.workshop


@scenario("participation.workshops.workshop_update", "participation.workshop.update")
def _workshop_update(w: World) -> Call:
    workshop = w.workshop()
    return lambda: workshops.workshop_update(
        workshop=workshop, by=w.admin, expected_version=1, location="Room 2"
    )


@scenario("participation.workshops.workshop_invite", "participation.workshop.invite")
def _workshop_invite(w: World) -> Call:
    workshop = w.workshop()
    return lambda: workshops.workshop_invite(
        workshop=workshop, by=w.admin, people=[w.manager], expected_version=1
    )


@scenario("participation.workshops.workshop_start", "participation.workshop.start")
def _workshop_start(w: World) -> Call:
    workshop = w.workshop()
    return lambda: workshops.workshop_start(workshop=workshop, by=w.admin)


@scenario("participation.workshops.workshop_close", "participation.workshop.close")
def _workshop_close(w: World) -> Call:
    workshop = w.workshop(running=True)
    return lambda: workshops.workshop_close(workshop=workshop, by=w.admin)


@scenario("participation.workshops.attendance_record", "participation.workshop.attendance")
def _workshop_attendance_record(w: World) -> Call:
    workshop = w.workshop(running=True)
    return lambda: workshops.attendance_record(workshop=workshop, by=w.admin, present=[w.member.pk])


@scenario("participation.workshops.idea_add", "participation.idea.add")
def _idea_add(w: World) -> Call:
    workshop = w.workshop(running=True)
    return lambda: workshops.idea_add(
        workshop=workshop, by=w.member, kind=IdeaKind.values[0], text="Score the leads"
    )


@scenario("participation.workshops.idea_group", "participation.idea.group")
def _idea_group(w: World) -> Call:
    idea = w.idea()
    return lambda: workshops.idea_group(idea=idea, by=w.admin, group="Leads")


@scenario("participation.workshops.dot_add", "participation.idea.dot")
def _dot_add(w: World) -> Call:
    idea = w.idea()
    return lambda: workshops.dot_add(idea=idea, by=w.member)


@scenario("participation.workshops.dot_remove", "participation.idea.undot")
def _dot_remove(w: World) -> Call:
    idea = w.idea()
    workshops.dot_add(idea=idea, by=w.member)
    return lambda: workshops.dot_remove(idea=idea, by=w.member)


@scenario(
    "participation.workshops.idea_to_proposal",
    "participation.proposal.create",
    "participation.idea.propose",
)
def _idea_to_proposal(w: World) -> Call:
    idea = w.idea()
    return lambda: workshops.idea_to_proposal(
        idea=idea, by=w.member, kind=ProposalKind.RETIRE_KPI, kpi=w.kpi("revenue")
    )


@scenario("participation.workshops.feedback_give", "participation.workshop.feedback")
def _feedback_give(w: World) -> Call:
    workshop = w.workshop(running=True)
    return lambda: workshops.feedback_give(workshop=workshop, by=w.member, rating=4)


@scenario("notifications.services.settings_update", "notifications.settings")
def _settings_update(w: World) -> Call:
    return lambda: notifications.settings_update(
        person=w.member, by=w.member, digest="daily", expected_version=None
    )


@scenario("reports.delivery.subscription_set", "report.subscribe")
def _subscription_set(w: World) -> Call:
    return lambda: delivery.subscription_set(user=w.member, team=None, language="en", by=w.member)


@scenario("reports.delivery.subscription_remove", "report.unsubscribe")
def _subscription_remove(w: World) -> Call:
    delivery.subscription_set(user=w.member, team=None, language="en", by=w.member)
    return lambda: delivery.subscription_remove(user=w.member, team=None, by=w.member)


# The tests --------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _own_folders(settings: Any, tmp_path: Path) -> Iterator[None]:
    """Imports write the warehouse: each test's own, never one another test reads."""
    settings.DATA_DIR = tmp_path / "data"
    settings.HEADWAY_WAREHOUSE_DIR = tmp_path / "data" / "warehouse"
    settings.HEADWAY_HTTP_ALLOW = ["127.0.0.1"]  # an alert hook on this machine: no DNS here
    sources.KINDS["test-rows"] = ListedRows()
    yield
    sources.KINDS.pop("test-rows", None)


def test_every_mutating_service_has_a_scenario_here() -> None:
    found = mutating_services()
    assert len(found) >= 80
    assert sorted(found - set(SCENARIOS)) == [], "a new service needs a scenario here"
    assert sorted(set(SCENARIOS) - found) == [], "a scenario of a service that is gone"


def test_the_services_that_do_not_write_exactly_one_row_say_why() -> None:
    differ = {name for name, item in SCENARIOS.items() if len(item.writes) != 1}
    assert differ == set(NOT_ONE_ROW)


def _last_audit_pk() -> int:
    return AuditEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_a_service_writes_exactly_its_audit_rows(
    name: str, org: Organisation, tmp_path: Path
) -> None:
    item = SCENARIOS[name]
    call = item.prepare(World(org, org.folder))
    since = _last_audit_pk()
    call()
    written = list(AuditEntry.objects.filter(pk__gt=since).order_by("pk"))
    assert [entry.action for entry in written] == list(item.writes)
    for entry in written:
        assert entry.actor_label, entry.action
        assert entry.object_type or entry.object_label, entry.action


# The audit table is append-only ------------------------------------------------------------


@pytest.fixture
def entry(org: Organisation) -> AuditEntry:
    with transaction.atomic():
        from headway.audit.services import audit_record

        return audit_record(actor=org.admin, action="test.original", object_label="the original")


def _unchanged(entry: AuditEntry) -> None:
    again = AuditEntry.objects.get(pk=entry.pk)
    assert (again.action, again.object_label) == ("test.original", "the original")


def _refused(call: Callable[[], object]) -> None:
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        call()


def test_raw_sql_cannot_update_or_delete_an_audit_row(entry: AuditEntry) -> None:
    table = AuditEntry._meta.db_table
    with connection.cursor() as cursor:
        _refused(
            lambda: cursor.execute(
                f"UPDATE {table} SET action = %s WHERE id = %s",
                ["forged", entry.pk],
            )
        )
        _refused(lambda: cursor.execute(f"DELETE FROM {table} WHERE id = %s", [entry.pk]))
        _refused(lambda: cursor.execute(f"DELETE FROM {table}"))
    _unchanged(entry)


def test_the_orm_cannot_update_or_delete_an_audit_row(entry: AuditEntry) -> None:
    _refused(lambda: AuditEntry.objects.filter(pk=entry.pk).update(action="forged"))
    _refused(lambda: AuditEntry.objects.filter(pk=entry.pk).delete())
    _refused(lambda: AuditEntry.objects.all().delete())

    def save_changed() -> None:
        forged = AuditEntry.objects.get(pk=entry.pk)
        forged.action = "forged"
        forged.save()

    _refused(save_changed)
    _refused(lambda: AuditEntry.objects.get(pk=entry.pk).delete())
    _unchanged(entry)
    assert AuditEntry.objects.count() > 1


def test_the_triggers_are_in_the_database(org: Organisation) -> None:
    table = AuditEntry._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal",
                [table],
            )
        else:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s", [table]
            )
        names = {row[0] for row in cursor.fetchall()}
    assert {f"{table}_no_update", f"{table}_no_delete"} <= names


def test_truncate_cannot_empty_the_audit_table_on_postgresql(entry: AuditEntry) -> None:
    """TRUNCATE fires no row trigger, so a statement trigger refuses it. SQLite has no
    TRUNCATE: its `DELETE FROM` without WHERE is refused by the row trigger (above)."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no TRUNCATE")
    table = AuditEntry._meta.db_table
    with connection.cursor() as cursor:
        _refused(lambda: cursor.execute(f"TRUNCATE {table}"))
        _refused(lambda: cursor.execute(f"TRUNCATE {table} RESTART IDENTITY CASCADE"))
        cursor.execute(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal",
            [table],
        )
        assert f"{table}_no_truncate" in {row[0] for row in cursor.fetchall()}
    _unchanged(entry)


def test_the_bypass_of_flush_lasts_only_for_its_own_transaction(entry: AuditEntry) -> None:
    """`flush` empties every table (the test runner flushes between transactional tests):
    it may truncate the audit table, and the session may not afterwards."""
    from django.core.management import call_command

    with transaction.atomic():
        if connection.vendor == "postgresql":
            # The test's own transaction holds deferred foreign-key checks, which TRUNCATE
            # refuses to run past (a flush of its own has none).
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        call_command("flush", interactive=False, verbosity=0, inhibit_post_migrate=True)
        assert AuditEntry.objects.count() == 0
        transaction.set_rollback(True)
    _unchanged(entry)
    if connection.vendor == "postgresql":
        table = AuditEntry._meta.db_table
        with connection.cursor() as cursor:
            _refused(lambda: cursor.execute(f"TRUNCATE {table}"))
    _unchanged(entry)
