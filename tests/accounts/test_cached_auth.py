"""A signed-in person's session and person are kept in the web process between requests,
and never outlive a change: a sign-out elsewhere, a new password, a deactivation or a move
to another team is seen by the very next request.

The people of tests/web/conftest.py: Ada (admin), Nora (north's manager), Mo (a member of
north), Vic (a viewer) and Sam (south's manager).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from headway.accounts import cached_auth
from headway.accounts.models import Membership, Team, User
from headway.changes.models import Generation
from headway.web import page_cache
from tests.web import conftest as web_conftest
from tests.web.conftest import PASSWORD, Org

org = web_conftest.org
_quick_passwords = web_conftest._quick_passwords

pytestmark = pytest.mark.django_db(transaction=True)

CHEAP_PAGE = "/me/tokens/"


@pytest.fixture(autouse=True)
def cached(settings: Any) -> Iterator[None]:
    """Tracking and the page cache on, and nothing kept from an earlier test. (The test
    runner's flush between transactional tests empties the table of generations: its two
    rows are put back as the migration made them.)"""
    for name in ("data", "auth"):
        Generation.objects.get_or_create(name=name)
    settings.HEADWAY_TRACK_CHANGES = True
    settings.HEADWAY_PAGE_CACHE = True
    cached_auth.forget_all()
    page_cache.forget_all()
    yield
    cached_auth.forget_all()
    page_cache.forget_all()


def signed_in(org: Org, person: Any) -> Client:
    """A browser of the person that has been to a page (so it holds a CSRF cookie)."""
    client = org.client(person)
    assert client.get(CHEAP_PAGE).status_code == 200
    return client


def statements(client: Client, url: str) -> list[str]:
    with CaptureQueriesContext(connection) as seen:
        assert client.get(url).status_code == 200
    return [query["sql"] for query in seen.captured_queries]


def reading(table: str, sql: list[str]) -> list[str]:
    return [statement for statement in sql if f'FROM "{table}"' in statement]


def goes_to_sign_in(response: Any) -> bool:
    return bool(response.status_code == 302 and response["Location"].startswith("/accounts/login/"))


def test_later_requests_read_neither_the_session_nor_the_person(org: Org, settings: Any) -> None:
    client = signed_in(org, org.mo)
    second = statements(client, CHEAP_PAGE)
    third = statements(client, CHEAP_PAGE)
    for sql in (second, third):
        assert reading("django_session", sql) == []
        assert reading("accounts_user", sql) == []
        assert [s for s in sql if "changes_generation" in s] == [
            "SELECT name, value FROM changes_generation"
        ]
    settings.HEADWAY_TRACK_CHANGES = False
    untracked = statements(client, CHEAP_PAGE)
    assert len(reading("django_session", untracked)) == 1
    assert len(reading("accounts_user", untracked)) == 1
    assert not [s for s in untracked if "changes_generation" in s]
    # The session and the person (two queries) are replaced by the generations (one).
    assert len(third) == len(untracked) - 1


@pytest.mark.parametrize("how", ["signing out in another browser", "deleting the session row"])
def test_a_session_ended_elsewhere_is_ended_here_at_the_next_request(org: Org, how: str) -> None:
    client = signed_in(org, org.mo)
    client.get("/")
    assert client.get("/")["X-Headway-Page-Cache"] == "hit"
    assert reading("django_session", statements(client, CHEAP_PAGE)) == []  # kept here
    session_key = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    if how == "signing out in another browser":
        other = Client()
        other.cookies[django_settings.SESSION_COOKIE_NAME] = session_key
        assert other.post("/accounts/logout/").status_code == 302
    else:
        Session.objects.filter(session_key=session_key).delete()
    assert not Session.objects.filter(session_key=session_key).exists()
    for url in (CHEAP_PAGE, "/", "/kpis/win_rate/"):
        response = client.get(url)
        assert goes_to_sign_in(response), url
        assert "X-Headway-Page-Cache" not in response


def test_a_new_password_ends_the_sessions_signed_in_with_the_old_one(org: Org) -> None:
    client = signed_in(org, org.mo)
    client.get("/")
    assert client.get("/")["X-Headway-Page-Cache"] == "hit"
    org.mo.set_password("another-long-password-43")
    org.mo.save()
    assert goes_to_sign_in(client.get("/"))
    assert goes_to_sign_in(client.get(CHEAP_PAGE))


def test_changing_ones_password_keeps_this_browser_and_signs_the_others_out(org: Org) -> None:
    here = signed_in(org, org.mo)
    there = signed_in(org, org.mo)
    for client in (here, there):
        client.get("/")
        assert client.get("/")["X-Headway-Page-Cache"] == "hit"
    response = here.post(
        "/accounts/password_change/",
        {
            "old_password": PASSWORD,
            "new_password1": "another-long-password-43",
            "new_password2": "another-long-password-43",
        },
    )
    assert response.status_code == 302
    assert "Mo Member" in here.get("/").content.decode()
    assert goes_to_sign_in(there.get("/"))


def test_a_deactivated_person_is_signed_out_at_their_next_request(org: Org) -> None:
    client = signed_in(org, org.mo)
    client.get("/kpis/win_rate/")
    assert client.get("/kpis/win_rate/")["X-Headway-Page-Cache"] == "hit"
    org.mo.is_active = False
    org.mo.save()
    assert goes_to_sign_in(client.get("/kpis/win_rate/"))
    assert goes_to_sign_in(client.get(CHEAP_PAGE))


def test_a_person_moved_to_another_team_may_do_what_the_new_team_may_at_once(org: Org) -> None:
    # Nora manages north, whose KPI the win rate is; revenue is south's.
    client = signed_in(org, org.nora)
    for _ in range(2):
        win_rate = client.get("/kpis/win_rate/").content.decode()
        revenue = client.get("/kpis/revenue/").content.decode()
    assert "Edit KPI" in win_rate
    assert "Edit KPI" not in revenue
    assert "North" in client.get("/me/").content.decode()
    Membership.objects.filter(user=org.nora, team__key="north").update(
        team=Team.objects.get(key="south")
    )
    win_rate_now = client.get("/kpis/win_rate/")
    revenue_now = client.get("/kpis/revenue/")
    assert win_rate_now["X-Headway-Page-Cache"] == revenue_now["X-Headway-Page-Cache"] == "miss"
    assert "Edit KPI" not in win_rate_now.content.decode()
    assert "Edit KPI" in revenue_now.content.decode()
    person = client.get("/me/").wsgi_request.user
    assert isinstance(person, User)
    assert [team.key for team in person.teams.all()] == ["south"]
