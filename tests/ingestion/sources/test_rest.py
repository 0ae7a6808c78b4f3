"""The generic REST kind: every paging style, records paths, flattening, auth, cursor."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from headway.ingestion.sources import kind_named
from headway.ingestion.sources.base import FetchContext, SourceError
from headway.ingestion.sources.rest import flatten, next_link
from tests.ingestion.sources.conftest import (
    SOURCE_NAME,
    FakeRest,
    Reply,
    Sinks,
    Sleeps,
    rows_of,
)

KIND = kind_named("rest")
NO_AUTH: dict[str, Any] = {}


def items(count: int = 5) -> list[dict[str, Any]]:
    return [
        {
            "id": number,
            "name": f"Item {number}",
            "updated_at": f"2026-01-0{number}T10:00:00Z",
            "customer": {"country": "TW", "address": {"city": f"City {number}"}},
            "tags": ["a", "b"],
        }
        for number in range(1, count + 1)
    ]


def config(fake: FakeRest, **extra: Any) -> dict[str, Any]:
    return {"base_url": fake.url, "path": "/v1/items", "records_path": "data.items", **extra}


PAGINGS: dict[str, dict[str, Any]] = {
    "none": {"style": "none"},
    "page_number": {"style": "page_number", "size_param": "per_page", "size": 2},
    "offset": {"style": "offset", "limit": 2},
    "cursor": {"style": "cursor", "cursor_path": "meta.next_cursor"},
    "link_header": {"style": "link_header"},
    "next_url": {"style": "next_url", "next_url_path": "links.next"},
}


@pytest.mark.parametrize("style", list(PAGINGS))
def test_it_pages_through_every_record_in_each_paging_style(
    style: str, rest: FakeRest, context: FetchContext, sinks: Sinks
) -> None:
    rest.records = items()
    rest.style = style
    rest.page_size = 5 if style == "none" else 2
    sink = sinks.new()

    assert KIND.fetch(config(rest, paging=PAGINGS[style]), NO_AUTH, None, sink, context) is None

    assert rows_of(sink) == [
        {
            "id": str(number),
            "name": f"Item {number}",
            "updated_at": f"2026-01-0{number}T10:00:00Z",
            "customer.country": "TW",
            "customer.address.city": f"City {number}",
            "tags": '["a", "b"]',
        }
        for number in range(1, 6)
    ]
    assert sink.columns == [
        "id",
        "name",
        "updated_at",
        "customer.country",
        "customer.address.city",
        "tags",
    ]
    expected_requests = {"none": 1, "page_number": 4, "offset": 4}.get(style, 3)
    assert len(rest.requests) == expected_requests


def test_the_page_number_style_counts_pages_from_its_first(
    rest: FakeRest, context: FetchContext, sinks: Sinks
) -> None:
    rest.records, rest.style = items(), "page_number"

    KIND.fetch(
        config(rest, paging={"style": "page_number", "size_param": "per_page", "size": 2}),
        NO_AUTH,
        None,
        sinks.new(),
        context,
    )

    assert [seen.query["page"] for seen in rest.requests] == ["1", "2", "3", "4"]
    assert {seen.query["per_page"] for seen in rest.requests} == {"2"}


def test_a_top_level_list_and_a_chosen_separator_and_mapped_fields(
    rest: FakeRest, context: FetchContext, sinks: Sinks
) -> None:
    rest.records, rest.page_size, rest.wrap = items(2), 10, ""
    flat, mapped = sinks.new(), sinks.new()

    KIND.fetch(config(rest, records_path="", separator="__"), NO_AUTH, None, flat, context)
    KIND.fetch(
        config(
            rest,
            records_path="",
            fields={"id": "item_id", "customer.address.city": "city", "missing.field": "other"},
        ),
        NO_AUTH,
        None,
        mapped,
        context,
    )

    assert rows_of(flat)[0]["customer__address__city"] == "City 1"
    assert rows_of(mapped) == [
        {"item_id": "1", "city": "City 1", "other": None},
        {"item_id": "2", "city": "City 2", "other": None},
    ]


def test_an_incremental_sync_sends_the_cursor_and_moves_it(
    rest: FakeRest, context: FetchContext, sinks: Sinks
) -> None:
    rest.records, rest.style = items(), "cursor"
    settings = config(
        rest,
        paging=PAGINGS["cursor"],
        incremental={"field": "updated_at", "param": "updated_since"},
    )
    cursor = KIND.fetch(settings, NO_AUTH, None, sinks.new(), context)
    assert cursor == "2026-01-05T10:00:00Z"
    assert "updated_since" not in rest.requests[0].query
    rest.records[1]["updated_at"] = "2026-01-08T10:00:00Z"
    rest.records.append({**items(1)[0], "id": 6, "updated_at": "2026-01-07T10:00:00Z"})
    rest.requests.clear()
    sink = sinks.new()

    newer = KIND.fetch(settings, NO_AUTH, cursor, sink, context)

    assert [row["id"] for row in rows_of(sink)] == ["2", "6"]
    assert newer == "2026-01-08T10:00:00Z"
    assert {seen.query["updated_since"] for seen in rest.requests} == {cursor}

    unchanged = sinks.new()
    assert KIND.fetch(settings, NO_AUTH, newer, unchanged, context) == newer
    assert rows_of(unchanged) == []


def test_a_numeric_cursor_is_compared_as_a_number(
    rest: FakeRest, context: FetchContext, sinks: Sinks
) -> None:
    rest.records = [{"id": 1, "version": 9}, {"id": 2, "version": 10}, {"id": 3, "version": 8}]
    rest.page_size = 10
    settings = config(rest, incremental={"field": "version", "param": "after_version"})

    assert KIND.fetch(settings, NO_AUTH, None, sinks.new(), context) == "10"
    assert KIND.fetch(settings, NO_AUTH, "12", sinks.new(), context) == "12"


AUTHS: dict[str, tuple[dict[str, Any], Any]] = {
    "bearer": (
        {"type": "bearer", "token": "tok-1"},
        lambda seen: seen.headers.get("authorization") == "Bearer tok-1",
    ),
    "api_key_header": (
        {"type": "api_key", "name": "X-API-Key", "value": "key-1"},
        lambda seen: seen.headers.get("x-api-key") == "key-1",
    ),
    "api_key_query": (
        {"type": "api_key", "name": "api_key", "value": "key-1", "location": "query"},
        lambda seen: seen.query.get("api_key") == "key-1",
    ),
    "basic": (
        {"type": "basic", "username": "ada", "password": "pa:ss"},
        lambda seen: (
            seen.headers.get("authorization") == "Basic " + base64.b64encode(b"ada:pa:ss").decode()
        ),
    ),
}


@pytest.mark.parametrize("auth", list(AUTHS))
def test_each_kind_of_credentials_reaches_every_page(
    auth: str, rest: FakeRest, context: FetchContext, sinks: Sinks
) -> None:
    secrets, check = AUTHS[auth]
    rest.records, rest.style, rest.check_auth = items(), "link_header", check
    sink = sinks.new()

    KIND.fetch(config(rest, paging=PAGINGS["link_header"]), {"auth": secrets}, None, sink, context)

    assert len(rows_of(sink)) == 5
    assert len(rest.requests) == 3


def test_refused_credentials_are_reported_naming_the_source_and_the_api(
    rest: FakeRest, context: FetchContext, sinks: Sinks
) -> None:
    rest.check_auth = lambda seen: False

    with pytest.raises(SourceError) as raised:
        KIND.fetch(
            config(rest), {"auth": {"type": "bearer", "token": "tok-9"}}, None, sinks.new(), context
        )

    message = str(raised.value)
    host = rest.url.removeprefix("http://")
    assert message.startswith(f"{SOURCE_NAME}: the API at {host} refused the credentials (HTTP 401")
    assert "tok-9" not in message


def test_it_waits_out_rate_limits_honouring_retry_after(
    rest: FakeRest, context: FetchContext, sinks: Sinks, sleeps: Sleeps
) -> None:
    rest.records = items()
    rest.page_size = 10
    rest.failures = [Reply(429, {"error": "slow down"}, {"Retry-After": "5"}), Reply(429)]
    sink = sinks.new()

    KIND.fetch(config(rest), NO_AUTH, None, sink, context)

    assert sleeps.waits == [5.0, 2.0]
    assert len(rows_of(sink)) == 5


def test_a_rate_limit_that_does_not_lift_ends_the_sync_naming_the_source(
    rest: FakeRest, context: FetchContext, sinks: Sinks, sleeps: Sleeps
) -> None:
    rest.failures = [Reply(429, {}, {"Retry-After": "1"})] * 10

    with pytest.raises(SourceError, match=f"^{SOURCE_NAME}: the API at .* kept refusing"):
        KIND.fetch(config(rest), NO_AUTH, None, sinks.new(), context)
    assert len(sleeps.waits) == context.max_retries


def test_a_new_field_in_the_records_becomes_a_new_column(
    rest: FakeRest, context: FetchContext, sinks: Sinks
) -> None:
    rest.records = [{"id": 1, "name": "a"}, {"id": 2, "name": "b", "stage": {"won": True}}]
    rest.page_size = 10
    sink = sinks.new()

    KIND.fetch(config(rest), NO_AUTH, None, sink, context)

    assert sink.columns == ["id", "name", "stage.won"]
    assert rows_of(sink)[1] == {"id": "2", "name": "b", "stage.won": "true"}


def test_an_empty_answer_gives_no_rows_and_no_error(
    rest: FakeRest, context: FetchContext, sinks: Sinks
) -> None:
    rest.style = "page_number"
    sink = sinks.new()

    KIND.fetch(config(rest, paging={"style": "page_number"}), NO_AUTH, None, sink, context)

    assert rows_of(sink) == []
    assert len(rest.requests) == 1


def test_a_records_path_that_is_not_there_is_explained(
    rest: FakeRest, context: FetchContext, sinks: Sinks
) -> None:
    rest.records = items(1)

    with pytest.raises(SourceError, match=r"answered without results \(its fields: data\)"):
        KIND.fetch(config(rest, records_path="results"), NO_AUTH, None, sinks.new(), context)
    with pytest.raises(SourceError, match="an object where the records should be a list"):
        KIND.fetch(config(rest, records_path="data"), NO_AUTH, None, sinks.new(), context)


def test_paging_that_does_not_move_on_stops_the_sync(
    rest: FakeRest, context: FetchContext, sinks: Sinks
) -> None:
    rest.records = items()
    rest.handle = lambda seen: Reply(  # type: ignore[method-assign]
        200, {"data": {"items": items(1)}, "meta": {"next_cursor": "same"}}
    )
    settings = config(rest, paging=PAGINGS["cursor"])

    with pytest.raises(SourceError, match="gave the same next page twice"):
        KIND.fetch(settings, NO_AUTH, None, sinks.new(), context)
    with pytest.raises(SourceError, match="more than 1 pages"):
        KIND.fetch(
            {**settings, "paging": PAGINGS["page_number"], "max_pages": 1},
            NO_AUTH,
            None,
            sinks.new(),
            context,
        )


def test_a_server_error_is_reported_with_its_status(
    rest: FakeRest, context: FetchContext, sinks: Sinks
) -> None:
    rest.failures = [Reply(500, {"error": "database is down"})]

    with pytest.raises(SourceError, match=r"answered HTTP 500: \{\"error\": \"database is down"):
        KIND.fetch(config(rest), NO_AUTH, None, sinks.new(), context)
    rest.handle = lambda seen: Reply(200, b"<html>login</html>")  # type: ignore[method-assign]
    with pytest.raises(SourceError, match="answered with something that is not JSON"):
        KIND.fetch(config(rest), NO_AUTH, None, sinks.new(), context)


def test_its_configuration_is_checked_field_by_field() -> None:
    problems = KIND.problems(
        {
            "base_url": "https://user:pw@api.example.com",
            "path": "v1/items?x=1",
            "headers": {"Authorization": "Bearer x"},
            "paging": {"style": "offset", "limit": 0},
        },
        {"auth": {"type": "api_key", "name": "X-Key", "value": ""}},
    )
    assert [problem.split(":")[0] for problem in problems] == [
        "base_url",
        "path",
        "paging.offset.limit",
        "auth.api_key.value",
    ]
    assert KIND.problems(
        {
            "base_url": "https://api.example.com",
            "params": {"page": "1"},
            "paging": {"style": "page_number"},
        },
        {},
    ) == [
        "configuration: Value error, the parameter 'page' is set twice (params, paging, "
        "incremental)"
    ]
    assert KIND.problems(
        {"base_url": "https://api.example.com", "headers": {"Cookie": "a=b"}}, {}
    ) == [
        "configuration: Value error, the Cookie header cannot be set here (credentials go in "
        "the secrets)"
    ]


def test_link_headers_are_read_as_rfc_8288_says() -> None:
    header = (
        '<https://api.example.com/items?page=1>; rel="first", '
        '<https://api.example.com/items?page=3>; rel="prev next"; title="Next", '
        "<https://api.example.com/items?page=9>; rel=last"
    )
    assert next_link(header) == "https://api.example.com/items?page=3"
    assert next_link('<https://api.example.com/items?page=1>; rel="prev"') is None
    assert next_link("") is None


def test_nested_objects_flatten_and_lists_stay_json() -> None:
    record = {"a": {"b": {"c": 1}, "d": []}, "e": {}, "f": [{"g": 1}]}

    assert flatten(record, ".") == {"a.b.c": 1, "a.d": [], "e": {}, "f": [{"g": 1}]}
