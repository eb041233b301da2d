"""Dashboard tasks: invitation e-mails (`medium`), the analytics roll-up (`low`). They take ids, call a
service, and may run twice."""

from __future__ import annotations

from chat.analytics import services as rollup
from chat.dashboard import services
from config.celery import Queue, tenant_task

__all__ = ["analytics_roll_up", "invitation_email_send"]


@tenant_task(queue=Queue.MEDIUM)
def invitation_email_send(invitation_id: int, base_url: str) -> bool:
    """E-mail a teammate their invitation link (sent once the invitation's row has committed)."""
    return services.invitation_email_send(invitation_id=invitation_id, base_url=base_url)


@tenant_task(queue=Queue.LOW)
def analytics_roll_up() -> int:
    """Store this tenant's finished days that are missing or stale (beat sends it to every tenant
    hourly, so each tenant's yesterday is stored soon after its own midnight, whatever its zone)."""
    return rollup.analytics_days_roll_up_finished()
