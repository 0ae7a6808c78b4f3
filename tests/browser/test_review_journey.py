"""A quarterly review in a real browser against `headway demo`: the CEO builds the agenda
of the seeded meeting, the sales manager sees her to-do and comments on her KPI, the
meeting lowers a target (recorded, approved by the chair, applied), and the KPI's page
then says at which meeting its new target was decided.

The journey changes the target of sales_growth, not conversion_rate: test_journeys.py
checks conversion_rate's target versions exactly.
"""

from __future__ import annotations

import datetime
import re
import uuid
import zoneinfo
from typing import Any

from tests.browser.conftest import Demo, screenshot, sign_in

CHAIR = "david@tea-shop.example"
OWNER = "mei@tea-shop.example"
TITLE = "經營會議 (Quarterly business review)"


def next_month() -> str:
    """The month after this one where the tea shop is: open, and after every result."""
    today = datetime.datetime.now(zoneinfo.ZoneInfo("Asia/Taipei")).date()
    first = (today.replace(day=1) + datetime.timedelta(days=32)).replace(day=1)
    return first.strftime("%Y-%m")


def in_english(page: Any) -> None:
    """An earlier journey may have switched this person to 繁體中文."""
    if page.locator("html").get_attribute("lang") != "en":
        page.select_option("#language-select", "en")
        page.wait_for_load_state("networkidle")


def press(page: Any, step: str) -> None:
    page.click(f"#steps button[value='{step}']")
    page.wait_for_load_state("networkidle")


def test_a_review_meeting_lowers_a_target_and_the_kpi_page_says_where(
    demo: Demo, new_page: Any
) -> None:
    chair = new_page()
    sign_in(chair, demo, CHAIR)
    in_english(chair)
    chair.click("nav a[href='/reviews/']")
    chair.wait_for_url(re.compile(r"/reviews/$"))
    link = chair.locator(f"main a:has-text('{TITLE}')")
    title = link.inner_text().strip()  # with the quarter, e.g. "2026-Q3 經營會議 (...)"
    link.click()
    chair.wait_for_url(re.compile(r"/reviews/meetings/\d+/$"))
    meeting_url = chair.url
    assert title in chair.locator("h1").inner_text()

    # The chair builds the agenda from the data: every KPI is there (none was reviewed).
    press(chair, "prepare")
    agenda = chair.locator("#agenda")
    assert agenda.locator("#kpi-conversion_rate").count() == 1
    assert agenda.locator("#kpi-sales_growth").count() == 1
    assert "Never reviewed" in agenda.inner_text()

    # The owner sees her to-do on her home page and comments on conversion_rate.
    owner = new_page()
    sign_in(owner, demo, OWNER)
    todo = owner.locator("#review-todo")
    assert todo.count() == 1
    owner.click("#review-todo a[href$='#kpi-conversion_rate']")
    owner.wait_for_url(re.compile(r"/reviews/meetings/\d+/"))
    comment = f"Leads from the new campaign convert slowly ({uuid.uuid4().hex[:4]})"
    owner.fill("#comment-conversion_rate textarea[name=text]", comment)
    owner.click("#comment-conversion_rate button[type=submit]")
    owner.wait_for_load_state("networkidle")
    assert comment in owner.locator("#agenda").inner_text()

    # The chair starts the meeting and records that sales growth's target changes.
    chair.goto(meeting_url)
    assert comment in chair.locator("#agenda").inner_text()
    press(chair, "start")
    item = chair.locator("li.agenda-item", has=chair.locator("#kpi-sales_growth"))
    item.locator("details.decision-box > summary").click()
    form = item.locator("form.decision-full")
    form.locator("select[name=kind]").select_option("change_target")
    form.locator("input[name=value]").fill("2.5")  # a percent KPI's target, in percent
    period = next_month()
    form.locator("input[name=effective_from]").fill(period)
    reason = f"Q review: 3% growth a month is out of reach ({uuid.uuid4().hex[:4]})"
    form.locator("textarea[name=reason]").fill(reason)
    form.locator("button[type=submit]").click()
    chair.wait_for_load_state("networkidle")
    decisions = chair.locator("#decisions")
    assert reason in decisions.inner_text()
    assert "Waiting for the chair" in decisions.inner_text()

    # The chair approves it, concludes the meeting and applies what was approved.
    decisions.locator("button[name=decision][value=approve]").click()
    chair.wait_for_load_state("networkidle")
    assert "Approved" in chair.locator("#decisions").inner_text()
    chair.goto(meeting_url)  # from the top, not at the decision's anchor
    screenshot(chair, "review-meeting")
    press(chair, "conclude")
    press(chair, "apply_all")
    assert "Applied" in chair.locator("#decisions").inner_text()

    # The KPI's page tells where its new target was decided, and keeps the table.
    chair.goto(f"{demo.url}/kpis/sales_growth/")
    changes = chair.locator("#targets .target-changes").inner_text()
    assert f"from {period}, decided at {title}" in changes
    assert reason in changes
    assert chair.locator(f"#targets a[href='{meeting_url.removeprefix(demo.url)}']").count() == 1
    assert chair.locator("#targets table.target-history").count() == 1
    assert TITLE in chair.locator("#reviews").inner_text()
