from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "chat.analytics"
    label = "analytics"
    verbose_name = "Analytics"

    def ready(self) -> None:
        from chat.analytics.services import analytics_day_mark_stale
        from chat.conversations.events import ConversationChanged, event_handler_register

        # Analytics follows conversations through their events; conversations never call it.
        event_handler_register(event_class=ConversationChanged, handler=analytics_day_mark_stale)
