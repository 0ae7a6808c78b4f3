"""Reads of the review cycle for pages, the pre-read pack and the minutes."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Q, QuerySet
from django.utils import timezone

from headway.accounts.models import Organization, User
from headway.kpis.models import Kpi, TargetVersion
from headway.reviews.choices import ActionStatus, DecisionStatus, MeetingStatus
from headway.reviews.models import (
    Action,
    AgendaItem,
    Decision,
    Meeting,
    OwnerComment,
    Participant,
    ReviewCycle,
)

REFERENCE_PREFIX = "review-decision:"


def cycles() -> QuerySet[ReviewCycle]:
    return ReviewCycle.objects.prefetch_related("meetings__chair", "meetings__team")


def agenda(meeting: Meeting) -> list[AgendaItem]:
    return list(
        AgendaItem.objects.filter(meeting=meeting)
        .select_related("kpi", "kpi__owner", "kpi__team", "action", "action__owner")
        .order_by("position", "pk")
    )


def latest_comments(meeting: Meeting) -> dict[int, OwnerComment]:
    """Each KPI's latest owner comment in the meeting, by KPI id."""
    found: dict[int, OwnerComment] = {}
    for comment in OwnerComment.objects.filter(meeting=meeting).select_related("author"):
        found[comment.kpi_id] = comment  # ordered by time: the last one wins
    return found


@dataclass(frozen=True)
class MissingComment:
    kpi: Kpi
    owner: User | None


def missing_comments(meeting: Meeting) -> list[MissingComment]:
    """The agenda's KPIs whose owner has not commented yet."""
    commented = set(OwnerComment.objects.filter(meeting=meeting).values_list("kpi_id", flat=True))
    return [
        MissingComment(item.kpi, item.kpi.owner)
        for item in agenda(meeting)
        if item.kpi is not None and item.kpi_id not in commented
    ]


def decisions(meeting: Meeting) -> list[Decision]:
    return list(
        Decision.objects.filter(meeting=meeting)
        .select_related("kpi", "item", "recorded_by", "decided_by", "applied_by")
        .order_by("pk")
    )


def attendance(meeting: Meeting) -> list[Participant]:
    return list(Participant.objects.filter(meeting=meeting).select_related("person").order_by("pk"))


def meeting_actions(meeting: Meeting) -> list[Action]:
    return list(Action.objects.filter(meeting=meeting).select_related("owner", "kpi"))


@dataclass
class Todo:
    """What a person has to do for reviews: comments, actions, approvals."""

    comments: list[tuple[Meeting, Kpi]] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    approvals: list[Decision] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.comments or self.actions or self.approvals)


def todo_for(user: User) -> Todo:
    todo = Todo()
    preparing = Meeting.objects.filter(
        status__in=[MeetingStatus.PREPARING, MeetingStatus.IN_MEETING]
    )
    commented = set(
        OwnerComment.objects.filter(meeting__in=preparing).values_list("meeting_id", "kpi_id")
    )
    for item in (
        AgendaItem.objects.filter(meeting__in=preparing, kpi__owner=user)
        .select_related("meeting", "kpi")
        .order_by("meeting__scheduled_at", "position")
    ):
        assert item.kpi is not None
        if (item.meeting_id, item.kpi_id) not in commented:
            todo.comments.append((item.meeting, item.kpi))
    todo.actions = list(
        Action.objects.filter(owner=user, status=ActionStatus.OPEN)
        .select_related("meeting", "kpi")
        .order_by("due")
    )
    todo.approvals = list(
        Decision.objects.filter(
            meeting__chair=user,
            meeting__status=MeetingStatus.IN_MEETING,
            status=DecisionStatus.PROPOSED,
        ).select_related("meeting", "kpi")
    )
    return todo


def decision_of(reference: str) -> Decision | None:
    """The decision a target version's or a KPI change's `origin_reference` points at."""
    if not reference.startswith(REFERENCE_PREFIX):
        return None
    number = reference.removeprefix(REFERENCE_PREFIX)
    if not number.isdigit():
        return None
    return Decision.objects.filter(pk=int(number)).select_related("meeting__cycle").first()


@dataclass(frozen=True)
class TargetChange:
    """A target version with the one it replaced and, when a review decided it, where."""

    version: TargetVersion
    previous: Decimal | None
    decision: Decision | None

    @property
    def meeting(self) -> Meeting | None:
        return self.decision.meeting if self.decision is not None else None


def target_changes(history: list[TargetVersion]) -> list[TargetChange]:
    """Each version of `history` (oldest first) with the value before it for the same
    group, and the review decision behind it, newest first."""
    numbers = [
        int(version.origin_reference.removeprefix(REFERENCE_PREFIX))
        for version in history
        if version.origin_reference.startswith(REFERENCE_PREFIX)
        and version.origin_reference.removeprefix(REFERENCE_PREFIX).isdigit()
    ]
    found = {
        decision.pk: decision
        for decision in Decision.objects.filter(pk__in=numbers).select_related("meeting__cycle")
    }
    last: dict[tuple[str, str], Decimal] = {}
    changes = []
    for version in sorted(history, key=lambda v: (v.effective_start, v.pk)):
        group = (version.where_dimension, version.where_value)
        decision = None
        if version.origin_reference.startswith(REFERENCE_PREFIX):
            number = version.origin_reference.removeprefix(REFERENCE_PREFIX)
            decision = found.get(int(number)) if number.isdigit() else None
        changes.append(TargetChange(version, last.get(group), decision))
        last[group] = version.value
    return list(reversed(changes))


def kpi_reviews(kpi: Kpi) -> list[dict[str, Any]]:
    """The meetings that had the KPI on their agenda, newest first, with what they decided."""
    items = list(
        AgendaItem.objects.filter(kpi=kpi)
        .select_related("meeting", "meeting__cycle")
        .order_by("-meeting__scheduled_at", "-pk")
    )
    # A decision about the KPI counts whether it was recorded on its item or named it.
    by_meeting: dict[int, list[Decision]] = {}
    for decision in Decision.objects.filter(
        Q(item__in=items) | Q(kpi=kpi, meeting__in=[item.meeting_id for item in items])
    ).order_by("pk"):
        by_meeting.setdefault(decision.meeting_id, []).append(decision)
    return [
        {"meeting": item.meeting, "decisions": by_meeting.get(item.meeting_id, [])}
        for item in items
    ]


def due_reminders(today: datetime.date) -> list[Meeting]:
    """Meetings being prepared whose reminder day has come and that are not past; days
    are the organisation's (`today` too), not UTC's."""
    zone = ZoneInfo(Organization.current().timezone)
    due = []
    for meeting in Meeting.objects.filter(status=MeetingStatus.PREPARING):
        day = timezone.localtime(meeting.scheduled_at, zone).date()
        if day - datetime.timedelta(days=meeting.remind_days_before) <= today <= day:
            due.append(meeting)
    return due
