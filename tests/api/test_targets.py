"""Target versions: appended, never changed; every version stays readable."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from headway.kpis.models import TargetVersion
from tests.api.conftest import Api, People


def target(**changes: Any) -> dict[str, Any]:
    return {"effective_from": "2026-04", "value": "1500.50", "reason": "Spring campaign",
            **changes}  # fmt: skip


@pytest.mark.django_db
def test_adding_a_target_appends_a_version_and_leaves_the_old_one_untouched(
    org: People, api_as: Callable[..., Api]
) -> None:
    old = TargetVersion.objects.get(kpi__key="north_revenue")
    old_values = (old.effective_from, old.value, old.reason, old.decided_at)
    rows = TargetVersion.objects.count()

    response = api_as(org.north_manager).post("kpis/north_revenue/targets", target())

    assert response.status_code == 201, response.json()
    created = response.json()
    assert created["kpi"] == "north_revenue"
    assert created["effective_from"] == "2026-04"
    assert created["effective_start"] == "2026-04-01"
    assert created["value"] == "1500.5"
    assert created["reason"] == "Spring campaign"
    assert created["decided_by"] == "north.manager@example.com"
    assert created["origin"] == "setup"
    assert TargetVersion.objects.count() == rows + 1
    old.refresh_from_db()
    assert (old.effective_from, old.value, old.reason, old.decided_at) == old_values
    assert TargetVersion.objects.get(pk=created["id"]).value == Decimal("1500.5")


@pytest.mark.django_db
def test_a_new_version_for_the_same_period_is_appended_too(
    org: People, api_as: Callable[..., Api]
) -> None:
    api = api_as(org.admin)
    response = api.post(
        "kpis/north_revenue/targets", target(effective_from="2026-01", value=900, reason="Too high")
    )
    assert response.status_code == 201
    versions = api.get("kpis/north_revenue/targets").json()["items"]
    assert [(item["effective_from"], item["value"], item["reason"]) for item in versions] == [
        ("2026-01", "1000", "First plan"),
        ("2026-01", "900", "Too high"),
    ]


@pytest.mark.django_db
def test_target_versions_are_listed_oldest_period_first_with_groups(
    org: People, api_as: Callable[..., Api]
) -> None:
    api = api_as(org.north_manager)
    assert (
        api.post("kpis/win_rate/targets", target(value=0.7, effective_from="2026-Q2")).status_code
        == 201
    )
    listed = api.get("kpis/win_rate/targets").json()
    assert listed["count"] == 3
    assert [
        (item["effective_from"], item["where_dimension"], item["where_value"], item["value"])
        for item in listed["items"]
    ] == [
        ("2026-01", "", "", "0.5"),
        ("2026-01", "team", "north", "0.6"),
        ("2026-Q2", "", "", "0.7"),
    ]  # fmt: skip


@pytest.mark.django_db
def test_a_group_target_is_added_for_a_dimension_of_the_kpis_data(
    org: People, api_as: Callable[..., Api]
) -> None:
    body = target(value=0.4, where_dimension="team", where_value="south")
    response = api_as(org.admin).post("kpis/win_rate/targets", body)
    assert response.status_code == 201, response.json()
    assert (response.json()["where_dimension"], response.json()["where_value"]) == ("team", "south")


@pytest.mark.django_db
def test_a_group_target_for_a_dimension_the_data_lacks_is_refused_and_not_saved(
    org: People, api_as: Callable[..., Api]
) -> None:
    rows = TargetVersion.objects.count()
    body = target(where_dimension="colour", where_value="red")
    response = api_as(org.admin).post("kpis/win_rate/targets", body)
    assert response.status_code == 422
    assert "'colour' is not a dimension of dataset deals" in response.json()["detail"]
    assert TargetVersion.objects.count() == rows


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param(target(reason=""), "reason", id="no reason"),
        pytest.param(target(reason="   "), "reason", id="blank reason"),
        pytest.param(target(reason="x" * 501), "reason", id="long reason"),
        pytest.param(target(effective_from="2026-13"), "effective_from", id="no such month"),
        pytest.param(target(effective_from="April"), "effective_from", id="not a label"),
        pytest.param(target(value="lots"), "value", id="value not a number"),
        pytest.param(target(value="Infinity"), "value", id="infinite"),
        pytest.param(target(value="1e25"), "value", id="too big"),
        pytest.param(target(value="0.00000000001"), "value", id="too precise"),
        pytest.param(target(where_dimension="team"), "where_value", id="dimension alone"),
        pytest.param(target(origin="whim"), "origin", id="unknown origin"),
        pytest.param({"value": 1}, "effective_from", id="fields missing"),
    ],
)
def test_a_bad_target_is_422_naming_the_field(
    org: People, api_as: Callable[..., Api], body: dict[str, Any], field: str
) -> None:
    rows = TargetVersion.objects.count()
    response = api_as(org.admin).post("kpis/north_revenue/targets", body)
    assert response.status_code == 422, response.content
    assert field in [error["field"] for error in response.json()["errors"]]
    assert TargetVersion.objects.count() == rows


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_there_is_no_way_to_change_or_delete_target_versions(
    org: People, api_as: Callable[..., Api], method: str
) -> None:
    api = api_as(org.admin)
    version = TargetVersion.objects.get(kpi__key="north_revenue")
    for path in ["kpis/north_revenue/targets", f"kpis/north_revenue/targets/{version.pk}"]:
        response = api.send(method, path, {"value": 1})
        assert response.status_code in (404, 405), (path, response.status_code)
    version.refresh_from_db()
    assert version.value == Decimal(1000)


@pytest.mark.django_db
def test_targets_of_an_unknown_kpi_are_404(org: People, api_as: Callable[..., Api]) -> None:
    api = api_as(org.admin)
    assert api.get("kpis/nope/targets").status_code == 404
    assert api.post("kpis/nope/targets", target()).status_code == 404


@pytest.mark.django_db
def test_the_results_follow_a_new_target_at_once(org: People, api_as: Callable[..., Api]) -> None:
    from headway.results.models import Result

    response = api_as(org.north_manager).post(
        "kpis/north_revenue/targets", target(effective_from="2026-01", value="7")
    )
    assert response.status_code == 201, response.json()
    totals = Result.objects.filter(kpi__key="north_revenue", group_dimension="")
    assert totals.exists()
    assert {result.target for result in totals if result.period >= "2026-01"} == {Decimal("7")}


@pytest.mark.django_db
def test_one_target_version_is_read_by_its_id(org: People, api_as: Callable[..., Api]) -> None:
    api = api_as(org.viewer, scope="read")
    listed = api.get("kpis/north_revenue/targets").json()["items"][0]
    response = api.get(f"kpis/north_revenue/targets/{listed['id']}")
    assert response.status_code == 200
    assert response.json() == listed
    assert api.get("kpis/south_revenue/targets/{}".format(listed["id"])).status_code == 404
