"""What managers do in Headway, in a real browser against `headway demo`: sign in, read
the goal tree, open a KPI, switch to 繁體中文, create a KPI, revise a target."""

from __future__ import annotations

import datetime
import re
import sqlite3
import uuid
import zoneinfo
from typing import Any

from tests.browser.conftest import Demo, screenshot, sign_in

ADMIN = "david@tea-shop.example"
MANAGER = "mei@tea-shop.example"
MEMBER = "leo@tea-shop.example"


def test_a_manager_signs_in_and_sees_the_goals_with_their_kpis(demo: Demo, new_page: Any) -> None:
    page = new_page()
    sign_in(page, demo, MANAGER)
    main = page.locator("main")
    assert "成為市場領導者" in main.inner_text()
    assert "轉換率" in main.inner_text()
    # Status is a word and a mark, never colour alone.
    assert any(word in main.inner_text() for word in ("On track", "At risk", "Off track"))
    assert page.locator("main svg").count() > 0
    screenshot(page, "home")


def test_a_kpi_page_shows_its_chart_history_and_breakdown(demo: Demo, new_page: Any) -> None:
    page = new_page()
    sign_in(page, demo, MANAGER)
    page.goto(f"{demo.url}/kpis/conversion_rate/")
    text = page.locator("main").inner_text()
    assert "Q2 review found 8% out of reach" in text
    assert "north" in text.lower() or "北區" in text
    assert page.locator("main svg").count() > 0
    screenshot(page, "kpi")


def test_switching_to_traditional_chinese_translates_the_page(demo: Demo, new_page: Any) -> None:
    page = new_page()
    sign_in(page, demo, MANAGER)
    page.goto(f"{demo.url}/kpis/conversion_rate/")
    page.select_option("#language-select", "zh-hant")
    page.wait_for_load_state("networkidle")
    assert page.locator("html").get_attribute("lang") == "zh-hant"
    text = page.locator("body").inner_text()
    assert "目標" in text
    assert "Target history" not in text
    screenshot(page, "kpi-zh-hant")


def test_the_browsers_language_is_the_default(demo: Demo, new_page: Any) -> None:
    page = new_page(locale="zh-TW")
    page.goto(f"{demo.url}/accounts/login/")
    assert page.locator("html").get_attribute("lang") == "zh-hant"


def test_an_admin_creates_a_kpi_with_a_formula(demo: Demo, new_page: Any) -> None:
    page = new_page()
    sign_in(page, demo, ADMIN)
    key = f"won_rate_{uuid.uuid4().hex[:6]}"
    page.goto(f"{demo.url}/kpis/new/")
    page.fill("input[name=key]", key)
    page.fill("input[name=name]", "Won deals per lead")
    page.fill("input[name=formula]", "won_deals / lead")
    page.wait_for_function(
        "document.querySelector('#formula-check').innerText.includes('unknown measure')"
    )
    page.fill("input[name=formula]", "won_deals / leads")
    page.wait_for_function(
        "!document.querySelector('#formula-check').innerText.includes('unknown')"
    )
    page.select_option("select[name=unit]", "percent")
    page.select_option("select[name=grain]", "month")
    screenshot(page, "kpi-form")
    page.locator("#kpi-form button[type=submit]").last.click()
    page.wait_for_url(re.compile(rf".*/kpis/{key}/([?#].*)?$"))
    assert "Won deals per lead" in page.locator("main").inner_text()


def test_a_manager_revises_a_target_with_a_reason_and_sees_it_in_the_history(
    demo: Demo, new_page: Any
) -> None:
    page = new_page()
    sign_in(page, demo, MANAGER)
    reason = f"Q3 review: market cooled ({uuid.uuid4().hex[:4]})"
    page.goto(f"{demo.url}/kpis/conversion_rate/targets/new/")
    page.fill("input[name=effective_from]", "2026-10")
    page.fill("input[name=value]", "5.5")  # a percent KPI's target is typed in percent
    page.fill("textarea[name=reason], input[name=reason]", reason)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(re.compile(r".*/kpis/conversion_rate/([?#].*)?$"))
    text = page.locator("main").inner_text()
    assert reason in text
    # The earlier versions are all still there: nothing was overwritten.
    assert "Q2 review found 8% out of reach" in text
    with sqlite3.connect(demo.folder / "headway.sqlite3") as database:
        values = [
            row[0]
            for row in database.execute(
                "SELECT t.value FROM kpis_targetversion t JOIN kpis_kpi k ON k.id = t.kpi_id "
                "WHERE k.key = 'conversion_rate' AND t.where_dimension = '' ORDER BY t.id"
            )
        ]
    assert [float(value) for value in values] == [0.08, 0.06, 0.055]


def test_a_member_sees_no_edit_buttons_and_is_refused(demo: Demo, new_page: Any) -> None:
    page = new_page()
    sign_in(page, demo, MEMBER)
    page.goto(f"{demo.url}/kpis/conversion_rate/")
    assert page.locator("a[href$='/edit/']").count() == 0
    response = page.goto(f"{demo.url}/kpis/conversion_rate/targets/new/")
    assert response is not None
    assert response.status == 403


def test_the_pages_work_at_phone_width(demo: Demo, new_page: Any) -> None:
    page = new_page(width=390, height=844)
    sign_in(page, demo, MANAGER)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390 + 1
    screenshot(page, "home-phone")


def test_the_owner_enters_this_months_value_of_a_kpi_entered_by_hand(
    demo: Demo, new_page: Any
) -> None:
    page = new_page()
    sign_in(page, demo, MANAGER)
    page.goto(f"{demo.url}/kpis/mystery_shopper/")
    # By its address: an earlier journey may have switched this person to 繁體中文.
    page.click("main a[href='/kpis/mystery_shopper/values/']")
    page.wait_for_url(re.compile(r"/kpis/mystery_shopper/values/"))
    # This month where the tea shop is (the demo's organisation is in Taipei).
    period = datetime.datetime.now(zoneinfo.ZoneInfo("Asia/Taipei")).strftime("%Y-%m")
    page.fill(f"#value-{period}", "88.5")
    page.click("form.value-grid-form button[type=submit]")

    row = page.locator(f"#period-{period}")
    row.wait_for()
    assert "88.5" in row.inner_text()
    # 88.5 against a target of 85: on track (the owner's own entry needs no approval).
    assert row.locator(".status-green").count() == 1
    screenshot(page, "manual-values")


def test_an_admin_sees_a_datasets_freshness_and_the_kinds_of_source(
    demo: Demo, new_page: Any
) -> None:
    page = new_page()
    sign_in(page, demo, ADMIN)
    page.goto(f"{demo.url}/data/leads/")
    status = page.locator("#dataset-status")
    assert "Data refreshed" in status.inner_text()
    screenshot(page, "dataset")
    page.click("text=Set up a source")
    kinds = page.locator("#source-kinds").inner_text()
    for label in ("HubSpot", "Salesforce", "Pipedrive", "SQL"):
        assert label in kinds
    page.click("#source-kinds >> text=HubSpot")
    assert page.locator("input[name=secret_access_token][type=password]").count() == 1


def test_a_manager_opens_the_monthly_report_and_downloads_its_pdf(
    demo: Demo, new_page: Any
) -> None:
    page = new_page()
    sign_in(page, demo, ADMIN)
    page.goto(f"{demo.url}/reports/")
    page.wait_for_url(re.compile(r"/reports/\d{4}-\d{2}/"))
    assert page.locator("main svg").count() > 0
    screenshot(page, "report")
    with page.expect_download() as download_info:
        page.click("a[href$='report.pdf']")
    download = download_info.value
    path = download.path()
    assert path is not None
    with open(path, "rb") as handle:
        assert handle.read(5) == b"%PDF-"
