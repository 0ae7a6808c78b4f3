"""The datasets API: reading datasets and their imports, and pushing rows into them."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from headway.accounts.models import ApiToken
from headway.ingestion.models import ImportRun
from headway.ingestion.services import table_path
from headway.kpis.models import Dataset
from headway.results.models import Result
from tests.api.conftest import Api, People
from tests.ingestion.conftest import table_rows

ROWS: list[dict[str, Any]] = [
    {"deal_id": "p1", "closed_at": "2026-04-02", "team": "north", "stage": "won", "amount": 500},
    {"deal_id": "p2", "closed_at": "2026-04-15", "team": "north", "stage": "won", "amount": 250},
    {"deal_id": "p3", "closed_at": "2026-04-20", "team": "south", "stage": "lost", "amount": 90},
]


@pytest.fixture(autouse=True)
def warehouse(settings: Any, tmp_path: Path) -> Path:
    settings.HEADWAY_WAREHOUSE_DIR = tmp_path / "warehouse"
    return Path(settings.HEADWAY_WAREHOUSE_DIR)


def deals() -> Dataset:
    return Dataset.objects.get(key="deals")


def amounts() -> dict[str, int]:
    return {row["deal_id"]: row["amount"] for row in table_rows(table_path(deals()))}


def test_a_push_adds_the_rows_and_the_same_push_again_changes_nothing(
    org: People, api_as: Callable[..., Api]
) -> None:
    api = api_as(org.admin)

    first = api.post("datasets/deals/rows", {"rows": ROWS})
    assert first.status_code == 200, first.json()
    assert {k: first.json()[k] for k in ("status", "added", "updated", "unchanged")} == {
        "status": "succeeded",
        "added": 3,
        "updated": 0,
        "unchanged": 0,
    }
    assert first.json()["source"] == "api"
    assert first.json()["by"] == "admin@example.com"
    assert amounts() == {"p1": 500, "p2": 250, "p3": 90}
    before = table_path(deals()).read_bytes()

    second = api.post("datasets/deals/rows", {"rows": ROWS})

    assert second.status_code == 200
    assert (second.json()["added"], second.json()["updated"], second.json()["unchanged"]) == (
        0,
        0,
        3,
    )
    assert table_path(deals()).read_bytes() == before


def test_a_push_of_changed_rows_updates_them_by_key(
    org: People, api_as: Callable[..., Api]
) -> None:
    api = api_as(org.north_manager)
    assert api.post("datasets/deals/rows", {"rows": ROWS}).status_code == 200
    changed = [{**ROWS[0], "amount": 550}, ROWS[1], {**ROWS[2], "deal_id": "p4"}]

    response = api.post("datasets/deals/rows", {"rows": changed})

    assert response.status_code == 200, response.json()
    assert (response.json()["added"], response.json()["updated"]) == (1, 1)
    assert response.json()["unchanged"] == 1
    assert amounts() == {"p1": 550, "p2": 250, "p3": 90, "p4": 90}


def test_bad_rows_are_all_named_and_nothing_is_written(
    org: People, api_as: Callable[..., Api]
) -> None:
    api = api_as(org.admin)
    assert api.post("datasets/deals/rows", {"rows": ROWS}).status_code == 200
    before = table_path(deals()).read_bytes()
    bad = [
        {**ROWS[0], "amount": 999},
        {**ROWS[1], "closed_at": "not a date"},
        {**ROWS[2], "amount": "lots"},
        {**ROWS[0], "amount": 1},
    ]

    response = api.post("datasets/deals/rows", {"rows": bad})

    assert response.status_code == 422
    body = response.json()
    found = [(error["row"], error["field"]) for error in body["errors"]]
    assert found == [(1, "closed_at"), (2, "amount"), (3, "deal_id")]
    assert body["errors"][0]["value"] == "not a date"
    assert "not a date or timestamp" in body["errors"][0]["message"]
    assert "not a whole number" in body["errors"][1]["message"]
    assert body["errors"][2]["message"] == "duplicate key 'p1': also in row 0"
    assert body["detail"].startswith("the rows were refused: 3 of 4 rows are bad")
    assert table_path(deals()).read_bytes() == before
    run = ImportRun.objects.get(pk=body["import_id"])
    assert (run.status, run.rejected, run.source) == ("failed", 3, "api")


def test_rows_of_the_wrong_shape_are_named_with_the_other_bad_values(
    org: People, api_as: Callable[..., Api]
) -> None:
    api = api_as(org.admin)
    assert api.post("datasets/deals/rows", {"rows": ROWS}).status_code == 200
    missing = {key: value for key, value in ROWS[1].items() if key != "stage"}
    bad = [
        {**ROWS[0], "colour": "red"},
        missing,
        {**ROWS[2], "amount": {"value": 1}},
        {**ROWS[2], "deal_id": "p9", "closed_at": "2026-13-45"},
    ]

    response = api.post("datasets/deals/rows", {"rows": bad})

    assert response.status_code == 422
    found = [(error["row"], error["field"]) for error in response.json()["errors"]]
    assert found == [(0, "colour"), (1, "stage"), (2, "amount"), (3, "closed_at")]
    assert amounts() == {"p1": 500, "p2": 250, "p3": 90}


def test_a_batch_over_10000_rows_is_refused_with_413(
    org: People, api_as: Callable[..., Api]
) -> None:
    rows = [{**ROWS[0], "deal_id": f"x{number}"} for number in range(10_001)]

    response = api_as(org.admin).post("datasets/deals/rows", {"rows": rows})

    assert response.status_code == 413
    assert "at most 10,000" in response.json()["detail"]
    assert not table_path(deals()).exists()
    assert not ImportRun.objects.exists()


def test_a_batch_over_the_byte_limit_is_refused_with_413(
    org: People, api_as: Callable[..., Api], settings: Any
) -> None:
    settings.HEADWAY_PUSH_MAX_BYTES = 200

    response = api_as(org.admin).post("datasets/deals/rows", {"rows": ROWS})

    assert response.status_code == 413
    assert "bytes of JSON" in response.json()["detail"]


@pytest.mark.parametrize("who", ["member", "viewer"])
def test_members_and_viewers_may_not_push(
    org: People, api_as: Callable[..., Api], who: str
) -> None:
    response = api_as(getattr(org, who), ApiToken.Scope.READ if who == "viewer" else "write").post(
        "datasets/deals/rows", {"rows": ROWS}
    )

    assert response.status_code == 403
    assert not ImportRun.objects.exists()


def test_a_read_only_token_may_not_push(org: People, api_as: Callable[..., Api]) -> None:
    response = api_as(org.admin, ApiToken.Scope.READ).post("datasets/deals/rows", {"rows": ROWS})

    assert response.status_code == 403
    assert "only read" in response.json()["detail"]


def test_an_unknown_dataset_is_404(org: People, api_as: Callable[..., Api]) -> None:
    api = api_as(org.admin)

    assert api.post("datasets/nope/rows", {"rows": ROWS}).status_code == 404
    assert api.get("datasets/nope").status_code == 404
    assert api.get("datasets/nope/imports").status_code == 404


def test_an_empty_batch_is_invalid(org: People, api_as: Callable[..., Api]) -> None:
    response = api_as(org.admin).post("datasets/deals/rows", {"rows": []})

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "rows"


def test_datasets_and_their_imports_are_listed(org: People, api_as: Callable[..., Api]) -> None:
    api = api_as(org.viewer, ApiToken.Scope.READ)
    assert api.get("datasets/deals").json()["rows"] is None
    api_as(org.admin).post("datasets/deals/rows", {"rows": ROWS})
    api_as(org.admin).post("datasets/deals/rows", {"rows": ROWS})

    listed = api.get("datasets").json()
    one = api.get("datasets/deals").json()
    imports = api.get("datasets/deals/imports", limit=1).json()

    assert listed["count"] == 1
    assert listed["items"][0] == one
    assert one["key_column"] == "deal_id"
    assert one["time_column"] == "closed_at"
    assert one["dimensions"] == ["team"]
    assert one["rows"] == 3
    assert one["last_import"] is not None
    assert [column["name"] for column in one["columns"]] == list(ROWS[0])
    assert imports["count"] == 2
    assert len(imports["items"]) == 1
    assert imports["items"][0]["unchanged"] == 3


def test_the_list_of_datasets_takes_a_fixed_number_of_queries(
    org: People, api_as: Callable[..., Api], django_assert_max_num_queries: Any
) -> None:
    api = api_as(org.admin)
    api.post("datasets/deals/rows", {"rows": ROWS})

    with django_assert_max_num_queries(4):
        assert api.get("datasets").status_code == 200


def test_the_kpis_follow_the_pushed_rows_at_once(org: People, api_as: Callable[..., Api]) -> None:
    # No recompute is run here: the push itself brings the KPIs that read the data up to date.
    assert api_as(org.admin).post("datasets/deals/rows", {"rows": ROWS}).status_code == 200

    april = datetime.date(2026, 4, 1)
    expected = sum(
        row["amount"] for row in ROWS if row["team"] == "north" and row["closed_at"] >= "2026-04"
    )
    result = Result.objects.get(kpi__key="north_revenue", period_start=april, group_dimension="")
    assert result.value == Decimal(expected)
    # The warehouse table holds only what was pushed: January's CSV deals are not in it.
    assert not Result.objects.filter(
        kpi__key="north_revenue", period_start=datetime.date(2026, 1, 1), value__gt=0
    ).exists()


def test_the_schema_describes_the_push(org: People, anonymous: Api) -> None:
    schema = anonymous.get("openapi.json").json()
    push = schema["paths"]["/api/v1/datasets/{key}/rows"]["post"]

    assert set(push["responses"]) >= {"200", "403", "404", "413", "422"}
    assert push["operationId"] == "datasets_push"
