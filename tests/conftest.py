"""Shared fixtures: run the `headway` command line as a user would."""

from __future__ import annotations

import csv
import email
import email.policy
import io
import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import settings

from headway.cli.main import cli

# Property tests check behaviour, not speed: no per-example deadline, which a busy
# machine would otherwise trip (speed is measured in bench/).
settings.register_profile("headway", deadline=None)
settings.load_profile("headway")

REPOSITORY = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Run:
    exit_code: int
    stdout: str
    stderr: str

    def csv_rows(self) -> list[dict[str, str]]:
        return list(csv.DictReader(io.StringIO(self.stdout)))

    def json_rows(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = json.loads(self.stdout)
        return result


def run_headway(*args: str | Path) -> Run:
    """Runs the CLI in this process (fast); exit code, stdout and stderr as a user sees them."""
    runner = CliRunner()
    result = runner.invoke(cli, [str(arg) for arg in args], catch_exceptions=False)
    return Run(result.exit_code, result.stdout, result.stderr)


def run_headway_process(*args: str | Path, cwd: Path | None = None) -> Run:
    """Runs the installed `headway` in a separate process, exactly as from a shell."""
    executable = Path(sys.executable).with_name("headway")
    completed = subprocess.run(
        [str(executable), *(str(arg) for arg in args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        check=False,
    )
    return Run(completed.returncode, completed.stdout, completed.stderr)


@pytest.fixture
def headway() -> Any:
    return run_headway


@pytest.fixture(autouse=True)
def _private_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each test gets its own cache of checked files, never the user's."""
    monkeypatch.setenv("HEADWAY_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(autouse=True)
def _english_after_each_test() -> Iterator[None]:
    """A page served in 繁體中文 leaves Django's language active in the thread (the locale
    middleware sets it per request); the next test starts from the default again."""
    yield
    from django.utils import translation

    translation.deactivate()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Skipped browser tests are listed loudly: nothing is skipped silently."""
    # Reports from xdist workers arrive here too, so this sees every skipped browser test.
    not_run = [
        report.nodeid
        for report in terminalreporter.stats.get("skipped", [])
        if "browser" in report.nodeid.split("::")[0]
    ]
    if not_run:
        terminalreporter.write_sep("!", "BROWSER TESTS NOT RUN", red=True, bold=True)
        terminalreporter.write_line(
            "Chromium was not found (apt-get install chromium). These tests did not run:",
            red=True,
        )
        for nodeid in not_run:
            terminalreporter.write_line(f"  {nodeid}", red=True)


@dataclass
class MailServer:
    """An SMTP server on 127.0.0.1 that keeps every message it receives."""

    host: str
    port: int
    messages: list[EmailMessage]


@pytest.fixture
def smtp_server(settings: Any) -> Iterator[MailServer]:
    """A real SMTP server for the test, with Django's SMTP backend pointed at it."""
    from aiosmtpd.controller import Controller

    received: list[EmailMessage] = []

    class Keep:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
            assert isinstance(parsed, EmailMessage)
            received.append(parsed)
            return "250 Message accepted for delivery"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Keep(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
        settings.EMAIL_USE_TLS = False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        yield MailServer("127.0.0.1", port, received)
    finally:
        controller.stop()
