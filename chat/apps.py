from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chat"
    verbose_name = "Conversations, knowledge and the assistant"

    def ready(self) -> None:
        from chat.conversations.events import ConversationChanged, event_handler_register
        from chat.dashboard.rollup import analytics_day_mark_stale

        # Analytics follows conversations through their events; conversations never call it.
        event_handler_register(event_class=ConversationChanged, handler=analytics_day_mark_stale)

        from chat.conversations.delivery import stored_answer_sender_register
        from chat.models import Channel
        from chat.widget.streaming import stored_answer_send

        # How an answer made away from the customer's socket (the sweeper's) reaches the widget.
        stored_answer_sender_register(channel=Channel.WIDGET, sender=stored_answer_send)
