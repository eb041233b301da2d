"""Platform tasks: the per-tenant dispatcher for beat, and the dead-letter clean-up."""

from __future__ import annotations

from django_tenants.utils import schema_context

from config.celery import Queue, platform_task


@platform_task(queue=Queue.LOW)
def dispatch_to_active_tenants(task_name: str) -> int:
    """Send one tenant task to every active tenant, each stamped with its own schema (beat uses this)."""
    from config.celery import app
    from tenants.selectors import active_tenant_schemas

    task = app.tasks[task_name]
    schemas = active_tenant_schemas()
    for schema in schemas:
        with schema_context(schema):
            task.apply_async()
    return len(schemas)


@platform_task(queue=Queue.LOW)
def deadletter_prune(days: int = 30) -> int:
    """Forget dead letters that were replayed more than `days` ago."""
    from datetime import timedelta

    from django.utils import timezone

    from tenants.models import DeadLetter

    deleted, _ = DeadLetter.objects.filter(replayed_at__lt=timezone.now() - timedelta(days=days)).delete()
    return int(deleted)


@platform_task(queue=Queue.LOW)
def tenants_purge_due() -> list[str]:
    """Purge the tenants whose deletion grace period has passed."""
    from tenants.deletion import tenants_purge_due as purge

    return purge()
@platform_task(queue=Queue.CRITICAL)
def queue_backlog_publish() -> int:
    """Beat, every minute: the queue backlog to CloudWatch (the workers' autoscaling signal), when configured.
    On `critical`, the queue served first, so a backlog elsewhere does not delay its own measure."""
    from config.cloudwatch import queue_backlog_publish as publish
    from tenants.selectors import deadletter_list

    return publish(dead_letters=deadletter_list().count())
