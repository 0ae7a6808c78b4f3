"""KPIs: listed, read by key, created and changed, with bad input refused in words."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from headway.audit.models import AuditEntry
from headway.kpis.models import Kpi, KpiGoal
from tests.api.conftest import Api, People


def new_kpi(**changes: Any) -> dict[str, Any]:
    body = {"key": "deal_count", "name": "Deals", "formula": "deals", "unit": "count",
            "grain": "month", "team": "north"}  # fmt: skip
    return {**body, **changes}


@pytest.mark.django_db
def test_a_kpi_is_read_by_key_with_its_links_thresholds_and_decimals_as_strings(
    org: People, api_as: Callable[..., Api]
) -> None:
    response = api_as(org.member).get("kpis/win_rate")
    assert response.status_code == 200
    assert response["ETag"] == '"1"'
    assert response.json() == {
        "key": "win_rate",
        "name": "Win rate",
        "description": "",
        "entry": "formula",
        "manual_approval": False,
        "formula": "won / deals",
        "unit": "percent",
        "direction": "up",
        "grain": "month",
        "team": "north",
        "owner": None,
        "thresholds": {"green": "1", "amber": "0.8"},
        "goals": [{"goal": "grow", "weight": "1"}, {"goal": "win-more", "weight": "1"}],
        "active": True,
        "version": 1,
    }


@pytest.mark.django_db
def test_an_unknown_kpi_is_404_in_words(org: People, api_as: Callable[..., Api]) -> None:
    response = api_as(org.member).get("kpis/nope")
    assert response.status_code == 404
    assert response.json()["detail"] == "no KPI with key 'nope'"


@pytest.mark.django_db
def test_kpis_are_listed_a_page_at_a_time(org: People, api_as: Callable[..., Api]) -> None:
    api = api_as(org.member)
    everything = api.get("kpis").json()
    assert [kpi["key"] for kpi in everything["items"]] == [
        "north_revenue",
        "south_revenue",
        "win_rate",
    ]
    second = api.get("kpis", limit=1, offset=1).json()
    assert second == {"items": [everything["items"][1]], "count": 3, "limit": 1, "offset": 1}
    assert api.get("kpis", offset=10).json()["items"] == []
    assert api.get("kpis", limit=0).status_code == 422
    assert api.get("kpis", limit=501).status_code == 422


@pytest.mark.django_db
def test_kpis_are_filtered_by_team_and_goal(org: People, api_as: Callable[..., Api]) -> None:
    api = api_as(org.member)
    south = api.get("kpis", team="south").json()
    assert [kpi["key"] for kpi in south["items"]] == ["south_revenue"]
    serving = api.get("kpis", goal="win-more").json()
    assert [kpi["key"] for kpi in serving["items"]] == ["win_rate"]


@pytest.mark.django_db
def test_listing_kpis_takes_the_same_queries_however_many_there_are(
    org: People, api_as: Callable[..., Api]
) -> None:
    api = api_as(org.admin)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert api.get("kpis").status_code == 200
        return len(captured.captured_queries)

    few = queries()
    for number in range(5):
        body = new_kpi(key=f"extra_{number}", goals=[{"goal": "grow"}], owner="admin@example.com")
        assert api.post("kpis", body).status_code == 201
    assert queries() == few


@pytest.mark.django_db
def test_a_kpi_is_created_with_goal_links_and_weights(
    org: People, api_as: Callable[..., Api]
) -> None:
    body = new_kpi(
        goals=[{"goal": "grow", "weight": 0.25}, {"goal": "win-more", "weight": "2.5"}],
        thresholds={"green": "0.95", "amber": 0.7},
        owner="Member@Example.com",
        direction="down",
    )
    response = api_as(org.north_manager).post("kpis", body)
    assert response.status_code == 201, response.json()
    assert response["Location"] == "/api/v1/kpis/deal_count"
    created = response.json()
    assert created["goals"] == [
        {"goal": "grow", "weight": "0.25"},
        {"goal": "win-more", "weight": "2.5"},
    ]
    assert created["thresholds"] == {"green": "0.95", "amber": "0.7"}
    assert created["owner"] == "member@example.com"
    assert created["direction"] == "down"
    weights = dict(KpiGoal.objects.filter(kpi__key="deal_count").values_list("goal__key", "weight"))
    assert weights == {"grow": Decimal("0.25"), "win-more": Decimal("2.5")}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("formula", "words"),
    [
        ("won / dealz", "unknown measure 'dealz'"),
        ("won / ", "'/' has no operand after it"),
        ("won +* deals", "an operand is missing"),
    ],
)
def test_an_invalid_formula_gives_422_naming_the_problem(
    org: People, api_as: Callable[..., Api], formula: str, words: str
) -> None:
    api = api_as(org.admin)
    created = api.post("kpis", new_kpi(formula=formula))
    assert created.status_code == 422
    body = created.json()
    assert body["errors"][0]["field"] == "formula"
    assert words in body["errors"][0]["message"]
    assert words in body["detail"]
    edited = api.patch("kpis/win_rate", {"formula": formula, "version": 1})
    assert edited.status_code == 422
    assert edited.json()["errors"][0]["field"] == "formula"
    assert not Kpi.objects.filter(key="deal_count").exists()
    assert Kpi.objects.get(key="win_rate").formula == "won / deals"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param(new_kpi(key="deal-count"), "key", id="key with a dash"),
        pytest.param(new_kpi(key="2deals"), "key", id="key starting with a digit"),
        pytest.param(new_kpi(key="win_rate"), "key", id="key taken"),
        pytest.param(new_kpi(name=""), "name", id="no name"),
        pytest.param(new_kpi(name="x" * 301), "name", id="long name"),
        pytest.param(new_kpi(unit="furlongs"), "unit", id="unknown unit"),
        pytest.param(new_kpi(grain="fortnight"), "grain", id="unknown grain"),
        pytest.param(new_kpi(team="nowhere"), "team", id="unknown team"),
        pytest.param(new_kpi(owner="nobody@example.com"), "owner", id="unknown owner"),
        pytest.param(new_kpi(owner="not an address"), "owner", id="owner not an address"),
        pytest.param(new_kpi(goals=[{"goal": "nope"}]), "goals.0.goal", id="unknown goal"),
        pytest.param(new_kpi(goals=[{"goal": "grow"}] * 2), "", id="goal twice"),
        pytest.param(
            new_kpi(goals=[{"goal": "grow", "weight": "1000"}]), "goals.0.weight", id="big weight"
        ),
        pytest.param(
            new_kpi(goals=[{"goal": "grow", "weight": -1}]), "goals.0.weight", id="weight < 0"
        ),
        pytest.param(
            new_kpi(goals=[{"goal": "grow", "weight": "0.0001"}]),
            "goals.0.weight",
            id="weight too precise",
        ),
        pytest.param(
            new_kpi(thresholds={"green": "abc"}), "thresholds.green", id="threshold not a number"
        ),
        pytest.param(new_kpi(thresholds={"green": "NaN"}), "thresholds.green", id="NaN"),
        pytest.param(new_kpi(thresholds={"green": "1e20"}), "thresholds.green", id="huge"),
        pytest.param(
            new_kpi(thresholds={"green": 0.5, "amber": 0.9}),
            "thresholds.amber",
            id="amber above green",
        ),
        pytest.param(new_kpi(description="x" * 5001), "description", id="long description"),
        pytest.param({"key": "deal_count"}, "name", id="fields missing"),
        pytest.param([1, 2, 3], "key", id="a list"),
        pytest.param("just text", "key", id="a string"),
    ],
)
def test_bad_kpi_input_is_422_naming_the_field_never_500(
    org: People, api_as: Callable[..., Api], body: Any, field: str
) -> None:
    response = api_as(org.admin).post("kpis", body)
    assert response.status_code == 422, response.content
    errors = response.json()["errors"]
    assert field in [error["field"] for error in errors], errors
    assert all(error["message"] for error in errors)


@pytest.mark.django_db
def test_a_body_that_is_not_json_is_refused_without_a_500(
    org: People, api_as: Callable[..., Api]
) -> None:
    api = api_as(org.admin)
    response = api.client.post(
        "/api/v1/kpis", data="{not json", content_type="application/json", headers=api.headers
    )
    assert 400 <= response.status_code < 500
    assert "detail" in response.json()


@pytest.mark.django_db
def test_a_patch_changes_only_the_fields_it_sends(org: People, api_as: Callable[..., Api]) -> None:
    api = api_as(org.north_manager)
    response = api.patch(
        "kpis/win_rate",
        {"description": "Share of deals won", "thresholds": {"amber": "0.75"}, "version": 1},
    )
    assert response.status_code == 200, response.json()
    assert response["ETag"] == '"2"'
    changed = response.json()
    assert changed["description"] == "Share of deals won"
    assert changed["thresholds"] == {"green": "1", "amber": "0.75"}
    assert changed["name"] == "Win rate"
    assert changed["formula"] == "won / deals"
    assert [link["goal"] for link in changed["goals"]] == ["grow", "win-more"]
    assert changed["version"] == 2
    entry = AuditEntry.objects.filter(action="kpi.update").latest("pk")
    assert entry.actor == org.north_manager
    assert entry.before["description"] == ""  # type: ignore[index]
    assert entry.after["description"] == "Share of deals won"  # type: ignore[index]


@pytest.mark.django_db
def test_a_patch_replaces_goal_links_and_clears_the_owner_with_null(
    org: People, api_as: Callable[..., Api]
) -> None:
    api = api_as(org.admin)
    response = api.patch(
        "kpis/north_revenue",
        {"goals": [{"goal": "win-more", "weight": 3}], "owner": None, "version": 1},
    )
    assert response.status_code == 200, response.json()
    assert response.json()["goals"] == [{"goal": "win-more", "weight": "3"}]
    assert response.json()["owner"] is None


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["name", "unit", "formula", "grain", "thresholds"])
def test_a_patch_cannot_null_a_required_field(
    org: People, api_as: Callable[..., Api], field: str
) -> None:
    response = api_as(org.admin).patch("kpis/win_rate", {field: None, "version": 1})
    assert response.status_code == 422
    assert f"{field} cannot be null" in response.json()["detail"]


@pytest.mark.django_db
def test_a_stale_version_gives_409_and_changes_nothing(
    org: People, api_as: Callable[..., Api]
) -> None:
    manager, admin = api_as(org.north_manager), api_as(org.admin)
    assert admin.patch("kpis/win_rate", {"name": "Win ratio", "version": 1}).status_code == 200
    response = manager.patch("kpis/win_rate", {"name": "Hit rate", "version": 1})
    assert response.status_code == 409
    body = response.json()
    assert body["current_version"] == 2
    assert "changed by someone else" in body["detail"]
    assert Kpi.objects.get(key="win_rate").name == "Win ratio"


@pytest.mark.django_db
def test_if_match_with_the_etag_from_get_guards_an_update(
    org: People, api_as: Callable[..., Api]
) -> None:
    api = api_as(org.admin)
    etag = api.get("kpis/win_rate")["ETag"]
    first = api.patch("kpis/win_rate", {"name": "Win ratio"}, headers={"If-Match": etag})
    assert first.status_code == 200
    stale = api.patch("kpis/win_rate", {"name": "Hit rate"}, headers={"If-Match": etag})
    assert stale.status_code == 412
    assert stale.json()["current_version"] == 2
    assert stale["ETag"] == first["ETag"]
    fresh = api.patch("kpis/win_rate", {"name": "Hit rate"}, headers={"If-Match": first["ETag"]})
    assert fresh.status_code == 200
    assert Kpi.objects.get(key="win_rate").name == "Hit rate"


@pytest.mark.django_db
def test_an_update_must_say_which_version_it_edited(
    org: People, api_as: Callable[..., Api]
) -> None:
    api = api_as(org.admin)
    missing = api.patch("kpis/win_rate", {"name": "Hit rate"})
    assert missing.status_code == 428
    assert "version" in missing.json()["detail"]
    contradicting = api.patch(
        "kpis/win_rate", {"name": "Hit rate", "version": 1}, headers={"If-Match": '"2"'}
    )
    assert contradicting.status_code == 422
    garbled = api.patch("kpis/win_rate", {"name": "Hit rate"}, headers={"If-Match": "yesterday"})
    assert garbled.status_code == 422
    assert garbled.json()["errors"][0]["field"] == "If-Match"
    anything = api.patch("kpis/win_rate", {"name": "Hit rate"}, headers={"If-Match": "*"})
    assert anything.status_code == 200


@pytest.mark.django_db
def test_a_manual_kpi_may_ask_for_the_owners_approval_and_drop_it_later(
    org: People, api_as: Callable[..., Api]
) -> None:
    api = api_as(org.admin)
    body = new_kpi(key="csat", entry="manual", formula="", manual_approval=True)

    created = api.post("kpis", body)
    assert created.status_code == 201, created.json()
    assert created.json()["manual_approval"] is True
    changed = api.patch("kpis/csat", {"manual_approval": False, "version": 1})

    assert changed.status_code == 200, changed.json()
    assert changed.json()["manual_approval"] is False
