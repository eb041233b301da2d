"""The two platforms' HTTP APIs, as this app uses them: WhatsApp Cloud API (Graph API) and Telegram
Bot API. Plain functions over one httpx client per process whose every connection goes through the
egress guard (config.egress); the base URLs and the Graph API version are settings.

Errors are sorted once, here: `PlatformUnavailable` (the platform is down, slow or limiting us: try
again later) and `PlatformRejected` (it said no to this request: trying again changes nothing).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import httpx
from django.conf import settings

from config.egress import egress_refusal_in, guarded_httpx_transport
from config.errors import ApplicationError

# The Cloud API's limits on reply buttons: three buttons, each title at most twenty characters.
WHATSAPP_MAX_BUTTONS = 3
WHATSAPP_BUTTON_TITLE_MAX = 20
WHATSAPP_TEXT_MAX = 4096
TELEGRAM_TEXT_MAX = 4096
# The updates a bot is sent (setWebhook's allowed_updates): messages and their edits, nothing else.
TELEGRAM_ALLOWED_UPDATES = ("message", "edited_message")


class PlatformError(ApplicationError):
    code = "platform_error"
    status = 502


class PlatformUnavailable(PlatformError):
    """Down, slow, or rate limiting: the same request may succeed later."""

    code = "platform_unavailable"


class PlatformRejected(PlatformError):
    """The platform refused the request (bad credentials, unknown recipient, window closed)."""

    code = "platform_rejected"
    status = 400


@functools.cache
def _client() -> httpx.Client:
    return httpx.Client(transport=guarded_httpx_transport(), timeout=settings.MESSAGING_API_TIMEOUT_SECONDS,
                        trust_env=False, follow_redirects=False)


def _call(method: str, url: str, *, what: str, **kwargs: Any) -> httpx.Response:
    try:
        response = _client().request(method, url, **kwargs)
    except httpx.HTTPError as error:
        refused = egress_refusal_in(error)
        if refused is not None:
            raise PlatformRejected(f"{what}: {refused.message}", code="egress_refused") from error
        raise PlatformUnavailable(f"{what}: the platform could not be reached ({type(error).__name__}).") from error
    if response.status_code == 429 or response.status_code >= 500:
        raise PlatformUnavailable(f"{what}: the platform answered {response.status_code}.",
                                  details={"status": response.status_code})
    return response


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


# ------------------------------------------------------------------------------ WhatsApp Cloud API


@dataclass(frozen=True)
class WhatsAppNumber:
    display_phone_number: str
    verified_name: str


def _graph(path: str) -> str:
    return f"{settings.WHATSAPP_GRAPH_BASE_URL.rstrip('/')}/{settings.WHATSAPP_GRAPH_API_VERSION}/{path}"


def _graph_error(response: httpx.Response, what: str) -> PlatformRejected:
    error = _json(response).get("error") or {}
    message = error.get("message") if isinstance(error, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return PlatformRejected(f"{what}: {message or f'the Graph API answered {response.status_code}'}",
                            details={"status": response.status_code, "platform_code": code})


def whatsapp_number_get(*, phone_number_id: str, access_token: str) -> WhatsAppNumber:
    """The phone number's name on WhatsApp: proves the token may use that number."""
    what = "WhatsApp number check"
    response = _call("GET", _graph(phone_number_id), what=what,
                     params={"fields": "display_phone_number,verified_name"},
                     headers={"Authorization": f"Bearer {access_token}"})
    if response.status_code != 200:
        raise _graph_error(response, what)
    body = _json(response)
    return WhatsAppNumber(display_phone_number=str(body.get("display_phone_number") or phone_number_id),
                          verified_name=str(body.get("verified_name") or ""))


def whatsapp_message_body(*, to: str, text: str, quick_replies: list[str], template: tuple[str, str] | None
                          ) -> dict[str, Any]:
    """The messages endpoint's body: a template (outside the window), reply buttons where the quick
    replies fit the platform's limits, plain text otherwise."""
    base = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to}
    if template is not None:
        name, language = template
        return {**base, "type": "template", "template": {"name": name, "language": {"code": language}}}
    text = text[:WHATSAPP_TEXT_MAX]
    replies = [reply for reply in quick_replies if reply]
    if replies and len(replies) <= WHATSAPP_MAX_BUTTONS and len(text) <= 1024:
        buttons = [{"type": "reply", "reply": {"id": f"qr{index}", "title": reply[:WHATSAPP_BUTTON_TITLE_MAX]}}
                   for index, reply in enumerate(replies)]
        return {**base, "type": "interactive",
                "interactive": {"type": "button", "body": {"text": text}, "action": {"buttons": buttons}}}
    return {**base, "type": "text", "text": {"preview_url": False, "body": text}}


def whatsapp_message_send(*, phone_number_id: str, access_token: str, body: dict[str, Any]) -> str:
    """Send one message; returns its WhatsApp message id (wamid)."""
    what = "WhatsApp send"
    response = _call("POST", _graph(f"{phone_number_id}/messages"), what=what, json=body,
                     headers={"Authorization": f"Bearer {access_token}"})
    if response.status_code != 200:
        raise _graph_error(response, what)
    messages = _json(response).get("messages") or [{}]
    return str(messages[0].get("id") or "")


# ------------------------------------------------------------------------------- Telegram Bot API


@dataclass(frozen=True)
class TelegramBot:
    user_id: int
    username: str


@dataclass(frozen=True)
class TelegramWebhookInfo:
    url: str
    pending_update_count: int
    last_error_message: str
    last_error_date: int | None


def _bot_call(token: str, method: str, *, what: str, payload: dict[str, Any] | None = None) -> Any:
    url = f"{settings.TELEGRAM_API_BASE_URL.rstrip('/')}/bot{token}/{method}"
    response = _call("POST", url, what=what, json=payload or {})
    body = _json(response)
    if response.status_code != 200 or not body.get("ok"):
        raise PlatformRejected(f"{what}: {body.get('description') or f'the Bot API answered {response.status_code}'}",
                               details={"status": response.status_code, "platform_code": body.get("error_code")})
    return body.get("result")


def telegram_bot_get(*, token: str) -> TelegramBot:
    """getMe: proves the token is a bot's."""
    result = _bot_call(token, "getMe", what="Telegram token check") or {}
    if not result.get("is_bot"):
        raise PlatformRejected("Telegram token check: the token is not a bot's.")
    return TelegramBot(user_id=int(result["id"]), username=str(result.get("username") or ""))


def telegram_webhook_set(*, token: str, url: str, secret_token: str) -> None:
    _bot_call(token, "setWebhook", what="Telegram setWebhook",
              payload={"url": url, "secret_token": secret_token, "allowed_updates": list(TELEGRAM_ALLOWED_UPDATES)})


def telegram_webhook_delete(*, token: str) -> None:
    _bot_call(token, "deleteWebhook", what="Telegram deleteWebhook")


def telegram_webhook_info(*, token: str) -> TelegramWebhookInfo:
    result = _bot_call(token, "getWebhookInfo", what="Telegram getWebhookInfo") or {}
    return TelegramWebhookInfo(url=str(result.get("url") or ""),
                               pending_update_count=int(result.get("pending_update_count") or 0),
                               last_error_message=str(result.get("last_error_message") or ""),
                               last_error_date=result.get("last_error_date"))


def telegram_message_payload(*, chat_id: str, text: str, quick_replies: list[str]) -> dict[str, Any]:
    """sendMessage's parameters: quick replies as a one-time reply keyboard (a tap sends its text)."""
    payload: dict[str, Any] = {"chat_id": chat_id, "text": text[:TELEGRAM_TEXT_MAX]}
    replies = [reply for reply in quick_replies if reply]
    if replies:
        payload["reply_markup"] = {"keyboard": [[{"text": reply}] for reply in replies],
                                   "one_time_keyboard": True, "resize_keyboard": True}
    return payload


def telegram_message_send(*, token: str, payload: dict[str, Any]) -> str:
    result = _bot_call(token, "sendMessage", what="Telegram sendMessage", payload=payload) or {}
    return str(result.get("message_id") or "")


def telegram_typing_send(*, token: str, chat_id: str) -> None:
    _bot_call(token, "sendChatAction", what="Telegram sendChatAction", payload={"chat_id": chat_id, "action": "typing"})
