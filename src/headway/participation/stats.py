"""Participation in numbers, for managers: per team and month, the proposals made, the
comments written, the workshops held with their attendance and feedback; and the share
of active KPIs whose definition or target came from a proposal.

How acts are counted:

- Months are calendar months in the organisation's time zone: a proposal or comment by
  when it was written, a workshop and its attendance and feedback by when it started.
- People count for the teams they belong to (their memberships). Someone in several teams
  counts in full in each of them, so the teams' rows may add up to more than the
  organisation's, which counts every act once. Acts of people in no team count in the
  organisation's row only.
- A comment hidden by a moderator does not count.
- A workshop is held once it started (running or closed); it counts for its own team and
  for every team one of whose people was invited. Attendance is the share of a team's
  invitations to held workshops marked as attended; the feedback is its people's.
- A KPI's definition came from a proposal when an accepted proposal made it
  (``Proposal.applied_kpi``); its target, when one of its target versions has the origin
  "proposal". Proposals of anyone count: every person is an employee.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone

from headway.accounts.choices import Role
from headway.accounts.models import Membership, Organization, Team
from headway.accounts.permissions import is_admin, is_signed_in
from headway.kpis.choices import TargetOrigin
from headway.kpis.models import Kpi, TargetVersion
from headway.lib.periods import Grain, Period, local_bounds, period_containing, to_local
from headway.participation.models import (
    Comment,
    Proposal,
    Workshop,
    WorkshopFeedback,
    WorkshopInvitation,
    WorkshopStatus,
)

HELD = (WorkshopStatus.RUNNING, WorkshopStatus.CLOSED)


def can_see_participation(user: Any) -> bool:
    """Admins and managers see how people take part."""
    return is_admin(user) or (is_signed_in(user) and user.role == Role.MANAGER)


@dataclass
class Counts:
    """What one team (or the organisation) did in one month, or over all the months."""

    proposals: int = 0
    comments: int = 0
    workshops: int = 0
    invited: int = 0
    attended: int = 0
    feedback_count: int = 0
    feedback_sum: int = 0

    @property
    def attendance(self) -> Decimal | None:
        """Attended / invited, None without invitations."""
        return Decimal(self.attended) / Decimal(self.invited) if self.invited else None

    @property
    def feedback_average(self) -> Decimal | None:
        if not self.feedback_count:
            return None
        return Decimal(self.feedback_sum) / Decimal(self.feedback_count)

    @property
    def is_empty(self) -> bool:
        return not (self.proposals or self.comments or self.workshops or self.feedback_count)

    def add(self, other: Counts) -> None:
        self.proposals += other.proposals
        self.comments += other.comments
        self.workshops += other.workshops
        self.invited += other.invited
        self.attended += other.attended
        self.feedback_count += other.feedback_count
        self.feedback_sum += other.feedback_sum


@dataclass
class MonthRow:
    period: Period
    counts: Counts


@dataclass
class TeamTable:
    """One team's months, oldest first, and their total; ``team`` None is the whole
    organisation."""

    team: Team | None
    rows: list[MonthRow]

    @property
    def total(self) -> Counts:
        total = Counts()
        for row in self.rows:
            total.add(row.counts)
        return total


@dataclass
class KpiOrigins:
    """How many of the active KPIs have a definition or a target from a proposal."""

    active: int
    by_definition: list[Kpi]
    by_target: list[Kpi]
    from_proposals: list[Kpi]

    @property
    def share(self) -> Decimal | None:
        if not self.active:
            return None
        return Decimal(len(self.from_proposals)) / Decimal(self.active)


@dataclass
class ParticipationStats:
    months: list[Period]
    organisation: TeamTable | None
    teams: list[TeamTable]
    origins: KpiOrigins
    team: Team | None = None
    all_teams: list[Team] = field(default_factory=list)


def _zone(organization: Organization) -> ZoneInfo:
    try:
        return ZoneInfo(organization.timezone)
    except (ValueError, KeyError):
        return ZoneInfo("UTC")


def participation_stats(
    months: int = 12, team: Team | None = None, *, today: datetime.date | None = None
) -> ParticipationStats:
    """The last ``months`` months up to the current one, per team; with ``team``, that
    team and the teams below it only (and the KPIs of those teams)."""
    months = max(1, months)
    organization = Organization.current()
    zone = _zone(organization)
    fiscal = organization.fiscal_year_start
    today = today or timezone.localdate(timezone=zone)
    current = period_containing(Grain.MONTH, today, fiscal)
    periods = [current.shift(offset - months + 1) for offset in range(months)]
    begin, _ = local_bounds(periods[0], zone)
    _, end = local_bounds(periods[-1], zone)
    index = {period.start: number for number, period in enumerate(periods)}

    def month_of(moment: datetime.datetime) -> int | None:
        local = to_local(moment, zone).date()
        return index.get(period_containing(Grain.MONTH, local, fiscal).start)

    everyone = list(Team.objects.select_related("parent").order_by("name"))
    children: dict[int | None, list[Team]] = defaultdict(list)
    for item in everyone:
        children[item.parent_id].append(item)
    # With a team chosen: that team, then the teams below it.
    shown = [team, *_tree_order(children, team.pk)] if team else _tree_order(children, None)
    shown_ids = {item.pk for item in shown}
    teams_of: dict[int, set[int]] = defaultdict(set)
    for person_id, team_id in Membership.objects.values_list("user_id", "team_id"):
        teams_of[person_id].add(team_id)

    organisation = [Counts() for _ in periods]
    per_team: dict[int, list[Counts]] = {item.pk: [Counts() for _ in periods] for item in shown}

    def count(person_id: int, month: int | None, what: str, amount: int = 1) -> None:
        if month is None:
            return
        setattr(organisation[month], what, getattr(organisation[month], what) + amount)
        for team_id in teams_of.get(person_id, ()):
            if team_id in per_team:
                cell = per_team[team_id][month]
                setattr(cell, what, getattr(cell, what) + amount)

    for author_id, created_at in Proposal.objects.filter(
        created_at__gte=begin, created_at__lt=end
    ).values_list("author_id", "created_at"):
        count(author_id, month_of(created_at), "proposals")
    for author_id, created_at in Comment.objects.filter(
        created_at__gte=begin, created_at__lt=end, hidden_at__isnull=True
    ).values_list("author_id", "created_at"):
        count(author_id, month_of(created_at), "comments")

    held = {
        pk: (month_of(starts_at), team_id)
        for pk, starts_at, team_id in Workshop.objects.filter(
            starts_at__gte=begin, starts_at__lt=end, status__in=HELD
        ).values_list("pk", "starts_at", "team_id")
    }
    workshop_teams: dict[int, set[int]] = defaultdict(set)
    for pk, (_month, team_id) in held.items():
        if team_id is not None:
            workshop_teams[pk].add(team_id)
    for workshop_id, person_id, attended in WorkshopInvitation.objects.filter(
        workshop_id__in=held
    ).values_list("workshop_id", "person_id", "attended"):
        month = held[workshop_id][0]
        workshop_teams[workshop_id] |= teams_of.get(person_id, set())
        count(person_id, month, "invited")
        if attended:
            count(person_id, month, "attended")
    for workshop_id, (month, _team) in held.items():
        if month is None:
            continue
        organisation[month].workshops += 1
        for team_id in workshop_teams.get(workshop_id, ()):
            if team_id in per_team:
                per_team[team_id][month].workshops += 1
    for workshop_id, person_id, rating in WorkshopFeedback.objects.filter(
        workshop_id__in=held
    ).values_list("workshop_id", "person_id", "rating"):
        month = held[workshop_id][0]
        count(person_id, month, "feedback_count")
        count(person_id, month, "feedback_sum", rating)

    def table(owner: Team | None, cells: list[Counts]) -> TeamTable:
        return TeamTable(
            team=owner,
            rows=[
                MonthRow(period=period, counts=cell)
                for period, cell in zip(periods, cells, strict=True)
            ],
        )

    return ParticipationStats(
        months=periods,
        organisation=table(None, organisation) if team is None else None,
        teams=[table(item, per_team[item.pk]) for item in shown],
        origins=kpi_origins(shown_ids if team is not None else None),
        team=team,
        all_teams=_tree_order(children, None),
    )


def _tree_order(children: dict[int | None, list[Team]], parent: int | None) -> list[Team]:
    """The teams below ``parent``, each followed by the teams below it."""
    found: list[Team] = []
    for child in children.get(parent, []):
        found.append(child)
        found.extend(_tree_order(children, child.pk))
    return found


def kpi_origins(team_ids: set[int] | None = None) -> KpiOrigins:
    """Of the active KPIs (of those teams, when given), the ones whose definition or a
    target came from a proposal."""
    kpis = Kpi.objects.filter(is_active=True).order_by("position", "key")
    if team_ids is not None:
        kpis = kpis.filter(team_id__in=team_ids)
    active = list(kpis)
    defined = set(
        Proposal.objects.filter(applied_kpi__isnull=False).values_list("applied_kpi_id", flat=True)
    )
    targeted = set(
        TargetVersion.objects.filter(origin=TargetOrigin.PROPOSAL).values_list("kpi_id", flat=True)
    )
    return KpiOrigins(
        active=len(active),
        by_definition=[kpi for kpi in active if kpi.pk in defined],
        by_target=[kpi for kpi in active if kpi.pk in targeted],
        from_proposals=[kpi for kpi in active if kpi.pk in defined or kpi.pk in targeted],
    )
