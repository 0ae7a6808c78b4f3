"""The workshop pages: the list, planning one, its page, the live idea board (whole posts
and htmx fragments), an idea made a proposal, feedback and the summary; for each role, and
in Traditional Chinese.

The workshop of these tests is north's, facilitated by Nora (north's manager), with Mo
(member), Vic (viewer) and Sam (south's manager) invited; Ada (admin) is not invited.
"""

from __future__ import annotations

import datetime
import re
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from headway.goals.models import Goal
from headway.kpis.models import Kpi
from headway.notifications.models import Notification
from headway.participation.models import (
    DotVote,
    Proposal,
    Workshop,
    WorkshopFeedback,
    WorkshopIdea,
)
from headway.participation.workshops import (
    dot_add,
    idea_add,
    workshop_close,
    workshop_create,
    workshop_start,
)
from tests.web.conftest import Org

pytestmark = pytest.mark.django_db

TAIPEI = ZoneInfo("Asia/Taipei")
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def workshop(org: Org) -> Workshop:
    return workshop_create(
        by=org.nora,
        topic="Winning more deals",
        starts_at=datetime.datetime(2026, 5, 4, 10, 0, tzinfo=TAIPEI),
        facilitator=org.nora,
        team=org.nora.teams.get(key="north"),
        goals=[Goal.objects.get(key="win-more")],
        location="Room 3",
        agenda="Ideas first, then dots.",
        invited=[org.mo, org.vic, org.sam],
    )


@pytest.fixture
def running(org: Org, workshop: Workshop) -> Workshop:
    return workshop_start(workshop=workshop, by=org.nora)


def url(workshop: Workshop, page: str = "") -> str:
    return f"/workshops/{workshop.pk}/{page}"


def text_of(response: Any) -> str:
    return str(response.content.decode())


# -- the list and the form ---------------------------------------------------------------------


def test_everyone_signed_in_sees_the_list_and_only_managers_and_admins_may_plan(
    org: Org, workshop: Workshop
) -> None:
    for person in (org.ada, org.nora, org.sam):
        html = text_of(org.client(person).get("/workshops/"))
        assert "Winning more deals" in html
        assert 'href="/workshops/new/"' in html
    for person in (org.mo, org.vic):
        html = text_of(org.client(person).get("/workshops/"))
        assert "Winning more deals" in html
        assert 'href="/workshops/new/"' not in html
        assert org.client(person).get("/workshops/new/").status_code == 403
    assert org.client(None).get("/workshops/").status_code == 302


def test_a_manager_plans_a_workshop_in_the_organisations_time_zone(org: Org) -> None:
    north = org.nora.teams.get(key="north")
    client = org.client(org.nora)
    form = text_of(client.get("/workshops/new/"))
    assert 'type="datetime-local"' in form
    response = client.post(
        "/workshops/new/",
        {
            "topic": "Targets for the second half",
            "starts_at": "2026-06-01T14:30",
            "location": "https://meet.example.com/h2",
            "team": north.pk,
            "facilitator": org.nora.pk,
            "goals": [Goal.objects.get(key="win-more").pk],
            "agenda": "Look back, then ahead.",
            "dots_per_person": "4",
            "invited": [org.mo.pk, org.vic.pk],
        },
    )
    workshop = Workshop.objects.get()
    assert response.status_code == 302
    assert response["Location"] == url(workshop)
    assert workshop.starts_at == datetime.datetime(2026, 6, 1, 6, 30, tzinfo=datetime.UTC)
    assert workshop.dots_per_person == 4
    assert workshop.created_by == org.nora
    assert set(Notification.objects.values_list("person__email", flat=True)) == {
        "mo@example.com",
        "vic@example.com",
    }
    page = text_of(client.get(url(workshop)))
    assert "Targets for the second half" in page
    assert "1 June 2026" in page or "June 1, 2026" in page
    assert "2:30" in page  # the time as planned, in Taipei


def test_a_manager_cannot_plan_for_another_team_and_errors_show_beside_the_field(
    org: Org,
) -> None:
    south = org.sam.teams.get(key="south")
    client = org.client(org.nora)
    response = client.post(
        "/workshops/new/",
        {
            "topic": "",
            "starts_at": "not a date",
            "team": south.pk,
            "facilitator": org.nora.pk,
            "dots_per_person": "0",
        },
    )
    assert response.status_code == 200
    html = text_of(response)
    assert "Please correct the problems below." in html
    for field in ("topic", "starts_at", "team", "dots_per_person"):
        assert re.search(rf'<ul class="errorlist" id="id_{field}_error">', html), (
            f"no error beside {field}"
        )
    assert not Workshop.objects.exists()


def test_a_stale_edit_shows_the_conflict_and_keeps_the_other_change(
    org: Org, workshop: Workshop
) -> None:
    client = org.client(org.nora)
    form = text_of(client.get(url(workshop, "edit/")))
    assert 'name="version" value="1"' in form
    assert 'value="2026-05-04T10:00"' in form  # shown in Taipei time
    data = {
        "version": "1",
        "topic": "Winning more deals",
        "starts_at": "2026-05-04T10:00",
        "location": "Room 4",
        "team": workshop.team_id,
        "facilitator": org.nora.pk,
        "goals": [],
        "agenda": "",
        "dots_per_person": "3",
        "invited": [org.mo.pk, org.vic.pk, org.sam.pk],
    }
    assert client.post(url(workshop, "edit/"), data).status_code == 302
    assert Workshop.objects.get().location == "Room 4"
    response = org.client(org.ada).post(url(workshop, "edit/"), {**data, "location": "Hall"})
    assert response.status_code == 200
    assert "Someone else changed this while you were editing it." in text_of(response)
    assert Workshop.objects.get().location == "Room 4"


def test_only_organisers_may_edit(org: Org, workshop: Workshop) -> None:
    for person in (org.mo, org.vic, org.sam):
        assert org.client(person).get(url(workshop, "edit/")).status_code == 403
        assert org.client(person).post(url(workshop, "start/")).status_code == 403
    assert Workshop.objects.get().status == "planned"


def test_the_list_costs_the_same_few_queries_however_many_workshops(
    org: Org, workshop: Workshop, django_assert_max_num_queries: Any
) -> None:
    client = org.client(org.vic)
    client.get("/workshops/")
    with django_assert_max_num_queries(12) as few:
        client.get("/workshops/")
    # Read now: every request clears the connection's log of queries.
    baseline = len(few.captured_queries)
    for number in range(5):
        plan = workshop_create(
            by=org.ada,
            topic=f"Workshop {number}",
            starts_at=workshop.starts_at + datetime.timedelta(days=number),
            facilitator=org.sam,
            invited=[org.mo, org.vic],
        )
        if number % 2:
            workshop_close(workshop=workshop_start(workshop=plan, by=org.ada), by=org.ada)
    html = text_of(client.get("/workshops/"))
    assert html.count('<tr id="workshop-') == 6
    with django_assert_max_num_queries(baseline):
        client.get("/workshops/")


# -- the workshop's page -------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["ada", "nora", "mo", "vic", "sam"])
def test_the_workshop_page_renders_for_every_role(org: Org, workshop: Workshop, who: str) -> None:
    response = org.client(getattr(org, who)).get(url(workshop))
    assert response.status_code == 200
    html = text_of(response)
    assert "Winning more deals" in html
    assert "Ideas first, then dots." in html
    assert "Win more deals" in html  # the goal
    assert "3 people invited" in html
    organiser = who in ("ada", "nora")
    assert ("Start the workshop" in html) is organiser
    assert ('href="' + url(workshop, "edit/") + '"' in html) is organiser
    assert ("You are invited." in html) is (who in ("mo", "vic", "sam"))


def test_starting_opens_the_board_and_closing_leads_to_the_summary(
    org: Org, workshop: Workshop
) -> None:
    client = org.client(org.nora)
    response = client.post(url(workshop, "start/"))
    assert response.status_code == 302
    assert response["Location"] == url(workshop, "board/")
    assert Workshop.objects.get().status == "running"
    assert "Close the workshop" in text_of(client.get(url(workshop)))
    response = client.post(url(workshop, "close/"))
    assert response["Location"] == url(workshop, "summary/")
    assert Workshop.objects.get().status == "closed"
    again = client.post(url(workshop, "close/"), follow=True)
    assert "can only be done while it is running" in text_of(again)


def test_the_facilitator_records_attendance_with_checkboxes(org: Org, running: Workshop) -> None:
    client = org.client(org.nora)
    html = text_of(client.get(url(running)))
    assert f'name="present" value="{org.mo.pk}"' in html
    response = client.post(url(running, "attendance/"), {"present": [org.mo.pk, org.vic.pk]})
    assert response.status_code == 302
    attended = dict(running.invitations.values_list("person__email", "attended"))
    assert attended == {"mo@example.com": True, "vic@example.com": True, "sam@example.com": False}
    assert org.client(org.mo).post(url(running, "attendance/"), {"present": []}).status_code == 403


def test_organisers_invite_more_people_from_the_page(org: Org, workshop: Workshop) -> None:
    client = org.client(org.nora)
    assert 'id="invite-form"' in text_of(client.get(url(workshop)))
    response = client.post(url(workshop, "invite/"), {"people": [org.ada.pk], "version": "1"})
    assert response.status_code == 302
    assert set(workshop.invited.values_list("email", flat=True)) == {
        "mo@example.com",
        "vic@example.com",
        "sam@example.com",
        "ada@example.com",
    }
    assert Notification.objects.filter(person=org.ada, kind="workshop").count() == 1
    stale = client.post(url(workshop, "invite/"), {"people": [org.ada.pk], "version": "1"})
    assert "Someone else changed this" in text_of(client.get(stale["Location"]))


# -- the board ----------------------------------------------------------------------------------


def test_before_it_starts_the_board_waits_and_polls_for_the_start(
    org: Org, workshop: Workshop
) -> None:
    html = text_of(org.client(org.mo).get(url(workshop, "board/")))
    assert "The board opens when the facilitator starts the workshop" in html
    assert 'id="add-idea"' not in html
    assert f'hx-get="{url(workshop, "board/ideas/")}?seen=planned"' in html
    # Once started, the next poll reloads the whole page (which then has the form).
    workshop_start(workshop=workshop, by=org.nora)
    poll = org.client(org.mo).get(url(workshop, "board/ideas/") + "?seen=planned", **HTMX)
    assert poll.status_code == 204
    assert poll["HX-Refresh"] == "true"


def test_an_invited_member_adds_an_idea_through_htmx_and_gets_a_fresh_form(
    org: Org, running: Workshop
) -> None:
    client = org.client(org.mo)
    board = text_of(client.get(url(running, "board/")))
    assert 'id="add-idea"' in board
    assert 'type="radio" name="kind" value="target"' in board
    # The list polls itself; the form to add an idea is outside the polled part.
    ideas_at = board.index('id="ideas"')
    assert board.index('id="add-idea"') < ideas_at
    assert 'hx-trigger="every 4s"' in board[ideas_at - 200 :]
    response = client.post(
        url(running, "ideas/"), {"kind": "target", "text": "Aim for 60% in Q3"}, **HTMX
    )
    assert response.status_code == 200
    html = text_of(response)
    assert 'id="add-idea"' in html
    assert "Your idea is on the board." in html
    assert '<textarea name="text"' in html
    assert "Aim for 60% in Q3</textarea>" not in html  # the form is empty again
    assert 'value="target" id="id_kind_1" required checked' in html  # the kind stays
    assert 'id="ideas" class="ideas" aria-labelledby="ideas-title" hx-swap-oob="true"' in html
    assert "Aim for 60% in Q3" in html
    idea = WorkshopIdea.objects.get()
    assert (idea.author, idea.kind) == (org.mo, "target")


def test_an_idea_without_words_is_refused_beside_the_field_keeping_the_kind(
    org: Org, running: Workshop
) -> None:
    client = org.client(org.mo)
    html = text_of(client.post(url(running, "ideas/"), {"kind": "data", "text": " "}, **HTMX))
    assert "Your idea was not added." in html
    assert 'id="id_text_error"' in html
    assert 'value="data" id="id_kind_2" required checked' in html
    whole = client.post(url(running, "ideas/"), {"kind": "data", "text": ""})
    assert whole.status_code == 200
    assert "<h1>" in text_of(whole)  # the whole board again, with the error
    assert not WorkshopIdea.objects.exists()


def test_a_plain_post_adds_the_idea_and_goes_back_to_the_board(org: Org, running: Workshop) -> None:
    client = org.client(org.vic)  # an invited viewer may add ideas
    response = client.post(
        url(running, "ideas/"), {"kind": "data", "text": "Lost deals lack a reason"}
    )
    assert response.status_code == 302
    assert response["Location"] == url(running, "board/")
    html = text_of(client.get(response["Location"]))
    assert "Your idea is on the board." in html
    assert "Lost deals lack a reason" in html
    assert "dots left" not in html  # a viewer does not vote


def test_people_not_invited_follow_the_board_but_cannot_add_ideas_or_dots(
    org: Org, running: Workshop
) -> None:
    idea = idea_add(workshop=running, by=org.mo, kind="kpi", text="Calls per deal")
    client = org.client(org.ada)
    html = text_of(client.get(url(running, "board/")))
    assert "Calls per deal" in html
    assert "you can follow the board, but not add ideas or dots" in html
    assert client.post(url(running, "ideas/"), {"kind": "kpi", "text": "Mine"}).status_code == 403
    assert client.post(url(running, f"ideas/{idea.pk}/dot/"), **HTMX).status_code == 403
    assert org.client(org.vic).post(url(running, f"ideas/{idea.pk}/dot/")).status_code == 403
    assert not DotVote.objects.exists()
    assert WorkshopIdea.objects.count() == 1


def test_dots_through_htmx_update_the_list_and_say_when_they_run_out(
    org: Org, running: Workshop
) -> None:
    idea = idea_add(workshop=running, by=org.sam, kind="kpi", text="Calls per deal")
    client = org.client(org.mo)
    html = text_of(client.get(url(running, "board/")))
    assert "You have 3 of 3 dots left" in html
    html = text_of(client.post(url(running, f"ideas/{idea.pk}/dot/"), **HTMX))
    assert html.lstrip().startswith('<section id="ideas"')
    assert "You have 2 of 3 dots left" in html
    assert re.search(r'id="dots-\d+"><span aria-hidden="true">●</span> 1 dot <span', html)
    assert "(1 yours)" in html
    client.post(url(running, f"ideas/{idea.pk}/dot/"), **HTMX)
    client.post(url(running, f"ideas/{idea.pk}/dot/"), **HTMX)
    html = text_of(client.post(url(running, f"ideas/{idea.pk}/dot/"), **HTMX))
    assert 'role="alert"' in html
    assert "You have used all your 3 dots." in html
    assert "You have 0 of 3 dots left" in html
    assert DotVote.objects.filter(person=org.mo).count() == 3
    html = text_of(client.post(url(running, f"ideas/{idea.pk}/undot/"), **HTMX))
    assert "You have 1 of 3 dots left" in html
    assert DotVote.objects.filter(person=org.mo).count() == 2


def test_a_plain_dot_post_redirects_with_the_error_as_a_message(
    org: Org, running: Workshop
) -> None:
    idea = idea_add(workshop=running, by=org.sam, kind="kpi", text="Calls per deal")
    client = org.client(org.mo)
    response = client.post(url(running, f"ideas/{idea.pk}/undot/"))
    assert response.status_code == 302
    assert "You have no dot on this idea." in text_of(client.get(response["Location"]))


def test_an_idea_of_another_workshop_is_not_found(org: Org, running: Workshop) -> None:
    other = workshop_start(
        workshop=workshop_create(
            by=org.ada,
            topic="Another",
            starts_at=running.starts_at,
            facilitator=org.ada,
            invited=[org.mo],
        ),
        by=org.ada,
    )
    idea = idea_add(workshop=other, by=org.mo, kind="kpi", text="Elsewhere")
    response = org.client(org.mo).post(url(running, f"ideas/{idea.pk}/dot/"))
    assert response.status_code == 404


def test_the_facilitator_groups_ideas_and_the_group_input_survives_the_poll(
    org: Org, running: Workshop
) -> None:
    first = idea_add(workshop=running, by=org.mo, kind="kpi", text="Calls per deal")
    idea_add(workshop=running, by=org.sam, kind="kpi", text="Meetings per deal")
    client = org.client(org.nora)
    html = text_of(
        client.post(url(running, f"ideas/{first.pk}/group/"), {"group": "Activity"}, **HTMX)
    )
    assert '<h3 id="group-title-1">Activity <span class="meta">0 dots</span></h3>' in html
    assert "Not in a group yet" in html
    assert f'id="group-{first.pk}" name="group" value="Activity"' in html
    assert 'hx-preserve="true"' in html  # what the facilitator types is kept across polls
    assert '<datalist id="group-names"><option value="Activity">' in html
    assert WorkshopIdea.objects.get(pk=first.pk).group == "Activity"
    members = org.client(org.mo)
    assert members.post(url(running, f"ideas/{first.pk}/group/"), {"group": "X"}).status_code == 403
    assert 'class="group-form"' not in text_of(members.get(url(running, "board/")))


def test_the_polled_list_costs_the_same_few_queries_however_many_ideas(
    org: Org, running: Workshop, django_assert_max_num_queries: Any
) -> None:
    client = org.client(org.mo)

    def poll() -> None:
        client.get(url(running, "board/ideas/") + "?seen=running", **HTMX)

    for number in range(2):
        dot_add(
            idea=idea_add(workshop=running, by=org.sam, kind="kpi", text=f"I{number}"), by=org.mo
        )
    poll()
    with django_assert_max_num_queries(12) as few:
        poll()
    baseline = len(few.captured_queries)
    for number in range(10):
        idea = idea_add(workshop=running, by=org.sam, kind="data", text=f"More {number}")
        if number in (0, 3, 6):
            dot_add(idea=idea, by=org.sam)
    with django_assert_max_num_queries(baseline):
        poll()


# -- an idea into a proposal ------------------------------------------------------------------


def test_the_author_makes_a_proposal_of_an_idea_and_the_board_links_it(
    org: Org, running: Workshop
) -> None:
    idea = idea_add(workshop=running, by=org.mo, kind="target", text="Aim for 55% win rate")
    client = org.client(org.mo)
    board = text_of(client.get(url(running, "board/")))
    assert f'href="{url(running, f"ideas/{idea.pk}/propose/")}"' in board
    form = text_of(client.get(url(running, f"ideas/{idea.pk}/propose/")))
    assert '<option value="target_change" selected>' in form
    assert "Aim for 55% win rate</textarea>" in form
    win_rate = Kpi.objects.get(key="win_rate")
    data = {
        "kind": "target_change",
        "title": "Aim for 55% win rate",
        "why": "We reached 62.5% in March.",
        "kpi": win_rate.pk,
        "goal": "",
        "team": "",
        "target_value": "55",
        "effective_from": "2024-07",
    }
    missing = client.post(url(running, f"ideas/{idea.pk}/propose/"), {**data, "target_value": ""})
    assert missing.status_code == 200
    assert 'id="id_target_value_error"' in text_of(missing)
    assert not Proposal.objects.exists()
    response = client.post(url(running, f"ideas/{idea.pk}/propose/"), data)
    assert response.status_code == 302
    proposal = Proposal.objects.get()
    assert proposal.idea == idea
    assert proposal.author == org.mo
    assert proposal.kpi == win_rate
    assert proposal.target_value == Decimal("0.55")  # typed as a percentage
    assert proposal.effective_from == "2024-07"
    board = text_of(client.get(response["Location"]))
    assert f'id="proposal-of-{idea.pk}"' in board
    assert "Aim for 55% win rate" in board
    assert f'id="propose-{idea.pk}"' not in board
    again = client.get(url(running, f"ideas/{idea.pk}/propose/"))
    assert again.status_code == 302


def test_only_the_facilitator_and_the_author_may_make_an_idea_a_proposal(
    org: Org, running: Workshop
) -> None:
    idea = idea_add(workshop=running, by=org.mo, kind="kpi", text="Calls per deal")
    for person in (org.sam, org.vic):
        assert org.client(person).get(url(running, f"ideas/{idea.pk}/propose/")).status_code == 403
        board = text_of(org.client(person).get(url(running, "board/")))
        assert f'id="propose-{idea.pk}"' not in board
    assert org.client(org.nora).get(url(running, f"ideas/{idea.pk}/propose/")).status_code == 200


# -- feedback and the summary ------------------------------------------------------------------


def test_invited_people_give_feedback_once(org: Org, running: Workshop) -> None:
    workshop_close(workshop=running, by=org.nora)
    client = org.client(org.mo)
    page = text_of(client.get(url(running)))
    assert f'href="{url(running, "feedback/")}"' in page
    form = text_of(client.get(url(running, "feedback/")))
    assert 'type="radio" name="rating" value="5"' in form
    refused = client.post(url(running, "feedback/"), {"rating": "9", "comment": "?"})
    assert refused.status_code == 200
    assert 'id="id_rating_error"' in text_of(refused)
    assert not WorkshopFeedback.objects.exists()
    response = client.post(url(running, "feedback/"), {"rating": "4", "comment": "Useful"})
    assert response.status_code == 302
    assert "You rated this workshop 4 out of 5." in text_of(client.get(url(running)))
    client.post(url(running, "feedback/"), {"rating": "1", "comment": "Changed my mind"})
    assert list(WorkshopFeedback.objects.values_list("rating", flat=True)) == [4]
    assert org.client(org.ada).get(url(running, "feedback/")).status_code == 403


def test_the_summary_shows_attendance_ideas_dots_proposals_and_feedback(
    org: Org, running: Workshop
) -> None:
    calls = idea_add(workshop=running, by=org.mo, kind="kpi", text="Calls per deal")
    aim = idea_add(workshop=running, by=org.sam, kind="target", text="Aim for 55%")
    for idea, person in [(calls, org.mo), (calls, org.mo), (aim, org.sam), (calls, org.sam)]:
        dot_add(idea=idea, by=person)
    client = org.client(org.nora)
    client.post(url(running, "attendance/"), {"present": [org.mo.pk, org.sam.pk]})
    client.post(
        url(running, f"ideas/{aim.pk}/propose/"),
        {
            "kind": "target_change",
            "title": "Aim for 55%",
            "why": "Within reach",
            "kpi": Kpi.objects.get(key="win_rate").pk,
            "target_value": "55",
            "effective_from": "2024-07",
        },
    )
    client.post(url(running, "close/"))
    org.client(org.mo).post(url(running, "feedback/"), {"rating": "5", "comment": "Great"})
    org.client(org.sam).post(url(running, "feedback/"), {"rating": "2"})
    for person in (org.vic, org.ada, org.nora):
        assert org.client(person).get(url(running, "summary/")).status_code == 200
    html = text_of(org.client(org.vic).get(url(running, "summary/")))
    numbers = re.findall(
        r'id="summary-(\w+)"><span class="summary-label">[^<]+</span>'
        r'<span class="summary-value">([^<]+)</span>',
        html,
    )
    assert numbers == [
        ("attended", "2 of 3"),
        ("ideas", "2"),
        ("dots", "4"),
        ("proposals", "1"),
        ("rating", "3.5 / 5"),
    ]
    assert re.search(r'id="attended-names">Mo Member, Sam South<', html)
    assert re.search(r'id="absent-names">Vic Viewer<', html)
    rows = re.findall(r'<tr id="summary-idea-\d+">\s*<th scope="row">([^<]+)</th>', html)
    assert rows == ["Calls per deal", "Aim for 55%"]  # most dots first
    assert "Rated 3.5 out of 5 on average by 2 people." in html
    assert "Great" in html


def test_the_board_and_the_summary_in_traditional_chinese(org: Org, running: Workshop) -> None:
    idea = idea_add(workshop=running, by=org.sam, kind="kpi", text="Calls per deal")
    dot_add(idea=idea, by=org.mo)
    client: Client = org.client(org.mo)
    html = text_of(client.get(url(running, "board/"), HTTP_ACCEPT_LANGUAGE="zh-hant"))
    assert '<html lang="zh-hant">' in html
    assert "新增點子" in html
    assert "你還有 2 點（共 3 點）" in html
    assert "Add an idea" not in html
    refused = text_of(
        client.post(
            url(running, "ideas/"), {"kind": "kpi", "text": ""}, HTTP_ACCEPT_LANGUAGE="zh-hant"
        )
    )
    assert "點子沒有加上" in refused
    summary = text_of(client.get(url(running, "summary/"), HTTP_ACCEPT_LANGUAGE="zh-hant"))
    assert "依群組列出的點子" in summary
