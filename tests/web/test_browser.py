"""The htmx parts in a real browser (Debian's Chromium through Playwright): the formula
checked as it is typed, the draft previewed, a number explained, the language switched."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.test import Client

from tests.web.conftest import PASSWORD, Org

CHROMIUM = shutil.which("chromium")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed"),
]


BASE = "http://testserver"


def serve(route: Any, request: Any, connection: BaseDatabaseWrapper) -> None:
    """Answers the browser's request with Django's test client, in this test's database
    transaction: no server thread, and the append-only tables need no flushing."""
    # Playwright calls back from its own context, where Django would open another
    # connection; hand it the test's (as Django's live server thread does).
    connections[DEFAULT_DB_ALIAS] = connection
    url = urlsplit(request.url)
    path = url.path + (f"?{url.query}" if url.query else "")
    headers = request.headers
    extra = {
        "HTTP_" + name.upper().replace("-", "_"): value
        for name, value in headers.items()
        if name not in {"content-type", "content-length", "host"}
    }
    client = Client(enforce_csrf_checks=True)
    response = client.generic(
        request.method,
        path,
        data=request.post_data_buffer or b"",
        content_type=headers.get("content-type", "application/octet-stream"),
        **extra,
    )
    body = (
        b"".join(response.streaming_content)  # type: ignore[arg-type]
        if response.streaming
        else response.content
    )
    answer = {name: value for name, value in response.headers.items()}
    cookies = [morsel.OutputString() for morsel in response.cookies.values()]
    if cookies:
        answer["set-cookie"] = "\n".join(cookies)
    route.fulfill(status=response.status_code, headers=answer, body=body)


@pytest.fixture
def page(org: Org, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    # Requests are answered inside Playwright's event loop; Django must not take the
    # database calls there for async code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    # The connection holding the test's transaction (Playwright's context has its own).
    connection = connections[DEFAULT_DB_ALIAS]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.set_default_timeout(20_000)
        page.route(f"{BASE}/**", lambda route, request: serve(route, request, connection))
        page.goto(f"{BASE}/accounts/login/")
        page.fill("input[name=username]", "nora@example.com")
        page.fill("input[name=password]", PASSWORD)
        page.click("button.button-primary")
        page.wait_for_url(f"{BASE}/")
        yield page
        browser.close()


def test_the_formula_is_checked_as_it_is_typed_and_previewed(page: Any) -> None:
    page.goto(f"{BASE}/kpis/new/")
    page.fill("#id_formula", "won_deals / dealz")
    page.wait_for_selector("#formula-check .check-bad")
    assert "unknown measure 'dealz'" in page.inner_text("#formula-check")
    page.fill("#id_formula", "won_deals / deals")
    page.wait_for_selector("#formula-check .check-good")
    page.select_option("#id_unit", "percent")
    page.click("text=Preview recent periods")
    page.wait_for_selector("#preview table")
    preview = page.inner_text("#preview")
    assert "2024-03" in preview
    assert "62.5%" in preview


def test_choosing_a_period_explains_the_number(page: Any) -> None:
    page.goto(f"{BASE}/kpis/win_rate/")
    page.select_option("#explain-period", "2024-03")
    page.wait_for_selector("#explanation h3")
    explanation = page.inner_text("#explanation")
    assert "Win rate in 2024-03" in explanation
    assert "Asia/Taipei" in explanation
    assert page.url == f"{BASE}/kpis/win_rate/"


def test_the_language_switcher_changes_the_page_at_once(page: Any) -> None:
    page.goto(f"{BASE}/kpis/win_rate/")
    page.select_option("#language-select", "zh-hant")
    page.wait_for_selector("html[lang=zh-hant]")
    assert "目標歷史" in page.inner_text("main")
    assert page.url == f"{BASE}/kpis/win_rate/"


def test_the_skip_link_is_the_first_stop_of_the_keyboard(page: Any) -> None:
    page.goto(f"{BASE}/")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.className")
    assert focused == "skip-link"
