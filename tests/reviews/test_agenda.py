"""The agenda a meeting starts from is found in the data: red KPIs first, targets the
realism check finds out of reach (or too easy), stale data, open actions of earlier
meetings, KPIs no meeting has reviewed yet, and whatever agenda sources add. Refreshing
it keeps what the organiser did by hand."""

from __future__ import annotations

import csv
import datetime
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from headway.ingestion.models import ImportRun, ImportStatus
from headway.kpis.models import Dataset
from headway.kpis.services import kpi_create, target_revise
from headway.results.models import Result
from headway.results.services import results_recompute
from headway.reviews.agenda import AgendaEntry, register_agenda_source, unregister_agenda_source
from headway.reviews.choices import AgendaReason, DecisionKind
from headway.reviews.models import AgendaItem, Meeting
from headway.reviews.selectors import agenda
from headway.reviews.services import (
    action_close,
    agenda_item_add,
    agenda_item_remove,
    agenda_reorder,
    decision_apply,
    item_notes_save,
    meeting_conclude,
    meeting_create,
    meeting_start,
)
from tests.app.conftest import Organisation
from tests.reviews.conftest import at, decided, kpi, prepared

RED, UNREALISTIC, STALE, PROPOSAL, OPEN_ACTION, NEVER_REVIEWED, ADDED = (
    AgendaReason.RED,
    AgendaReason.UNREALISTIC,
    AgendaReason.STALE,
    AgendaReason.PROPOSAL,
    AgendaReason.OPEN_ACTION,
    AgendaReason.NEVER_REVIEWED,
    AgendaReason.ADDED,
)


def item_of(meeting: Meeting, key: str) -> AgendaItem:
    return AgendaItem.objects.get(meeting=meeting, kpi__key=key)


def keys(meeting: Meeting) -> list[str]:
    return [item.kpi.key if item.kpi else item.title for item in agenda(meeting)]


def another_meeting(org: Organisation, meeting: Meeting, **fields: Any) -> Meeting:
    wanted: dict[str, Any] = {
        "title": "Another review",
        "scheduled_at": at(2026, 4, 20),
        "chair": org.admin,
    }
    wanted.update(fields)
    return meeting_create(by=org.admin, cycle=meeting.cycle, **wanted)


def test_a_red_kpi_comes_first_with_red_as_its_reason(org: Organisation, meeting: Meeting) -> None:
    """Revenue (listed after conversion) was 50 against 100 in February; conversion met its
    target but no meeting has reviewed it yet."""
    meeting = prepared(org, meeting)
    assert keys(meeting) == ["revenue", "conversion"]
    revenue, conversion = agenda(meeting)
    assert (revenue.reason, revenue.reasons) == (RED, [RED, NEVER_REVIEWED])
    assert (conversion.reason, conversion.reasons) == (NEVER_REVIEWED, [NEVER_REVIEWED])
    assert [item.position for item in agenda(meeting)] == [0, 1]


def test_the_facts_are_the_stored_results_of_the_last_period_under_review(
    org: Organisation, meeting: Meeting
) -> None:
    meeting = prepared(org, meeting)
    for item in agenda(meeting):
        assert item.kpi is not None
        stored = Result.objects.get(kpi=item.kpi, period="2026-02", group_dimension="")
        facts = item.facts
        assert facts["period"] == "2026-02"
        assert Decimal(str(facts["value"])) == stored.value
        assert Decimal(str(facts["target"])) == stored.target
        assert Decimal(str(facts["attainment"])) == stored.attainment
        assert facts["status"] == stored.status
        assert facts["insights_en"]
        assert facts["insights_zh"]
    # And the stored revenue is what the data file says: the deals won in February.
    with (org.folder / "deals.csv").open(encoding="utf-8") as file:
        won = [
            Decimal(row["amount"])
            for row in csv.DictReader(file)
            if row["stage"] == "won" and row["closed_at"].startswith("2026-02")
        ]
    assert item_of(meeting, "revenue").facts["value"] == float(sum(won)) == 50.0
    assert item_of(meeting, "revenue").facts["attainment"] == 0.5


def test_the_last_period_under_review_ends_with_the_cycle(
    org: Organisation, meeting: Meeting
) -> None:
    """Prepared in January, the 2026-Q1 review reads January; in April, February (the last
    month with data in the quarter)."""
    early = prepared(org, another_meeting(org, meeting), datetime.date(2026, 1, 20))
    assert item_of(early, "revenue").facts["period"] == "2026-01"
    assert item_of(early, "revenue").facts["status"] == "green"
    assert RED not in item_of(early, "revenue").reasons


LEADS_HEADER = "lead_id,created_at,team\n"
DEALS_HEADER = "deal_id,closed_at,team,stage,amount\n"
MONTHS = ["2025-07", "2025-08", "2025-09", "2025-10", "2025-11", "2025-12", "2026-01", "2026-02"]


@pytest.fixture
def eight_steady_months(org: Organisation) -> Iterator[None]:
    """Every month from 2025-07 to 2026-02: four leads (two per team) and two won deals
    of 100 (one per team), so conversion is 50% and revenue 200 every month. The files
    are put back afterwards (the organisation is shared by the module's tests)."""
    leads, deals = [LEADS_HEADER], [DEALS_HEADER]
    for month in MONTHS:
        for number, team in enumerate(["north", "north", "south", "south"]):
            leads.append(f"{month}-{number + 1:02d},{month}-0{number + 1} 10:00:00,{team}\n")
        for number, team in enumerate(["north", "south"]):
            deals.append(f"{month}-{team},{month}-1{number},{team},won,100\n")
    originals = {
        name: (org.folder / name).read_text(encoding="utf-8") for name in ("leads.csv", "deals.csv")
    }
    try:
        (org.folder / "leads.csv").write_text("".join(leads), encoding="utf-8")
        (org.folder / "deals.csv").write_text("".join(deals), encoding="utf-8")
        yield
    finally:
        for name, text in originals.items():
            (org.folder / name).write_text(text, encoding="utf-8")


@pytest.mark.usefixtures("eight_steady_months")
def test_a_target_never_met_is_flagged_unrealistic_and_one_always_met_too(
    org: Organisation, meeting: Meeting
) -> None:
    target_revise(
        kpi=kpi("conversion"), by=org.admin, effective_from="2026-02", value="0.9", reason="stretch"
    )
    target_revise(
        kpi=kpi("revenue"), by=org.admin, effective_from="2026-02", value="1", reason="floor"
    )
    results_recompute(by=None)
    assert (
        list(
            Result.objects.filter(kpi__key="conversion", group_dimension="")
            .order_by("period_start")
            .values_list("value", flat=True)
        )
        == [Decimal("0.5")] * 8
    )
    meeting = prepared(org, meeting)
    conversion, revenue = item_of(meeting, "conversion"), item_of(meeting, "revenue")
    assert conversion.reason == RED
    assert UNREALISTIC in conversion.reasons
    assert conversion.facts["realism"] == {
        "verdict": "too_hard",
        "met": 0,
        "periods": 8,
        "target": 0.9,
        "half_time_target": 0.5,
    }
    assert revenue.facts["status"] == "green"
    assert revenue.reason == UNREALISTIC
    assert revenue.facts["realism"]["verdict"] == "too_easy"
    assert revenue.facts["realism"]["met"] == 8


def test_stale_data_puts_the_kpis_that_read_it_on_the_agenda(
    org: Organisation, meeting: Meeting
) -> None:
    deals = Dataset.objects.get(key="deals")
    deals.freshness_hours = 24
    deals.save()
    three_days_ago = timezone.now() - datetime.timedelta(days=3, hours=1)
    ImportRun.objects.create(
        dataset=deals,
        started_at=three_days_ago,
        finished_at=three_days_ago,
        status=ImportStatus.SUCCEEDED,
        file_name="deals.csv",
        sha256="0" * 64,
    )
    meeting = prepared(org, meeting)
    for key in ("conversion", "revenue"):
        item = item_of(meeting, key)
        assert STALE in item.reasons
        assert item.facts["stale"] == [{"dataset": "deals", "age_days": 3}]
    assert item_of(meeting, "conversion").reason == STALE


def test_a_kpi_counts_as_reviewed_once_a_decided_meeting_had_it_on_its_agenda(
    org: Organisation, meeting: Meeting
) -> None:
    later = another_meeting(org, meeting, title="Follow-up")
    meeting = prepared(org, meeting)
    agenda_item_remove(item=item_of(meeting, "revenue"), by=org.admin)
    later = prepared(org, later)
    assert NEVER_REVIEWED in item_of(later, "conversion").reasons
    meeting = meeting_start(meeting=meeting, by=org.admin)
    later = prepared(org, later)
    assert NEVER_REVIEWED in item_of(later, "conversion").reasons  # not decided yet
    meeting_conclude(meeting=meeting, by=org.admin)
    later = prepared(org, later)
    # Nothing else calls for conversion: the refresh takes it off the later agenda.
    assert keys(later) == ["revenue"]
    assert NEVER_REVIEWED in item_of(later, "revenue").reasons  # taken off, never discussed
    by_hand = another_meeting(org, meeting, title="By hand", scheduled_at=at(2026, 4, 30))
    agenda_item_add(meeting=by_hand, by=org.admin, kpi=kpi("conversion"))
    conversion = item_of(prepared(org, by_hand), "conversion")
    assert conversion.reasons == [ADDED]
    assert conversion.facts["last_reviewed"] == "2026-Q1 review"


def test_a_meeting_held_earlier_does_not_count_a_later_one(
    org: Organisation, meeting: Meeting
) -> None:
    earlier = another_meeting(org, meeting, title="Earlier", scheduled_at=at(2026, 4, 12))
    meeting = prepared(org, meeting)
    meeting_conclude(meeting=meeting_start(meeting=meeting, by=org.admin), by=org.admin)
    earlier = prepared(org, earlier)
    assert NEVER_REVIEWED in item_of(earlier, "conversion").reasons


def test_open_actions_of_earlier_meetings_come_back_until_done(
    org: Organisation, meeting: Meeting
) -> None:
    north_meeting = another_meeting(
        org, meeting, title="North", team=org.north, scheduled_at=at(2026, 4, 14)
    )
    north_meeting, decision = decided(
        org,
        north_meeting,
        DecisionKind.ASSIGN_ACTION,
        details={"title": "Clean the CRM", "owner": org.member.pk, "due": "2026-04-30"},
    )
    applied, _ = decision_apply(decision=decision, by=org.admin)
    meeting = prepared(org, meeting)
    point = next(item for item in agenda(meeting) if item.action is not None)
    assert (point.title, point.reason, point.action_id) == (
        "Clean the CRM",
        OPEN_ACTION,
        applied.outcome["action"],
    )
    assert point.facts == {"due": "2026-04-30", "owner": str(org.member)}
    south = prepared(org, another_meeting(org, meeting, title="South", team=org.south))
    assert "Clean the CRM" not in keys(south)
    assert point.action is not None
    action_close(action=point.action, by=org.member)
    done = prepared(org, another_meeting(org, meeting, title="After"))
    assert "Clean the CRM" not in keys(done)


def test_a_team_meeting_lists_the_kpis_of_its_team_and_the_teams_below(
    org: Organisation, meeting: Meeting
) -> None:
    from headway.accounts.models import Team

    def listed(team: Team) -> set[str]:
        return set(keys(prepared(org, another_meeting(org, meeting, title=team.key, team=team))))

    assert listed(org.north) == {"conversion"}
    assert listed(org.south) == {"revenue"}
    assert listed(Team.objects.get(key="sales")) == {"conversion", "revenue"}
    assert set(keys(prepared(org, meeting))) == {"conversion", "revenue"}


def test_refreshing_the_agenda_keeps_the_order_notes_and_points_added_by_hand(
    org: Organisation, meeting: Meeting
) -> None:
    meeting = prepared(org, meeting)
    point = agenda_item_add(meeting=meeting, by=org.admin, title="Budget for Q2")
    revenue, conversion = item_of(meeting, "revenue"), item_of(meeting, "conversion")
    agenda_reorder(meeting=meeting, by=org.admin, order=[point.pk, conversion.pk, revenue.pk])
    item_notes_save(item=conversion, by=org.manager, notes="Ask about the fair")
    kpi_create(
        by=org.admin,
        key="won_deals",
        name="Won deals",
        formula="won",
        unit="count",
        grain="month",
        team=org.north,
    )
    results_recompute(by=None)
    meeting = prepared(org, meeting)
    assert keys(meeting) == ["Budget for Q2", "conversion", "revenue", "won_deals"]
    assert [item.position for item in agenda(meeting)] == [0, 1, 2, 3]
    assert item_of(meeting, "conversion").notes == "Ask about the fair"
    assert item_of(meeting, "won_deals").reason == NEVER_REVIEWED
    assert AgendaItem.objects.filter(meeting=meeting).count() == 4


def test_refreshing_takes_off_what_the_data_no_longer_calls_for_unless_worked_on(
    org: Organisation, meeting: Meeting
) -> None:
    from headway.reviews.services import comment_add

    meeting = prepared(org, meeting)
    comment_add(meeting=meeting, kpi=kpi("revenue"), by=org.other_manager, text="A bad month")
    # Both are met now: revenue's target halves, conversion's stays.
    for key, value in (("revenue", "50"), ("conversion", "0.5")):
        target_revise(kpi=kpi(key), by=org.admin, effective_from="2026-02", value=value, reason="x")
    results_recompute(by=None)
    # A decided meeting reviewed both KPIs, so neither is "never reviewed" any more.
    reviewed = another_meeting(org, meeting, title="Earlier", scheduled_at=at(2026, 4, 1))
    reviewed = meeting_start(meeting=prepared(org, reviewed), by=org.admin)
    meeting_conclude(meeting=reviewed, by=org.admin)
    revenue = item_of(meeting, "revenue")
    meeting = prepared(org, meeting)
    assert keys(meeting) == ["revenue"]  # conversion went; revenue has its owner's comment
    assert item_of(meeting, "revenue").facts == revenue.facts


def test_a_kpi_added_by_hand_comes_with_its_numbers(org: Organisation, meeting: Meeting) -> None:
    item = agenda_item_add(meeting=meeting, by=org.admin, kpi=kpi("revenue"))
    assert (item.facts["period"], item.facts["value"], item.facts["status"]) == (
        "2026-02",
        50.0,
        "red",
    )


def test_a_kpi_added_by_hand_keeps_that_reason_when_the_data_also_calls_for_it(
    org: Organisation, meeting: Meeting
) -> None:
    item = agenda_item_add(meeting=meeting, by=org.admin, kpi=kpi("revenue"))
    meeting = prepared(org, meeting)
    item.refresh_from_db()
    assert (item.reason, item.reasons) == (RED, [RED, NEVER_REVIEWED, ADDED])
    assert item.facts["status"] == "red"


def proposals(meeting: Meeting) -> list[AgendaEntry]:
    """An agenda source, as the participation app registers one."""
    return [
        AgendaEntry(
            reasons=[PROPOSAL.value],
            title="Proposal: count repeat customers",
            facts={"proposal": 7},
        ),
        AgendaEntry(reasons=[PROPOSAL.value], kpi=kpi("conversion"), facts={"proposals": [8]}),
    ]


@pytest.fixture
def proposal_source() -> Iterator[None]:
    path = f"{__name__}.proposals"
    register_agenda_source(path)
    try:
        yield
    finally:
        unregister_agenda_source(path)


@pytest.mark.usefixtures("proposal_source")
def test_agenda_sources_add_their_items_once(org: Organisation, meeting: Meeting) -> None:
    meeting = prepared(org, meeting)
    assert keys(meeting) == ["revenue", "conversion", "Proposal: count repeat customers"]
    conversion = item_of(meeting, "conversion")
    assert (conversion.reason, conversion.reasons) == (PROPOSAL, [NEVER_REVIEWED, PROPOSAL])
    assert conversion.facts["proposals"] == [8]
    assert conversion.facts["period"] == "2026-02"
    proposal = agenda(meeting)[-1]
    assert (proposal.reason, proposal.facts, proposal.kpi) == (PROPOSAL, {"proposal": 7}, None)
    meeting = prepared(org, meeting)
    assert keys(meeting) == ["revenue", "conversion", "Proposal: count repeat customers"]


def test_an_unregistered_source_adds_nothing(org: Organisation, meeting: Meeting) -> None:
    path = f"{__name__}.proposals"
    register_agenda_source(path)
    unregister_agenda_source(path)
    assert keys(prepared(org, meeting)) == ["revenue", "conversion"]


def test_the_agenda_is_built_for_today_by_default(org: Organisation, meeting: Meeting) -> None:
    from headway.reviews.services import meeting_prepare

    meeting = meeting_prepare(meeting=meeting, by=org.admin)
    assert meeting.agenda_built_at is not None
    assert item_of(meeting, "revenue").facts["period"] == "2026-02"
