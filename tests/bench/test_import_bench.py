"""The import benchmark (bench/import_csv.py) runs end to end on a small file, so that it
cannot rot. Its figures are not checked here: speed is measured in bench/, not in tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]


def bench(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Runs the benchmark on 1,000 rows, one round, data and results in `folder`."""
    return subprocess.run(
        [
            sys.executable,
            str(REPOSITORY / "bench" / "import_csv.py"),
            *("--rows", "1000", "--repeats", "1"),
            *("--data", str(folder / "data"), "--out", str(folder / "import.json")),
            *args,
        ],
        cwd=folder,
        # The benchmark's Headway keeps its app database in SQLite, in a folder of its own.
        env={k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.slow
def test_the_import_benchmark_runs_and_reports_on_a_small_file(tmp_path: Path) -> None:
    completed = bench(tmp_path)

    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "goal: Headway's first import at >= 0.8x" in completed.stdout
    result = json.loads((tmp_path / "import.json").read_text())
    imports = [
        f"{kind}/{step}"
        for kind in ("headway", "headway-cli")
        for step in ("first", "again", "changed")
    ]
    assert set(result["measurements"]) == {"duckdb-table", "duckdb-parquet", *imports}
    assert (result["rows"], result["data_meta"]["changed_rows"]) == (1000, 10)
    for name in imports:
        assert result["ratios"][name]["vs_table"] > 0

    # The data is generated once, then reused.
    again = bench(tmp_path, "--no-cli")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "data: reusing" in again.stdout
