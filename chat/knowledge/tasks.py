"""Knowledge-base tasks (ingestion on `medium`, bulk re-index on `low`): take ids, call a service."""

from __future__ import annotations

import logging
from typing import Any

from django.db import connection
from django_tenants.utils import schema_context

from chat.knowledge import services
from config.celery import SCHEMA_HEADER, Queue, TenantTask, app, tenant_task

__all__ = ["kb_index_source", "kb_products_embed", "kb_reembed_stale", "kb_reindex_all", "kb_reindex_source"]

logger = logging.getLogger(__name__)


class IndexingTask(TenantTask):
    """Indexes one source (arguments: source id, job id). When it fails for good, after its dead
    letter is stored, the source is marked failed with the reason and counted in its job: without
    that, a bulk job would wait for it forever."""

    abstract = True

    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        super().on_failure(exc, task_id, args, kwargs, einfo)
        schema = self.request.get(SCHEMA_HEADER)
        call: dict[str, Any] = {**dict(zip(("source_id", "job_id"), args or (), strict=False)), **(kwargs or {})}
        if not schema or call.get("source_id") is None:  # refused before it ran: no tenant to write to
            return
        source_id = int(call["source_id"])
        try:
            with schema_context(schema):
                services.source_index_given_up(source_id=source_id, job_id=call.get("job_id"),
                                               attempts=self.request.retries + 1, error=f"{type(exc).__name__}: {exc}")
        except Exception:
            logger.exception("could not mark knowledge source %s of %s as failed", source_id, schema)
        finally:
            connection.set_schema_to_public()


@app.task(base=IndexingTask, deskpilot_queue=Queue.MEDIUM.value)
def kb_index_source(source_id: int, job_id: int | None = None) -> None:
    """Index one imported source; running it twice does nothing more (see services.source_index)."""
    services.source_index(source_id=source_id, job_id=job_id)


@app.task(base=IndexingTask, deskpilot_queue=Queue.LOW.value)
def kb_reindex_source(source_id: int, job_id: int | None = None) -> None:
    """Re-chunk and re-embed one source for a bulk job, on `low` so live work never waits behind it."""
    services.source_index(source_id=source_id, job_id=job_id, force=True)


@tenant_task(queue=Queue.LOW)
def kb_reindex_all() -> int:
    """Re-index every source of this tenant as a bulk job (`kb reindex --all-tenants --background`)."""
    job = services.kb_reindex(background=True)
    return int(job.pk)


@tenant_task(queue=Queue.LOW)
def kb_reembed_stale() -> int:
    """Re-embed chunks another embedding model made (after the model setting changed)."""
    return services.chunks_reembed_stale()


@tenant_task(queue=Queue.LOW)
def kb_products_embed() -> int:
    """Bring the catalog's product vectors up to date (after an import, a shop webhook, an edit)."""
    from chat.knowledge.product_vectors import product_vectors_refresh

    return product_vectors_refresh()
