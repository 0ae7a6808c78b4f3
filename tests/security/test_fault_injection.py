"""Faults in CI: a few imports and recomputes killed with SIGKILL at random points on
SQLite and on PostgreSQL (bench/fault_injection.py with fewer runs: the bench itself runs
at least 20 per operation and database, and stops a PostgreSQL server mid-import); and the
hole that its injected database errors found, closed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.db import OperationalError

from headway.audit.models import AuditEntry
from headway.ingestion import services
from headway.ingestion.models import ImportRun
from headway.ingestion.services import import_file, table_path
from headway.kpis.models import Dataset
from tests.app.conftest import build_organisation
from tests.ingestion.conftest import DEALS_V1, DEALS_V2, expected_deals, table_rows, write
from tests.security.places import NOT_PASSED, REPOSITORY, postgres_admin_url

KILLS = 3  # per operation and database: 6 per database


@pytest.mark.slow
def test_imports_and_recomputes_killed_at_random_points_leave_no_partial_state(
    tmp_path: Path,
) -> None:
    postgres_admin_url()
    report = tmp_path / "faults.json"
    environment = dict(os.environ)
    for key in NOT_PASSED:
        environment.pop(key, None)
    completed = subprocess.run(
        [
            sys.executable,
            str(REPOSITORY / "bench" / "fault_injection.py"),
            "--runs",
            str(KILLS),
            "--error-runs",
            "0",
            "--stop-runs",
            "0",
            "--json",
            str(report),
        ],
        cwd=REPOSITORY,
        env=environment,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-6000:] + completed.stderr[-3000:]
    found = json.loads(report.read_text())
    tallies = {(t["database"], t["operation"]): t for t in found["tallies"]}
    assert sorted(tallies) == [
        ("postgresql", "import"),
        ("postgresql", "recompute"),
        ("sqlite", "import"),
        ("sqlite", "recompute"),
    ], found
    for key, tally in tallies.items():
        assert tally["fault"] == "SIGKILL"
        assert tally["runs"] == KILLS, key
        assert not tally["failures"], (key, found["seed"], tally["failures"])
        assert tally["faulted"] + tally["finished_before_the_fault"] == KILLS, key
        assert tally["faulted"] >= 1, key
        assert tally["points_in_a_clean_run"] >= 20, key


# The hole: an import whose table was replaced but whose record failed said "failed" ----------


@pytest.fixture
def deals(db: None, tmp_path: Path, settings: Any) -> Dataset:
    settings.HEADWAY_WAREHOUSE_DIR = tmp_path / "warehouse"
    build_organisation(tmp_path)
    dataset = Dataset.objects.get(key="deals")
    first = import_file(dataset=dataset, path=write(tmp_path, "v1.csv", DEALS_V1), by=None)
    assert first.status == "succeeded", first.error
    return dataset


def fail_at(step: str) -> Any:
    def hook(name: str) -> None:
        if name == step:
            raise OperationalError("database is locked")

    return hook


def actions(run: ImportRun) -> list[str]:
    entries = AuditEntry.objects.filter(object_type="ingestion.importrun", object_id=str(run.pk))
    return sorted(entries.values_list("action", flat=True))


def test_a_database_error_after_the_table_was_replaced_is_not_recorded_as_a_failure(
    deals: Dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    new = write(tmp_path, "v2.csv", DEALS_V2)
    monkeypatch.setattr(services, "fault_hook", fail_at("commit begun"))

    with pytest.raises(OperationalError):
        import_file(dataset=deals, path=new, by=None)

    run = ImportRun.objects.order_by("pk").last()
    assert run is not None
    # The table is the new one: the run must not say that nothing changed.
    rows = {row["deal_id"]: row for row in table_rows(table_path(deals))}
    assert rows == expected_deals(DEALS_V1, DEALS_V2)
    assert run.status == "abandoned"
    assert "replaced the table" in run.error
    assert "import the file again" in run.error
    assert actions(run) == ["import.abandon", "import.start"]

    monkeypatch.setattr(services, "fault_hook", None)
    again = import_file(dataset=deals, path=new, by=None)
    assert again.status == "succeeded"
    assert (again.added, again.updated, again.unchanged) == (0, 0, 3)
    run.refresh_from_db()
    assert run.status == "abandoned"


def test_a_database_error_before_the_table_was_replaced_fails_and_changes_nothing(
    deals: Dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(services, "fault_hook", fail_at("validated"))

    with pytest.raises(OperationalError):
        import_file(dataset=deals, path=write(tmp_path, "v2.csv", DEALS_V2), by=None)

    run = ImportRun.objects.order_by("pk").last()
    assert run is not None
    assert run.status == "failed"
    rows = {row["deal_id"]: row for row in table_rows(table_path(deals))}
    assert rows == expected_deals(DEALS_V1)
    assert actions(run) == ["import.finish", "import.start"]
