"""The API's shared reads are cached under the data's generation, and every caller is
still checked before a cached answer goes out (headway.api.read_cache).

The generations move after a committed write, so these tests run in transactions of their
own (`transaction=True`) with writes tracked and the page cache on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection
from django.http import HttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext

from headway.accounts import cached_auth
from headway.accounts.models import ApiToken, User
from headway.accounts.services import token_create, token_revoke
from headway.api import read_cache
from headway.changes.models import Generation
from tests.api.conftest import Api, People, bearer

pytestmark = pytest.mark.django_db(transaction=True)

HEADER = "X-Headway-Read-Cache"


@pytest.fixture
def cache_on(settings: Any, transactional_db: None) -> Iterator[None]:
    """Writes tracked and answers cached, starting from an empty cache. The test runner
    empties every table between transactional tests, the generations too, so they start
    again from the rows the migration leaves (and from the same numbers: hence the
    emptied caches, which would otherwise hold a previous test's answers)."""
    for name in ("data", "auth"):
        Generation.objects.get_or_create(name=name)
    read_cache.forget_all()
    cached_auth.forget_all()
    settings.HEADWAY_TRACK_CHANGES = True
    settings.HEADWAY_PAGE_CACHE = True
    yield
    read_cache.forget_all()
    cached_auth.forget_all()


def data_generation() -> int:
    return Generation.objects.get(name="data").value


def cached_answers() -> int:
    return len(read_cache._LOCAL.entries)


def token_of(person: User, scope: str = ApiToken.Scope.WRITE) -> tuple[ApiToken, Api]:
    token, raw = token_create(by=person, name="tests", scope=scope)
    return token, bearer(raw)


def signed_in(person: User) -> Api:
    client = Client()
    client.force_login(person)
    return Api(client)


def counted(api: Api, path: str, **params: Any) -> tuple[HttpResponse, list[str]]:
    """The answer and the SQL of the queries it took."""
    with CaptureQueriesContext(connection) as seen:
        response = api.get(path, **params)
    return response, [query["sql"] for query in seen.captured_queries]


# -- hits --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["kpis", "kpis/win_rate", "kpis/north_revenue/results"], ids=lambda path: path
)
def test_the_second_read_is_a_hit_with_the_same_answer_and_fewer_queries(
    org: People, api_as: Callable[..., Api], cache_on: None, path: str
) -> None:
    api = api_as(org.member)

    first, first_queries = counted(api, path)
    second, second_queries = counted(api, path)

    assert first.status_code == second.status_code == 200
    assert (first[HEADER], second[HEADER]) == ("miss", "hit")
    assert second.json() == first.json()
    assert second.content == first.content
    assert second["Content-Type"] == first["Content-Type"] == "application/json; charset=utf-8"
    assert len(second_queries) < len(first_queries)
    # A hit reads who is calling, never the KPIs nor their results.
    assert not [sql for sql in second_queries if "kpis_kpi" in sql or "results_result" in sql]
    assert [sql for sql in first_queries if "kpis_kpi" in sql]


def test_a_cached_kpi_keeps_its_etag(
    org: People, api_as: Callable[..., Api], cache_on: None
) -> None:
    api = api_as(org.member)
    first = api.get("kpis/win_rate")
    second = api.get("kpis/win_rate")
    assert (first[HEADER], second[HEADER]) == ("miss", "hit")
    assert first["ETag"] == second["ETag"] == '"1"'
    assert second.json()["version"] == 1


def test_the_other_shared_reads_are_cached_too(
    org: People, api_as: Callable[..., Api], cache_on: None
) -> None:
    api = api_as(org.viewer, ApiToken.Scope.READ)
    target_id = api.get("kpis/win_rate/targets").json()["items"][0]["id"]
    paths = [
        "teams",
        "teams/north",
        "goals",
        "goals/grow",
        f"kpis/win_rate/targets/{target_id}",
        "kpis/north_revenue/results/2026-02",
    ]
    for path in paths:
        first, second = api.get(path), api.get(path)
        assert first.status_code == 200, (path, first.content)
        assert (first[HEADER], second[HEADER]) == ("miss", "hit"), path
        assert second.content == first.content, path


def test_another_persons_token_and_a_signed_in_session_get_the_same_cached_answer(
    org: People, api_as: Callable[..., Api], cache_on: None
) -> None:
    member = api_as(org.member)
    south = api_as(org.south_manager, ApiToken.Scope.READ)
    browser = signed_in(org.viewer)

    warmed = member.get("kpis")
    from_south = south.get("kpis")
    from_browser = browser.get("kpis")

    assert warmed[HEADER] == "miss"
    assert (from_south[HEADER], from_browser[HEADER]) == ("hit", "hit")
    assert from_south.status_code == from_browser.status_code == 200
    assert from_south.content == from_browser.content == warmed.content


# -- callers who do not pass -------------------------------------------------------------


def test_a_token_revoked_after_the_answer_was_cached_gets_401(org: People, cache_on: None) -> None:
    _, member = token_of(org.member)
    doomed_token, doomed = token_of(org.north_manager)
    assert doomed.get("kpis/win_rate")[HEADER] == "miss"
    assert doomed.get("kpis/win_rate")[HEADER] == "hit"

    token_revoke(by=org.north_manager, token=doomed_token)
    # Revoking is a write: the next read is a miss, which caches the answer again.
    assert member.get("kpis/win_rate")[HEADER] == "miss"
    assert member.get("kpis/win_rate")[HEADER] == "hit"

    refused = doomed.get("kpis/win_rate")
    assert refused.status_code == 401
    assert HEADER not in refused
    assert "key" not in refused.json()
    # The answer is still cached for the others.
    assert member.get("kpis/win_rate")[HEADER] == "hit"


def test_a_request_with_a_bad_authorization_header_gets_401_though_the_answer_is_cached(
    org: People, cache_on: None
) -> None:
    _, raw = token_create(by=org.member, name="tests", scope=ApiToken.Scope.READ)
    good = bearer(raw)
    assert good.get("kpis")[HEADER] == "miss"
    assert good.get("kpis")[HEADER] == "hit"
    headers = [
        "Bearer hw_not-a-real-token",
        "Bearer ",
        "Bearer",
        "Basic dXNlcjpwYXNz",
        raw,
        f"Token {raw}",
        f"Bearer{raw}",
        f"Bearer {raw}x",
    ]

    refused = [Api(Client(), {"Authorization": header}).get("kpis") for header in headers]

    assert [answer.status_code for answer in refused] == [401] * len(headers)
    assert [HEADER in answer for answer in refused] == [False] * len(headers)
    assert ["items" in answer.json() for answer in refused] == [False] * len(headers)
    # The good token's answer is still there.
    assert good.get("kpis")[HEADER] == "hit"


def test_a_signed_in_session_sending_a_bad_token_gets_401_as_without_the_cache(
    org: People, api_as: Callable[..., Api], cache_on: None
) -> None:
    api = api_as(org.member)
    browser = signed_in(org.viewer)
    assert api.get("kpis")[HEADER] == "miss"
    assert browser.get("kpis")[HEADER] == "hit"

    browser.headers = {"Authorization": "Bearer hw_wrong"}
    refused = browser.get("kpis")

    assert refused.status_code == 401
    assert HEADER not in refused


def test_a_request_without_credentials_gets_401_though_the_answer_is_cached(
    org: People, api_as: Callable[..., Api], anonymous: Api, cache_on: None
) -> None:
    api = api_as(org.member)
    for path in ("kpis", "kpis/win_rate", "kpis/north_revenue/results"):
        assert api.get(path)[HEADER] == "miss"
        assert api.get(path)[HEADER] == "hit"
        refused = anonymous.get(path)
        assert refused.status_code == 401, path
        assert HEADER not in refused


def test_a_signed_out_session_gets_401_though_the_answer_is_cached(
    org: People, api_as: Callable[..., Api], cache_on: None
) -> None:
    api = api_as(org.member)
    browser = signed_in(org.viewer)
    assert api.get("kpis")[HEADER] == "miss"
    assert browser.get("kpis")[HEADER] == "hit"

    browser.client.logout()

    refused = browser.get("kpis")
    assert refused.status_code == 401
    assert HEADER not in refused


# -- writes ------------------------------------------------------------------------------


def test_a_kpi_changed_through_the_api_is_read_fresh_with_its_new_version_and_etag(
    org: People, api_as: Callable[..., Api], cache_on: None
) -> None:
    reader = api_as(org.viewer, ApiToken.Scope.READ)
    manager = api_as(org.north_manager)
    assert reader.get("kpis")[HEADER] == "miss"
    before = reader.get("kpis/win_rate")
    assert reader.get("kpis/win_rate")[HEADER] == "hit"

    changed = manager.patch("kpis/win_rate", {"name": "Win ratio"}, {"If-Match": before["ETag"]})
    assert changed.status_code == 200, changed.json()

    after = reader.get("kpis/win_rate")
    assert after[HEADER] == "miss"
    assert after.json()["name"] == "Win ratio"
    assert after.json()["version"] == 2
    assert after["ETag"] == '"2"' != before["ETag"]
    listed = reader.get("kpis")
    assert listed[HEADER] == "miss"
    assert "Win ratio" in [kpi["name"] for kpi in listed.json()["items"]]
    assert reader.get("kpis/win_rate")[HEADER] == "hit"


def test_a_kpi_changed_with_its_version_in_the_body_is_read_fresh(
    org: People, api_as: Callable[..., Api], cache_on: None
) -> None:
    api = api_as(org.admin)
    assert api.get("kpis/south_revenue")[HEADER] == "miss"
    assert api.get("kpis/south_revenue")[HEADER] == "hit"

    assert api.patch("kpis/south_revenue", {"name": "South sales", "version": 1}).status_code == 200

    after = api.get("kpis/south_revenue")
    assert after[HEADER] == "miss"
    assert (after.json()["name"], after.json()["version"], after["ETag"]) == (
        "South sales",
        2,
        '"2"',
    )


def test_a_target_added_through_the_api_shows_in_the_next_read(
    org: People, api_as: Callable[..., Api], cache_on: None
) -> None:
    api = api_as(org.north_manager)
    before = api.get("kpis/north_revenue/targets")
    assert api.get("kpis/north_revenue/targets")[HEADER] == "hit"
    assert before.json()["count"] == 1

    added = api.post(
        "kpis/north_revenue/targets",
        {"effective_from": "2026-04", "value": "1500", "reason": "Spring campaign"},
    )
    assert added.status_code == 201, added.json()
    assert HEADER not in added

    after = api.get("kpis/north_revenue/targets")
    assert after[HEADER] == "miss"
    assert after.json()["count"] == 2
    assert [target["reason"] for target in after.json()["items"]] == [
        "First plan",
        "Spring campaign",
    ]


# -- what a hit still does -----------------------------------------------------------------


def test_a_token_used_only_for_cached_answers_has_its_last_use_recorded(
    org: People, api_as: Callable[..., Api], cache_on: None
) -> None:
    warmer = api_as(org.member)
    fresh_token, fresh = token_of(org.viewer, ApiToken.Scope.READ)
    assert fresh_token.last_used_at is None
    assert warmer.get("kpis")[HEADER] == "miss"
    generation = data_generation()

    assert fresh.get("kpis")[HEADER] == "hit"

    fresh_token.refresh_from_db()
    assert fresh_token.last_used_at is not None
    # Noting the last use moves no generation: the answer stays cached for everybody.
    assert data_generation() == generation
    assert warmer.get("kpis")[HEADER] == "hit"
    assert fresh.get("kpis")[HEADER] == "hit"


# -- never cached ----------------------------------------------------------------------------


def test_me_is_never_cached_each_caller_sees_themselves(
    org: People, api_as: Callable[..., Api], cache_on: None
) -> None:
    member = api_as(org.member)
    viewer = api_as(org.viewer, ApiToken.Scope.READ)
    browser = signed_in(org.south_manager)

    answers = [caller.get("me") for caller in (member, viewer, browser, member, viewer)]

    assert [answer.status_code for answer in answers] == [200] * 5
    assert [HEADER in answer for answer in answers] == [False] * 5
    assert [answer.json()["email"] for answer in answers] == [
        "member@example.com",
        "viewer@example.com",
        "south.manager@example.com",
        "member@example.com",
        "viewer@example.com",
    ]
    assert [answer.json()["signed_in_with"] for answer in answers[:3]] == [
        "token",
        "token",
        "session",
    ]
    assert cached_answers() == 0


def test_an_unknown_kpi_is_404_every_time_and_never_cached(
    org: People, api_as: Callable[..., Api], cache_on: None
) -> None:
    api = api_as(org.member)
    first, first_queries = counted(api, "kpis/nope")
    second, second_queries = counted(api, "kpis/nope")
    assert first.status_code == second.status_code == 404
    assert HEADER not in first
    assert HEADER not in second
    assert second.json()["detail"] == "no KPI with key 'nope'"
    assert len(second_queries) == len(first_queries)
    assert cached_answers() == 0


def test_posts_are_never_cached(org: People, api_as: Callable[..., Api], cache_on: None) -> None:
    api = api_as(org.north_manager)
    bodies = [
        {"effective_from": "2026-04", "value": "1500", "reason": "Spring campaign"},
        {"effective_from": "2026-07", "value": "1800", "reason": "Summer campaign"},
    ]
    answers = [api.post("kpis/north_revenue/targets", body) for body in bodies]
    assert [answer.status_code for answer in answers] == [201, 201]
    assert [HEADER in answer for answer in answers] == [False, False]
    assert [answer.json()["reason"] for answer in answers] == ["Spring campaign", "Summer campaign"]
    assert cached_answers() == 0


def test_each_query_string_is_an_answer_of_its_own(
    org: People, api_as: Callable[..., Api], cache_on: None
) -> None:
    api = api_as(org.member)
    one = api.get("kpis", limit=1)
    two = api.get("kpis", limit=2)
    everything = api.get("kpis")

    assert [one[HEADER], two[HEADER], everything[HEADER]] == ["miss", "miss", "miss"]
    assert [kpi["key"] for kpi in one.json()["items"]] == ["north_revenue"]
    assert [kpi["key"] for kpi in two.json()["items"]] == ["north_revenue", "south_revenue"]
    assert len(everything.json()["items"]) == 3
    assert (one.json()["limit"], two.json()["limit"]) == (1, 2)

    again = api.get("kpis", limit=1)
    assert again[HEADER] == "hit"
    assert again.content == one.content
    assert api.get("kpis", limit=2).content == two.content


# -- switched off ----------------------------------------------------------------------------


def test_with_the_page_cache_off_nothing_is_cached_and_no_header_is_sent(
    org: People, api_as: Callable[..., Api], cache_on: None, settings: Any
) -> None:
    settings.HEADWAY_PAGE_CACHE = False
    api = api_as(org.member)

    first, first_queries = counted(api, "kpis/win_rate")
    second, second_queries = counted(api, "kpis/win_rate")

    assert first.status_code == second.status_code == 200
    assert HEADER not in first
    assert HEADER not in second
    assert second.content == first.content
    assert len(second_queries) == len(first_queries)
    assert [sql for sql in second_queries if "kpis_kpi" in sql]
    assert cached_answers() == 0


def test_without_tracked_writes_nothing_is_cached_either(
    org: People, api_as: Callable[..., Api], cache_on: None, settings: Any
) -> None:
    settings.HEADWAY_TRACK_CHANGES = False
    api = api_as(org.member)
    answers = [api.get("kpis"), api.get("kpis")]
    assert [answer.status_code for answer in answers] == [200, 200]
    assert [HEADER in answer for answer in answers] == [False, False]
    assert cached_answers() == 0
