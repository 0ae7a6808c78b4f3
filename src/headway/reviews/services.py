"""Writes of the review cycle, each checked and audited.

A meeting moves planned → preparing (agenda built, owners asked to comment) → in meeting
(notes, attendance, decisions recorded and approved or rejected by the chair) → decided
(the approved decisions are applied; one that cannot be, the chair withdraws) → closed.
A decision applied writes through the KPI services and gets exactly one audit row of its
own ("review.decision.apply").
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from headway.accounts.models import Organization, Team, User
from headway.accounts.permissions import can_edit_team_things, is_admin, managed_team_ids
from headway.audit.errors import ConflictError, NotAllowed, check_version
from headway.audit.services import audit_record, snapshot
from headway.kpis.models import Kpi
from headway.lib import paths
from headway.lib.periods import Grain, PeriodLabelError, parse_period_label
from headway.notifications.models import Kind
from headway.notifications.services import notify
from headway.results.services import results_refresh_kpi
from headway.reviews.agenda import REASON_ORDER, agenda_entries, item_facts
from headway.reviews.choices import (
    ActionStatus,
    AgendaReason,
    DecisionKind,
    DecisionStatus,
    MeetingStatus,
)
from headway.reviews.decisions import apply_decision, clean_details
from headway.reviews.models import (
    Action,
    AgendaItem,
    Decision,
    Meeting,
    OwnerComment,
    Participant,
    ReviewCycle,
)

CADENCES = (Grain.MONTH, Grain.QUARTER, Grain.YEAR)
MEETING_FIELDS = {
    "title",
    "scheduled_at",
    "location",
    "chair",
    "comments_due",
    "remind_days_before",
}


# -- who may do what ---------------------------------------------------------------------


def can_organise(user: Any, meeting: Meeting) -> bool:
    """The chair, admins, and managers of the meeting's team run a meeting."""
    if is_admin(user) or meeting.chair_id == getattr(user, "pk", None):
        return True
    return meeting.team_id is not None and meeting.team_id in managed_team_ids(user)


def can_create_meeting(user: Any, team: Team | None) -> bool:
    return is_admin(user) or (team is not None and team.pk in managed_team_ids(user))


def is_participant(user: Any, meeting: Meeting) -> bool:
    return Participant.objects.filter(meeting=meeting, person_id=getattr(user, "pk", None)).exists()


def can_record(user: Any, meeting: Meeting) -> bool:
    """Organisers and participants (not viewers) take notes and record decisions."""
    if can_organise(user, meeting):
        return True
    return getattr(user, "role", "") != "viewer" and is_participant(user, meeting)


def can_comment(user: Any, kpi: Kpi) -> bool:
    """A KPI's owner comments on it; without an owner, a manager of its team; admins too."""
    if is_admin(user):
        return True
    if kpi.owner_id is not None:
        return bool(kpi.owner_id == getattr(user, "pk", None))
    return kpi.team_id is not None and kpi.team_id in managed_team_ids(user)


def _require(allowed: bool, message: str) -> None:
    if not allowed:
        raise NotAllowed(message)


def _require_status(meeting: Meeting, allowed: Iterable[str], doing: str) -> None:
    allowed = list(allowed)
    if meeting.status not in allowed:
        names = ", ".join(str(MeetingStatus(status).label) for status in allowed)
        raise ValidationError(
            {
                "status": f"{meeting.title} is {MeetingStatus(meeting.status).label.lower()}: "
                f"one can {doing} only while it is {names.lower()}"
            }
        )


def _locked_meeting(meeting: Meeting) -> Meeting:
    # `of=("self",)`: only the meeting's row is locked (and PostgreSQL refuses FOR UPDATE
    # on the nullable side of the outer joins select_related makes).
    return (
        Meeting.objects.select_for_update(of=("self",)).select_related("cycle").get(pk=meeting.pk)
    )


# -- cycles and meetings -----------------------------------------------------------------


def cycle_create(*, by: User | None, period: str, title: str = "") -> ReviewCycle:
    """A review cycle for a period (a month, quarter or year); `by` None is the worker."""
    if by is not None:
        _require(is_admin(by), "only an admin may open a review cycle")
    fiscal = Organization.current().fiscal_year_start
    try:
        found = parse_period_label(period.strip(), fiscal)
    except PeriodLabelError as error:
        raise ValidationError({"period": str(error)}) from None
    if found.grain not in CADENCES:
        raise ValidationError({"period": f"{period}: review a month, a quarter or a year"})
    if ReviewCycle.objects.filter(period=found.label).exists():
        raise ValidationError({"period": f"the review cycle of {found.label} already exists"})
    with transaction.atomic():
        cycle = ReviewCycle.objects.create(
            period=found.label,
            grain=found.grain.value,
            period_start=found.start,
            period_end=found.last_day,
            title=title.strip() or f"{found.label} review",
            created_by=by,
        )
        audit_record(actor=by, action="review.cycle.create", target=cycle, after=snapshot(cycle))
    return cycle


def _local_day(moment: datetime.datetime) -> datetime.date:
    """The day of `moment` where the organisation is."""
    return timezone.localtime(moment, ZoneInfo(Organization.current().timezone)).date()


def _check_comments_due(
    comments_due: datetime.date | None, scheduled_at: datetime.datetime | None
) -> None:
    if comments_due is None or scheduled_at is None:
        return
    if comments_due > _local_day(scheduled_at):
        raise ValidationError({"comments_due": "comments are due before the meeting"})


def meeting_create(
    *,
    by: User,
    cycle: ReviewCycle,
    title: str,
    scheduled_at: datetime.datetime,
    chair: User,
    participants: Sequence[User] = (),
    team: Team | None = None,
    location: str = "",
    comments_due: datetime.date | None = None,
    remind_days_before: int = 5,
) -> Meeting:
    _require(
        can_create_meeting(by, team),
        "only an admin, or a manager for a team they manage, may schedule a review meeting",
    )
    title = title.strip()
    if not title:
        raise ValidationError({"title": "a meeting needs a title"})
    if not chair.is_active:
        raise ValidationError({"chair": f"{chair} is not an active person"})
    _check_comments_due(comments_due, scheduled_at)
    meeting = Meeting(
        cycle=cycle,
        title=title,
        team=team,
        scheduled_at=scheduled_at,
        location=location.strip(),
        chair=chair,
        comments_due=comments_due,
        remind_days_before=remind_days_before,
        created_by=by,
    )
    meeting.full_clean(exclude=["participants"])
    with transaction.atomic():
        meeting.save()
        people = {person.pk: person for person in [chair, *participants]}
        Participant.objects.bulk_create(
            [Participant(meeting=meeting, person=person) for person in people.values()]
        )
        audit_record(
            actor=by,
            action="review.meeting.create",
            target=meeting,
            after={**snapshot(meeting), "participants": sorted(people)},
        )
    return meeting


def meeting_update(
    *,
    meeting: Meeting,
    by: User,
    expected_version: int | None = None,
    participants: Sequence[User] | None = None,
    **fields: Any,
) -> Meeting:
    unknown = set(fields) - MEETING_FIELDS
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    _require(can_organise(by, meeting), "only the chair or an admin may change the meeting")
    with transaction.atomic():
        current = _locked_meeting(meeting)
        check_version(f"Meeting {current.title}", expected_version, current.version)
        _require_status(
            current,
            [MeetingStatus.PLANNED, MeetingStatus.PREPARING, MeetingStatus.IN_MEETING],
            "change a meeting",
        )
        before = {**snapshot(current), "participants": _participant_ids(current)}
        for name, value in fields.items():
            setattr(current, name, value)
        if "chair" in fields and not current.chair.is_active:
            raise ValidationError({"chair": f"{current.chair} is not an active person"})
        _check_comments_due(current.comments_due, current.scheduled_at)
        current.full_clean(exclude=["participants"])
        current.version += 1
        current.save()
        wanted = {current.chair_id} | {person.pk for person in participants or []}
        if participants is not None:
            Participant.objects.filter(meeting=current).exclude(person_id__in=wanted).delete()
        for person_id in wanted:
            Participant.objects.get_or_create(meeting=current, person_id=person_id)
        audit_record(
            actor=by,
            action="review.meeting.update",
            target=current,
            before=before,
            after={**snapshot(current), "participants": _participant_ids(current)},
        )
    return current


def _participant_ids(meeting: Meeting) -> list[int]:
    return sorted(Participant.objects.filter(meeting=meeting).values_list("person_id", flat=True))


def meeting_prepare(*, meeting: Meeting, by: User, today: datetime.date | None = None) -> Meeting:
    """Builds (or refreshes) the agenda from the data and asks owners for their comments.

    Items already there keep their place, notes and comments; their reasons and numbers
    are brought up to date, and new items go to the end. Items the data put there and no
    longer calls for are taken off, unless someone worked on them (notes, the owner's
    comment); points and KPIs put there by hand always stay."""
    _require(can_organise(by, meeting), "only the chair or an admin may prepare the meeting")
    _require_status(meeting, [MeetingStatus.PLANNED, MeetingStatus.PREPARING], "build the agenda")
    by_hand = AgendaItem.objects.filter(meeting=meeting, kpi__isnull=False, added_by__isnull=False)
    entries = agenda_entries(meeting, today, also=set(by_hand.values_list("kpi_id", flat=True)))
    with transaction.atomic():
        current = _locked_meeting(meeting)
        _require_status(
            current, [MeetingStatus.PLANNED, MeetingStatus.PREPARING], "build the agenda"
        )
        items = list(AgendaItem.objects.filter(meeting=current))
        by_kpi = {item.kpi_id: item for item in items if item.kpi_id is not None}
        by_action = {item.action_id: item for item in items if item.action_id is not None}
        # Points of their own that the data (an agenda source) put there, by title; the
        # organiser's own points are never matched.
        by_title = {
            item.title: item
            for item in items
            if item.kpi_id is None and item.action_id is None and item.added_by_id is None
        }
        position = max((item.position for item in items), default=-1) + 1
        added, refreshed, removed = [], [], []
        for entry in entries:
            existing = None
            if entry.kpi is not None:
                existing = by_kpi.get(entry.kpi.pk)
            elif entry.action is not None:
                existing = by_action.get(entry.action.pk)
            else:
                existing = by_title.get(entry.title)
            if existing is not None:
                reasons = list(entry.reasons)
                if existing.added_by_id is not None and AgendaReason.ADDED.value not in reasons:
                    reasons.append(AgendaReason.ADDED.value)
                if not reasons:
                    continue
                existing.reasons = reasons
                existing.reason = min(reasons, key=REASON_ORDER.index)
                existing.facts = entry.facts
                existing.save(update_fields=["reason", "reasons", "facts"])
                refreshed.append(existing.pk)
                continue
            if not entry.reasons:
                continue
            item = AgendaItem.objects.create(
                meeting=current,
                kpi=entry.kpi,
                action=entry.action,
                title=entry.title,
                reason=entry.reason,
                reasons=entry.reasons,
                facts=entry.facts,
                position=position,
            )
            position += 1
            added.append(item.pk)
        # What the data put there and no longer calls for goes, unless someone worked on
        # it (notes, the owner's comment): that stays as it was.
        commented = set(
            OwnerComment.objects.filter(meeting=current).values_list("kpi_id", flat=True)
        )
        for item in items:
            untouched = (
                item.added_by_id is None
                and not item.notes
                and (item.kpi_id is None or item.kpi_id not in commented)
            )
            if item.pk not in refreshed and untouched:
                removed.append(item.pk)
                item.delete()
        before_status = current.status
        current.status = MeetingStatus.PREPARING
        current.agenda_built_at = timezone.now()
        current.version += 1
        current.save()
        audit_record(
            actor=by,
            action="review.meeting.prepare",
            target=current,
            before={"status": before_status},
            after={
                "status": current.status,
                "items_added": added,
                "items_refreshed": refreshed,
                "items_removed": removed,
            },
        )
        _ask_owners(current, by)
    return current


def _ask_owners(meeting: Meeting, by: User) -> None:
    """Tells each owner of a KPI on the agenda that the meeting needs their comment (once
    per meeting: a refreshed agenda does not tell them again)."""
    owners: dict[int, User] = {}
    for item in AgendaItem.objects.filter(meeting=meeting, kpi__owner__isnull=False).select_related(
        "kpi__owner"
    ):
        assert item.kpi is not None
        assert item.kpi.owner is not None
        owners[item.kpi.owner.pk] = item.kpi.owner
    title = meeting.title
    notify(
        people=owners.values(),
        kind=Kind.REVIEW,
        text=lambda: gettext("%(meeting)s needs your comment on your KPIs") % {"meeting": title},
        url=paths.meeting_path(meeting.pk),
        actor=by,
        dedupe_key=f"review:{meeting.pk}",
    )


def agenda_item_add(
    *, meeting: Meeting, by: User, kpi: Kpi | None = None, title: str = ""
) -> AgendaItem:
    """Puts a KPI, or a point of its own, on the agenda by hand (at the end)."""
    _require(can_organise(by, meeting), "only the chair or an admin may change the agenda")
    title = title.strip()
    if kpi is None and not title:
        raise ValidationError({"title": "name the point, or pick a KPI"})
    facts = item_facts(meeting, kpi) if kpi is not None else {}
    with transaction.atomic():
        current = _locked_meeting(meeting)
        _require_status(
            current,
            [MeetingStatus.PLANNED, MeetingStatus.PREPARING, MeetingStatus.IN_MEETING],
            "change the agenda",
        )
        if kpi is not None and AgendaItem.objects.filter(meeting=current, kpi=kpi).exists():
            raise ValidationError({"kpi": f"{kpi.name} is already on the agenda"})
        position = (
            max(
                AgendaItem.objects.filter(meeting=current).values_list("position", flat=True),
                default=-1,
            )
            + 1
        )
        item = AgendaItem.objects.create(
            meeting=current,
            kpi=kpi,
            title=title,
            facts=facts,
            reason=AgendaReason.ADDED,
            reasons=[AgendaReason.ADDED.value],
            position=position,
            added_by=by,
        )
        audit_record(actor=by, action="review.agenda.add", target=item, after=snapshot(item))
    return item


def agenda_reorder(*, meeting: Meeting, by: User, order: Sequence[int]) -> list[AgendaItem]:
    """Puts the agenda in the order of `order` (every item's id, once)."""
    _require(can_organise(by, meeting), "only the chair or an admin may change the agenda")
    with transaction.atomic():
        current = _locked_meeting(meeting)
        _require_status(
            current,
            [MeetingStatus.PLANNED, MeetingStatus.PREPARING, MeetingStatus.IN_MEETING],
            "reorder the agenda",
        )
        items = {item.pk: item for item in AgendaItem.objects.filter(meeting=current)}
        if sorted(order) != sorted(items) or len(set(order)) != len(order):
            raise ValidationError(
                {"order": "the new order must list every item of the agenda once"}
            )
        before = [item.pk for item in sorted(items.values(), key=lambda i: (i.position, i.pk))]
        for position, pk in enumerate(order):
            if items[pk].position != position:
                items[pk].position = position
                items[pk].save(update_fields=["position"])
        audit_record(
            actor=by,
            action="review.agenda.reorder",
            target=current,
            before={"order": before},
            after={"order": list(order)},
        )
    return [items[pk] for pk in order]


def agenda_item_move(*, item: AgendaItem, by: User, offset: int) -> list[AgendaItem]:
    """Moves an item up (negative offset) or down the agenda."""
    order = list(
        AgendaItem.objects.filter(meeting=item.meeting)
        .order_by("position", "pk")
        .values_list("pk", flat=True)
    )
    index = order.index(item.pk)
    target = max(0, min(len(order) - 1, index + offset))
    order.insert(target, order.pop(index))
    return agenda_reorder(meeting=item.meeting, by=by, order=order)


def agenda_item_remove(*, item: AgendaItem, by: User) -> None:
    """Takes an item off the agenda before the meeting (not once it has a decision)."""
    _require(can_organise(by, item.meeting), "only the chair or an admin may change the agenda")
    with transaction.atomic():
        current = _locked_meeting(item.meeting)
        _require_status(
            current, [MeetingStatus.PLANNED, MeetingStatus.PREPARING], "take items off the agenda"
        )
        locked = AgendaItem.objects.select_for_update().get(pk=item.pk)
        if Decision.objects.filter(item=locked).exists():
            raise ValidationError({"item": "this item has decisions; it stays on the agenda"})
        audit_record(
            actor=by, action="review.agenda.remove", target=locked, before=snapshot(locked)
        )
        locked.delete()


def comment_add(*, meeting: Meeting, kpi: Kpi, by: User, text: str) -> OwnerComment:
    """The owner's comment on a KPI of the agenda, before (or during) the meeting."""
    _require(can_comment(by, kpi), f"only the owner of {kpi.name} (or an admin) comments on it")
    text = text.strip()
    if not text:
        raise ValidationError({"text": "the comment is empty"})
    if len(text) > 5000:
        raise ValidationError({"text": "keep the comment under 5,000 characters"})
    with transaction.atomic():
        current = _locked_meeting(meeting)
        _require_status(
            current, [MeetingStatus.PREPARING, MeetingStatus.IN_MEETING], "comment on KPIs"
        )
        if not AgendaItem.objects.filter(meeting=current, kpi=kpi).exists():
            raise ValidationError({"kpi": f"{kpi.name} is not on the agenda of {current.title}"})
        comment = OwnerComment.objects.create(meeting=current, kpi=kpi, author=by, text=text)
        audit_record(actor=by, action="review.comment.add", target=comment, after=snapshot(comment))
    return comment


def meeting_start(*, meeting: Meeting, by: User) -> Meeting:
    return _move(meeting, by, MeetingStatus.PREPARING, MeetingStatus.IN_MEETING, "start")


def meeting_conclude(*, meeting: Meeting, by: User) -> Meeting:
    """Ends the meeting: every decision must have been approved or rejected by the chair."""
    return _move(meeting, by, MeetingStatus.IN_MEETING, MeetingStatus.DECIDED, "conclude")


def meeting_close(*, meeting: Meeting, by: User) -> Meeting:
    """Closes the review once every approved decision has been applied (or withdrawn)."""
    return _move(meeting, by, MeetingStatus.DECIDED, MeetingStatus.CLOSED, "close")


def _move(meeting: Meeting, by: User, source: str, destination: str, doing: str) -> Meeting:
    _require(can_organise(by, meeting), f"only the chair or an admin may {doing} the meeting")
    with transaction.atomic():
        current = _locked_meeting(meeting)
        _require_status(current, [source], f"{doing} it")
        # Read under the meeting's lock: decisions are recorded, answered and applied
        # under it too.
        decisions = Decision.objects.filter(meeting=current)
        if destination == MeetingStatus.DECIDED:
            waiting = decisions.filter(status=DecisionStatus.PROPOSED).count()
            if waiting:
                raise ValidationError(
                    {"decisions": f"{waiting} decision(s) still wait for the chair's approval"}
                )
        if destination == MeetingStatus.CLOSED:
            unapplied = decisions.filter(status=DecisionStatus.APPROVED).count()
            if unapplied:
                raise ValidationError(
                    {
                        "decisions": f"{unapplied} approved decision(s) are not applied yet: "
                        "apply them, or the chair withdraws those that cannot be"
                    }
                )
        current.status = destination
        current.version += 1
        current.save()
        audit_record(
            actor=by,
            action=f"review.meeting.{doing}",
            target=current,
            before={"status": source},
            after={"status": destination},
        )
    return current


def attendance_record(*, meeting: Meeting, by: User, present: Iterable[int]) -> None:
    """Who attended: the participants listed in `present`, and nobody else."""
    _require(can_record(by, meeting), "only the meeting's participants record attendance")
    present = set(present)
    with transaction.atomic():
        current = _locked_meeting(meeting)
        _require_status(
            current, [MeetingStatus.IN_MEETING, MeetingStatus.DECIDED], "record attendance"
        )
        invited = {row.person_id: row for row in Participant.objects.filter(meeting=current)}
        strangers = present - set(invited)
        if strangers:
            raise ValidationError({"present": f"not invited to the meeting: {sorted(strangers)}"})
        before = {str(pk): row.attended for pk, row in invited.items()}
        for pk, row in invited.items():
            attended = pk in present
            if row.attended != attended:
                row.attended = attended
                row.save(update_fields=["attended"])
        audit_record(
            actor=by,
            action="review.meeting.attendance",
            target=current,
            before=before,
            after={str(pk): pk in present for pk in invited},
        )


def item_notes_save(
    *, item: AgendaItem, by: User, notes: str, expected_version: int | None = None
) -> AgendaItem:
    _require(can_record(by, item.meeting), "only the meeting's participants take notes")
    with transaction.atomic():
        _require_status(
            _locked_meeting(item.meeting),
            [MeetingStatus.PREPARING, MeetingStatus.IN_MEETING],
            "take notes",
        )
        current = AgendaItem.objects.select_for_update().get(pk=item.pk)
        check_version("The agenda item's notes", expected_version, current.version)
        before = current.notes
        current.notes = notes.strip()
        current.version += 1
        current.save(update_fields=["notes", "version"])
        audit_record(
            actor=by,
            action="review.agenda.notes",
            target=current,
            before={"notes": before},
            after={"notes": current.notes},
        )
    return current


# -- decisions -----------------------------------------------------------------------------


def decision_record(
    *,
    meeting: Meeting,
    by: User,
    kind: str,
    reason: str,
    item: AgendaItem | None = None,
    kpi: Kpi | None = None,
    details: dict[str, Any] | None = None,
) -> Decision:
    """Records what the meeting decided; it waits for the chair's approval."""
    _require(can_record(by, meeting), "only the meeting's participants record decisions")
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "say why: the reason is kept with the decision"})
    if item is not None:
        if item.meeting_id != meeting.pk:
            raise ValidationError({"item": "that item is on another meeting's agenda"})
        if kpi is not None and item.kpi_id is not None and kpi.pk != item.kpi_id:
            raise ValidationError(
                {"kpi": f"the item is about another KPI than {kpi.name}: pick one of the two"}
            )
        kpi = kpi or item.kpi
    cleaned = clean_details(kind, kpi, details or {})
    with transaction.atomic():
        current = _locked_meeting(meeting)
        _require_status(current, [MeetingStatus.IN_MEETING], "record decisions")
        decision = Decision.objects.create(
            meeting=current,
            item=item,
            kpi=kpi if kind != DecisionKind.ADD_KPI else None,
            kind=kind,
            details=cleaned,
            reason=reason,
            recorded_by=by,
        )
        audit_record(
            actor=by, action="review.decision.record", target=decision, after=snapshot(decision)
        )
    return decision


def _chair_may_apply(decision: Decision, chair: User) -> None:
    """The chair approves only what they (or an admin) may then apply."""
    if decision.kind in (DecisionKind.KEEP, DecisionKind.ASSIGN_ACTION):
        return
    if decision.kind == DecisionKind.ADD_KPI:
        team = Team.objects.filter(key=decision.details.get("team") or "").first()
        team_id = team.pk if team is not None else None
    else:
        assert decision.kpi is not None
        team_id = decision.kpi.team_id
    if not can_edit_team_things(chair, team_id):
        raise NotAllowed(
            f"{chair} may not change KPIs of this team; an admin must chair this decision"
        )


def decision_decide(*, decision: Decision, by: User, approve: bool, note: str = "") -> Decision:
    """The chair approves or rejects a recorded decision."""
    meeting = decision.meeting
    _require(by.pk == meeting.chair_id, "only the meeting's chair approves or rejects decisions")
    if not approve and not note.strip():
        raise ValidationError({"note": "say why the decision is rejected"})
    with transaction.atomic():
        locked = _locked_meeting(meeting)
        # The chair may have been changed since `decision` was read.
        _require(by.pk == locked.chair_id, "only the meeting's chair approves or rejects decisions")
        _require_status(locked, [MeetingStatus.IN_MEETING], "approve decisions")
        current = (
            Decision.objects.select_for_update(of=("self",))
            .select_related("kpi")
            .get(pk=decision.pk)
        )
        if current.status != DecisionStatus.PROPOSED:
            raise ValidationError(
                {"status": f"the decision is already {current.get_status_display().lower()}"}
            )
        if approve:
            _chair_may_apply(current, by)
        current.status = DecisionStatus.APPROVED if approve else DecisionStatus.REJECTED
        current.decided_by = by
        current.decided_at = timezone.now()
        current.decision_note = note.strip()
        current.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
        audit_record(
            actor=by,
            action="review.decision.approve" if approve else "review.decision.reject",
            target=current,
            before={"status": DecisionStatus.PROPOSED},
            after={"status": current.status, "note": current.decision_note},
        )
    return current


def decision_withdraw(*, decision: Decision, by: User, note: str) -> Decision:
    """The chair takes back an approval that cannot be applied (the KPI changed since,
    the period was closed, the key was taken...), saying why, once the meeting is decided:
    the decision ends rejected, with the note, and the meeting can close."""
    note = note.strip()
    with transaction.atomic():
        meeting = _locked_meeting(decision.meeting)
        _require(by.pk == meeting.chair_id, "only the meeting's chair withdraws an approval")
        if not note:
            raise ValidationError({"note": "say why the approval is withdrawn"})
        _require_status(meeting, [MeetingStatus.DECIDED], "withdraw an approval")
        current = Decision.objects.select_for_update().get(pk=decision.pk)
        if current.status != DecisionStatus.APPROVED:
            raise ValidationError(
                {
                    "status": "only an approved decision not yet applied is withdrawn; this one "
                    f"is {current.get_status_display().lower()}"
                }
            )
        current.status = DecisionStatus.REJECTED
        current.decision_note = note
        current.save(update_fields=["status", "decision_note"])
        audit_record(
            actor=by,
            action="review.decision.withdraw",
            target=current,
            before={"status": DecisionStatus.APPROVED},
            after={"status": current.status, "note": note},
            reason=note,
        )
    return current


def decision_apply(*, decision: Decision, by: User) -> tuple[Decision, list[str]]:
    """Writes an approved decision (new target version, KPI change, action...) once the
    meeting is decided. Returns the decision and any problems of recomputing the KPI's
    results, which do not undo the decision (the next recompute catches up)."""
    meeting = decision.meeting
    _require(
        by.pk == meeting.chair_id or is_admin(by),
        "only the chair or an admin applies the meeting's decisions",
    )
    with transaction.atomic():
        _require_status(_locked_meeting(meeting), [MeetingStatus.DECIDED], "apply decisions")
        current = (
            Decision.objects.select_for_update(of=("self",))
            .select_related("kpi", "meeting")
            .get(pk=decision.pk)
        )
        if current.status != DecisionStatus.APPROVED:
            raise ValidationError(
                {
                    "status": "only an approved decision is applied; this one is "
                    f"{current.get_status_display().lower()}"
                }
            )
        outcome = apply_decision(current, by)
        current.status = DecisionStatus.APPLIED
        current.applied_by = by
        current.applied_at = timezone.now()
        current.outcome = outcome
        current.save(update_fields=["status", "applied_by", "applied_at", "outcome"])
        audit_record(
            actor=by,
            action="review.decision.apply",
            target=current,
            before={"status": DecisionStatus.APPROVED},
            after={"status": DecisionStatus.APPLIED, "outcome": outcome},
            reason=current.reason,
        )
    problems: list[str] = []
    key = outcome.get("kpi")
    if key and current.kind in (
        DecisionKind.CHANGE_TARGET,
        DecisionKind.CHANGE_KPI,
        DecisionKind.ADD_KPI,
    ):
        problems = results_refresh_kpi(key=str(key), by=by)
    return current, problems


class AppliedDecisions(NamedTuple):
    """What `decisions_apply_all` did: how many decisions it applied, the problems of
    recomputing their KPIs, and each approved decision it could not apply, with why."""

    applied: int
    problems: list[str]
    refused: list[str]


def decisions_apply_all(*, meeting: Meeting, by: User) -> AppliedDecisions:
    """Applies every approved decision of a decided meeting, in the order recorded.

    A decision that can no longer be applied (its period was closed, its KPI changed
    since) stays approved and is named in `refused` with the reason; the others are
    still applied, each in its own transaction. The chair then withdraws it, or applies
    it once what stopped it is gone."""
    _require(
        by.pk == meeting.chair_id or is_admin(by),
        "only the chair or an admin applies the meeting's decisions",
    )
    _require_status(Meeting.objects.get(pk=meeting.pk), [MeetingStatus.DECIDED], "apply decisions")
    applied, problems, refused = 0, [], []
    for decision in Decision.objects.filter(
        meeting=meeting, status=DecisionStatus.APPROVED
    ).order_by("pk"):
        try:
            _, found = decision_apply(decision=decision, by=by)
        except (ValidationError, ConflictError) as error:
            reasons = error.messages if isinstance(error, ValidationError) else [str(error)]
            refused.append(f"{decision}: {'; '.join(reasons)}")
            continue
        applied += 1
        problems.extend(found)
    return AppliedDecisions(applied, problems, refused)


# -- actions and minutes -------------------------------------------------------------------


def action_close(
    *,
    action: Action,
    by: User,
    status: str = ActionStatus.DONE,
    note: str = "",
    expected_version: int | None = None,
) -> Action:
    """Marks an action done (or dropped, with a note); its owner, the chair or an admin.

    With `expected_version`, an action someone else changed since it was read (closed
    it, most likely) is refused with ConflictError."""
    allowed = is_admin(by) or action.owner_id == by.pk or action.meeting.chair_id == by.pk
    _require(allowed, "only the action's owner, the meeting's chair or an admin closes it")
    if status not in (ActionStatus.DONE, ActionStatus.DROPPED):
        raise ValidationError({"status": f"{status!r}: an action is closed as done or dropped"})
    if status == ActionStatus.DROPPED and not note.strip():
        raise ValidationError({"note": "say why the action is dropped"})
    with transaction.atomic():
        current = Action.objects.select_for_update().get(pk=action.pk)
        check_version(f"Action {current.title}", expected_version, current.version)
        if current.status != ActionStatus.OPEN:
            raise ValidationError({"status": "the action is already closed"})
        current.status = status
        current.closed_at = timezone.now()
        current.closed_by = by
        current.closing_note = note.strip()
        current.version += 1
        current.save()
        audit_record(
            actor=by,
            action="review.action.close",
            target=current,
            before={"status": ActionStatus.OPEN},
            after={"status": status, "note": current.closing_note},
        )
    return current


def minutes_sent(*, meeting: Meeting, by: User | None, recipients: Sequence[str]) -> Meeting:
    """Records that the minutes went out (the mail itself is sent by the reports layer)."""
    if by is not None:
        _require(can_organise(by, meeting), "only the chair or an admin sends the minutes")
    with transaction.atomic():
        current = _locked_meeting(meeting)
        _require_status(current, [MeetingStatus.DECIDED, MeetingStatus.CLOSED], "send the minutes")
        current.minutes_sent_at = timezone.now()
        current.save(update_fields=["minutes_sent_at"])
        audit_record(
            actor=by,
            action="review.minutes.send",
            target=current,
            after={"recipients": list(recipients)},
        )
    return current


def ensure_cycle(today: datetime.date, *, lead_days: int = 14) -> ReviewCycle | None:
    """The worker's part: opens the cycle of the current period (of the organisation's
    review cadence) once it is `lead_days` from its end, or, when that time passed
    while the worker was down, the cycle of the period that ended at most `lead_days`
    ago. Returns the cycle it opened (None: nothing to open)."""
    from headway.lib.periods import period_containing

    organization = Organization.current()
    grain = organization.review_grain
    if not grain:
        return None
    current = period_containing(Grain(grain), today, organization.fiscal_year_start)
    previous = current.shift(-1)
    if (current.last_day - today).days <= lead_days:
        period = current
    elif (today - previous.last_day).days <= lead_days:
        period = previous  # its time came while the worker was down: open it late
    else:
        return None
    if ReviewCycle.objects.filter(period=period.label).exists():
        return None
    try:
        return cycle_create(by=None, period=period.label)
    except (IntegrityError, ValidationError):
        return None  # another worker opened it at the same moment
