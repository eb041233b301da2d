from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chat"
    verbose_name = "Conversations, knowledge and the assistant"

    def ready(self) -> None:
        from chat.conversations.events import ConversationChanged, event_handler_register
        from chat.dashboard.rollup import analytics_day_mark_stale

        # Analytics follows conversations through their events; conversations never call it.
        event_handler_register(event_class=ConversationChanged, handler=analytics_day_mark_stale)
