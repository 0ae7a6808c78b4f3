"""Reading pages: the goal tree, a KPI with its chart, history, breakdown and
explanation, goals, teams and my KPIs."""

from __future__ import annotations

import re
from typing import Protocol

import pytest
from django.urls import reverse

from headway.kpis.services import kpi_create
from tests.web.conftest import PASSWORD, Org

pytestmark = pytest.mark.django_db


class Response(Protocol):
    @property
    def content(self) -> bytes: ...


def text_of(response: Response) -> str:
    return response.content.decode()


@pytest.mark.parametrize(
    "url",
    ["/", "/me/", "/kpis/win_rate/", "/goals/grow/", "/teams/north/", "/kpis/win_rate/explain/"],
)
def test_every_page_asks_to_sign_in_first(org: Org, url: str) -> None:
    response = org.client(None).get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_signing_in_with_the_password_leads_to_the_goals(org: Org) -> None:
    client = org.client(None)
    page = client.get("/accounts/login/")
    assert page.status_code == 200
    assert 'autocomplete="current-password"' in text_of(page)
    response = client.post(
        "/accounts/login/", {"username": "mo@example.com", "password": PASSWORD}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("web:home")
    assert "Mo Member" in text_of(response)


def test_a_wrong_password_is_refused_with_a_message(org: Org) -> None:
    response = org.client(None).post(
        "/accounts/login/", {"username": "mo@example.com", "password": "nope"}
    )
    assert response.status_code == 200
    assert "did not match" in text_of(response)


def test_signing_out_needs_a_post_and_returns_to_sign_in(org: Org) -> None:
    client = org.client(org.mo)
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert client.get("/").status_code == 302


def test_home_shows_the_goal_tree_with_each_kpis_value_and_status(org: Org) -> None:
    html = text_of(org.client(org.vic).get("/"))
    # Nested lists: "Win more deals" sits inside "Grow the business".
    grow = html.index("Grow the business")
    win_more = html.index("Win more deals")
    assert grow < win_more
    assert re.search(r'class="goal-children">\s*<li class="goal">', html)
    # April's win rate: 4 of 8 deals won, against a 60% target: 83.3%, off track.
    assert "50.0%" in html
    assert "60.0%" in html
    assert "83.3%" in html
    assert "■</span> Off track" in html
    # Revenue is formatted with the organisation's currency and thousands separators.
    assert "TWD 1,234,752" in html
    # A trend arrow has words for screen readers, and each KPI a sparkline.
    assert "Down since the previous period (worse)" in html
    assert 'class="sparkline"' in html


def test_kpis_linked_to_no_goal_are_listed_after_the_tree(org: Org) -> None:
    html = text_of(org.client(org.vic).get("/"))
    assert "KPIs linked to no goal" in html
    assert html.index("KPIs linked to no goal") < html.index("Deals closed")
    assert "○</span> No target" in html


def test_the_kpi_page_shows_the_definition_chart_periods_and_freshness(org: Org) -> None:
    html = text_of(org.client(org.vic).get("/kpis/win_rate/"))
    assert "Win rate is won_deals / deals, computed per month" in html
    assert "the number of rows in dataset deals where stage = &#x27;won&#x27;" in html
    assert '<svg class="chart"' in html
    assert '<title id="chart-win_rate-title">Win rate against its target</title>' in html
    # The target change of March is marked on the chart.
    assert 'class="target-change"' in html
    assert "2024-03: 60.0%" in html
    # One row per period, newest first.
    assert html.index("April 2024") < html.index("January 2024")
    assert "62.5%" in html
    assert "Computed at" in html
    assert "Data as of" in html
    assert "Asia/Taipei" in html


def test_the_kpi_page_breaks_the_kpi_down_by_team(org: Org) -> None:
    html = text_of(org.client(org.vic).get("/kpis/win_rate/"))
    section = html[html.index('id="breakdown"') : html.index('id="targets"')]
    assert "By team, the latest periods" in section
    assert 'href="/teams/north/">North</a>' in section
    assert 'href="/teams/south/">South</a>' in section
    # North won 2 of 4 in April; South's group target of 40% puts it on track.
    assert "50.0%" in section
    assert "On track" in section


def test_the_breakdown_fragment_answers_htmx(org: Org) -> None:
    response = org.client(org.vic).get("/kpis/win_rate/breakdown/?by=team", HTTP_HX_REQUEST="true")
    html = text_of(response)
    assert html.lstrip().startswith('<section id="breakdown"')
    assert "<html" not in html


def test_the_kpi_page_lists_every_target_version(org: Org) -> None:
    html = text_of(org.client(org.vic).get("/kpis/win_rate/"))
    history = html[html.index('id="targets"') : html.index('id="freshness-title"')]
    assert history.count("<tr>") == 1 + 3
    assert "Raised after the Q1 review" in history
    assert "team = south" in history
    assert "Whole organisation" in history
    assert "Set-up" in history


def test_explaining_a_period_shows_measures_bounds_and_the_query(org: Org) -> None:
    response = org.client(org.vic).get(
        "/kpis/win_rate/explain/?period=2024-03", HTTP_HX_REQUEST="true"
    )
    html = text_of(response)
    assert "<html" not in html
    assert "Win rate in 2024-03" in html
    assert "won_deals" in html
    assert "stage = &#x27;won&#x27;" in html
    # March 2024 in Taipei: from local midnight on the 1st to midnight on 1 April.
    assert "from March 1, 2024, midnight up to (not including) April 1, 2024, midnight" in html
    assert "Asia/Taipei" in html
    # The measure values, recomputed and as stored with the result: 5 of 8 deals won.
    inputs = html[html.index("Measure values behind the number") :]
    assert re.search(
        r"<code>won_deals</code></th>\s*<td>2024-03</td>\s*"
        r"<td class=\"num\">5</td>\s*<td class=\"num\">5</td>",
        inputs,
    )
    assert "Raised after the Q1 review" in html
    assert "SELECT" in html


def test_explaining_without_htmx_gives_a_whole_page(org: Org) -> None:
    html = text_of(org.client(org.vic).get("/kpis/win_rate/explain/?period=2024-02"))
    assert "<html" in html
    assert "Win rate in 2024-02" in html


def test_explaining_a_bad_period_says_why_instead_of_failing(org: Org) -> None:
    response = org.client(org.vic).get("/kpis/win_rate/explain/?period=not-a-period")
    assert response.status_code == 200
    html = text_of(response)
    assert "This number cannot be explained" in html
    assert "is not a period label" in html


def test_explaining_a_kpi_entered_by_hand_says_there_is_no_query(org: Org) -> None:
    kpi_create(
        by=org.ada,
        key="visits",
        name="Store visits",
        formula="",
        unit="count",
        grain="month",
        entry="manual",
    )
    html = text_of(org.client(org.vic).get("/kpis/visits/explain/", HTTP_HX_REQUEST="true"))
    assert "entered by hand: no query computes it" in html
    assert "Its values are entered by hand." in text_of(org.client(org.vic).get("/kpis/visits/"))


def test_a_kpi_without_results_yet_has_a_calm_page(org: Org) -> None:
    kpi_create(
        by=org.ada, key="fresh", name="Fresh KPI", formula="deals", unit="count", grain="month"
    )
    html = text_of(org.client(org.vic).get("/kpis/fresh/"))
    assert "No values yet" in html
    assert "Not computed yet." in html
    assert "No target yet." in html
    home = text_of(org.client(org.vic).get("/"))
    assert "no results yet" in home


def test_an_unknown_kpi_goal_or_team_is_not_found(org: Org) -> None:
    client = org.client(org.vic)
    for url in ("/kpis/nothing/", "/goals/nothing/", "/teams/nothing/"):
        response = client.get(url)
        assert response.status_code == 404
        assert "Not found" in text_of(response)


def test_the_goal_page_shows_its_kpis_and_the_goals_under_it(org: Org) -> None:
    html = text_of(org.client(org.vic).get("/goals/grow/"))
    assert "Grow the business" in html
    assert "Revenue" in html
    assert 'href="/goals/win-more/"' in html
    child = text_of(org.client(org.vic).get("/goals/win-more/"))
    assert 'href="/goals/grow/"' in child  # the breadcrumb up the tree
    assert "Win rate" in child


def test_the_team_page_shows_its_kpis_people_and_child_teams(org: Org) -> None:
    north = text_of(org.client(org.vic).get("/teams/north/"))
    assert "Win rate" in north
    assert "Deals closed" in north
    assert "Nora North" in north
    assert "Manages the team" in north
    assert "Mo Member" in north
    sales = text_of(org.client(org.vic).get("/teams/sales/"))
    assert 'href="/teams/north/"' in sales
    assert 'href="/teams/south/"' in sales


def test_my_kpis_are_my_teams_kpis(org: Org) -> None:
    mine = text_of(org.client(org.mo).get("/me/"))
    assert "Win rate" in mine
    assert "Deals closed" in mine
    assert "Revenue" not in mine
    assert text_of(org.client(org.sam).get("/me/")).count("Revenue") >= 1


def test_pages_have_a_skip_link_a_main_landmark_and_table_headers(org: Org) -> None:
    html = text_of(org.client(org.vic).get("/kpis/win_rate/"))
    assert '<a class="skip-link" href="#main">' in html
    assert '<main id="main"' in html
    assert '<th scope="col">' in html
    assert '<th scope="row">' in html
    assert '<html lang="en">' in html
