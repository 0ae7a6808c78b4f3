"""Whole pages (home, a goal, a team, a KPI) are cached per browser session: the second
view is one query and the same HTML, a write anywhere is seen at once, one person never
gets another's page, and a page is not cached when it must not be (no CSRF cookie, a
message waiting, a POST, an error). A KPI page's parts around its discussion are shared
by the people with the same right to edit the KPI, and never leak across that right.

The people of tests/web/conftest.py: Ada (admin), Nora (north's manager), Mo (a member of
north), Vic (a viewer) and Sam (south's manager). The win rate is north's KPI.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from headway.accounts import cached_auth
from headway.accounts.models import Team, User
from headway.accounts.services import team_update
from headway.changes.models import Generation
from headway.kpis.models import Kpi
from headway.kpis.services import target_revise
from headway.participation.comments import comment_add, comment_hide
from headway.participation.models import Comment
from headway.web import page_cache
from tests.web.conftest import Org

pytestmark = pytest.mark.django_db(transaction=True)

MEMORY = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
PAGES = ["/", "/goals/grow/", "/teams/north/", "/kpis/win_rate/"]


class Clock:
    """The page cache's clock, standing still unless a test moves it: pages are cached
    per quarter of an hour, and a test must not straddle two."""

    def __init__(self) -> None:
        self.now = float(page_cache.BUCKET_SECONDS * 2_000_000)

    def time(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def cached(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    """Tracking, the page cache and a Django cache in memory, and nothing kept from an
    earlier test. (The test runner's flush between transactional tests empties the table
    of generations: its two rows are put back as the migration made them.)"""
    for name in ("data", "auth"):
        Generation.objects.get_or_create(name=name)
    settings.HEADWAY_TRACK_CHANGES = True
    settings.HEADWAY_PAGE_CACHE = True
    settings.CACHES = MEMORY
    clock = Clock()
    monkeypatch.setattr(page_cache, "time", clock)
    cache.clear()
    cached_auth.forget_all()
    page_cache.forget_all()
    yield clock
    cache.clear()
    cached_auth.forget_all()
    page_cache.forget_all()


@dataclass
class Visit:
    status: int
    cache: str | None  # "hit", "miss", or None when the page was not cached
    html: str
    queries: int
    response: Any

    @property
    def who(self) -> str:
        found = re.search(r'<span class="who">([^<]*)</span>', self.html)
        return found.group(1) if found else ""


def visit(client: Client, url: str, method: str = "get", **extra: Any) -> Visit:
    with CaptureQueriesContext(connection) as seen:
        response = getattr(client, method)(url, **extra)
    return Visit(
        status=response.status_code,
        cache=response.get(page_cache.HIT_HEADER),
        html=response.content.decode(),
        queries=len(seen.captured_queries),
        response=response,
    )


def headers_of(page: Visit) -> dict[str, Any]:
    """The answer's headers but the cache's own, each Vary once, in any order."""
    headers: dict[str, Any] = dict(page.response.items())
    headers.pop(page_cache.HIT_HEADER, None)
    headers["Vary"] = sorted(headers.get("Vary", "").split(", "))
    return headers


def browser(org: Org, person: User, **options: Any) -> Client:
    """A signed-in browser that has been to a page, so that it holds a CSRF cookie."""
    client = Client(**options)
    client.force_login(person)
    assert client.get("/me/tokens/").status_code == 200
    assert django_settings.CSRF_COOKIE_NAME in client.cookies
    return client


def seen_twice(client: Client, url: str, **extra: Any) -> Visit:
    """Views the page twice; the second view comes from the cache."""
    first = visit(client, url, **extra)
    assert (first.status, first.cache) == (200, "miss")
    second = visit(client, url, **extra)
    assert (second.status, second.cache) == (200, "hit")
    return second


def csrf_token_in(html: str) -> str:
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def ungated(html: str) -> str:
    """The page without its per-request CSRF tokens."""
    return re.sub(r"[A-Za-z0-9]{64}", "", html)


# -- hits ------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", PAGES)
def test_the_second_view_of_a_page_is_a_hit_of_one_query_with_the_same_html(
    org: Org, url: str
) -> None:
    client = browser(org, org.nora)
    first = visit(client, url)
    assert (first.status, first.cache) == (200, "miss")
    assert first.queries > 1
    for _ in range(2):
        again = visit(client, url)
        assert (again.status, again.cache) == (200, "hit")
        assert again.queries == 1  # the generations
        assert again.html == first.html
        assert again.who == "Nora North"
        # The hit carries the miss's headers (but its own).
        assert headers_of(again) == headers_of(first)


def test_a_page_is_rendered_again_in_the_next_quarter_of_an_hour(org: Org, cached: Clock) -> None:
    client = browser(org, org.vic)
    seen_twice(client, "/")
    cached.now += page_cache.BUCKET_SECONDS
    assert visit(client, "/").cache == "miss"
    assert visit(client, "/").cache == "hit"


# -- writes ----------------------------------------------------------------------------------


def rename_north_through_the_service(org: Org) -> None:
    team_update(team=Team.objects.get(key="north"), by=org.ada, name="Northern Lights")


def rename_north_with_the_orm(org: Org) -> None:
    Team.objects.filter(key="north").update(name="Northern Lights")


def raise_the_win_rate_target(org: Org) -> None:
    target_revise(
        kpi=Kpi.objects.get(key="win_rate"),
        by=org.ada,
        effective_from="2024-04",
        value=Decimal("0.9"),
        reason="Raised after the spring offsite",
    )


def comment_on_the_win_rate(org: Org) -> None:
    comment_add(by=org.mo, subject_kind="kpi", subject_key="win_rate", text="Why so low?")


WRITES: dict[str, tuple[Callable[[Org], None], str, str]] = {
    # what is written: (the write, the page that shows it, what it shows)
    "a team renamed by its service": (
        rename_north_through_the_service,
        "/teams/north/",
        "Northern Lights",
    ),
    "a team renamed on its KPI's page": (
        rename_north_through_the_service,
        "/kpis/win_rate/",
        "Northern Lights",
    ),
    "a team renamed with the ORM": (rename_north_with_the_orm, "/teams/north/", "Northern Lights"),
    "a new target": (raise_the_win_rate_target, "/kpis/win_rate/", "Raised after the spring"),
    "a new comment": (comment_on_the_win_rate, "/kpis/win_rate/", "Why so low?"),
}


@pytest.mark.parametrize("what", list(WRITES))
def test_after_a_write_the_next_view_is_a_miss_that_shows_it(org: Org, what: str) -> None:
    write, url, shown = WRITES[what]
    client = browser(org, org.vic)
    before = seen_twice(client, url)
    assert shown not in before.html
    write(org)
    after = visit(client, url)
    assert (after.status, after.cache) == (200, "miss")
    assert shown in after.html
    again = visit(client, url)
    assert again.cache == "hit"
    assert shown in again.html


# -- one person's page is theirs -------------------------------------------------------------


@pytest.mark.parametrize("url", ["/", "/kpis/win_rate/"])
def test_another_person_never_gets_the_first_persons_page(org: Org, url: str) -> None:
    ada = browser(org, org.ada)
    assert seen_twice(ada, url).who == "Ada Admin"
    mo = browser(org, org.mo)
    first = visit(mo, url)
    assert (first.cache, first.who) == ("miss", "Mo Member")
    assert "Ada Admin" not in first.html.split("<main", 1)[0]
    assert (visit(mo, url).cache, visit(ada, url).who) == ("hit", "Ada Admin")


def test_two_browsers_of_one_person_each_have_their_own_pages(org: Org) -> None:
    laptop = browser(org, org.mo)
    phone = browser(org, org.mo)
    seen_twice(laptop, "/kpis/win_rate/")
    assert visit(phone, "/kpis/win_rate/").cache == "miss"


# -- not cached ------------------------------------------------------------------------------


def test_a_browser_without_a_csrf_cookie_is_never_answered_from_the_cache(org: Org) -> None:
    client = org.client(org.vic)
    for _ in range(3):
        client.cookies.pop(django_settings.CSRF_COOKIE_NAME, None)
        page = visit(client, "/kpis/win_rate/")
        assert (page.status, page.cache) == (200, None)
        assert page.queries > 1
        # The answer brings the cookie the page's forms need.
        assert django_settings.CSRF_COOKIE_NAME in page.response.cookies


def test_a_waiting_message_is_shown_once_and_then_the_page_is_cached(org: Org) -> None:
    client = browser(org, org.vic)
    seen_twice(client, "/kpis/win_rate/")
    posted = client.post(
        "/comments/", {"subject_kind": "kpi", "subject_key": "win_rate", "text": "Looks good"}
    )
    assert posted.status_code == 302
    assert posted["Location"].startswith("/kpis/win_rate/")
    with_message = visit(client, "/kpis/win_rate/")
    assert (with_message.status, with_message.cache) == (200, None)
    assert "Your comment was added." in with_message.html
    assert "Looks good" in with_message.html
    for expected in ("miss", "hit"):
        page = visit(client, "/kpis/win_rate/")
        assert "Looks good" in page.html
        assert "Your comment was added." not in page.html
        assert page.cache == expected


def test_a_post_is_never_answered_from_the_cache(org: Org) -> None:
    client = browser(org, org.vic)
    seen_twice(client, "/")
    posted = visit(client, "/", method="post")
    assert posted.cache is None
    assert posted.queries > 1


def test_a_missing_page_is_never_cached(org: Org) -> None:
    client = browser(org, org.vic)
    for _ in range(2):
        page = visit(client, "/kpis/no_such_kpi/")
        assert (page.status, page.cache) == (404, None)


def test_a_head_request_is_cached_apart_from_a_get(org: Org) -> None:
    client = browser(org, org.vic)
    seen_twice(client, "/")
    head = visit(client, "/", method="head")
    assert (head.status, head.cache, head.html) == (200, "miss", "")
    assert visit(client, "/", method="head").cache == "hit"


def zh_by_header(client: Client, url: str) -> Visit:
    return visit(client, url, HTTP_ACCEPT_LANGUAGE="zh-hant")


def zh_by_cookie(client: Client, url: str) -> Visit:
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "zh-hant"
    try:
        return visit(client, url)
    finally:
        client.cookies.pop(django_settings.LANGUAGE_COOKIE_NAME)


VARIANTS: dict[str, tuple[Callable[[Client, str], Visit], str, str | None]] = {
    # how the request differs: (the request, the page's URL, what only the variant shows)
    "another query": (
        lambda client, url: visit(client, f"{url}?period=2024-03"),
        "/kpis/win_rate/",
        "Discussion of March 2024",
    ),
    "an htmx request": (
        lambda client, url: visit(client, url, HTTP_HX_REQUEST="true"),
        "/",
        None,  # the same page, as these views answer htmx: its own entry all the same
    ),
    "another language (Accept-Language)": (zh_by_header, "/", '<html lang="zh-hant">'),
    "another language (the language cookie)": (zh_by_cookie, "/kpis/win_rate/", "目標"),
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_a_different_request_for_the_same_page_is_cached_apart(org: Org, variant: str) -> None:
    ask, url, only_there = VARIANTS[variant]
    client = browser(org, org.vic)
    plain = seen_twice(client, url)
    first = ask(client, url)
    assert (first.status, first.cache) == (200, "miss")
    if only_there is not None:
        assert only_there in first.html
        assert only_there not in plain.html
    second = ask(client, url)
    assert second.cache == "hit"
    assert second.html == first.html
    # The plain page is still there, unchanged.
    assert (visit(client, url).cache, visit(client, url).html) == ("hit", plain.html)


def test_the_language_chosen_on_the_page_is_used_at_once(org: Org) -> None:
    client = browser(org, org.vic)
    assert '<html lang="en">' in seen_twice(client, "/").html
    client.post("/language/", {"language": "zh-hant", "next": "/"})
    chinese = visit(client, "/")
    assert chinese.cache == "miss"
    assert '<html lang="zh-hant">' in chinese.html
    assert "目標與 KPI" in chinese.html


# -- forms on a cached page ------------------------------------------------------------------


def test_a_comment_posts_from_a_page_that_came_from_the_cache(org: Org) -> None:
    client = browser(org, org.vic, enforce_csrf_checks=True)
    hit = seen_twice(client, "/kpis/win_rate/")
    form = {"subject_kind": "kpi", "subject_key": "win_rate", "text": "Posted from a hit"}
    # The check is real: a wrong token is refused.
    refused = client.post("/comments/", {**form, "csrfmiddlewaretoken": "x" * 64})
    assert refused.status_code == 403
    assert not Comment.objects.filter(text="Posted from a hit").exists()
    posted = client.post("/comments/", {**form, "csrfmiddlewaretoken": csrf_token_in(hit.html)})
    assert posted.status_code == 302
    comment = Comment.objects.get(text="Posted from a hit")
    assert comment.author_id == org.vic.pk
    assert "Posted from a hit" in visit(client, "/kpis/win_rate/").html


# -- the KPI page's shared parts -------------------------------------------------------------


@pytest.mark.parametrize(("first", "then"), [("nora", "mo"), ("mo", "nora")])
def test_the_edit_button_follows_the_persons_right_whoever_filled_the_cache(
    org: Org, first: str, then: str
) -> None:
    may_edit = {"nora": True, "mo": False}
    for name in (first, then):
        client = browser(org, getattr(org, name))
        page = visit(client, "/kpis/win_rate/")
        assert page.cache == "miss"
        assert ("Edit KPI" in page.html) is may_edit[name]
        assert ("/kpis/win_rate/edit/" in page.html) is may_edit[name]
        assert visit(client, "/kpis/win_rate/").html == page.html


def test_people_with_the_same_right_share_the_kpi_pages_parts(org: Org) -> None:
    # Mo fills the cache for those who may not edit the win rate; Sam (who manages
    # another team) may not either, and Nora (north's manager) may.
    visit(browser(org, org.mo), "/kpis/win_rate/")
    sam = visit(browser(org, org.sam), "/kpis/win_rate/")
    nora = visit(browser(org, org.nora), "/kpis/win_rate/")
    assert sam.cache == nora.cache == "miss"
    assert sam.queries < nora.queries
    assert "Edit KPI" not in sam.html
    assert "Edit KPI" in nora.html


def test_a_hidden_comment_stays_hidden_from_members_after_a_moderator_saw_it(org: Org) -> None:
    comment = comment_add(
        by=org.sam, subject_kind="kpi", subject_key="win_rate", text="Something rude"
    )
    comment_hide(comment=comment, by=org.ada, reason="Not how we talk here.")
    ada = browser(org, org.ada)
    assert "Something rude" in seen_twice(ada, "/kpis/win_rate/").html
    for person in (org.vic, org.mo, org.nora):
        page = visit(browser(org, person), "/kpis/win_rate/")
        assert page.cache == "miss"
        assert "Hidden by a moderator: Not how we talk here." in page.html
        assert "Something rude" not in page.html
