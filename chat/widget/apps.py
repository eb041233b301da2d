from django.apps import AppConfig


class WidgetConfig(AppConfig):
    name = "chat.widget"
    label = "widget"
    verbose_name = "Chat widget"
