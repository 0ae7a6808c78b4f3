"""Salesforce: OAuth, SOQL built from names, nextRecordsUrl paging, renewed sessions."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from headway.ingestion.sources import kind_named
from headway.ingestion.sources.base import FetchContext, SourceError
from headway.ingestion.sources.salesforce import SalesforceConfig, soql
from tests.ingestion.sources.conftest import (
    NOW,
    SALESFORCE_CLIENT,
    SALESFORCE_REFRESH,
    SOURCE_NAME,
    FakeSalesforce,
    Reply,
    Sinks,
    Sleeps,
    rows_of,
    stamp,
)

KIND = kind_named("salesforce")
CLIENT_CREDENTIALS = {"client_id": SALESFORCE_CLIENT[0], "client_secret": SALESFORCE_CLIENT[1]}
REFRESH = {**CLIENT_CREDENTIALS, "refresh_token": SALESFORCE_REFRESH}


def config(fake: FakeSalesforce, **extra: Any) -> dict[str, Any]:
    return {
        "login_url": fake.url,
        "object": "Lead",
        "fields": {"Company": "company", "Status": "status"},
        **extra,
    }


def five_leads(fake: FakeSalesforce) -> None:
    for number in range(1, 6):
        fake.put(f"00Q{number}", stamp(number), Company=f"Firm {number}", Status="Open")


def test_it_follows_next_records_urls_until_done(
    salesforce: FakeSalesforce, context: FetchContext, sinks: Sinks
) -> None:
    five_leads(salesforce)
    sink = sinks.new()

    cursor = KIND.fetch(config(salesforce), REFRESH, None, sink, context)

    assert rows_of(sink) == [
        {
            "id": f"00Q{number}",
            "company": f"Firm {number}",
            "status": "Open",
            "updated_at": f"2026-01-01T09:0{number}:00.000+0000",
        }
        for number in range(1, 6)
    ]
    assert sink.columns == ["id", "company", "status", "updated_at"]
    assert cursor == "2026-01-01T09:05:00.000+0000"
    queries = [seen for seen in salesforce.requests if seen.path.startswith("/services/data/")]
    assert queries[0].query["q"] == (
        "SELECT Id, Company, Status, SystemModstamp FROM Lead ORDER BY SystemModstamp ASC"
    )
    assert [seen.path.count("/query/") for seen in queries] == [0, 1, 1]
    token_request = salesforce.requests[0]
    assert token_request.path == "/services/oauth2/token"
    assert token_request.form()["grant_type"] == "refresh_token"


def test_an_incremental_sync_asks_only_for_records_changed_after_the_cursor(
    salesforce: FakeSalesforce, context: FetchContext, sinks: Sinks
) -> None:
    five_leads(salesforce)
    cursor = KIND.fetch(config(salesforce), REFRESH, None, sinks.new(), context)
    salesforce.put("00Q3", stamp(40), Company="Firm 3", Status="Qualified")
    salesforce.put("00Q9", stamp(41), Company="Firm 9", Status="Open")
    salesforce.requests.clear()
    sink = sinks.new()

    newer = KIND.fetch(config(salesforce), REFRESH, cursor, sink, context)

    assert [(row["id"], row["status"]) for row in rows_of(sink)] == [
        ("00Q3", "Qualified"),
        ("00Q9", "Open"),
    ]
    assert newer == "2026-01-01T09:41:00.000+0000"
    query = next(seen for seen in salesforce.requests if "q" in seen.query).query["q"]
    assert "WHERE SystemModstamp > 2026-01-01T09:05:00Z ORDER BY SystemModstamp ASC" in query

    unchanged = sinks.new()
    assert KIND.fetch(config(salesforce), REFRESH, newer, unchanged, context) == newer
    assert rows_of(unchanged) == []


def test_the_cursor_stays_before_the_start_of_the_sync(
    salesforce: FakeSalesforce, context: FetchContext, sinks: Sinks
) -> None:
    five_leads(salesforce)
    salesforce.put("00Q6", NOW + datetime.timedelta(minutes=3), Company="Firm 6", Status="Open")

    cursor = KIND.fetch(config(salesforce), REFRESH, None, sinks.new(), context)

    assert cursor == "2026-03-01T11:59:00.000+0000"  # a minute before the sync started


def test_the_client_credentials_flow_is_used_without_a_refresh_token(
    salesforce: FakeSalesforce, context: FetchContext, sinks: Sinks
) -> None:
    five_leads(salesforce)

    KIND.fetch(config(salesforce), CLIENT_CREDENTIALS, None, sinks.new(), context)

    form = salesforce.requests[0].form()
    assert form["grant_type"] == "client_credentials"
    assert "refresh_token" not in form


def test_an_expired_session_is_renewed_once_and_the_sync_goes_on(
    salesforce: FakeSalesforce, context: FetchContext, sinks: Sinks
) -> None:
    five_leads(salesforce)
    original = salesforce.handle

    def expire_after_first_page(seen: Any) -> Reply:
        reply = original(seen)
        if seen.path == "/services/data/v60.0/query":
            salesforce.expire_sessions()
        return reply

    salesforce.handle = expire_after_first_page  # type: ignore[method-assign]
    sink = sinks.new()

    KIND.fetch(config(salesforce), REFRESH, None, sink, context)

    assert len(rows_of(sink)) == 5
    tokens = [seen for seen in salesforce.requests if seen.path == "/services/oauth2/token"]
    assert len(tokens) == 2


def test_a_revoked_refresh_token_is_reported_naming_the_source_and_salesforce(
    salesforce: FakeSalesforce, context: FetchContext, sinks: Sinks
) -> None:
    with pytest.raises(SourceError) as raised:
        KIND.fetch(
            config(salesforce),
            {**REFRESH, "refresh_token": "revoked"},
            None,
            sinks.new(),
            context,
        )

    message = str(raised.value)
    assert message.startswith(f"{SOURCE_NAME}: Salesforce refused the credentials (invalid_grant")
    assert "revoked" not in message.split("(invalid_grant")[0]


def test_a_wrong_consumer_key_is_reported(
    salesforce: FakeSalesforce, context: FetchContext, sinks: Sinks
) -> None:
    with pytest.raises(SourceError, match="Salesforce refused the connected app"):
        KIND.fetch(
            config(salesforce), {**REFRESH, "client_id": "other"}, None, sinks.new(), context
        )


def test_a_field_deleted_in_salesforce_is_named(
    salesforce: FakeSalesforce, context: FetchContext, sinks: Sinks
) -> None:
    five_leads(salesforce)
    fields = {"Company": "company", "Rating__c": "rating"}

    with pytest.raises(SourceError) as raised:
        KIND.fetch(config(salesforce, fields=fields), REFRESH, None, sinks.new(), context)

    assert str(raised.value).startswith(
        f"{SOURCE_NAME}: Salesforce has no field Rating__c on Lead (renamed or deleted"
    )


def test_an_object_that_does_not_exist_is_named(
    salesforce: FakeSalesforce, context: FetchContext, sinks: Sinks
) -> None:
    with pytest.raises(SourceError, match="Salesforce has no object Invoice__c"):
        KIND.fetch(
            config(salesforce, object="Invoice__c", fields={}), REFRESH, None, sinks.new(), context
        )


def test_the_org_request_limit_ends_the_sync(
    salesforce: FakeSalesforce, context: FetchContext, sinks: Sinks
) -> None:
    salesforce.limit_exceeded = True

    with pytest.raises(SourceError, match="REQUEST_LIMIT_EXCEEDED") as raised:
        KIND.fetch(config(salesforce), REFRESH, None, sinks.new(), context)
    assert raised.value.retry


def test_it_waits_out_rate_limits_honouring_retry_after(
    salesforce: FakeSalesforce, context: FetchContext, sinks: Sinks, sleeps: Sleeps
) -> None:
    five_leads(salesforce)
    busy = [{"message": "Too many requests", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    salesforce.failures = [Reply(429, busy, {"Retry-After": "7"}), Reply(503, busy)]
    sink = sinks.new()

    KIND.fetch(config(salesforce), REFRESH, None, sink, context)

    assert sleeps.waits == [7.0, 2.0]
    assert len(rows_of(sink)) == 5


def test_a_rate_limit_that_does_not_lift_is_reported_after_the_retries(
    salesforce: FakeSalesforce, context: FetchContext, sinks: Sinks, sleeps: Sleeps
) -> None:
    salesforce.failures = [Reply(429, [], {"Retry-After": "1"})] * 10

    with pytest.raises(SourceError, match=f"^{SOURCE_NAME}: Salesforce kept refusing"):
        KIND.fetch(config(salesforce), REFRESH, None, sinks.new(), context)
    assert sleeps.waits == [1.0] * context.max_retries


def test_relationship_fields_are_read_and_attributes_dropped(
    salesforce: FakeSalesforce, context: FetchContext, sinks: Sinks
) -> None:
    salesforce.put("00Q1", stamp(1), owner="Nora North", Company="Firm")
    salesforce.put("00Q2", stamp(2), Company="Firm")
    sink = sinks.new()

    KIND.fetch(
        config(salesforce, fields={"owner.name": "owner", "Owner": "owner_record"}),
        REFRESH,
        None,
        sink,
        context,
    )

    rows = rows_of(sink)
    assert [row["owner"] for row in rows] == ["Nora North", None]
    assert rows[0]["owner_record"] == '{"Name": "Nora North"}'


def test_an_empty_object_gives_no_rows_and_no_error(
    salesforce: FakeSalesforce, context: FetchContext, sinks: Sinks
) -> None:
    sink = sinks.new()

    assert KIND.fetch(config(salesforce), REFRESH, None, sink, context) is None
    assert rows_of(sink) == []


def test_the_query_is_built_from_validated_names_only() -> None:
    settings = SalesforceConfig.model_validate(
        {"object": "Opportunity", "fields": {"Amount": "amount", "id": "sf_id"}}
    )
    since = datetime.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=datetime.UTC)

    assert soql(settings, since) == (
        "SELECT Id, Amount, SystemModstamp FROM Opportunity "
        "WHERE SystemModstamp > 2026-01-02T03:04:05Z ORDER BY SystemModstamp ASC"
    )
    problems = KIND.problems(
        {"object": "Lead; DELETE", "fields": {"Name FROM User --": "x"}, "api_version": "v60"},
        {"client_id": "", "client_secret": "s"},
    )
    assert [problem.split(":")[0] for problem in problems] == [
        "object",
        "fields.Name FROM User --.[key]",
        "api_version",
        "client_id",
    ]
