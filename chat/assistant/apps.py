import importlib

from django.apps import AppConfig


class AssistantConfig(AppConfig):
    name = "chat.assistant"
    label = "assistant"
    verbose_name = "Assistant"

    def ready(self) -> None:
        from config.startup import before_server_stops, when_server_starts

        when_server_starts(assistant_server_prepare)
        before_server_stops(assistant_server_stop)


def assistant_server_prepare() -> None:
    """Load the assistant's modules (and the openai client's) now rather than on the first answer, which
    would otherwise stall every socket of the process while they are imported."""
    from chat.assistant.http import default_ssl_context

    importlib.import_module("chat.assistant.engine")
    default_ssl_context()  # the CA bundle, read now rather than on the loop when the first answer starts


async def assistant_server_stop() -> None:
    """The server's loop is ending: close its LLM clients' connections (after the answers above finished)."""
    from chat.assistant.llm import llm_clients_close

    await llm_clients_close()
