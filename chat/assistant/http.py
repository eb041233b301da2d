"""The HTTP transport under the `openai` client: aiohttp instead of httpx's own connection pool.

The `openai` client builds every request, owns the key, the base URL, the timeouts and the typed
errors; only the bytes on the wire go through aiohttp, the transport the SDK itself offers
(`openai[aiohttp]`). In a burst of 1,000 streams from the local model server
(bench/llm_transport.py), a streamed answer costs less than half the client CPU it costs through
httpx's own pool (2.0 against 4.3 ms), whose pure-Python HTTP parser, anyio streams and pool
bookkeeping were the largest share of the web process's work in a burst of answers.

This module is our own adapter rather than the SDK's vendored one because the errors must keep
their meaning: a refused connection is a connection failure (retried), not a timeout.

An endpoint a tenant chose goes through the egress guard (config.egress): the connector resolves
names with `GuardedResolver` and connects to the checked address, literal IP hosts are checked
before the request, and every redirect hop is a new request through the same checks.
"""

from __future__ import annotations

import functools
import ssl
import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import aiohttp
import httpx2

from config.egress import EgressRefused, GuardedResolver, url_literal_check


@contextmanager
def _httpx_errors(*, connecting: bool) -> Iterator[None]:
    """aiohttp's errors as the httpx errors the `openai` client turns into its typed ones."""
    try:
        yield
    except EgressRefused as error:
        # Nothing was sent: a connection that was never allowed. The refusal stays the cause, for
        # the caller to tell it from a provider that is down.
        raise httpx2.ConnectError(error.message) from error
    except aiohttp.ClientProxyConnectionError as error:
        raise httpx2.ProxyError(str(error)) from error
    except aiohttp.ConnectionTimeoutError as error:
        raise httpx2.ConnectTimeout(str(error)) from error
    except aiohttp.SocketTimeoutError as error:
        raise httpx2.ReadTimeout(str(error)) from error
    except (aiohttp.ServerTimeoutError, TimeoutError) as error:
        raise (httpx2.ConnectTimeout if connecting else httpx2.ReadTimeout)(str(error)) from error
    except aiohttp.ClientConnectorError as error:
        raise httpx2.ConnectError(str(error)) from error
    except (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError) as error:
        raise httpx2.UnsupportedProtocol(str(error)) from error
    except aiohttp.ClientPayloadError as error:
        raise httpx2.RemoteProtocolError(str(error)) from error
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientResponseError) as error:
        raise httpx2.RemoteProtocolError(str(error)) from error
    except (aiohttp.ClientError, OSError) as error:
        raise (httpx2.ConnectError if connecting else httpx2.ReadError)(str(error)) from error


class _ResponseBody(httpx2.AsyncByteStream):
    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _httpx_errors(connecting=False):
            content = self._response.content
            while True:
                # As much as has arrived: a streamed answer's events are small and must not wait for more.
                data = await content.readany()
                if not data:
                    return
                yield data

    async def aclose(self) -> None:
        # Released, not closed: a body read to its end leaves the connection for the next call,
        # and one abandoned midway is dropped by aiohttp rather than reused half-read.
        self._response.release()


@functools.cache
def default_ssl_context() -> ssl.SSLContext:
    """The CA bundle httpx would trust, loaded once per process: loading it takes about 27 ms of CPU,
    which every new client (a tenant's own key, a new event loop) would otherwise spend on the loop."""
    return httpx2.create_ssl_context()


class AiohttpTransport(httpx2.AsyncBaseTransport):
    """An httpx transport that sends requests through one aiohttp session, made on first use on the
    event loop of the client that owns it (the LLM clients are kept per loop).

    Proxies come from the environment (HTTP_PROXY, HTTPS_PROXY, NO_PROXY) as they would for httpx,
    read when the transport is made: aiohttp's own `trust_env` reads the environment and looks for
    a .netrc file in the home folder on every request, 2% of the web process's samples in a burst.

    `egress_guarded` (an endpoint a tenant chose): every connection goes through the egress guard.
    Through a proxy, the proxy resolves the name itself: the name is checked here first, and the
    proxy should refuse private addresses too (docs/operations.md).
    """

    def __init__(self, *, max_connections: int, keepalive_seconds: float, ssl_context: ssl.SSLContext | None = None,
                 egress_guarded: bool = True) -> None:
        self._max_connections = max_connections
        self._keepalive_seconds = keepalive_seconds
        self._ssl_context = ssl_context or default_ssl_context()
        self._proxies = urllib.request.getproxies_environment()
        self._resolver = GuardedResolver() if egress_guarded else None
        self._session: aiohttp.ClientSession | None = None

    def _session_now(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._max_connections, keepalive_timeout=self._keepalive_seconds,
                                             ssl=self._ssl_context, resolver=self._resolver)
            self._session = aiohttp.ClientSession(connector=connector, trust_env=False, auto_decompress=False,
                                                  skip_auto_headers=("User-Agent", "Accept-Encoding"))
        return self._session

    def _proxy_for(self, url: httpx2.URL) -> str | None:
        if not self._proxies:
            return None
        proxy = self._proxies.get(url.scheme) or self._proxies.get("all")
        if proxy is None or urllib.request.proxy_bypass_environment(url.host, self._proxies):
            return None
        return proxy

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        body: Any = await request.aread() if request.method not in ("GET", "HEAD") else None
        proxy = self._proxy_for(request.url)
        with _httpx_errors(connecting=True):
            if self._resolver is not None:
                # Literal IP hosts never reach a resolver; a proxied name is resolved by the proxy.
                url_literal_check(str(request.url))
                if proxy is not None:
                    await self._resolver.resolve(request.url.host, request.url.port or 0)
            response = await self._session_now().request(
                request.method, str(request.url), headers=list(request.headers.multi_items()), data=body or None,
                allow_redirects=False, compress=None, proxy=proxy,
                timeout=aiohttp.ClientTimeout(connect=timeouts.get("pool"), sock_connect=timeouts.get("connect"),
                                              sock_read=timeouts.get("read")))
        return httpx2.Response(status_code=response.status, headers=list(response.raw_headers),
                               stream=_ResponseBody(response), request=request,
                               extensions={"http_version": b"HTTP/1.1",
                                           "reason_phrase": (response.reason or "").encode()})

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def llm_http_client(*, egress_guarded: bool = True, max_connections: int = 1000,
                    keepalive_seconds: float = 30.0) -> httpx2.AsyncClient:
    """The `http_client` for an `openai.AsyncOpenAI` made on the running event loop; `egress_guarded`
    False only for the operator's own endpoint (OPENAI_BASE_URL)."""
    # Redirects are followed as the SDK's own default client does, each hop through the transport's
    # checks; proxies are the transport's.
    return httpx2.AsyncClient(transport=AiohttpTransport(max_connections=max_connections,
                                                         keepalive_seconds=keepalive_seconds,
                                                         egress_guarded=egress_guarded),
                              follow_redirects=True, trust_env=False)
