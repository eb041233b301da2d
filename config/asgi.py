"""ASGI entry point: HTTP through Django, WebSockets through Channels (routes added by the chat app)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
from config.tracing import observability_configure  # noqa: E402

# Before Django builds its middleware chain, which the request tracing adds to.
observability_configure(process="web")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from config.proxies import TrustedProxyMiddleware  # noqa: E402
from config.request_threads import RequestThreads  # noqa: E402
from config.startup import server_lifespan, server_prepare  # noqa: E402
from config.websocket import websocket_application  # noqa: E402

# Outermost: every request and socket sees the client's address as our own proxies reported it.
application = TrustedProxyMiddleware(
    ProtocolTypeRouter({
        # Django's synchronous work for HTTP on a bounded set of threads (and database connections).
        "http": RequestThreads(django_asgi_app, threads=settings.WEB_REQUEST_THREADS,
                               wait_seconds=settings.WEB_REQUEST_WAIT_SECONDS),
        "websocket": websocket_application,
        "lifespan": server_lifespan,
    }),
    trusted_proxies=settings.TRUSTED_PROXY_COUNT,
)

# What the apps registered to do before a server serves anyone (chat.assistant loads its modules),
# then the loaded objects are frozen.
server_prepare()
