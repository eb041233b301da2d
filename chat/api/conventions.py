"""What every `/api/v1/` endpoint does the same way (docs/api.md, "Conventions").

Endpoints subclass `ApiView` (or, for public documents such as the schema, `PublicApiView`) and so
get: API-key authentication and scopes, JSON in and out, errors in the platform's one shape
(config.errors.api_exception_handler), and the request id on every response (X-Request-ID, from
config.middleware.RequestIdMiddleware, which wraps every request).
"""

from __future__ import annotations

from typing import ClassVar

from django.http import HttpRequest, JsonResponse
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer

from chat.api.authentication import ApiKeyAuthentication
from chat.api.permissions import ScopeRequired
from config.errors import error_response


class ApiView(GenericAPIView):
    """An endpoint for the holder of an API key: `api_scope` names the area it belongs to."""

    api_scope: ClassVar[str | None] = None
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [ScopeRequired]
    renderer_classes = [JSONRenderer]
    parser_classes = [JSONParser]


class PublicApiView(GenericAPIView):
    """A document anyone may read (the schema, its docs): no key asked, nothing tenant-private shown."""

    authentication_classes: ClassVar[list[type]] = []
    permission_classes: ClassVar[list[type]] = []


def api_not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    """Any other path under /api/: a 404 in the one shape, not the HTML page a browser gets."""
    return error_response("not_found", "There is no such API endpoint. See /api/v1/docs/.", 404)
