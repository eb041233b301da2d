"""One error shape for the whole product, and the one way each edge renders it.

An `ApplicationError` is a failure we expect and can explain. Services raise it; edges never build
their own answer from it, they hand it to the function here for their medium:

- JSON (REST API, webhooks, plain JSON views): `{"error": {"code", "message", "details"}}` with the
  error's HTTP status, from `api_exception_handler` (DRF) or `json_errors` (a plain Django view).
- HTML forms (the dashboard): `form_submit` shows the message on the form (on the field its details
  name, else above the form) and answers the page with the error's 4xx status; `errors_as_messages`
  for a button that posts and redirects (the message is flashed on the next page); `error_page` for
  a page that cannot be shown at all (its own template, the error's status).
- WebSocket frames: `error_frame`, the widget protocol's `{"type": "error", "code", "message", ...}`.
- Management commands: `command_errors`, a `CommandError` with the message.

A user never sees a traceback: an exception that is not an ApplicationError is logged with its
traceback and answered with a generic message. One kind is told apart (`store_failure`): PostgreSQL
or Redis unable to take the work (503 `store_unavailable`), or unable for lack of disk (507
`storage_full`), so a client knows to send it again later.
"""

from __future__ import annotations

import errno
import functools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

import redis
from django.contrib import messages
from django.core.management.base import CommandError
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

if TYPE_CHECKING:
    from django import forms

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


class StoreUnavailable(ApplicationError):
    """PostgreSQL or Redis cannot take the work now (stopped, restarting, refusing writes): try again."""

    code = "store_unavailable"
    status = 503


class StorageFull(StoreUnavailable):
    """A store, or this process, could not write because its disk is full: try again once space is freed."""

    code = "storage_full"
    status = 507


# PostgreSQL's SQLSTATE for "disk full" (class 53, insufficient resources).
_SQLSTATE_DISK_FULL = "53100"


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def store_failure(exc: BaseException) -> StoreUnavailable | None:
    """What to tell a client whose request a data store could not serve, or None for any other failure.

    The disk is named only where the cause says so: an OSError ENOSPC of this process, PostgreSQL's
    disk-full error, Redis refusing writes because its append-only file or snapshot could not be
    written for lack of space. Any other lost or refused database or Redis connection (a store
    stopped, PostgreSQL restarting after a crash) is a plain 503.
    """
    for cause in _causes(exc):
        if isinstance(cause, OSError) and cause.errno in (errno.ENOSPC, errno.EDQUOT):
            return StorageFull("Our storage is full, so this could not be saved. Please try again shortly.")
        if getattr(cause, "sqlstate", None) == _SQLSTATE_DISK_FULL:
            return StorageFull("Our database is out of disk space, so this could not be saved. "
                               "Please try again shortly.")
        # Redis's refusal, also when it comes back through a script that wrote ("Error running script ... -MISCONF").
        if isinstance(cause, redis.ResponseError) and "MISCONF" in str(cause):
            full = "No space left" in str(cause)
            return (StorageFull if full else StoreUnavailable)(
                "Our queue cannot save work right now. Please try again shortly.")
    if any(isinstance(cause, (OperationalError, InterfaceError, redis.ConnectionError, redis.TimeoutError))
           for cause in _causes(exc)):
        return StoreUnavailable("Our database or queue is unavailable right now. Please try again shortly.")
    return None


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
    unavailable = store_failure(exc)
    if unavailable is not None:
        logger.warning("API request refused, a store failed: %s", exc)
        return Response(unavailable.as_dict(), status=unavailable.status)
    logger.exception("unhandled API error")
    return Response(error_body("server_error", "Something went wrong on our side."), status=500)


def error_json_response(error: ApplicationError) -> JsonResponse:
    return JsonResponse(error.as_dict(), status=error.status)


View = TypeVar("View", bound=Callable[..., HttpResponse])


def json_errors(view: View) -> View:
    """For a plain Django JSON view (DRF views have `api_exception_handler`): an ApplicationError the
    view lets through is answered in the one shape with its status."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except ApplicationError as error:
            logger.info("request refused: %s", error.code)
            return error_json_response(error)
        except Exception as exc:
            unavailable = store_failure(exc)
            if unavailable is None:
                raise
            logger.warning("request refused, a store failed: %s", exc)
            return error_json_response(unavailable)

    return cast(View, wrapper)


# ------------------------------------------------------------------------------------ HTML forms

Result = TypeVar("Result")


@dataclass(frozen=True)
class FormSubmission(Generic[Result]):
    """What became of a posted form: the service's result, or the 4xx status to show the form again
    with (and the service's error, already on the form, for a page that also says it elsewhere)."""

    status: int
    result: Result | None = None
    error: ApplicationError | None = None

    @property
    def accepted(self) -> bool:
        return self.status < 400

    @property
    def message(self) -> str:
        return self.error.message if self.error is not None else ""


def form_submit(form: forms.BaseForm, submit: Callable[[dict[str, Any]], Result], *,
                error_field: str | None = None) -> FormSubmission[Result]:
    """Validate the bound form and hand its cleaned data to `submit` (one service call).

    An invalid form answers 400 with its field errors. An ApplicationError from the service is put
    on the form, on `error_field` or the field the error's details name, else above the form, and
    answers the error's own status; the page shows the form again either way.
    """
    if not form.is_valid():
        return FormSubmission(status=400)
    try:
        return FormSubmission(status=200, result=submit(form.cleaned_data))
    except ApplicationError as error:
        logger.info("form refused: %s", error.code)
        form.add_error(_field_for(form, error, error_field), error.message)
        return FormSubmission(status=error.status, error=error)


def _field_for(form: forms.BaseForm, error: ApplicationError, error_field: str | None) -> str | None:
    if error_field is not None:
        return error_field
    named = error.details.get("field") if isinstance(error.details, dict) else None
    return named if isinstance(named, str) and named in form.fields else None


def error_page(template: str) -> Callable[[View], View]:
    """For a page that cannot be shown at all when a service or selector refuses (an invitation link
    that expired, say): the error's own page, `template` rendered with `error`, at the error's status.
    Errors a form can show are caught first by `form_submit`."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                return view(request, *args, **kwargs)
            except ApplicationError as error:
                logger.info("page refused: %s", error.code)
                return render(request, template, {"error": error}, status=error.status)

        return cast(View, wrapper)

    return decorate


@contextmanager
def errors_as_messages(request: HttpRequest) -> Iterator[None]:
    """For a button that posts and redirects: an ApplicationError inside the block stops it and is
    shown on the page the browser lands on (the block's own success message is never added)."""
    try:
        yield
    except ApplicationError as error:
        logger.info("action refused: %s", error.code)
        messages.error(request, error.message)


# ------------------------------------------------------------------------------------ sockets


def error_frame(error: ApplicationError, *, client_id: Any = None) -> dict[str, Any]:
    """The widget protocol's error frame (docs/widget-protocol.md): the code and the message, the
    details when there are any (`retry_after` lifted to the top, as the widget reads it), and the
    client's id of the frame that failed so it can tell which one."""
    frame: dict[str, Any] = {"type": "error", "code": error.code, "message": error.message}
    if error.details:
        frame["details"] = error.details
        if isinstance(error.details, dict) and "retry_after" in error.details:
            frame["retry_after"] = error.details["retry_after"]
    if client_id:
        frame["client_id"] = client_id
    return frame


# ------------------------------------------------------------------------------------ commands

Handle = TypeVar("Handle", bound=Callable[..., Any])


def command_errors(handle: Handle) -> Handle:
    """For a management command's `handle`: an ApplicationError ends the command with its message
    (Django prints it and exits non-zero)."""

    @functools.wraps(handle)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return handle(*args, **kwargs)
        except ApplicationError as error:
            raise CommandError(error.message) from error

    return cast(Handle, wrapper)
