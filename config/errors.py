"""One error shape for the whole product: {"error": {"code", "message", "details"}}."""

from __future__ import annotations

import logging
from typing import Any

from django.http import JsonResponse

logger = logging.getLogger(__name__)


class ApplicationError(Exception):
    """A failure we expect and can explain to whoever asked."""

    code = "error"
    status = 400

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.details = details

    def as_dict(self) -> dict[str, Any]:
        return error_body(self.code, self.message, self.details)


class NotFound(ApplicationError):
    code = "not_found"
    status = 404


class ValidationFailed(ApplicationError):
    code = "invalid"
    status = 400


class PermissionDenied(ApplicationError):
    code = "forbidden"
    status = 403


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


def error_response(code: str, message: str, status: int, details: Any = None) -> JsonResponse:
    return JsonResponse(error_body(code, message, details), status=status)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Any:
    """DRF exception handler rendering every error in the one shape."""
    from rest_framework import exceptions as drf_exceptions
    from rest_framework.response import Response

    if isinstance(exc, ApplicationError):
        return Response(exc.as_dict(), status=exc.status)
    if isinstance(exc, drf_exceptions.APIException):
        code = exc.get_codes() if isinstance(exc.get_codes(), str) else "invalid"
        detail = exc.detail
        message = detail if isinstance(detail, str) else "The request is not valid."
        details = None if isinstance(detail, str) else detail
        return Response(error_body(str(code), str(message), details), status=exc.status_code)
    logger.exception("unhandled API error")
    return Response(error_body("server_error", "Something went wrong on our side."), status=500)
