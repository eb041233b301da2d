"""Knowledge-base tasks (ingestion on `medium`, bulk re-index on `low`): take ids, call a service."""

from __future__ import annotations

from chat.knowledge import services
from config.celery import Queue, tenant_task

__all__ = ["kb_index_source", "kb_reembed_stale", "kb_reindex_all", "kb_reindex_source"]


@tenant_task(queue=Queue.MEDIUM)
def kb_index_source(source_id: int, job_id: int | None = None) -> None:
    """Index one imported source; running it twice does nothing more (see services.source_index)."""
    services.source_index(source_id=source_id, job_id=job_id)


@tenant_task(queue=Queue.LOW)
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

