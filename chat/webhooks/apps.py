"""Outgoing webhooks: a tenant's endpoints, the events they hear, every delivery and attempt."""
from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "chat.webhooks"
    label = "webhooks"
    verbose_name = "Outgoing webhooks"

    def ready(self) -> None:
        from chat.webhooks.services import webhook_events_subscribe

        # Webhooks follow conversations and orders through their events; neither calls this app.
        webhook_events_subscribe()
