"""ASGI entry point: HTTP through Django, WebSockets through Channels (routes added by the chat app)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from config.proxies import TrustedProxyMiddleware  # noqa: E402
from config.websocket import websocket_application  # noqa: E402

# Outermost: every request and socket sees the client's address as our own proxies reported it.
application = TrustedProxyMiddleware(
    ProtocolTypeRouter({"http": django_asgi_app, "websocket": websocket_application}),
    trusted_proxies=settings.TRUSTED_PROXY_COUNT,
)

# Loaded now rather than by the first answer, which would otherwise stall every socket of the
# process while the assistant's modules (and the openai client's) are imported.
import chat.assistant.engine  # noqa: E402, F401
from chat.assistant.http import default_ssl_context  # noqa: E402
from chat.assistant.llm import llm_clients_close  # noqa: E402
from config.startup import before_server_stops, freeze_loaded_objects  # noqa: E402

default_ssl_context()  # the CA bundle, read now rather than on the loop when the first answer starts
before_server_stops(llm_clients_close)
freeze_loaded_objects()
