"""What a platform's webhook body says, in one shape: pure functions from the documented payloads
(WhatsApp Cloud API's `whatsapp_business_account` notifications, Telegram's `Update`) to the items
this app acts on. Anything not meant for the assistant (echoes, other bots, a group's chatter, a
status) is sorted out here, so the services never answer it.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from typing import Any

from config.errors import ValidationFailed


class Kind(enum.StrEnum):
    MESSAGE = "message"  # text for the assistant
    UNSUPPORTED = "unsupported"  # a customer's message with nothing to read (a photo without caption)
    STATUS = "status"  # a sent message's fate (WhatsApp)
    IGNORED = "ignored"  # never answered: an echo, a bot, a group message not for us, a reaction


@dataclass(frozen=True)
class InboundItem:
    kind: Kind
    # Who: WhatsApp's wa_id, or Telegram's chat id (where the reply goes).
    address: str = ""
    name: str = ""
    # The platform's id for this message (deduplication), or for a status the sent message's id.
    message_id: str = ""
    text: str = ""
    status: str = ""
    error: str = ""
    why: str = ""  # for IGNORED: the log line's reason


def body_json(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise ValidationFailed("The body is not JSON.", code="invalid_json") from error
    if not isinstance(payload, dict):
        raise ValidationFailed("The body is not a JSON object.", code="invalid_json")
    return payload


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


# ----------------------------------------------------------------------------------------- WhatsApp

_WHATSAPP_MEDIA = ("image", "video", "document", "audio", "sticker", "location", "contacts")


def _whatsapp_text(message: dict[str, Any]) -> str | None:
    """The words of a customer's message, or None when it has none to read."""
    kind = message.get("type")
    if kind == "text":
        return str(_dict(message.get("text")).get("body") or "")
    if kind == "interactive":
        interactive = _dict(message.get("interactive"))
        reply = _dict(interactive.get("button_reply")) or _dict(interactive.get("list_reply"))
        return str(reply.get("title") or reply.get("id") or "")
    if kind == "button":  # a template's quick-reply button
        button = _dict(message.get("button"))
        return str(button.get("text") or button.get("payload") or "")
    if kind in ("image", "video", "document"):
        caption = _dict(message.get(kind)).get("caption")
        return str(caption) if caption else None
    return None


def whatsapp_items(payload: dict[str, Any], *, phone_number_id: str) -> list[InboundItem]:
    if payload.get("object") != "whatsapp_business_account":
        return [InboundItem(Kind.IGNORED, why=f"object {payload.get('object')!r}")]
    items: list[InboundItem] = []
    for entry in _list(payload.get("entry")):
        for change in _list(_dict(entry).get("changes")):
            change = _dict(change)
            value = _dict(change.get("value"))
            if change.get("field") != "messages":
                items.append(InboundItem(Kind.IGNORED, why=f"field {change.get('field')!r}"))
                continue
            metadata = _dict(value.get("metadata"))
            if str(metadata.get("phone_number_id") or "") != phone_number_id:
                # Another number's notification (a Meta app shared by several businesses): never ours.
                items.append(InboundItem(Kind.IGNORED, why="another phone number id"))
                continue
            own_number = "".join(ch for ch in str(metadata.get("display_phone_number") or "") if ch.isdigit())
            names = {str(_dict(c).get("wa_id")): str(_dict(_dict(c).get("profile")).get("name") or "")
                     for c in _list(value.get("contacts"))}
            for message in map(_dict, _list(value.get("messages"))):
                sender = str(message.get("from") or "")
                if not sender or not message.get("id"):
                    items.append(InboundItem(Kind.IGNORED, why="message without sender or id"))
                    continue
                if own_number and sender == own_number:
                    items.append(InboundItem(Kind.IGNORED, why="our own number's echo"))
                    continue
                text = _whatsapp_text(message)
                common = {"address": sender, "name": names.get(sender, ""), "message_id": f"wa:{message['id']}"}
                if text:
                    items.append(InboundItem(Kind.MESSAGE, text=text, **common))
                elif message.get("type") in _WHATSAPP_MEDIA:
                    items.append(InboundItem(Kind.UNSUPPORTED, why=str(message.get("type")), **common))
                else:
                    items.append(InboundItem(Kind.IGNORED, why=f"message type {message.get('type')!r}"))
            for status in map(_dict, _list(value.get("statuses"))):
                errors = [_dict(e) for e in _list(status.get("errors"))]
                error = ""
                if errors:
                    first = errors[0]
                    details = _dict(first.get("error_data")).get("details")
                    error = f"{first.get('code', '')} {first.get('title') or first.get('message') or ''}".strip()
                    if details:
                        error = f"{error}: {details}"
                items.append(InboundItem(Kind.STATUS, message_id=str(status.get("id") or ""),
                                         status=str(status.get("status") or ""), error=error[:500],
                                         address=str(status.get("recipient_id") or "")))
    return items


# ----------------------------------------------------------------------------------------- Telegram


def _telegram_addressed_to_bot(message: dict[str, Any], *, bot_user_id: int | None, bot_username: str) -> bool:
    """In a group, only what names the bot, replies to it or is a command: the rest is people talking."""
    text = str(message.get("text") or message.get("caption") or "")
    if bot_username and f"@{bot_username}".lower() in text.lower():
        return True
    if text.startswith("/"):
        # "/help" is for every bot in the group; "/help@other_bot" only for that one.
        command = text.split(maxsplit=1)[0]
        return "@" not in command or command.lower().endswith(f"@{bot_username}".lower())
    replied = _dict(_dict(message.get("reply_to_message")).get("from"))
    return bot_user_id is not None and replied.get("id") == bot_user_id


def _telegram_command_text(text: str, *, bot_username: str) -> str:
    """`/start` (a new chat) reads as a greeting; another command as its word; a mention is dropped."""
    if bot_username:
        text = text.replace(f"@{bot_username}", "").strip()
    if not text.startswith("/"):
        return text
    command, _, rest = text[1:].partition(" ")
    if command == "start":
        return "Hello"
    return f"{command} {rest}".strip()


def telegram_items(update: dict[str, Any], *, bot_user_id: int | None, bot_username: str) -> list[InboundItem]:
    edited = "edited_message" in update
    message = _dict(update.get("edited_message") if edited else update.get("message"))
    if not message:
        return [InboundItem(Kind.IGNORED, why="update without a message")]
    sender = _dict(message.get("from"))
    chat = _dict(message.get("chat"))
    if sender.get("is_bot"):
        return [InboundItem(Kind.IGNORED, why="a bot's message")]
    chat_type = chat.get("type")
    if chat_type not in ("private", "group", "supergroup") or chat.get("id") is None:
        return [InboundItem(Kind.IGNORED, why=f"chat type {chat_type!r}")]
    if chat_type != "private" and not _telegram_addressed_to_bot(message, bot_user_id=bot_user_id,
                                                                 bot_username=bot_username):
        return [InboundItem(Kind.IGNORED, why="a group message not addressed to the bot")]
    chat_id = str(chat["id"])
    name = str(chat.get("title") or " ".join(filter(None, (sender.get("first_name"), sender.get("last_name")))))
    message_id = f"tg:{chat_id}:{message.get('message_id')}"
    if edited:
        message_id = f"{message_id}:e{message.get('edit_date') or ''}"
    raw = str(message.get("text") or message.get("caption") or "").strip()
    text = _telegram_command_text(raw, bot_username=bot_username)
    if edited and text:
        text = f"(edited) {text}"
    if not text:
        return [InboundItem(Kind.UNSUPPORTED, address=chat_id, name=name, message_id=message_id, why="no text")]
    return [InboundItem(Kind.MESSAGE, address=chat_id, name=name, message_id=message_id, text=text)]
