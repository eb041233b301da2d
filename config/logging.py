"""Log context: every line carries the request id, the tenant schema and the user where known.

The context lives in context variables, so it follows a request through sync and async code, and
Celery tasks restore it from their headers (config.celery) so a request id follows into its tasks.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import re
import uuid
from collections.abc import Iterator

from opentelemetry import trace

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


# What must never reach a log line: customers' contact details and anyone's credentials. A log line
# is read by more people, kept longer and copied further than the database the value came from.
_REDACTIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Credentials: provider keys (sk-..., sk-proj-...), bearer tokens, and secrets in query strings.
    (re.compile(r"\bsk-[A-Za-z0-9_-]{8,}"), "[api-key]"),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 [token]"),
    (re.compile(r"(?i)\b((?:access_|api_|visitor_)?(?:token|key|secret|password|signature))=[^&\s\"']+"),
     r"\1=[redacted]"),
    # One-time links: invitation and password-reset tokens in the path.
    (re.compile(r"(/invite/)[^\s?\"']+"), r"\1[token]/"),
    (re.compile(r"(password-reset/)[^/\s?\"']+/[^/\s?\"']+/?"), r"\1[token]/"),
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"), "[email]"),
)
# A phone number: nine digits or more, with spaces, dashes or brackets between them (never dots or
# colons, so addresses, versions and times stay), and not a date.
_PHONE = re.compile(r"(?<![\w/.:-])\+?\(?\d[\d ()-]{7,}\d(?![\w.:-])")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _phone_redacted(match: re.Match[str]) -> str:
    text = match.group(0)
    if sum(char.isdigit() for char in text) < 9 or _DATE.match(text):
        return text
    return "[phone]"


def redact(text: str) -> str:
    """`text` without e-mail addresses, phone numbers, API keys, tokens and secrets."""
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return _PHONE.sub(_phone_redacted, text)


class RedactingFilter(logging.Filter):
    """On every handler: the message (with its arguments) and any traceback are redacted before any
    formatter sees them."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # arguments that do not fit the message: logging reports it itself
            return True
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        http = getattr(record, "http", None)
        if isinstance(http, dict) and isinstance(http.get("path"), str):
            record.http = {**http, "path": redact(http["path"])}
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for production log collectors; an access line's fields (method,
    path, status, duration_ms) are fields of its own."""

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
        http = getattr(record, "http", None)
        if isinstance(http, dict):
            payload.update(http)
        # The trace this line belongs to, when traces are on (config.tracing): logs and spans meet by it.
        span_context = trace.get_current_span().get_span_context()
        if span_context.is_valid:
            payload["trace_id"] = format(span_context.trace_id, "032x")
        if record.exc_text:
            payload["traceback"] = record.exc_text
        elif record.exc_info:
            payload["traceback"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False)
