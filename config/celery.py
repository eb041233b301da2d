"""The one Celery app: four queues from one enum, tenant-aware tasks, retries and dead letters.

Every tenant task carries its tenant's schema in the message headers from the moment it is sent
(`TenantTask.apply_async` stamps the schema of the sending context) and runs inside that schema.
A tenant task without a schema refuses to run: it never falls back to the public schema.
"""

from __future__ import annotations

import enum
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from celery import Celery, Task
from celery.exceptions import Reject
from celery.signals import worker_process_init, worker_process_shutdown
from kombu import Exchange
from kombu import Queue as KombuQueue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

logger = logging.getLogger("deskpilot.tasks")

SCHEMA_HEADER = "deskpilot_schema"
REQUEST_ID_HEADER = "deskpilot_request_id"
# The outbox row (outbox.models.OutboxMessage, in the task's tenant schema) a task was sent for: the
# task notes there that it finished, retries or gave up, so the relay knows what is still owed.
OUTBOX_HEADER = "deskpilot_outbox"
# When the task was sent (time.time()): how long the oldest task has waited in its queue (config.backlog).
SENT_AT_HEADER = "deskpilot_sent_at"


class Queue(enum.StrEnum):
    """Kinds of work, most urgent first; a worker serves them in this order."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


QUEUE_ORDER = ",".join(queue.value for queue in Queue)


@dataclass(frozen=True)
class DeadLetterStore:
    """Where tasks' failures are kept: `note_failure(task_id=)` on each retry, `record(...)` once a task
    gives up. The app that owns the table registers it (tenants, in its AppConfig.ready), so this
    module, below every app, imports none of them."""

    note_failure: Callable[..., None]
    record: Callable[..., Any]


_dead_letter_store: DeadLetterStore | None = None


def dead_letter_store_register(store: DeadLetterStore) -> None:
    global _dead_letter_store
    _dead_letter_store = store


def _dead_letters() -> DeadLetterStore:
    if _dead_letter_store is None:
        raise RuntimeError("no dead-letter store registered: is the tenants app installed?")
    return _dead_letter_store


app = Celery("deskpilot")
app.config_from_object("django.conf:settings", namespace="CELERY")


@worker_process_init.connect
def _freeze_after_start(**_: Any) -> None:
    # Each pool process, once forked with the app loaded (see config.startup).
    from config.startup import freeze_loaded_objects
    from config.tracing import observability_configure

    observability_configure(process="worker")
    freeze_loaded_objects()


@worker_process_shutdown.connect
def _flush_spans(**_: Any) -> None:
    from config.tracing import observability_flush

    observability_flush()


@app.on_after_configure.connect
def _configure_queues(sender: Celery, **_: Any) -> None:
    from django.conf import settings

    sender.conf.task_queues = [
        KombuQueue(queue.value, Exchange(queue.value, type="direct"), routing_key=queue.value) for queue in Queue
    ]
    sender.conf.task_default_queue = Queue.MEDIUM.value
    sender.conf.task_routes = (_route_by_declared_queue,)
    sender.conf.broker_transport_options = {
        # A task whose worker died without acknowledging it is delivered again once it has been
        # invisible this long; the sweep that finds such tasks runs every restore interval.
        "visibility_timeout": settings.CELERY_BROKER_VISIBILITY_TIMEOUT,
        "unacked_restore_interval": settings.CELERY_UNACKED_RESTORE_INTERVAL,
        "unacked_restore_throttle": 1,
        # Check the queues in the order given (-Q critical,high,medium,low) on every fetch,
        # instead of kombu's default round robin, so urgent work is never behind a backlog.
        "queue_order_strategy": "priority",
    }
    sender.conf.broker_connection_retry_on_startup = True
    sender.conf.worker_hijack_root_logger = False
    sender.conf.task_send_sent_event = False
    sender.conf.task_ignore_result = True


def _route_by_declared_queue(name: str, args: Any, kwargs: Any, options: Any, task: Any = None, **_: Any) -> Any:
    """Every task declares its queue (tenant_task / platform_task); route it there."""
    queue = getattr(task, "deskpilot_queue", None)
    return {"queue": queue} if queue else None


class MissingTenant(Exception):
    """A tenant task arrived without a tenant: a programming error, never retried."""


class DeskpilotTask(Task):
    """Base for every task: retries with exponential backoff and jitter, then the dead-letter store."""

    abstract = True
    tenant_required = False
    autoretry_for = (Exception,)
    dont_autoretry_for = (MissingTenant, Reject)
    retry_backoff = 1
    retry_jitter = True

    @property
    def max_retries(self) -> int:  # type: ignore[override]
        from django.conf import settings

        return settings.CELERY_TASK_MAX_RETRIES

    @property
    def retry_backoff_max(self) -> int:  # type: ignore[override]
        from django.conf import settings

        return settings.CELERY_RETRY_BACKOFF_MAX_SECONDS

    def apply_async(self, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
        from django.db import connection

        from config.logging import request_id_var

        headers = options.setdefault("headers", {}) or {}
        options["headers"] = headers
        if SCHEMA_HEADER not in headers:
            headers[SCHEMA_HEADER] = getattr(connection, "schema_name", None)
        if request_id_var.get() != "-":
            headers.setdefault(REQUEST_ID_HEADER, request_id_var.get())
        headers[SENT_AT_HEADER] = time.time()
        return super().apply_async(args, kwargs, **options)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from django.db import close_old_connections, connection

        from config.logging import log_context
        from config.tracing import span_context_note

        # As Django does at the start of a request: drop a connection that is past
        # DATABASE_CONN_MAX_AGE or broke in an earlier task, and reuse it otherwise. Never for a
        # task run in-process (eagerly) inside the caller's transaction, which it would close.
        if not self.request.is_eager and not connection.in_atomic_block:
            close_old_connections()
        request_id = self.request.get(REQUEST_ID_HEADER) or self.request.id
        schema = self.request.get(SCHEMA_HEADER)
        with log_context(request_id=request_id, user="-", schema=schema or "public"):
            span_context_note(request_id=request_id, tenant=schema)
            if not self.tenant_required:
                return super().__call__(*args, **kwargs)
            return self._call_in_tenant(schema, args, kwargs)

    def _call_in_tenant(self, schema: str | None, args: Any, kwargs: Any) -> Any:
        from django.db import connection
        from django_tenants.utils import get_public_schema_name, get_tenant_model, tenant_context

        if not schema or schema == get_public_schema_name():
            raise MissingTenant(f"task {self.name} was sent without a tenant; refusing to run it on the public schema")
        connection.set_schema_to_public()
        tenant = get_tenant_model().objects.filter(schema_name=schema).first()
        if tenant is None:
            logger.warning("task %s skipped: tenant %s no longer exists", self.name, schema)
            return None
        if not tenant.is_active:
            logger.info("task %s skipped: tenant %s is suspended", self.name, schema)
            return None
        try:
            with tenant_context(tenant):
                result = super().__call__(*args, **kwargs)
                self._outbox_done()
                return result
        finally:
            connection.set_schema_to_public()

    def _outbox_done(self) -> None:
        message_id = self.request.get(OUTBOX_HEADER)
        if message_id is not None:
            from config.outbox.services import outbox_note_done

            outbox_note_done(message_id=int(message_id))

    def _outbox_note(self, *, given_up: bool, exc: BaseException) -> None:
        """Tell the task's outbox row it retries or gave up; never lets that bookkeeping hide the failure."""
        message_id, schema = self.request.get(OUTBOX_HEADER), self.request.get(SCHEMA_HEADER)
        if message_id is None or not schema:
            return
        from config.outbox.services import outbox_note_given_up, outbox_note_retrying

        note = outbox_note_given_up if given_up else outbox_note_retrying
        try:
            note(schema_name=schema, message_id=int(message_id), error=f"{type(exc).__name__}: {exc}")
        except Exception:
            logger.exception("task %s: could not note its outbox row %s", self.name, message_id)

    def on_retry(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        self._outbox_note(given_up=False, exc=exc)
        _dead_letters().note_failure(task_id=task_id)
        logger.warning("task %s[%s] failed, retrying: %s", self.name, task_id, exc)

    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        logger.error("task %s[%s] failed for good: %s", self.name, task_id, exc, exc_info=exc)
        _dead_letters().record(
            task_name=self.name,
            task_id=task_id,
            schema_name=self.request.get(SCHEMA_HEADER),
            queue=(self.request.delivery_info or {}).get("routing_key") or getattr(self, "deskpilot_queue", ""),
            args=list(args or ()),
            kwargs=dict(kwargs or {}),
            error=f"{type(exc).__name__}: {exc}",
            traceback=str(einfo),
            attempts=self.request.retries + 1,
        )
        self._outbox_note(given_up=True, exc=exc)


class TenantTask(DeskpilotTask):
    abstract = True
    tenant_required = True


def tenant_task(*, queue: Queue, **options: Any) -> Any:
    """Declare a task that does one tenant's work; it runs only inside that tenant's schema."""
    return app.task(base=TenantTask, deskpilot_queue=queue.value, **options)


def platform_task(*, queue: Queue, **options: Any) -> Any:
    """Declare a task that works on the public schema (dispatchers, platform housekeeping)."""
    return app.task(base=DeskpilotTask, deskpilot_queue=queue.value, **options)


app.autodiscover_tasks()
