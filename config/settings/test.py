"""Tests: real PostgreSQL and Redis, embedded on a throw-away folder (make test sets DESKPILOT_DATA_DIR)."""

import os

from ._stores import resolve_store_urls
from .base import *  # noqa: F403
from .base import BASE_DIR, database_settings, development_secrets_keys, env, logging_settings, redis_dependent_settings

# Run straight from pytest, tests get their own data folder, never the development one.
os.environ.setdefault("DESKPILOT_DATA_DIR", str(BASE_DIR / ".data" / "test"))
# Many short-lived test processes share one server: each closes its connections after use.
os.environ.setdefault("DATABASE_CONN_MAX_AGE", "0")

DEBUG = False
SECRET_KEY = "test-secret-key"
# EGRESS_ALLOWED_NETWORKS is left empty (from base): the egress guard runs in every test. The fake
# provider as the platform's own endpoint (OPENAI_BASE_URL) is not guarded; a test whose fake plays a
# tenant's own endpoint or site on 127.0.0.1 allows exactly that address itself.
# Tenants' secrets at rest: a key derived from SECRET_KEY unless DESKPILOT_SECRETS_KEYS is set.
DESKPILOT_SECRETS_KEYS = DESKPILOT_SECRETS_KEYS or development_secrets_keys(SECRET_KEY)  # noqa: F405

DATABASE_URL, REDIS_URL = resolve_store_urls()
# Each parallel test process gets a Redis database of its own: its broker queues, channel layer and
# cache are its own, so a test that starts or kills a worker owns the queues it looks at.
_xdist_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if _xdist_worker.startswith("gw") and REDIS_URL.count("/") == 2:
    REDIS_URL = f"{REDIS_URL}/{int(_xdist_worker[2:]) + 1}"
DATABASES = {"default": database_settings(DATABASE_URL)}
globals().update(redis_dependent_settings(REDIS_URL))
# The channel layer's pub/sub channels are shared by every Redis database: a prefix per test process
# (inherited by the servers it starts) keeps one process's events from reaching another's sockets.
CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = f"deskpilot-{_xdist_worker or 'main'}"  # type: ignore[name-defined]  # noqa: F405
# Every test's visitors come from 127.0.0.1, hundreds a minute to the session's demo tenants: the
# handshake limit's own tests set theirs on the servers they start.
WIDGET_HANDSHAKES_PER_MINUTE_PER_IP = env.int("WIDGET_HANDSHAKES_PER_MINUTE_PER_IP", default=10_000)

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Short, so a test that kills a worker sees its unacknowledged task delivered again quickly.
CELERY_BROKER_VISIBILITY_TIMEOUT = 5
CELERY_UNACKED_RESTORE_INTERVAL = 1
CELERY_TASK_MAX_RETRIES = 2
CELERY_RETRY_BACKOFF_MAX_SECONDS = 1
LOGGING = logging_settings("text", env("DESKPILOT_LOG_LEVEL", default="WARNING"))
