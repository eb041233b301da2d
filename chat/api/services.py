"""API keys: create (the key is returned once), revoke, and check a presented key."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from chat.api.models import ApiKey, Scope
from config.errors import NotFound, ValidationFailed

KEY_PREFIX = "dpk_"
_KEY_SHAPE = re.compile(r"^dpk_(?P<key_id>[0-9a-f]{16})_(?P<secret>[A-Za-z0-9_-]{43})$")
# Compared against when the presented key names no key of this tenant, so that answering "no such
# key" costs the same as answering "wrong secret".
_ABSENT_HASH = hashlib.sha256(b"no key has this hash").hexdigest()
# Last-used times are kept to the minute: one write a minute per key instead of one per request.
LAST_USED_PRECISION = timedelta(minutes=1)
NAME_MAX_LENGTH = 100


@dataclass(frozen=True)
class CreatedApiKey:
    api_key: ApiKey
    # The whole key: shown to whoever created it once and never stored.
    key: str


def _hash(key: str) -> str:
    # The key carries 256 random bits, so a plain digest is enough: nothing to guess from a leaked hash.
    return hashlib.sha256(key.encode()).hexdigest()


def api_key_scopes_parse(*, text: str) -> list[str]:
    """"read,conversations" -> the scopes in their canonical order; unknown or no scopes refused."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    return api_key_scopes_validate(scopes=names)


def api_key_scopes_validate(*, scopes: Iterable[str]) -> list[str]:
    wanted = set(scopes)
    unknown = sorted(wanted - set(Scope.values))
    if unknown:
        raise ValidationFailed(f"Unknown scope: {', '.join(unknown)}. Scopes are {', '.join(Scope.values)}.",
                               details={"field": "scopes", "unknown": unknown})
    if not wanted:
        raise ValidationFailed("A key needs at least one scope.", details={"field": "scopes"})
    return [scope for scope in Scope.values if scope in wanted]


def api_key_create(*, name: str, scopes: Iterable[str] | None = None, created_by_id: int | None = None) -> CreatedApiKey:
    """A new key for the current tenant; `scopes` None gives every scope."""
    name = name.strip()
    if not name:
        raise ValidationFailed("A key needs a name, to tell it apart later.", details={"field": "name"})
    if len(name) > NAME_MAX_LENGTH:
        raise ValidationFailed(f"A key's name has at most {NAME_MAX_LENGTH} characters.", details={"field": "name"})
    granted = list(Scope.values) if scopes is None else api_key_scopes_validate(scopes=scopes)
    key_id = secrets.token_hex(8)
    key = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey.objects.create(key_id=key_id, key_hash=_hash(key), name=name, scopes=granted,
                                    created_by_id=created_by_id)
    return CreatedApiKey(api_key=api_key, key=key)


def api_key_revoke(*, key_id: str) -> ApiKey:
    """Revoke the key at once: its next request is refused. Revoking twice keeps the first time."""
    api_key = ApiKey.objects.filter(key_id=key_id).first()
    if api_key is None:
        raise NotFound(f"There is no API key {key_id!r}.")
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    return api_key


def api_key_authenticate(*, presented: str) -> ApiKey | None:
    """The live key of the current tenant that `presented` is, or None.

    Every refusal (malformed, unknown here, another tenant's, wrong secret, revoked) does the same
    work and gives the same answer, so a caller cannot tell them apart.
    """
    shape = _KEY_SHAPE.match(presented)
    key_id = shape.group("key_id") if shape else "0" * 16
    api_key = ApiKey.objects.filter(key_id=key_id).first()
    stored_hash = api_key.key_hash if api_key is not None else _ABSENT_HASH
    matches = hmac.compare_digest(stored_hash, _hash(presented))
    if not (shape and api_key is not None and matches and api_key.revoked_at is None):
        return None
    api_key_touch(api_key=api_key)
    return api_key


def api_key_touch(*, api_key: ApiKey) -> None:
    now = timezone.now()
    updated = ApiKey.objects.filter(pk=api_key.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_PRECISION)).update(last_used_at=now)
    if updated:
        api_key.last_used_at = now
