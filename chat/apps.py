from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chat"
    verbose_name = "Conversations, knowledge and the assistant"

    def ready(self) -> None:
        from chat.conversations.delivery import stored_answer_sender_register
        from chat.models import Channel
        from chat.widget.streaming import stored_answer_send

        # How an answer made away from the customer's socket (the sweeper's) reaches the widget.
        stored_answer_sender_register(channel=Channel.WIDGET, sender=stored_answer_send)
