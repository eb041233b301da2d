"""Inbound webhooks on the business's own domain: /webhooks/whatsapp/<id>/ and /webhooks/telegram/<id>/.
Parse the request, call one service, answer; the services verify before anything is stored."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from chat.messaging.services import telegram_webhook_receive, whatsapp_challenge_answer, whatsapp_webhook_receive
from config.errors import ApplicationError, json_errors


def _body(request: HttpRequest) -> bytes:
    limit = settings.MESSAGING_WEBHOOK_MAX_BODY_BYTES
    declared = request.META.get("CONTENT_LENGTH") or ""
    body = b"" if declared.isdigit() and int(declared) > limit else request.read(limit + 1)
    if (declared.isdigit() and int(declared) > limit) or len(body) > limit:
        raise ApplicationError(f"The body is larger than {limit} bytes.", code="payload_too_large", status=413,
                               details={"limit_bytes": limit})
    return body


@csrf_exempt
@require_http_methods(["GET", "POST"])
@json_errors
def whatsapp_webhook(request: HttpRequest, channel_id: int) -> HttpResponse:
    if request.method == "GET":
        challenge = whatsapp_challenge_answer(channel_id=channel_id, mode=request.GET.get("hub.mode", ""),
                                              verify_token=request.GET.get("hub.verify_token", ""),
                                              challenge=request.GET.get("hub.challenge", ""))
        return HttpResponse(challenge, content_type="text/plain")
    receipt = whatsapp_webhook_receive(channel_id=channel_id, body=_body(request),
                                       signature=request.headers.get("X-Hub-Signature-256"))
    return JsonResponse(receipt.as_dict())


@csrf_exempt
@require_POST
@json_errors
def telegram_webhook(request: HttpRequest, channel_id: int) -> HttpResponse:
    receipt = telegram_webhook_receive(channel_id=channel_id, body=_body(request),
                                       secret_token=request.headers.get("X-Telegram-Bot-Api-Secret-Token"))
    return JsonResponse(receipt.as_dict())
