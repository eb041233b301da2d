"""A customer who wrote on Telegram, and whose conversation was told to the business's webhook, is
erased: nothing about them stays in the channel's records (who they are there, the replies sent them,
the channel's log) nor in the webhooks' (the events, their deliveries and attempts); another customer
of the same bot keeps theirs."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator

import pytest
from django.core import serializers
from django_tenants.utils import schema_context

from chat.conversations.customer_data import customer_data_erase
from chat.messaging.models import ChannelContact, ChannelEvent, OutboundMessage, OutboundState
from chat.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookMessage
from tests.messaging import payloads
from tests.support.processes import wait_until
from tests.webhooks.conftest import endpoint_for
from tests.webhooks.receiver import Receiver

update_ids = itertools.count(900_000)


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with Receiver().running() as running:
        yield running


def conversation_of(tenant: object, chat_id: int) -> tuple[int, int]:
    with schema_context(tenant.schema_name):  # type: ignore[attr-defined]
        identity = ChannelContact.objects.get(external_id=str(chat_id))
        return identity.conversation_id, identity.contact_id


def told_and_answered(tenant: object, conversation_id: int) -> bool:
    """The assistant's answer went out on Telegram, and the webhook got (and answered) every event
    about the conversation so far."""
    with schema_context(tenant.schema_name):  # type: ignore[attr-defined]
        sent = OutboundMessage.objects.filter(channel_contact__conversation_id=conversation_id,
                                              state=OutboundState.SENT).exists()
        about = WebhookDelivery.objects.filter(message__payload__data__conversation_id=conversation_id)
        attempted = about.exists() and not about.filter(attempt_log__isnull=True).exists()
        return sent and attempted


def rows_of_apps(tenant: object) -> str:
    """Every row the messaging and webhooks apps hold for this tenant, as text."""
    with schema_context(tenant.schema_name):  # type: ignore[attr-defined]
        rows = [*ChannelContact.objects.all(), *OutboundMessage.objects.all(), *ChannelEvent.objects.all(),
                *WebhookMessage.objects.all(), *WebhookDelivery.objects.all(), *WebhookAttempt.objects.all()]
        return serializers.serialize("json", rows)


def test_an_erased_telegram_customer_leaves_nothing_in_the_channel_or_webhook_records(
        web, worker, fake, tenant_a, telegram_for, receiver: Receiver) -> None:
    tg = telegram_for(tenant_a)
    endpoint_for(tenant_a, receiver, path="/erasure")
    erased_chat, kept_chat = 731_905_117, 731_905_118
    for chat_id, text in ((erased_chat, "My flat is 4B at 9 Harbour Lane, where is my parcel?"),
                          (kept_chat, "Do you ship to Porto?")):
        assert tg.post(web, payloads.telegram_update(next(update_ids), text=text, chat_id=chat_id)).json()["stored"] == 1
    gone, gone_contact = conversation_of(tenant_a, erased_chat)
    kept, _ = conversation_of(tenant_a, kept_chat)
    for conversation_id in (gone, kept):
        wait_until(lambda c=conversation_id: told_and_answered(tenant_a, c), timeout=60,
                   message="the answer sent on Telegram and the webhook deliveries attempted")
    with schema_context(tenant_a.schema_name):
        reply_ids = list(OutboundMessage.objects.filter(channel_contact__conversation_id=gone)
                         .values_list("provider_message_id", flat=True))
        assert ChannelEvent.objects.filter(channel_contact__conversation_id=gone).exists()
    before = rows_of_apps(tenant_a)
    assert "9 Harbour Lane" in before and str(erased_chat) in before  # what must go is there to go

    with schema_context(tenant_a.schema_name):
        customer_data_erase(contact_id=gone_contact)

    after = rows_of_apps(tenant_a)
    for trace in ("9 Harbour Lane", str(erased_chat)):
        assert trace not in after, trace
    with schema_context(tenant_a.schema_name):
        assert not ChannelContact.objects.filter(conversation_id=gone).exists()
        # The log's lines of the replies sent them ("sent", then Telegram's statuses) went too.
        assert not ChannelEvent.objects.filter(channel=tg.channel.pk, detail__in=reply_ids).exists()
        for message in WebhookMessage.objects.all():
            data = message.payload["data"]
            assert data.get("conversation_id") != gone and data.get("contact_id") != gone_contact, message.payload
        # The other customer of the same bot keeps all of theirs.
        assert ChannelContact.objects.filter(conversation_id=kept, external_id=str(kept_chat)).exists()
        assert OutboundMessage.objects.filter(channel_contact__conversation_id=kept).exists()
        assert ChannelEvent.objects.filter(channel_contact__conversation_id=kept).exists()
        assert WebhookAttempt.objects.filter(delivery__message__payload__data__conversation_id=kept).exists()
    assert "Do you ship to Porto?" in after and json.dumps(str(kept_chat)) in after
