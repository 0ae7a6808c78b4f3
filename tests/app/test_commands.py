"""`headway demo` and `headway serve` as separate processes, as a user runs them."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.conftest import run_headway_process


@pytest.mark.slow
def test_demo_sets_up_a_fresh_database_with_results_and_prints_logins(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    run = run_headway_process("demo", folder, "--no-serve")
    assert run.exit_code == 0, run.stderr
    assert "admin    david@tea-shop.example" in run.stdout
    assert "manager  mei@tea-shop.example" in run.stdout
    assert run.stdout.count(" member   ") == 2
    with sqlite3.connect(folder / "headway.sqlite3") as database:
        (kpis,) = database.execute("SELECT count(*) FROM kpis_kpi").fetchone()
        (results,) = database.execute("SELECT count(*) FROM results_result").fetchone()
        (passwords,) = database.execute(
            "SELECT count(*) FROM accounts_user WHERE password NOT LIKE '!%'"
        ).fetchone()
    # The example's six KPIs and the demo's one entered by hand (mystery shopper).
    assert kpis == 7
    assert results > 100
    assert passwords == 4
    again = run_headway_process("demo", folder, "--no-serve")
    assert again.exit_code == 0, again.stderr
    with sqlite3.connect(folder / "headway.sqlite3") as database:
        (kpis_again,) = database.execute("SELECT count(*) FROM kpis_kpi").fetchone()
    assert kpis_again == 7


@pytest.mark.parametrize("key", ["", "short", "changeme" * 10, "a" * 64])
def test_serve_refuses_to_start_without_a_strong_secret_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    monkeypatch.setenv("SECRET_KEY", key)
    monkeypatch.setenv("HEADWAY_MODE", "production")
    monkeypatch.setenv("HEADWAY_DATA_DIR", str(tmp_path))
    run = run_headway_process("serve", "--bind", "127.0.0.1:0")
    assert run.exit_code == 2
    assert "SECRET_KEY must be set" in run.stderr
    assert "Traceback" not in run.stderr


def test_the_production_settings_pass_the_deployment_check(tmp_path: Path) -> None:
    environment = {
        "SECRET_KEY": "k" + os.urandom(48).hex(),
        "HEADWAY_MODE": "production",
        "HEADWAY_DATA_DIR": str(tmp_path),
        "ALLOWED_HOSTS": "kpi.example.com",
        # Headway's own deployment check asks for the key of secrets at rest.
        "HEADWAY_CREDENTIALS_KEYS": Fernet.generate_key().decode(),
    }
    previous = {name: os.environ.get(name) for name in environment}
    os.environ.update(environment)
    try:
        run = run_headway_process("manage", "check", "--deploy", "--fail-level", "WARNING")
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    assert run.exit_code == 0, run.stderr + run.stdout
    assert "no issues" in run.stdout
