from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils import timezone


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


def tenant_zone_of(tenant: object) -> ZoneInfo:
    """The zone a tenant's pages speak in: its own, UTC on the public site or for a name no longer known."""
    try:
        return ZoneInfo(getattr(tenant, "timezone", None) or "UTC")
    except (ValueError, ZoneInfoNotFoundError):
        return ZoneInfo("UTC")


class TenantTimeZoneMiddleware:
    """Every time a page shows (templates' |date, localtime, forms) is in the business's own time zone.

    Times are stored in UTC (USE_TZ); the Amsterdam shop must see 07:00 for a message sent at 07:00
    there, not 06:00. Activated per request and always deactivated, so a worker thread never carries
    one tenant's zone into the next request.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        timezone.activate(tenant_zone_of(getattr(request, "tenant", None)))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
