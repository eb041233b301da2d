from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "chat.api"
    label = "api"
    verbose_name = "REST API"

    def ready(self) -> None:
        # Registers the API key scheme with drf-spectacular (its extensions register on import).
        from chat.api import schema  # noqa: F401
