"""Each path a lower layer writes for a link is the path the web UI serves the page at:
every builder of headway.lib.paths equals `reverse` of its web URL name."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.urls import reverse

from headway.lib import paths

KEYS = ["conversion", "net-revenue_2", "營收", "a.b~c@d:e", "x+y=z"]


@pytest.mark.parametrize("key", KEYS)
def test_a_kpi_path_is_the_kpi_page(key: str) -> None:
    assert paths.kpi_path(key) == reverse("web:kpi", kwargs={"key": key})


def test_a_kpi_path_at_a_period_is_the_kpi_page_with_the_period_asked() -> None:
    page = reverse("web:kpi", kwargs={"key": "conversion"})
    assert paths.kpi_path("conversion", period="2026-Q1") == f"{page}?period=2026-Q1"
    assert paths.kpi_path("conversion", period="a&b") == f"{page}?{urlencode({'period': 'a&b'})}"


@pytest.mark.parametrize("key", ["grow", "win-more_2026"])
def test_a_goal_path_is_the_goal_page(key: str) -> None:
    assert paths.goal_path(key) == reverse("web:goal", kwargs={"key": key})


@pytest.mark.parametrize("pk", [1, 42, 987654])
def test_the_numbered_paths_are_their_pages(pk: int) -> None:
    assert paths.meeting_path(pk) == reverse("web:review_meeting", kwargs={"pk": pk})
    assert paths.proposal_path(pk) == reverse("web:proposal", kwargs={"pk": pk})
    assert paths.workshop_path(pk) == reverse("web:workshop", kwargs={"pk": pk})
    assert paths.workshop_path(pk, "board/") == reverse("web:workshop_board", kwargs={"pk": pk})
