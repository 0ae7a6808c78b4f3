"""The world the permission matrix runs in: the small organisation of tests/app, with
objects of every scope for every caller, and the callers themselves.

Scopes are named from the point of view of team north, the team of the viewer, the member
and the manager:

    own    the caller's own object (they wrote it, own it, chair or facilitate it)
    team   an object of team north, made by nia (a member of north who is no caller)
    other  an object of team south, made by sue (a member of south who is no caller)

`other_manager` is sam, the manager of south: under `team` he is the manager of another
team, under `other` the manager of the object's team. The admin (ada) is in no team.
Both tokens belong to nora, the manager of north (so a read token shows what the scope
takes away from someone who may write).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from django.test import Client, override_settings
from django.utils import timezone

from headway.accounts.models import ApiToken, Membership, Team, User
from headway.accounts.services import token_create
from headway.goals.services import goal_create
from headway.ingestion.models import ImportRun, Source
from headway.ingestion.syncs import source_create
from headway.kpis.models import Dataset, Kpi
from headway.kpis.services import kpi_create
from headway.notifications.models import Notification
from headway.participation import comments, proposals
from headway.participation.models import (
    Comment,
    IdeaKind,
    Proposal,
    ProposalKind,
    Workshop,
    WorkshopIdea,
)
from headway.results.choices import ManualStatus
from headway.results.locks import period_lock
from headway.results.models import ManualValue
from headway.results.services import results_recompute
from headway.reviews.choices import DecisionKind, MeetingStatus
from headway.reviews.models import Action, AgendaItem, Decision, Meeting, Participant
from headway.reviews.services import cycle_create
from tests.app.conftest import build_organisation

CALLERS = (
    "anonymous",
    "viewer",
    "member",
    "manager",
    "other_manager",
    "admin",
    "token_read",
    "token_write",
)
SCOPES = ("own", "team", "other")
ZONE = ZoneInfo("Asia/Taipei")


def at(year: int, month: int, day: int) -> datetime.datetime:
    return datetime.datetime(year, month, day, 10, tzinfo=ZONE)


@dataclass
class Objects:
    """The objects of one scope (for `own`: of one caller)."""

    kpi: Kpi
    goal: Any = None
    team: Team | None = None
    proposal: Proposal | None = None
    comment: Comment | None = None
    notification: Notification | None = None
    token: ApiToken | None = None
    meeting: Meeting | None = None
    item: AgendaItem | None = None
    decision: Decision | None = None
    action: Action | None = None
    workshop: Workshop | None = None
    idea: WorkshopIdea | None = None
    value: ManualValue | None = None


@dataclass
class World:
    folder: Path
    people: dict[str, User]
    north: Team
    south: Team
    raw_tokens: dict[str, str]
    scopes: dict[str, Objects] = field(default_factory=dict)
    own: dict[str, Objects] = field(default_factory=dict)
    cycle_pk: int = 0
    lock_pk: int = 0
    run_pk: int = 0

    def person(self, caller: str) -> User | None:
        """The person behind a caller (a token's owner for the tokens)."""
        if caller == "anonymous":
            return None
        if caller.startswith("token_"):
            return self.people["manager"]
        return self.people[caller]

    def objects(self, caller: str, scope: str) -> Objects:
        if scope == "own":
            return self.own[caller if not caller.startswith("token_") else "manager"]
        return self.scopes[scope]

    def client(self, caller: str) -> Client:
        """A browser of the caller: signed in for a person, none for anonymous; a token's
        browser sends the token (the web pages must not take it for a session)."""
        if caller.startswith("token_"):
            return Client(headers={"Authorization": f"Bearer {self.raw_tokens[caller]}"})
        client = Client()
        person = self.person(caller)
        if person is not None:
            client.force_login(person)
        return client


def _person(email: str, name: str, role: str, team: Team | None) -> User:
    person = User.objects.create_user(email=email, display_name=name, role=role)
    if team is not None:
        Membership.objects.create(user=person, team=team)
    return person


def _manual_kpi(key: str, name: str, team: Team, owner: User, admin: User) -> Kpi:
    return kpi_create(
        by=admin,
        key=key,
        name=name,
        formula="",
        unit="number",
        grain="month",
        team=team,
        owner=owner,
        entry="manual",
        manual_approval=True,
    )


def _meeting(
    cycle: Any, title: str, team: Team | None, chair: User, participants: list[User], kpi: Kpi
) -> tuple[Meeting, AgendaItem, Decision, Action]:
    """A meeting that has decided (so its minutes exist), with an item, a decision waiting
    to be applied and an open action. Made directly: the meeting's own services are tested
    in tests/reviews; here only who may reach them matters."""
    meeting = Meeting.objects.create(
        cycle=cycle,
        title=title,
        team=team,
        scheduled_at=at(2026, 4, 15),
        chair=chair,
        status=MeetingStatus.DECIDED,
        created_by=chair,
    )
    for person in {chair, *participants}:
        Participant.objects.create(meeting=meeting, person=person)
    item = AgendaItem.objects.create(meeting=meeting, kpi=kpi, reason="added", added_by=chair)
    decision = Decision.objects.create(
        meeting=meeting,
        item=item,
        kind=DecisionKind.KEEP,
        reason=f"{title}: keep it",
        status="approved",
        recorded_by=chair,
    )
    action = Action.objects.create(
        meeting=meeting,
        title=f"{title}: call the client",
        owner=chair,
        due=datetime.date(2026, 5, 1),
    )
    return meeting, item, decision, action


def _scope_objects(
    name: str, author: User, team: Team, admin: User, kpi_key: str, invited: list[User]
) -> Objects:
    """Every kind of object, made by `author` in `team`."""
    kpi = _manual_kpi(kpi_key, f"{name} KPI", team, author, admin)
    return _authored(name, author, team, kpi, invited)


def _authored(name: str, author: User, team: Team, kpi: Kpi, invited: list[User]) -> Objects:
    proposal = proposals.proposal_create(
        by=author,
        kind=ProposalKind.RETIRE_KPI,
        title=f"{name}: retire {kpi.key}",
        why=f"{name} thinks nobody reads it",
        kpi=kpi,
    )
    comment = comments.comment_add(
        by=author, subject_kind="kpi", subject_key=kpi.key, text=f"{name} asks: why so low?"
    )
    notification = Notification.objects.create(
        person=author, kind="comment", text=f"{name}'s private notification", url="/"
    )
    token, _ = token_create(by=author, name=f"{name}'s token", scope=ApiToken.Scope.READ)
    workshop = Workshop.objects.create(
        topic=f"{name}'s workshop",
        team=team,
        starts_at=at(2026, 5, 4),
        facilitator=author,
        status="running",
        created_by=author,
    )
    for person in {author, *invited}:
        workshop.invitations.create(person=person)
    idea = WorkshopIdea.objects.create(
        workshop=workshop, author=author, kind=IdeaKind.values[0], text=f"{name}'s idea"
    )
    # Made directly: a viewer owning a KPI may not enter values, yet the matrix needs a
    # value waiting for a decision on every KPI.
    value = ManualValue.objects.create(
        kpi=kpi,
        period="2026-02",
        period_start=datetime.date(2026, 2, 1),
        value=Decimal("7"),
        comment=f"{name}'s value",
        status=ManualStatus.PENDING,
        entered_by=author,
        entered_at=timezone.now(),
    )
    return Objects(
        kpi=kpi,
        team=team,
        proposal=proposal,
        comment=comment,
        notification=notification,
        token=token,
        workshop=workshop,
        idea=idea,
        value=value,
    )


def build_world(folder: Path) -> World:
    org = build_organisation(folder)
    results_recompute(by=None)
    people = {
        "viewer": org.viewer,
        "member": org.member,
        "manager": org.manager,
        "other_manager": org.other_manager,
        "admin": org.admin,
    }
    nia = _person("nia@example.com", "Nia North", "member", org.north)
    sue = _person("sue@example.com", "Sue South", "member", org.south)
    raw = {
        "token_read": token_create(by=org.manager, name="read", scope=ApiToken.Scope.READ)[1],
        "token_write": token_create(by=org.manager, name="write", scope=ApiToken.Scope.WRITE)[1],
    }
    world = World(folder=folder, people=people, north=org.north, south=org.south, raw_tokens=raw)
    admin = org.admin
    north_people = [nia, org.member, org.viewer, org.manager]
    south_people = [sue, org.other_manager]
    cycle = cycle_create(by=admin, period="2026-Q1")
    world.cycle_pk = cycle.pk
    for scope, author, team, invited in (
        ("team", nia, org.north, north_people),
        ("other", sue, org.south, south_people),
    ):
        objects = _scope_objects(scope, author, team, admin, f"{scope}_kpi", invited)
        objects.goal = goal_create(
            by=admin, key=f"{scope}-goal", title=f"The {scope} goal", horizon="short", team=team
        )
        objects.meeting, objects.item, objects.decision, objects.action = _meeting(
            cycle, f"The {scope} review", team, author, invited, objects.kpi
        )
        world.scopes[scope] = objects
    for caller, person in people.items():
        team = org.south if caller == "other_manager" else org.north
        kpi = _manual_kpi(f"own_{caller}", f"{caller}'s own KPI", team, person, admin)
        invited = south_people if team == org.south else north_people
        objects = _authored(f"own-{caller}", person, team, kpi, invited)
        objects.meeting, objects.item, objects.decision, objects.action = _meeting(
            cycle, f"{caller}'s review", team, person, invited, kpi
        )
        world.own[caller] = objects
    world.lock_pk = period_lock(period="2026-01", by=admin, reason="Books closed").pk
    deals = Dataset.objects.get(key="deals")
    world.run_pk = ImportRun.objects.create(
        dataset=deals,
        started_at=timezone.now(),
        finished_at=timezone.now(),
        status="failed",
        file_name="deals-bad.csv",
        sha256="0" * 64,
        rejected=1,
        by=admin,
    ).pk
    source_create(
        dataset=Dataset.objects.get(key="leads"),
        kind="rest",
        name="The CRM",
        config={"base_url": "https://crm.example.com", "path": "/leads"},
        secrets={},
        every_minutes=None,
        by=None,
    )
    assert Source.objects.count() == 1
    return world


FAST_HASHER = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="module")
def built(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """The world, built once per module in a transaction rolled back at its end; each test
    runs in a savepoint of it (the `db` fixture), each cell in a savepoint of the test."""
    with django_db_blocker.unblock(), override_settings(PASSWORD_HASHERS=FAST_HASHER):
        outer = transaction.atomic()
        outer.__enter__()
        try:
            yield build_world(tmp_path_factory.mktemp("matrix"))
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture
def world(built: World, db: None) -> World:
    return built


def url_kwargs(world: World, name: str, caller: str, scope: str | None) -> dict[str, Any]:
    """The path's values for a web URL name, for a caller and an object scope."""
    objects = world.objects(caller, scope) if scope is not None else None
    routes: dict[str, Callable[[Objects], dict[str, Any]]] = {
        "glossary_edit": lambda o: {"key": o.kpi.key},
        "notification_open": lambda o: {"pk": _pk(o.notification)},
        "token_revoke": lambda o: {"pk": _pk(o.token)},
        "goal": lambda o: {"key": o.goal.key},
        "goal_edit": lambda o: {"key": o.goal.key},
        "team": lambda o: {"key": _team(o).key},
        "review_item_move": lambda o: {"pk": _pk(o.item)},
        "review_item_remove": lambda o: {"pk": _pk(o.item)},
        "review_item_notes": lambda o: {"pk": _pk(o.item)},
        "review_item_comment": lambda o: {"pk": _pk(o.item)},
        "review_item_decision": lambda o: {"pk": _pk(o.item)},
        "review_decision_decide": lambda o: {"pk": _pk(o.decision)},
        "review_decision_apply": lambda o: {"pk": _pk(o.decision)},
        "review_decision_withdraw": lambda o: {"pk": _pk(o.decision)},
        "review_action_close": lambda o: {"pk": _pk(o.action)},
        "kpi_value_decision": lambda o: {"key": o.kpi.key, "pk": _pk(o.value)},
        "proposal": lambda o: {"pk": _pk(o.proposal)},
        "proposal_edit": lambda o: {"pk": _pk(o.proposal)},
        "proposal_vote": lambda o: {"pk": _pk(o.proposal)},
        "proposal_status": lambda o: {"pk": _pk(o.proposal)},
        "proposal_apply": lambda o: {"pk": _pk(o.proposal)},
        "comment_edit": lambda o: {"pk": _pk(o.comment)},
        "comment_hide": lambda o: {"pk": _pk(o.comment)},
        "comment_unhide": lambda o: {"pk": _pk(o.comment)},
    }
    if name in routes:
        assert objects is not None, f"{name} needs an object scope"
        return routes[name](objects)
    if objects is not None:
        if name.startswith("review_"):
            return {"pk": _pk(objects.meeting)}
        if name.startswith("workshop_") and name.startswith(("workshop_dot", "workshop_idea_g")):
            return {"pk": _pk(objects.workshop), "idea_pk": _pk(objects.idea)}
        if name == "workshop_idea_propose":
            return {"pk": _pk(objects.workshop), "idea_pk": _pk(objects.idea)}
        if name.startswith("workshop"):
            return {"pk": _pk(objects.workshop)}
        if name.startswith("kpi") or name == "target_new":
            return {"key": objects.kpi.key}
    fixed: dict[str, dict[str, Any]] = {
        "dataset": {"key": "deals"},
        "import_upload": {"key": "deals"},
        "source_edit": {"key": "leads"},
        "source_sync": {"key": "leads"},
        "dataset_status": {"key": "leads"},
        "import_preview": {"key": "deals", "token": "no-such-upload"},
        "import_rejected": {"key": "deals", "pk": world.run_pk},
        "period_reopen": {"pk": world.lock_pk},
        "report": {"period": "2026-02"},
        "report_pdf": {"period": "2026-02"},
        "report_xlsx": {"period": "2026-02"},
        "review_meeting_new": {"cycle_pk": world.cycle_pk},
    }
    return fixed.get(name, {})


def _pk(thing: Any) -> int:
    assert thing is not None
    return int(thing.pk)


def _team(objects: Objects) -> Team:
    assert objects.team is not None
    return objects.team
