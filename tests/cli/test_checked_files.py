"""Unchanged data files are not checked twice; any change to a file checks it again."""

from __future__ import annotations

import os
from pathlib import Path

from headway.engine.checked import CheckedFiles
from tests.cli.test_bad_input import LEADS, make_workspace
from tests.conftest import run_headway


def test_a_file_changed_after_a_clean_run_is_checked_again(tmp_path: Path) -> None:
    path = make_workspace(tmp_path)
    assert run_headway("compute", path, "--format", "csv").exit_code == 0
    leads = tmp_path / "leads.csv"
    leads.write_text(LEADS + "2,2026-02-03 09:00:00,south\n", encoding="utf-8")
    run = run_headway("compute", path, "--format", "csv")
    assert run.exit_code == 2
    assert "duplicate key lead_id = '2'" in run.stderr


def test_a_file_with_the_same_size_and_new_time_is_checked_again(tmp_path: Path) -> None:
    path = make_workspace(tmp_path)
    assert run_headway("compute", path, "--format", "csv").exit_code == 0
    leads = tmp_path / "leads.csv"
    before = leads.stat()
    same_size = LEADS.replace("3,2026-02-01", "2,2026-02-01")
    leads.write_text(same_size, encoding="utf-8")
    os.utime(leads, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000))
    run = run_headway("compute", path, "--format", "csv")
    assert run.exit_code == 2
    assert "duplicate key" in run.stderr


def test_a_passed_file_is_remembered_and_a_change_forgets_it(tmp_path: Path) -> None:
    checked = CheckedFiles(tmp_path / "cache")
    data = tmp_path / "data.csv"
    data.write_text("a\n1\n", encoding="utf-8")
    signature = checked.signature(data, ["a"])
    assert not checked.passed(signature)
    checked.remember(signature)
    assert checked.passed(checked.signature(data, ["a"]))
    assert not checked.passed(checked.signature(data, ["b"]))
    data.write_text("a\n1\n2\n", encoding="utf-8")
    assert not checked.passed(checked.signature(data, ["a"]))


def test_the_cache_can_be_switched_off() -> None:
    assert CheckedFiles.default({"HEADWAY_NO_CACHE": "1"}) is None
    chosen = CheckedFiles.default({"HEADWAY_CACHE_DIR": "/somewhere"})
    assert chosen is not None
    assert chosen.directory == Path("/somewhere/checked")
