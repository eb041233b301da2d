"""The client's address, behind exactly TRUSTED_PROXY_COUNT reverse proxies of our own.

Each proxy appends the address it received the connection from to X-Forwarded-For, so with N of
them the last N entries were written by us and the one the outermost proxy saw is the N-th from the
right; everything left of it came from the client, who can write anything there. Trusting the
leftmost entry (as daphne's --proxy-headers does) let a client pick a new address per request and
walk past every per-address limit. The rewrite happens once, in the ASGI layer, so HTTP requests
(REMOTE_ADDR), WebSockets (scope["client"]), the widget's rate limits and django-axes all see the
same address.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from django.http import HttpRequest

ASGIApp = Any


def forwarded_client(*, peer: str, forwarded_for: str, trusted_proxies: int) -> str:
    """The address the outermost of `trusted_proxies` proxies saw; the socket's peer with none."""
    if trusted_proxies <= 0:
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    chain = [*hops, peer]
    # Fewer entries than proxies: the request skipped the outer ones (a load balancer's health check);
    # every entry there was still written by a proxy of ours, the leftmost being the farthest.
    candidate = chain[-(trusted_proxies + 1)] if len(chain) > trusted_proxies else chain[0]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:  # a proxy of ours writes addresses; anything else is not one to count by
        return peer


class TrustedProxyMiddleware:
    """ASGI middleware: scope["client"] becomes the forwarded client's address, for HTTP and WebSocket."""

    def __init__(self, app: ASGIApp, *, trusted_proxies: int) -> None:
        self.app = app
        self.trusted_proxies = trusted_proxies

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if self.trusted_proxies > 0 and scope["type"] in ("http", "websocket"):
            forwarded_for = ",".join(value.decode("latin-1") for name, value in scope.get("headers", [])
                                     if name.lower() == b"x-forwarded-for")
            client = scope.get("client") or ("", 0)
            address = forwarded_client(peer=str(client[0]), forwarded_for=forwarded_for,
                                       trusted_proxies=self.trusted_proxies)
            scope = {**scope, "client": (address, 0)}
        return await self.app(scope, receive, send)


def request_client_address(request: HttpRequest) -> str:
    """For django-axes: the address TrustedProxyMiddleware already settled on (never a header of its own)."""
    return str(request.META.get("REMOTE_ADDR", ""))
