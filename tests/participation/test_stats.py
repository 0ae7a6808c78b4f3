"""Participation in numbers: per team and month, proposals, comments, workshops held with
their attendance and feedback; and the share of KPIs that came from proposals."""

from __future__ import annotations

import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from headway.accounts.models import Membership, Team, User
from headway.kpis.choices import TargetOrigin
from headway.kpis.models import Kpi
from headway.kpis.services import kpi_create, target_revise
from headway.participation.models import (
    Comment,
    Proposal,
    ProposalKind,
    ProposalStatus,
    Workshop,
    WorkshopFeedback,
    WorkshopInvitation,
    WorkshopStatus,
)
from headway.participation.stats import (
    Counts,
    ParticipationStats,
    can_see_participation,
    participation_stats,
)
from tests.app.conftest import Organisation

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 4, 10)
TAIPEI = ZoneInfo("Asia/Taipei")


def at(day: str, hour: int = 10, zone: datetime.tzinfo = TAIPEI) -> datetime.datetime:
    return datetime.datetime.fromisoformat(day).replace(hour=hour, tzinfo=zone)


def propose(author: User, when: datetime.datetime, **fields: object) -> Proposal:
    values: dict[str, object] = {
        "kind": ProposalKind.TARGET_CHANGE,
        "title": "Lower the target",
        "why": "Out of reach",
        **fields,
    }
    proposal = Proposal.objects.create(author=author, **values)
    Proposal.objects.filter(pk=proposal.pk).update(created_at=when)
    return proposal


def comment(author: User, when: datetime.datetime, hidden: bool = False) -> Comment:
    made = Comment.objects.create(
        subject_kind="kpi",
        subject_key="conversion",
        author=author,
        text="Agreed",
        hidden_at=when if hidden else None,
    )
    Comment.objects.filter(pk=made.pk).update(created_at=when)
    return made


def workshop(
    org: Organisation,
    when: datetime.datetime,
    status: str,
    team: Team | None,
    invited: dict[User, bool | None],
    ratings: dict[User, int] | None = None,
) -> Workshop:
    held = Workshop.objects.create(
        topic="Conversion ideas",
        team=team,
        starts_at=when,
        facilitator=org.manager,
        created_by=org.manager,
        status=status,
    )
    for person, attended in invited.items():
        WorkshopInvitation.objects.create(workshop=held, person=person, attended=attended)
    for person, rating in (ratings or {}).items():
        WorkshopFeedback.objects.create(workshop=held, person=person, rating=rating)
    return held


@pytest.fixture
def acts(org: Organisation, colleague: User) -> Organisation:
    """A quarter of taking part (February to April 2026); Mia is in north and south."""
    Membership.objects.create(user=colleague, team=org.south)
    propose(org.member, at("2026-03-15"))
    propose(org.member, at("2026-04-02"))
    propose(org.other_manager, at("2026-02-03"))
    propose(org.admin, at("2026-03-04"))  # the admin is in no team
    propose(org.member, at("2026-01-20"))  # before the months shown
    comment(org.member, at("2026-03-05"))
    comment(org.member, at("2026-03-06"), hidden=True)
    # 17:00 UTC on 28 February is 01:00 on 1 March in Taipei.
    comment(colleague, at("2026-02-28", 17, datetime.UTC))
    comment(org.viewer, at("2026-04-01"))
    workshop(
        org,
        at("2026-03-20"),
        WorkshopStatus.CLOSED,
        org.north,
        {org.member: True, org.viewer: False, org.other_manager: True},
        {org.member: 4, org.other_manager: 5},
    )
    workshop(org, at("2026-03-25"), WorkshopStatus.PLANNED, org.north, {org.member: None})
    workshop(org, at("2026-04-02"), WorkshopStatus.RUNNING, None, {org.manager: True})
    return org


def month(stats: ParticipationStats, team: str | None, label: str) -> Counts:
    table = (
        stats.organisation
        if team is None
        else next(table for table in stats.teams if table.team and table.team.key == team)
    )
    assert table is not None
    return next(row.counts for row in table.rows if row.period.label == label)


def test_the_months_run_up_to_the_current_one(acts: Organisation) -> None:
    stats = participation_stats(months=3, today=TODAY)
    assert [period.label for period in stats.months] == ["2026-02", "2026-03", "2026-04"]
    assert [table.team.key for table in stats.teams if table.team] == ["sales", "north", "south"]


def test_proposals_count_for_their_authors_teams_by_month(acts: Organisation) -> None:
    stats = participation_stats(months=3, today=TODAY)
    assert [
        month(stats, "north", label).proposals for label in ("2026-02", "2026-03", "2026-04")
    ] == [0, 1, 1]
    assert month(stats, "south", "2026-02").proposals == 1
    # The admin's proposal counts for the organisation only; January's not at all.
    assert month(stats, None, "2026-03").proposals == 2
    assert stats.organisation is not None
    assert stats.organisation.total.proposals == 4


def test_hidden_comments_do_not_count_and_months_follow_the_organisations_clock(
    acts: Organisation,
) -> None:
    stats = participation_stats(months=3, today=TODAY)
    # Mark's visible comment and Mia's comment written on 1 March, Taipei time.
    assert month(stats, "north", "2026-03").comments == 2
    assert month(stats, "north", "2026-02").comments == 0
    assert month(stats, "north", "2026-04").comments == 1  # Vera's


def test_someone_in_two_teams_counts_in_both_and_once_for_the_organisation(
    acts: Organisation,
) -> None:
    stats = participation_stats(months=3, today=TODAY)
    assert month(stats, "south", "2026-03").comments == 1  # Mia's, also counted in north
    assert month(stats, None, "2026-03").comments == 2


def test_workshops_held_with_attendance_and_feedback_per_team(acts: Organisation) -> None:
    stats = participation_stats(months=3, today=TODAY)
    north = month(stats, "north", "2026-03")
    assert (north.workshops, north.attended, north.invited) == (1, 1, 2)
    assert north.attendance == Decimal("0.5")
    assert (north.feedback_count, north.feedback_average) == (1, Decimal(4))
    south = month(stats, "south", "2026-03")
    assert (south.workshops, south.attended, south.invited, south.feedback_average) == (
        1,
        1,
        1,
        Decimal(5),
    )
    everyone = month(stats, None, "2026-03")
    # The planned workshop was not held; the one held counts once.
    assert (everyone.workshops, everyone.attended, everyone.invited) == (1, 2, 3)
    assert everyone.feedback_average == Decimal("4.5")
    # April's workshop has no team: it counts for north through Nora, who was invited.
    assert month(stats, "north", "2026-04").workshops == 1
    assert month(stats, "south", "2026-04").workshops == 0
    assert month(stats, "sales", "2026-03").is_empty


def test_a_team_filter_shows_that_team_and_the_teams_below_it(acts: Organisation) -> None:
    sales = Team.objects.get(key="sales")
    stats = participation_stats(months=3, team=sales, today=TODAY)
    assert stats.organisation is None
    assert [table.team.key for table in stats.teams if table.team] == ["sales", "north", "south"]
    north = participation_stats(months=3, team=acts.north, today=TODAY)
    assert [table.team.key for table in north.teams if table.team] == ["north"]
    assert month(north, "north", "2026-03").comments == 2


def test_the_share_of_kpis_whose_definition_or_target_came_from_a_proposal(
    org: Organisation,
) -> None:
    assert participation_stats(today=TODAY).origins.share == 0
    proposal = propose(org.member, at("2026-03-01"), kpi=Kpi.objects.get(key="conversion"))
    target_revise(
        kpi=Kpi.objects.get(key="conversion"),
        by=org.manager,
        effective_from="2026-04",
        value=Decimal("0.4"),
        reason="Proposed by Mark",
        origin=TargetOrigin.PROPOSAL,
        origin_reference=proposal.reference,
    )
    made = kpi_create(
        by=org.manager,
        key="calls",
        name="Calls",
        formula="leads",
        unit="count",
        grain="month",
        team=org.north,
    )
    propose(
        org.member,
        at("2026-03-02"),
        kind=ProposalKind.NEW_KPI,
        status=ProposalStatus.ACCEPTED,
        applied_kpi=made,
    )
    origins = participation_stats(today=TODAY).origins
    assert origins.active == Kpi.objects.filter(is_active=True).count() == 3
    assert [kpi.key for kpi in origins.by_target] == ["conversion"]
    assert [kpi.key for kpi in origins.by_definition] == ["calls"]
    assert [kpi.key for kpi in origins.from_proposals] == ["conversion", "calls"]
    assert origins.share == Decimal(2) / Decimal(3)
    # Per team: all of north's KPIs, none of south's.
    assert participation_stats(team=org.north, today=TODAY).origins.share == 1
    south = participation_stats(team=org.south, today=TODAY).origins
    assert (south.active, len(south.from_proposals), south.share) == (1, 0, 0)


def test_only_admins_and_managers_see_participation(org: Organisation) -> None:
    assert can_see_participation(org.admin)
    assert can_see_participation(org.manager)
    assert not can_see_participation(org.member)
    assert not can_see_participation(org.viewer)


def test_the_number_of_queries_does_not_grow_with_the_acts(acts: Organisation) -> None:
    with CaptureQueriesContext(connection) as few:
        participation_stats(months=3, today=TODAY)
    for day in range(1, 20):
        propose(acts.member, at(f"2026-03-{day:02d}"))
        comment(acts.viewer, at(f"2026-04-{day:02d}"))
    with CaptureQueriesContext(connection) as many:
        participation_stats(months=3, today=TODAY)
    assert len(many.captured_queries) == len(few.captured_queries)
