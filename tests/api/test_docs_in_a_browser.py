"""The docs page in a real browser: Swagger UI renders every operation from Headway's own
files, and nothing is fetched from anywhere else.

Chromium's requests are answered by Django's test client (no live server is needed, as
the page and the schema touch no database); a request to any other origin is recorded and
refused. That the page's CSRF token lets a signed-in person write is checked in
test_auth.py.
"""

from __future__ import annotations

import shutil
from urllib.parse import urlsplit

import pytest
from django.http import HttpResponse
from django.test import Client

from tests.api.test_schema_and_docs import PATHS

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update"]  # fmt: skip
ORIGIN = "http://testserver"


def _body(response: HttpResponse) -> bytes:
    if response.streaming:
        return b"".join(response.streaming_content)  # type: ignore[arg-type]
    return response.content


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed")
def test_the_docs_page_renders_every_operation_from_headways_own_files() -> None:
    from playwright.sync_api import Route, sync_playwright

    server = Client()
    served: list[str] = []
    outside: list[str] = []
    failures: list[BaseException] = []

    def serve(route: Route) -> None:
        url = urlsplit(route.request.url)
        if f"{url.scheme}://{url.netloc}" != ORIGIN:
            outside.append(route.request.url)
            route.abort()
            return
        served.append(url.path)
        response = server.get(f"{url.path}?{url.query}" if url.query else url.path)
        route.fulfill(
            status=response.status_code, headers=dict(response.items()), body=_body(response)
        )

    def answer(route: Route) -> None:
        try:
            serve(route)
        except BaseException as error:  # Playwright would swallow it and wait forever
            failures.append(error)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(20_000)
            page.route("**/*", answer)
            page.goto(f"{ORIGIN}/api/v1/docs")
            page.wait_for_selector(".opblock")
            operations = page.locator(".opblock-summary-path").all_inner_texts()
            title = page.locator(".info .title").inner_text()
        finally:
            browser.close()

    assert failures == []
    assert outside == []
    assert {"/api/v1/openapi.json", "/api/v1/docs/assets/swagger-ui-bundle.js"} <= set(served)
    assert "Headway API" in title
    # Every operation of the schema (the list test_schema_and_docs checks it against).
    assert len(operations) == sum(len(methods) for methods in PATHS.values())
    assert "/api/v1/kpis/{key}/targets" in operations
