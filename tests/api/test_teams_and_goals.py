"""Teams and goals through the API: read by anyone signed in, written by the right people."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from headway.accounts.models import Team
from headway.audit.models import AuditEntry
from headway.goals.models import Goal
from tests.api.conftest import Api, People


@pytest.mark.django_db
def test_an_admin_creates_a_team_under_another_and_renames_it(
    org: People, api_as: Callable[..., Api]
) -> None:
    api = api_as(org.admin)
    created = api.post("teams", {"key": "north-east", "name": " North-east ", "parent": "north"})
    assert created.status_code == 201, created.json()
    assert created["Location"] == "/api/v1/teams/north-east"
    assert created.json() == {"key": "north-east", "name": "North-east", "parent": "north",
                              "version": 1}  # fmt: skip
    renamed = api.patch("teams/north-east", {"name": "NE", "parent": None, "version": 1})
    assert renamed.json() == {"key": "north-east", "name": "NE", "parent": None, "version": 2}
    assert AuditEntry.objects.filter(action="team.create", actor=org.admin).count() == 1
    entry = AuditEntry.objects.get(action="team.update", actor=org.admin)
    assert (entry.before["name"], entry.after["name"]) == ("North-east", "NE")  # type: ignore[index]


@pytest.mark.django_db
def test_teams_are_listed_and_filtered_by_parent(org: People, api_as: Callable[..., Api]) -> None:
    api = api_as(org.admin)
    api.post("teams", {"key": "north-east", "name": "North-east", "parent": "north"})
    assert [team["key"] for team in api.get("teams").json()["items"]] == [
        "north",
        "north-east",
        "south",
    ]
    assert [team["key"] for team in api.get("teams", parent="north").json()["items"]] == [
        "north-east"
    ]
    assert api.get("teams/north")["ETag"] == '"1"'
    assert api.get("teams/east").status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({"key": "north", "name": "Again"}, "key", id="key taken"),
        pytest.param({"key": "a.b", "name": "Dotted"}, "key", id="dot in key"),
        pytest.param({"key": "-x", "name": "Dash first"}, "key", id="dash first"),
        pytest.param({"key": "east", "name": ""}, "name", id="no name"),
        pytest.param({"key": "east", "name": "East", "parent": "west"}, "parent", id="no parent"),
    ],
)
def test_a_bad_team_is_422(
    org: People, api_as: Callable[..., Api], body: dict[str, object], field: str
) -> None:
    response = api_as(org.admin).post("teams", body)
    assert response.status_code == 422
    assert field in [error["field"] for error in response.json()["errors"]]
    assert Team.objects.count() == 2


@pytest.mark.django_db
def test_a_team_cannot_be_inside_itself(org: People, api_as: Callable[..., Api]) -> None:
    api = api_as(org.admin)
    api.post("teams", {"key": "north-east", "name": "North-east", "parent": "north"})
    response = api.patch("teams/north", {"parent": "north-east", "version": 1})
    assert response.status_code == 422
    assert "inside itself" in response.json()["detail"]
    assert Team.objects.get(key="north").parent is None


@pytest.mark.django_db
def test_a_manager_creates_and_edits_a_goal_of_their_team(
    org: People, api_as: Callable[..., Api]
) -> None:
    api = api_as(org.north_manager)
    body = {"key": "north-q3", "title": "Best quarter", "horizon": "short", "team": "north",
            "parent": "grow", "owner": "north.manager@example.com", "start": "2026-07-01",
            "due": "2026-09-30", "statement": "Revenue of 5,000 in Q3"}  # fmt: skip
    created = api.post("goals", body)
    assert created.status_code == 201, created.json()
    assert created.json() == {**body, "status": "active", "description": "", "version": 1}
    edited = api.patch("goals/north-q3", {"status": "achieved", "due": None, "version": 1})
    assert edited.status_code == 200
    assert (edited.json()["status"], edited.json()["due"]) == ("achieved", None)
    assert Goal.objects.get(key="north-q3").status == "achieved"


@pytest.mark.django_db
def test_goals_are_listed_and_filtered(org: People, api_as: Callable[..., Api]) -> None:
    api = api_as(org.member)
    assert [goal["key"] for goal in api.get("goals").json()["items"]] == ["grow", "win-more"]
    assert [goal["key"] for goal in api.get("goals", parent="grow").json()["items"]] == ["win-more"]
    assert api.get("goals", team="south").json()["count"] == 0
    assert api.get("goals", status="achieved").json()["count"] == 0
    assert api.get("goals", status="sleeping").status_code == 422


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "field"),
    [
        pytest.param({"start": "2026-05-01", "due": "2026-01-01"}, "due", id="due before start"),
        pytest.param({"parent": "win-more"}, "parent", id="inside itself"),
        pytest.param({"parent": "nope"}, "parent", id="unknown parent"),
        pytest.param({"horizon": "forever"}, "horizon", id="unknown horizon"),
        pytest.param({"title": None}, "", id="null title"),
        pytest.param({"start": "someday"}, "start", id="not a date"),
    ],
)
def test_a_bad_goal_change_is_422(
    org: People, api_as: Callable[..., Api], changes: dict[str, object], field: str
) -> None:
    response = api_as(org.admin).patch("goals/grow", {**changes, "version": 1})
    assert response.status_code == 422, response.content
    assert field in [error["field"] for error in response.json()["errors"]]
    assert Goal.objects.get(key="grow").version == 1


@pytest.mark.django_db
def test_a_stale_goal_or_team_version_gives_409(org: People, api_as: Callable[..., Api]) -> None:
    api = api_as(org.admin)
    assert api.patch("goals/grow", {"title": "A", "version": 1}).status_code == 200
    assert api.patch("goals/grow", {"title": "B", "version": 1}).status_code == 409
    assert api.patch("teams/south", {"name": "A", "version": 1}).status_code == 200
    assert api.patch("teams/south", {"name": "B", "version": 1}).status_code == 409
    assert (Goal.objects.get(key="grow").title, Team.objects.get(key="south").name) == ("A", "A")
