"""Browser tests: Playwright driving Debian's Chromium (headless) against a live server.

The test command installs Chromium when it is missing and it can. When Chromium is not
there, these tests are skipped and the end of the run says so loudly, naming them.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.app.conftest import Organisation, build_organisation

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PASSWORD = "correct horse battery staple"

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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    yield opened
    context.close()


@pytest.fixture
def browser_org(transactional_db: None, tmp_path: Path) -> Organisation:
    from headway.results.services import results_recompute

    organisation = build_organisation(tmp_path)
    results_recompute(by=None)
    return organisation


def sign_in(page: Any, live_server: Any, email: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.locator("input[name=username]").fill(email)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form [type=submit]").first.click()
    page.wait_for_load_state("networkidle")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    # Reports from xdist workers arrive here too, so this sees every skipped browser test.
    not_run = [
        report.nodeid
        for report in terminalreporter.stats.get("skipped", [])
        if report.nodeid.startswith("tests/browser")
    ]
    if not_run:
        terminalreporter.write_sep("!", "BROWSER TESTS NOT RUN", red=True, bold=True)
        terminalreporter.write_line(
            "Chromium was not found (apt-get install chromium). These tests did not run:",
            red=True,
        )
        for nodeid in not_run:
            terminalreporter.write_line(f"  {nodeid}", red=True)
