"""Connectors cannot be turned against the server's own network.

A canary listens on 127.0.0.1 (and ::1) where an attacker would aim. Each kind is given
base URLs that spell internal addresses in many ways, a host name that resolves inside,
an allowed host that redirects inside, a token answer that names an internal instance,
and a next-page link to another host: every fetch fails with a SourceError, and the
canary hears nothing. Refusals happen before connecting: no connection is even tried.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from headway.ingestion.sources import kind_named
from headway.ingestion.sources.base import SourceError
from tests.ingestion.sources.conftest import (
    HUBSPOT_TOKEN,
    PIPEDRIVE_TOKEN,
    SALESFORCE_CLIENT,
    SALESFORCE_REFRESH,
    SOURCE_NAME,
    FakeRest,
    FakeSalesforce,
    FakeServer,
    Reply,
    Seen,
    Sinks,
    Sleeps,
    make_context,
)

UNSAFE_BASE_URLS = [
    "http://127.0.0.1:{port}",
    "http://[::1]:{port6}",
    "http://2130706433:{port}",  # 127.0.0.1 as one decimal number
    "http://0x7f.1:{port}",  # and in hex, shortened
    "http://[::ffff:127.0.0.1]:{port}",  # IPv4-mapped IPv6
    "http://10.0.0.1",
    "http://169.254.169.254/latest/meta-data",
    "http://localhost:{port}",
]

# kind -> (config for a base URL, secrets)
KINDS: dict[str, tuple[Callable[[str], dict[str, Any]], dict[str, Any]]] = {
    "rest": (
        lambda url: {"base_url": url, "path": "/v1/items"},
        {"auth": {"type": "bearer", "token": "tok"}},
    ),
    "hubspot": (
        lambda url: {"object": "deals", "fields": {"amount": "amount"}, "base_url": url},
        {"access_token": HUBSPOT_TOKEN},
    ),
    "pipedrive": (
        lambda url: {"object": "deals", "base_url": url},
        {"api_token": PIPEDRIVE_TOKEN},
    ),
    "salesforce": (
        lambda url: {"object": "Lead", "login_url": url},
        {"client_id": SALESFORCE_CLIENT[0], "client_secret": SALESFORCE_CLIENT[1]},
    ),
}


def resolver(answers: dict[str, list[str]]) -> Callable[[str], list[str]]:
    def resolve(host: str) -> list[str]:
        if host == "localhost":
            return ["127.0.0.1", "::1"]
        return answers[host]

    return resolve


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("template", UNSAFE_BASE_URLS)
def test_internal_addresses_are_refused_in_every_spelling(
    kind: str,
    template: str,
    canary: FakeServer,
    canary6: FakeServer | None,
    sleeps: Sleeps,
    sinks: Sinks,
    loopback_only: list[tuple[str, int]],
) -> None:
    url = template.format(port=canary.port, port6=canary6.port if canary6 else canary.port)
    settings, secrets = KINDS[kind]
    context = make_context(sleeps, resolver=resolver({}))  # nothing allowed

    with pytest.raises(SourceError) as raised:
        kind_named(kind).fetch(settings(url), secrets, None, sinks.new(), context)

    assert str(raised.value).startswith(f"{SOURCE_NAME}: ")
    assert "could not be reached" in str(raised.value)
    assert "Refused" in str(raised.value)
    assert canary.requests == []
    assert canary.connections == 0
    assert canary6 is None or (canary6.requests == [] and canary6.connections == 0)
    assert loopback_only == []  # refused before any connection was tried


@pytest.mark.parametrize("kind", ["rest", "hubspot"])
def test_a_host_name_that_resolves_inside_is_refused(
    kind: str, canary: FakeServer, sleeps: Sleeps, sinks: Sinks
) -> None:
    settings, secrets = KINDS[kind]
    context = make_context(sleeps, resolver=resolver({"crm.example.com": ["127.0.0.1"]}))

    with pytest.raises(SourceError, match=r"crm\.example\.com resolves to 127\.0\.0\.1"):
        kind_named(kind).fetch(
            settings(f"http://crm.example.com:{canary.port}"), secrets, None, sinks.new(), context
        )
    assert canary.requests == []


@pytest.fixture
def redirector() -> Iterator[FakeServer]:
    """An allowed server that answers every request with a redirect to `target`."""
    holder: dict[str, str] = {}

    def app(seen: Seen) -> Reply:
        return Reply(302, {}, {"Location": holder["target"]})

    server = FakeServer(app)
    server.target = holder  # type: ignore[attr-defined]
    yield server
    server.stop()


@pytest.mark.parametrize("kind", ["rest", "hubspot"])
@pytest.mark.parametrize(
    "target",
    ["http://127.0.0.1:{port}/", "http://[::1]:{port6}/", "http://169.254.169.254/latest/"],
)
def test_an_allowed_host_cannot_redirect_a_connector_inside(
    kind: str,
    target: str,
    redirector: FakeServer,
    canary: FakeServer,
    canary6: FakeServer | None,
    sleeps: Sleeps,
    sinks: Sinks,
) -> None:
    redirector.target["target"] = target.format(  # type: ignore[attr-defined]
        port=canary.port, port6=canary6.port if canary6 else canary.port
    )
    settings, secrets = KINDS[kind]
    context = make_context(
        sleeps,
        allow=["crm.example.com"],
        resolver=resolver({"crm.example.com": ["127.0.0.1"]}),
    )

    with pytest.raises(SourceError, match="Refused"):
        kind_named(kind).fetch(
            settings(f"http://crm.example.com:{redirector.port}"),
            secrets,
            None,
            sinks.new(),
            context,
        )
    assert len(redirector.requests) == 1
    assert canary.requests == []
    assert canary.connections == 0
    assert canary6 is None or canary6.connections == 0


def test_salesforce_cannot_be_sent_inside_by_the_instance_url_of_its_token_answer(
    salesforce: FakeSalesforce, canary: FakeServer, sleeps: Sleeps, sinks: Sinks
) -> None:
    salesforce.instance_url = canary.url
    context = make_context(
        sleeps,
        allow=["login.example.com"],
        resolver=resolver({"login.example.com": ["127.0.0.1"]}),
    )
    settings = {"object": "Lead", "login_url": f"http://login.example.com:{salesforce.server.port}"}
    secrets = {
        "client_id": SALESFORCE_CLIENT[0],
        "client_secret": SALESFORCE_CLIENT[1],
        "refresh_token": SALESFORCE_REFRESH,
    }

    with pytest.raises(SourceError, match="Refused"):
        kind_named("salesforce").fetch(settings, secrets, None, sinks.new(), context)
    assert [seen.path for seen in salesforce.requests] == ["/services/oauth2/token"]
    assert canary.requests == []
    assert canary.connections == 0


def test_a_next_page_on_another_host_is_not_followed_with_the_credentials(
    rest: FakeRest, canary: FakeServer, sleeps: Sleeps, sinks: Sinks
) -> None:
    rest.records = [{"id": 1}]
    rest.handle = lambda seen: Reply(  # type: ignore[method-assign]
        200, {"items": [{"id": 1}], "next": f"{canary.url}/steal"}
    )
    context = make_context(sleeps, allow=["127.0.0.1"])  # even where both are allowed
    settings = {
        "base_url": rest.url,
        "path": "/v1/items",
        "records_path": "items",
        "paging": {"style": "next_url", "next_url_path": "next"},
    }

    with pytest.raises(SourceError, match="pointed the next page to another host"):
        kind_named("rest").fetch(
            settings, {"auth": {"type": "bearer", "token": "tok"}}, None, sinks.new(), context
        )
    assert canary.requests == []
