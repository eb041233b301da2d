"""API keys: create (the key is returned once), revoke, and check a presented key."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from redis.exceptions import RedisError

from chat.api.models import ApiKey, IdempotencyRecord, Scope
from config.errors import ApplicationError, NotFound, ValidationFailed
from config.redis import RedisScript, redis_client, tenant_key

logger = logging.getLogger(__name__)

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


# ------------------------------------------------------------------------------ idempotency

IDEMPOTENCY_KEY_SHAPE = re.compile(r"^[\x21-\x7e]{1,255}$")
# A request still unanswered this long after it started is taken as abandoned (its process died): a
# retry with the same key runs it again rather than waiting for ever.
IDEMPOTENCY_ABANDONED_AFTER = timedelta(minutes=5)


@dataclass(frozen=True)
class IdempotentStart:
    """Either a stored answer to replay, or the record to finish once this request is answered."""

    record: IdempotencyRecord
    replay: bool


def idempotency_begin(*, api_key: ApiKey, key: str, fingerprint: str) -> IdempotentStart:
    """Claim `key` for this request, or find the answer already given to it.

    The same key with another request is refused (422), and while the first request is still being
    answered a second one is told to retry (409): neither ever runs twice.
    """
    if not IDEMPOTENCY_KEY_SHAPE.match(key):
        raise ValidationFailed("An Idempotency-Key is 1 to 255 printable ASCII characters, without spaces.",
                               code="idempotency_key_invalid", details={"header": "Idempotency-Key"})
    now = timezone.now()
    kept_since = now - timedelta(hours=settings.API_IDEMPOTENCY_KEEP_HOURS)
    for _ in range(2):
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(api_key=api_key, key=key, fingerprint=fingerprint)
            return IdempotentStart(record=record, replay=False)
        except IntegrityError:
            existing = IdempotencyRecord.objects.filter(api_key=api_key, key=key).first()
        if existing is None:
            continue  # finished and removed in between: claim it afresh
        abandoned = existing.status_code is None and existing.created_at < now - IDEMPOTENCY_ABANDONED_AFTER
        if existing.created_at < kept_since or abandoned:
            existing.delete()
            continue
        if existing.fingerprint != fingerprint:
            raise ApplicationError("This Idempotency-Key was already used with a different request.",
                                   code="idempotency_key_reused", status=422,
                                   details={"header": "Idempotency-Key"})
        if existing.status_code is None:
            raise ApplicationError("A request with this Idempotency-Key is still being answered; retry shortly.",
                                   code="idempotency_key_in_progress", status=409,
                                   details={"header": "Idempotency-Key", "retry_after": 1})
        return IdempotentStart(record=existing, replay=True)
    raise ApplicationError("A request with this Idempotency-Key is still being answered; retry shortly.",
                           code="idempotency_key_in_progress", status=409, details={"retry_after": 1})


def idempotency_finish(*, record: IdempotencyRecord, status_code: int, content_type: str, body: bytes) -> None:
    """Keep the answer for replays; a server error is not kept, so the same key may try again."""
    if status_code >= 500:
        record.delete()
        return
    record.status_code, record.content_type, record.body = status_code, content_type[:100], body
    record.save(update_fields=["status_code", "content_type", "body"])
    # Old records of this key go as new ones come, so the table holds about a day of requests.
    IdempotencyRecord.objects.filter(
        api_key_id=record.api_key_id,
        created_at__lt=timezone.now() - timedelta(hours=settings.API_IDEMPOTENCY_KEEP_HOURS)).delete()


# ------------------------------------------------------------------------------ rate limits

API_RATE_WINDOW_SECONDS = 60
# One hit in a fixed window that the first hit opens. KEYS: the bucket; ARGV: the window's seconds.
# Returns the hits so far in the window and the seconds until it ends.
_RATE_SCRIPT = RedisScript("""
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
""")


@dataclass(frozen=True)
class RateState:
    limit: int
    remaining: int
    reset_seconds: int

    @property
    def allowed(self) -> bool:
        return self.remaining >= 0


def api_rate_limit_hit(*, schema_name: str, api_key: ApiKey) -> RateState | None:
    """Count one request against the key's limit (API_RATE_LIMIT_PER_MINUTE, shared by every web
    process through Redis). None when there is no limit, or Redis cannot be asked: the API keeps
    answering without limits rather than failing every request."""
    limit = settings.API_RATE_LIMIT_PER_MINUTE
    if limit <= 0:
        return None
    try:
        count, ttl = _RATE_SCRIPT(redis_client(), keys=[tenant_key(schema_name, "api-rate", api_key.key_id)],
                                  args=[API_RATE_WINDOW_SECONDS])
    except RedisError:
        logger.warning("API rate limit not checked: Redis unavailable", exc_info=True)
        return None
    return RateState(limit=limit, remaining=limit - int(count), reset_seconds=max(1, int(ttl)))
