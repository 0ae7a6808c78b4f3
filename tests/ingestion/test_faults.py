"""An import killed at every one of its steps leaves the old table or the new one, never a
mix; the next import ends with exactly the file's rows and a consistent history."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.ingestion.conftest import DEALS_V1, DEALS_V2, expected_deals, table_rows

REPOSITORY = Path(__file__).resolve().parents[2]
FAULT_EXIT = 9


def run_script(mode: str, folder: Path, fault_at: int = 0) -> subprocess.CompletedProcess[str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "HEADWAY_DATA_DIR", "PYTEST_VERSION"}
    }
    environment.update(HEADWAY_MODE="test", HEADWAY_FAULT_AT=str(fault_at))
    return subprocess.run(
        [sys.executable, "-m", "tests.ingestion.crash_import", mode, str(folder)],
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


def restore(template: Path, folder: Path) -> None:
    # Same path every time: the database holds the dataset's absolute table path.
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(template, folder)


@pytest.mark.slow
def test_an_import_killed_at_any_step_leaves_the_old_or_the_new_table(tmp_path: Path) -> None:
    folder, template = tmp_path / "case", tmp_path / "template"
    folder.mkdir()
    (folder / "old.csv").write_text(DEALS_V1, encoding="utf-8")
    (folder / "new.csv").write_text(DEALS_V2, encoding="utf-8")
    setup = run_script("setup", folder)
    assert setup.returncode == 0, setup.stderr
    shutil.copytree(folder, template)
    table = folder / "warehouse" / "deals.parquet"
    old = expected_deals(DEALS_V1)
    new = expected_deals(DEALS_V1, DEALS_V2)

    clean = report(run_script("import", folder))
    steps: list[str] = clean["steps"]
    assert clean["status"] == "succeeded", clean["error"]
    assert len(steps) >= 20, steps

    outcomes: dict[str, str] = {}
    for number, step in enumerate(steps, start=1):
        restore(template, folder)
        crashed = run_script("import", folder, fault_at=number)
        assert crashed.returncode == FAULT_EXIT, (step, crashed.stderr)

        rows = {row["deal_id"]: row for row in table_rows(table)}
        assert rows in (old, new), f"killed at {step}: a table that is neither old nor new"
        outcomes[step] = "old" if rows == old else "new"

        again = report(run_script("import", folder))
        assert again["status"] == "succeeded", (step, again["error"])
        rows_list = table_rows(table)
        assert len(rows_list) == len({row["deal_id"] for row in rows_list}), "duplicate keys"
        assert {row["deal_id"]: row for row in rows_list} == new, step
        assert not list(folder.glob("warehouse/deals.parquet.tmp-*")), step
        statuses = [run["status"] for run in again["runs"]]
        # The first import (setup), the killed one if it got as far as recording itself,
        # and the import that just ran.
        assert statuses[0] == "succeeded", (step, statuses)
        assert statuses[-1] == "succeeded", (step, statuses)
        assert "running" not in statuses, (step, statuses)
        assert len(statuses) in (2, 3), (step, statuses)
        killed = statuses[1] if len(statuses) == 3 else None
        assert killed in {None, "abandoned", "succeeded"}, (step, statuses)
        if killed == "succeeded":
            assert outcomes[step] == "new", step
        if killed is None:
            assert outcomes[step] == "old", step
        last = again["runs"][-1]
        # Rows the killed import already put in are not counted again.
        expected = (0, 0) if outcomes[step] == "new" else (1, 1)
        assert (last["added"], last["updated"]) == expected, step

    print("fault points:", json.dumps(outcomes, indent=1))
    assert set(outcomes.values()) == {"old", "new"}
