"""The datasets API: importing a file, and a dataset's source and its syncs."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpResponse

from headway.ingestion import sources
from headway.ingestion.services import table_path
from headway.ingestion.syncs import SYNC_JOB, source_create
from headway.jobs.models import Job
from headway.kpis.models import Dataset
from tests.api.conftest import Api, People
from tests.ingestion.conftest import table_rows
from tests.ingestion.test_syncs import ListedRows

HEADER = b"deal_id,closed_at,team,stage,amount\n"
GOOD = HEADER + b"f1,2026-04-02,north,won,500\nf2,2026-04-03,south,won,20\n"
BAD = HEADER + b"f1,2026-04-02,north,won,500\nf2,not a day,south,won,lots\n"


@pytest.fixture(autouse=True)
def warehouse(settings: Any, tmp_path: Path) -> Path:
    settings.HEADWAY_WAREHOUSE_DIR = tmp_path / "warehouse"
    return Path(settings.HEADWAY_WAREHOUSE_DIR)


@pytest.fixture(autouse=True)
def test_kind() -> Iterator[None]:
    sources.KINDS["test-rows"] = ListedRows()
    yield
    sources.KINDS.pop("test-rows", None)


def send_file(api: Api, name: str, content: bytes, **fields: str) -> HttpResponse:
    response: HttpResponse = api.client.post(
        "/api/v1/datasets/deals/files",
        {"file": SimpleUploadedFile(name, content), **fields},
        headers=api.headers,
    )
    return response


def test_a_file_sent_to_the_api_is_imported_like_an_upload(
    org: People, api_as: Callable[..., Api]
) -> None:
    response = send_file(api_as(org.north_manager), "april.csv", GOOD)

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["status"], body["added"], body["file_name"], body["source"]) == (
        "succeeded",
        2,
        "april.csv",
        "api",
    )
    deals = {row["deal_id"] for row in table_rows(table_path(Dataset.objects.get(key="deals")))}
    assert {"f1", "f2"} <= deals


def test_a_file_with_bad_values_names_each_line_and_writes_nothing(
    org: People, api_as: Callable[..., Api]
) -> None:
    response = send_file(api_as(org.admin), "april.csv", BAD)

    assert response.status_code == 422
    errors = {(error["row"], error["field"]) for error in response.json()["errors"]}
    assert errors == {(3, "closed_at"), (3, "amount")}
    table = table_path(Dataset.objects.get(key="deals"))
    assert not table.exists() or "f1" not in {row["deal_id"] for row in table_rows(table)}


def test_a_file_of_another_kind_is_refused_by_its_name(
    org: People, api_as: Callable[..., Api]
) -> None:
    response = send_file(api_as(org.admin), "april.json", b"{}")

    assert response.status_code == 422
    assert "april.json" in response.json()["detail"]


def test_members_and_read_tokens_may_not_import(org: People, api_as: Callable[..., Api]) -> None:
    assert send_file(api_as(org.member), "april.csv", GOOD).status_code == 403
    assert send_file(api_as(org.admin, scope="read"), "april.csv", GOOD).status_code == 403


def test_a_dataset_shows_its_source_and_a_sync_can_be_queued_once(
    org: People, api_as: Callable[..., Api]
) -> None:
    source_create(
        dataset=Dataset.objects.get(key="deals"),
        kind="test-rows",
        name="Test CRM",
        config={"rows": []},
        secrets={"token": "a-secret-token"},
        every_minutes=None,
        by=org.admin,
    )
    api = api_as(org.north_manager)

    shown = api.get("datasets/deals/source")
    first = api.post("datasets/deals/sync", {})
    second = api.post("datasets/deals/sync", {})

    assert shown.status_code == 200
    assert shown.json()["kind"] == "test-rows"
    assert "a-secret-token" not in shown.content.decode()
    assert (first.status_code, first.json()["sync"]) == (202, "queued")
    assert second.status_code == 202
    assert Job.objects.filter(kind=SYNC_JOB).count() == 1


def test_a_dataset_without_a_source_says_so(org: People, api_as: Callable[..., Api]) -> None:
    assert api_as(org.admin).get("datasets/deals/source").status_code == 404


def test_datasets_show_their_freshness_limit(org: People, api_as: Callable[..., Api]) -> None:
    Dataset.objects.filter(key="deals").update(freshness_hours=24)
    reader = api_as(org.viewer, scope="read")
    assert reader.get("datasets/deals").json()["stale"] is False  # its file is new
    # Never imported: the data is as old as the workspace's file.
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(Dataset.objects.get(key="deals").file, (two_days_ago, two_days_ago))

    body = reader.get("datasets/deals").json()

    assert (body["freshness_hours"], body["stale"]) == (24, True)


def test_a_file_over_the_upload_limit_is_refused_with_413(
    org: People, api_as: Callable[..., Api], settings: Any
) -> None:
    settings.HEADWAY_UPLOAD_MAX_BYTES = 1000
    big = HEADER + b"".join(b"x%d,2026-04-02,north,won,500\n" % number for number in range(3000))

    response = send_file(api_as(org.admin), "april.csv", big)

    assert response.status_code == 413
    assert "1,000 bytes" in response.json()["detail"]
