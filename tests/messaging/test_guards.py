"""Loop and abuse guards: the platform's echoes, reactions and other fields are never answered, and a
sender beyond the per-conversation limit is logged and dropped (the platform still gets its 200)."""

from __future__ import annotations

import uuid

from django_tenants.utils import schema_context

from chat.conversations.models import Message
from chat.messaging.inbound import Kind, whatsapp_items
from chat.messaging.models import ChannelEvent
from chat.messaging.services import whatsapp_webhook_receive
from tests.messaging import payloads


def test_echoes_reactions_other_numbers_and_other_fields_are_not_for_the_assistant():
    number = "106540352242922"
    echo = payloads.whatsapp_text(number, "our own answer", message_id="wamid.E1", wa_id=payloads.BUSINESS_NUMBER)
    reaction = payloads.whatsapp_message(number, {"id": "wamid.R1", "type": "reaction",
                                                  "reaction": {"message_id": "wamid.X", "emoji": "👍"}})
    elsewhere = payloads.whatsapp_text("999999999999", "for another business", message_id="wamid.O1")
    template_status = payloads.whatsapp_text(number, "x", message_id="wamid.T1")
    template_status["entry"][0]["changes"][0]["field"] = "message_template_status_update"
    for payload in (echo, reaction, elsewhere, template_status):
        assert [item.kind for item in whatsapp_items(payload, phone_number_id=number)] == [Kind.IGNORED]
    assert whatsapp_items({"object": "page", "entry": []}, phone_number_id=number)[0].kind == Kind.IGNORED


def test_a_sender_over_the_per_conversation_limit_is_dropped_and_logged(tenant_a, whatsapp_for, settings):
    settings.MESSAGING_MESSAGES_PER_MINUTE_PER_CONVERSATION = 3
    wa = whatsapp_for(tenant_a)
    receipts = []
    with schema_context(tenant_a.schema_name):
        for index in range(5):
            raw = payloads.body(payloads.whatsapp_text(wa.channel.phone_number_id, f"spam {index}",
                                                       message_id=f"wamid.{uuid.uuid4().hex}", wa_id="16315559999"))
            receipts.append(whatsapp_webhook_receive(channel_id=wa.channel.pk, body=raw,
                                                     signature=payloads.signature(wa.app_secret, raw)))
        # Another customer of the same number is not held back by the first one.
        raw = payloads.body(payloads.whatsapp_text(wa.channel.phone_number_id, "a real question",
                                                   message_id=f"wamid.{uuid.uuid4().hex}", wa_id="16315558888"))
        other = whatsapp_webhook_receive(channel_id=wa.channel.pk, body=raw,
                                         signature=payloads.signature(wa.app_secret, raw))
        assert [r.stored for r in receipts] == [1, 1, 1, 0, 0] and other.stored == 1
        assert list(Message.objects.values_list("text", flat=True).order_by("id")) == [
            "spam 0", "spam 1", "spam 2", "a real question"]
        assert ChannelEvent.objects.filter(kind="rate_limited").count() == 2


def test_in_a_group_a_command_for_another_bot_is_not_for_ours():
    from chat.messaging.inbound import telegram_items

    for text, kind in (("/start@other_bot", Kind.IGNORED), ("/start@shop_bot", Kind.MESSAGE),
                       ("/help", Kind.MESSAGE), ("nice weather", Kind.IGNORED)):
        update = payloads.telegram_update(1, text=text, chat_id=-100, chat_type="group")
        assert [item.kind for item in telegram_items(update, bot_user_id=7, bot_username="shop_bot")] == [kind], text
