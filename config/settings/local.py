"""Development: `make run`. Embedded PostgreSQL and Redis unless DATABASE_URL / REDIS_URL are set."""

from ._stores import resolve_store_urls
from .base import *  # noqa: F403
from .base import database_settings, development_secrets_keys, env, logging_settings, redis_dependent_settings

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="insecure-development-key-not-for-production")
# Tenants' secrets at rest: a key derived from SECRET_KEY unless DESKPILOT_SECRETS_KEYS is set.
DESKPILOT_SECRETS_KEYS = DESKPILOT_SECRETS_KEYS or development_secrets_keys(SECRET_KEY)  # noqa: F405

DATABASE_URL, REDIS_URL = resolve_store_urls()
DATABASES = {"default": database_settings(DATABASE_URL)}
globals().update(redis_dependent_settings(REDIS_URL))

# `make run` never runs collectstatic: WhiteNoise finds the dashboard's and the admin's files where they
# live, whatever DEBUG is (a default taken from DEBUG in base.py was read before DEBUG was set here).
WHITENOISE_USE_FINDERS = env.bool("WHITENOISE_USE_FINDERS", default=True)

EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
LOGGING = logging_settings(LOG_FORMAT, LOG_LEVEL)  # noqa: F405
