"""A proposal in a real browser against `headway demo`: a salesperson proposes a new
target for customer satisfaction and sees how often it would have been met, a colleague
from another region discusses it (mentioning him) and supports it, the sales manager
accepts and applies it, and the KPI's page then links its new target version back to the
proposal; the proposer's bell tells him what happened.

The journey changes csat's target: test_journeys.py checks conversion_rate's target
versions exactly, and test_review_journey.py changes sales_growth's.
"""

from __future__ import annotations

import datetime
import re
import uuid
import zoneinfo
from typing import Any

from tests.browser.conftest import Demo, screenshot, sign_in

PROPOSER = "leo@tea-shop.example"  # a member of north
COLLEAGUE = "amy@tea-shop.example"  # a member of central
MANAGER = "mei@tea-shop.example"  # the manager of sales, csat's team


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


def signed_in(new_page: Any, demo: Demo, email: str) -> Any:
    page = new_page()
    sign_in(page, demo, email)
    in_english(page)
    return page


def test_a_proposed_target_is_discussed_supported_accepted_and_applied(
    demo: Demo, new_page: Any
) -> None:
    tag = uuid.uuid4().hex[:4]
    title = f"Aim for 4.4 in customer satisfaction ({tag})"

    # Leo proposes a new target from the KPI's page, and sees its effect as he types.
    leo = signed_in(new_page, demo, PROPOSER)
    leo.goto(f"{demo.url}/kpis/csat/")
    leo.click("#propose-change")
    leo.wait_for_url(re.compile(r"/proposals/new/\?kpi=csat$"))
    leo.click("#kind-target_change")
    leo.wait_for_url(re.compile(r"/proposals/new/\?kind=target_change&kpi=csat$"))
    assert leo.locator("#id_kpi").input_value() == "csat"
    leo.fill("#id_target_value", "4.4")
    leo.fill("#id_effective_from", next_month())
    leo.fill("#id_title", title)
    leo.fill("#id_why", "Our stores already reach 4.4 in good months; 4.2 no longer stretches us.")
    preview = leo.locator("#effect-preview #effect-proposed")
    preview.wait_for()
    before = preview.inner_text()
    assert re.search(
        r"The proposed target of 4\.40 would have been met in \d+ of the last \d+", before
    )
    assert leo.locator("#effect-preview #effect-table tbody tr").count() > 0
    leo.click("#proposal-form button[type=submit]")
    leo.wait_for_url(re.compile(r"/proposals/\d+/$"))
    proposal_url = leo.url
    path = proposal_url.removeprefix(demo.url)
    number = int(path.strip("/").split("/")[-1])
    assert title in leo.locator("h1").inner_text()
    assert leo.locator("#effect #effect-proposed").inner_text() == before
    screenshot(leo, "proposal")

    # Amy, in another region, asks Leo about it (mentioning him) and supports it.
    amy = signed_in(new_page, demo, COLLEAGUE)
    amy.goto(proposal_url)
    comment = f"@leo does 4.4 hold in the rainy months too? ({tag})"
    amy.fill("#discussion-new-text", comment)
    amy.click("#discussion-form button[type=submit]")
    amy.wait_for_url(re.compile(r"/proposals/\d+/#comment-\d+$"))
    written = amy.locator("#discussion .comment").last
    assert "does 4.4 hold in the rainy months too?" in written.inner_text()
    assert written.locator(".mention").inner_text() == "@leo"
    amy.click("#support-form button[value=add]")
    amy.wait_for_url(re.compile(r"#support$"))
    assert "1 person supports it" in amy.locator("#support-count").inner_text()
    assert amy.locator("#status-form").count() == 0  # a member does not decide

    # Mei, the sales manager, accepts it and applies it.
    mei = signed_in(new_page, demo, MANAGER)
    mei.goto(proposal_url)
    mei.check("#status-form input[name=status][value=accepted]")
    mei.fill("#status-form textarea[name=reason]", f"Agreed: a stretch we can reach ({tag})")
    mei.click("#status-form button[type=submit]")
    mei.wait_for_url(re.compile(r"#decision$"))
    assert "Accepted" in mei.locator("h1").inner_text()
    mei.click("#apply-form button[type=submit]")
    mei.wait_for_url(re.compile(r"#decision$"))
    target_link = mei.locator("#outcome-target a")
    href = target_link.get_attribute("href")
    assert href is not None
    assert re.fullmatch(r"/kpis/csat/#target-version-\d+", href)

    # The KPI's page names the proposal its new target version came from.
    mei.click("#outcome-target a")
    mei.wait_for_url(re.compile(r"/kpis/csat/#target-version-\d+$"))
    changes = mei.locator("#targets .target-changes").inner_text()
    assert f"from {next_month()}, from proposal #{number}: {title}" in changes
    assert mei.locator(f"#targets .target-changes a[href='{path}']").count() == 1
    assert mei.locator(f"#proposals #kpi-proposal-{number}").count() == 1

    # Leo's bell counts what happened, and the notifications lead back to the proposal.
    leo.goto(f"{demo.url}/")
    assert int(leo.locator("#bell .bell-count").inner_text()) >= 3
    leo.click("#bell")
    leo.wait_for_url(re.compile(r"/me/notifications/$"))
    # Each notification is written in its reader's language, which may be 繁體中文 here.
    notes = leo.locator("#notifications").inner_text()
    assert "does 4.4 hold in the rainy months too?" in notes  # Amy's mention
    assert "Mentions of me" in notes
    assert notes.count(title) >= 2  # accepted, then applied
    leo.locator("#notifications li", has_text="rainy months").locator("a").first.click()
    leo.wait_for_url(re.compile(rf"{re.escape(path)}#comment-\d+$"))
