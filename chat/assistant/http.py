"""The HTTP client under the `openai` client: the SDK's own httpx client, and for an endpoint a
tenant chose, an httpx transport that puts every connection through the egress guard.

The guard is an httpx transport (httpx's public extension point): each request, redirect hops
included, has its URL checked, its host resolved and every address checked (config.egress), and
is sent to the checked address by httpx's own transport, with the request's Host header and the
host's name as the TLS server name (the `sni_hostname` request extension), so a DNS answer that
changes between the check and the connection has nothing to swap and the certificate is still
verified for the host. Errors stay httpx's, which the `openai` client turns into its typed ones:
a refused connection is a connection error (retried), a timeout a timeout.
"""

from __future__ import annotations

import functools
import ssl
import urllib.request

import httpx2

from config.egress import EgressRefused, host_resolve_checked_async, url_literal_check

# The `openai` client's own default: a streamed answer holds a connection for its whole length.
_LIMITS = httpx2.Limits(max_connections=1000, max_keepalive_connections=100, keepalive_expiry=30)


@functools.cache
def default_ssl_context() -> ssl.SSLContext:
    """The CA bundle httpx would trust, loaded once per process rather than by every new client (a
    tenant's own key, a new event loop) on the event loop."""
    return httpx2.create_ssl_context()


class EgressGuardedTransport(httpx2.AsyncBaseTransport):
    """httpx's transport, connecting only to addresses the egress guard has just allowed.

    Connections are pooled per host name: one made to an address for one name (its certificate
    verified for that name) never carries another name's requests. Proxies come from the
    environment (HTTP_PROXY, HTTPS_PROXY, NO_PROXY); through one, the name is checked here and the
    proxy resolves it itself, so it should refuse private addresses too (docs/operations.md).
    """

    def __init__(self, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self._ssl_context = ssl_context or default_ssl_context()
        self._proxies = urllib.request.getproxies_environment()
        self._transports: dict[str, httpx2.AsyncHTTPTransport] = {}

    def _transport(self, key: str, *, proxy: str | None = None) -> httpx2.AsyncHTTPTransport:
        transport = self._transports.get(key)
        if transport is None:
            transport = self._transports[key] = httpx2.AsyncHTTPTransport(
                verify=self._ssl_context, trust_env=False, limits=_LIMITS, proxy=proxy)
        return transport

    def _proxy_for(self, url: httpx2.URL) -> str | None:
        proxy = self._proxies.get(url.scheme) or self._proxies.get("all")
        if proxy is None or _bypasses_proxy(url.host, self._proxies.get("no", "")):
            return None
        return proxy

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        url = request.url
        try:
            url_literal_check(str(url))
            addresses = await host_resolve_checked_async(url.host, url.port or (443 if url.scheme == "https" else 80))
        except EgressRefused as error:
            # Nothing was sent: a connection that was never allowed. The refusal stays the cause, for
            # the caller to tell it from a provider that is down.
            raise httpx2.ConnectError(error.message, request=request) from error
        proxy = self._proxy_for(url)
        if proxy is not None:
            return await self._transport(f"proxy {proxy}", proxy=proxy).handle_async_request(request)
        transport = self._transport(url.host)
        failure: httpx2.ConnectError | None = None
        for address in addresses:
            to_address = httpx2.Request(request.method, url.copy_with(host=address), headers=request.headers,
                                        stream=request.stream,
                                        extensions={**request.extensions, "sni_hostname": url.host})
            try:
                return await transport.handle_async_request(to_address)
            except httpx2.ConnectError as error:  # nothing sent: the host's next address
                failure = error
        raise failure or httpx2.ConnectError(f"No address of '{url.host}' answered.", request=request)

    async def aclose(self) -> None:
        transports = list(self._transports.values())
        self._transports.clear()
        for transport in transports:
            await transport.aclose()


def _bypasses_proxy(host: str, no_proxy: str) -> bool:
    """NO_PROXY as curl and httpx read it: `*`, a host, or a domain and its subdomains."""
    host = host.lower().strip("[]")
    for entry in (part.strip().lower().lstrip(".") for part in no_proxy.split(",")):
        if entry == "*" or (entry and (host == entry or host.endswith(f".{entry}"))):
            return True
    return False


def llm_http_client(*, egress_guarded: bool = True, ssl_context: ssl.SSLContext | None = None) -> httpx2.AsyncClient:
    """The `http_client` for an `openai.AsyncOpenAI` made on the running event loop; `egress_guarded`
    False only for the operator's own endpoint (OPENAI_BASE_URL). Redirects are followed as the
    SDK's own default client does, each hop through the transport's checks."""
    if not egress_guarded:
        return httpx2.AsyncClient(verify=ssl_context or default_ssl_context(), limits=_LIMITS, follow_redirects=True)
    return httpx2.AsyncClient(transport=EgressGuardedTransport(ssl_context=ssl_context), follow_redirects=True,
                              trust_env=False)
