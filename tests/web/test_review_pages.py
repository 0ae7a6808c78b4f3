"""The review pages: the cycles and their meetings, scheduling, and a meeting's page taken
through its whole life by its forms (agenda, the owner's comment, a decision approved by
the chair and applied), with the KPI page telling where its new target was decided.

The small organisation of tests/app/conftest.py: ada the admin chairs the meeting; nora
(manager of north, owner of `conversion`), mark (member of north) and sam (manager of
south, owner of `revenue`) take part; vera is a viewer.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse

from headway.accounts.models import User
from headway.audit.models import AuditEntry
from headway.kpis.models import Kpi, TargetVersion
from headway.results.models import Result
from headway.reviews.choices import ActionStatus, DecisionKind, DecisionStatus, MeetingStatus
from headway.reviews.models import (
    Action,
    AgendaItem,
    Decision,
    Meeting,
    OwnerComment,
    ReviewCycle,
)
from headway.reviews.services import (
    comment_add,
    decision_decide,
    decision_record,
    meeting_conclude,
    meeting_prepare,
    meeting_start,
)
from tests.app.conftest import Organisation
from tests.reviews import conftest as reviews
from tests.reviews.conftest import TODAY

# The review of tests/reviews/conftest.py: its organisation (built once for the module),
# its 2026-Q1 cycle and meeting; they stand in for tests/web/conftest.py's own `org` here.
built = reviews.built
org = reviews.org
cycle = reviews.cycle
meeting = reviews.meeting

pytestmark = pytest.mark.django_db


def client_of(person: User | None) -> Client:
    client = Client()
    if person is not None:
        client.force_login(person)
    return client


def text_of(response: Any) -> str:
    content: bytes = response.content
    return content.decode()


def page_url(meeting: Meeting) -> str:
    return reverse("web:review_meeting", kwargs={"pk": meeting.pk})


def item_of(meeting: Meeting, key: str) -> AgendaItem:
    return AgendaItem.objects.get(meeting=meeting, kpi__key=key)


def prepared(org: Organisation, meeting: Meeting) -> Meeting:
    return meeting_prepare(meeting=meeting, by=org.admin, today=TODAY)


def started(org: Organisation, meeting: Meeting) -> Meeting:
    return meeting_start(meeting=prepared(org, meeting), by=org.admin)


def change_target_post(**overrides: str) -> dict[str, str]:
    data = {
        "kind": DecisionKind.CHANGE_TARGET,
        "value": "40",
        "effective_from": "2026-02",
        "reason": "Q1 review found 50% out of reach",
    }
    data.update(overrides)
    return data


def everything() -> tuple[int, ...]:
    """Counts of what the review pages could write."""
    return (
        AuditEntry.objects.count(),
        ReviewCycle.objects.count(),
        Meeting.objects.count(),
        OwnerComment.objects.count(),
        Decision.objects.count(),
        Action.objects.count(),
        TargetVersion.objects.count(),
    )


# -- reading ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["/reviews/", "/reviews/meetings/{pk}/", "/reviews/meetings/{pk}/edit/"]
)
def test_the_review_pages_ask_to_sign_in_first(meeting: Meeting, url: str) -> None:
    response = client_of(None).get(url.format(pk=meeting.pk))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("person", ["admin", "manager", "member", "viewer", "other_manager"])
def test_everyone_signed_in_reads_the_reviews_and_the_meeting(
    org: Organisation, meeting: Meeting, person: str
) -> None:
    prepared(org, meeting)
    client = client_of(getattr(org, person))
    listing = text_of(client.get("/reviews/"))
    assert "2026-Q1 review" in listing
    assert "Ada Admin" in listing  # the chair
    assert "Whole organisation" in listing
    assert "Preparing" in listing
    page = client.get(page_url(meeting))
    assert page.status_code == 200
    html = text_of(page)
    assert "Conversion" in html
    assert "Revenue" in html
    assert "Never reviewed" in html  # why each is on the agenda
    assert "Nora North" in html
    assert "Mark Member" in html


def test_the_meeting_date_is_shown_in_the_organisations_time_zone(
    org: Organisation, meeting: Meeting
) -> None:
    html = text_of(client_of(org.viewer).get("/reviews/"))
    # 10:00 in Taipei, not 02:00 UTC.
    assert "10:00" in html or "10 a.m." in html
    assert "2026-04-15T10:00:00+08:00" in html


def test_only_organisers_see_the_buttons_that_move_the_meeting_on(
    org: Organisation, meeting: Meeting
) -> None:
    assert 'name="step" value="prepare"' in text_of(client_of(org.admin).get(page_url(meeting)))
    for person in (org.manager, org.member, org.viewer):
        html = text_of(client_of(person).get(page_url(meeting)))
        assert 'name="step"' not in html
        assert "Change the meeting" not in html
    response = client_of(org.manager).post(
        reverse("web:review_meeting_step", kwargs={"pk": meeting.pk}), {"step": "prepare"}
    )
    assert response.status_code == 403
    meeting.refresh_from_db()
    assert meeting.status == MeetingStatus.PLANNED


def test_the_nav_leads_to_the_reviews_and_admins_to_the_periods(org: Organisation) -> None:
    html = text_of(client_of(org.admin).get("/reviews/"))
    assert '<a href="/reviews/" aria-current="page">Reviews</a>' in html
    try:
        periods = reverse("web:periods")
    except NoReverseMatch:
        periods = None
    if periods is not None:
        assert f'href="{periods}"' in html
        assert f'href="{periods}"' not in text_of(client_of(org.manager).get("/reviews/"))


# -- cycles and meetings --------------------------------------------------------------


def test_an_admin_opens_a_review_cycle(org: Organisation) -> None:
    response = client_of(org.admin).post("/reviews/", {"period": "2026-Q3", "title": ""})
    assert response.status_code == 302
    cycle = ReviewCycle.objects.get(period="2026-Q3")
    assert cycle.title == "2026-Q3 review"
    assert cycle.created_by == org.admin
    html = text_of(client_of(org.admin).get(response["Location"]))
    assert "2026-Q3 review" in html
    assert "Schedule a meeting" in html


def test_a_bad_period_label_shows_beside_the_field_and_opens_nothing(org: Organisation) -> None:
    before = everything()
    response = client_of(org.admin).post("/reviews/", {"period": "2026-Q5", "title": ""})
    assert response.status_code == 200
    html = text_of(response)
    assert 'id="cycle-period_error"' in html or "errorlist" in html
    assert "Please correct the problems below." in html
    assert everything() == before


def test_only_an_admin_opens_a_cycle(org: Organisation) -> None:
    assert 'id="cycle-form"' not in text_of(client_of(org.manager).get("/reviews/"))
    response = client_of(org.manager).post("/reviews/", {"period": "2026-Q3"})
    assert response.status_code == 403
    assert not ReviewCycle.objects.filter(period="2026-Q3").exists()


def meeting_post(org: Organisation, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "title": "North's Q1 review",
        "team": org.north.pk,
        "scheduled_at": "2026-04-20T14:30",
        "location": "Room 3",
        "chair": org.manager.pk,
        "participants": [org.member.pk],
        "comments_due": "2026-04-18",
        "remind_days_before": "3",
    }
    data.update(overrides)
    return data


def test_a_manager_schedules_a_meeting_of_their_team_at_local_time(
    org: Organisation, cycle: ReviewCycle
) -> None:
    url = reverse("web:review_meeting_new", kwargs={"cycle_pk": cycle.pk})
    assert client_of(org.manager).get(url).status_code == 200
    response = client_of(org.manager).post(url, meeting_post(org))
    assert response.status_code == 302
    meeting = Meeting.objects.get(title="North's Q1 review")
    assert response["Location"] == page_url(meeting)
    assert meeting.team == org.north
    assert meeting.chair == org.manager
    # Typed in Taipei time (UTC+8).
    assert meeting.scheduled_at == datetime.datetime(2026, 4, 20, 6, 30, tzinfo=datetime.UTC)
    assert set(meeting.participants.all()) == {org.manager, org.member}


def test_a_manager_cannot_schedule_for_another_team_nor_a_member_at_all(
    org: Organisation, cycle: ReviewCycle
) -> None:
    url = reverse("web:review_meeting_new", kwargs={"cycle_pk": cycle.pk})
    before = everything()
    response = client_of(org.manager).post(url, meeting_post(org, team=org.south.pk))
    assert response.status_code == 200
    assert "errorlist" in text_of(response)
    response = client_of(org.manager).post(url, meeting_post(org, team=""))
    assert response.status_code == 200
    assert client_of(org.member).get(url).status_code == 403
    assert client_of(org.member).post(url, meeting_post(org)).status_code == 403
    assert everything() == before


def test_comments_due_after_the_meeting_is_refused_beside_the_field(
    org: Organisation, cycle: ReviewCycle
) -> None:
    url = reverse("web:review_meeting_new", kwargs={"cycle_pk": cycle.pk})
    response = client_of(org.admin).post(url, meeting_post(org, comments_due="2026-04-30"))
    assert response.status_code == 200
    html = text_of(response)
    assert "comments are due before the meeting" in html
    assert not Meeting.objects.filter(title="North's Q1 review").exists()


def test_changing_a_meeting_someone_else_changed_shows_the_conflict(
    org: Organisation, meeting: Meeting
) -> None:
    url = reverse("web:review_meeting_edit", kwargs={"pk": meeting.pk})
    page = text_of(client_of(org.admin).get(url))
    assert 'name="version" value="1"' in page
    assert 'value="2026-04-15T10:00"' in page  # local time in the form too
    data = meeting_post(org, team="", chair=org.admin.pk, version="1", title="Moved")
    first = client_of(org.admin).post(url, data)
    assert first.status_code == 302
    second = client_of(org.admin).post(url, {**data, "title": "Moved again"})
    assert second.status_code == 200
    assert "Someone else changed this while you were editing it." in text_of(second)
    meeting.refresh_from_db()
    assert meeting.title == "Moved"


# -- the whole review ------------------------------------------------------------------


def post(client: Client, name: str, pk: int, data: dict[str, Any] | None = None) -> Any:
    return client.post(reverse(f"web:{name}", kwargs={"pk": pk}), data or {})


def test_a_review_taken_through_its_pages_lowers_a_target_and_the_kpi_page_says_where(
    org: Organisation, meeting: Meeting
) -> None:
    chair, owner = client_of(org.admin), client_of(org.manager)

    # The chair builds the agenda from the data.
    response = post(chair, "review_meeting_step", meeting.pk, {"step": "prepare"})
    assert response.status_code == 302
    meeting.refresh_from_db()
    assert meeting.status == MeetingStatus.PREPARING
    conversion = item_of(meeting, "conversion")

    # The owner sees the to-do on the home page, and who has not commented yet.
    home = text_of(owner.get("/"))
    assert "Your review to-dos" in home
    assert f"/reviews/meetings/{meeting.pk}/#kpi-conversion" in home
    page = text_of(owner.get(page_url(meeting)))
    assert "Who has not commented yet" in page
    assert 'id="comment-conversion"' in page
    assert 'id="comment-revenue"' not in page  # sam's KPI

    response = post(owner, "review_item_comment", conversion.pk, {"text": "Too high for us"})
    assert response.status_code == 302
    assert OwnerComment.objects.get(kpi__key="conversion").text == "Too high for us"
    assert "Your review to-dos" not in text_of(owner.get("/"))
    assert "Too high for us" in text_of(chair.get(page_url(meeting)))

    # The meeting starts; the owner records a decision, the chair approves it.
    assert post(chair, "review_meeting_step", meeting.pk, {"step": "start"}).status_code == 302
    response = post(owner, "review_item_decision", conversion.pk, change_target_post())
    assert response.status_code == 302
    decision = Decision.objects.get()
    assert decision.kind == DecisionKind.CHANGE_TARGET
    assert decision.details["value"] == "0.4"  # typed in percent
    assert decision.details["previous"] == "0.5000000000"
    page = text_of(chair.get(page_url(meeting)))
    assert "Target 50.0% → 40.0% from 2026-02" in page
    assert "Waiting for the chair" in page
    assert "Decisions waiting for your approval as chair" in text_of(chair.get("/"))

    response = post(chair, "review_decision_decide", decision.pk, {"decision": "approve"})
    assert response.status_code == 302
    decision.refresh_from_db()
    assert decision.status == DecisionStatus.APPROVED

    # Concluded, then applied: a new target version pointing back at the decision.
    assert post(chair, "review_meeting_step", meeting.pk, {"step": "conclude"}).status_code == 302
    assert "Apply all approved decisions" in text_of(chair.get(page_url(meeting)))
    response = post(chair, "review_decision_apply", decision.pk)
    assert response.status_code == 302
    decision.refresh_from_db()
    assert decision.status == DecisionStatus.APPLIED
    version = TargetVersion.objects.get(origin_reference=decision.reference)
    assert version.value == Decimal("0.4")
    assert Result.objects.get(kpi__key="conversion", period="2026-02", group_value="").target == (
        Decimal("0.4")
    )

    kpi_page = text_of(owner.get("/kpis/conversion/"))
    assert "Target 50.0% → 40.0% from 2026-02" in kpi_page
    assert f'decided at <a href="{page_url(meeting)}">2026-Q1 review</a>' in kpi_page
    assert "Q1 review found 50% out of reach" in kpi_page
    assert 'id="reviews"' in kpi_page  # the meetings that had it on their agenda
    assert "Target history" in kpi_page  # and the table is still there

    assert post(chair, "review_meeting_step", meeting.pk, {"step": "close"}).status_code == 302
    meeting.refresh_from_db()
    assert meeting.status == MeetingStatus.CLOSED


def test_a_manager_who_is_not_the_chair_cannot_approve(org: Organisation, meeting: Meeting) -> None:
    meeting = started(org, meeting)
    decision = decision_record(
        meeting=meeting,
        by=org.manager,
        kind=DecisionKind.KEEP,
        reason="on track after all",
        kpi=Kpi.objects.get(key="conversion"),
    )
    page = text_of(client_of(org.manager).get(page_url(meeting)))
    assert f'action="/reviews/decisions/{decision.pk}/decide/"' not in page
    response = post(
        client_of(org.manager), "review_decision_decide", decision.pk, {"decision": "approve"}
    )
    assert response.status_code == 403
    decision.refresh_from_db()
    assert decision.status == DecisionStatus.PROPOSED


def test_rejecting_without_a_note_asks_for_one(org: Organisation, meeting: Meeting) -> None:
    meeting = started(org, meeting)
    decision = decision_record(
        meeting=meeting,
        by=org.manager,
        kind=DecisionKind.RETIRE_KPI,
        reason="nobody looks at it",
        kpi=Kpi.objects.get(key="conversion"),
    )
    response = post(
        client_of(org.admin), "review_decision_decide", decision.pk, {"decision": "reject"}
    )
    assert response.status_code == 200
    html = text_of(response)
    assert "say why the decision is rejected" in html
    assert f'id="decide-{decision.pk}-errors"' in html
    decision.refresh_from_db()
    assert decision.status == DecisionStatus.PROPOSED


def test_an_empty_reason_shows_beside_the_field_and_records_nothing(
    org: Organisation, meeting: Meeting
) -> None:
    meeting = started(org, meeting)
    item = item_of(meeting, "conversion")
    before = everything()
    response = post(
        client_of(org.manager), "review_item_decision", item.pk, change_target_post(reason="  ")
    )
    assert response.status_code == 200
    html = text_of(response)
    assert "Nothing was saved." in html
    assert f'id="decision-{item.pk}-reason_error"' in html or "This field is required." in html
    assert everything() == before


def test_a_bad_effective_period_shows_beside_its_field_and_records_nothing(
    org: Organisation, meeting: Meeting
) -> None:
    meeting = started(org, meeting)
    item = item_of(meeting, "conversion")
    before = everything()
    for period in ("2026-13", "2026-Q2"):  # no such month; a quarter for a monthly KPI
        response = post(
            client_of(org.manager),
            "review_item_decision",
            item.pk,
            change_target_post(effective_from=period),
        )
        assert response.status_code == 200
        html = text_of(response)
        assert f'id="decision-{item.pk}-effective_from_error"' in html
        assert '<details class="decision-box" open>' in html
    response = post(
        client_of(org.manager), "review_item_decision", item.pk, change_target_post(value="lots")
    )
    assert "“lots” is not a number." in text_of(response)
    assert everything() == before


def test_a_conflicting_notes_edit_shows_the_conflict(org: Organisation, meeting: Meeting) -> None:
    meeting = started(org, meeting)
    item = item_of(meeting, "conversion")
    mark, nora = client_of(org.member), client_of(org.manager)
    assert (
        post(
            mark, "review_item_notes", item.pk, {"notes": "Mark's notes", "version": "1"}
        ).status_code
        == 302
    )
    response = post(nora, "review_item_notes", item.pk, {"notes": "Nora's notes", "version": "1"})
    assert response.status_code == 200
    assert "Someone else changed this while you were editing it." in text_of(response)
    item.refresh_from_db()
    assert item.notes == "Mark's notes"
    # With htmx, only the notes' block comes back.
    response = nora.post(
        reverse("web:review_item_notes", kwargs={"pk": item.pk}),
        {"notes": "Nora's notes", "version": "1"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    fragment = text_of(response)
    assert fragment.lstrip().startswith('<div class="item-notes"')
    assert "Someone else changed this" in fragment
    response = nora.post(
        reverse("web:review_item_notes", kwargs={"pk": item.pk}),
        {"notes": "Nora's notes", "version": "2"},
        HTTP_HX_REQUEST="true",
    )
    assert "Saved." in text_of(response)
    item.refresh_from_db()
    assert item.notes == "Nora's notes"


def test_a_viewer_takes_no_notes(org: Organisation, meeting: Meeting) -> None:
    meeting = started(org, meeting)
    item = item_of(meeting, "conversion")
    assert 'name="notes"' not in text_of(client_of(org.viewer).get(page_url(meeting)))
    response = post(
        client_of(org.viewer), "review_item_notes", item.pk, {"notes": "x", "version": "1"}
    )
    assert response.status_code == 403


def test_organisers_move_items_and_add_points(org: Organisation, meeting: Meeting) -> None:
    meeting = prepared(org, meeting)
    order = list(
        AgendaItem.objects.filter(meeting=meeting).order_by("position").values_list("pk", flat=True)
    )
    chair = client_of(org.admin)
    assert post(chair, "review_item_move", order[1], {"direction": "up"}).status_code == 302
    moved = list(
        AgendaItem.objects.filter(meeting=meeting).order_by("position").values_list("pk", flat=True)
    )
    assert moved == [order[1], order[0], *order[2:]]
    response = post(chair, "review_agenda_add", meeting.pk, {"kpi": "", "title": "Hiring plan"})
    assert response.status_code == 302
    assert AgendaItem.objects.filter(meeting=meeting, title="Hiring plan").exists()
    response = post(chair, "review_agenda_add", meeting.pk, {"kpi": "", "title": ""})
    assert response.status_code == 200
    assert "name the point, or pick a KPI" in text_of(response)
    assert (
        post(client_of(org.member), "review_item_move", order[0], {"direction": "down"}).status_code
        == 403
    )


def test_an_action_is_assigned_then_its_owner_marks_it_done(
    org: Organisation, meeting: Meeting
) -> None:
    meeting = started(org, meeting)
    item = item_of(meeting, "conversion")
    response = post(
        client_of(org.manager),
        "review_item_decision",
        item.pk,
        {
            "kind": DecisionKind.ASSIGN_ACTION,
            "action_title": "Call the lost leads",
            "action_owner": str(org.member.pk),
            "action_due": "2026-04-30",
            "reason": "we lost too many",
        },
    )
    assert response.status_code == 302
    decision = Decision.objects.get()
    decision_decide(decision=decision, by=org.admin, approve=True)
    meeting_conclude(meeting=meeting, by=org.admin)
    assert (
        post(
            client_of(org.admin), "review_meeting_step", meeting.pk, {"step": "apply_all"}
        ).status_code
        == 302
    )
    action = Action.objects.get()
    assert action.owner == org.member

    # Overdue (the real today is after 2026-04-30): on the owner's home page, marked.
    home = text_of(client_of(org.member).get("/"))
    assert "Call the lost leads" in home
    assert "overdue" in home

    # Dropping needs a note; sam (neither owner nor chair) cannot close it.
    mark = client_of(org.member)
    response = post(mark, "review_action_close", action.pk, {"status": "dropped", "note": ""})
    assert response.status_code == 200
    assert "say why the action is dropped" in text_of(response)
    assert (
        post(
            client_of(org.other_manager), "review_action_close", action.pk, {"status": "done"}
        ).status_code
        == 403
    )
    assert post(mark, "review_action_close", action.pk, {"status": "done"}).status_code == 302
    action.refresh_from_db()
    assert action.status == ActionStatus.DONE


def test_a_decision_to_add_a_kpi_is_checked_then_recorded(
    org: Organisation, meeting: Meeting
) -> None:
    meeting = started(org, meeting)
    data = {
        "key": "bad key!",
        "name": "Win rate",
        "formula": "won / leads",
        "unit": "percent",
        "grain": "month",
        "direction": "up",
        "team": str(org.north.pk),
        "owner": str(org.manager.pk),
        "target": "30",
        "target_from": "2026-05",
        "reason": "we want to see it",
    }
    chair = client_of(org.admin)
    response = post(chair, "review_add_kpi", meeting.pk, data)
    assert response.status_code == 200
    assert 'id="new-kpi-key_error"' in text_of(response) or "use letters, digits" in text_of(
        response
    )
    assert not Decision.objects.exists()
    response = post(chair, "review_add_kpi", meeting.pk, {**data, "key": "win_rate"})
    assert response.status_code == 302
    decision = Decision.objects.get()
    assert decision.details["target"] == "0.3"
    assert decision.details["team"] == "north"
    assert "Win rate (win_rate) = won / leads; target 30.0% from 2026-05" in text_of(
        chair.get(page_url(meeting))
    )


def test_attendance_is_recorded_during_the_meeting(org: Organisation, meeting: Meeting) -> None:
    meeting = started(org, meeting)
    response = post(
        client_of(org.member),
        "review_attendance",
        meeting.pk,
        {"present": [str(org.admin.pk), str(org.member.pk)]},
    )
    assert response.status_code == 302
    attended = dict(meeting.attendance.values_list("person_id", "attended"))
    assert attended == {
        org.admin.pk: True,
        org.manager.pk: False,
        org.member.pk: True,
        org.other_manager.pk: False,
    }


def test_the_meeting_page_reads_in_a_fixed_number_of_queries(
    org: Organisation, meeting: Meeting
) -> None:
    meeting = started(org, meeting)
    client = client_of(org.admin)

    def point_with_a_decision(number: int) -> None:
        item = AgendaItem.objects.create(
            meeting=meeting, title=f"Point {number}", reason="added", position=10 + number
        )
        decision_record(
            meeting=meeting,
            by=org.admin,
            kind=DecisionKind.ASSIGN_ACTION,
            reason="agreed",
            item=item,
            details={"title": f"Do {number}", "owner": org.member.pk, "due": "2026-05-01"},
        )

    def count() -> int:
        with CaptureQueriesContext(connection) as context:
            assert client.get(page_url(meeting)).status_code == 200
        return len(context.captured_queries)

    point_with_a_decision(0)
    comment_add(meeting=meeting, kpi=Kpi.objects.get(key="conversion"), by=org.manager, text="ok")
    before = count()
    for number in range(1, 4):
        point_with_a_decision(number)
    comment_add(
        meeting=meeting, kpi=Kpi.objects.get(key="revenue"), by=org.other_manager, text="fine"
    )
    assert count() == before


def test_the_meeting_page_speaks_traditional_chinese(org: Organisation, meeting: Meeting) -> None:
    html = text_of(client_of(org.admin).get(page_url(meeting), HTTP_ACCEPT_LANGUAGE="zh-hant"))
    assert '<html lang="zh-hant">' in html
    assert "產生議程" in html  # Build the agenda
    assert "與會者" in html  # Participants
    assert "已排定" in html  # Planned
    assert "Build the agenda" not in html


def test_the_chair_withdraws_an_approval_that_can_no_longer_be_applied(
    org: Organisation, meeting: Meeting
) -> None:
    meeting, decision = reviews.decided(org, meeting, DecisionKind.KEEP, kpi_key="conversion")
    page = client_of(org.admin).get(reverse("web:review_meeting", args=[meeting.pk]))
    assert "Withdraw the approval" in page.content.decode()
    url = reverse("web:review_decision_withdraw", args=[decision.pk])
    refused = client_of(org.manager).post(url, {"note": "not mine to withdraw"})
    assert refused.status_code == 403
    client_of(org.admin).post(url, {"note": ""})
    assert Decision.objects.get(pk=decision.pk).status == DecisionStatus.APPROVED
    response = client_of(org.admin).post(url, {"note": "the KPI was changed since"})
    assert response.status_code == 302
    withdrawn = Decision.objects.get(pk=decision.pk)
    assert (withdrawn.status, withdrawn.decision_note) == (
        DecisionStatus.REJECTED,
        "the KPI was changed since",
    )
