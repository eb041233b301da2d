"""What the platforms are sent, as their docs shape it: quick replies as WhatsApp reply buttons
where they fit (at most three, titles of at most 20 characters) and as a Telegram keyboard."""

from __future__ import annotations

from chat.messaging.platforms import telegram_message_payload, whatsapp_message_body


def test_quick_replies_become_whatsapp_buttons_where_the_platform_allows():
    body = whatsapp_message_body(to="16315551181", text="Which size?", quick_replies=["Small", "Medium",
                                                                                    "A very large size indeed"],
                                 template=None)
    assert body == {"messaging_product": "whatsapp", "recipient_type": "individual", "to": "16315551181",
                    "type": "interactive", "interactive": {
                        "type": "button", "body": {"text": "Which size?"}, "action": {"buttons": [
                            {"type": "reply", "reply": {"id": "qr0", "title": "Small"}},
                            {"type": "reply", "reply": {"id": "qr1", "title": "Medium"}},
                            {"type": "reply", "reply": {"id": "qr2", "title": "A very large size in"}}]}}}
    four = whatsapp_message_body(to="1", text="Pick one", quick_replies=["a", "b", "c", "d"], template=None)
    assert four["type"] == "text" and four["text"] == {"preview_url": False, "body": "Pick one"}


def test_quick_replies_become_a_one_time_telegram_keyboard():
    payload = telegram_message_payload(chat_id="424242", text="Which size?", quick_replies=["Small", "Medium"])
    assert payload == {"chat_id": "424242", "text": "Which size?",
                       "reply_markup": {"keyboard": [[{"text": "Small"}], [{"text": "Medium"}]],
                                        "one_time_keyboard": True, "resize_keyboard": True}}
    assert "reply_markup" not in telegram_message_payload(chat_id="1", text="Hi", quick_replies=[])
