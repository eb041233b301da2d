"""Reads of API keys."""

from __future__ import annotations

from django.db.models import QuerySet

from chat.api.models import ApiKey


def api_key_list(*, include_revoked: bool = True) -> QuerySet[ApiKey]:
    keys = ApiKey.objects.all()
    return keys if include_revoked else keys.filter(revoked_at__isnull=True)
