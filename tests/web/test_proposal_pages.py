"""The proposal pages: the list with its filters, proposing (each kind, with its effect on
the data shown live and after), a proposal's page for each role, support, the decision,
applying it, and the KPI page showing a target version that came from a proposal.

The people of tests/web/conftest.py: Ada (admin), Nora (north's manager), Mo (a member of
north), Vic (a viewer) and Sam (south's manager, an outsider to north's KPIs). North's
`win_rate` (percent, monthly) was 50%, 50%, 62.5% and 50% in January to April 2024, with
a target of 50% and then 60% from March.
"""

from __future__ import annotations

import datetime
import re
import zoneinfo
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from headway.accounts.models import User
from headway.audit.models import AuditEntry
from headway.goals.models import Goal
from headway.kpis.choices import TargetOrigin
from headway.kpis.models import Kpi, TargetVersion
from headway.lib.paths import proposal_path
from headway.notifications.models import Notification
from headway.participation.comments import subject_path
from headway.participation.models import Proposal, ProposalKind, ProposalStatus, Vote
from headway.participation.proposals import (
    proposal_accept,
    proposal_create,
    proposal_set_status,
    vote_add,
)
from tests.web.conftest import Org

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _default_language_after() -> Iterator[None]:
    """A page asked for in 繁體中文 leaves the language active in this thread: put it
    back, so that the next test (which may call services directly) reads English."""
    yield
    translation.deactivate()


HTMX = {"HTTP_HX_REQUEST": "true"}


def next_month() -> str:
    """The month after this one in Taipei: open, and a period a target may start from."""
    today = datetime.datetime.now(zoneinfo.ZoneInfo("Asia/Taipei")).date()
    first = (today.replace(day=1) + datetime.timedelta(days=32)).replace(day=1)
    return first.strftime("%Y-%m")


def html_of(response: Any) -> str:
    return str(response.content.decode())


def text_of(response: Any) -> str:
    """The words of the page's main part, tags stripped and spaces collapsed."""
    html = html_of(response)
    main = html[html.index("<main") : html.index("</main>")] if "<main" in html else html
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", main)).strip()


def win_rate() -> Kpi:
    return Kpi.objects.get(key="win_rate")


def target_change(by: User, value: str = "0.55", title: str = "Win rate to 55%") -> Proposal:
    return proposal_create(
        by=by,
        kind=ProposalKind.TARGET_CHANGE,
        title=title,
        why="60% was reached once in four months.",
        kpi=win_rate(),
        target_value=value,
        effective_from=next_month(),
    )


def url(proposal: Proposal, page: str = "") -> str:
    return f"/proposals/{proposal.pk}/{page}"


# -- addresses ---------------------------------------------------------------------------------


def test_the_pages_are_where_the_notifications_link_to(org: Org) -> None:
    proposal = target_change(org.mo)
    assert reverse("web:proposal", args=[proposal.pk]) == proposal_path(proposal.pk)
    assert reverse("web:kpi", args=["win_rate"]) == subject_path("kpi", "win_rate")
    assert reverse("web:goal", args=["grow"]) == subject_path("goal", "grow")
    assert reverse("web:kpi", args=["win_rate"]) + "?period=2024-02" == subject_path(
        "result", "win_rate@2024-02"
    )
    assert reverse("web:proposals") == "/proposals/"
    assert reverse("web:proposal_new") == "/proposals/new/"


@pytest.mark.parametrize(
    "page", ["/proposals/", "/proposals/new/", "/proposals/new/?kind=target_change"]
)
def test_every_page_asks_to_sign_in_first(org: Org, page: str) -> None:
    response = org.client(None).get(page)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


# -- the list ------------------------------------------------------------------------------------


def test_everyone_signed_in_sees_the_proposals_with_their_support(org: Org) -> None:
    proposal = target_change(org.mo)
    vote_add(proposal=proposal, by=org.nora)
    vote_add(proposal=proposal, by=org.sam)
    for person in (org.ada, org.nora, org.mo, org.vic, org.sam):
        response = org.client(person).get("/proposals/")
        assert response.status_code == 200
        row = re.search(rf'<tr id="proposal-row-{proposal.pk}">(.*?)</tr>', html_of(response), re.S)
        assert row is not None
        assert "Win rate to 55%" in row.group(1)
        assert '<td class="num">2</td>' in row.group(1)  # two supporters
        assert "Open" in row.group(1)


def test_the_list_filters_by_status_and_team(org: Org) -> None:
    north = target_change(org.mo)
    south = proposal_create(
        by=org.mo,
        kind=ProposalKind.RETIRE_KPI,
        title="Retire revenue",
        why="Nobody reads it",
        kpi=Kpi.objects.get(key="revenue"),
    )
    proposal_set_status(proposal=south, by=org.sam, status=ProposalStatus.UNDER_REVIEW)
    client = org.client(org.vic)
    everything = text_of(client.get("/proposals/"))
    assert "Win rate to 55%" in everything
    assert "Retire revenue" in everything
    reviewed = text_of(client.get("/proposals/?status=under_review"))
    assert "Retire revenue" in reviewed
    assert "Win rate to 55%" not in reviewed
    of_north = text_of(client.get("/proposals/?team=north"))
    assert "Win rate to 55%" in of_north
    assert "Retire revenue" not in of_north
    # The whole sales department has both: north and south are below it.
    assert "Retire revenue" in text_of(client.get("/proposals/?team=sales"))
    nothing = text_of(client.get("/proposals/?status=accepted&team=north"))
    assert "No proposal matches these filters." in nothing
    assert north.pk != south.pk


def test_the_list_reads_in_a_fixed_number_of_queries(org: Org) -> None:
    def count() -> int:
        client = org.client(org.nora)
        with CaptureQueriesContext(connection) as context:
            assert client.get("/proposals/").status_code == 200
        return len(context.captured_queries)

    target_change(org.mo)
    few = count()
    for number in range(6):
        proposal = target_change(org.mo, title=f"Another idea {number}")
        vote_add(proposal=proposal, by=org.nora)
    assert count() == few


# -- proposing ---------------------------------------------------------------------------------


def test_the_kpi_page_offers_to_propose_a_change_with_the_kpi_chosen(org: Org) -> None:
    client = org.client(org.mo)
    page = html_of(client.get("/kpis/win_rate/"))
    assert 'href="/proposals/new/?kpi=win_rate"' in page
    choose = html_of(client.get("/proposals/new/?kpi=win_rate"))
    assert 'href="/proposals/new/?kind=target_change&amp;kpi=win_rate"' in choose
    assert 'href="/proposals/new/?kind=retire_kpi&amp;kpi=win_rate"' in choose
    form = html_of(client.get("/proposals/new/?kind=target_change&kpi=win_rate"))
    assert '<option value="win_rate" selected>' in form
    assert "New target (%)" in form  # a percent KPI's target is typed in percent
    assert f'value="{next_month()}"' in form


def test_a_member_proposes_a_target_change_typed_in_percent(org: Org) -> None:
    client = org.client(org.mo)
    response = client.post(
        "/proposals/new/",
        {
            "kind": "target_change",
            "kpi": "win_rate",
            "target_value": "55",
            "effective_from": next_month(),
            "title": "",
            "why": "60% was reached once in four months.",
        },
    )
    proposal = Proposal.objects.get()
    assert response.status_code == 302
    assert response["Location"] == url(proposal)
    assert proposal.target_value == Decimal("0.55")
    assert proposal.author == org.mo
    assert proposal.team == win_rate().team
    # A title left empty is made from the KPI and the target.
    assert proposal.title == f"A target of 55.0% for Win rate from {next_month()}"
    page = text_of(client.get(url(proposal)))
    assert "The proposal is open" not in page  # the message said it once, on the redirect
    assert "Target now 60.0%" in page
    assert "Proposed target 55.0%" in page
    # Its effect: the last four complete months against each target.
    assert "The current target of 60.0% was met in 1 of the last 4 complete periods." in page
    assert (
        "The proposed target of 55.0% would have been met in 1 of the last 4 complete periods."
        in page
    )


def test_the_effect_shows_while_the_proposal_is_written(org: Org) -> None:
    client = org.client(org.mo)
    fields = {
        "kind": "target_change",
        "kpi": "win_rate",
        "target_value": "50",
        "effective_from": next_month(),
    }
    preview = text_of(client.post("/proposals/preview/", fields, **HTMX))
    assert "would have been met in 4 of the last 4 complete periods" in preview
    assert "April 2024" in preview
    waiting = text_of(client.post("/proposals/preview/", {**fields, "target_value": ""}, **HTMX))
    assert "Type the new target" in waiting
    assert "Choose the KPI" in text_of(
        client.post("/proposals/preview/", {**fields, "kpi": ""}, **HTMX)
    )
    assert Proposal.objects.count() == 0  # nothing is saved by a preview


def test_a_new_kpi_is_checked_live_and_its_history_shown(org: Org) -> None:
    client = org.client(org.mo)  # a member, who cannot edit KPIs, may propose one
    good = text_of(client.post("/proposals/formula-check/", {"formula": "won_deals / deals"}))
    assert "OK" in good
    bad = text_of(client.post("/proposals/formula-check/", {"formula": "won_deals / nothing"}))
    assert "nothing" in bad
    preview = text_of(
        client.post(
            "/proposals/preview/",
            {
                "kind": "new_kpi",
                "formula": "won_deals / deals",
                "unit": "percent",
                "grain": "month",
                "direction": "up",
                "target_value": "55",
            },
            **HTMX,
        )
    )
    assert "The draft formula has values for 4 complete periods." in preview
    assert "The suggested target of 55.0% would have been met in 1 of them." in preview
    assert "62.5%" in preview


def test_a_new_kpi_is_proposed_for_a_goal(org: Org) -> None:
    client = org.client(org.mo)
    goal_page = html_of(client.get("/goals/win-more/"))
    assert 'href="/proposals/new/?kind=new_kpi&amp;goal=win-more"' in goal_page
    form = html_of(client.get("/proposals/new/?kind=new_kpi&goal=win-more"))
    assert '<option value="win-more" selected>' in form
    assert '<option value="north" selected>' in form  # the goal's team decides
    # Without a goal, the proposer's own team is suggested.
    assert '<option value="north" selected>' in html_of(client.get("/proposals/new/?kind=new_kpi"))
    assert 'hx-post="/proposals/formula-check/"' in form
    response = client.post(
        "/proposals/new/?kind=new_kpi&goal=win-more",
        {
            "kind": "new_kpi",
            "kpi_name": "Deals won",
            "formula": "won_deals",
            "unit": "count",
            "grain": "month",
            "direction": "up",
            "target_value": "3",
            "effective_from": next_month(),
            "goal": "win-more",
            "team": "north",
            "title": "Count the deals we win",
            "why": "A count is easier to act on than a rate.",
        },
    )
    proposal = Proposal.objects.get()
    assert response["Location"] == url(proposal)
    assert (proposal.kpi_key, proposal.goal.key, proposal.team.key) == (  # type: ignore[union-attr]
        "deals_won",
        "win-more",
        "north",
    )
    assert proposal.target_value == Decimal(3)
    page = text_of(client.get(url(proposal)))
    assert "The draft formula has values for 4 complete periods." in page
    assert "Count the deals we win" in text_of(client.get("/goals/win-more/"))


def test_what_the_service_refuses_is_shown_beside_its_field_and_nothing_is_written(
    org: Org,
) -> None:
    client = org.client(org.mo)
    response = client.post(
        "/proposals/new/",
        {
            "kind": "target_change",
            "kpi": "win_rate",
            "target_value": "",
            "effective_from": "2026-Q1",
            "title": "x" * 301,
            "why": "",
        },
    )
    assert response.status_code == 200
    page = html_of(response)
    assert "Please correct the problems below." in page
    assert re.search(r'field-invalid">\s*<label for="id_title"', page)
    assert "Ensure this value has at most 300 characters" in page
    assert Proposal.objects.count() == 0
    response = client.post(
        "/proposals/new/",
        {"kind": "target_change", "kpi": "win_rate", "effective_from": "2026-Q1", "why": ""},
    )
    page = text_of(response)
    assert "Say what the new target should be." in page
    assert "This field is required." in page  # why
    assert "is not a month" in page
    assert Proposal.objects.count() == 0


def test_the_author_changes_an_open_proposal_and_only_the_author(org: Org) -> None:
    proposal = target_change(org.mo)
    author = org.client(org.mo)
    assert f'href="/proposals/{proposal.pk}/edit/"' in html_of(author.get(url(proposal)))
    form = html_of(author.get(url(proposal, "edit/")))
    assert 'value="55"' in form  # in percent
    response = author.post(
        url(proposal, "edit/"),
        {
            "kind": "target_change",
            "target_value": "52.5",
            "effective_from": next_month(),
            "title": "Win rate to 52.5%",
            "why": "Closer to what we reach.",
            "version": proposal.version,
        },
    )
    assert response["Location"] == url(proposal)
    proposal.refresh_from_db()
    assert (proposal.title, proposal.target_value) == ("Win rate to 52.5%", Decimal("0.525"))
    for person in (org.nora, org.ada, org.vic):
        assert f'href="/proposals/{proposal.pk}/edit/"' not in html_of(
            org.client(person).get(url(proposal))
        )
        assert org.client(person).get(url(proposal, "edit/")).status_code == 403
    # A stale version is a conflict, not an overwrite.
    stale = author.post(
        url(proposal, "edit/"),
        {
            "kind": "target_change",
            "target_value": "40",
            "effective_from": next_month(),
            "title": "Stale",
            "why": "Stale",
            "version": proposal.version - 1,
        },
    )
    assert "Someone else changed this" in text_of(stale)
    proposal_set_status(proposal=proposal, by=org.nora, status=ProposalStatus.UNDER_REVIEW)
    response = author.get(url(proposal, "edit/"))
    assert response["Location"] == url(proposal)


# -- support -----------------------------------------------------------------------------------


def test_a_colleague_supports_a_proposal_and_withdraws_the_support(org: Org) -> None:
    proposal = target_change(org.mo)
    client = org.client(org.nora)
    page = html_of(client.get(url(proposal)))
    assert 'name="support" value="add"' in page
    response = client.post(url(proposal, "support/"), {"support": "add"})
    assert response["Location"] == url(proposal) + "#support"
    assert list(Vote.objects.values_list("person__email", flat=True)) == ["nora@example.com"]
    page = client.get(url(proposal))
    assert "1 person supports it: Nora North" in text_of(page)
    assert 'name="support" value="withdraw"' in html_of(page)
    again = client.post(url(proposal, "support/"), {"support": "add"}, follow=True)
    assert "You support this proposal already." in text_of(again)
    assert Vote.objects.count() == 1
    client.post(url(proposal, "support/"), {"support": "withdraw"})
    assert Vote.objects.count() == 0


def test_a_viewer_sees_no_support_button_and_cannot_vote(org: Org) -> None:
    proposal = target_change(org.mo)
    client = org.client(org.vic)
    page = html_of(client.get(url(proposal)))
    assert 'name="support"' not in page
    assert "Viewers follow proposals" in page
    assert client.post(url(proposal, "support/"), {"support": "add"}).status_code == 403
    assert Vote.objects.count() == 0


# -- deciding and applying ----------------------------------------------------------------------


def test_the_author_sees_no_decision_and_may_not_decide(org: Org) -> None:
    proposal = target_change(org.nora, title="Nora's own idea")  # a manager's own proposal
    client = org.client(org.nora)
    assert 'id="status-form"' not in html_of(client.get(url(proposal)))
    response = client.post(
        url(proposal, "status/"), {"status": "accepted", "version": proposal.version}
    )
    assert response.status_code == 403
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.OPEN


def test_a_manager_of_another_team_cannot_accept(org: Org) -> None:
    proposal = target_change(org.mo)
    client = org.client(org.sam)
    assert 'id="status-form"' not in html_of(client.get(url(proposal)))
    response = client.post(
        url(proposal, "status/"), {"status": "accepted", "version": proposal.version}
    )
    assert response.status_code == 403
    assert client.post(url(proposal, "apply/")).status_code == 403
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.OPEN


def test_members_and_viewers_see_no_decision(org: Org) -> None:
    proposal = target_change(org.nora)
    for person in (org.mo, org.vic):
        client = org.client(person)
        assert 'id="status-form"' not in html_of(client.get(url(proposal)))
        assert (
            client.post(url(proposal, "status/"), {"status": "accepted", "version": 1}).status_code
            == 403
        )


def test_declining_needs_a_reason_shown_beside_it(org: Org) -> None:
    proposal = target_change(org.mo)
    client = org.client(org.nora)
    response = client.post(
        url(proposal, "status/"),
        {"status": "declined", "reason": "", "version": proposal.version},
    )
    assert response.status_code == 200
    assert "Say why the proposal is declined." in text_of(response)
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.OPEN
    client.post(
        url(proposal, "status/"),
        {"status": "declined", "reason": "Not this year.", "version": proposal.version},
    )
    proposal.refresh_from_db()
    assert (proposal.status, proposal.status_reason) == (ProposalStatus.DECLINED, "Not this year.")
    page = text_of(client.get(url(proposal)))
    assert "Nora North set it to declined" in page
    assert "Not this year." in page
    # A declined proposal may only be reopened.
    assert re.findall(r'name="status" value="(\w+)"', html_of(client.get(url(proposal)))) == [
        "open"
    ]


def test_a_proposal_is_merged_into_another(org: Org) -> None:
    first = target_change(org.mo, title="First")
    second = target_change(org.mo, title="Second")
    client = org.client(org.ada)
    page = html_of(client.get(url(second)))
    assert f'<option value="{first.pk}">#{first.pk} First</option>' in page
    client.post(
        url(second, "status/"),
        {"status": "merged", "merged_into": first.pk, "version": second.version},
    )
    second.refresh_from_db()
    assert second.merged_into == first
    assert f'href="/proposals/{first.pk}/"' in html_of(client.get(url(second)))
    assert "Second" in text_of(client.get(url(first)))  # merged into this one


def test_a_manager_accepts_and_applies_and_the_kpi_page_links_back(org: Org) -> None:
    proposal = target_change(org.mo)
    vote_add(proposal=proposal, by=org.ada)
    client = org.client(org.nora)
    page = html_of(client.get(url(proposal)))
    assert re.findall(r'name="status" value="(\w+)"', page) == [
        "under_review",
        "accepted",
        "declined",
        "merged",
    ]
    response = client.post(
        url(proposal, "status/"),
        {"status": "accepted", "reason": "Realistic and still a stretch.", "version": 1},
    )
    assert response["Location"] == url(proposal) + "#decision"
    page = html_of(client.get(url(proposal)))
    assert 'id="apply-form"' in page
    # The author may not apply it; the manager does.
    assert org.client(org.mo).post(url(proposal, "apply/")).status_code == 403
    client.post(url(proposal, "apply/"))
    proposal.refresh_from_db()
    version = TargetVersion.objects.get(origin_reference=proposal.reference)
    assert proposal.applied_target == version
    assert (version.value, version.origin) == (Decimal("0.55"), TargetOrigin.PROPOSAL)
    page = html_of(client.get(url(proposal)))
    assert f'href="/kpis/win_rate/#target-version-{version.pk}"' in page
    assert 'id="apply-form"' not in page
    assert 'id="status-form"' not in page

    kpi_page = client.get("/kpis/win_rate/")
    targets = html_of(kpi_page)
    targets = targets[
        targets.index('id="targets"') : targets.index("</section>", targets.index('id="targets"'))
    ]
    assert (
        f'from <a href="/proposals/{proposal.pk}/">proposal #{proposal.pk}: Win rate to 55%</a>'
        f", applied by Nora North"
    ) in targets
    assert f'<th scope="row" id="target-version-{version.pk}">' in targets
    assert f'<a class="meta" href="/proposals/{proposal.pk}/">#{proposal.pk}</a>' in targets
    # The KPI page lists the proposal, and the author and the supporter were told.
    assert f'id="kpi-proposal-{proposal.pk}"' in html_of(kpi_page)
    told = set(Notification.objects.filter(kind="proposal").values_list("person__email", flat=True))
    assert told == {"mo@example.com", "ada@example.com"}
    assert AuditEntry.objects.filter(action="participation.proposal.apply").count() == 1


def test_applying_twice_says_so_and_writes_once(org: Org) -> None:
    proposal = target_change(org.mo)
    proposal_accept(proposal=proposal, by=org.nora)
    client = org.client(org.nora)
    client.post(url(proposal, "apply/"))
    again = client.post(url(proposal, "apply/"), follow=True)
    assert "This proposal has been applied already." in text_of(again)
    assert TargetVersion.objects.filter(origin_reference=proposal.reference).count() == 1


def test_a_retirement_shows_the_goals_it_would_take_the_kpi_out_of(org: Org) -> None:
    proposal = proposal_create(
        by=org.mo, kind=ProposalKind.RETIRE_KPI, title="Retire it", why="Noise", kpi=win_rate()
    )
    page = text_of(org.client(org.vic).get(url(proposal)))
    assert "Retiring it takes it out of the goals it serves:" in page
    assert Goal.objects.get(key="win-more").title in page


def test_the_proposal_page_reads_in_traditional_chinese(org: Org) -> None:
    proposal = target_change(org.mo)
    client = org.client(org.nora)
    page = html_of(client.get(url(proposal), HTTP_ACCEPT_LANGUAGE="zh-hant"))
    assert '<html lang="zh-hant">' in page
    for english in ("What is proposed", "Its effect on the data", "Support", "Decision"):
        assert f">{english}<" not in page
    listing = html_of(client.get("/proposals/", HTTP_ACCEPT_LANGUAGE="zh-hant"))
    assert ">Proposals<" not in listing
