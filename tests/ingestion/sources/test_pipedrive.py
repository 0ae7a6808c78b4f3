"""Pipedrive: offset paging newest first, an incremental sync that stops early."""

from __future__ import annotations

from typing import Any

import pytest

from headway.ingestion.sources import kind_named
from headway.ingestion.sources.base import FetchContext, SourceError
from tests.ingestion.sources.conftest import (
    PIPEDRIVE_TOKEN,
    SOURCE_NAME,
    FakePipedrive,
    Reply,
    Sinks,
    Sleeps,
    rows_of,
    stamp,
)

KIND = kind_named("pipedrive")
SECRETS = {"api_token": PIPEDRIVE_TOKEN}
OVER_LIMIT = {"success": False, "error": "Request over limit", "errorCode": 429}


def config(fake: FakePipedrive, **extra: Any) -> dict[str, Any]:
    return {
        "object": fake.object,
        "fields": {"name": "name", "org_id.name": "organisation"},
        "base_url": fake.url,
        "page_size": 2,
        **extra,
    }


def five_persons(fake: FakePipedrive) -> None:
    for number in range(1, 6):
        organisation = {"name": f"Org {number}", "value": 10 + number} if number != 3 else None
        fake.put(number, stamp(number), name=f"Person {number}", org_id=organisation)


def test_it_follows_pipedrive_paging_to_the_last_page(
    pipedrive: FakePipedrive, context: FetchContext, sinks: Sinks
) -> None:
    five_persons(pipedrive)
    sink = sinks.new()

    cursor = KIND.fetch(config(pipedrive), SECRETS, None, sink, context)

    assert rows_of(sink) == [
        {
            "id": str(number),
            "name": f"Person {number}",
            "organisation": f"Org {number}" if number != 3 else None,
            "updated_at": f"2026-01-01 09:0{number}:00",
        }
        for number in range(5, 0, -1)
    ]
    assert sink.columns == ["id", "name", "organisation", "updated_at"]
    assert cursor == "2026-01-01 09:05:00"
    assert [seen.query["start"] for seen in pipedrive.requests] == ["0", "2", "4"]
    first = pipedrive.requests[0]
    assert first.path == "/v1/persons"
    assert first.query["sort"] == "update_time DESC"
    assert first.headers["x-api-token"] == PIPEDRIVE_TOKEN
    assert "api_token" not in first.query


def test_an_incremental_sync_stops_at_the_first_unchanged_record(
    pipedrive: FakePipedrive, context: FetchContext, sinks: Sinks
) -> None:
    for number in range(1, 10):
        pipedrive.put(number, stamp(number), name=f"Person {number}", org_id=None)
    cursor = KIND.fetch(config(pipedrive), SECRETS, None, sinks.new(), context)
    pipedrive.put(2, stamp(30), name="Person 2 (moved)", org_id=None)
    pipedrive.put(10, stamp(31), name="Person 10", org_id=None)
    pipedrive.put(4, stamp(32), name="Person 4 (renamed)", org_id=None)
    pipedrive.requests.clear()
    sink = sinks.new()

    newer = KIND.fetch(config(pipedrive), SECRETS, cursor, sink, context)

    assert [row["id"] for row in rows_of(sink)] == ["4", "10", "2"]
    assert newer == "2026-01-01 09:32:00"
    assert [seen.query["start"] for seen in pipedrive.requests] == ["0", "2"]

    unchanged = sinks.new()
    pipedrive.requests.clear()
    assert KIND.fetch(config(pipedrive), SECRETS, newer, unchanged, context) == newer
    assert rows_of(unchanged) == []
    assert len(pipedrive.requests) == 1


def test_a_record_changed_during_the_sync_is_written_once(
    pipedrive: FakePipedrive, context: FetchContext, sinks: Sinks
) -> None:
    five_persons(pipedrive)

    def touch_the_newest(start: int) -> None:
        if start == 0:  # after the first page, person 4 changes and moves to the front
            pipedrive.put(4, stamp(50), name="Person 4", org_id=None)

    pipedrive.after_page = touch_the_newest
    sink = sinks.new()

    KIND.fetch(config(pipedrive), SECRETS, None, sink, context)

    ids = [row["id"] for row in rows_of(sink)]
    assert sorted(ids) == ["1", "2", "3", "4", "5"]


def test_the_token_can_go_in_the_query_as_api_token(
    pipedrive: FakePipedrive, context: FetchContext, sinks: Sinks
) -> None:
    five_persons(pipedrive)

    KIND.fetch(config(pipedrive, authenticate_by="query"), SECRETS, None, sinks.new(), context)

    assert pipedrive.requests[0].query["api_token"] == PIPEDRIVE_TOKEN
    assert "x-api-token" not in pipedrive.requests[0].headers


def test_it_waits_as_pipedrive_says_on_429(
    pipedrive: FakePipedrive, context: FetchContext, sinks: Sinks, sleeps: Sleeps
) -> None:
    five_persons(pipedrive)
    pipedrive.failures = [
        Reply(429, OVER_LIMIT, {"Retry-After": "2"}),
        Reply(429, OVER_LIMIT, {"x-ratelimit-reset": "1"}),
        Reply(429, OVER_LIMIT),
    ]
    sink = sinks.new()

    KIND.fetch(config(pipedrive), SECRETS, None, sink, context)

    assert sleeps.waits == [2.0, 1.0, 4.0]
    assert len(rows_of(sink)) == 5


def test_a_rate_limit_that_does_not_lift_ends_the_sync_naming_the_source(
    pipedrive: FakePipedrive, context: FetchContext, sinks: Sinks, sleeps: Sleeps
) -> None:
    pipedrive.failures = [Reply(429, OVER_LIMIT, {"Retry-After": "2"})] * 10

    with pytest.raises(SourceError, match=f"^{SOURCE_NAME}: Pipedrive kept refusing"):
        KIND.fetch(config(pipedrive), SECRETS, None, sinks.new(), context)
    assert sleeps.waits == [2.0] * context.max_retries


def test_a_wrong_token_is_reported_naming_the_source_and_pipedrive(
    pipedrive: FakePipedrive, context: FetchContext, sinks: Sinks
) -> None:
    with pytest.raises(SourceError) as raised:
        KIND.fetch(config(pipedrive), {"api_token": "stale"}, None, sinks.new(), context)

    assert str(raised.value).startswith(f"{SOURCE_NAME}: Pipedrive refused the API token")


def test_a_custom_field_deleted_in_pipedrive_is_named(
    pipedrive: FakePipedrive, context: FetchContext, sinks: Sinks
) -> None:
    five_persons(pipedrive)
    key = "d4de1c1518b4531717c676029a45911c340390a6"

    with pytest.raises(SourceError) as raised:
        KIND.fetch(config(pipedrive, fields={key: "segment"}), SECRETS, None, sinks.new(), context)

    assert str(raised.value).startswith(
        f"{SOURCE_NAME}: Pipedrive has no field {key} on persons (a custom field deleted"
    )


def test_an_empty_account_gives_no_rows_and_no_error(
    pipedrive: FakePipedrive, context: FetchContext, sinks: Sinks
) -> None:
    sink = sinks.new()

    assert KIND.fetch(config(pipedrive), SECRETS, None, sink, context) is None
    assert rows_of(sink) == []
