"""Workshops: employees work out KPIs and targets together, and their ideas become
proposals.

A workshop moves planned → running → closed. While it runs, the invited people (and the
facilitator) add ideas from their phones, the facilitator groups them, and the invited
people spend their dot votes on the ones they back. Any idea can then be turned into a
proposal (`idea_to_proposal`), which keeps the link to the idea. After it, the invited
people rate it (1-5) and say what they thought.

Who may do what (deny by default):
- create: admins; managers for a team they manage, or for no team;
- change, invite, start, close: admins, the facilitator, whoever created it, and the
  managers of its team (`can_organise`);
- attendance and grouping ideas: the facilitator or an admin (`is_facilitating`);
- ideas: the invited people and the facilitator — viewers included: being heard is the
  point of a workshop, and an idea changes no number;
- dot votes: the invited people, but not viewers: a dot is a vote, and viewers do not vote
  (the same rule as a proposal's support votes);
- feedback: the invited people (viewers included), once each, while it runs or after;
- an idea into a proposal: the facilitator, an admin, or the idea's author.

Every write is audited in its own transaction; errors people can correct are
ValidationErrors naming the field, in the reader's language.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from headway.accounts.choices import Role
from headway.accounts.models import Organization, Team, User
from headway.accounts.permissions import is_admin, is_signed_in, managed_team_ids
from headway.audit.errors import NotAllowed, check_version
from headway.audit.services import audit_record, snapshot
from headway.goals.models import Goal
from headway.lib import paths
from headway.notifications.models import Kind
from headway.notifications.services import notify
from headway.participation.models import (
    DotVote,
    IdeaKind,
    Proposal,
    ProposalKind,
    Workshop,
    WorkshopFeedback,
    WorkshopIdea,
    WorkshopInvitation,
    WorkshopStatus,
)
from headway.participation.proposals import proposal_create

EDITABLE = {"topic", "starts_at", "location", "facilitator", "agenda", "dots_per_person", "team"}
MAX_DOTS = 20
MAX_AGENDA = 10_000
MAX_IDEA = 1000
MAX_GROUP = 100
MAX_FEEDBACK = 5000
RATINGS = range(1, 6)

# The kind of proposal an idea most likely becomes (a problem with the data has none).
PROPOSAL_KIND_OF_IDEA: dict[str, str] = {
    IdeaKind.KPI_IDEA: ProposalKind.NEW_KPI,
    IdeaKind.TARGET_IDEA: ProposalKind.TARGET_CHANGE,
}


def workshop_path(workshop: Workshop, page: str = "") -> str:
    """The workshop's page in the web UI, for notifications (the web layer is above this
    one, so the path is built by headway.lib.paths)."""
    return paths.workshop_path(workshop.pk, page)


# -- who may do what ---------------------------------------------------------------------


def can_create_workshop(user: Any, team: Team | None) -> bool:
    """Admins; managers for a team they manage, or for no team at all."""
    if is_admin(user):
        return True
    managed = managed_team_ids(user)
    return bool(managed) and (team is None or team.pk in managed)


def can_organise(user: Any, workshop: Workshop) -> bool:
    """Changes the workshop, invites people, starts and closes it."""
    if not is_signed_in(user):
        return False
    if is_admin(user) or user.pk in (workshop.facilitator_id, workshop.created_by_id):
        return True
    return workshop.team_id is not None and workshop.team_id in managed_team_ids(user)


def is_facilitating(user: Any, workshop: Workshop) -> bool:
    """The facilitator (or an admin) records attendance and groups the ideas."""
    return is_admin(user) or (is_signed_in(user) and bool(workshop.facilitator_id == user.pk))


def is_invited(user: Any, workshop: Workshop) -> bool:
    if not is_signed_in(user):
        return False
    return WorkshopInvitation.objects.filter(workshop=workshop, person_id=user.pk).exists()


def can_add_ideas(user: Any, workshop: Workshop) -> bool:
    return is_signed_in(user) and (workshop.facilitator_id == user.pk or is_invited(user, workshop))


def can_dot(user: Any, workshop: Workshop) -> bool:
    return getattr(user, "role", "") != Role.VIEWER and is_invited(user, workshop)


def can_give_feedback(user: Any, workshop: Workshop) -> bool:
    return is_invited(user, workshop)


def can_propose_from(user: Any, idea: WorkshopIdea) -> bool:
    return is_facilitating(user, idea.workshop) or (
        is_signed_in(user) and bool(idea.author_id == user.pk)
    )


def _require(allowed: bool, message: str) -> None:
    if not allowed:
        raise NotAllowed(message)


def _status_name(status: str) -> str:
    return str(WorkshopStatus(status).label).lower()


def _require_status(workshop: Workshop, allowed: Sequence[str], field: str = "status") -> None:
    if workshop.status not in allowed:
        raise ValidationError(
            {
                field: _(
                    "The workshop “%(topic)s” is %(status)s: this can only be done while it "
                    "is %(allowed)s."
                )
                % {
                    "topic": workshop.topic,
                    "status": _status_name(workshop.status),
                    "allowed": _(" or ").join(_status_name(status) for status in allowed),
                }
            }
        )


def _locked(workshop: Workshop) -> Workshop:
    return Workshop.objects.select_for_update().get(pk=workshop.pk)


def _when(workshop: Workshop) -> str:
    """The workshop's date and time in the organisation's time zone, in the active
    language's format."""
    zone = ZoneInfo(Organization.current().timezone or "UTC")
    return str(formats.date_format(timezone.localtime(workshop.starts_at, zone), "DATETIME_FORMAT"))


def _invited_ids(workshop: Workshop) -> list[int]:
    return sorted(
        WorkshopInvitation.objects.filter(workshop=workshop).values_list("person_id", flat=True)
    )


def _goal_keys(workshop: Workshop) -> list[str]:
    return sorted(workshop.goals.values_list("key", flat=True))


# -- checking what people typed ------------------------------------------------------------


def _clean_topic(topic: str) -> str:
    topic = topic.strip()
    if not topic:
        raise ValidationError({"topic": _("Give the workshop a topic.")})
    if len(topic) > 300:
        raise ValidationError({"topic": _("Keep the topic under 300 characters.")})
    return topic


def _clean_dots(dots: Any) -> int:
    try:
        number = int(dots)
    except (TypeError, ValueError):
        number = 0
    if not 1 <= number <= MAX_DOTS:
        raise ValidationError(
            {"dots_per_person": _("Give each person from 1 to %(most)s dots.") % {"most": MAX_DOTS}}
        )
    return number


def _clean_starts_at(value: Any) -> datetime.datetime:
    if not isinstance(value, datetime.datetime):
        raise ValidationError({"starts_at": _("Say when the workshop takes place.")})
    if timezone.is_naive(value):
        return timezone.make_aware(value, ZoneInfo(Organization.current().timezone or "UTC"))
    return value


def _clean_facilitator(person: Any) -> User:
    if not isinstance(person, User) or not person.is_active:
        raise ValidationError({"facilitator": _("Choose an active person to facilitate.")})
    return person


def _clean_agenda(agenda: str) -> str:
    agenda = agenda.strip()
    if len(agenda) > MAX_AGENDA:
        raise ValidationError(
            {"agenda": _("Keep the agenda under %(most)s characters.") % {"most": MAX_AGENDA}}
        )
    return agenda


def _clean_people(people: Iterable[User]) -> dict[int, User]:
    found: dict[int, User] = {}
    for person in people:
        if not person.is_active:
            raise ValidationError(
                {
                    "invited": _("%(person)s cannot be invited: not an active person.")
                    % {"person": person}
                }
            )
        found[person.pk] = person
    return found


# -- notifications -------------------------------------------------------------------------


def _notify_invited(workshop: Workshop, people: Iterable[User], by: User) -> None:
    topic = workshop.topic

    def text() -> str:
        return _("%(person)s invited you to the workshop “%(topic)s” on %(when)s.") % {
            "person": by,
            "topic": topic,
            "when": _when(workshop),
        }

    notify(
        people=people,
        kind=Kind.WORKSHOP,
        text=text,
        url=workshop_path(workshop),
        actor=by,
        dedupe_key=f"workshop:{workshop.pk}:invited",
    )


def _notify_started(workshop: Workshop, by: User) -> None:
    topic = workshop.topic
    people = User.objects.filter(pk__in=_invited_ids(workshop))

    def text() -> str:
        return _("The workshop “%(topic)s” has started: add your ideas on the board.") % {
            "topic": topic
        }

    notify(
        people=people,
        kind=Kind.WORKSHOP,
        text=text,
        url=workshop_path(workshop, "board/"),
        actor=by,
        dedupe_key=f"workshop:{workshop.pk}:started",
    )


# -- workshops -------------------------------------------------------------------------------


def workshop_create(
    *,
    by: User,
    topic: str,
    starts_at: datetime.datetime,
    facilitator: User,
    team: Team | None = None,
    goals: Sequence[Goal] = (),
    location: str = "",
    agenda: str = "",
    dots_per_person: int = 3,
    invited: Sequence[User] = (),
) -> Workshop:
    """Plans a workshop and invites people (who are notified)."""
    _require(
        can_create_workshop(by, team),
        "only an admin, or a manager for a team they manage, may plan a workshop",
    )
    people = _clean_people(invited)
    workshop = Workshop(
        topic=_clean_topic(topic),
        team=team,
        starts_at=_clean_starts_at(starts_at),
        location=location.strip(),
        facilitator=_clean_facilitator(facilitator),
        agenda=_clean_agenda(agenda),
        dots_per_person=_clean_dots(dots_per_person),
        created_by=by,
    )
    workshop.full_clean(exclude=["goals", "invited"])
    with transaction.atomic():
        workshop.save()
        workshop.goals.set(goals)
        WorkshopInvitation.objects.bulk_create(
            [WorkshopInvitation(workshop=workshop, person=person) for person in people.values()]
        )
        audit_record(
            actor=by,
            action="participation.workshop.create",
            target=workshop,
            after={
                **snapshot(workshop),
                "goals": _goal_keys(workshop),
                "invited": sorted(people),
            },
        )
        _notify_invited(workshop, people.values(), by)
    return workshop


def workshop_update(
    *,
    workshop: Workshop,
    by: User,
    expected_version: int | None = None,
    goals: Sequence[Goal] | None = None,
    invited: Sequence[User] | None = None,
    **fields: Any,
) -> Workshop:
    """Changes a planned or running workshop (not a closed one: that is history). With
    `invited`, the list of invited people becomes exactly that: the newly invited are
    notified, and people are taken off only while it is planned (once it runs, their
    ideas, dots and feedback count)."""
    unknown = set(fields) - EDITABLE
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    _require(can_organise(by, workshop), "only the workshop's organisers may change it")
    cleaners: dict[str, Callable[[Any], Any]] = {
        "topic": _clean_topic,
        "starts_at": _clean_starts_at,
        "location": lambda value: str(value).strip(),
        "facilitator": _clean_facilitator,
        "agenda": _clean_agenda,
        "dots_per_person": _clean_dots,
    }
    cleaned = {
        name: cleaners[name](value) if name in cleaners else value for name, value in fields.items()
    }
    wanted = _clean_people(invited) if invited is not None else None
    with transaction.atomic():
        current = _locked(workshop)
        check_version(f"Workshop {current.topic}", expected_version, current.version)
        _require_status(current, [WorkshopStatus.PLANNED, WorkshopStatus.RUNNING])
        if "team" in cleaned and cleaned["team"] != current.team:
            _require(
                can_create_workshop(by, cleaned["team"]),
                "only an admin, or a manager of the team, may hold a workshop for it",
            )
        if "dots_per_person" in cleaned:
            _check_dots_not_below_used(current, cleaned["dots_per_person"])
        before_invited = _invited_ids(current)
        new: list[User] = []
        if wanted is not None:
            gone = set(before_invited) - set(wanted)
            if gone and current.status != WorkshopStatus.PLANNED:
                names = ", ".join(str(person) for person in User.objects.filter(pk__in=gone))
                raise ValidationError(
                    {
                        "invited": _(
                            "The workshop has started: nobody can be taken off the list any "
                            "more (%(people)s)."
                        )
                        % {"people": names}
                    }
                )
            WorkshopInvitation.objects.filter(workshop=current, person_id__in=gone).delete()
            new = [person for pk, person in wanted.items() if pk not in before_invited]
            WorkshopInvitation.objects.bulk_create(
                [WorkshopInvitation(workshop=current, person=person) for person in new]
            )
        before = {**snapshot(current), "goals": _goal_keys(current), "invited": before_invited}
        for name, value in cleaned.items():
            setattr(current, name, value)
        current.full_clean(exclude=["goals", "invited"])
        current.version += 1
        current.save()
        if goals is not None:
            current.goals.set(goals)
        audit_record(
            actor=by,
            action="participation.workshop.update",
            target=current,
            before=before,
            after={
                **snapshot(current),
                "goals": _goal_keys(current),
                "invited": _invited_ids(current),
            },
        )
        if new:
            _notify_invited(current, new, by)
    return current


def _check_dots_not_below_used(workshop: Workshop, dots: int) -> None:
    used = (
        DotVote.objects.filter(idea__workshop=workshop)
        .values("person")
        .annotate(used=Count("pk"))
        .order_by("-used")
        .values_list("used", flat=True)
        .first()
    )
    if used and dots < used:
        raise ValidationError(
            {
                "dots_per_person": _(
                    "Someone has already placed %(used)s dots: give each person at least that many."
                )
                % {"used": used}
            }
        )


def workshop_invite(
    *,
    workshop: Workshop,
    by: User,
    people: Iterable[User],
    expected_version: int | None = None,
) -> list[WorkshopInvitation]:
    """Invites more people (those already invited are left as they are); the newly
    invited are notified. Returns the new invitations."""
    _require(can_organise(by, workshop), "only the workshop's organisers invite people")
    wanted = _clean_people(people)
    with transaction.atomic():
        current = _locked(workshop)
        check_version(f"Workshop {current.topic}", expected_version, current.version)
        _require_status(current, [WorkshopStatus.PLANNED, WorkshopStatus.RUNNING], "invited")
        before = _invited_ids(current)
        new = [person for pk, person in wanted.items() if pk not in before]
        if not new:
            return []
        made = WorkshopInvitation.objects.bulk_create(
            [WorkshopInvitation(workshop=current, person=person) for person in new]
        )
        current.version += 1
        current.save(update_fields=["version"])
        audit_record(
            actor=by,
            action="participation.workshop.invite",
            target=current,
            before={"invited": before},
            after={"invited": _invited_ids(current)},
        )
        _notify_invited(current, new, by)
    return made


def _move(workshop: Workshop, by: User, source: str, destination: str, doing: str) -> Workshop:
    _require(can_organise(by, workshop), f"only the workshop's organisers may {doing} it")
    with transaction.atomic():
        current = _locked(workshop)
        _require_status(current, [source])
        current.status = destination
        current.version += 1
        current.save(update_fields=["status", "version"])
        audit_record(
            actor=by,
            action=f"participation.workshop.{doing}",
            target=current,
            before={"status": source},
            after={"status": destination},
        )
    return current


def workshop_start(*, workshop: Workshop, by: User) -> Workshop:
    """Opens the board: from now on ideas and dots may be added. The invited are told."""
    with transaction.atomic():
        current = _move(workshop, by, WorkshopStatus.PLANNED, WorkshopStatus.RUNNING, "start")
        _notify_started(current, by)
    return current


def workshop_close(*, workshop: Workshop, by: User) -> Workshop:
    """Ends the workshop: the board is frozen, feedback stays open."""
    return _move(workshop, by, WorkshopStatus.RUNNING, WorkshopStatus.CLOSED, "close")


def attendance_record(*, workshop: Workshop, by: User, present: Iterable[int]) -> None:
    """Who attended: the invited people listed in `present` (ids), and nobody else."""
    _require(is_facilitating(by, workshop), "only the facilitator or an admin records attendance")
    present = set(present)
    with transaction.atomic():
        current = _locked(workshop)
        _require_status(current, [WorkshopStatus.RUNNING, WorkshopStatus.CLOSED], "present")
        invitations = {row.person_id: row for row in current.invitations.all()}
        strangers = present - set(invitations)
        if strangers:
            names = ", ".join(str(person) for person in User.objects.filter(pk__in=strangers))
            raise ValidationError(
                {
                    "present": _("Not invited to the workshop: %(people)s.")
                    % {"people": names or ", ".join(str(pk) for pk in sorted(strangers))}
                }
            )
        before = {str(pk): row.attended for pk, row in invitations.items()}
        for pk, row in invitations.items():
            attended = pk in present
            if row.attended != attended:
                row.attended = attended
                row.save(update_fields=["attended"])
        audit_record(
            actor=by,
            action="participation.workshop.attendance",
            target=current,
            before=before,
            after={str(pk): pk in present for pk in invitations},
        )


# -- ideas and dots --------------------------------------------------------------------------


def idea_add(*, workshop: Workshop, by: User, kind: str, text: str) -> WorkshopIdea:
    """An idea on the board of a running workshop."""
    _require(can_add_ideas(by, workshop), "only the invited people and the facilitator add ideas")
    if kind not in IdeaKind.values:
        raise ValidationError({"kind": _("Choose what kind of idea it is.")})
    text = text.strip()
    if not text:
        raise ValidationError({"text": _("Write the idea first.")})
    if len(text) > MAX_IDEA:
        raise ValidationError(
            {"text": _("Keep the idea under %(most)s characters.") % {"most": MAX_IDEA}}
        )
    with transaction.atomic():
        current = _locked(workshop)
        _require_status(current, [WorkshopStatus.RUNNING])
        idea = WorkshopIdea.objects.create(workshop=current, author=by, kind=kind, text=text)
        audit_record(actor=by, action="participation.idea.add", target=idea, after=snapshot(idea))
    return idea


def idea_group(*, idea: WorkshopIdea, by: User, group: str) -> WorkshopIdea:
    """The facilitator puts an idea in a group (an empty name takes it out of its group)."""
    _require(is_facilitating(by, idea.workshop), "only the facilitator groups the ideas")
    group = " ".join(group.split())
    if len(group) > MAX_GROUP:
        raise ValidationError(
            {"group": _("Keep the group's name under %(most)s characters.") % {"most": MAX_GROUP}}
        )
    with transaction.atomic():
        _require_status(
            _locked(idea.workshop), [WorkshopStatus.RUNNING, WorkshopStatus.CLOSED], "group"
        )
        current = WorkshopIdea.objects.select_for_update().get(pk=idea.pk)
        before = current.group
        if before == group:
            return current
        current.group = group
        current.save(update_fields=["group"])
        audit_record(
            actor=by,
            action="participation.idea.group",
            target=current,
            before={"group": before},
            after={"group": group},
        )
    return current


def dots_used(workshop: Workshop, person: User) -> int:
    return DotVote.objects.filter(idea__workshop=workshop, person=person).count()


def my_dots_left(workshop: Workshop, person: User) -> int:
    """How many of their dots a person may still place in the workshop."""
    return max(0, workshop.dots_per_person - dots_used(workshop, person))


def _require_dotter(by: User, workshop: Workshop) -> None:
    _require(is_invited(by, workshop), "only the invited people place dot votes")
    _require(by.role != Role.VIEWER, "viewers do not vote")


def dot_add(*, idea: WorkshopIdea, by: User) -> DotVote:
    """One of the person's dots on an idea (several on one idea are fine), within the
    workshop's dots per person."""
    workshop = idea.workshop
    _require_dotter(by, workshop)
    with transaction.atomic():
        current = _locked(workshop)
        _require_status(current, [WorkshopStatus.RUNNING], "dots")
        # The person's invitation row is locked so that two quick taps cannot both
        # spend the last dot.
        WorkshopInvitation.objects.select_for_update().get(workshop=current, person=by)
        used = dots_used(current, by)
        if used >= current.dots_per_person:
            raise ValidationError(
                {
                    "dots": _(
                        "You have used all your %(dots)s dots. Take one back from another "
                        "idea to put it here."
                    )
                    % {"dots": current.dots_per_person}
                }
            )
        dot = DotVote.objects.create(idea=idea, person=by)
        audit_record(
            actor=by,
            action="participation.idea.dot",
            target=idea,
            after={"dots_used": used + 1, "dot": dot.pk},
        )
    return dot


def dot_remove(*, idea: WorkshopIdea, by: User) -> None:
    """Takes back one of the person's dots from an idea."""
    workshop = idea.workshop
    _require_dotter(by, workshop)
    with transaction.atomic():
        current = _locked(workshop)
        _require_status(current, [WorkshopStatus.RUNNING], "dots")
        WorkshopInvitation.objects.select_for_update().get(workshop=current, person=by)
        dot = DotVote.objects.filter(idea=idea, person=by).order_by("-created_at", "-pk").first()
        if dot is None:
            raise ValidationError({"dots": _("You have no dot on this idea.")})
        used = dots_used(current, by)
        audit_record(
            actor=by,
            action="participation.idea.undot",
            target=idea,
            before={"dots_used": used, "dot": dot.pk},
            after={"dots_used": used - 1},
        )
        dot.delete()


def idea_to_proposal(*, idea: WorkshopIdea, by: User, kind: str, **fields: Any) -> Proposal:
    """Turns an idea into a proposal (once per idea), through the proposals' own service,
    which checks the proposal's details. The title and the reason default to the idea's
    words, the team to the workshop's, and the goal to the workshop's goal when it has
    exactly one."""
    workshop = idea.workshop
    _require(
        can_propose_from(by, idea),
        "only the facilitator, an admin or the idea's author turns it into a proposal",
    )
    _require_status(workshop, [WorkshopStatus.RUNNING, WorkshopStatus.CLOSED], "idea")
    defaults: dict[str, Any] = {
        "title": idea.text[:300],
        "why": idea.text,
        "team": workshop.team,
    }
    goals = list(workshop.goals.all()[:2])
    if len(goals) == 1:
        defaults["goal"] = goals[0]
    for name, value in defaults.items():
        if fields.get(name) in (None, ""):
            fields[name] = value
    with transaction.atomic():
        current = WorkshopIdea.objects.select_for_update().get(pk=idea.pk)
        existing = Proposal.objects.filter(idea=current).first()
        if existing is not None:
            raise ValidationError(
                {
                    "idea": _("This idea is already the proposal “%(title)s”.")
                    % {"title": existing.title}
                }
            )
        try:
            with transaction.atomic():
                proposal = proposal_create(by=by, kind=kind, idea=current, **fields)
        except IntegrityError:
            raise ValidationError(
                {"idea": _("This idea was just turned into a proposal by someone else.")}
            ) from None
        audit_record(
            actor=by,
            action="participation.idea.propose",
            target=current,
            after={"proposal": proposal.pk, "kind": kind},
        )
    return proposal


# -- feedback ----------------------------------------------------------------------------------


def feedback_give(
    *, workshop: Workshop, by: User, rating: Any, comment: str = ""
) -> WorkshopFeedback:
    """An invited person's rating (1 to 5) and comment, once, while it runs or after."""
    _require(can_give_feedback(by, workshop), "only the invited people give feedback")
    try:
        number = int(rating)
    except (TypeError, ValueError):
        number = 0
    if number not in RATINGS or (isinstance(rating, float | Decimal) and rating != number):
        raise ValidationError({"rating": _("Rate the workshop from 1 to 5.")})
    comment = comment.strip()
    if len(comment) > MAX_FEEDBACK:
        raise ValidationError(
            {"comment": _("Keep the comment under %(most)s characters.") % {"most": MAX_FEEDBACK}}
        )
    with transaction.atomic():
        current = _locked(workshop)
        _require_status(current, [WorkshopStatus.RUNNING, WorkshopStatus.CLOSED], "rating")
        if WorkshopFeedback.objects.filter(workshop=current, person=by).exists():
            raise ValidationError(
                {"rating": _("You have already given your feedback on this workshop.")}
            )
        feedback = WorkshopFeedback.objects.create(
            workshop=current, person=by, rating=number, comment=comment
        )
        audit_record(
            actor=by,
            action="participation.workshop.feedback",
            target=current,
            after={"rating": number, "comment": comment, "feedback": feedback.pk},
        )
    return feedback


# -- reads ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IdeaLine:
    """An idea on the board: its dots, the reader's own dots on it, its proposal if any."""

    idea: WorkshopIdea
    dots: int
    mine: int
    proposal: Proposal | None


@dataclass(frozen=True)
class IdeaGroup:
    """The ideas of one group (name "" for those not in a group), most dots first."""

    name: str
    ideas: list[IdeaLine]

    @property
    def dots(self) -> int:
        return sum(line.dots for line in self.ideas)


def idea_board(workshop: Workshop, person: User | None = None) -> list[IdeaGroup]:
    """The ideas by group: groups with most dots first (ideas in no group last), and in
    each group the ideas with most dots first, then the oldest. One query."""
    person_id = person.pk if person is not None else None
    ideas = (
        WorkshopIdea.objects.filter(workshop=workshop)
        .select_related("author", "proposal")
        .annotate(
            dot_count=Count("dots"),
            my_dots=Count("dots", filter=Q(dots__person_id=person_id)),
        )
        .order_by("created_at", "pk")
    )
    groups: dict[str, list[IdeaLine]] = {}
    for idea in ideas:
        try:
            proposal: Proposal | None = idea.proposal
        except Proposal.DoesNotExist:
            proposal = None
        groups.setdefault(idea.group, []).append(
            IdeaLine(idea=idea, dots=idea.dot_count, mine=idea.my_dots, proposal=proposal)
        )
    found = [
        IdeaGroup(name=name, ideas=sorted(lines, key=lambda line: -line.dots))
        for name, lines in groups.items()
    ]
    return sorted(found, key=lambda group: (group.name == "", -group.dots, group.name.lower()))


@dataclass(frozen=True)
class Attendance:
    invited: int
    attended: list[User]
    absent: list[User]
    unknown: list[User]


@dataclass(frozen=True)
class Feedback:
    count: int
    average: Decimal | None  # to one decimal
    ratings: dict[int, int]  # how many gave each rating, 5 to 1
    comments: list[WorkshopFeedback]  # those with a comment, newest first


@dataclass(frozen=True)
class WorkshopSummary:
    workshop: Workshop
    attendance: Attendance
    groups: list[IdeaGroup]
    idea_count: int
    dot_count: int
    proposals: list[Proposal]
    feedback: Feedback


def workshop_summary(workshop: Workshop) -> WorkshopSummary:
    """What came of a workshop: who came, the ideas by group with their dots, the
    proposals made from them with where they stand, and the participants' feedback."""
    invitations = list(
        WorkshopInvitation.objects.filter(workshop=workshop)
        .select_related("person")
        .order_by("person__display_name", "person__email")
    )
    attendance = Attendance(
        invited=len(invitations),
        attended=[row.person for row in invitations if row.attended is True],
        absent=[row.person for row in invitations if row.attended is False],
        unknown=[row.person for row in invitations if row.attended is None],
    )
    groups = idea_board(workshop)
    lines = [line for group in groups for line in group.ideas]
    proposals = list(
        Proposal.objects.filter(idea__workshop=workshop)
        .select_related("author", "idea", "kpi")
        .order_by("created_at", "pk")
    )
    rows = list(WorkshopFeedback.objects.filter(workshop=workshop).order_by("-created_at", "-pk"))
    ratings = {rating: 0 for rating in reversed(RATINGS)}
    for row in rows:
        ratings[row.rating] = ratings.get(row.rating, 0) + 1
    average = None
    if rows:
        average = (Decimal(sum(row.rating for row in rows)) / len(rows)).quantize(
            Decimal("0.1"), rounding=ROUND_HALF_UP
        )
    return WorkshopSummary(
        workshop=workshop,
        attendance=attendance,
        groups=groups,
        idea_count=len(lines),
        dot_count=sum(line.dots for line in lines),
        proposals=proposals,
        feedback=Feedback(
            count=len(rows),
            average=average,
            ratings=ratings,
            comments=[row for row in rows if row.comment],
        ),
    )


def workshops_for_list() -> list[Workshop]:
    """Every workshop, soonest first for those to come, with counts for the list."""
    return list(
        Workshop.objects.select_related("team", "facilitator")
        .annotate(
            invited_count=Count("invitations", distinct=True),
            idea_count=Count("ideas", distinct=True),
        )
        .order_by("-starts_at", "pk")
    )


def feedback_of(workshop: Workshop, person: User) -> WorkshopFeedback | None:
    return WorkshopFeedback.objects.filter(workshop=workshop, person=person).first()
