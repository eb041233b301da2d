"""Reading the tenant's audit log: newest first, a page at a time."""

from __future__ import annotations

from django.core.paginator import Page, Paginator

from chat.audit.models import AuditEntry

ENTRIES_PER_PAGE = 50


def audit_entry_page(*, page: int | str | None) -> Page:
    """The page `page` of the log (the last page for a number past it, the first for nonsense)."""
    return Paginator(AuditEntry.objects.all(), ENTRIES_PER_PAGE).get_page(page)
