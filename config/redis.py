"""One Redis client per process for plumbing that talks to Redis directly (not the cache)."""

from __future__ import annotations

import functools

import redis
from django.conf import settings


@functools.cache
def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=5, decode_responses=True)


def tenant_key(schema_name: str, *parts: str) -> str:
    """Every tenant-scoped Redis key starts with the schema name."""
    return ":".join(("deskpilot", schema_name, *parts))
