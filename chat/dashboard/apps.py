from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "chat.dashboard"
    label = "dashboard"
    verbose_name = "Dashboard: team and inbox"
