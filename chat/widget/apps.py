from django.apps import AppConfig


class WidgetConfig(AppConfig):
    name = "chat.widget"
    label = "widget"
    verbose_name = "Chat widget"

    def ready(self) -> None:
        from chat.conversations.delivery import stored_answer_sender_register
        from chat.conversations.models import Channel
        from chat.widget.streaming import answers_in_flight_finish, stored_answer_send
        from config.startup import before_server_stops

        # How an answer made away from the customer's socket (the sweeper's) reaches the widget.
        stored_answer_sender_register(channel=Channel.WIDGET, sender=stored_answer_send)
        # A web process told to stop lets the answers it is writing finish (they outlive their sockets).
        before_server_stops(answers_in_flight_finish)
