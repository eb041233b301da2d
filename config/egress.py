"""The egress guard: what the platform may connect to when a tenant chose the address.

Every outbound request made on a tenant's behalf (the tenant's own LLM endpoint, knowledge URLs,
later outgoing webhooks and messaging APIs) goes through here, so that no tenant can make our
processes talk to our own network: loopback, private ranges, link-local and the cloud metadata
service, CGNAT, multicast, unspecified and reserved addresses are refused, including the IPv6
forms that carry an IPv4 address inside (mapped, compatible, NAT64, 6to4, Teredo).

The check runs on the addresses a host name resolves to, at connect time, and the connection goes
to exactly the address that was checked: a DNS answer that changes between a check and a
connection (rebinding) has nothing to swap. Redirects are followed hop by hop by the callers'
clients, and each hop connects through the same guard.

- async httpx (the LLM client, chat.assistant.http): `host_resolve_checked_async`, the addresses
  its transport connects to.
- httpx (knowledge URLs): `guarded_httpx_transport`, an httpx transport whose httpcore network
  backend resolves, checks and connects to the checked address (TLS still verifies the name).

The operator may allow networks or hosts with EGRESS_ALLOWED_NETWORKS (a model server on the
private network); the metadata addresses stay refused whatever that list says.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import ssl
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

import httpcore
import httpx
from django.conf import settings

from config.errors import ApplicationError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Instance metadata services (AWS, GCP, Azure, OpenStack: 169.254.169.254; AWS over IPv6:
# fd00:ec2::254; Alibaba: 100.100.100.200). Never reachable, not even through the allow-list.
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254",
                                                                  "100.100.100.200"))
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


class EgressRefused(ApplicationError):
    """A request on a tenant's behalf to an address the platform must not reach."""

    code = "egress_refused"
    status = 400


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries, which a gateway or the kernel may route to."""
    embedded = []
    if address.ipv4_mapped is not None:
        embedded.append(address.ipv4_mapped)
    if address in _IPV4_COMPATIBLE:
        embedded.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    if any(address in network for network in _NAT64):
        embedded.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    if address.sixtofour is not None:
        embedded.append(address.sixtofour)
    if address.teredo is not None:
        embedded.extend(address.teredo)
    return embedded


def address_refusal(address: IPAddress) -> str | None:
    """Why no request on a tenant's behalf may go to `address`, or None when it is a public one."""
    if address in METADATA_ADDRESSES:
        return "the cloud metadata service"
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_loopback:
        return "a loopback address"
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            return "a link-local address"
        for inner in _embedded_ipv4(address):
            reason = address_refusal(inner)
            if reason is not None:
                return f"{reason} (inside the IPv6 address {address})"
        if any(address in network for network in _NAT64):
            # A NAT64 gateway's form of a public IPv4 address: how IPv6-only networks reach it.
            return None
        if address in _IPV4_COMPATIBLE:
            return "a deprecated IPv4-compatible address"
    checks = (("a link-local address", address.is_link_local), ("a multicast address", address.is_multicast),
              ("a private address", address.is_private), ("a reserved address", address.is_reserved))
    for reason, refused in checks:
        if refused:
            return reason
    if isinstance(address, ipaddress.IPv4Address) and address in _CGNAT:
        return "a shared (carrier-grade NAT) address"
    if not address.is_global:
        return "a non-public address"
    return None


@dataclass(frozen=True)
class EgressPolicy:
    """The operator's allow-list: networks whose addresses pass, and host names that pass by name."""

    networks: tuple[IPNetwork, ...] = ()
    hosts: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls) -> EgressPolicy:
        return _policy_of(tuple(settings.EGRESS_ALLOWED_NETWORKS))

    def refusal(self, *, host: str, address: IPAddress) -> str | None:
        if address in METADATA_ADDRESSES:
            return "the cloud metadata service"
        if host.lower().rstrip(".") in self.hosts or any(address in network for network in self.networks
                                                         if network.version == address.version):
            return None
        return address_refusal(address)

    def check(self, *, host: str, addresses: Iterable[str]) -> None:
        """Raise EgressRefused unless every address (of `host`) may be connected to."""
        for text in addresses:
            address = ip_of(text)
            reason = self.refusal(host=host, address=address)
            if reason is not None:
                shown = host if host == str(address) else f"'{host}' ({address})"
                raise EgressRefused(f"{shown} is {reason}: requests to the platform's own network are refused.",
                                    details={"host": host, "address": str(address)})


@functools.lru_cache(maxsize=8)
def _policy_of(entries: tuple[str, ...]) -> EgressPolicy:
    networks: list[IPNetwork] = []
    hosts: set[str] = set()
    for entry in (e.strip() for e in entries):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
        except ValueError:
            hosts.add(entry.lower().rstrip("."))
    return EgressPolicy(networks=tuple(networks), hosts=frozenset(hosts))


def ip_of(text: str) -> IPAddress:
    """An address as a resolver or socket gives it (an IPv6 zone index is kept as the scope)."""
    return ipaddress.ip_address(text)


def literal_ip(host: str) -> IPAddress | None:
    """The address a URL's host names directly, in any spelling a socket accepts (2130706433,
    0177.0.0.1, 0x7f.1, [::1]), or None for a host name."""
    bare = host.strip("[]")
    try:
        return ipaddress.ip_address(bare)
    except ValueError:
        pass
    try:
        # inet_aton is the parser getaddrinfo uses for IPv4 literals: decimal, octal, hex, short forms.
        return ipaddress.IPv4Address(socket.inet_aton(bare))
    except (OSError, UnicodeError):
        return None


def url_literal_check(url: str, *, policy: EgressPolicy | None = None) -> None:
    """The checks that need no DNS: http(s) only, a host, and a literal IP host must be allowed."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise EgressRefused(f"Only http and https addresses can be used, not '{parts.scheme or url}'.",
                            code="egress_scheme")
    host = parts.hostname
    if not host:
        raise EgressRefused(f"'{url}' has no host name.", code="egress_invalid_url")
    address = literal_ip(host)
    if address is not None:
        (policy or EgressPolicy.from_settings()).check(host=host, addresses=[str(address)])


def host_resolve_checked(host: str, port: int, *, policy: EgressPolicy | None = None) -> list[str]:
    """The addresses of `host`, all of them allowed, in the resolver's order. Raises EgressRefused."""
    policy = policy or EgressPolicy.from_settings()
    address = literal_ip(host)
    if address is not None:
        policy.check(host=host, addresses=[str(address)])
        return [str(address)]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise EgressRefused(f"The host '{host}' could not be found.", code="egress_dns") from error
    addresses = list(dict.fromkeys(_sockaddr_text(info[4]) for info in infos))
    policy.check(host=host, addresses=addresses)
    return addresses


def url_check(url: str, *, policy: EgressPolicy | None = None) -> None:
    """Everything the guard will check when connecting, checked now (a settings form's validation).
    The connection is still checked again: a name can resolve elsewhere tomorrow."""
    policy = policy or EgressPolicy.from_settings()
    url_literal_check(url, policy=policy)
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as error:
        raise EgressRefused(f"'{url}' has an invalid port.", code="egress_invalid_url") from error
    host_resolve_checked(host, port, policy=policy)


def _sockaddr_text(sockaddr: Any) -> str:
    address = str(sockaddr[0])
    # An IPv6 link-local answer comes with its interface: keep it as a scope so it is refused.
    if len(sockaddr) == 4 and sockaddr[3] and "%" not in address:
        address = f"{address}%{sockaddr[3]}"
    return address


def egress_refusal_in(error: BaseException | None) -> EgressRefused | None:
    """The EgressRefused behind an error a client library wrapped (its cause chain), if any."""
    seen = 0
    while error is not None and seen < 10:
        if isinstance(error, EgressRefused):
            return error
        error = error.__cause__ or error.__context__
        seen += 1
    return None


async def host_resolve_checked_async(host: str, port: int, *, policy: EgressPolicy | None = None) -> list[str]:
    """host_resolve_checked for async code: the event loop's resolver (getaddrinfo in a thread)."""
    policy = policy or EgressPolicy.from_settings()
    address = literal_ip(host)
    if address is not None:
        policy.check(host=host, addresses=[str(address)])
        return [str(address)]
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise EgressRefused(f"The host '{host}' could not be found.", code="egress_dns") from error
    addresses = list(dict.fromkeys(_sockaddr_text(info[4]) for info in infos))
    policy.check(host=host, addresses=addresses)
    return addresses


# -------------------------------------------------------------------------------------- httpx


class _GuardedNetworkBackend(httpcore.NetworkBackend):
    """httpcore's own sockets, opened only to an address the guard has just allowed."""

    def __init__(self, policy: EgressPolicy | None) -> None:
        self._policy = policy
        self._sockets = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        addresses = host_resolve_checked(host, port, policy=self._policy)
        failure: Exception | None = None
        for address in addresses:
            try:
                return self._sockets.connect_tcp(address.split("%", 1)[0], port, timeout=timeout,
                                                 local_address=local_address, socket_options=socket_options)
            except httpcore.ConnectError as error:
                failure = error
        raise failure or httpcore.ConnectError(f"No address of '{host}' answered.")

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        raise EgressRefused("Requests on a tenant's behalf never go to a local socket.")

    def sleep(self, seconds: float) -> None:
        self._sockets.sleep(seconds)


_HTTPCORE_ERRORS: tuple[tuple[type[Exception], type[httpx.HTTPError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextmanager
def _httpx_errors() -> Iterator[None]:
    try:
        yield
    except httpcore.TimeoutException as error:
        raise _httpx_error_for(error)(str(error)) from error
    except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.ProxyError,
            httpcore.UnsupportedProtocol) as error:
        raise _httpx_error_for(error)(str(error)) from error


def _httpx_error_for(error: Exception) -> type[httpx.HTTPError]:
    return next((ours for theirs, ours in _HTTPCORE_ERRORS if isinstance(error, theirs)), httpx.TransportError)


class _ResponseBody(httpx.SyncByteStream):
    def __init__(self, stream: Iterable[bytes]) -> None:
        self._stream = stream

    def __iter__(self) -> Iterator[bytes]:
        with _httpx_errors():
            yield from self._stream

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()


class GuardedHTTPTransport(httpx.BaseTransport):
    """An httpx transport for requests on a tenant's behalf: HTTP/1.1 over httpcore's connection
    pool, every connection opened through the guard."""

    def __init__(self, *, policy: EgressPolicy | None = None, ssl_context: ssl.SSLContext | None = None) -> None:
        self._pool = httpcore.ConnectionPool(ssl_context=ssl_context or httpx.create_ssl_context(),
                                             network_backend=_GuardedNetworkBackend(policy))
        self._policy = policy

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url_literal_check(str(request.url), policy=self._policy)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(scheme=request.url.raw_scheme, host=request.url.raw_host, port=request.url.port,
                             target=request.url.raw_path),
            headers=request.headers.raw, content=request.stream, extensions=request.extensions)
        with _httpx_errors():
            response = self._pool.handle_request(core_request)
        return httpx.Response(status_code=response.status, headers=response.headers,
                              stream=_ResponseBody(cast(Iterable[bytes], response.stream)),
                              extensions=response.extensions)

    def close(self) -> None:
        self._pool.close()


def guarded_httpx_transport(*, policy: EgressPolicy | None = None) -> GuardedHTTPTransport:
    """The transport for an `httpx.Client` making requests on a tenant's behalf."""
    return GuardedHTTPTransport(policy=policy)
