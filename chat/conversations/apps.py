from django.apps import AppConfig


class ConversationsConfig(AppConfig):
    name = "chat.conversations"
    # The label the core's tables, migration history and content types have always had: keeping it
    # leaves every existing database's chat_* tables and django_migrations rows as they are.
    label = "chat"
    verbose_name = "Conversations"
