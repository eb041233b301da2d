"""Answer cache for frequent questions: per tenant, per knowledge version, one model call at a time.

An entry is found by the tenant's schema, the knowledge version, the language and the normalized
question. The version is computed from the tenant's data itself (`knowledge_version`), so any
change to the knowledge base, catalog, opening hours or profile makes every older entry
unreachable without anyone having to remember to clear anything; old entries expire on their own.

Identical questions asked at the same time (a shop's newsletter just went out) make one model
call: the first takes a Redis lock for the question and computes, the others poll for its answer.
They answer on their own when it turns out not cacheable, when it fails, or after waiting
ASSISTANT_CACHE_WAIT_SECONDS. The lock lives in Redis, so this holds across web processes.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import unicodedata
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

import redis
from django.conf import settings
from django.db import connection
from django_tenants.utils import get_public_schema_name

from chat.conversations.models import BusinessProfile
from chat.knowledge.models import KnowledgeSource
from config.errors import ApplicationError
from config.redis import RedisScript, redis_client_async, tenant_key
from orders.models import CommerceSettings, Product, SpecialDay, SpecialDayOpening, Variant, WeeklyOpening

__all__ = ["CachedAnswer", "answer_cache_get_or_compute", "knowledge_fingerprint_sql", "knowledge_version",
           "knowledge_version_of", "normalize_question"]

logger = logging.getLogger(__name__)

# How often a waiting question looks for the first one's answer.
POLL_INTERVAL_SECONDS = 0.05


@dataclass(frozen=True)
class CachedAnswer:
    text: str
    sources: list[dict[str, Any]]
    tool_calls: list[dict[str, Any]]
    confidence: float | None
    # How the answer was first made (llm or offline); the caller records a served copy as "cache".
    mode: str
    quick_replies: list[str]

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str) -> CachedAnswer:
        data = json.loads(raw)
        confidence = data.get("confidence")
        return cls(
            text=str(data["text"]),
            sources=list(data.get("sources") or []),
            tool_calls=list(data.get("tool_calls") or []),
            confidence=None if confidence is None else float(confidence),
            mode=str(data.get("mode") or ""),
            quick_replies=[str(reply) for reply in data.get("quick_replies") or []],
        )


# ----------------------------------------------------------------------------- knowledge version

# Every table an answer can be drawn from. Orders are not here: answers about an order are never
# cached (the caller's compute returns None for them).
# Chunks are not read here: a knowledge base of 100,000 chunks is hundreds of megabytes to scan on
# every answer. Every change to chunks bumps the knowledge base's counter in Redis after it commits
# (chat.knowledge.services), which is part of the version instead.
_VERSIONED_MODELS = (
    KnowledgeSource,
    Product,
    Variant,
    CommerceSettings,
    WeeklyOpening,
    SpecialDay,
    SpecialDayOpening,
    BusinessProfile,
)


def knowledge_fingerprint_sql() -> str:
    """One scalar SELECT of the knowledge tables' fingerprint in the current schema; with the knowledge
    base's counter, knowledge_version_of() makes the version of it."""
    # Per table: the row count, which changes on every insert and delete, and the sum of the rows'
    # xmin, the id of the transaction that wrote each row's current version. Any UPDATE, through
    # save(), QuerySet.update() or raw SQL, gives the row a new xmin and so a new sum; max(updated)
    # would miss updates that skip auto_now (QuerySet.update() does, and the knowledge services use
    # it) and does not exist on chunks and opening hours. Freezing keeps the raw xmin, so VACUUM
    # changes nothing. The cost is one sequential read of each table, as count(*) or max(updated)
    # would need anyway without an index.
    quote = connection.ops.quote_name
    per_table = [
        f"(SELECT count(*) || '/' || coalesce(sum(xmin::text::bigint), 0) FROM {quote(model._meta.db_table)})"
        for model in _VERSIONED_MODELS
    ]
    return f"SELECT concat_ws(';', {', '.join(per_table)})"


def _require_tenant_schema() -> None:
    if connection.schema_name == get_public_schema_name():
        raise ApplicationError("The knowledge version is read inside a tenant's schema.", code="no_tenant")


def knowledge_version_of(fingerprint: str) -> str:
    """The version from the tables' fingerprint, read in the current tenant's schema."""
    _require_tenant_schema()
    from chat.knowledge.services import kb_version

    return hashlib.sha256(f"{fingerprint};chunks:{kb_version()}".encode()).hexdigest()[:16]


def knowledge_version() -> str:
    """A short string that changes whenever anything an answer may be drawn from changes, in the
    current tenant's schema. Read it at the start of an answer, before searching."""
    _require_tenant_schema()
    with connection.cursor() as cursor:
        cursor.execute(knowledge_fingerprint_sql())
        fingerprint = cursor.fetchone()[0]
    return knowledge_version_of(fingerprint)


# ----------------------------------------------------------------------------- questions

_APOSTROPHE_IN_WORD = re.compile(r"(?<=\w)['\u2019](?=\w)")
# Punctuation that carries meaning of its own ("5% off", an e-mail address, "M&S").
_MEANINGFUL_PUNCTUATION = frozenset("%@&")


def normalize_question(text: str) -> str:
    """The question with case, spacing and punctuation that do not change its meaning evened out.

    Punctuation between two digits stays, so "3.5" is not "35" and "10:30" is not "1030".
    """
    text = _APOSTROPHE_IN_WORD.sub("", unicodedata.normalize("NFKC", text).casefold())
    kept: list[str] = []
    for index, char in enumerate(text):
        if (
            unicodedata.category(char).startswith("P")
            and char not in _MEANINGFUL_PUNCTUATION
            and not _between_digits(text, index)
        ):
            kept.append(" ")
        else:
            kept.append(char)
    return " ".join("".join(kept).split())


def _between_digits(text: str, index: int) -> bool:
    return 0 < index < len(text) - 1 and text[index - 1].isdigit() and text[index + 1].isdigit()


def _answer_key(*, schema_name: str, language: str, question: str, version: str) -> str:
    question_hash = hashlib.sha256(normalize_question(question).encode()).hexdigest()
    return tenant_key(schema_name, "answer", version, language.strip().lower(), question_hash)


# ----------------------------------------------------------------------------- get or compute

# Deletes the lock only if this caller still holds it: a lock that expired during a slow compute
# may belong to another process by now.
_RELEASE_SCRIPT = RedisScript("""
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
""")


@dataclass(frozen=True)
class _Keys:
    answer: str
    lock: str
    # Set by a leader whose answer was not cacheable, so its waiters answer on their own at once
    # instead of taking the lock one after another.
    uncacheable: str


async def answer_cache_get_or_compute(
    *,
    schema_name: str,
    language: str,
    question: str,
    version: str,
    compute: Callable[[], Awaitable[CachedAnswer | None]],
    ttl_seconds: int | None = None,
) -> tuple[CachedAnswer | None, bool]:
    """The cached answer, or `compute`'s; and whether it came from the cache.

    `compute` returns None for an answer that must not be reused (it looked up an order, say):
    nothing is stored. `ttl_seconds` defaults to ASSISTANT_CACHE_TTL_SECONDS, read at call time.
    When Redis fails, the question is answered as if there were no cache.
    """
    if not settings.ASSISTANT_CACHE_ENABLED:
        return await compute(), False
    answer_key = _answer_key(schema_name=schema_name, language=language, question=question, version=version)
    keys = _Keys(answer=answer_key, lock=f"{answer_key}:lock", uncacheable=f"{answer_key}:uncacheable")
    ttl = settings.ASSISTANT_CACHE_TTL_SECONDS if ttl_seconds is None else ttl_seconds
    wait_seconds = float(settings.ASSISTANT_CACHE_WAIT_SECONDS)
    lock_token = uuid.uuid4().hex
    try:
        cached, leading = await _wait_or_lead(keys=keys, lock_token=lock_token, wait_seconds=wait_seconds)
    except redis.RedisError:
        logger.warning("answer cache unavailable for %s; answering without it", schema_name, exc_info=True)
        return await compute(), False
    if cached is not None:
        return cached, True
    if not leading:
        answer = await compute()
        if answer is not None:
            await _store(keys=keys, answer=answer, ttl_seconds=ttl)
        return answer, False
    try:
        answer = await compute()
    except BaseException:
        # Cancelled or failed: give the question back at once so a waiter takes over.
        await asyncio.shield(_release(keys=keys, lock_token=lock_token))
        raise
    await asyncio.shield(
        _lead_finish(keys=keys, lock_token=lock_token, answer=answer, ttl_seconds=ttl, wait_seconds=wait_seconds)
    )
    return answer, False


# One round trip per look, atomic: the answer if cached; else "uncacheable" if a leader found it
# could not be shared; else the lock if free (this caller leads); else "wait".
# KEYS: answer, lock, uncacheable. ARGV: lock token, lock milliseconds.
_LOOK_OR_LEAD_SCRIPT = RedisScript("""
local cached = redis.call('GET', KEYS[1])
if cached then
  return {'cached', cached}
end
if redis.call('EXISTS', KEYS[3]) == 1 then
  return {'uncacheable'}
end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {'lead'}
end
return {'wait'}
""")


async def _wait_or_lead(*, keys: _Keys, lock_token: str, wait_seconds: float) -> tuple[CachedAnswer | None, bool]:
    """(answer, False) when cached; (None, True) when this caller holds the lock and must compute;
    (None, False) when it must compute on its own."""
    # The event loop's own client, not a thread: a burst of answers would queue for the few threads.
    deadline = asyncio.get_running_loop().time() + wait_seconds
    lock_ms = max(1, int(wait_seconds * 1000))
    while True:
        verdict = await _LOOK_OR_LEAD_SCRIPT.run_async(redis_client_async(), keys=[keys.answer, keys.lock, keys.uncacheable],
                                                       args=[lock_token, lock_ms])
        if verdict[0] == "cached":
            cached = _parse(verdict[1], keys=keys)
            if cached is not None:
                return cached, False
            # Unreadable: answer on our own; the new answer replaces it.
            return None, False
        if verdict[0] == "uncacheable":
            return None, False
        if verdict[0] == "lead":
            return None, True
        if asyncio.get_running_loop().time() >= deadline:
            logger.info("gave up waiting for an identical question's answer after %ss", wait_seconds)
            return None, False
        await asyncio.sleep(POLL_INTERVAL_SECONDS)


def _parse(raw: str | None, *, keys: _Keys) -> CachedAnswer | None:
    if raw is None:
        return None
    try:
        return CachedAnswer.from_json(raw)
    except (ValueError, KeyError, TypeError):
        logger.warning("unreadable cached answer at %s; answering again", keys.answer, exc_info=True)
        return None


async def _store(*, keys: _Keys, answer: CachedAnswer, ttl_seconds: int) -> None:
    try:
        await redis_client_async().set(keys.answer, answer.to_json(), ex=ttl_seconds)
    except redis.RedisError:
        logger.warning("could not cache an answer at %s", keys.answer, exc_info=True)


# The answer (or the uncacheable mark) goes in before the lock comes off, in one step: waiters
# that see the lock gone always find one or the other.
# KEYS: answer, lock, uncacheable. ARGV: lock token, answer JSON ("" when not cacheable), answer TTL
# seconds, mark milliseconds.
_LEAD_FINISH_SCRIPT = RedisScript("""
if ARGV[2] ~= '' then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
else
  redis.call('SET', KEYS[3], '1', 'PX', ARGV[4])
end
if redis.call('GET', KEYS[2]) == ARGV[1] then
  redis.call('DEL', KEYS[2])
end
return 1
""")


async def _lead_finish(
    *, keys: _Keys, lock_token: str, answer: CachedAnswer | None, ttl_seconds: int, wait_seconds: float
) -> None:
    try:
        await _LEAD_FINISH_SCRIPT.run_async(
            redis_client_async(), keys=[keys.answer, keys.lock, keys.uncacheable],
            args=[lock_token, "" if answer is None else answer.to_json(), ttl_seconds,
                  max(1, int(wait_seconds * 1000))])
    except redis.RedisError:
        logger.warning("could not finish the cache entry %s; its lock expires on its own", keys.answer, exc_info=True)


async def _release(*, keys: _Keys, lock_token: str) -> None:
    try:
        await _RELEASE_SCRIPT.run_async(redis_client_async(), keys=[keys.lock], args=[lock_token])
    except redis.RedisError:
        logger.warning("could not release the lock of %s; it expires on its own", keys.answer, exc_info=True)
