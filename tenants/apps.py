from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Tenants and platform"

    def ready(self) -> None:
        # The dead-letter table is ours; the Celery plumbing below every app is told where it is.
        from config.celery import DeadLetterStore, dead_letter_store_register
        from tenants.services import deadletter_note_failure, deadletter_record

        dead_letter_store_register(DeadLetterStore(note_failure=deadletter_note_failure, record=deadletter_record))
        # The platform's figures at each /metrics scrape (config.metrics imports no app).
        from config.metrics import scrape_collector_register
        from tenants.metrics import deadletters_collect, outbox_collect, usage_collect

        for collect in (deadletters_collect, outbox_collect, usage_collect):
            scrape_collector_register(collect)
