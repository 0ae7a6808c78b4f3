"""A review of the small test organisation (tests/app/conftest.py): a cycle for 2026-Q1,
a meeting chaired by the admin with the north team's manager and member and the south
team's manager; and helpers that take a meeting through its steps and watch what a call
writes."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.test import override_settings

from headway.accounts.models import Team, User
from headway.audit.models import AuditEntry
from headway.kpis.models import Kpi, TargetVersion
from headway.results.models import Result
from headway.results.services import results_recompute
from headway.reviews.models import (
    Action,
    AgendaItem,
    Decision,
    Meeting,
    OwnerComment,
    Participant,
    ReviewCycle,
)
from headway.reviews.services import (
    cycle_create,
    decision_decide,
    decision_record,
    meeting_conclude,
    meeting_create,
    meeting_prepare,
    meeting_start,
)
from tests.app.conftest import Organisation, build_organisation

TODAY = datetime.date(2026, 4, 10)


FAST_HASHER = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="module")
def built(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """The organisation, built and recomputed once per test module inside a transaction
    that is rolled back at the module's end; each test runs in a savepoint inside it (the
    `db` fixture), so every test starts from the same organisation. Building it takes most
    of a second, which dozens of tests would otherwise pay each."""
    with django_db_blocker.unblock(), override_settings(PASSWORD_HASHERS=FAST_HASHER):
        outer = transaction.atomic()
        outer.__enter__()
        try:
            folder = build_organisation(tmp_path_factory.mktemp("organisation")).folder
            results_recompute(by=None)
            yield folder
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


def organisation(folder: Path) -> Organisation:
    """The organisation's people and teams, read afresh (a test may have changed them)."""
    people = {user.email: user for user in User.objects.all()}
    return Organisation(
        folder=folder,
        workspace=folder / "headway.yaml",
        admin=people["admin@example.com"],
        manager=people["nora@example.com"],
        member=people["mark@example.com"],
        viewer=people["vera@example.com"],
        other_manager=people["sam@example.com"],
        north=Team.objects.get(key="north"),
        south=Team.objects.get(key="south"),
    )


@pytest.fixture
def org(built: Path, db: None) -> Organisation:
    return organisation(built)


@pytest.fixture
def cycle(org: Organisation) -> ReviewCycle:
    return cycle_create(by=org.admin, period="2026-Q1")


@pytest.fixture
def meeting(org: Organisation, cycle: ReviewCycle) -> Meeting:
    return meeting_create(
        by=org.admin,
        cycle=cycle,
        title="2026-Q1 review",
        scheduled_at=at(2026, 4, 15),
        chair=org.admin,
        participants=[org.manager, org.member, org.other_manager],
    )


def at(year: int, month: int, day: int, hour: int = 10) -> datetime.datetime:
    """A time in the organisation's zone (Asia/Taipei)."""
    return datetime.datetime(year, month, day, hour, tzinfo=ZoneInfo("Asia/Taipei"))


def kpi(key: str) -> Kpi:
    return Kpi.objects.get(key=key)


def prepared(org: Organisation, meeting: Meeting, today: datetime.date = TODAY) -> Meeting:
    return meeting_prepare(meeting=meeting, by=org.admin, today=today)


def started(org: Organisation, meeting: Meeting) -> Meeting:
    return meeting_start(meeting=prepared(org, meeting), by=org.admin)


def decided(
    org: Organisation,
    meeting: Meeting,
    kind: str,
    *,
    kpi_key: str | None = None,
    details: dict[str, Any] | None = None,
    reason: str = "the meeting agreed",
    by: User | None = None,
) -> tuple[Meeting, Decision]:
    """A meeting that recorded one decision, had it approved by its chair and concluded."""
    if meeting.status != "in_meeting":
        meeting = started(org, meeting)
    decision = decision_record(
        meeting=meeting,
        by=by or org.manager,
        kind=kind,
        reason=reason,
        kpi=kpi(kpi_key) if kpi_key else None,
        details=details,
    )
    decision = decision_decide(decision=decision, by=meeting.chair, approve=True)
    return meeting_conclude(meeting=meeting, by=meeting.chair), decision


def last_audit_pk() -> int:
    return AuditEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


@contextmanager
def audit_rows() -> Iterator[list[str]]:
    """Collects the actions of the audit rows written inside the block, in order."""
    found: list[str] = []
    since = last_audit_pk()
    yield found
    found.extend(
        AuditEntry.objects.filter(pk__gt=since).order_by("pk").values_list("action", flat=True)
    )


def fingerprint() -> tuple[Any, ...]:
    """Everything a review service could write, in a form that compares."""
    return (
        AuditEntry.objects.count(),
        ReviewCycle.objects.count(),
        list(Meeting.objects.order_by("pk").values_list("pk", "status", "version", "title")),
        list(Participant.objects.order_by("pk").values_list("pk", "person_id", "attended")),
        list(AgendaItem.objects.order_by("pk").values_list("pk", "position", "notes", "version")),
        OwnerComment.objects.count(),
        list(Decision.objects.order_by("pk").values_list("pk", "status")),
        list(Action.objects.order_by("pk").values_list("pk", "status")),
        list(Kpi.objects.order_by("pk").values_list("pk", "version", "is_active")),
        TargetVersion.objects.count(),
        list(Result.objects.order_by("pk").values_list("pk", "value", "target", "status")),
    )


def refused(call: Callable[[], object], field: str) -> ValidationError:
    """Calls `call`, which must be refused with a message for `field`, writing nothing."""
    before = fingerprint()
    with pytest.raises(ValidationError) as caught:
        call()
    assert field in caught.value.message_dict, caught.value.message_dict
    assert fingerprint() == before
    return caught.value
