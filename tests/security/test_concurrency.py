"""Nothing lost: two edits of the same object from the same version, at the same moment,
give exactly one success and one conflict, for every editable object, on SQLite and on
PostgreSQL; and where people edit (web pages, the admin, the API) the conflict is shown.

The concurrent rounds are bench/concurrency.py's, with fewer of them: the bench itself
runs 1,000 per object and database. Each database is one of the bench's own (a SQLite
file in WAL mode; a throwaway PostgreSQL database), whichever database this run uses.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.test import Client

from headway.accounts.models import ApiToken
from headway.accounts.services import token_create
from headway.audit.models import AuditEntry
from headway.ingestion import sources
from headway.ingestion.models import Source
from headway.ingestion.syncs import source_create
from headway.kpis.models import Dataset
from headway.participation.models import Proposal, ProposalKind
from headway.participation.proposals import proposal_create
from headway.reviews.choices import ActionStatus
from headway.reviews.models import Action, Meeting
from headway.reviews.services import action_close, cycle_create, meeting_create
from headway.web.views.common import CONFLICT_MESSAGE
from tests.app.conftest import Organisation
from tests.ingestion.test_syncs import ListedRows
from tests.reviews import conftest as review_fixtures
from tests.reviews.conftest import TODAY, at
from tests.security.places import NOT_PASSED, REPOSITORY, postgres_admin_url

ROUNDS = 25  # per object and database: the bench runs 1,000
BENCH = REPOSITORY / "bench" / "concurrency.py"

# The reviews' organisation, built once per module; each test runs in a savepoint of it.
built = review_fixtures.built
org = review_fixtures.org


def bench_objects() -> dict[str, str]:
    spec = importlib.util.spec_from_file_location("bench_concurrency", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    objects: dict[str, str] = module.OBJECTS
    return objects


def test_every_editable_object_is_in_the_bench() -> None:
    versioned = {
        model._meta.label_lower
        for model in apps.get_models()
        if model.__module__.startswith("headway.")
        and any(field.name == "version" for field in model._meta.concrete_fields)
    }
    assert len(versioned) >= 15
    assert set(bench_objects().values()) == versioned


@pytest.mark.slow
@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_two_edits_from_one_version_at_once_give_one_success_and_one_conflict(
    database: str, tmp_path: Path
) -> None:
    if database == "postgresql":
        postgres_admin_url()
    report = tmp_path / "concurrency.json"
    environment = {key: value for key, value in os.environ.items() if key not in NOT_PASSED}
    completed = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--rounds",
            str(ROUNDS),
            "--databases",
            database,
            "--json",
            str(report),
        ],
        cwd=REPOSITORY,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-6000:] + completed.stderr[-3000:]
    tallies = {tally["object"]: tally for tally in json.loads(report.read_text())}
    assert set(tallies) == set(bench_objects())
    for name, tally in tallies.items():
        counts = (tally["rounds"], tally["successes"], tally["conflicts"], tally["anomalies"])
        assert counts == (ROUNDS, ROUNDS, ROUNDS, 0), (name, tally["examples"])


# Where people see the conflict -------------------------------------------------------------


def _signed_in(person: Any) -> Client:
    client = Client()
    client.force_login(person)
    return client


def _meeting(organisation: Organisation) -> Meeting:
    return meeting_create(
        by=organisation.admin,
        cycle=cycle_create(by=organisation.admin, period="2026-Q1"),
        title="2026-Q1 review",
        scheduled_at=at(2026, 4, 15),
        chair=organisation.admin,
        participants=[organisation.manager],
    )


def test_an_admin_page_read_before_a_change_cannot_save_over_it(org: Organisation) -> None:
    org.admin.is_staff = org.admin.is_superuser = True
    org.admin.save()
    client = _signed_in(org.admin)
    dataset = Dataset.objects.get(key="deals")
    url = f"/admin/kpis/dataset/{dataset.pk}/change/"
    page = client.get(url).content.decode()
    assert f'name="edited_version" value="{dataset.version}"' in page
    data = {
        "key": "deals",
        "file": dataset.file,
        "key_column": dataset.key_column,
        "time_column": dataset.time_column,
        "dimensions": json.dumps(dataset.dimensions),
        "freshness_hours": "24",
        "edited_version": str(dataset.version),
    }
    assert client.post(url, data).status_code == 302
    stale = client.post(url, {**data, "freshness_hours": "48"})
    assert stale.status_code == 200
    assert str(CONFLICT_MESSAGE) in stale.content.decode()
    saved = Dataset.objects.get(pk=dataset.pk)
    assert (saved.freshness_hours, saved.version) == (24, dataset.version + 1)
    assert (
        AuditEntry.objects.filter(action="dataset.update", object_id=str(dataset.pk)).count() == 1
    )


@pytest.mark.parametrize(
    ("path", "change"),
    [
        ("teams/north", {"name": "Northern"}),
        ("goals/grow", {"title": "Grow faster"}),
        ("kpis/conversion", {"name": "Conversion of leads"}),
    ],
)
def test_the_api_answers_a_stale_if_match_412_and_a_stale_version_409(
    org: Organisation, path: str, change: dict[str, str]
) -> None:
    _, raw = token_create(by=org.admin, name="tests", scope=ApiToken.Scope.WRITE)
    client = Client(headers={"Authorization": f"Bearer {raw}"})
    url = f"/api/v1/{path}"
    etag = client.get(url)["ETag"]
    first = client.patch(url, change, content_type="application/json", headers={"If-Match": etag})
    assert first.status_code == 200
    assert first["ETag"] != etag

    stale = client.patch(url, change, content_type="application/json", headers={"If-Match": etag})
    assert stale.status_code == 412
    assert stale["ETag"] == first["ETag"]
    assert stale.json()["current_version"] == int(first["ETag"].strip('"'))

    version = int(etag.strip('"'))
    conflict = client.patch(url, {**change, "version": version}, content_type="application/json")
    assert conflict.status_code == 409
    assert client.get(url).json() == first.json()


def test_closing_an_action_someone_else_closed_meanwhile_shows_the_conflict(
    org: Organisation,
) -> None:
    meeting = _meeting(org)
    action = Action.objects.create(
        meeting=meeting, title="Call the lost leads", owner=org.admin, due=TODAY
    )
    client = _signed_in(org.admin)
    page = client.get(f"/reviews/meetings/{meeting.pk}/").content.decode()
    assert f'<input type="hidden" name="version" value="{action.version}">' in page
    action_close(action=action, by=org.admin, status=ActionStatus.DROPPED, note="Not needed")

    response = client.post(
        f"/reviews/actions/{action.pk}/close/",
        {"meeting": meeting.pk, "status": "done", "version": action.version},
        follow=True,
    )
    assert response.status_code == 200
    assert str(CONFLICT_MESSAGE) in response.content.decode()
    closed = Action.objects.get(pk=action.pk)
    assert (closed.status, closed.closing_note) == (ActionStatus.DROPPED, "Not needed")


def test_a_meeting_or_proposal_changed_without_its_version_is_refused(org: Organisation) -> None:
    meeting = _meeting(org)
    response = _signed_in(org.admin).post(
        f"/reviews/meetings/{meeting.pk}/edit/",
        {
            "title": "Renamed without a version",
            "scheduled_at": "2026-04-15T10:00",
            "chair": org.admin.pk,
            "participants": [org.manager.pk],
            "remind_days_before": "5",
        },
    )
    assert response.status_code == 200
    assert Meeting.objects.get(pk=meeting.pk).title == "2026-Q1 review"

    proposal = proposal_create(
        by=org.member,
        kind=ProposalKind.RETIRE_KPI,
        title="Retire revenue",
        why="Nobody reads it",
        kpi=review_fixtures.kpi("revenue"),
    )
    response = _signed_in(org.member).post(
        f"/proposals/{proposal.pk}/edit/", {"title": "Renamed", "why": "Nobody reads it"}
    )
    assert response.status_code == 200
    assert Proposal.objects.get(pk=proposal.pk).title == "Retire revenue"


def test_a_source_form_without_its_version_is_refused(org: Organisation) -> None:
    sources.KINDS["test-rows"] = ListedRows()
    try:
        source = source_create(
            dataset=Dataset.objects.get(key="deals"),
            kind="test-rows",
            name="Test CRM",
            config={"rows": []},
            secrets={"token": "good"},
            every_minutes=None,
            by=org.admin,
        )
        response = _signed_in(org.admin).post(
            "/data/deals/source/",
            {
                "name": "Renamed",
                "every_minutes": "",
                "is_active": "on",
                "config_rows": "[]",
                "secret_token": "",
            },
        )
    finally:
        sources.KINDS.pop("test-rows", None)
    assert response.status_code == 200
    assert "Someone changed this source meanwhile" in response.content.decode()
    assert Source.objects.get(pk=source.pk).name == "Test CRM"
