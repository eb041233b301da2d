from django.apps import AppConfig


class KnowledgeConfig(AppConfig):
    name = "chat.knowledge"
    label = "knowledge"
    verbose_name = "Knowledge base"
