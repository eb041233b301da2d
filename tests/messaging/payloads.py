"""Webhook bodies shaped exactly as the platforms document them: WhatsApp Cloud API notifications
(`object: whatsapp_business_account`, `entry[].changes[].value` with `metadata`, `contacts`,
`messages` or `statuses`) and Telegram `Update` objects."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

BUSINESS_NUMBER = "15550100"


def whatsapp_notification(phone_number_id: str, value: dict[str, Any], *, waba_id: str = "102290129340398"
                          ) -> dict[str, Any]:
    return {"object": "whatsapp_business_account",
            "entry": [{"id": waba_id, "changes": [{"field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": BUSINESS_NUMBER, "phone_number_id": phone_number_id},
                **value}}]}]}


def whatsapp_message(phone_number_id: str, message: dict[str, Any], *, wa_id: str = "16315551181",
                     name: str = "Kerry Fisher") -> dict[str, Any]:
    return whatsapp_notification(phone_number_id, {
        "contacts": [{"profile": {"name": name}, "wa_id": wa_id}],
        "messages": [{"from": wa_id, "id": message.pop("id"), "timestamp": str(int(time.time())), **message}]})


def whatsapp_text(phone_number_id: str, text: str, *, message_id: str, wa_id: str = "16315551181") -> dict[str, Any]:
    return whatsapp_message(phone_number_id, {"id": message_id, "type": "text", "text": {"body": text}}, wa_id=wa_id)


def whatsapp_button_reply(phone_number_id: str, title: str, *, message_id: str,
                          wa_id: str = "16315551181") -> dict[str, Any]:
    return whatsapp_message(phone_number_id, {
        "id": message_id, "type": "interactive",
        "context": {"from": BUSINESS_NUMBER, "id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDQjZCMzlEQUE4OTJBMTE4RTUA"},
        "interactive": {"type": "button_reply", "button_reply": {"id": "qr0", "title": title}}}, wa_id=wa_id)


def whatsapp_image(phone_number_id: str, *, message_id: str, caption: str | None = None,
                   wa_id: str = "16315551181") -> dict[str, Any]:
    image: dict[str, Any] = {"mime_type": "image/jpeg", "sha256": "Ez9IbpN4Xh1bbkWmKkaSSZHLRlSHy/5aaFNMvT2nzGQ=",
                             "id": "1003383421387256"}
    if caption is not None:
        image["caption"] = caption
    return whatsapp_message(phone_number_id, {"id": message_id, "type": "image", "image": image}, wa_id=wa_id)


def whatsapp_status(phone_number_id: str, *, message_id: str, status: str, wa_id: str = "16315551181"
                    ) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": message_id, "status": status, "timestamp": str(int(time.time())),
                             "recipient_id": wa_id}
    if status == "failed":
        entry["errors"] = [{"code": 131026, "title": "Message undeliverable", "message": "Message undeliverable",
                            "error_data": {"details": "Message Undeliverable."}}]
    else:
        entry["conversation"] = {"id": "CONVERSATION_ID", "origin": {"type": "service"}}
        entry["pricing"] = {"billable": False, "pricing_model": "PMP", "category": "service"}
    return whatsapp_notification(phone_number_id, {"statuses": [entry]})


def body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()


def signature(app_secret: str, raw: bytes) -> str:
    return "sha256=" + hmac.new(app_secret.encode(), raw, hashlib.sha256).hexdigest()


# -------------------------------------------------------------------------------------- Telegram

def telegram_update(update_id: int, *, text: str | None = None, chat_id: int = 111222333, message_id: int = 1,
                    chat_type: str = "private", caption: str | None = None, edited: bool = False,
                    from_bot: bool = False, reply_to_bot_id: int | None = None, title: str = "") -> dict[str, Any]:
    sender = {"id": 999000111 if chat_type != "private" else chat_id, "is_bot": from_bot, "first_name": "Ana",
              "last_name": "Lima", "username": "ana_lima", "language_code": "en"}
    chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
    if chat_type == "private":
        chat.update(first_name="Ana", last_name="Lima", username="ana_lima")
    else:
        chat["title"] = title or "Shop fans"
    message: dict[str, Any] = {"message_id": message_id, "from": sender, "chat": chat, "date": int(time.time())}
    if text is not None:
        message["text"] = text
        if text.startswith("/"):
            message["entities"] = [{"offset": 0, "length": len(text.split()[0]), "type": "bot_command"}]
    if caption is not None:
        message["photo"] = [{"file_id": "AgACAgQAAxkBAAIB", "file_unique_id": "AQADm7cxG", "file_size": 1234,
                             "width": 90, "height": 60}]
        message["caption"] = caption
    if reply_to_bot_id is not None:
        message["reply_to_message"] = {"message_id": message_id - 1, "date": int(time.time()) - 60, "chat": chat,
                                       "from": {"id": reply_to_bot_id, "is_bot": True, "first_name": "Bot"},
                                       "text": "Anything else?"}
    if edited:
        message["edit_date"] = int(time.time())
        return {"update_id": update_id, "edited_message": message}
    return {"update_id": update_id, "message": message}
