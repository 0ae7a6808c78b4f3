"""Roles through the API: the same services, so the same rules as the web UI.

Admins do everything; a manager writes what belongs to the teams they manage; members
and viewers read.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from headway.accounts.models import Team
from headway.goals.models import Goal
from headway.kpis.models import Kpi, TargetVersion
from tests.api.conftest import Api, People

TARGET = {"effective_from": "2026-04", "value": "1500", "reason": "Spring campaign"}


def new_kpi(key: str = "deal_count", team: str | None = "north") -> dict[str, object]:
    return {"key": key, "name": "Deals", "formula": "deals", "unit": "count",
            "grain": "month", "team": team}  # fmt: skip


@pytest.mark.django_db
def test_a_member_cannot_create_or_edit_kpis(org: People, api_as: Callable[..., Api]) -> None:
    api = api_as(org.member)
    created = api.post("kpis", new_kpi())
    assert created.status_code == 403
    assert "manager" in created.json()["detail"]
    edited = api.patch("kpis/north_revenue", {"name": "Mine now", "version": 1})
    assert edited.status_code == 403
    assert not Kpi.objects.filter(key="deal_count").exists()
    assert Kpi.objects.get(key="north_revenue").name == "North revenue"


@pytest.mark.django_db
def test_a_member_cannot_add_targets(org: People, api_as: Callable[..., Api]) -> None:
    before = TargetVersion.objects.count()
    response = api_as(org.member).post("kpis/north_revenue/targets", TARGET)
    assert response.status_code == 403
    assert TargetVersion.objects.count() == before


@pytest.mark.django_db
def test_a_manager_edits_their_own_teams_kpis_and_targets(
    org: People, api_as: Callable[..., Api]
) -> None:
    api = api_as(org.north_manager)
    edited = api.patch("kpis/north_revenue", {"name": "North sales", "version": 1})
    assert edited.status_code == 200, edited.json()
    assert edited.json()["name"] == "North sales"
    assert api.post("kpis/north_revenue/targets", TARGET).status_code == 201
    assert api.post("kpis", new_kpi()).status_code == 201


@pytest.mark.django_db
def test_a_manager_cannot_edit_another_teams_kpis_or_targets(
    org: People, api_as: Callable[..., Api]
) -> None:
    api = api_as(org.north_manager)
    before = TargetVersion.objects.count()
    assert api.patch("kpis/south_revenue", {"name": "Ours", "version": 1}).status_code == 403
    assert api.post("kpis/south_revenue/targets", TARGET).status_code == 403
    assert api.post("kpis", new_kpi(team="south")).status_code == 403
    assert api.post("kpis", new_kpi(team=None)).status_code == 403
    assert Kpi.objects.get(key="south_revenue").name == "South revenue"
    assert TargetVersion.objects.count() == before


@pytest.mark.django_db
def test_a_manager_cannot_move_their_kpi_to_another_team(
    org: People, api_as: Callable[..., Api]
) -> None:
    response = api_as(org.north_manager).patch(
        "kpis/north_revenue", {"team": "south", "version": 1}
    )
    assert response.status_code == 403
    assert Kpi.objects.get(key="north_revenue").team.key == "north"  # type: ignore[union-attr]


@pytest.mark.django_db
def test_a_manager_writes_goals_only_for_their_team(
    org: People, api_as: Callable[..., Api]
) -> None:
    api = api_as(org.south_manager)
    ours = {"key": "south-grows", "title": "South grows", "horizon": "short", "team": "south"}
    assert api.post("goals", ours).status_code == 201
    assert api.patch("goals/grow", {"title": "Taken over", "version": 1}).status_code == 403
    assert Goal.objects.get(key="grow").title == "Grow revenue"


@pytest.mark.django_db
def test_only_an_admin_creates_and_changes_teams(org: People, api_as: Callable[..., Api]) -> None:
    manager = api_as(org.north_manager)
    assert manager.post("teams", {"key": "east", "name": "East"}).status_code == 403
    assert manager.patch("teams/north", {"name": "Mine", "version": 1}).status_code == 403
    assert not Team.objects.filter(key="east").exists()


@pytest.mark.django_db
def test_a_viewer_only_reads(org: People, api_as: Callable[..., Api]) -> None:
    # A viewer's tokens can only read; their browser session is refused by the services.
    api = api_as(org.viewer, scope="read")
    for path in ["teams", "goals", "kpis", "kpis/win_rate/targets", "kpis/win_rate/results"]:
        assert api.get(path).status_code == 200, path
    browser = Client()
    browser.force_login(org.viewer)
    session = Api(browser)
    assert session.post("kpis", new_kpi()).status_code == 403
    assert session.patch("kpis/north_revenue", {"name": "x", "version": 1}).status_code == 403
    assert session.post("kpis/north_revenue/targets", TARGET).status_code == 403
    assert session.post("goals", {"key": "g", "title": "G", "horizon": "long"}).status_code == 403
    assert not Kpi.objects.filter(key="deal_count").exists()


@pytest.mark.django_db
def test_an_admin_can_do_everything(org: People, api_as: Callable[..., Api]) -> None:
    api = api_as(org.admin)
    assert api.post("teams", {"key": "east", "name": "East", "parent": "north"}).status_code == 201
    assert api.patch("teams/east", {"name": "Far East", "version": 1}).status_code == 200
    goal = {"key": "east-grows", "title": "East grows", "horizon": "long", "team": "east",
            "owner": "admin@example.com"}  # fmt: skip
    assert api.post("goals", goal).status_code == 201
    assert api.patch("goals/east-grows", {"status": "achieved", "version": 1}).status_code == 200
    assert api.post("kpis", new_kpi(team="east")).status_code == 201
    assert api.patch("kpis/south_revenue", {"direction": "down", "version": 1}).status_code == 200
    assert api.post("kpis/south_revenue/targets", TARGET).status_code == 201
    assert api.post("kpis", new_kpi(key="org_deals", team=None)).status_code == 201
    assert Team.objects.get(key="east").name == "Far East"
    assert Goal.objects.get(key="east-grows").status == "achieved"
    assert Kpi.objects.get(key="south_revenue").direction == "down"
