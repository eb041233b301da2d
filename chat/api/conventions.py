"""What every `/api/v1/` endpoint does the same way (docs/api.md, "Conventions").

Endpoints subclass `ApiView` and so get, in this order:

1. a body over the view's `max_body_bytes` refused with 413 from its Content-Length, before it is
   parsed (API_MAX_BODY_BYTES unless the view says otherwise);
2. API-key authentication (`Authorization: Bearer <key>`), every refusal the same 401;
3. the key's rate limit (API_RATE_LIMIT_PER_MINUTE, counted in Redis across processes): `RateLimit-*`
   headers on every answer, 429 with `Retry-After` past it;
4. scopes (chat.api.permissions): `read` or `write` by method, plus the view's `api_scope`;
5. on POST, `Idempotency-Key`: the first answer to a key is stored and replayed for the same request,
   and the key with another request is refused;
6. JSON in (strict serializers: `StrictSerializer` refuses unknown fields) and out, lists paginated
   by cursor (`CursorPage`), errors in the platform's one shape (config.errors.api_exception_handler),
   and the request id on every response (X-Request-ID, from config.middleware.RequestIdMiddleware).
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, serializers
from rest_framework.generics import GenericAPIView
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from chat.api.authentication import ApiKeyAuthentication
from chat.api.models import ApiKey
from chat.api.permissions import ScopeRequired
from chat.api.services import (
    API_RATE_WINDOW_SECONDS,
    IdempotentStart,
    RateState,
    api_rate_limit_hit,
    idempotency_begin,
    idempotency_finish,
)
from config.errors import ApplicationError, ValidationFailed, error_response

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"


class PayloadTooLarge(ApplicationError):
    code = "payload_too_large"
    status = 413


class RateLimited(ApplicationError):
    code = "rate_limited"
    status = 429


class _Replay(exceptions.APIException):
    """Raised once the stored answer is found, to skip the handler; never reaches a client as such."""

    def __init__(self, start: IdempotentStart) -> None:
        super().__init__()
        self.start = start


# ------------------------------------------------------------------------------ validation


class StrictSerializer(serializers.Serializer):
    """A request body: a JSON object whose every field the serializer knows. An unknown field is a
    400 naming it, not silently dropped (a misspelt field would otherwise do nothing, quietly)."""

    def to_internal_value(self, data: Any) -> Any:
        unknown = {str(name): ["Unknown field."] for name in data if name not in self.fields} \
            if isinstance(data, dict) else {}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as error:
            if unknown and isinstance(error.detail, dict):
                raise serializers.ValidationError({**unknown, **error.detail}) from error
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return value


def query_params_check(request: Request, *, allowed: set[str]) -> None:
    """Query parameters of a list: unknown ones refused like unknown fields."""
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        raise ValidationFailed(f"Unknown query parameter: {', '.join(unknown)}.",
                               details={name: ["Unknown query parameter."] for name in unknown})


# ------------------------------------------------------------------------------ pagination


class CursorPage(CursorPagination):
    """`?limit=` (1 to 100) and `?cursor=` in; `{"data": [...], "has_more", "next_cursor"}` out.

    Newest first, by id: a cursor stays right however many rows are added while a client walks.
    """

    ordering = "-id"
    page_size = 25
    max_page_size = 100
    page_size_query_param = "limit"
    invalid_cursor_message = "The cursor is not one this API gave out."

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not raw.isdigit() or not 1 <= int(raw) <= self.max_page_size:
            raise ValidationFailed(f"limit is a whole number from 1 to {self.max_page_size}.",
                                   details={"limit": [f"From 1 to {self.max_page_size}."]})
        return int(raw)

    def paginate_queryset(self, queryset: QuerySet[Any], request: Request, view: Any = None) -> list[Any] | None:
        try:
            return super().paginate_queryset(queryset, request, view)
        except exceptions.NotFound as error:
            raise ValidationFailed(self.invalid_cursor_message, code="invalid_cursor",
                                   details={"cursor": [self.invalid_cursor_message]}) from error

    def next_cursor(self) -> str | None:
        link = self.get_next_link()
        if not link:
            return None
        return parse_qs(urlsplit(link).query).get(self.cursor_query_param, [None])[0]

    def get_paginated_response(self, data: Any) -> Response:
        return Response(OrderedDict([("data", data), ("has_more", bool(self.has_next)),
                                     ("next_cursor", self.next_cursor())]))

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["data", "has_more", "next_cursor"],
            "properties": {
                "data": schema,
                "has_more": {"type": "boolean", "description": "More rows follow this page."},
                "next_cursor": {"type": ["string", "null"],
                                "description": "Pass as `cursor` for the next page; null on the last."},
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {"name": self.cursor_query_param, "required": False, "in": "query",
             "description": "The `next_cursor` of the previous page.", "schema": {"type": "string"}},
            {"name": self.page_size_query_param, "required": False, "in": "query",
             "description": f"Rows per page, 1 to {self.max_page_size} (default {self.page_size}).",
             "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size}},
        ]


# ------------------------------------------------------------------------------ the views


def _fingerprint(request: Request) -> str:
    """The request as the client sent it: method, path, query, and its data (files by their bytes)."""
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.path}?{request.META.get('QUERY_STRING', '')}\n".encode())
    data = request.data
    plain: Any
    if hasattr(data, "lists"):
        plain = {key: values for key, values in data.lists()}
    else:
        plain = data
    for upload in request.FILES.values():
        if isinstance(upload, UploadedFile):
            for chunk in upload.chunks():
                digest.update(chunk)
            upload.seek(0)
    digest.update(json.dumps(plain, sort_keys=True, default=str).encode())
    return digest.hexdigest()


class ApiView(GenericAPIView):
    """An endpoint for the holder of an API key: `api_scope` names the area it belongs to."""

    api_scope: ClassVar[str | None] = None
    max_body_bytes: ClassVar[int | None] = None  # None: API_MAX_BODY_BYTES
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [ScopeRequired]
    renderer_classes = [JSONRenderer]
    parser_classes = [JSONParser]
    pagination_class = CursorPage
    # No OPTIONS self-description: the OpenAPI schema is the description (OPTIONS is a 405).
    metadata_class = None

    rate_state: RateState | None = None
    idempotent: IdempotentStart | None = None

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        limit = self.max_body_bytes or settings.API_MAX_BODY_BYTES
        declared = request.META.get("CONTENT_LENGTH") or ""
        if declared.isdigit() and int(declared) > limit:
            raise PayloadTooLarge(f"The body is larger than {limit} bytes.", details={"limit_bytes": limit})
        super().initial(request, *args, **kwargs)
        if request.method == "POST" and IDEMPOTENCY_HEADER in request.headers:
            start = idempotency_begin(api_key=request.auth, key=request.headers[IDEMPOTENCY_HEADER],
                                      fingerprint=_fingerprint(request))
            if start.replay:
                raise _Replay(start)
            self.idempotent = start

    def perform_authentication(self, request: Request) -> None:
        super().perform_authentication(request)
        api_key = request.auth
        if isinstance(api_key, ApiKey):
            self.rate_state = api_rate_limit_hit(schema_name=request.user.schema_name, api_key=api_key)
            if self.rate_state is not None and not self.rate_state.allowed:
                raise RateLimited("Too many requests for this API key; retry after the time given.",
                                  details={"retry_after": self.rate_state.reset_seconds})

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, _Replay):
            record = exc.start.record
            replay = HttpResponse(bytes(record.body), status=record.status_code,
                                  content_type=record.content_type or "application/json")
            replay[REPLAYED_HEADER] = "true"
            return replay  # type: ignore[return-value]
        return super().handle_exception(exc)

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        state = self.rate_state
        if state is not None:
            response["RateLimit-Limit"] = str(state.limit)
            response["RateLimit-Remaining"] = str(max(0, state.remaining))
            response["RateLimit-Reset"] = str(state.reset_seconds)
            response["RateLimit-Policy"] = f"{state.limit};w={API_RATE_WINDOW_SECONDS}"
            if not state.allowed:
                response["Retry-After"] = str(state.reset_seconds)
        if self.idempotent is not None:
            if hasattr(response, "render") and not getattr(response, "is_rendered", True):
                response.render()
            idempotency_finish(record=self.idempotent.record, status_code=response.status_code,
                               content_type=response.get("Content-Type", ""), body=response.content)
            self.idempotent = None
        return response


@csrf_exempt  # an API client has no CSRF token: it should learn the path is wrong, not that
def api_not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    """Any other path under /api/: a 404 in the one shape, not the HTML page a browser gets."""
    return error_response("not_found", "There is no such API endpoint. See /api/v1/docs/.", 404)
