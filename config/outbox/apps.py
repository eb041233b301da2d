from django.apps import AppConfig


class OutboxConfig(AppConfig):
    name = "config.outbox"
    label = "outbox"
    verbose_name = "Outbox (tasks promised by stored changes)"
