"""HubSpot: full lists paged by `after`, incremental searches, rate limits, refusals."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

import pytest

from headway.ingestion.sources import kind_named
from headway.ingestion.sources.base import FetchContext, SourceError
from headway.ingestion.sources.hubspot import kind as hubspot_kind
from tests.ingestion.sources.conftest import (
    HUBSPOT_TOKEN,
    NOW,
    SOURCE_NAME,
    FakeHubSpot,
    Reply,
    Sinks,
    Sleeps,
    rows_of,
    stamp,
)

KIND = kind_named("hubspot")
SECRETS = {"access_token": HUBSPOT_TOKEN}


def config(fake: FakeHubSpot, **extra: Any) -> dict[str, Any]:
    return {
        "object": fake.object,
        "fields": {"dealname": "deal_name", "amount": "amount"},
        "base_url": fake.url,
        "page_size": 2,
        **extra,
    }


def five_deals(fake: FakeHubSpot) -> None:
    for number in range(1, 6):
        fake.put(number, stamp(number), dealname=f"Deal {number}", amount=str(100 * number))


def test_it_follows_hubspot_paging_to_the_last_page(
    hubspot: FakeHubSpot, context: FetchContext, sinks: Sinks
) -> None:
    five_deals(hubspot)
    sink = sinks.new()

    cursor = KIND.fetch(config(hubspot), SECRETS, None, sink, context)

    assert rows_of(sink) == [
        {
            "id": str(number),
            "deal_name": f"Deal {number}",
            "amount": str(100 * number),
            "updated_at": f"2026-01-01T09:0{number}:00.000Z",
        }
        for number in range(1, 6)
    ]
    assert sink.columns == ["id", "deal_name", "amount", "updated_at"]
    assert cursor == "2026-01-01T09:05:00.000Z"
    lists = [seen for seen in hubspot.requests if seen.method == "GET"]
    assert [seen.query.get("after") for seen in lists] == [None, "3", "5"]
    assert all(seen.path == "/crm/v3/objects/deals" for seen in lists)
    assert lists[0].query["properties"] == "dealname,amount"
    assert lists[0].headers["authorization"] == f"Bearer {HUBSPOT_TOKEN}"


def test_an_incremental_sync_searches_only_what_changed_and_moves_the_cursor(
    hubspot: FakeHubSpot, context: FetchContext, sinks: Sinks
) -> None:
    five_deals(hubspot)
    cursor = KIND.fetch(config(hubspot), SECRETS, None, sinks.new(), context)
    hubspot.put(2, stamp(30), dealname="Deal 2", amount="250")
    hubspot.put(6, stamp(31), dealname="Deal 6", amount="600")
    hubspot.put(4, stamp(32), dealname="Deal 4 (won)", amount="400")
    hubspot.requests.clear()
    sink = sinks.new()

    newer = KIND.fetch(config(hubspot), SECRETS, cursor, sink, context)

    assert [(row["id"], row["deal_name"]) for row in rows_of(sink)] == [
        ("2", "Deal 2"),
        ("6", "Deal 6"),
        ("4", "Deal 4 (won)"),
    ]
    assert newer == "2026-01-01T09:32:00.000Z"
    searches = [seen for seen in hubspot.requests if seen.method == "POST"]
    assert {seen.path for seen in searches} == {"/crm/v3/objects/deals/search"}
    first = searches[0].json()
    since, until = first["filterGroups"][0]["filters"]
    assert since == {
        "propertyName": "hs_lastmodifieddate",
        "operator": "GT",
        "value": str(int(stamp(5).timestamp() * 1000)),
    }
    assert until["operator"] == "LTE"
    assert first["sorts"] == [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}]


def test_an_incremental_sync_without_changes_writes_nothing_and_keeps_the_cursor(
    hubspot: FakeHubSpot, context: FetchContext, sinks: Sinks
) -> None:
    five_deals(hubspot)
    cursor = KIND.fetch(config(hubspot), SECRETS, None, sinks.new(), context)
    sink = sinks.new()

    assert KIND.fetch(config(hubspot), SECRETS, cursor, sink, context) == cursor
    assert rows_of(sink) == []


@pytest.fixture
def contacts() -> Iterator[FakeHubSpot]:
    fake = FakeHubSpot("contacts")
    yield fake
    fake.server.stop()


def test_contacts_are_searched_by_their_lastmodifieddate(
    contacts: FakeHubSpot, context: FetchContext, sinks: Sinks
) -> None:
    contacts.put(1, stamp(1), email="ada@example.com", firstname="Ada")
    contacts.put(2, stamp(9), email="bob@example.com", firstname="Bob")
    sink = sinks.new()

    cursor = KIND.fetch(
        {"object": "contacts", "fields": {"email": "email"}, "base_url": contacts.url},
        SECRETS,
        "2026-01-01T09:05:00.000Z",
        sink,
        context,
    )

    assert rows_of(sink) == [
        {"id": "2", "email": "bob@example.com", "updated_at": "2026-01-01T09:09:00.000Z"}
    ]
    assert cursor == "2026-01-01T09:09:00.000Z"
    search = contacts.requests[0].json()
    assert search["filterGroups"][0]["filters"][0]["propertyName"] == "lastmodifieddate"


def filters(search: dict[str, Any]) -> tuple[str, int, str | None]:
    first = search["filterGroups"][0]["filters"][0]
    return first["operator"], int(first["value"]), search.get("after")


def test_each_search_page_starts_again_from_the_last_modification_seen(
    hubspot: FakeHubSpot, context: FetchContext, sinks: Sinks
) -> None:
    # Seven changes; 3, 4 and 5 share one instant, across a page boundary.
    for number, minute in enumerate([10, 11, 12, 12, 12, 13, 14], start=1):
        hubspot.put(number, stamp(minute), dealname=f"Deal {number}", amount="1")
    sink = sinks.new()

    cursor = KIND.fetch(config(hubspot), SECRETS, "2026-01-01T09:00:00.000Z", sink, context)

    assert [row["id"] for row in rows_of(sink)] == [str(number) for number in range(1, 8)]
    assert cursor == "2026-01-01T09:14:00.000Z"
    millis = {minute: int(stamp(minute).timestamp() * 1000) for minute in (0, 11, 12, 13)}
    assert [filters(seen.json()) for seen in hubspot.requests] == [
        ("GT", millis[0], None),
        ("GTE", millis[11], None),
        ("GTE", millis[12], None),
        ("GTE", millis[12], "2"),  # that page was all 09:12: on within it
        ("GTE", millis[13], None),
    ]


def test_a_record_changed_during_the_sync_does_not_shift_the_pages(
    hubspot: FakeHubSpot, context: FetchContext, sinks: Sinks
) -> None:
    for number in range(1, 8):
        hubspot.put(number, stamp(10 + number), dealname=f"Deal {number}", amount="1")

    def someone_edits_deal_1() -> None:  # after the sync started: left for the next sync
        hubspot.put(1, NOW + datetime.timedelta(minutes=1), dealname="Deal 1", amount="2")

    hubspot.after_search = someone_edits_deal_1
    sink = sinks.new()

    cursor = KIND.fetch(config(hubspot), SECRETS, "2026-01-01T09:00:00.000Z", sink, context)

    assert [row["id"] for row in rows_of(sink)] == [str(number) for number in range(1, 8)]
    assert cursor == "2026-01-01T09:17:00.000Z"


def test_a_record_that_comes_twice_is_written_once_and_fetched_again_next_time(
    hubspot: FakeHubSpot, context: FetchContext, sinks: Sinks
) -> None:
    for number in range(1, 6):
        hubspot.put(number, stamp(10 + number), dealname=f"Deal {number}", amount="1")

    def someone_edits_deal_1() -> None:  # and this clock is ahead: it is still in range
        if hubspot.records[1]["properties"]["amount"] == "1":
            edited = stamp(13) + datetime.timedelta(seconds=30)
            hubspot.put(1, edited, dealname="Deal 1", amount="2")

    hubspot.after_search = someone_edits_deal_1
    sink = sinks.new()

    cursor = KIND.fetch(config(hubspot), SECRETS, "2026-01-01T09:00:00.000Z", sink, context)

    assert [row["id"] for row in rows_of(sink)] == ["1", "2", "3", "4", "5"]
    assert cursor == "2026-01-01T09:13:29.999Z"  # just below deal 1's new modification
    hubspot.after_search = None
    again = sinks.new()
    KIND.fetch(config(hubspot), SECRETS, cursor, again, context)
    assert [(row["id"], row["amount"]) for row in rows_of(again)] == [
        ("1", "2"),
        ("4", "1"),
        ("5", "1"),
    ]


def test_a_full_sync_keeps_its_cursor_before_its_start(
    hubspot: FakeHubSpot, context: FetchContext, sinks: Sinks
) -> None:
    five_deals(hubspot)
    hubspot.put(6, NOW + datetime.timedelta(minutes=3), dealname="Deal 6", amount="1")

    cursor = KIND.fetch(config(hubspot), SECRETS, None, sinks.new(), context)

    assert cursor == "2026-03-01T11:59:00.000Z"  # a minute before the sync started


def test_a_page_all_at_one_instant_is_followed_within_that_instant(
    hubspot: FakeHubSpot, context: FetchContext, sinks: Sinks
) -> None:
    hubspot.put(1, stamp(10), dealname="Deal 1", amount="1")
    for number in range(2, 8):
        hubspot.put(number, stamp(12), dealname=f"Deal {number}", amount="1")
    hubspot.put(8, stamp(13), dealname="Deal 8", amount="1")
    sink = sinks.new()

    KIND.fetch(config(hubspot), SECRETS, "2026-01-01T09:00:00.000Z", sink, context)

    assert [row["id"] for row in rows_of(sink)] == [str(number) for number in range(1, 9)]
    twelve = int(stamp(12).timestamp() * 1000)
    assert [filters(seen.json()) for seen in hubspot.requests][1:] == [
        ("GTE", twelve, None),
        ("GTE", twelve, "2"),
        ("GTE", twelve, "4"),
        ("GTE", twelve, "6"),
    ]


def test_more_records_at_one_instant_than_the_search_can_page_end_the_sync(
    hubspot: FakeHubSpot, context: FetchContext, sinks: Sinks, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hubspot_kind, "SEARCH_RESULT_CAP", 4)
    hubspot.search_cap = 4
    hubspot.put(1, stamp(10), dealname="Deal 1", amount="1")
    for number in range(2, 9):
        hubspot.put(number, stamp(12), dealname=f"Deal {number}", amount="1")

    with pytest.raises(SourceError, match="more than 4 HubSpot deals share one modification"):
        KIND.fetch(config(hubspot), SECRETS, "2026-01-01T09:00:00.000Z", sinks.new(), context)


def test_it_waits_out_hubspot_rate_limits_and_goes_on(
    hubspot: FakeHubSpot, context: FetchContext, sinks: Sinks, sleeps: Sleeps
) -> None:
    five_deals(hubspot)
    secondly = {
        "status": "error",
        "message": "You have reached your secondly limit.",
        "errorType": "RATE_LIMIT",
        "correlationId": "c0ffee",
        "policyName": "SECONDLY",
        "groupName": "publicapi:private-app:secondly",
    }
    hubspot.failures = [
        Reply(429, secondly),
        Reply(429, secondly, {"Retry-After": "3"}),
        Reply(429, secondly),
    ]
    sink = sinks.new()

    KIND.fetch(config(hubspot), SECRETS, None, sink, context)

    assert sleeps.waits == [1.0, 3.0, 4.0]
    assert len(rows_of(sink)) == 5


def test_a_rate_limit_that_does_not_lift_ends_the_sync_naming_the_source(
    hubspot: FakeHubSpot, context: FetchContext, sinks: Sinks, sleeps: Sleeps
) -> None:
    hubspot.failures = [Reply(429, {"status": "error", "policyName": "SECONDLY"})] * 10

    with pytest.raises(SourceError) as raised:
        KIND.fetch(config(hubspot), SECRETS, None, sinks.new(), context)

    assert str(raised.value).startswith(f"{SOURCE_NAME}: HubSpot kept refusing with a rate limit")
    assert len(sleeps.waits) == context.max_retries


def test_the_daily_limit_ends_the_sync_at_once(
    hubspot: FakeHubSpot, context: FetchContext, sinks: Sinks, sleeps: Sleeps
) -> None:
    hubspot.failures = [
        Reply(429, {"status": "error", "message": "daily limit", "policyName": "DAILY"})
    ]

    with pytest.raises(SourceError, match="daily API limit"):
        KIND.fetch(config(hubspot), SECRETS, None, sinks.new(), context)
    assert sleeps.waits == []


def test_an_expired_token_is_reported_naming_the_source_and_hubspot(
    hubspot: FakeHubSpot, context: FetchContext, sinks: Sinks
) -> None:
    with pytest.raises(SourceError) as raised:
        KIND.fetch(config(hubspot), {"access_token": "pat-expired"}, None, sinks.new(), context)

    message = str(raised.value)
    assert message.startswith(f"{SOURCE_NAME}: HubSpot refused the access token (expired or wrong)")
    assert "pat-expired" not in message


def test_missing_scopes_are_named(
    hubspot: FakeHubSpot, context: FetchContext, sinks: Sinks
) -> None:
    hubspot.scopes_missing = True

    with pytest.raises(SourceError, match=r"missing the scopes .*crm\.objects\.deals\.read"):
        KIND.fetch(config(hubspot), SECRETS, None, sinks.new(), context)


def test_a_property_deleted_in_hubspot_is_named_in_a_full_sync(
    hubspot: FakeHubSpot, context: FetchContext, sinks: Sinks
) -> None:
    five_deals(hubspot)
    fields = {"dealname": "deal_name", "forecast_category": "forecast"}

    with pytest.raises(SourceError) as raised:
        KIND.fetch(config(hubspot, fields=fields), SECRETS, None, sinks.new(), context)

    assert str(raised.value) == (
        f"{SOURCE_NAME}: HubSpot has no property forecast_category on deals (renamed or "
        "deleted in HubSpot?); fix the source's field mapping"
    )


def test_a_property_deleted_in_hubspot_is_named_when_the_search_refuses_it(
    hubspot: FakeHubSpot, context: FetchContext, sinks: Sinks
) -> None:
    five_deals(hubspot)
    fields = {"dealname": "deal_name", "forecast_category": "forecast"}

    with pytest.raises(SourceError, match="HubSpot has no property forecast_category on deals"):
        KIND.fetch(
            config(hubspot, fields=fields), SECRETS, "2026-01-01T09:00:00Z", sinks.new(), context
        )


def test_an_empty_crm_gives_no_rows_and_no_error(
    hubspot: FakeHubSpot, context: FetchContext, sinks: Sinks
) -> None:
    sink = sinks.new()

    assert KIND.fetch(config(hubspot), SECRETS, None, sink, context) is None
    assert rows_of(sink) == []
    assert KIND.fetch(config(hubspot), SECRETS, "2026-01-01T00:00:00Z", sinks.new(), context) == (
        "2026-01-01T00:00:00Z"
    )


def test_its_configuration_is_checked_field_by_field() -> None:
    problems = KIND.problems(
        {
            "object": "tickets",
            "fields": {"amount": "id", "deal name": "x"},
            "base_url": "ftp://api.hubapi.com",
            "page_size": 500,
            "surprise": 1,
        },
        {"access_token": " "},
    )

    assert any(problem.startswith("object:") for problem in problems)
    assert any(problem.startswith("fields.deal name") for problem in problems)
    assert any(problem.startswith("base_url:") for problem in problems)
    assert any(problem.startswith("page_size:") for problem in problems)
    assert any(problem.startswith("surprise:") for problem in problems)
    assert any(problem.startswith("access_token:") for problem in problems)
    assert KIND.problems({"object": "deals", "fields": {"amount": "ID"}}, SECRETS) == [
        "configuration: Value error, two fields go to the column 'ID'"
    ]
