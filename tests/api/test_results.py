"""Results: computed values per period and group, filtered, read-only."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.api.conftest import Api, People


def periods(response_json: dict[str, object]) -> list[tuple[str, str, str | None]]:
    items = response_json["items"]
    assert isinstance(items, list)
    return [(item["period"], item["group_value"], item["value"]) for item in items]


@pytest.mark.django_db
def test_a_kpis_totals_are_listed_by_period_with_their_inputs(
    org: People, api_as: Callable[..., Api]
) -> None:
    response = api_as(org.viewer, scope="read").get("kpis/north_revenue/results")
    assert response.status_code == 200
    body = response.json()
    assert periods(body) == [
        ("2026-01", "", "500"),
        ("2026-02", "", "700"),
        ("2026-03", "", "1200"),
    ]
    first = body["items"][0]
    assert first["kpi"] == "north_revenue"
    assert first["period_start"] == "2026-01-01"
    assert first["group_dimension"] == ""
    assert (first["target"], first["attainment"], first["status"]) == ("1000", "0.5", "red")
    assert first["measures"] == {"north_sales": "500"}
    assert first["computed_at"]


@pytest.mark.django_db
def test_results_are_filtered_by_period_labels_of_any_grain(
    org: People, api_as: Callable[..., Api]
) -> None:
    api = api_as(org.member)
    between = api.get("kpis/north_revenue/results", **{"from": "2026-02", "to": "2026-03"})
    assert [period for period, _, _ in periods(between.json())] == ["2026-02", "2026-03"]
    quarter = api.get("kpis/north_revenue/results", **{"to": "2026-Q1", "from": "2026-Q1"})
    assert quarter.json()["count"] == 3
    before = api.get("kpis/north_revenue/results", to="2026-01")
    assert [period for period, _, _ in periods(before.json())] == ["2026-01"]


@pytest.mark.django_db
def test_results_are_listed_per_group_of_a_dimension_or_for_one_group(
    org: People, api_as: Callable[..., Api]
) -> None:
    api = api_as(org.member)
    every = api.get("kpis/win_rate/results", group_dimension="team", to="2026-01")
    assert periods(every.json()) == [("2026-01", "north", "0.5"), ("2026-01", "south", "1")]
    north = api.get("kpis/win_rate/results", group_dimension="team", group_value="north")
    assert [group for _, group, _ in periods(north.json())] == ["north"] * 3
    assert north.json()["items"][0]["target"] == "0.6"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "March"}, "from"),
        ({"to": "2026-13"}, "to"),
        ({"group_value": "north"}, "group_value"),
        ({"limit": "many"}, "limit"),
    ],
)
def test_bad_result_filters_are_422_naming_the_parameter(
    org: People, api_as: Callable[..., Api], params: dict[str, str], field: str
) -> None:
    response = api_as(org.member).get("kpis/win_rate/results", **params)
    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == [field]


@pytest.mark.django_db
def test_results_are_read_only(org: People, api_as: Callable[..., Api]) -> None:
    api = api_as(org.admin)
    for method in ["post", "put", "patch", "delete"]:
        assert api.send(method, "kpis/win_rate/results", {}).status_code == 405


@pytest.mark.django_db
def test_results_of_an_unknown_kpi_are_404(org: People, api_as: Callable[..., Api]) -> None:
    assert api_as(org.member).get("kpis/nope/results").status_code == 404


@pytest.mark.django_db
def test_one_result_is_read_by_its_period(org: People, api_as: Callable[..., Api]) -> None:
    api = api_as(org.viewer, scope="read")
    response = api.get("kpis/north_revenue/results/2026-02")
    assert response.status_code == 200
    assert (response.json()["period"], response.json()["value"]) == ("2026-02", "700")
    assert api.get("kpis/north_revenue/results/2031-01").status_code == 404
