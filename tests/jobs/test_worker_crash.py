"""A worker killed in the middle of a sync: another worker takes the job over once its
lease is over, and the dataset ends with exactly the source's rows, applied once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.ingestion.conftest import table_rows

REPOSITORY = Path(__file__).resolve().parents[2]
FAULT_EXIT = 9
# The import's steps (services.fault_hook) a kill is tried at: right after it starts,
# mid-way, just before the table is replaced, just after, and before the commit.
FAULT_POINTS = [1, 4, 8, 9, 12]


def run(
    mode: str, folder: Path, fault_at: int = 0, lease: int = 1
) -> subprocess.CompletedProcess[str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "HEADWAY_DATA_DIR", "PYTEST_VERSION"}
    }
    environment.update(
        HEADWAY_MODE="test", HEADWAY_FAULT_AT=str(fault_at), HEADWAY_LEASE=str(lease)
    )
    return subprocess.run(
        [sys.executable, "-m", "tests.jobs.crash_worker", mode, str(folder)],
        cwd=REPOSITORY,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def report(completed: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert completed.returncode == 0, completed.stderr
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.slow
@pytest.mark.parametrize("fault_at", FAULT_POINTS)
def test_a_sync_killed_mid_way_is_finished_once_by_the_next_worker(
    tmp_path: Path, fault_at: int
) -> None:
    setup = run("setup", tmp_path)
    assert setup.returncode == 0, setup.stderr

    killed = run("work", tmp_path, fault_at=fault_at, lease=1)
    assert killed.returncode == FAULT_EXIT, killed.stderr
    time.sleep(1.2)  # the dead worker's lease runs out
    finished = report(run("work", tmp_path))

    sync, refresh = finished["jobs"]
    assert (sync["kind"], sync["status"], sync["attempts"]) == ("ingestion.sync", "succeeded", 2)
    # The KPIs are recomputed whether the rows came now or with the killed attempt.
    assert (refresh["kind"], refresh["status"]) == ("results.refresh", "succeeded")
    succeeded = [item for item in finished["runs"] if item["status"] == "succeeded"]
    assert len(succeeded) == 1
    # Killed before the new table was in place, the second worker adds the rows; killed
    # after, it finds them there and changes nothing. Either way they are applied once.
    assert succeeded[0]["added"] in (0, 3)
    assert {item["status"] for item in finished["runs"]} <= {"succeeded", "abandoned"}
    assert finished["cursor"] == "3"
    rows = table_rows(tmp_path / "warehouse" / "deals.parquet")
    assert [row["deal_id"] for row in rows] == ["a", "b", "c"]
