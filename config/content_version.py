"""One content version per tenant, and the one cache of values derived from a tenant's content.

Everything an answer is drawn from (catalog, prices, stock, opening hours, business profile, knowledge,
widget and commerce settings) is the tenant's content. Every service that changes it calls
`content_version_bump()` in its transaction; once that commits, the tenant's version in Redis is
replaced by a new random token, which every web and worker process reads with its next answer.
Caches key what they keep by (schema, version): an entry made before a change is never found after it,
and nobody has to remember which cache a change touches.

A token rather than a counter: a Redis restarted without its data starts a new token, never a number
an old entry was keyed by. When Redis cannot be read, the version is None and callers compute without
a cache; when the bump itself cannot be written, it is promised through the outbox (retried until Redis
takes it), so answers are fresh again within the outbox relay's interval at worst.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextvars import ContextVar
from typing import Generic, TypeVar

import redis
from django.db import connection, transaction
from django_tenants.utils import get_public_schema_name, schema_context

from config.celery import Queue, tenant_task
from config.errors import ApplicationError
from config.redis import RedisScript, redis_client, redis_client_async, tenant_key

__all__ = ["ContentCache", "content_version_bump", "content_version_get", "content_version_get_async",
           "content_version_held"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

# The tenant's token, made on first read when there is none yet (a new tenant, a Redis without its data).
# KEYS: the version key. ARGV: a new token.
_READ_OR_START = RedisScript("""
local version = redis.call('GET', KEYS[1])
if version then
  return version
end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]
""")


# The version a piece of work (an answer's turn) read once and holds for everything it reads after:
# (schema, version). A ContextVar, so it follows the work into the database threads it hands off to
# (asgiref copies the context) and never leaks to another socket's or task's work.
_held: ContextVar[tuple[str, str | None] | None] = ContextVar("content_version_held", default=None)


@contextlib.contextmanager
def content_version_held(*, schema_name: str, version: str | None) -> Iterator[None]:
    """Inside: `content_version_get()` for this tenant is `version`, read once by the caller, with no
    trip to Redis; every cached value the work uses is the one of that version (a consistent view of
    the content, even when it changes halfway)."""
    token = _held.set((schema_name, version))
    try:
        yield
    finally:
        _held.reset(token)


def _version_key(schema_name: str) -> str:
    return tenant_key(schema_name, "content", "version")


def _tenant_schema() -> str:
    schema_name = str(connection.schema_name)
    if schema_name == get_public_schema_name():
        raise ApplicationError("The content version is read inside a tenant's schema.", code="no_tenant")
    return schema_name


def content_version_get() -> str | None:
    """The current tenant's content version; None when Redis cannot tell (then cache nothing).

    Read it before reading the content it keys: a change committed in between then keys an entry
    nobody asks for again, never a stale one."""
    schema_name = _tenant_schema()
    held = _held.get()
    if held is not None and held[0] == schema_name:
        return held[1]
    try:
        return str(_READ_OR_START(redis_client(), keys=[_version_key(schema_name)], args=[uuid.uuid4().hex]))
    except redis.RedisError:
        logger.warning("content version of %s unavailable; computing without caches", schema_name, exc_info=True)
        return None


async def content_version_get_async(*, schema_name: str) -> str | None:
    """content_version_get for async code, on the event loop's own Redis client."""
    try:
        version = await _READ_OR_START.run_async(redis_client_async(), keys=[_version_key(schema_name)],
                                                 args=[uuid.uuid4().hex])
    except redis.RedisError:
        logger.warning("content version of %s unavailable; computing without caches", schema_name, exc_info=True)
        return None
    return str(version)


def content_version_bump(*, schema_name: str | None = None) -> None:
    """The tenant's content changes in the current transaction: give it a new version once that
    commits (at once outside a transaction); a rolled-back change bumps nothing."""
    schema_name = schema_name or _tenant_schema()
    # Robust: the change is stored; a bump that cannot even be promised is logged, not the caller's error.
    transaction.on_commit(lambda: _version_replace(schema_name=schema_name), robust=True)


def _version_replace(*, schema_name: str) -> None:
    try:
        redis_client().set(_version_key(schema_name), uuid.uuid4().hex)
    except redis.RedisError:
        logger.error("could not bump the content version of %s; retrying through the outbox", schema_name,
                     exc_info=True)
        from config.outbox.services import outbox_send

        with schema_context(schema_name), transaction.atomic():
            outbox_send(task=content_version_bump_retry)


@tenant_task(queue=Queue.CRITICAL)
def content_version_bump_retry() -> None:
    """A bump Redis refused after its change committed (retried with backoff like every task)."""
    redis_client().set(_version_key(str(connection.schema_name)), uuid.uuid4().hex)


class ContentCache(Generic[T]):
    """Values derived from a tenant's content, kept in this process while its content version holds.

    Bounded: the least recently used entries go first, so a process serving thousands of tenants
    keeps only what it uses. An entry is keyed by the schema and `key`, so tenants never share one.
    """

    def __init__(self, *, entries: int = 64) -> None:
        self.entries = entries
        self._values: OrderedDict[tuple[str, Hashable], tuple[str, T]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, build: Callable[[], T], *, key: Hashable = None, usable: Callable[[T], bool] | None = None) -> T:
        """The current tenant's value for `key`, built (outside the lock) when missing, made under an
        older version, or no longer `usable` (a value that also expires with time)."""
        schema_name = str(connection.schema_name)
        version = None if schema_name == get_public_schema_name() else content_version_get()
        if version is None:
            return build()
        entry_key = (schema_name, key)
        with self._lock:
            cached = self._values.get(entry_key)
            if cached is not None and cached[0] == version and (usable is None or usable(cached[1])):
                self._values.move_to_end(entry_key)
                return cached[1]
        value = build()
        if connection.in_atomic_block:
            # Built from what an open transaction sees, which may never commit.
            return value
        with self._lock:
            self._values[entry_key] = (version, value)
            self._values.move_to_end(entry_key)
            while len(self._values) > self.entries:
                self._values.popitem(last=False)
        return value
