from typing import Any

from django.urls import path

from chat.consumers import AgentConsumer, WidgetConsumer

websocket_urlpatterns: list[Any] = [
    path("ws/widget/", WidgetConsumer.as_asgi()),
    path("ws/agent/", AgentConsumer.as_asgi()),
]
