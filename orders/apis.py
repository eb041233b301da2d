"""Shop webhook endpoints on the business's own domain: parse the request, call the service, answer."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from config.errors import ApplicationError, json_errors
from orders.models import Platform
from orders.services.webhooks import webhook_receive


def _body_within_limit(request: HttpRequest, limit: int) -> bytes | None:
    """The raw body, or None when it is larger than the limit; never reads more than limit + 1 bytes."""
    declared = request.META.get("CONTENT_LENGTH") or ""
    if declared.isdigit() and int(declared) > limit:
        return None
    body = request.read(limit + 1)
    return None if len(body) > limit else body


def _receive(request: HttpRequest, platform: str) -> JsonResponse:
    limit = settings.ORDERS_WEBHOOK_MAX_BODY_BYTES
    body = _body_within_limit(request, limit)
    if body is None:
        raise ApplicationError(f"The body is larger than {limit} bytes.", code="payload_too_large", status=413,
                               details={"limit_bytes": limit})
    receipt = webhook_receive(platform=platform, headers=request.headers, body=body)
    return JsonResponse(receipt.as_dict(), status=200)


@csrf_exempt
@require_POST
@json_errors
def shopify_webhook(request: HttpRequest) -> JsonResponse:
    return _receive(request, Platform.SHOPIFY)


@csrf_exempt
@require_POST
@json_errors
def woocommerce_webhook(request: HttpRequest) -> JsonResponse:
    return _receive(request, Platform.WOOCOMMERCE)
