from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "chat.messaging"
    label = "messaging"
    verbose_name = "Messaging channels (WhatsApp, Telegram)"

    def ready(self) -> None:
        from chat.conversations.delivery import agent_reply_sender_register, stored_answer_sender_register
        from chat.conversations.events import ConversationErased, event_handler_register
        from chat.messaging.models import Platform
        from chat.messaging.services import agent_reply_queue, channel_records_erase, stored_answer_send

        # The assistant's answers (a webhook's answer task, the sweeper) and the team's replies in the
        # inbox reach a messaging customer through this app's send task.
        for platform in Platform:
            stored_answer_sender_register(channel=platform.value, sender=stored_answer_send)
            agent_reply_sender_register(channel=platform.value, sender=agent_reply_queue)
        # A customer erased (chat.conversations.customer_data): the channels' records of them go too.
        event_handler_register(event_class=ConversationErased, handler=channel_records_erase)
