"""The safe HTTP client: internal addresses are refused in every spelling, before connecting.

Fake servers listen on loopback only. A canary server stands where an attacker would aim
(127.0.0.1, ::1) and must hear nothing; an autouse guard records every socket connection
the client opens and fails the test on any address that is not loopback, so no test can
send traffic off this machine even when the client is wrong.
"""

from __future__ import annotations

import ipaddress
import json
import re
import shutil
import socket
import socketserver
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from headway.lib.http import (
    ConnectionFailedError,
    Headers,
    HttpError,
    HttpTimeoutError,
    Response,
    ResponseTooLargeError,
    SafeHttpClient,
    TooManyRedirectsError,
    UnsafeAddressError,
    UnsupportedUrlError,
    resolve_host,
)

# --- fake servers -----------------------------------------------------------------------


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class FakeServer(ThreadingHTTPServer):
    """A loopback HTTP server that records every connection and request it gets.

    Paths: ``/echo`` answers what it received as JSON; ``/redirect?to=URL&status=302``;
    ``/hops/N`` redirects N times before answering; ``/bytes/N`` sends N bytes with a
    Content-Length, ``/stream/N`` without one; ``/slow`` waits until the test ends.
    """

    daemon_threads = True

    def __init__(self, host: str = "127.0.0.1", family: socket.AddressFamily = socket.AF_INET):
        self.address_family = family
        self.requests: list[Recorded] = []
        self.connections = 0
        self.server_names: list[str | None] = []
        self.release = threading.Event()
        super().__init__((host, 0), Handler)
        # A short poll keeps shutdown() from waiting half a second per server.
        self.thread = threading.Thread(target=self.serve_forever, args=(0.01,), daemon=True)
        self.thread.start()

    def server_bind(self) -> None:
        # HTTPServer.server_bind asks getfqdn(), a reverse DNS lookup: skip it.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "localhost", self.server_address[1]

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up (timeouts, refused certificates) is expected here

    def verify_request(self, request: Any, client_address: Any) -> bool:
        self.connections += 1
        return True

    @property
    def port(self) -> int:
        return self.server_port

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def stop(self) -> None:
        self.release.set()
        self.shutdown()
        self.server_close()


class Handler(BaseHTTPRequestHandler):
    server: FakeServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.answer()

    do_POST = do_PUT = do_HEAD = do_GET

    def answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.server.requests.append(Recorded(self.command, self.path, headers, body))
        url = urlsplit(self.path)
        query = {name: values[0] for name, values in parse_qs(url.query).items()}
        parts = url.path.strip("/").split("/")
        if parts[0] == "echo":
            echo = {
                "method": self.command,
                "path": url.path,
                "query": url.query,
                "headers": headers,
                "body": body.decode(),
            }
            self.send(200, json.dumps(echo).encode(), "application/json; charset=utf-8")
        elif parts[0] == "redirect":
            self.send(int(query.get("status", "302")), b"", location=query["to"])
        elif parts[0] == "hops":
            left = int(parts[1])
            if left:
                self.send(302, b"", location=f"/hops/{left - 1}")
            else:
                self.send(200, b"arrived")
        elif parts[0] == "bytes":
            self.send(200, b"x" * int(parts[1]))
        elif parts[0] == "stream":
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"x" * int(parts[1]))
        elif parts[0] == "slow":
            self.server.release.wait(5)
            self.send(200, b"late")
        else:
            self.send(200, b"canary")

    def send(
        self,
        status: int,
        body: bytes,
        content_type: str = "text/plain",
        location: str | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if location is not None:
            self.send_header("Location", location)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


def ipv6_loopback_available() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.fixture
def server() -> Iterator[FakeServer]:
    """The API a connector is meant to reach; tests allow it explicitly."""
    fake = FakeServer()
    yield fake
    fake.stop()


@pytest.fixture
def canary() -> Iterator[FakeServer]:
    """Where an attacker aims; never allowed, and must never hear from the client."""
    fake = FakeServer()
    yield fake
    fake.stop()


@pytest.fixture
def canary6() -> Iterator[FakeServer | None]:
    """The canary on ::1, or None where this machine has no IPv6 loopback."""
    if not ipv6_loopback_available():
        yield None
        return
    fake = FakeServer("::1", socket.AF_INET6)
    yield fake
    fake.stop()


# --- the guard on every connection ------------------------------------------------------


@dataclass
class Connections:
    """Every TCP connection the code under test opened, with its timeout at the time."""

    attempts: list[tuple[str, int]] = field(default_factory=list)
    timeouts: list[float | None] = field(default_factory=list)
    fail_with: OSError | None = None


def is_loopback(host: str) -> bool:
    address = ipaddress.ip_address(host.split("%")[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


@pytest.fixture(autouse=True)
def connections(monkeypatch: pytest.MonkeyPatch) -> Connections:
    record = Connections()
    real_connect = socket.socket.connect

    def guarded_connect(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            record.attempts.append((address[0], address[1]))
            record.timeouts.append(sock.gettimeout())
            if not is_loopback(address[0]):
                raise AssertionError(f"the test tried to contact {address[0]}")
            if record.fail_with is not None:
                raise record.fail_with
        real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    return record


def fake_dns(answers: Mapping[str, Sequence[str]]) -> Callable[[str], Sequence[str]]:
    """A resolver that knows only ``answers`` and fails like getaddrinfo otherwise."""

    def resolve(host: str) -> Sequence[str]:
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return answers[host]

    return resolve


def no_dns(host: str) -> Sequence[str]:
    raise AssertionError(f"the resolver was asked for {host}, which is an address")


# --- refused before any connection ------------------------------------------------------

LOOPBACK_SPELLINGS = [
    "http://127.0.0.1:{port}/",
    "http://localhost:{port}/",
    "http://LOCALHOST.:{port}/",
    "http://2130706433:{port}/",
    "http://0x7f000001:{port}/",
    "http://017700000001:{port}/",
    "http://127.1:{port}/",
    "http://0x7f.1:{port}/",
    "http://127.0.0.1.:{port}/",
    "http://１２７.０.０.１:{port}/",
    "http://[::ffff:127.0.0.1]:{port}/",
    "http://[::ffff:7f00:1]:{port}/",
    "https://127.0.0.1:{port}/",
]


@pytest.mark.parametrize("url", LOOPBACK_SPELLINGS)
def test_every_spelling_of_loopback_is_refused_and_the_canary_hears_nothing(
    url: str, canary: FakeServer, connections: Connections
) -> None:
    client = SafeHttpClient()

    with pytest.raises(UnsafeAddressError) as refused:
        client.get(url.format(port=canary.port))

    assert ipaddress.ip_address(refused.value.address) in {
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
        ipaddress.ip_address("::ffff:127.0.0.1"),
    }
    assert "loopback" in str(refused.value)
    assert connections.attempts == []
    assert canary.requests == []
    assert canary.connections == 0


def test_ipv6_loopback_is_refused_and_its_canary_hears_nothing(
    canary6: FakeServer | None, connections: Connections
) -> None:
    port = canary6.port if canary6 is not None else 8080

    with pytest.raises(UnsafeAddressError, match=r"::1 is a loopback address"):
        SafeHttpClient().get(f"http://[::1]:{port}/")

    assert connections.attempts == []
    if canary6 is not None:
        assert canary6.requests == []
        assert canary6.connections == 0


def test_the_canaries_do_hear_a_request_that_is_allowed(
    canary: FakeServer, canary6: FakeServer | None
) -> None:
    # Without this, "the canary heard nothing" could pass with a deaf canary.
    client = SafeHttpClient(allow=["127.0.0.1", "::1"])

    assert client.get(canary.url()).text == "canary"
    assert len(canary.requests) == 1
    if canary6 is not None:
        assert client.get(f"http://[::1]:{canary6.port}/").text == "canary"
        assert len(canary6.requests) == 1


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://2852039166/latest/meta-data/",
        "http://0251.0376.0251.0376/latest/meta-data/",
        "http://0xa9.0xfe.0xa9.0xfe/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/latest/meta-data/",
        "http://[64:ff9b::a9fe:a9fe]/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://10.0.0.1/",
        "http://172.16.0.1/",
        "http://172.31.255.255/",
        "http://192.168.1.1/",
        "http://100.64.0.1/",
        "http://0.0.0.0/",
        "http://0/",
        "http://224.0.0.1/",
        "http://255.255.255.255/",
        "http://192.0.2.1/",
        "http://198.18.0.1/",
        "http://240.0.0.1/",
        "http://[::]/",
        "http://[fc00::1]/",
        "http://[fe80::1]/",
        "http://[fe80::1%25eth0]/",
        "http://[fec0::1]/",
        "http://[ff02::1]/",
        "http://[::ffff:10.0.0.1]/",
        "http://[::ffff:a00:1]/",
        "http://[::10.0.0.1]/",
        "http://[2002:a00:1::1]/",
        "http://[2002:7f00:1::1]/",
        "http://[64:ff9b::c0a8:101]/",
        "http://[64:ff9b:1::a00:1]/",
        "http://[2001:db8::1]/",
        "http://[2001::1]/",
        "https://10.0.0.1:8443/api",
    ],
)
def test_internal_addresses_are_refused_before_any_connection(
    url: str, connections: Connections
) -> None:
    client = SafeHttpClient(resolver=no_dns)

    with pytest.raises(UnsafeAddressError) as refused:
        client.get(url)

    assert connections.attempts == []
    assert refused.value.address in str(refused.value)
    assert refused.value.url == url


def test_the_metadata_address_is_refused_with_a_message_naming_it() -> None:
    with pytest.raises(UnsafeAddressError) as refused:
        SafeHttpClient().get("http://169.254.169.254/latest/meta-data/iam/")

    assert str(refused.value) == (
        "Refused http://169.254.169.254/latest/meta-data/iam/: 169.254.169.254 is a "
        "link-local address, where cloud metadata services answer. Internal systems must "
        "be named in the client's allow list."
    )
    assert isinstance(refused.value, ValueError)
    assert isinstance(refused.value, HttpError)


def test_a_host_name_that_resolves_to_a_private_address_is_refused(
    connections: Connections,
) -> None:
    client = SafeHttpClient(resolver=fake_dns({"crm.example.com": ["10.1.2.3"]}))

    with pytest.raises(UnsafeAddressError) as refused:
        client.get("https://crm.example.com/api/deals?token=secret")

    assert refused.value.host == "crm.example.com"
    assert refused.value.address == "10.1.2.3"
    assert "crm.example.com resolves to 10.1.2.3, a private address" in str(refused.value)
    assert "secret" not in str(refused.value)
    assert connections.attempts == []


def test_a_host_name_is_refused_when_any_of_its_addresses_is_internal(
    connections: Connections,
) -> None:
    resolver = fake_dns({"mixed.example.com": ["93.184.216.34", "2606:2800::1", "fd00::7"]})

    with pytest.raises(UnsafeAddressError, match="fd00::7"):
        SafeHttpClient(resolver=resolver).get("http://mixed.example.com/")

    assert connections.attempts == []


@pytest.mark.parametrize(
    "url",
    [
        "http://93.184.216.34/",
        "http://1.1.1.1/",
        "https://[2606:4700:4700::1111]/",
        "http://[::ffff:93.184.216.34]/",
        "http://[64:ff9b::808:808]/",
        "http://[2002:5db8:d822::1]/",
    ],
)
def test_public_addresses_pass_the_check(url: str, connections: Connections) -> None:
    SafeHttpClient(resolver=no_dns).check_url(url)

    assert connections.attempts == []


def test_a_host_name_with_only_public_addresses_passes_the_check() -> None:
    resolver = fake_dns({"api.hubapi.com": ["104.16.0.1", "2606:4700::6810:1"]})

    SafeHttpClient(resolver=resolver).check_url("https://api.hubapi.com/crm/v3/objects")


@pytest.mark.parametrize(
    "spelling", ["2130706433", "0x7f000001", "017700000001", "127.1", "0x7f.1", "localhost"]
)
def test_the_machines_resolver_reads_numeric_spellings_as_loopback(spelling: str) -> None:
    # The client parses these itself; this shows the resolver it would otherwise use
    # agrees, so neither path lets them through.
    assert {ipaddress.ip_address(address).is_loopback for address in resolve_host(spelling)} == {
        True
    }


# --- redirects --------------------------------------------------------------------------

API = "api.example.test"


def api_client(server: FakeServer, **options: Any) -> SafeHttpClient:
    """A client that reaches ``server`` as https-less ``api.example.test``, and nothing else
    on loopback: the name is allowed, the address 127.0.0.1 is not."""
    dns = fake_dns({API: ["127.0.0.1"], "files.example.test": ["127.0.0.1"]})
    return SafeHttpClient(allow=[API, "files.example.test"], resolver=dns, **options)


@pytest.mark.parametrize(
    "location",
    [
        "http://127.0.0.1:{canary}/",
        "http://localhost:{canary}/",
        "http://2130706433:{canary}/",
        "http://[::ffff:127.0.0.1]:{canary}/",
        "//127.0.0.1:{canary}/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
    ],
)
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_to_an_internal_address_is_refused(
    location: str,
    status: int,
    server: FakeServer,
    canary: FakeServer,
    connections: Connections,
) -> None:
    client = SafeHttpClient(
        allow=[API], resolver=fake_dns({API: ["127.0.0.1"], "localhost": ["127.0.0.1"]})
    )
    target = location.format(canary=canary.port)

    with pytest.raises(UnsafeAddressError):
        client.post(
            server.url("/redirect", host=API),
            params={"to": target, "status": str(status)},
            json={"leak": "me"},
        )

    assert len(server.requests) == 1
    assert connections.attempts == [("127.0.0.1", server.port)]
    assert canary.requests == []
    assert canary.connections == 0


@pytest.mark.parametrize(
    "location",
    ["file:///etc/passwd", "gopher://127.0.0.1:{canary}/_INFO", "ftp://example.com/", "dict://x/"],
)
def test_a_redirect_to_another_scheme_is_refused(
    location: str, server: FakeServer, canary: FakeServer, connections: Connections
) -> None:
    with pytest.raises(UnsupportedUrlError, match="only http and https"):
        api_client(server).get(
            server.url("/redirect", host=API), params={"to": location.format(canary=canary.port)}
        )

    assert connections.attempts == [("127.0.0.1", server.port)]
    assert canary.connections == 0


def test_redirects_are_followed_up_to_the_limit(server: FakeServer) -> None:
    response = api_client(server, max_redirects=3).get(server.url("/hops/3", host=API))

    assert response.status == 200
    assert response.text == "arrived"
    assert response.url == server.url("/hops/0", host=API)
    assert len(server.requests) == 4


def test_one_redirect_past_the_limit_raises_too_many_redirects(server: FakeServer) -> None:
    with pytest.raises(TooManyRedirectsError, match="redirected more than 3 times"):
        api_client(server, max_redirects=3).get(server.url("/hops/4", host=API))

    assert len(server.requests) == 4


def test_the_default_limit_is_five_redirects(server: FakeServer) -> None:
    assert api_client(server).get(server.url("/hops/5", host=API)).status == 200
    with pytest.raises(TooManyRedirectsError):
        api_client(server).get(server.url("/hops/6", host=API))


def test_credentials_are_dropped_when_a_redirect_leaves_the_host(server: FakeServer) -> None:
    secret = {"Authorization": "Bearer secret", "Cookie": "session=1", "X-Trace": "t"}
    elsewhere = server.url("/hops/1", host="files.example.test")

    api_client(server).get(
        server.url("/redirect", host=API), headers=secret, params={"to": elsewhere}
    )

    first, second, third = server.requests
    assert first.headers["authorization"] == "Bearer secret"
    assert first.headers["host"] == f"{API}:{server.port}"
    assert second.headers["host"] == f"files.example.test:{server.port}"
    assert "authorization" not in second.headers
    assert "cookie" not in second.headers
    assert second.headers["x-trace"] == "t"
    assert "authorization" not in third.headers


def test_credentials_stay_dropped_when_a_later_redirect_comes_back(server: FakeServer) -> None:
    back = server.url("/echo", host=API)
    away = server.url(f"/redirect?to={back}", host="files.example.test")

    response = api_client(server).get(
        server.url("/redirect", host=API),
        headers={"Authorization": "Bearer secret"},
        params={"to": away},
    )

    assert response.url == back
    assert "authorization" not in response.json()["headers"]


def test_credentials_follow_a_redirect_within_the_same_host(server: FakeServer) -> None:
    response = api_client(server).get(
        server.url("/redirect", host=API),
        headers={"Authorization": "Bearer secret"},
        params={"to": "/echo"},
    )

    assert response.json()["headers"]["authorization"] == "Bearer secret"


def test_credentials_are_dropped_when_a_redirect_changes_the_port(
    server: FakeServer, canary: FakeServer
) -> None:
    client = SafeHttpClient(allow=["127.0.0.1"])

    client.get(
        server.url("/redirect"),
        headers={"Authorization": "Bearer secret"},
        params={"to": canary.url("/")},
    )

    assert "authorization" not in canary.requests[0].headers


def test_a_post_redirected_with_303_becomes_a_get_without_a_body(server: FakeServer) -> None:
    response = api_client(server).post(
        server.url("/redirect", host=API),
        params={"to": "/echo", "status": "303"},
        json={"a": 1},
    )

    echo = response.json()
    assert (echo["method"], echo["body"]) == ("GET", "")
    assert "content-type" not in echo["headers"]


def test_a_post_redirected_with_307_keeps_its_method_and_body(server: FakeServer) -> None:
    response = api_client(server).post(
        server.url("/redirect", host=API),
        params={"to": "/echo", "status": "307"},
        json={"a": 1},
    )

    echo = response.json()
    assert (echo["method"], json.loads(echo["body"])) == ("POST", {"a": 1})


# --- requests that are allowed ----------------------------------------------------------


def test_an_allowed_loopback_server_answers_a_get_with_params(server: FakeServer) -> None:
    client = SafeHttpClient(allow=["127.0.0.1"])

    response = client.get(server.url("/echo?a=1"), params={"q": "x y&z", "page": "2"})

    assert response.status == 200
    echo = response.json()
    assert echo["method"] == "GET"
    assert parse_qs(echo["query"]) == {"a": ["1"], "q": ["x y&z"], "page": ["2"]}
    assert echo["headers"]["user-agent"] == "Headway"
    assert echo["headers"]["host"] == f"127.0.0.1:{server.port}"
    assert response.headers["CONTENT-TYPE"] == "application/json; charset=utf-8"
    assert response.url == server.url("/echo?a=1&q=x+y%26z&page=2")


def test_an_allowed_network_admits_every_address_in_it(server: FakeServer) -> None:
    assert SafeHttpClient(allow=["127.0.0.0/8"]).get(server.url()).status == 200


def test_an_allowed_server_receives_json_posted_to_it(server: FakeServer) -> None:
    client = SafeHttpClient(allow=["127.0.0.1"], user_agent="Headway/1.0 (hubspot)")

    response = client.post(server.url("/echo"), json={"deal": "Ärger", "amount": 12})

    echo = response.json()
    assert echo["method"] == "POST"
    assert json.loads(echo["body"]) == {"deal": "Ärger", "amount": 12}
    assert echo["headers"]["content-type"] == "application/json"
    assert echo["headers"]["user-agent"] == "Headway/1.0 (hubspot)"


def test_raw_data_is_sent_as_given_with_the_callers_content_type(server: FakeServer) -> None:
    response = SafeHttpClient(allow=["127.0.0.1"]).request(
        "put", server.url("/echo"), data=b"a,b\n1,2\n", headers={"Content-Type": "text/csv"}
    )

    echo = response.json()
    assert (echo["method"], echo["body"], echo["headers"]["content-type"]) == (
        "PUT",
        "a,b\n1,2\n",
        "text/csv",
    )


def test_an_error_status_is_a_response_not_an_exception(server: FakeServer) -> None:
    response = SafeHttpClient(allow=["127.0.0.1"]).get(
        server.url("/redirect"), params={"to": "/x", "status": "304"}
    )

    assert response.status == 304


def test_the_client_connects_to_the_address_it_vetted_and_asks_dns_only_once(
    server: FakeServer, connections: Connections, monkeypatch: pytest.MonkeyPatch
) -> None:
    # DNS rebinding: a second answer would point at the metadata service.
    answers = iter([["127.0.0.1"], ["169.254.169.254"]])
    asked: list[str] = []

    def rebinding_dns(host: str) -> Sequence[str]:
        asked.append(host)
        return next(answers)

    real_getaddrinfo = socket.getaddrinfo
    flags: list[int] = []

    def numeric_only(*args: Any, **kwargs: Any) -> Any:
        flags.append(args[5] if len(args) > 5 else kwargs.get("flags", 0))
        return real_getaddrinfo(*args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", numeric_only)
    client = SafeHttpClient(allow=["127.0.0.1/32"], resolver=rebinding_dns)

    response = client.get(server.url("/echo", host="rebind.example.test"))

    assert response.json()["headers"]["host"] == f"rebind.example.test:{server.port}"
    assert asked == ["rebind.example.test"]
    assert connections.attempts == [("127.0.0.1", server.port)]
    assert flags
    assert all(flag & socket.AI_NUMERICHOST for flag in flags)


# --- limits -----------------------------------------------------------------------------


def test_a_body_at_the_size_limit_is_read(server: FakeServer) -> None:
    response = SafeHttpClient(allow=["127.0.0.1"], max_bytes=1000).get(server.url("/bytes/1000"))

    assert len(response.body) == 1000


@pytest.mark.parametrize("path", ["/bytes/1001", "/stream/5000"])
def test_a_body_past_the_size_limit_raises(path: str, server: FakeServer) -> None:
    client = SafeHttpClient(allow=["127.0.0.1"], max_bytes=1000)

    with pytest.raises(ResponseTooLargeError, match="larger than the limit of 1,000 bytes"):
        client.get(server.url(path))


def test_a_server_that_does_not_answer_in_time_raises_a_timeout(server: FakeServer) -> None:
    client = SafeHttpClient(allow=["127.0.0.1"], timeout=0.2)
    started = time.monotonic()

    with pytest.raises(HttpTimeoutError, match=r"did not answer within 0\.2 s"):
        client.get(server.url("/slow"))

    assert time.monotonic() - started < 2


def test_connecting_uses_the_connect_timeout(connections: Connections) -> None:
    connections.fail_with = TimeoutError("timed out")
    client = SafeHttpClient(allow=["127.0.0.1"], connect_timeout=1.5, timeout=7)

    with pytest.raises(
        HttpTimeoutError, match=re.escape("Connecting to http://127.0.0.1:9/ timed out")
    ):
        client.get("http://127.0.0.1:9/")

    assert connections.timeouts == [1.5]


def test_a_closed_port_raises_connection_failed() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    with pytest.raises(
        ConnectionFailedError, match=f"Could not connect to http://127.0.0.1:{port}/"
    ):
        SafeHttpClient(allow=["127.0.0.1"]).get(f"http://127.0.0.1:{port}/")


def test_a_host_that_does_not_resolve_raises_connection_failed() -> None:
    with pytest.raises(
        ConnectionFailedError, match=re.escape("Could not resolve nowhere.example.test")
    ):
        SafeHttpClient(resolver=fake_dns({})).get("https://nowhere.example.test/")


# --- URLs and headers the client will not send -----------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "gopher://127.0.0.1:70/_SSRF",
        "ftp://example.com/file",
        "dict://127.0.0.1:11211/stats",
        "javascript:alert(1)",
        "example.com/path",
        "http://user:pass@example.com/",
        "http://example.com@127.0.0.1/",
        "http:///path",
        "http://256.256.256.256/",
        "http://0x/",
        "http://example.com:99999/",
        "http://exa mple.com/",
        "http://%31%32%37.0.0.1/",
        "http://example.com/a b",
    ],
)
def test_urls_other_than_plain_http_and_https_are_refused(
    url: str, connections: Connections
) -> None:
    with pytest.raises(UnsupportedUrlError):
        SafeHttpClient(allow=["127.0.0.1"], resolver=no_dns).get(url)

    assert connections.attempts == []


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Api-Key": "a\r\nHost: 169.254.169.254"},
        {"Host": "internal.example"},
        {"Content-Length": "0"},
        {"Transfer-Encoding": "chunked"},
    ],
)
def test_headers_that_could_smuggle_a_request_are_refused(
    headers: dict[str, str], server: FakeServer
) -> None:
    # http.client refuses line breaks in values with a ValueError, as the client does the rest.
    with pytest.raises(ValueError):
        SafeHttpClient(allow=["127.0.0.1"]).get(server.url(), headers=headers)

    assert server.requests == []


def test_json_and_data_together_are_refused() -> None:
    with pytest.raises(ValueError, match="json or data"):
        SafeHttpClient().post("http://93.184.216.34/", json={}, data=b"")


@pytest.mark.parametrize("entry", ["not a host", "http://example.com", "10.0.0.0/33", ""])
def test_an_allow_list_entry_that_is_neither_name_nor_network_is_refused(entry: str) -> None:
    with pytest.raises(ValueError, match="neither a host name nor a network"):
        SafeHttpClient(allow=[entry])


def test_an_allow_list_given_as_one_string_is_refused() -> None:
    with pytest.raises(TypeError):
        SafeHttpClient(allow="127.0.0.1")


# --- TLS --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for crm.example.test only (no IP entries)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-nodes", "-days", "2", "-subj", "/CN=crm.example.test"),
            *("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"),
            *("-addext", "subjectAltName=DNS:crm.example.test"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def tls_server(certificate: tuple[Path, Path]) -> Iterator[FakeServer]:
    cert, key = certificate
    fake = FakeServer()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    def record_name(sock: ssl.SSLObject | ssl.SSLSocket, name: str | None, _: Any) -> None:
        fake.server_names.append(name)

    context.sni_callback = record_name
    fake.socket = context.wrap_socket(fake.socket, server_side=True)
    yield fake
    fake.stop()


def tls_client(certificate: tuple[Path, Path]) -> SafeHttpClient:
    names = ["crm.example.test", "other.example.test"]
    return SafeHttpClient(
        allow=names,
        resolver=fake_dns({name: ["127.0.0.1"] for name in names}),
        ssl_context=ssl.create_default_context(cafile=str(certificate[0])),
    )


def test_https_checks_the_certificate_for_the_url_host_while_connecting_to_its_address(
    tls_server: FakeServer, certificate: tuple[Path, Path], connections: Connections
) -> None:
    url = f"https://crm.example.test:{tls_server.port}/echo"

    response = tls_client(certificate).get(url)

    assert response.json()["headers"]["host"] == f"crm.example.test:{tls_server.port}"
    assert tls_server.server_names == ["crm.example.test"]
    assert connections.attempts == [("127.0.0.1", tls_server.port)]


def test_https_refuses_a_certificate_for_another_name(
    tls_server: FakeServer, certificate: tuple[Path, Path]
) -> None:
    with pytest.raises(ConnectionFailedError, match="TLS handshake"):
        tls_client(certificate).get(f"https://other.example.test:{tls_server.port}/")

    assert tls_server.requests == []


# --- responses --------------------------------------------------------------------------


def test_response_headers_are_read_regardless_of_case() -> None:
    headers = Headers(
        [("Set-Cookie", "a=1"), ("Content-Type", "text/plain"), ("set-cookie", "b=2")]
    )

    assert headers["content-type"] == headers["CONTENT-TYPE"] == "text/plain"
    assert headers["Set-Cookie"] == "a=1, b=2"
    assert headers.get_all("SET-COOKIE") == ["a=1", "b=2"]
    assert "content-TYPE" in headers
    assert object() not in headers
    assert list(headers) == ["Set-Cookie", "Content-Type"]


def test_response_text_follows_the_declared_charset() -> None:
    body = "Überschuss".encode("latin-1")

    latin = Response(200, Headers([("Content-Type", "text/plain; charset=ISO-8859-1")]), body, "")
    unknown = Response(200, Headers([("Content-Type", "text/plain; charset=klingon")]), b"ok", "")

    assert latin.text == "Überschuss"
    assert unknown.text == "ok"
    assert Response(200, Headers(), b'{"a": [1]}', "").json() == {"a": [1]}
