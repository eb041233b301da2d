"""Recording staff actions in the tenant's audit log; called by the services that do them."""

from __future__ import annotations

from typing import Any

from chat.audit.models import AuditAction, AuditEntry
from config.logging import request_id_var, user_var

SYSTEM_ACTOR = "system"


def audit_record(*, action: AuditAction, target: str = "", details: dict[str, Any] | None = None,
                 actor: Any = None) -> AuditEntry:
    """One entry in the current tenant's log, in the caller's transaction (an action rolled back
    leaves no entry). `actor` is the user who acted; by default the request's logged-in user (the
    log context), or "system" for a command or task."""
    if actor is not None:
        name = actor.get_username()
    else:
        name = user_var.get()
        name = SYSTEM_ACTOR if name == "-" else name
    request_id = request_id_var.get()
    return AuditEntry.objects.create(actor=name[:254], action=action, target=target[:200], details=details or {},
                                     request_id="" if request_id == "-" else request_id)
