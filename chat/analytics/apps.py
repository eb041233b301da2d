from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "chat.analytics"
    label = "analytics"
    verbose_name = "Analytics"
