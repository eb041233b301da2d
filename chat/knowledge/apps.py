from django.apps import AppConfig


class KnowledgeConfig(AppConfig):
    name = "chat.knowledge"
    label = "knowledge"
    verbose_name = "Knowledge base"

    def ready(self) -> None:
        from orders.signals import catalog_changed

        catalog_changed.connect(_catalog_changed, dispatch_uid="knowledge-products-embed")


def _catalog_changed(**_: object) -> None:
    """Promise, in the catalog change's own transaction, that the product vectors follow it."""
    from chat.knowledge.tasks import kb_products_embed
    from config.outbox.services import outbox_send

    outbox_send(task=kb_products_embed)
