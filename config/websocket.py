"""WebSocket routing. The tenant is resolved from the Host header before any consumer runs."""

from __future__ import annotations

from typing import Any

from channels.routing import URLRouter
from django.db import connection
from django_tenants.utils import get_public_schema_name, remove_www

from config.db import in_thread
from config.logging import log_context, new_request_id
from config.metrics import WEBSOCKETS_OPEN

websocket_urlpatterns: list[Any] = []


def _tenant_for_host(host: str) -> Any:
    from tenants.models import Domain

    connection.set_schema_to_public()
    domain = Domain.objects.select_related("tenant").filter(domain=remove_www(host)).first()
    if domain is None or domain.tenant.schema_name == get_public_schema_name():
        return None
    return domain.tenant


def _host_from_scope(scope: dict[str, Any]) -> str:
    for name, value in scope.get("headers", []):
        if name == b"host":
            return value.decode("latin-1").split(":")[0].lower()
    return ""


class TenantWebSocketMiddleware:
    """Puts the tenant in scope; an unknown or suspended host is refused before the handshake."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        tenant = await in_thread(_tenant_for_host, _host_from_scope(scope))
        if tenant is None or not tenant.is_active:
            await send({"type": "websocket.close", "code": 4404 if tenant is None else 4403})
            return None
        scope["tenant"] = tenant
        # One id for the socket's whole life, as a request has: on its log lines and its frames' spans.
        scope["request_id"] = new_request_id()
        # Open from the tenant check to the consumer's end: the socket's whole life in this process.
        kind = "agent" if scope.get("path", "").startswith("/ws/agent") else "widget"
        open_sockets = WEBSOCKETS_OPEN.labels(kind=kind)
        open_sockets.inc()
        try:
            with log_context(request_id=scope["request_id"], schema=tenant.schema_name):
                return await self.inner(scope, receive, send)
        finally:
            open_sockets.dec()


def _build() -> Any:
    from chat.routing import websocket_urlpatterns as chat_patterns

    return TenantWebSocketMiddleware(URLRouter([*websocket_urlpatterns, *chat_patterns]))


websocket_application = _build()
