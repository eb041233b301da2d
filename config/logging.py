"""Log context: every line carries the request id, the tenant schema and the user where known.

The context lives in context variables, so it follows a request through sync and async code, and
Celery tasks restore it from their headers (config.celery) so a request id follows into its tasks.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import uuid
from collections.abc import Iterator

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
user_var: contextvars.ContextVar[str] = contextvars.ContextVar("user", default="-")
schema_override_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("schema", default=None)


def new_request_id() -> str:
    return uuid.uuid4().hex


@contextlib.contextmanager
def log_context(*, request_id: str | None = None, user: str | None = None, schema: str | None = None) -> Iterator[None]:
    tokens: list[tuple[contextvars.ContextVar, contextvars.Token]] = []  # type: ignore[type-arg]
    for var, value in ((request_id_var, request_id), (user_var, user), (schema_override_var, schema)):
        if value is not None:
            tokens.append((var, var.set(value)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def current_schema() -> str:
    override = schema_override_var.get()
    if override:
        return override
    try:
        from django.db import connection

        return getattr(connection, "schema_name", "-") or "-"
    except Exception:  # logging must never fail because Django is not ready
        return "-"


class LogContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        # Django logs a response of 400 or more ("Not Found: /x") after the middleware that set the
        # context has returned, and under ASGI on a thread of its own whose connection is on public:
        # the request it passes along says whose it was (its id, and the tenant django-tenants found).
        request = getattr(record, "request", None)
        tenant = getattr(request, "tenant", None)
        record.request_id = getattr(request, "request_id", None) or request_id_var.get()
        record.schema = getattr(tenant, "schema_name", None) or current_schema()
        # The user as the request's own middleware noted it (never a database query from a log line).
        record.user = getattr(request, "log_user", None) or user_var.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for production log collectors."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
            "tenant": getattr(record, "schema", "-"),
            "user": getattr(record, "user", "-"),
        }
        if record.exc_info:
            payload["traceback"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False)
