"""Project middleware: request ids, health checks, request sanity, the Content-Security-Policy."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable

from csp.middleware import CSPMiddleware, PolicyParts
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django_tenants.middleware.main import TenantMainMiddleware as DjangoTenantsMainMiddleware

from config import health
from config.errors import error_json_response, error_response, store_failure
from config.logging import log_context, new_request_id, user_var
from config.metrics import request_observe

REQUEST_ID_HEADER = "X-Request-ID"
HEALTH_CHECK_PATHS = ("/healthz", "/readyz")
logger = logging.getLogger(__name__)
access_logger = logging.getLogger("deskpilot.access")
# A client-supplied id is echoed into logs and headers, so only a safe shape is accepted.
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def request_id_from(request: HttpRequest) -> str:
    supplied = request.headers.get(REQUEST_ID_HEADER, "")
    return supplied if _VALID_REQUEST_ID.match(supplied) else new_request_id()


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_from(request)
        request.request_id = request_id  # type: ignore[attr-defined]
        started = time.monotonic()
        with log_context(request_id=request_id, user="-"):
            response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        seconds = time.monotonic() - started
        # The access line, in place of the web server's own (which knows neither the request id nor
        # the tenant); the load balancer's health checks only when debugging. Its fields go to the
        # JSON log as fields of their own (config.logging.JsonFormatter).
        health_check = request.path in HEALTH_CHECK_PATHS
        level = logging.DEBUG if health_check else logging.INFO
        path = request.get_full_path()[:500]
        access_logger.log(level, "%s %s %s %.0fms", request.method, path, response.status_code, seconds * 1000,
                          extra={"request": request, "http": {"method": request.method, "path": path,
                                                              "status": response.status_code,
                                                              "duration_ms": round(seconds * 1000, 1)}})
        if not health_check:
            request_observe(request=request, status=response.status_code, seconds=seconds)
        return response


class ValidHostMiddleware:
    """A malformed Host header is a 400 before anything else looks at it (django-tenants would say 404)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.get_host()  # raises DisallowedHost, which Django answers with 400
        return self.get_response(request)


# Forms whose fields Django parses into request.POST; any other body (JSON webhooks, API calls) is left
# to its view, which reads it under its own size limits.
_FORM_CONTENT_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _has_nul(values: object) -> bool:
    return any("\x00" in key or any("\x00" in value for value in values.getlist(key))  # type: ignore[attr-defined]
               for key in values)  # type: ignore[attr-defined]


class NulCharacterMiddleware:
    """A query string or form field with a NUL character is a 400 here, once for every page.

    PostgreSQL text cannot hold NUL, so such a value reaching a search or a filter failed its query
    with a 500, wherever it went. No person types one: refusing it costs nobody anything.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            nul = _has_nul(request.GET) or (request.content_type in _FORM_CONTENT_TYPES and _has_nul(request.POST))
        except MultiPartParserError:
            # Read here first, a malformed multipart body would otherwise be Django's bare 400.
            return error_response("parse_error", "The multipart body is malformed.", 400)
        if nul:
            return error_response("invalid", "The request contains a NUL character, which no field accepts.", 400)
        return self.get_response(request)


class HealthCheckMiddleware:
    """Answers /healthz and /readyz on every host, before the tenant lookup touches the database."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path == "/healthz":
            return JsonResponse({"status": "ok"})
        if request.path == "/readyz":
            checks = health.readiness_checks()
            ready = all(check["ok"] for check in checks.values())
            return JsonResponse({"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503)
        return self.get_response(request)


class TenantMainMiddleware(DjangoTenantsMainMiddleware):
    """django-tenants' tenant lookup from the Host header, answering in the one error shape when the
    database cannot be asked (stopped, restarting after a crash): 503 `store_unavailable`, which a
    shop or an API client retries, rather than a 500 page."""

    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        try:
            return super().process_request(request)
        except Exception as exc:
            unavailable = store_failure(exc)
            if unavailable is None:
                raise
            logger.warning("request refused before its tenant was known, a store failed: %s", exc)
            return error_json_response(unavailable)


class LogContextUserMiddleware:
    """After authentication: put the user on every log line of the request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            # Also on the request, for the lines Django logs after this middleware has returned.
            request.log_user = user.get_username()  # type: ignore[attr-defined]
            token = user_var.set(request.log_user)  # type: ignore[attr-defined]
            try:
                return self.get_response(request)
            finally:
                user_var.reset(token)
        return self.get_response(request)


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware (settings.CONTENT_SECURITY_POLICY), with one allowance: the platform
    admin's pages may use inline styles, since django-tenants' admin index colours the tenant apps
    with a <style> block. Its scripts stay as strict as everywhere else."""

    ADMIN_PREFIX = "/admin/"

    def get_policy_parts(self, request: HttpRequest, response: HttpResponseBase,
                         report_only: bool = False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if request.path_info.startswith(self.ADMIN_PREFIX):
            parts.update = {**(parts.update or {}), "style-src": ["'unsafe-inline'"]}
        return parts
