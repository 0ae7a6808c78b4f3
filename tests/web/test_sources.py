"""A dataset's source on the web: set up by an admin, synced on request, live status."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone, translation

from headway.ingestion import sources
from headway.ingestion.models import ImportRun, Source
from headway.ingestion.services import import_file
from headway.ingestion.syncs import SYNC_JOB
from headway.jobs.models import Job, JobStatus
from headway.kpis.models import Dataset
from tests.ingestion.test_syncs import ListedRows
from tests.web.conftest import Org, deal_rows, write_deals

ROWS = json.dumps(
    [
        {
            "deal_id": "z1",
            "closed_at": "2024-03-01",
            "team": "north",
            "stage": "won",
            "amount": 5,
            "updated": 1,
        }
    ]
)


@pytest.fixture(autouse=True)
def _folders(settings: Any, tmp_path: Path) -> None:
    settings.DATA_DIR = tmp_path / "data"
    settings.HEADWAY_WAREHOUSE_DIR = tmp_path / "data" / "warehouse"


@pytest.fixture(autouse=True)
def test_kind() -> Iterator[None]:
    sources.KINDS["test-rows"] = ListedRows()
    yield
    sources.KINDS.pop("test-rows", None)


def set_up(org: Org, token: str = "good-secret-token") -> Any:
    return org.client(org.ada).post(
        "/data/deals/source/?kind=test-rows",
        {"name": "Test CRM", "every_minutes": "60", "config_rows": ROWS, "secret_token": token},
    )


def test_an_admin_chooses_the_kind_then_fills_in_its_own_fields(org: Org) -> None:
    client = org.client(org.ada)

    kinds = client.get("/data/deals/source/")
    form = client.get("/data/deals/source/?kind=test-rows")

    assert kinds.status_code == 200
    assert "?kind=test-rows" in kinds.content.decode()
    page = form.content.decode()
    assert 'name="config_rows"' in page
    assert 'name="secret_token"' in page
    assert 'type="password"' in page


@pytest.mark.parametrize("person", ["nora", "mo", "vic"])
def test_only_admins_may_set_up_a_source(org: Org, person: str) -> None:
    response = org.client(getattr(org, person)).get("/data/deals/source/?kind=test-rows")

    assert response.status_code == 403


def test_setting_up_a_source_stores_it_and_queues_its_first_sync(org: Org) -> None:
    response = set_up(org)

    assert response.status_code == 302
    source = Source.objects.get(dataset__key="deals")
    assert (source.kind, source.name, source.every_minutes) == ("test-rows", "Test CRM", 60)
    assert source.config["rows"][0]["deal_id"] == "z1"
    assert "good-secret-token" not in source.secrets
    assert Job.objects.filter(kind=SYNC_JOB, status=JobStatus.QUEUED).count() == 1


def test_the_credentials_are_never_shown_again_and_kept_when_left_empty(org: Org) -> None:
    set_up(org)
    source = Source.objects.get()
    client = org.client(org.ada)

    page = client.get("/data/deals/source/").content.decode()
    assert "good-secret-token" not in page
    response = client.post(
        "/data/deals/source/",
        {
            "name": "Renamed",
            "every_minutes": "",
            "is_active": "on",
            "config_rows": ROWS,
            "secret_token": "",
            "version": source.version,
        },
    )

    assert response.status_code == 302
    source.refresh_from_db()
    assert (source.name, source.every_minutes) == ("Renamed", None)
    from headway.ingestion.credentials import decrypt_secrets

    assert decrypt_secrets(source.secrets) == {"token": "good-secret-token"}


def test_a_bad_configuration_is_shown_beside_its_field_and_saves_nothing(org: Org) -> None:
    response = org.client(org.ada).post(
        "/data/deals/source/?kind=test-rows",
        {"name": "Test CRM", "config_rows": "not json", "secret_token": "x"},
    )

    assert response.status_code == 200
    assert "This is not valid JSON" in response.content.decode()
    assert not Source.objects.exists()


def test_a_manager_may_sync_now_and_the_page_then_polls_for_the_status(org: Org) -> None:
    set_up(org)
    Job.objects.all().delete()
    client = org.client(org.nora)

    response = client.post("/data/deals/sync/")
    page = client.get("/data/deals/").content.decode()

    assert response.status_code == 302
    assert Job.objects.filter(kind=SYNC_JOB).count() == 1
    assert 'id="sync-queued"' in page
    assert 'hx-trigger="every 2s"' in page


def test_a_viewer_may_not_sync(org: Org) -> None:
    set_up(org)

    assert org.client(org.vic).post("/data/deals/sync/").status_code == 403


def test_only_an_admin_may_accept_a_schema_change(org: Org) -> None:
    set_up(org)

    response = org.client(org.nora).post("/data/deals/sync/", {"accept_schema_change": "on"})

    assert response.status_code == 403


def test_the_dataset_page_says_when_data_is_stale_in_both_languages(org: Org) -> None:
    path = org.folder / "fresh.csv"
    write_deals(path, deal_rows({("2024-02", "north"): 1}, start=500))
    import_file(dataset=Dataset.objects.get(key="deals"), path=path, by=org.ada)
    Dataset.objects.filter(key="deals").update(freshness_hours=48)
    ImportRun.objects.update(finished_at=timezone.now() - datetime.timedelta(days=9, hours=1))
    client = org.client(org.vic)

    english = client.get("/data/deals/").content.decode()
    with translation.override("zh-hant"):
        client.post("/language/", {"language": "zh-hant"})
        chinese = client.get("/data/deals/").content.decode()

    assert "data 9 days old" in english
    assert 'id="stale-badge"' in chinese
    assert "data 9 days old" not in chinese


@pytest.mark.parametrize("kind", ["sql", "hubspot", "salesforce", "pipedrive", "rest"])
def test_every_kind_of_source_has_a_form_of_its_own_fields(org: Org, kind: str) -> None:
    found = sources.kind_named(kind)

    page = org.client(org.ada).get(f"/data/deals/source/?kind={kind}").content.decode()

    for name in found.config_model.model_fields:
        assert f'name="config_{name}"' in page
    for name in found.secrets_model.model_fields:
        assert f'name="secret_{name}"' in page


def test_a_hubspot_source_is_set_up_from_its_form(org: Org) -> None:
    response = org.client(org.ada).post(
        "/data/deals/source/?kind=hubspot",
        {
            "name": "HubSpot deals",
            "every_minutes": "60",
            "config_object": "deals",
            "config_fields": '{"dealname": "name", "amount": "amount"}',
            "secret_access_token": "pat-eu1-secret",
        },
    )

    assert response.status_code == 302, response.content.decode()[-3000:]
    source = Source.objects.get()
    assert (source.kind, source.config["object"]) == ("hubspot", "deals")
    assert source.config["fields"] == {"dealname": "name", "amount": "amount"}
