"""Production: every secret and store comes from the environment; nothing is embedded."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import database_settings, env, logging_settings, redis_dependent_settings

REQUIRED = ("DJANGO_SECRET_KEY", "DATABASE_URL", "REDIS_URL", "DJANGO_ALLOWED_HOSTS", "DESKPILOT_SECRETS_KEYS")
missing = [name for name in REQUIRED if not env(name, default="")]
if missing:
    raise ImproperlyConfigured(f"production settings need these environment variables: {', '.join(missing)}")

DEBUG = False
SECRET_KEY = env("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
DATABASE_URL = env("DATABASE_URL")
REDIS_URL = env("REDIS_URL")
DATABASES = {"default": database_settings(DATABASE_URL)}
globals().update(redis_dependent_settings(REDIS_URL))

# HTTPS only. TLS ends at the load balancer, which says so in X-Forwarded-Proto; plain HTTP is
# redirected, except the health checks the load balancer itself makes over plain HTTP (they are
# answered by config.middleware.HealthCheckMiddleware before this applies; exempt here as well).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
# Browsers remember to use HTTPS only, for the platform domain and every subdomain (tenants' own
# *.platform domains). Lower DJANGO_SECURE_HSTS_SECONDS to try it on a new domain first: once sent,
# a year of HTTPS-only is hard to take back.
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
# Outgoing mail (invitations, password resets): smtp://, smtp+tls:// or smtp+ssl://user:password@host:port.
globals().update(env.email_url("EMAIL_URL", default="smtp://localhost:25"))
LOGGING = logging_settings("json", LOG_LEVEL)  # noqa: F405
