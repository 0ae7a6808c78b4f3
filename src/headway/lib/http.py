"""The one outbound HTTP client of Headway, safe against server-side request forgery.

Every connector (CRMs, generic REST sources, webhooks to Slack or Teams) fetches URLs that
people type in, so a URL could point the server at itself, at the office network or at the
cloud metadata service on 169.254.169.254. :class:`SafeHttpClient` stops that:

- The host is resolved once, and the request is refused with :class:`UnsafeAddressError`
  if *any* address is not a public one: loopback, private, link-local, unspecified,
  multicast, reserved, documentation, shared (100.64.0.0/10), and IPv6 forms that carry
  such an IPv4 address (IPv4-mapped ``::ffff:10.0.0.1``, NAT64 ``64:ff9b::/96``, 6to4
  ``2002::/16``).
- IPv4 literals are read the way ``inet_aton`` reads them (``2130706433``, ``0x7f.1``,
  ``017700000001``, ``127.1``), after IDNA mapping (``１２７.０.０.１``), so no spelling of
  an address slips past as a "host name".
- The connection goes to the very address that was vetted, while the request carries the
  original ``Host`` header and TLS checks the certificate against the original name (with
  SNI). There is no second lookup that DNS rebinding could answer differently.
- Each redirect is vetted again, only http and https are followed, at most
  ``max_redirects`` times, and credentials (``Authorization``, ``Proxy-Authorization``,
  ``Cookie``) are dropped for good once a redirect leaves the original origin.
- Connect and read timeouts, and a cap on the size of a response body.

Internal systems (an on-premise CRM, a test's fake server on 127.0.0.1) are reached only by
naming them in ``allow``: host names (exact match) and/or networks in CIDR notation. Nothing
is allowed by default. Proxies from the environment are deliberately ignored: a proxy would
do its own resolution, out of reach of the vetting.

The client holds configuration only and opens one connection per request, so one instance
can be shared between threads. Response bodies are returned as sent (no decompression), and
``timeout`` bounds each wait for data rather than the whole response.
"""

from __future__ import annotations

import enum
import http.client
import ipaddress
import json as jsonlib
import re
import socket
import ssl
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode, urljoin, urlsplit, urlunsplit

__all__ = [
    "ConnectionFailedError",
    "Headers",
    "HttpError",
    "HttpTimeoutError",
    "Resolver",
    "Response",
    "ResponseTooLargeError",
    "SafeHttpClient",
    "TooManyRedirectsError",
    "UnsafeAddressError",
    "UnsupportedUrlError",
    "resolve_host",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

Resolver = Callable[[str], Sequence[str]]
"""Turns a host name into IP address strings; :func:`resolve_host` unless a test injects one."""


# --- errors -----------------------------------------------------------------------------


class HttpError(Exception):
    """A request that did not produce a response; ``str(e)`` is a sentence naming the URL.

    Messages name the URL without its query string, which often carries API tokens.
    """

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(message)
        self.url = url


class UnsupportedUrlError(HttpError, ValueError):
    """A URL the client will not fetch: not http or https, credentials in it, a bad host."""


class UnsafeAddressError(HttpError, ValueError):
    """A host that is, or resolves to, an address that is not public and not allowed."""

    def __init__(self, message: str, *, url: str, host: str, address: str, reason: str) -> None:
        super().__init__(message, url=url)
        self.host = host
        self.address = address
        self.reason = reason


class ResponseTooLargeError(HttpError):
    """A response body larger than the client's ``max_bytes``; reading stopped there."""


class TooManyRedirectsError(HttpError):
    """More redirects in a row than the client's ``max_redirects``."""


class HttpTimeoutError(HttpError):
    """Connecting, or waiting for the server's answer, took longer than allowed."""


class ConnectionFailedError(HttpError):
    """The host could not be resolved or reached, TLS failed, or the answer was not HTTP."""


# --- responses --------------------------------------------------------------------------


class Headers(Mapping[str, str]):
    """Response headers, read-only, looked up regardless of case.

    A header sent more than once reads as its values joined by ``", "`` (RFC 9110);
    :meth:`get_all` gives them one by one, which ``Set-Cookie`` needs.
    """

    __slots__ = ("_fields", "_index")

    def __init__(self, fields: Iterable[tuple[str, str]] = ()) -> None:
        self._fields: tuple[tuple[str, str], ...] = tuple(fields)
        index: dict[str, tuple[str, str]] = {}
        for name, value in self._fields:
            key = name.lower()
            if key in index:
                first_name, joined = index[key]
                index[key] = (first_name, f"{joined}, {value}")
            else:
                index[key] = (name, value)
        self._index = index

    def __getitem__(self, name: str) -> str:
        return self._index[name.lower()][1]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._index

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._index.values())

    def __len__(self) -> int:
        return len(self._index)

    def __repr__(self) -> str:
        return f"Headers({list(self._fields)!r})"

    def get_all(self, name: str) -> list[str]:
        """Every value of ``name``, in the order the server sent them."""
        key = name.lower()
        return [value for field, value in self._fields if field.lower() == key]


_CHARSET: Final = re.compile(r"""charset\s*=\s*["']?([\w.:-]+)""", re.IGNORECASE)


@dataclass(frozen=True)
class Response:
    """What the server answered; ``url`` is the last URL after redirects."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str

    @property
    def text(self) -> str:
        """The body decoded with the charset of ``Content-Type`` (UTF-8 if none or unknown)."""
        match = _CHARSET.search(self.headers.get("content-type", ""))
        encoding = match.group(1) if match else "utf-8"
        try:
            return self.body.decode(encoding, errors="replace")
        except LookupError:
            return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON; ``json.JSONDecodeError`` (a ``ValueError``) if it is not."""
        return jsonlib.loads(self.body)


# --- addresses --------------------------------------------------------------------------


def resolve_host(host: str) -> list[str]:
    """Every address ``getaddrinfo`` gives for ``host``, in its order, without repeats."""
    addresses: list[str] = []
    for family, _, _, _, sockaddr in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM):
        address = str(sockaddr[0])
        if family in (socket.AF_INET, socket.AF_INET6) and address not in addresses:
            addresses.append(address)
    return addresses


def _v4(network: str, reason: str) -> tuple[ipaddress.IPv4Network, str]:
    return ipaddress.IPv4Network(network), reason


def _v6(network: str, reason: str) -> tuple[ipaddress.IPv6Network, str]:
    return ipaddress.IPv6Network(network), reason


_PRIVATE: Final = "a private address"
_DOCUMENTATION: Final = "reserved for documentation"

# The IANA special-purpose registries, spelt out rather than left to ipaddress.is_global,
# whose lists change between Python versions. is_global still runs after them as a net.
_IPV4_REFUSED: Final = (
    _v4("0.0.0.0/8", "an unspecified ('this network') address"),
    _v4("10.0.0.0/8", _PRIVATE),
    _v4("100.64.0.0/10", "in the shared address space of carrier-grade NAT"),
    _v4("127.0.0.0/8", "a loopback address"),
    _v4("169.254.0.0/16", "a link-local address, where cloud metadata services answer"),
    _v4("172.16.0.0/12", _PRIVATE),
    _v4("192.0.0.0/24", "reserved for IETF protocol assignments"),
    _v4("192.0.2.0/24", _DOCUMENTATION),
    _v4("192.88.99.0/24", "a 6to4 relay anycast address"),
    _v4("192.168.0.0/16", _PRIVATE),
    _v4("198.18.0.0/15", "reserved for benchmarking"),
    _v4("198.51.100.0/24", _DOCUMENTATION),
    _v4("203.0.113.0/24", _DOCUMENTATION),
    _v4("224.0.0.0/4", "a multicast address"),
    _v4("240.0.0.0/4", "a reserved address"),  # includes the broadcast 255.255.255.255
)

_NAT64: Final = ipaddress.IPv6Network("64:ff9b::/96")
_SIX_TO_FOUR: Final = ipaddress.IPv6Network("2002::/16")
_GLOBAL_UNICAST: Final = ipaddress.IPv6Network("2000::/3")
_IPV6_REFUSED: Final = (
    _v6("::/128", "an unspecified address"),
    _v6("::1/128", "a loopback address"),
    _v6("::/96", "an IPv4-compatible address (deprecated)"),
    _v6("64:ff9b:1::/48", "a local-use NAT64 address"),
    _v6("100::/64", "a discard-only address"),
    _v6("2001::/23", "reserved for IETF protocol assignments (including Teredo)"),
    _v6("2001:db8::/32", _DOCUMENTATION),
    _v6("3fff::/20", _DOCUMENTATION),
    _v6("fc00::/7", "a private (unique local) address"),
    _v6("fe80::/10", "a link-local address"),
    _v6("fec0::/10", "a site-local address (deprecated)"),
    _v6("ff00::/8", "a multicast address"),
)


def _refusal(address: IPAddress) -> str | None:
    """Why ``address`` must not be contacted, or None for a public address."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded, form = _embedded_ipv4(address)
        if embedded is not None:
            reason = _refusal(embedded)
            return None if reason is None else f"the {form} form of {embedded}, {reason}"
        for network6, reason in _IPV6_REFUSED:
            if address in network6:
                return reason
        if address not in _GLOBAL_UNICAST:
            return "a reserved address"
    else:
        for network4, reason in _IPV4_REFUSED:
            if address in network4:
                return reason
    if not address.is_global:
        return "not a public address"
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address | None, str]:
    """The IPv4 address an IPv6 address stands for, if it is a translation form."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped, "IPv4-mapped"
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF), "NAT64"
    if address.sixtofour is not None:
        return address.sixtofour, "6to4"
    return None, ""


# inet_aton's forms: one to four parts, each decimal, octal (leading 0) or hex (0x).
_NUMBER: Final = r"(?:0x[0-9a-f]*|[0-9]+)"
_NUMERIC_HOST: Final = re.compile(rf"{_NUMBER}(?:\.{_NUMBER}){{0,3}}")
_LABEL: Final = r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?"
_HOST_NAME: Final = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")


def _parse_ipv4_number(host: str) -> ipaddress.IPv4Address | None:
    """The address of an inet_aton spelling (``2130706433``, ``0x7f.1``, ``0177.1``).

    Parsed here rather than by ``socket.inet_aton``: the C function differs by platform and
    glibc's accepts trailing junk ("1.2.3.4 x").
    """
    parts = host.split(".")
    numbers: list[int] = []
    for part in parts:
        if part.startswith("0x"):
            digits, base = part[2:], 16
        elif len(part) > 1 and part.startswith("0"):
            digits, base = part[1:], 8
        else:
            digits, base = part, 10
        try:
            numbers.append(int(digits, base))
        except ValueError:
            return None
    *leading, last = numbers
    if any(number > 0xFF for number in leading) or last >= 256 ** (5 - len(numbers)):
        return None
    value = last
    for position, number in enumerate(leading):
        value += number << (24 - 8 * position)
    return ipaddress.IPv4Address(value)


# --- URLs -------------------------------------------------------------------------------


def _redacted(url: str) -> str:
    """``url`` without query and fragment, fit for messages and logs."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return repr(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


@dataclass(frozen=True)
class _Target:
    """One URL, checked and taken apart for a request."""

    url: str
    scheme: str
    host: str  # ASCII, lower case, no brackets, no trailing dot
    port: int
    target: str  # path and query, as on the request line
    literal: IPAddress | None  # the address when the host is written as one

    @property
    def origin(self) -> tuple[str, str, int]:
        return self.scheme, self.host, self.port


_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
_UNSAFE_TARGET_CHARACTERS: Final = re.compile(r"[\x00-\x20\x7f]")


def _parse_url(url: str, params: Mapping[str, str] | None = None) -> _Target:
    def refuse(why: str) -> UnsupportedUrlError:
        return UnsupportedUrlError(f"Refused {_redacted(url)}: {why}.", url=url)

    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as error:
        raise refuse(f"it is not a valid URL ({error})") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise refuse("only http and https URLs can be fetched")
    if "@" in parts.netloc:
        raise refuse("credentials belong in headers, not in the URL")
    host = parts.hostname or ""
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise refuse(f"{host!r} is not a valid host name") from None
    host = host.lower().removesuffix(".")
    literal: IPAddress | None = None
    if ":" in host:
        try:
            literal = ipaddress.IPv6Address(host)
        except ValueError:
            raise refuse(f"{host!r} is not a valid IPv6 address") from None
    elif _NUMERIC_HOST.fullmatch(host):
        literal = _parse_ipv4_number(host)
        if literal is None:
            raise refuse(f"{host!r} is not a valid IPv4 address")
    elif not _HOST_NAME.fullmatch(host):
        raise refuse(f"{host!r} is not a valid host name")
    query = parts.query
    if params:
        extra = urlencode(list(params.items()))
        query = f"{query}&{extra}" if query else extra
    target = parts.path or "/"
    if query:
        target = f"{target}?{query}"
    if _UNSAFE_TARGET_CHARACTERS.search(target):
        raise refuse("spaces and control characters must be percent-encoded")
    return _Target(
        url=urlunsplit((scheme, parts.netloc, parts.path or "/", query, "")),
        scheme=scheme,
        host=host,
        port=port if port is not None else _DEFAULT_PORTS[scheme],
        target=target,
        literal=literal,
    )


# --- connections ------------------------------------------------------------------------


def _open_socket(address: IPAddress, port: int, timeout: float) -> socket.socket:
    """A TCP connection to exactly ``address``.

    ``AI_NUMERICHOST`` only builds the socket address (with an IPv6 scope) and never asks
    DNS, so nothing between the vetting and the connection can change the address.
    """
    family = socket.AF_INET if address.version == 4 else socket.AF_INET6
    info = socket.getaddrinfo(
        str(address), port, family, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST
    )
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(info[0][4])
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except BaseException:
        sock.close()
        raise
    return sock


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection to a vetted address; ``Host`` still names the URL's host."""

    def __init__(
        self, target: _Target, address: IPAddress, *, connect_timeout: float, timeout: float
    ) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self.address = address
        self.connect_timeout = connect_timeout

    def connect(self) -> None:
        sock = _open_socket(self.address, self.port, self.connect_timeout)
        sock.settimeout(self.timeout)
        self.sock = sock


class _PinnedHTTPSConnection(_PinnedHTTPConnection):
    """HTTPS to a vetted address, with SNI and certificate checks for the URL's host."""

    default_port = 443

    def __init__(
        self,
        target: _Target,
        address: IPAddress,
        *,
        connect_timeout: float,
        timeout: float,
        context: ssl.SSLContext,
    ) -> None:
        super().__init__(target, address, connect_timeout=connect_timeout, timeout=timeout)
        self.context = context
        # A host written as an address is checked against the certificate's IP entries.
        self.tls_name = str(target.literal) if target.literal is not None else target.host

    def connect(self) -> None:
        sock = _open_socket(self.address, self.port, self.connect_timeout)
        try:
            tls = self.context.wrap_socket(sock, server_hostname=self.tls_name)
        except BaseException:
            sock.close()
            raise
        tls.settimeout(self.timeout)
        self.sock = tls


# --- the client -------------------------------------------------------------------------


class _Redirect(enum.IntEnum):
    MOVED_PERMANENTLY = 301
    FOUND = 302
    SEE_OTHER = 303
    TEMPORARY_REDIRECT = 307
    PERMANENT_REDIRECT = 308


_REDIRECTS: Final = frozenset(_Redirect)
_CREDENTIALS: Final = frozenset({"authorization", "proxy-authorization", "cookie"})
# Set by the client itself: a caller's value would contradict the URL or the body.
_RESERVED_HEADERS: Final = frozenset({"host", "content-length", "transfer-encoding"})
_CHUNK: Final = 64 * 1024


def _keeps_credentials(original: _Target, target: _Target) -> bool:
    """Whether a redirect from ``original`` to ``target`` may carry credentials along.

    Only to the same origin, or from http to https on the same host and default ports.
    """
    if target.origin == original.origin:
        return True
    return (
        target.host == original.host
        and (original.scheme, original.port) == ("http", 80)
        and (target.scheme, target.port) == ("https", 443)
    )


class SafeHttpClient:
    """Outbound HTTP that refuses internal addresses unless they are allowed.

    ``allow`` lists trusted host names (matched exactly, case-insensitively) and networks in
    CIDR notation (``10.20.0.0/16``; a bare address means just that address). A host named
    there may resolve anywhere; any other host must resolve only to public addresses or to
    allowed networks.

    ``connect_timeout`` bounds the TCP and TLS handshake; ``timeout`` bounds each wait for
    the server's answer. ``ssl_context`` replaces the default trust store, for an internal
    certificate authority.
    """

    def __init__(
        self,
        *,
        allow: Sequence[str] = (),
        timeout: float = 30,
        connect_timeout: float = 10,
        max_bytes: int = 20_000_000,
        max_redirects: int = 5,
        user_agent: str = "Headway",
        resolver: Resolver | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if isinstance(allow, str):
            raise TypeError("allow is a list of host names and networks, not one string")
        if timeout <= 0 or connect_timeout <= 0:
            raise ValueError("timeouts must be positive numbers of seconds")
        if max_bytes < 0 or max_redirects < 0:
            raise ValueError("max_bytes and max_redirects cannot be negative")
        names: set[str] = set()
        networks: list[IPNetwork] = []
        for entry in allow:
            try:
                networks.append(ipaddress.ip_network(entry.strip(), strict=False))
                continue
            except ValueError:
                pass
            name = entry.strip().lower().removesuffix(".")
            if not _HOST_NAME.fullmatch(name) or _NUMERIC_HOST.fullmatch(name):
                raise ValueError(f"{entry!r} in allow is neither a host name nor a network")
            names.add(name)
        self._allowed_names: frozenset[str] = frozenset(names)
        self._allowed_networks: tuple[IPNetwork, ...] = tuple(networks)
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self._max_bytes = max_bytes
        self._max_redirects = max_redirects
        self._user_agent = user_agent
        self._resolver: Resolver = resolver if resolver is not None else resolve_host
        self._ssl_context = ssl_context

    # --- public -------------------------------------------------------------------------

    def get(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> Response:
        """``request("GET", ...)``."""
        return self.request("GET", url, headers=headers, params=params)

    def post(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        json: object | None = None,
        data: bytes | None = None,
    ) -> Response:
        """``request("POST", ...)``."""
        return self.request("POST", url, headers=headers, params=params, json=json, data=data)

    def check_url(self, url: str) -> None:
        """Raise what :meth:`request` would raise about ``url`` before connecting.

        For forms that take a URL (a webhook, a REST source): it tells people early that an
        address is refused. The request still vets again, since DNS answers change.
        """
        self._vet(_parse_url(url))

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        json: object | None = None,
        data: bytes | None = None,
    ) -> Response:
        """Send one request, following redirects, and return the final response.

        Any status is returned as a :class:`Response`; errors are raised only when there is
        no response to return (see :class:`HttpError` and its subclasses). ``params`` are
        added to the URL's query; ``json`` is sent as ``application/json``, ``data`` as is.
        """
        if json is not None and data is not None:
            raise ValueError("pass json or data, not both")
        fields: dict[str, tuple[str, str]] = {"user-agent": ("User-Agent", self._user_agent)}
        for name, value in (headers or {}).items():
            if name.lower() in _RESERVED_HEADERS:
                raise ValueError(f"the {name} header is set by the client, not by callers")
            fields[name.lower()] = (name, value)
        body = data
        if json is not None:
            body = jsonlib.dumps(json, ensure_ascii=False).encode()
            fields.setdefault("content-type", ("Content-Type", "application/json"))

        original = target = _parse_url(url, params)
        method = method.upper()
        redirects = 0
        while True:
            addresses = self._vet(target)
            response = self._exchange(method, target, addresses, fields, body)
            location = response.headers.get("location")
            if response.status not in _REDIRECTS or location is None:
                return response
            if redirects >= self._max_redirects:
                raise TooManyRedirectsError(
                    f"{_redacted(original.url)} redirected more than {self._max_redirects} "
                    f"times; the last redirect pointed to {_redacted(location)}.",
                    url=original.url,
                )
            redirects += 1
            target = _parse_url(urljoin(target.url, location))
            # Browsers turn a redirected POST into a GET, and servers expect it; 307 and 308
            # exist to keep the method and body.
            if (response.status == _Redirect.SEE_OTHER and method != "HEAD") or (
                response.status in (_Redirect.MOVED_PERMANENTLY, _Redirect.FOUND)
                and method == "POST"
            ):
                method, body = "GET", None
                fields.pop("content-type", None)
            if not _keeps_credentials(original, target):
                # Once dropped, they stay dropped, even if a later redirect comes back.
                for name in _CREDENTIALS:
                    fields.pop(name, None)

    # --- steps --------------------------------------------------------------------------

    def _vet(self, target: _Target) -> list[IPAddress]:
        """The addresses to connect to, each allowed or public; else UnsafeAddressError."""
        if target.literal is not None:
            addresses: list[IPAddress] = [target.literal]
        else:
            try:
                answers = self._resolver(target.host)
            except (OSError, UnicodeError) as error:
                raise ConnectionFailedError(
                    f"Could not resolve {target.host} for {_redacted(target.url)}: {error}.",
                    url=target.url,
                ) from error
            try:
                addresses = [ipaddress.ip_address(answer) for answer in answers]
            except ValueError as error:
                raise ConnectionFailedError(
                    f"The resolver gave a bad address for {target.host}: {error}.",
                    url=target.url,
                ) from error
            if not addresses:
                raise ConnectionFailedError(
                    f"Could not resolve {target.host} for {_redacted(target.url)}: no addresses.",
                    url=target.url,
                )
            if target.host in self._allowed_names:
                return addresses
        for address in addresses:
            if self._in_allowed_network(address):
                continue
            reason = _refusal(address)
            if reason is not None:
                where = (
                    f"{address} is {reason}"
                    if target.literal is not None
                    else f"{target.host} resolves to {address}, {reason}"
                )
                raise UnsafeAddressError(
                    f"Refused {_redacted(target.url)}: {where}. Internal systems must be "
                    "named in the client's allow list.",
                    url=target.url,
                    host=target.host,
                    address=str(address),
                    reason=reason,
                )
        return addresses

    def _in_allowed_network(self, address: IPAddress) -> bool:
        candidates: list[IPAddress] = [address]
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            candidates.append(address.ipv4_mapped)
        return any(
            candidate in network
            for candidate in candidates
            for network in self._allowed_networks
            if candidate.version == network.version
        )

    def _connect(self, target: _Target, addresses: list[IPAddress]) -> _PinnedHTTPConnection:
        """A connection to the first vetted address that answers."""
        last_error: OSError | None = None
        for address in addresses:
            connection: _PinnedHTTPConnection
            if target.scheme == "https":
                connection = _PinnedHTTPSConnection(
                    target,
                    address,
                    connect_timeout=self._connect_timeout,
                    timeout=self._timeout,
                    context=self._tls_context(),
                )
            else:
                connection = _PinnedHTTPConnection(
                    target, address, connect_timeout=self._connect_timeout, timeout=self._timeout
                )
            try:
                connection.connect()
            except OSError as error:
                connection.close()
                last_error = error
                continue
            return connection
        where = _redacted(target.url)
        if isinstance(last_error, TimeoutError):
            raise HttpTimeoutError(
                f"Connecting to {where} timed out after {self._connect_timeout:g} s.",
                url=target.url,
            ) from last_error
        if isinstance(last_error, ssl.SSLError):
            raise ConnectionFailedError(
                f"The TLS handshake with {where} failed: {last_error}.", url=target.url
            ) from last_error
        raise ConnectionFailedError(
            f"Could not connect to {where} ({', '.join(map(str, addresses))}): {last_error}.",
            url=target.url,
        ) from last_error

    def _exchange(
        self,
        method: str,
        target: _Target,
        addresses: list[IPAddress],
        fields: Mapping[str, tuple[str, str]],
        body: bytes | None,
    ) -> Response:
        """One request and its response; a redirect's body is not read."""
        connection = self._connect(target, addresses)
        where = _redacted(target.url)
        try:
            connection.request(method, target.target, body=body, headers=dict(fields.values()))
            raw = connection.getresponse()
            headers = Headers(raw.getheaders())
            if raw.status in _REDIRECTS and "location" in headers:
                content = b""
            else:
                content = self._read_body(raw, target)
        except TimeoutError as error:
            raise HttpTimeoutError(
                f"{where} did not answer within {self._timeout:g} s.", url=target.url
            ) from error
        except (OSError, http.client.HTTPException) as error:
            raise ConnectionFailedError(
                f"The exchange with {where} failed: {error!r}.", url=target.url
            ) from error
        finally:
            connection.close()
        return Response(status=raw.status, headers=headers, body=content, url=target.url)

    def _read_body(self, raw: http.client.HTTPResponse, target: _Target) -> bytes:
        too_large = ResponseTooLargeError(
            f"The response from {_redacted(target.url)} is larger than the limit of "
            f"{self._max_bytes:,} bytes; it was not read.",
            url=target.url,
        )
        if raw.length is not None and raw.length > self._max_bytes:
            raise too_large
        chunks: list[bytes] = []
        size = 0
        while chunk := raw.read(min(_CHUNK, self._max_bytes + 1 - size)):
            size += len(chunk)
            if size > self._max_bytes:
                raise too_large
            chunks.append(chunk)
        return b"".join(chunks)

    def _tls_context(self) -> ssl.SSLContext:
        # Made on first use: loading the system's certificates takes a few milliseconds.
        if self._ssl_context is None:
            self._ssl_context = ssl.create_default_context()
        return self._ssl_context
