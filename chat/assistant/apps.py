from django.apps import AppConfig


class AssistantConfig(AppConfig):
    name = "chat.assistant"
    label = "assistant"
    verbose_name = "Assistant"
