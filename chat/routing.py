from typing import Any

from channels.sessions import SessionMiddlewareStack
from django.urls import path

from chat.consumers import AgentConsumer, WidgetConsumer

# Inside config.websocket's tenant middleware, which runs first: the session the agents' socket
# names is read in its tenant's schema (each tenant has its own sessions table). Channels' session
# middleware reads the cookie; the user is looked up by the consumer, in that schema, and again
# before each action (chat.dashboard.selectors.agent_session_user), which channels' AuthMiddleware,
# reading once in no tenant's schema, would not do. The widget has no session.
websocket_urlpatterns: list[Any] = [
    path("ws/widget/", WidgetConsumer.as_asgi()),
    path("ws/agent/", SessionMiddlewareStack(AgentConsumer.as_asgi())),
]
