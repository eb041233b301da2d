"""Telegram Bot API end to end: connecting sets a secret webhook, updates are accepted only with
that secret, and the assistant's answers go back with sendMessage, through the real web server and
worker against the fake Bot API."""

from __future__ import annotations

import itertools

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from chat.conversations.models import Author, Conversation, Message
from chat.conversations.services import contact_get_or_create, conversation_start
from chat.messaging.models import MessagingChannel
from chat.messaging.platforms import PlatformRejected
from chat.messaging.selectors import channel_health
from chat.messaging.services import channel_telegram_connect
from tests.messaging import payloads
from tests.support.owner_session import form_post, owner_dashboard
from tests.support.processes import wait_until

update_ids = itertools.count(700_000)


def messages(tenant: object, **lookup: object) -> list[Message]:
    with schema_context(tenant.schema_name):  # type: ignore[attr-defined]
        return list(Message.objects.filter(**lookup).order_by("id"))


def sent_to(fake, chat_id: int) -> list[dict]:
    return [r.body for r in fake.state.sent("telegram") if str(r.body.get("chat_id")) == str(chat_id)]


def test_connecting_sets_a_secret_webhook_without_the_token_in_its_url(fake, tenant_a, telegram_for):
    tg = telegram_for(tenant_a)
    hook = fake.state.bots[tg.token]["webhook"]
    assert hook["url"] == f"https://{tg.domain}/webhooks/telegram/{tg.channel.pk}/"
    assert tg.token not in hook["url"] and str(tg.bot_id) not in hook["url"]
    assert hook["allowed_updates"] == ["message", "edited_message"]
    assert len(hook["secret_token"]) >= 32 and hook["secret_token"] == tg.channel.webhook_secret
    other = telegram_for(tenant_a)
    assert fake.state.bots[other.token]["webhook"]["secret_token"] != hook["secret_token"]
    # Stored encrypted: the column holds a Fernet token, never the bot's token.
    with schema_context(tenant_a.schema_name), connection.cursor() as cursor:
        cursor.execute("SELECT bot_token, webhook_secret FROM messaging_messagingchannel WHERE id = %s",
                       [tg.channel.pk])
        stored_token, stored_secret = cursor.fetchone()
    assert stored_token.startswith("fernet:") and tg.token not in stored_token
    assert stored_secret.startswith("fernet:")


def test_a_token_telegram_refuses_saves_nothing(fake, tenant_a):
    with schema_context(tenant_a.schema_name):
        with pytest.raises(PlatformRejected, match="Unauthorized"):
            channel_telegram_connect(bot_token="123:not-a-real-token", webhook_base_url="https://x.test")
        assert not MessagingChannel.objects.exists()


def test_a_wrong_or_missing_secret_token_is_refused_and_stores_nothing(web, tenant_a, telegram_for):
    tg = telegram_for(tenant_a)
    update = payloads.telegram_update(next(update_ids), text="injected")
    assert tg.post(web, update, secret="wrong-secret").status_code == 401
    assert tg.post(web, update, secret="").status_code == 401
    # The bot's own token is not the secret either.
    assert tg.post(web, update, secret=tg.token).status_code == 401
    assert messages(tenant_a) == []
    with schema_context(tenant_a.schema_name):
        assert MessagingChannel.objects.get(pk=tg.channel.pk).signature_failures == 3


def test_text_start_captions_and_edits_are_answered_with_send_message(web, worker, fake, tenant_a, telegram_for):
    tg = telegram_for(tenant_a)
    chat_id = 424242
    for update in (payloads.telegram_update(next(update_ids), text="/start", chat_id=chat_id, message_id=1),
                   payloads.telegram_update(next(update_ids), caption="Do you have this in blue?", chat_id=chat_id,
                                            message_id=2),
                   payloads.telegram_update(next(update_ids), text="Do you have it in red?", chat_id=chat_id,
                                            message_id=2, edited=True)):
        assert tg.post(web, update).json()["stored"] == 1
    assert [m.text for m in messages(tenant_a, author=Author.CUSTOMER)] == [
        "Hello", "Do you have this in blue?", "(edited) Do you have it in red?"]
    wait_until(lambda: len(sent_to(fake, chat_id)) == 3, timeout=60, message="three answers sent")
    answers = [m.text for m in messages(tenant_a, author=Author.ASSISTANT)]
    assert sorted(body["text"] for body in sent_to(fake, chat_id)) == sorted(answers)
    typing = [r.body for r in fake.state.calls("/sendChatAction") if r.body.get("chat_id") == str(chat_id)]
    assert typing and typing[0]["action"] == "typing"
    with schema_context(tenant_a.schema_name):
        assert Conversation.objects.get().channel == "telegram"


def test_groups_only_reach_the_assistant_when_addressed_and_other_bots_never(web, worker, fake, tenant_a,
                                                                             telegram_for):
    tg = telegram_for(tenant_a)
    group = -100123456
    chatter = payloads.telegram_update(next(update_ids), text="see you all later", chat_id=group,
                                       chat_type="supergroup", message_id=10)
    another_bot = payloads.telegram_update(next(update_ids), text="I am a bot", chat_id=555, message_id=11,
                                           from_bot=True)
    mention = payloads.telegram_update(next(update_ids), text=f"@{tg.username} when do you open?", chat_id=group,
                                       chat_type="supergroup", message_id=12)
    reply = payloads.telegram_update(next(update_ids), text="and on Sunday?", chat_id=group, chat_type="supergroup",
                                     message_id=13, reply_to_bot_id=tg.bot_id)
    assert tg.post(web, chatter).json() == {"stored": 0, "duplicates": 0, "statuses": 0, "ignored": 1}
    assert tg.post(web, another_bot).json()["ignored"] == 1
    assert tg.post(web, mention).json()["stored"] == 1
    assert tg.post(web, reply).json()["stored"] == 1
    assert tg.post(web, reply).json()["duplicates"] == 1  # Telegram re-sent it
    assert [m.text for m in messages(tenant_a, author=Author.CUSTOMER)] == ["when do you open?", "and on Sunday?"]
    wait_until(lambda: len(sent_to(fake, group)) == 2, timeout=60, message="both answered in the group")
    assert sent_to(fake, 555) == []


def test_a_bot_of_tenant_a_never_reaches_tenant_b(web, tenant_a, tenant_b, telegram_for):
    a = telegram_for(tenant_a)
    b = telegram_for(tenant_b)
    update = payloads.telegram_update(next(update_ids), text="for A only", chat_id=777)
    # A's secret on B's domain (B's channel of the same id, or none): refused.
    with_a_secret = b.post(web, update, secret=a.channel.webhook_secret)
    assert with_a_secret.status_code == 401
    assert messages(tenant_b) == []
    assert a.post(web, update).json()["stored"] == 1
    assert [m.text for m in messages(tenant_a)] == ["for A only"]


def test_the_health_page_reads_telegram_s_pending_updates_and_last_error(fake, tenant_a, telegram_for):
    tg = telegram_for(tenant_a)
    fake.state.bots[tg.token].update(pending=7, last_error="Wrong response from the webhook: 500")
    with schema_context(tenant_a.schema_name):
        health = channel_health(channel=MessagingChannel.objects.get(pk=tg.channel.pk))
    assert health.pending_update_count == 7
    assert health.webhook_last_error == "Wrong response from the webhook: 500"
    assert health.webhook_url.endswith(f"/webhooks/telegram/{tg.channel.pk}/")


def test_a_reply_typed_in_the_inbox_goes_out_on_telegram_and_an_agent_links_the_customer(web, worker, fake, tenant_a,
                                                                                        telegram_for):
    tg = telegram_for(tenant_a)
    chat_id = 515151
    tg.post(web, payloads.telegram_update(next(update_ids), text="Is my order shipped?", chat_id=chat_id))
    wait_until(lambda: sent_to(fake, chat_id), message="the assistant's answer")
    with schema_context(tenant_a.schema_name):
        conversation = Conversation.objects.get()
        on_widget = conversation_start(contact=contact_get_or_create(visitor_id="v-ana", email="ana@example.test"))
    page = f"/app/inbox/{conversation.pk}/"
    with owner_dashboard(web, schema=tenant_a.schema_name, domain=tg.domain) as owner:
        answered = form_post(owner, page=page, action=f"{page}reply", data={"text": "Yes, it left today."})
        assert answered.status_code == 302
        wait_until(lambda: any(b["text"] == "Yes, it left today." for b in sent_to(fake, chat_id)),
                   message="the agent's reply on Telegram")
        shown = owner.get(page).text
        assert "Telegram · @" in shown and "delivery-sent" in shown
        linked = form_post(owner, page=page, action=f"{page}link-contact", data={"contact": str(on_widget.contact_id)})
        assert linked.status_code == 302
    with schema_context(tenant_a.schema_name):
        both = Conversation.objects.filter(pk__in=[conversation.pk, on_widget.pk])
        assert {c.contact_id for c in both} == {conversation.contact_id}
        assert Conversation.objects.get(pk=conversation.pk).contact.email == "ana@example.test"
    assert [b["text"] for b in sent_to(fake, chat_id)].count("Yes, it left today.") == 1
