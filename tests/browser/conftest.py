"""Browser tests: Playwright driving Debian's Chromium (headless) against the real demo,
started exactly as the README says (`headway demo`), in a process of its own.

The test command installs Chromium when it is missing and it can. When Chromium is not
there these tests are skipped, and the end of the run says so loudly, naming them.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

# Chromium on this kind of machine runs as root, offline: no sandbox, no background
# networking (its connections would be refused), no component updates.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass(frozen=True)
class Demo:
    url: str
    folder: Path
    passwords: dict[str, str]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """`headway demo` serving on a free port, with the logins it printed."""
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed")
    folder = tmp_path_factory.mktemp("demo")
    port = _free_port()
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith("PYTEST")
    }
    environment.pop("DATABASE_URL", None)
    executable = Path(sys.executable).with_name("headway")
    process = subprocess.Popen(
        [str(executable), "demo", str(folder), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=environment,
        start_new_session=True,
    )
    passwords: dict[str, str] = {}
    url = f"http://127.0.0.1:{port}"
    assert process.stdout is not None
    deadline = time.monotonic() + 120
    for line in process.stdout:
        found = re.match(r"\s+(admin|manager|member)\s+(\S+@\S+)\s+(\S+)$", line)
        if found:
            passwords[found.group(2)] = found.group(3)
        if "Serving Headway" in line or time.monotonic() > deadline:
            break
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{url}/accounts/login/", timeout=2)
            break
        except OSError:
            time.sleep(0.3)
    else:
        os.killpg(process.pid, signal.SIGTERM)
        pytest.fail("headway demo did not start serving within two minutes")
    yield Demo(url=url, folder=folder, passwords=passwords)
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)


@pytest.fixture(scope="session")
def browser(demo: Demo) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def new_page(browser: Any) -> Iterator[Any]:
    contexts = []

    def make(width: int = 1280, height: int = 900, locale: str = "en-US") -> Any:
        context = browser.new_context(viewport={"width": width, "height": height}, locale=locale)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(20_000)
        return page

    yield make
    for context in contexts:
        context.close()


def sign_in(page: Any, demo: Demo, email: str) -> None:
    page.goto(f"{demo.url}/accounts/login/")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", demo.passwords[email])
    page.click("main form button[type=submit]")
    page.wait_for_url(f"{demo.url}/")


def screenshot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)
