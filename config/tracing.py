"""Traces (OpenTelemetry, OTLP over HTTP) and errors (Sentry), each off until configured.

`observability_configure(process=...)` is called once per process before it serves anything: by the
ASGI entry point (web) and by each Celery pool process (worker). With OTEL_EXPORTER_OTLP_ENDPOINT set,
every request (Django), database query (psycopg), Redis command (redis-py) and task (Celery, with the
sending request's context carried in the task's headers) becomes a span through the stock
instrumentations; the product adds its own where no library sees the work: each socket frame, each
knowledge search and each model call (`span`). The request id and the tenant are attributes of the
request's span and of each task's.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from opentelemetry import trace

logger = logging.getLogger("deskpilot.tracing")
tracer = trace.get_tracer("deskpilot")

REQUEST_ID_ATTRIBUTE = "deskpilot.request_id"
TENANT_ATTRIBUTE = "deskpilot.tenant"
_configured = False


@contextlib.contextmanager
def span(name: str, **attributes: Any) -> Iterator[trace.Span]:
    """A span of the product's own, child of whatever is current (a no-op when tracing is off)."""
    with tracer.start_as_current_span(name, attributes={key: value for key, value in attributes.items()
                                                        if value is not None}) as current:
        yield current


def span_context_note(*, request_id: str | None, tenant: str | None) -> None:
    """Put the request id and tenant on the current span (a task's, a request's)."""
    current = trace.get_current_span()
    if request_id:
        current.set_attribute(REQUEST_ID_ATTRIBUTE, request_id)
    if tenant:
        current.set_attribute(TENANT_ATTRIBUTE, tenant)


def _django_response_hook(span: trace.Span, request: Any, response: Any) -> None:
    tenant = getattr(request, "tenant", None)
    if getattr(request, "request_id", None):
        span.set_attribute(REQUEST_ID_ATTRIBUTE, request.request_id)
    if tenant is not None:
        span.set_attribute(TENANT_ATTRIBUTE, tenant.schema_name)


def observability_configure(*, process: str) -> None:
    """Traces and error reports for this process, as configured; once."""
    global _configured
    if _configured:
        return
    _configured = True
    if settings.SENTRY_DSN:
        import sentry_sdk

        # send_default_pii off: no customer's address, cookie or body goes to Sentry.
        sentry_sdk.init(dsn=settings.SENTRY_DSN, environment=settings.SENTRY_ENVIRONMENT,
                        traces_sample_rate=settings.SENTRY_TRACES_SAMPLE_RATE, send_default_pii=False,
                        server_name=process)
    if not settings.OTEL_EXPORTER_OTLP_ENDPOINT:
        return
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": settings.OTEL_SERVICE_NAME,
                                                        "deskpilot.process": process}))
    # The exporter reads OTEL_EXPORTER_OTLP_ENDPOINT (and _HEADERS) itself and posts to its /v1/traces.
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    # Before Django builds its middleware chain: the instrumentation adds its middleware to the settings.
    DjangoInstrumentor().instrument(response_hook=_django_response_hook)
    PsycopgInstrumentor().instrument(enable_commenter=False)
    RedisInstrumentor().instrument()
    CeleryInstrumentor().instrument()
    logger.info("traces go to %s as %s", settings.OTEL_EXPORTER_OTLP_ENDPOINT, settings.OTEL_SERVICE_NAME)


def observability_flush() -> None:
    """Send the spans still buffered (a pool process about to end)."""
    provider = trace.get_tracer_provider()
    force_flush = getattr(provider, "force_flush", None)
    if force_flush is not None:
        force_flush()
