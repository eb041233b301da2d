from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string


class SuspendedTenantMiddleware:
    """A suspended business's domain answers 403 with a page that says why, and nothing else."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        tenant = getattr(request, "tenant", None)
        if tenant is not None and getattr(tenant, "status", "active") != "active":
            body = render_to_string("tenants/suspended.html", {"tenant_name": tenant.name})
            return HttpResponse(body, status=403)
        return self.get_response(request)
