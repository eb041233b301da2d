"""Settings shared by every environment. Values come from the environment (django-environ)."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
# How many reverse proxies of our own (load balancer, ingress) stand in front of the web process. The
# client's address is the one the outermost of them saw (X-Forwarded-For, counted from the right); 0
# takes the socket's address, which a client cannot forge. Used by the ASGI layer (config.proxies) for
# every request and WebSocket, hence by the rate limits and the login lockout.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="")
# Tenancy is decided from the Host header by django-tenants; an unknown host is a 404 there.
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["*"])
PLATFORM_DOMAIN = env("DESKPILOT_PLATFORM_DOMAIN", default="localhost")

SHARED_APPS = [
    "django_tenants",
    "tenants",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "django_htmx",
    # The REST API's OpenAPI schema, and Swagger UI's and Redoc's files served from our own static files.
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # Also shared: the platform admin logs in on the public schema through the same backends.
    "axes",
]
TENANT_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # chat's domain apps; chat.conversations keeps the label "chat" (docs/decisions/0101).
    "chat.conversations",
    "chat.knowledge",
    "chat.assistant",
    "chat.widget",
    "chat.dashboard",
    "chat.analytics",
    "chat.messaging",
    "chat.audit",
    "chat.webhooks",
    "chat.api",
    "orders",
    "config.outbox",
    "axes",
]
INSTALLED_APPS = list(SHARED_APPS) + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenants.Tenant"
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_URLCONF = "config.urls_public"
ROOT_URLCONF = "config.urls_tenant"
SHOW_PUBLIC_IF_NO_TENANT_FOUND = False
# New tenants are copied from this migrated template schema (tenants.schemas) instead of running
# every migration; `manage.py migrate_all` keeps it current.
DESKPILOT_TENANT_TEMPLATE_SCHEMA = "tenant_template"

MIDDLEWARE = [
    # First: the response it looks at is the one sent (config/request_threads.py).
    "config.request_threads.StreamingThreadRelease",
    "config.middleware.RequestIdMiddleware",
    "config.middleware.HealthCheckMiddleware",
    "config.middleware.ValidHostMiddleware",
    "config.middleware.TenantMainMiddleware",
    "tenants.middleware.SuspendedTenantMiddleware",
    "tenants.middleware.TenantTimeZoneMiddleware",
    "config.middleware.NulCharacterMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "config.middleware.LogContextUserMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"


def development_secrets_keys(secret_key: str) -> list[str]:
    """A Fernet key derived from SECRET_KEY: development and tests only, never production."""
    digest = hashlib.sha256(f"deskpilot-secrets-at-rest:{secret_key}".encode()).digest()
    return [base64.urlsafe_b64encode(digest).decode()]


def database_settings(url: str) -> dict[str, object]:
    config = environ.Env.db_url_config(url)
    config["ENGINE"] = "django_tenants.postgresql_backend"
    config["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    # Off by default: a health check is one more round trip (SELECT 1) before the first query of every
    # request and of every database call from async code. Without it, a connection the server dropped
    # fails one request, after which Django notices the error and replaces it.
    config["CONN_HEALTH_CHECKS"] = env.bool("DATABASE_CONN_HEALTH_CHECKS", default=False)
    config.setdefault("OPTIONS", {})["connect_timeout"] = 5
    return config


DATABASE_ROUTERS = ("django_tenants.routers.TenantSyncRouter",)
# django-tenants issues `SET search_path` once per connection and schema switch instead of before every
# statement (which doubled the round trips of every query). Safe with django-tenants 4.0.1: switching
# tenant, closing the connection, a rollback and a rollback to a savepoint (which undo a SET made inside
# them) all make it set the path again; tests/tenants/test_isolation.py checks the rollback cases.
TENANT_LIMIT_SET_CALLS = True
# Threads for database work from async code (config/db.py); each keeps one connection.
DATABASE_ASYNC_THREADS = env.int("DATABASE_ASYNC_THREADS", default=32)
# Threads for the synchronous part of HTTP requests (config/request_threads.py); each keeps one
# connection, so a web process holds at most DATABASE_ASYNC_THREADS + WEB_REQUEST_THREADS of them.
WEB_REQUEST_THREADS = env.int("WEB_REQUEST_THREADS", default=32)
# Seconds a request waits for a free request thread before it is answered 503 with Retry-After.
WEB_REQUEST_WAIT_SECONDS = env.float("WEB_REQUEST_WAIT_SECONDS", default=10.0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / ".data" / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env("DESKPILOT_MEDIA_ROOT", default=str(BASE_DIR / ".data" / "media")))

# Content-Security-Policy (django-csp) on every page we serve: the dashboard, the platform admin,
# error pages. Scripts and styles come only from our own static files (no inline code, no eval),
# so an injected <script> or event handler does not run. The widget is untouched: widget.js runs
# under the policy of whichever site embeds it, and /demo/ stands for such a site (it plays a shop's
# own page with its own rules), so it is left out. So are static files: a policy on them means nothing
# except to SVG icons, whose own inline styles it would refuse (the admin's).
CONTENT_SECURITY_POLICY = {
    "EXCLUDE_URL_PREFIXES": ["/demo/", STATIC_URL],
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        # The inbox's live updates: a WebSocket to the page's own host ('self' covers ws: and wss:).
        "connect-src": ["'self'"],
        # The widget settings page previews /demo/ in a frame.
        "frame-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
    },
}

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"

REST_FRAMEWORK = {
    "EXCEPTION_HANDLER": "config.errors.api_exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

# Filled in by each environment's module once the URLs are known.
DATABASE_URL = ""
REDIS_URL = ""
# Where pg_dump, pg_restore and psql are for tenant backups (tenants.backups); empty: the embedded
# server's own when it is installed, else the ones on PATH.
POSTGRES_BIN_DIR = env("POSTGRES_BIN_DIR", default="")


def redis_dependent_settings(redis_url: str) -> dict[str, object]:
    """Broker, channel layer and cache all live on the one Redis."""
    return {
        "CELERY_BROKER_URL": redis_url,
        "CHANNEL_LAYERS": {
            "default": {
                # Redis pub/sub, not channels-redis's list-based layer: a web process subscribes once
                # per group its sockets joined and Redis pushes each event to it, where the list layer
                # polled one event per round trip (two, with its clean-up script) from a single queue
                # per process, which made a burst of streamed answers wait seconds in line. Pub/sub
                # does not keep events for a process that is not listening; nothing depends on that:
                # streamed pieces are kept in Redis for resuming clients (chat.widget.streaming) and
                # every message is in the database, which a reconnecting widget reads (`resume`).
                # Pub/sub channels ignore Redis's database number: deployments sharing one Redis
                # server need prefixes of their own (CHANNEL_LAYER_PREFIX).
                "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
                "CONFIG": {"hosts": [{"address": redis_url}],
                           "prefix": env.str("CHANNEL_LAYER_PREFIX", default="deskpilot")},
            }
        },
        "CACHES": {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": redis_url,
                # Cache keys are prefixed with the tenant's schema (see config.cache_keys).
                "KEY_FUNCTION": "config.cache_keys.tenant_cache_key",
            }
        },
    }


# Celery: one queue per kind of work (config.celery.Queue); see ARCHITECTURE.md.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "medium"
# The delivery and retry policy below is the product's (tasks are written for it), not a deployment's:
# settings so the test settings can shorten them, never read from the environment.
# A task whose worker died unacknowledged is delivered again after this long; longer than any task runs.
CELERY_BROKER_VISIBILITY_TIMEOUT = 3600
CELERY_UNACKED_RESTORE_INTERVAL = 10
# Retries (exponential backoff with jitter, config.celery) before a task goes to the dead-letter store.
CELERY_TASK_MAX_RETRIES = 5
CELERY_RETRY_BACKOFF_MAX_SECONDS = 600
# Celery's Django fix-up closes the database connection before and after every task unless this is
# set, so each task paid for a new PostgreSQL connection (a backend process forked on the server):
# about a fifth of a worker's time on shop webhooks. Set, it closes them every that-many tasks;
# in between, tasks follow DATABASE_CONN_MAX_AGE like requests do (config.celery.DeskpilotTask).
CELERY_DB_REUSE_MAX = 1000

LOG_FORMAT = env("DESKPILOT_LOG_FORMAT", default="text")
LOG_LEVEL = env("DESKPILOT_LOG_LEVEL", default="INFO")


def logging_settings(log_format: str, level: str) -> dict[str, object]:
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "config.logging.LogContextFilter"},
                    "redact": {"()": "config.logging.RedactingFilter"}},
        "formatters": {
            "text": {
                "format": "%(asctime)s %(levelname)-7s %(name)s [req=%(request_id)s tenant=%(schema)s"
                " user=%(user)s] %(message)s",
            },
            "json": {"()": "config.logging.JsonFormatter"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": log_format,
                # Contact details and secrets never reach a log line, in either format.
                "filters": ["context", "redact"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.db.backends": {"level": "WARNING"},
            "celery": {"level": level},
        },
    }

# Each app that owns demo data registers its loader here (see tenants.demo). The demo's past month of
# conversations goes last, since its customers ask about the content the loaders before it made.
DESKPILOT_DEMO_LOADERS: list[str] = [
    "chat.conversations.demo.load_demo",
    "orders.demo.load_demo",
    "chat.knowledge.demo.load_demo",
    "chat.widget.demo.load_demo",
    "chat.conversations.demo_history.load_demo",
]

CELERY_BEAT_SCHEDULE = {
    "prune-replayed-dead-letters": {
        "task": "tenants.tasks.deadletter_prune",
        "schedule": 24 * 3600,
        "options": {"queue": "low"},
    },
    "purge-deleted-tenants": {
        "task": "tenants.tasks.tenants_purge_due",
        "schedule": 3600,
        "options": {"queue": "low"},
    },
}
CELERY_BEAT_SCHEDULE["conversations-retention"] = {
    # Each tenant deletes the conversations older than its own retention period, if it set one.
    "task": "tenants.tasks.dispatch_to_active_tenants",
    "schedule": 24 * 3600,
    "args": ["chat.conversations.tasks.conversations_retention_apply"],
    "options": {"queue": "low"},
}
# Days between `manage.py tenants delete` (the tenant is suspended at once) and its purge.
TENANT_DELETION_GRACE_DAYS = env.int("TENANT_DELETION_GRACE_DAYS", default=14)

# ---- Commerce (orders app) -------------------------------------------------------------------
# Shop webhooks larger than this are refused with 413 before the body is read.
ORDERS_WEBHOOK_MAX_BODY_BYTES = env.int("ORDERS_WEBHOOK_MAX_BODY_BYTES", default=1_048_576)

# --- LLM provider (chat.assistant.llm) -------------------------------------------------------------
# Off until OPENAI_API_KEY is set: without it the assistant answers in offline mode. The openai
# client's own variable names, so a tenant-less setup works with the usual environment.
OPENAI_API_KEY = env("OPENAI_API_KEY", default="")
OPENAI_BASE_URL = env("OPENAI_BASE_URL", default="")
OPENAI_CHAT_MODEL = env("OPENAI_CHAT_MODEL", default="gpt-4o-mini")
LLM_CONNECT_TIMEOUT_SECONDS = env.float("LLM_CONNECT_TIMEOUT_SECONDS", default=5)
# From sending the request to the first streamed token; past it the customer gets the offline answer.
LLM_FIRST_TOKEN_TIMEOUT_SECONDS = env.float("LLM_FIRST_TOKEN_TIMEOUT_SECONDS", default=15)
LLM_TOTAL_TIMEOUT_SECONDS = env.float("LLM_TOTAL_TIMEOUT_SECONDS", default=60)
# Retries happen only before the first token (streamed text is never repeated).
LLM_MAX_RETRIES = env.int("LLM_MAX_RETRIES", default=2)
# The retry and circuit-breaker timing below fit inside the answer deadlines further down; settings so
# the tests can shorten them, not read from the environment.
LLM_RETRY_BASE_DELAY_SECONDS = 0.5
LLM_RETRY_MAX_DELAY_SECONDS = 4.0
# A Retry-After longer than this is not waited for: the offline answer is given at once.
LLM_RETRY_AFTER_MAX_SECONDS = 5.0
# Circuit breaker per provider endpoint, shared by all processes through Redis.
LLM_CIRCUIT_FAILURES = 5
LLM_CIRCUIT_WINDOW_SECONDS = 60.0
LLM_CIRCUIT_COOLDOWN_SECONDS = 30.0
LLM_TENANT_MAX_CONCURRENCY = env.int("LLM_TENANT_MAX_CONCURRENCY", default=8)
# Cost estimates: USD per million tokens, "model=in,out;other-model=in,out", merged over the built-in
# table.
LLM_PRICES = env.dict("LLM_PRICES", cast={"value": list}, default={})
# How many minor units make a dollar in stored costs (micro-dollars, as a call costs a fraction of a
# cent). Never from the environment: the stored costs are in this unit, a new value would misread them.
LLM_COST_MINOR_UNITS_PER_USD = 1_000_000
# The deadline of an answer in LLM mode, from the moment the engine takes the question: all its model
# calls, tool rounds and retries together. Past the first (no text sent to the customer yet) or the
# second, the customer gets the offline answer, and what the model says later is dropped. Each call's
# own LLM_* timeouts above still apply within it.
ASSISTANT_FIRST_TEXT_DEADLINE_SECONDS = env.float("ASSISTANT_FIRST_TEXT_DEADLINE_SECONDS", default=8)
ASSISTANT_ANSWER_DEADLINE_SECONDS = env.float("ASSISTANT_ANSWER_DEADLINE_SECONDS", default=12)
# A business's own endpoint is tried when saved (chat, tools, embeddings): each check's time limit
# (the owner waits for it on the settings page).
LLM_PROBE_TIMEOUT_SECONDS = 10.0
# --- end LLM provider ------------------------------------------------------------------------------

# --- Egress guard (config.egress) ------------------------------------------------------------------
# Requests made on a tenant's behalf (its own LLM endpoint, knowledge URLs) refuse loopback, private,
# link-local, CGNAT, multicast, reserved and metadata addresses after DNS resolution, on every hop.
# CIDRs, addresses or host names listed here are allowed anyway (a self-hosted model server on the
# private network); the metadata addresses never are. The platform's own OPENAI_BASE_URL is the
# operator's choice and is not guarded.
EGRESS_ALLOWED_NETWORKS = env.list("EGRESS_ALLOWED_NETWORKS", default=[])

# --- Secrets at rest (config.secrets_at_rest) -----------------------------------------------------
# Tenants' LLM API keys and shop webhook secrets are stored encrypted with these Fernet keys
# (comma-separated): the first encrypts, all decrypt, so a new key goes first and the old one stays
# until `manage.py secrets_reencrypt` has run. Required in production; development and tests derive
# one from SECRET_KEY (development_secrets_keys) when it is empty.
DESKPILOT_SECRETS_KEYS = env.list("DESKPILOT_SECRETS_KEYS", default=[])

# --- Knowledge base (chat.knowledge) ---------------------------------------------------------------
# Embeddings, configured apart from chat (many chat endpoints have none): with EMBEDDING_API_KEY set,
# any OpenAI-compatible endpoint (EMBEDDING_BASE_URL, OpenAI's when empty) with EMBEDDING_MODEL;
# without it, the local all-MiniLM-L6-v2 on the CPU, no network. "local" forces the local model;
# "openai" an endpoint, falling back to OPENAI_API_KEY / OPENAI_BASE_URL when EMBEDDING_API_KEY is empty.
KB_EMBEDDING_PROVIDER = env("KB_EMBEDDING_PROVIDER", default="auto")
EMBEDDING_BASE_URL = env("EMBEDDING_BASE_URL", default="")
EMBEDDING_API_KEY = env("EMBEDDING_API_KEY", default="")
EMBEDDING_MODEL = env("EMBEDDING_MODEL", default="") or "text-embedding-3-small"
KB_EMBEDDING_TIMEOUT_SECONDS = env.float("KB_EMBEDDING_TIMEOUT_SECONDS", default=30)
# Embedding a customer's question at an endpoint: past this, the search goes on by full text.
KB_QUERY_EMBEDDING_TIMEOUT_SECONDS = env.float("KB_QUERY_EMBEDDING_TIMEOUT_SECONDS", default=3)
# Files larger than this are refused before they are read (bytes); also caps fetched web pages.
KB_MAX_FILE_BYTES = env.int("KB_MAX_FILE_BYTES", default=20 * 1024 * 1024)
# Web pages imported by URL: the time limit of each request (redirects: chat.knowledge.fetching;
# private, loopback and metadata addresses are refused by the egress guard, EGRESS_ALLOWED_NETWORKS).
# Not from the environment: the tests shorten it.
KB_URL_TIMEOUT_SECONDS = 10.0
# Search: candidates taken from each of the vector and full-text rankings before they are fused, and
# a result's confidence (0-1) below which the assistant says it does not know. Both are calibrated on
# the retrieval dev set with bench/knowledge_quality.py (docs/benchmarks.md), not a deployment's choice.
KB_SEARCH_CANDIDATES = 40
KB_ANSWER_THRESHOLD = 0.5
CELERY_BEAT_SCHEDULE["kb-reembed-stale-chunks"] = {
    # Each tenant re-embeds chunks made by another model than the configured one (a model change).
    "task": "tenants.tasks.dispatch_to_active_tenants",
    "schedule": 15 * 60,
    "args": ["chat.knowledge.tasks.kb_reembed_stale"],
    "options": {"queue": "low"},
}
# --- end knowledge base ----------------------------------------------------------------------------

# --- Assistant usage limits and answer cache (chat.assistant.usage, chat.assistant.cache) ---------
# Seconds the cached usage month (running totals of the ledger's sums, the plan's limits and the
# ledger's level until the next entry) is kept before it is summed from the ledger again. Recording
# usage drops the cached level at once; only a plan changed in the admin can take this long to apply.
USAGE_TOTALS_CACHE_SECONDS = env.int("USAGE_TOTALS_CACHE_SECONDS", default=60)
# Answers to frequent questions, per tenant and content version (config.content_version: any change
# to what an answer is drawn from starts a new version, so nothing stale is served).
ASSISTANT_CACHE_ENABLED = env.bool("ASSISTANT_CACHE_ENABLED", default=True)
ASSISTANT_CACHE_TTL_SECONDS = env.int("ASSISTANT_CACHE_TTL_SECONDS", default=3600)
# How long identical questions asked together wait for the one being answered before answering
# on their own; also how long a crashed process can hold a question's lock.
ASSISTANT_CACHE_WAIT_SECONDS = env.float("ASSISTANT_CACHE_WAIT_SECONDS", default=20)
# --- end usage limits and answer cache -------------------------------------------------------------

# --- Assistant sweeper (chat.assistant.tasks) -------------------------------------------------------
# A customer message still unanswered this long after it arrived is answered by a worker.
ASSISTANT_SWEEP_GRACE_SECONDS = env.int("ASSISTANT_SWEEP_GRACE_SECONDS", default=30)
CELERY_BEAT_SCHEDULE["assistant-answer-pending"] = {
    "task": "tenants.tasks.dispatch_to_active_tenants",
    "schedule": 30,
    "args": ["chat.assistant.tasks.answer_pending_messages"],
    "options": {"queue": "critical"},
}
# --- end assistant sweeper --------------------------------------------------------------------------

# --- Chat widget (chat.widget) ---------------------------------------------------------------------
# How long a returning visitor's token stays valid (seconds).
WIDGET_VISITOR_TOKEN_MAX_AGE_SECONDS = env.int("WIDGET_VISITOR_TOKEN_MAX_AGE_SECONDS", default=180 * 24 * 3600)
# The server pings every connection; one that has not answered for the timeout is closed.
WIDGET_PING_INTERVAL_SECONDS = env.float("WIDGET_PING_INTERVAL_SECONDS", default=20)
WIDGET_PING_TIMEOUT_SECONDS = env.float("WIDGET_PING_TIMEOUT_SECONDS", default=60)
# Streamed answer pieces kept for clients that reconnect mid-answer (seconds).
WIDGET_ANSWER_BUFFER_SECONDS = 600
# Widget handshakes one IP may open per minute on one tenant (0: no limit). Past it the socket is
# closed with code 4429 and a rate_limited error frame (docs/widget-protocol.md). A visitor whose
# network shares one address with many others (an office, a mobile carrier's NAT) counts with them.
WIDGET_HANDSHAKES_PER_MINUTE_PER_IP = env.int("WIDGET_HANDSHAKES_PER_MINUTE_PER_IP", default=30)
# --- end chat widget --------------------------------------------------------------------------------

# --- Dashboard accounts (chat.dashboard) -----------------------------------------------------------
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
LOGIN_URL = "dashboard:login"
LOGIN_REDIRECT_URL = "dashboard:inbox"
LOGOUT_REDIRECT_URL = "dashboard:login"
TEMPLATES[0]["OPTIONS"]["context_processors"].append("chat.dashboard.context.layout_context")  # type: ignore[index]
# Brute force (django-axes, tables in each tenant's schema): this many wrong passwords for one e-mail
# address from one IP address lock that pair out for the cool-off time; a success resets the count.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "chat.dashboard.accounts.login_locked_out"
AXES_VERBOSE = False
# The address counted is the one config.proxies settled on from TRUSTED_PROXY_COUNT (never a header).
AXES_CLIENT_IP_CALLABLE = "config.proxies.request_client_address"
# Teammate invitation links work once, for this long.
DASHBOARD_INVITATION_MAX_AGE_SECONDS = env.int("DASHBOARD_INVITATION_MAX_AGE_SECONDS", default=7 * 24 * 3600)
# An agent's "viewing this conversation" mark lapses this long after the page's last heartbeat.
# Not from the environment: it goes with the dashboard page's heartbeat interval (static/).
DASHBOARD_PRESENCE_TTL_SECONDS = 30
# An open inbox socket checks this often that its session still gives access, in case the message
# that closes it at once (teammate removed, password reset, logout) was lost: the longest a removed
# agent's idle socket can keep receiving conversations when Redis dropped that message.
DASHBOARD_AGENT_ACCESS_RECHECK_SECONDS = env.float("DASHBOARD_AGENT_ACCESS_RECHECK_SECONDS", default=60)
CELERY_BEAT_SCHEDULE["analytics-roll-up"] = {
    # Hourly, not daily: each tenant's day ends at its own midnight, and a tenant's finished days are
    # stored within the hour after it (the analytics page rolls up any day still missing itself).
    "task": "tenants.tasks.dispatch_to_active_tenants",
    "schedule": 3600,
    "args": ["chat.dashboard.tasks.analytics_roll_up"],
    "options": {"queue": "low"},
}
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Deskpilot <no-reply@deskpilot.localhost>")
# Production images collect static files at build time and WhiteNoise serves those; the local settings
# (`make run`) serve them straight from static/ and the apps instead (see config/settings/local.py).
WHITENOISE_USE_FINDERS = env.bool("WHITENOISE_USE_FINDERS", default=False)
# --- end dashboard accounts -------------------------------------------------------------------------

# --- Transactional outbox (outbox app) --------------------------------------------------------------
# A task promised by a stored change (a shop webhook, a knowledge import, an e-mail) that was never
# queued (Redis down at commit) is sent again by the relay on its next pass; one queued this long ago
# without finishing is sent again too (tasks are idempotent). Longer than the longest wait between a
# task's retries (CELERY_RETRY_BACKOFF_MAX_SECONDS), which counts as under way.
OUTBOX_RELAY_TIMEOUT_SECONDS = env.int("OUTBOX_RELAY_TIMEOUT_SECONDS", default=900)
# How often beat runs the relay for every active tenant: a promise left unqueued is kept within this.
OUTBOX_RELAY_INTERVAL_SECONDS = 30
# Finished outbox rows are deleted by the relay after this many days (they only serve to look back).
OUTBOX_KEEP_DONE_DAYS = env.int("OUTBOX_KEEP_DONE_DAYS", default=7)
CELERY_BEAT_SCHEDULE["outbox-relay"] = {
    "task": "tenants.tasks.dispatch_to_active_tenants",
    "schedule": OUTBOX_RELAY_INTERVAL_SECONDS,
    "args": ["config.outbox.tasks.outbox_relay_tenant"],
    "options": {"queue": "high"},
}
# --- end transactional outbox -----------------------------------------------------------------------

# --- Messaging channels (chat.messaging, docs/channels.md) ------------------------------------------
# Where the platforms' APIs are: the real ones by default; a self-hoster's proxy or a test's local
# server otherwise. Requests to them go through the egress guard like every request made for a tenant.
WHATSAPP_GRAPH_BASE_URL = env("WHATSAPP_GRAPH_BASE_URL", default="https://graph.facebook.com")
# The Graph API version in every WhatsApp Cloud API path (Meta retires each about two years after release).
WHATSAPP_GRAPH_API_VERSION = env("WHATSAPP_GRAPH_API_VERSION", default="v26.0")
TELEGRAM_API_BASE_URL = env("TELEGRAM_API_BASE_URL", default="https://api.telegram.org")
# The public https address platforms post webhooks to, without the tenant's domain when empty: the
# tenant's own domain over https. Set it for a self-hoster behind another host name or port.
MESSAGING_WEBHOOK_BASE_URL = env("MESSAGING_WEBHOOK_BASE_URL", default="")
# Abuse guards: messages accepted per minute from one conversation and on one channel; beyond them a
# message is logged and dropped (the platform gets 200 so it does not re-send).
MESSAGING_MESSAGES_PER_MINUTE_PER_CONVERSATION = env.int("MESSAGING_MESSAGES_PER_MINUTE_PER_CONVERSATION",
                                                         default=30)
MESSAGING_MESSAGES_PER_MINUTE_PER_CHANNEL = env.int("MESSAGING_MESSAGES_PER_MINUTE_PER_CHANNEL", default=6000)
# Largest inbound webhook body accepted, in bytes (larger ones get 413).
MESSAGING_WEBHOOK_MAX_BODY_BYTES = env.int("MESSAGING_WEBHOOK_MAX_BODY_BYTES", default=1_048_576)
# Seconds a call to a platform's API may take before it counts as failed (and is retried).
MESSAGING_API_TIMEOUT_SECONDS = 15
# --- end messaging channels -------------------------------------------------------------------------
# --- Metrics, traces and errors (config.metrics, config.tracing, config.cloudwatch) ------------------
# /metrics on the platform domain answers only `Authorization: Bearer <METRICS_TOKEN>`; empty: 404 for all.
METRICS_TOKEN = env("METRICS_TOKEN", default="")
# The queue backlog and dead letters as CloudWatch metrics (namespace Deskpilot, docs/decisions/1801 and
# 1701), the workers' autoscaling signal: published by beat when a region is set; off when empty. The
# environment is the `Environment` dimension deploy/aws's scaling and alarms read (staging, production).
# The endpoint only for a CloudWatch-compatible server other than AWS's own.
CLOUDWATCH_METRICS_REGION = env("CLOUDWATCH_METRICS_REGION", default="")
CLOUDWATCH_METRICS_ENVIRONMENT = env("CLOUDWATCH_METRICS_ENVIRONMENT", default="")
if CLOUDWATCH_METRICS_REGION and not CLOUDWATCH_METRICS_ENVIRONMENT:
    # Figures without the Environment dimension match no alarm and no scaling policy: refuse to start.
    raise ImproperlyConfigured("CLOUDWATCH_METRICS_REGION is set: set CLOUDWATCH_METRICS_ENVIRONMENT too "
                               "(the Environment dimension, e.g. staging or production)")
CLOUDWATCH_ENDPOINT_URL = env("CLOUDWATCH_ENDPOINT_URL", default="")
CLOUDWATCH_METRICS_INTERVAL_SECONDS = 60
CELERY_BEAT_SCHEDULE["queue-backlog-to-cloudwatch"] = {
    "task": "tenants.tasks.queue_backlog_publish",
    "schedule": CLOUDWATCH_METRICS_INTERVAL_SECONDS,
    "options": {"queue": "critical"},
}
# OpenTelemetry traces, off unless an OTLP/HTTP endpoint is set (the exporter's own variable names:
# OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_HEADERS, OTEL_SERVICE_NAME are read by the SDK).
OTEL_EXPORTER_OTLP_ENDPOINT = env("OTEL_EXPORTER_OTLP_ENDPOINT", default="")
OTEL_SERVICE_NAME = env("OTEL_SERVICE_NAME", default="deskpilot")
# Errors to Sentry, off unless a DSN is set; the share of requests also traced there (0 to 1).
SENTRY_DSN = env("SENTRY_DSN", default="")
SENTRY_ENVIRONMENT = env("SENTRY_ENVIRONMENT", default="production")
SENTRY_TRACES_SAMPLE_RATE = env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0)
# --- end metrics, traces and errors ----------------------------------------------------------------
# --- Outgoing webhooks (chat.webhooks) ---------------------------------------------------------------
# A delivery's retries are queued with their time (eta); every minute each tenant's pending deliveries
# overdue by two minutes (their task was lost: a broker restart) are queued again.
CELERY_BEAT_SCHEDULE["webhooks-overdue"] = {
    "task": "tenants.tasks.dispatch_to_active_tenants",
    "schedule": 60,
    "args": ["chat.webhooks.tasks.webhook_deliveries_overdue"],
    "options": {"queue": "high"},
}
# Events and attempts older than 30 days (nothing pending) are forgotten, daily.
CELERY_BEAT_SCHEDULE["webhooks-history-prune"] = {
    "task": "tenants.tasks.dispatch_to_active_tenants",
    "schedule": 24 * 3600,
    "args": ["chat.webhooks.tasks.webhook_history_prune"],
    "options": {"queue": "low"},
}
# --- end outgoing webhooks ---------------------------------------------------------------------------

# --- REST API (chat.api, docs/api.md) ---------------------------------------------------------------
# Requests per minute per API key, counted in Redis across web processes (0: no limit).
API_RATE_LIMIT_PER_MINUTE = env.int("API_RATE_LIMIT_PER_MINUTE", default=600)
# Largest request body, in bytes, refused with 413 from its Content-Length; a knowledge file upload
# may be as large as KB_MAX_FILE_BYTES instead.
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=1_048_576)
# How long the first answer to an Idempotency-Key is kept and replayed.
API_IDEMPOTENCY_KEEP_HOURS = env.int("API_IDEMPOTENCY_KEEP_HOURS", default=24)
SPECTACULAR_SETTINGS = {
    "TITLE": "Deskpilot API",
    "DESCRIPTION": "The REST API on a business's own domain. Guide: docs/api.md.",
    "VERSION": "1",
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "SCHEMA_PATH_PREFIX_TRIM": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ConversationStatusEnum": "chat.conversations.models.ConversationStatus",
        "KnowledgeSourceStatusEnum": "chat.knowledge.models.KnowledgeSource.Status",
        "KnowledgeSourceKindEnum": "chat.knowledge.models.KnowledgeSource.Kind",
        "OrderStatusEnum": "orders.models.OrderStatus",
        "ProductKindEnum": "orders.models.ProductKind",
        # Outgoing webhooks: what an endpoint may subscribe to, and every event type a delivery may carry.
        "WebhookSubscribableEventEnum": "chat.webhooks.models.SUBSCRIBABLE",
        "WebhookEventEnum": "chat.webhooks.models.EVENT_CHOICES",
    },
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "chat.api.schema.conventions_hook"],
    # The docs' scripts and styles come from drf-spectacular-sidecar's static files, never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}
# --- end REST API -----------------------------------------------------------------------------------

# --- REST API, customer side and OpenAI-compatible endpoint (chat.api.customer, chat.api.openai) ------
# How long a customer token works after the business's backend got it (seconds).
API_CUSTOMER_TOKEN_SECONDS = env.int("API_CUSTOMER_TOKEN_SECONDS", default=3600)
# The longest a blocking request (`stream: false`) waits for its answer; past it the answer is still
# written and stored, and the request is answered without it (docs/api.md).
API_ANSWER_TIMEOUT_SECONDS = env.float("API_ANSWER_TIMEOUT_SECONDS", default=30)
# A streamed answer sends `ping` (or a keep-alive comment) after this many quiet seconds: under a load
# balancer's idle timeout.
API_SSE_PING_SECONDS = env.float("API_SSE_PING_SECONDS", default=15)
