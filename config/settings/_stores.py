"""Where local and test settings find their data stores: the environment, or embedded servers."""

from __future__ import annotations

import os

from config import embedded


def resolve_store_urls() -> tuple[str, str]:
    database_url = os.environ.get("DATABASE_URL") or embedded.postgres_url()
    redis_url = os.environ.get("REDIS_URL") or embedded.redis_url()
    return database_url, redis_url
