"""Reviews and the rest of Headway: employees' proposals reach a review's agenda through
settings.HEADWAY_AGENDA_SOURCES (neither app imports the other), and owners are notified."""

from __future__ import annotations

from decimal import Decimal

from headway.kpis.models import Kpi
from headway.participation.proposals import (
    proposal_accept,
    proposal_create,
    proposal_set_status,
)
from headway.reviews.choices import AgendaReason
from headway.reviews.models import AgendaItem, Meeting
from tests.app.conftest import Organisation
from tests.reviews.conftest import prepared


def test_an_accepted_target_change_joins_its_kpis_item_on_the_agenda(
    org: Organisation, meeting: Meeting
) -> None:
    conversion = Kpi.objects.get(key="conversion")
    proposal = proposal_create(
        by=org.member,
        kind="target_change",
        title="A reachable conversion target",
        why="Half of the leads are not ours to convert",
        kpi=conversion,
        target_value=Decimal("0.3"),
        effective_from="2026-05",
    )
    proposal_accept(proposal=proposal, by=org.manager)
    prepared(org, meeting)
    item = AgendaItem.objects.get(meeting=meeting, kpi=conversion)
    assert AgendaReason.PROPOSAL.value in item.reasons
    assert [entry["proposal"] for entry in item.facts["proposals"]] == [proposal.pk]
    assert AgendaItem.objects.filter(meeting=meeting, kpi=conversion).count() == 1


def test_a_new_kpi_under_review_is_an_item_of_its_own_and_stays_one_on_refresh(
    org: Organisation, meeting: Meeting
) -> None:
    proposal = proposal_create(
        by=org.member,
        kind="new_kpi",
        title="Track won deals",
        why="Wins are what we are paid for",
        kpi_name="Won deals",
        formula="won",
        unit="count",
        grain="month",
        direction="up",
        team=org.north,
    )
    proposal_set_status(proposal=proposal, by=org.manager, status="under_review")
    prepared(org, meeting)
    prepared(org, meeting)
    items = AgendaItem.objects.filter(meeting=meeting, kpi__isnull=True, action__isnull=True)
    assert [(item.title, item.reason) for item in items] == [
        ("Proposal: Track won deals", AgendaReason.PROPOSAL.value)
    ]
    assert items[0].facts["proposals"][0]["proposal"] == proposal.pk


def test_preparing_tells_each_owner_once_that_the_meeting_needs_their_comment(
    org: Organisation, meeting: Meeting
) -> None:
    from headway.notifications.models import Notification

    prepared(org, meeting)
    prepared(org, meeting)
    told = Notification.objects.filter(kind="review").values_list("person__email", "url")
    assert sorted(told) == [
        ("nora@example.com", f"/reviews/meetings/{meeting.pk}/"),
        ("sam@example.com", f"/reviews/meetings/{meeting.pk}/"),
    ]
