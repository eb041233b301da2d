from django.apps import AppConfig


class WidgetConfig(AppConfig):
    name = "chat.widget"
    label = "widget"
    verbose_name = "Chat widget"

    def ready(self) -> None:
        from chat.conversations.delivery import stored_answer_sender_register
        from chat.conversations.models import Channel
        from chat.widget.streaming import stored_answer_send

        # How an answer made away from the customer's socket (the sweeper's) reaches the widget.
        stored_answer_sender_register(channel=Channel.WIDGET, sender=stored_answer_send)
