"""Editing: only admins and the managers of a team change its things; every write goes
through a service; targets are appended, never overwritten; stale edits are refused."""

from __future__ import annotations

from typing import Any

import pytest

from headway.goals.models import Goal
from headway.kpis.models import Kpi, TargetVersion
from headway.kpis.services import kpi_update
from headway.results.models import Result
from tests.web.conftest import Org

pytestmark = pytest.mark.django_db


def kpi_post(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "key": "north_revenue",
        "name": "North revenue",
        "description": "",
        "entry": "formula",
        "formula": "revenue",
        "unit": "currency",
        "direction": "up",
        "grain": "month",
        "team": "",
        "owner": "",
        "green_from": "100",
        "amber_from": "90",
    }
    data.update(overrides)
    return data


def kpi_edit_post(kpi: Kpi, **overrides: Any) -> dict[str, Any]:
    data = kpi_post(
        name=kpi.name,
        formula=kpi.formula,
        unit=kpi.unit,
        grain=kpi.grain,
        team=kpi.team_id or "",
        version=kpi.version,
    )
    del data["key"]
    data.update(overrides)
    return data


def team_id(key: str) -> int:
    from headway.accounts.models import Team

    return Team.objects.get(key=key).pk


EDIT_PAGES = [
    "/goals/new/",
    "/goals/win-more/edit/",
    "/kpis/new/",
    "/kpis/win_rate/edit/",
    "/kpis/win_rate/targets/new/",
]


@pytest.mark.parametrize("url", EDIT_PAGES)
def test_a_member_gets_403_on_every_edit_page(org: Org, url: str) -> None:
    client = org.client(org.mo)
    assert client.get(url).status_code == 403
    assert client.post(url, {}).status_code == 403


@pytest.mark.parametrize("url", EDIT_PAGES)
def test_a_viewer_only_reads(org: Org, url: str) -> None:
    client = org.client(org.vic)
    response = client.get(url)
    assert response.status_code == 403
    assert "Not allowed" in response.content.decode()
    assert client.post(url, {}).status_code == 403


def test_the_403_page_is_a_page_not_a_traceback(org: Org) -> None:
    response = org.client(org.mo).get("/kpis/win_rate/edit/")
    html = response.content.decode()
    assert "Only admins, and the managers of a team" in html
    assert "Traceback" not in html


def test_members_and_viewers_see_no_edit_buttons(org: Org) -> None:
    for person in (org.mo, org.vic):
        html = org.client(person).get("/kpis/win_rate/").content.decode()
        assert "/kpis/win_rate/edit/" not in html
        assert "/kpis/win_rate/targets/new/" not in html
        assert "/kpis/new/" not in org.client(person).get("/").content.decode()


def test_a_manager_sees_edit_buttons_only_on_their_teams_kpis(org: Org) -> None:
    client = org.client(org.nora)
    assert "/kpis/win_rate/edit/" in client.get("/kpis/win_rate/").content.decode()
    assert "/kpis/revenue/edit/" not in client.get("/kpis/revenue/").content.decode()
    assert "/kpis/new/" in client.get("/").content.decode()


def test_a_manager_edits_their_teams_kpi(org: Org) -> None:
    kpi = Kpi.objects.get(key="win_rate")
    response = org.client(org.nora).post(
        "/kpis/win_rate/edit/", kpi_edit_post(kpi, name="Win rate of deals")
    )
    assert response.status_code == 302
    kpi.refresh_from_db()
    assert kpi.name == "Win rate of deals"
    assert kpi.version == 2


def test_a_manager_may_not_edit_another_teams_kpi(org: Org) -> None:
    kpi = Kpi.objects.get(key="revenue")
    client = org.client(org.nora)
    assert client.get("/kpis/revenue/edit/").status_code == 403
    response = client.post("/kpis/revenue/edit/", kpi_edit_post(kpi, name="Mine now"))
    assert response.status_code == 403
    assert client.post("/kpis/revenue/targets/new/", {}).status_code == 403
    kpi.refresh_from_db()
    assert kpi.name == "Revenue"


def test_a_manager_may_not_move_a_kpi_to_another_team(org: Org) -> None:
    kpi = Kpi.objects.get(key="win_rate")
    response = org.client(org.nora).post(
        "/kpis/win_rate/edit/", kpi_edit_post(kpi, team=team_id("south"))
    )
    assert response.status_code == 200  # south is not among the choices offered
    assert "Select a valid choice" in response.content.decode()
    kpi.refresh_from_db()
    assert kpi.team is not None
    assert kpi.team.key == "north"


def test_creating_a_kpi_with_a_bad_formula_shows_the_problem_and_creates_nothing(
    org: Org,
) -> None:
    before = Kpi.objects.count()
    response = org.client(org.ada).post("/kpis/new/", kpi_post(formula="won_deals / leadz"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "unknown measure &#x27;leadz&#x27;" in html
    assert 'aria-invalid="true"' in html
    assert Kpi.objects.count() == before


def test_creating_a_kpi_with_a_formula_that_does_not_parse_shows_where(org: Org) -> None:
    response = org.client(org.ada).post("/kpis/new/", kpi_post(formula="won_deals / "))
    assert response.status_code == 200
    assert "Please correct the problems below." in response.content.decode()
    assert not Kpi.objects.filter(key="north_revenue").exists()


def test_an_admin_creates_a_kpi_which_is_computed_at_once(org: Org) -> None:
    goal = Goal.objects.get(key="grow")
    client = org.client(org.ada)
    response = client.post("/kpis/new/", kpi_post(team=team_id("north"), goals=[goal.pk]))
    assert response.status_code == 302
    assert response["Location"] == "/kpis/north_revenue/"
    kpi = Kpi.objects.get(key="north_revenue")
    assert list(kpi.goals.all()) == [goal]
    assert Result.objects.filter(kpi=kpi, group_dimension="").count() == 4
    page = client.get("/kpis/north_revenue/").content.decode()
    assert "The KPI “North revenue” was created." in page


def test_a_manager_creates_kpis_only_for_their_teams(org: Org) -> None:
    client = org.client(org.nora)
    response = client.post("/kpis/new/", kpi_post(team=team_id("south")))
    assert response.status_code == 200
    response = client.post("/kpis/new/", kpi_post(team=""))
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert not Kpi.objects.filter(key="north_revenue").exists()
    response = client.post("/kpis/new/", kpi_post(team=team_id("north")))
    assert response.status_code == 302


def test_a_kpi_key_that_would_hide_a_page_is_refused(org: Org) -> None:
    response = org.client(org.ada).post("/kpis/new/", kpi_post(key="new"))
    assert "This key is taken by a page of Headway" in response.content.decode()


def test_an_edit_from_a_stale_version_is_refused_as_a_conflict(org: Org) -> None:
    kpi = Kpi.objects.get(key="win_rate")
    stale = kpi_edit_post(kpi, name="My change")
    kpi_update(kpi=kpi, by=org.ada, expected_version=kpi.version, name="Their change")
    response = org.client(org.nora).post("/kpis/win_rate/edit/", stale)
    assert response.status_code == 200
    assert "Someone else changed this while you were editing it" in response.content.decode()
    kpi.refresh_from_db()
    assert kpi.name == "Their change"


def test_a_goal_edit_from_a_stale_version_is_refused_as_a_conflict(org: Org) -> None:
    goal = Goal.objects.get(key="win-more")
    form = {
        "title": "Win many more deals",
        "horizon": "short",
        "status": "active",
        "team": team_id("north"),
        "version": goal.version,
    }
    client = org.client(org.nora)
    assert client.post("/goals/win-more/edit/", form).status_code == 302
    goal.refresh_from_db()
    assert goal.title == "Win many more deals"
    response = client.post("/goals/win-more/edit/", {**form, "title": "Stale"})
    assert "Someone else changed this" in response.content.decode()
    goal.refresh_from_db()
    assert goal.title == "Win many more deals"


def test_a_manager_creates_a_goal_for_their_team_and_an_admin_for_anyone(org: Org) -> None:
    form = {"key": "north-q3", "title": "North in Q3", "horizon": "short", "team": team_id("north")}
    response = org.client(org.nora).post("/goals/new/", form)
    assert response.status_code == 302
    assert response["Location"] == "/goals/north-q3/"
    response = org.client(org.ada).post(
        "/goals/new/", {"key": "company", "title": "Company", "horizon": "long"}
    )
    assert response.status_code == 302
    assert Goal.objects.filter(key__in=["north-q3", "company"]).count() == 2


def test_a_goal_due_before_it_starts_is_refused(org: Org) -> None:
    response = org.client(org.ada).post(
        "/goals/new/",
        {
            "key": "odd",
            "title": "Odd",
            "horizon": "short",
            "start": "2026-05-01",
            "due": "2026-01-01",
        },
    )
    assert "The due date is before the start." in response.content.decode()
    assert not Goal.objects.filter(key="odd").exists()


def test_revising_a_target_without_a_reason_is_refused(org: Org) -> None:
    before = TargetVersion.objects.count()
    client = org.client(org.nora)
    for reason in ("", "   "):
        response = client.post(
            "/kpis/win_rate/targets/new/",
            {"effective_from": "2024-05", "value": "55", "reason": reason},
        )
        assert response.status_code == 200
        assert "This field is required." in response.content.decode()
    assert TargetVersion.objects.count() == before


def test_a_revised_target_is_appended_to_the_history_and_nothing_is_overwritten(
    org: Org,
) -> None:
    kpi = Kpi.objects.get(key="win_rate")
    earlier = list(TargetVersion.objects.filter(kpi=kpi).values_list("pk", "value", "reason"))
    response = org.client(org.nora).post(
        "/kpis/win_rate/targets/new/",
        {"effective_from": "2024-04", "value": "55", "reason": "April is quieter"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == "/kpis/win_rate/#targets"
    html = response.content.decode()
    assert "The new target, 55.0% from 2024-04, was added to the history." in html
    assert "April is quieter" in html
    assert "Nora North" in html
    assert TargetVersion.objects.filter(kpi=kpi).count() == len(earlier) + 1
    assert set(earlier) <= set(
        TargetVersion.objects.filter(kpi=kpi).values_list("pk", "value", "reason")
    )
    new = TargetVersion.objects.filter(kpi=kpi).latest("pk")
    assert str(new.value.normalize()) == "0.55"
    # The KPI was recomputed: April's target is now 55%.
    april = Result.objects.get(kpi=kpi, period="2024-04", group_dimension="")
    assert april.target is not None
    assert april.target.normalize() == new.value.normalize()


def test_a_group_target_names_both_dimension_and_group(org: Org) -> None:
    response = org.client(org.ada).post(
        "/kpis/win_rate/targets/new/",
        {"effective_from": "2024-04", "value": "45", "where_dimension": "team", "reason": "x"},
    )
    assert "names both the dimension and the group" in response.content.decode()
    response = org.client(org.ada).post(
        "/kpis/win_rate/targets/new/",
        {
            "effective_from": "2024-04",
            "value": "45",
            "where_dimension": "team",
            "where_value": "north",
            "reason": "North's own",
        },
    )
    assert response.status_code == 302
    assert TargetVersion.objects.filter(where_value="north").count() == 1


def test_a_target_from_a_bad_period_is_refused_beside_the_field(org: Org) -> None:
    response = org.client(org.ada).post(
        "/kpis/win_rate/targets/new/",
        {"effective_from": "2024-13", "value": "45", "reason": "x"},
    )
    assert response.status_code == 200
    assert "is not a period label" in response.content.decode()


def test_the_live_formula_check_says_ok_or_lists_the_problems(org: Org) -> None:
    client = org.client(org.nora)
    good = client.post("/kpis/formula-check/", {"formula": "won_deals / deals"})
    assert good.status_code == 200
    assert "OK" in good.content.decode()
    bad = client.post("/kpis/formula-check/", {"formula": "won_deals / dealz"}).content.decode()
    assert "unknown measure &#x27;dealz&#x27;" in bad
    broken = client.post("/kpis/formula-check/", {"formula": "won_deals /"}).content.decode()
    assert "The formula has problems" in broken
    manual = client.post("/kpis/formula-check/", {"formula": "", "entry": "manual"})
    assert "no formula needed" in manual.content.decode()


def test_the_formula_check_is_for_editors_and_only_by_post(org: Org) -> None:
    assert org.client(org.mo).post("/kpis/formula-check/", {"formula": "deals"}).status_code == 403
    assert org.client(org.ada).get("/kpis/formula-check/").status_code == 405


def test_the_kpi_form_checks_the_formula_as_it_is_typed(org: Org) -> None:
    html = org.client(org.ada).get("/kpis/new/").content.decode()
    assert 'hx-post="/kpis/formula-check/"' in html
    assert 'hx-trigger="input changed delay:400ms, load"' in html
    assert 'hx-post="/kpis/preview/"' in html


def test_the_preview_computes_the_draft_over_the_latest_periods(org: Org) -> None:
    response = org.client(org.nora).post(
        "/kpis/preview/",
        {"formula": "won_deals / deals", "unit": "percent", "grain": "month", "direction": "up"},
    )
    html = response.content.decode()
    assert response.status_code == 200
    for label, value in [("2024-01", "50.0%"), ("2024-03", "62.5%"), ("2024-04", "50.0%")]:
        assert label in html
        assert value in html
    assert not Kpi.objects.filter(key__startswith="headway_draft").exists()


def test_the_preview_shows_problems_as_messages(org: Org) -> None:
    client = org.client(org.nora)
    html = client.post("/kpis/preview/", {"formula": "nope / deals"}).content.decode()
    assert "No preview" in html
    assert "unknown measure" in html
    html = client.post("/kpis/preview/", {"formula": ""}).content.decode()
    assert "Type a formula to see its values." in html


def test_the_kpi_form_shows_thresholds_as_percentages_of_the_target(org: Org) -> None:
    html = org.client(org.nora).get("/kpis/win_rate/edit/").content.decode()
    assert 'name="green_from" value="100"' in html
    assert 'name="amber_from" value="90"' in html
