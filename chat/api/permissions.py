"""Scopes: a request needs `read` (GET, HEAD, OPTIONS) or `write` (anything else), and the scope of
the area its view names (`api_scope`: conversations, knowledge, catalog, webhooks; None for an area
every key may read, such as usage)."""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from chat.api.models import ApiKey, Scope
from config.errors import PermissionDenied


def scopes_required(*, method: str, area: str | None) -> list[str]:
    needed = [Scope.READ if method in SAFE_METHODS else Scope.WRITE]
    if area is not None:
        needed.append(Scope(area))
    return [str(scope) for scope in needed]


class ScopeRequired(BasePermission):
    def has_permission(self, request: Request, view: APIView) -> bool:
        api_key = request.auth
        if not isinstance(api_key, ApiKey):
            return False
        needed = scopes_required(method=request.method or "GET", area=getattr(view, "api_scope", None))
        missing = [scope for scope in needed if scope not in api_key.scopes]
        if missing:
            raise PermissionDenied(f"This API key lacks the scope{'s' if len(missing) > 1 else ''} "
                                   f"{', '.join(missing)}.", code="insufficient_scope",
                                   details={"required_scopes": needed, "missing_scopes": missing})
        return True
