"""Guards around calls to an LLM provider: typed errors, a shared circuit breaker, a per-tenant cap.

State lives in Redis so every web and worker process sees the same circuit and the same count of
a tenant's calls in flight. Redis time (TIME inside the scripts) is the one clock, so processes on
hosts whose clocks disagree still agree on when a circuit reopens or a lease expires.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import redis

from config.errors import ApplicationError
from config.redis import RedisScript, redis_client_async, tenant_key

logger = logging.getLogger(__name__)


class LLMError(ApplicationError):
    """The language model gave no usable answer; the caller answers in offline mode instead."""

    code = "llm_error"
    status = 503


class LLMUnavailable(LLMError):
    """The provider could not be used now (circuit open, timeout, rate limit, busy tenant, outage).

    `after_output` is True when part of the answer had already been streamed to the caller before
    the failure: that text must be treated as incomplete.
    """

    code = "llm_unavailable"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None,
                 after_output: bool = False) -> None:
        super().__init__(message, code=code, details=details)
        self.after_output = after_output


class LLMRequestRejected(LLMError):
    """The provider refused the request itself (bad key, unknown model, context too long): retrying
    the same request cannot help, so it is never retried and never counts against the circuit."""

    code = "llm_request_rejected"
    status = 502


# Error codes, so callers and dashboards can tell the cases apart.
CODE_CIRCUIT_OPEN = "llm_circuit_open"
CODE_TENANT_BUSY = "llm_tenant_busy"
CODE_FIRST_TOKEN_TIMEOUT = "llm_first_token_timeout"
CODE_TIMEOUT = "llm_timeout"
CODE_RATE_LIMITED = "llm_rate_limited"
CODE_PROVIDER_ERROR = "llm_provider_error"
CODE_CONNECTION_FAILED = "llm_connection_failed"
CODE_AUTH_FAILED = "llm_auth_failed"


def provider_fingerprint(base_url: str) -> str:
    """A short stable id for a provider endpoint, safe to put in keys and logs."""
    return hashlib.sha256(base_url.rstrip("/").encode()).hexdigest()[:16]


def circuit_key(base_url: str) -> str:
    return f"deskpilot:llm:circuit:{provider_fingerprint(base_url)}"


@dataclass(frozen=True)
class CircuitPolicy:
    failure_threshold: int
    window_seconds: float
    cooldown_seconds: float
    # How long one half-open trial call may hold the trial slot before another may try.
    probe_seconds: float


# KEYS[1] state hash {open_until, probe_until}; KEYS[2] sorted set of failure times.
# ARGV: probe_seconds. Returns {verdict, seconds_until_retry}: closed | probe | open.
_ADMIT_SCRIPT = RedisScript("""
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local open_until = tonumber(redis.call('HGET', KEYS[1], 'open_until') or '0')
if open_until == 0 then
  return {'closed', '0'}
end
if now < open_until then
  return {'open', tostring(open_until - now)}
end
local probe_until = tonumber(redis.call('HGET', KEYS[1], 'probe_until') or '0')
if now < probe_until then
  return {'open', tostring(probe_until - now)}
end
redis.call('HSET', KEYS[1], 'probe_until', tostring(now + tonumber(ARGV[1])))
return {'probe', '0'}
""")

# ARGV: threshold, window, cooldown, member id, state ttl. Returns 'open' or 'closed'.
_FAILURE_SCRIPT = RedisScript("""
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local open_until = tonumber(redis.call('HGET', KEYS[1], 'open_until') or '0')
local ttl = math.ceil(tonumber(ARGV[5]))
if open_until > 0 then
  if now >= open_until then
    -- A half-open trial failed: the provider is still down, wait another cooldown.
    redis.call('HSET', KEYS[1], 'open_until', tostring(now + tonumber(ARGV[3])))
    redis.call('HDEL', KEYS[1], 'probe_until')
    redis.call('EXPIRE', KEYS[1], ttl)
  end
  return 'open'
end
redis.call('ZADD', KEYS[2], now, ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[2]))
redis.call('EXPIRE', KEYS[2], math.ceil(tonumber(ARGV[2])))
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'open_until', tostring(now + tonumber(ARGV[3])))
  redis.call('EXPIRE', KEYS[1], ttl)
  redis.call('DEL', KEYS[2])
  return 'open'
end
return 'closed'
""")

# A success while the circuit is half-open closes it; a success while closed changes nothing
# (failures age out of the window on their own).
_SUCCESS_SCRIPT = RedisScript("""
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local open_until = tonumber(redis.call('HGET', KEYS[1], 'open_until') or '0')
if open_until > 0 and now >= open_until then
  redis.call('DEL', KEYS[1], KEYS[2])
  return 'closed'
end
if open_until > 0 then
  return 'open'
end
return 'closed'
""")


async def circuit_admit(*, base_url: str, policy: CircuitPolicy) -> bool:
    """Raise LLMUnavailable while the provider's circuit is open; True when this call is the
    half-open trial whose outcome decides whether the circuit closes."""
    key = circuit_key(base_url)
    result = await _run_script(_ADMIT_SCRIPT, keys=[key, f"{key}:failures"], args=[policy.probe_seconds])
    if result is None:
        return False
    verdict, wait = result[0], float(result[1])
    if verdict == "open":
        raise LLMUnavailable(
            "The language model provider is failing; answering without it for now.",
            code=CODE_CIRCUIT_OPEN,
            details={"provider": provider_fingerprint(base_url), "retry_in_seconds": round(wait, 1)},
        )
    if verdict == "probe":
        logger.info("LLM circuit half-open, trying provider %s", provider_fingerprint(base_url))
    return verdict == "probe"


async def circuit_record_failure(*, base_url: str, policy: CircuitPolicy) -> None:
    key = circuit_key(base_url)
    state_ttl = policy.cooldown_seconds + policy.probe_seconds + policy.window_seconds + 60
    result = await _run_script(_FAILURE_SCRIPT, keys=[key, f"{key}:failures"], args=[
        policy.failure_threshold, policy.window_seconds, policy.cooldown_seconds, uuid.uuid4().hex, state_ttl,
    ])
    if result == "open":
        logger.warning("LLM circuit open for provider %s for %ss", provider_fingerprint(base_url),
                       policy.cooldown_seconds)


async def circuit_record_success(*, base_url: str) -> None:
    key = circuit_key(base_url)
    await _run_script(_SUCCESS_SCRIPT, keys=[key, f"{key}:failures"], args=[])


async def circuit_reset(*, base_url: str) -> None:
    """Close a provider's circuit by hand (ops, tests)."""
    key = circuit_key(base_url)
    await redis_client_async().delete(key, f"{key}:failures")


# Per-tenant cap on calls in flight.
#
# Each call holds a lease: a member of a sorted set scored by when it expires. A plain counter
# with INCR/DECR would drift for good when a process dies between the two (and a TTL on the whole
# counter would wipe the leases of calls still running); expiring each lease on its own frees only
# what a dead process held. A process-local semaphore alone would not do either: a tenant served by
# N web processes could then run N times its cap.

# KEYS[1] lease set. ARGV: limit, lease seconds, lease id. Returns 1 when acquired, 0 when full.
_ACQUIRE_SCRIPT = RedisScript("""
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2])) + 1)
return 1
""")


def tenant_inflight_key(tenant_schema: str) -> str:
    return tenant_key(tenant_schema, "llm", "inflight")


@asynccontextmanager
async def tenant_llm_slot(*, tenant_schema: str, limit: int, lease_seconds: float) -> AsyncIterator[None]:
    """Hold one of the tenant's `limit` LLM call slots, or raise LLMUnavailable at once.

    Failing fast rather than queueing keeps a busy tenant's customers from waiting on each other:
    the caller answers the extra conversations in offline mode.
    """
    key = tenant_inflight_key(tenant_schema)
    lease_id = uuid.uuid4().hex
    acquired = await _run_script(_ACQUIRE_SCRIPT, keys=[key], args=[limit, lease_seconds, lease_id])
    if acquired == 0:
        raise LLMUnavailable(
            "Too many answers are being written for this business at once; answering without the model.",
            code=CODE_TENANT_BUSY,
            details={"limit": limit},
        )
    try:
        yield
    finally:
        if acquired is not None:
            # Shielded: a cancelled caller must still give its slot back.
            await asyncio.shield(_release(key, lease_id))


async def _release(key: str, lease_id: str) -> None:
    try:
        await redis_client_async().zrem(key, lease_id)
    except redis.RedisError:
        logger.warning("could not release an LLM slot; it expires on its own", exc_info=True)


async def tenant_llm_inflight(*, tenant_schema: str) -> int:
    """How many LLM calls the tenant has in flight now (expired leases excluded)."""
    key = tenant_inflight_key(tenant_schema)
    client = redis_client_async()
    seconds, micros = await client.time()
    return int(await client.zcount(key, seconds + micros / 1_000_000, "+inf"))


async def _run_script(script: RedisScript, *, keys: list[str], args: list[Any]) -> Any:
    """Run a script on the event loop's own Redis client (no thread: a burst of answers would queue
    for the few threads). When Redis itself fails, return None: the guards then let the call
    through, because losing the guard for a moment is better than losing every answer."""
    try:
        return await script.run_async(redis_client_async(), keys=keys, args=args)
    except redis.RedisError:
        logger.warning("Redis unavailable for LLM guards; letting the call through", exc_info=True)
        return None
