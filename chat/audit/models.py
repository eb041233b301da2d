"""The audit log: what the business's staff did (logins, takeovers, exports, deletions, settings, keys,
team), one row per action, in the tenant's own schema. Append-only: the model refuses to change or
delete a row, and so does the database (a trigger, migration 0001), whoever asks."""

from __future__ import annotations

from typing import Any

from django.db import models


class AuditAction(models.TextChoices):
    LOGIN = "login", "Logged in"
    TAKEOVER = "takeover", "Took over a conversation"
    EXPORT = "export", "Exported data"
    DELETION = "deletion", "Deleted"
    SETTINGS_CHANGE = "settings_change", "Changed settings"
    KEY_CHANGE = "key_change", "Changed a key or secret"
    TEAM_CHANGE = "team_change", "Changed the team"


class AuditEntryRefused(Exception):
    """An audit row was about to be changed or deleted: it never is."""


class AuditEntry(models.Model):
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    # Who, as they logged in (kept as text: a teammate removed later still shows who they were);
    # "system" for a command or task.
    actor = models.CharField(max_length=254)
    action = models.CharField(max_length=20, choices=AuditAction.choices)
    # What it was done to, in words an owner reads ("conversation 12", "LLM API key").
    target = models.CharField(max_length=200, blank=True)
    details = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=128, blank=True)

    class Meta:
        ordering = ["-created", "-pk"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.actor} {self.action} {self.target}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise AuditEntryRefused("Audit entries are never changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise AuditEntryRefused("Audit entries are never deleted.")
