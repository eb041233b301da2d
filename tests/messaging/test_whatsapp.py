"""WhatsApp Cloud API end to end: the real daphne serving the webhook, a real Celery worker answering
and sending, the fake Graph API as WhatsApp. What a customer and a business would notice."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import httpx
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

from chat.conversations.models import Author, Conversation, Message
from chat.conversations.services import agent_message_send
from chat.messaging.models import ChannelContact, MessagingChannel, OutboundMessage
from chat.messaging.services import UNSUPPORTED_REPLY
from tenants.models import DeadLetter
from tests.messaging import payloads
from tests.support.processes import wait_until


def wamid() -> str:
    return f"wamid.HBgL{uuid.uuid4().hex.upper()}"


def messages(tenant: object, **lookup: object) -> list[Message]:
    with schema_context(tenant.schema_name):  # type: ignore[attr-defined]
        return list(Message.objects.filter(**lookup).order_by("id"))


def sent_to(fake, wa_id: str) -> list[dict]:
    return [r.body for r in fake.state.sent("whatsapp") if r.body.get("to") == wa_id]


def sent_text(body: dict) -> str:
    if body["type"] == "interactive":
        return body["interactive"]["body"]["text"]
    return body.get("text", {}).get("body", "")


def test_meta_subscription_check_answers_the_challenge_only_with_the_verify_token(web, tenant_a, whatsapp_for):
    wa = whatsapp_for(tenant_a)
    with web.client(wa.domain) as client:
        good = client.get(wa.path, params={"hub.mode": "subscribe", "hub.verify_token": wa.channel.verify_token,
                                           "hub.challenge": "1158201444"})
        bad = client.get(wa.path, params={"hub.mode": "subscribe", "hub.verify_token": "guess",
                                          "hub.challenge": "1158201444"})
    assert good.status_code == 200 and good.text == "1158201444"
    assert bad.status_code == 403 and "1158201444" not in bad.text


def test_a_wrong_or_missing_signature_is_refused_and_stores_nothing(web, tenant_a, whatsapp_for):
    wa = whatsapp_for(tenant_a)
    payload = payloads.whatsapp_text(wa.channel.phone_number_id, "injected", message_id=wamid())
    assert wa.post(web, payload, secret="not-the-app-secret").status_code == 401
    assert wa.post(web, payload, signed=False).status_code == 401
    # A valid signature over another body does not carry over to this one.
    raw = payloads.body(payload)
    other = payloads.signature(wa.app_secret, raw + b" ")
    with web.client(wa.domain) as client:
        response = client.post(wa.path, content=raw, headers={"X-Hub-Signature-256": other})
    assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_signature"
    assert messages(tenant_a) == []
    with schema_context(tenant_a.schema_name):
        assert not ChannelContact.objects.exists()
        assert MessagingChannel.objects.get(pk=wa.channel.pk).signature_failures == 3


def test_a_text_message_is_answered_on_whatsapp_and_the_reply_statuses_are_kept(web, worker, fake, tenant_a,
                                                                                whatsapp_for):
    wa = whatsapp_for(tenant_a)
    wa_id = "16315550001"
    response = wa.post(web, payloads.whatsapp_text(wa.channel.phone_number_id, "Are you open on Sunday?",
                                                   message_id=wamid(), wa_id=wa_id))
    assert response.status_code == 200 and response.json()["stored"] == 1
    sent = wait_until(lambda: sent_to(fake, wa_id), message="the answer sent to WhatsApp")
    answer = wait_until(lambda: messages(tenant_a, author=Author.ASSISTANT), message="the stored answer")[0]
    assert sent_text(sent[0]) == answer.text and sent[0]["messaging_product"] == "whatsapp"
    with schema_context(tenant_a.schema_name):
        conversation = Conversation.objects.get()
        assert conversation.channel == "whatsapp" and conversation.contact.phone == f"+{wa_id}"
        outbound = wait_until(lambda: OutboundMessage.objects.filter(message=answer, state="sent").first(),
                              message="the reply marked sent")
    for status in ("sent", "delivered", "read"):
        wa.post(web, payloads.whatsapp_status(wa.channel.phone_number_id, message_id=outbound.provider_message_id,
                                              status=status, wa_id=wa_id))
    # A late "delivered" after "read" does not move it back.
    wa.post(web, payloads.whatsapp_status(wa.channel.phone_number_id, message_id=outbound.provider_message_id,
                                          status="delivered", wa_id=wa_id))
    with schema_context(tenant_a.schema_name):
        assert OutboundMessage.objects.get(pk=outbound.pk).state == "read"
    assert len(sent_to(fake, wa_id)) == 1


def test_a_failed_status_is_recorded_with_its_error_and_the_team_is_told(web, worker, fake, tenant_a, whatsapp_for):
    wa = whatsapp_for(tenant_a)
    wa_id = "16315550002"
    wa.post(web, payloads.whatsapp_text(wa.channel.phone_number_id, "hello", message_id=wamid(), wa_id=wa_id))
    with schema_context(tenant_a.schema_name):
        outbound = wait_until(lambda: OutboundMessage.objects.filter(state="sent").first(), message="a sent reply")
    wa.post(web, payloads.whatsapp_status(wa.channel.phone_number_id, message_id=outbound.provider_message_id,
                                          status="failed", wa_id=wa_id))
    with schema_context(tenant_a.schema_name):
        failed = OutboundMessage.objects.get(pk=outbound.pk)
        assert failed.state == "failed" and "131026" in failed.error and "Undeliverable" in failed.error
        assert MessagingChannel.objects.get(pk=wa.channel.pk).delivery_failures == 1
    notes = messages(tenant_a, internal=True)
    assert len(notes) == 1 and "could not deliver" in notes[0].text


def test_button_replies_and_captions_are_read_and_a_bare_image_gets_a_clear_reply(web, worker, fake, tenant_a,
                                                                                  whatsapp_for):
    wa = whatsapp_for(tenant_a)
    wa_id = "16315550003"
    number = wa.channel.phone_number_id
    wa.post(web, payloads.whatsapp_button_reply(number, "Opening hours", message_id=wamid(), wa_id=wa_id))
    wa.post(web, payloads.whatsapp_image(number, message_id=wamid(), caption="Is this in stock?", wa_id=wa_id))
    image_id = wamid()
    wa.post(web, payloads.whatsapp_image(number, message_id=image_id, wa_id=wa_id))
    wa.post(web, payloads.whatsapp_image(number, message_id=image_id, wa_id=wa_id))  # re-sent by Meta
    texts = [m.text for m in messages(tenant_a, author=Author.CUSTOMER)]
    assert texts == ["Opening hours", "Is this in stock?"]
    wait_until(lambda: any(sent_text(b) == UNSUPPORTED_REPLY for b in sent_to(fake, wa_id)),
               message="the text-only reply")
    wait_until(lambda: len(messages(tenant_a, author=Author.ASSISTANT)) == 2, message="both answered")
    wait_until(lambda: len(sent_to(fake, wa_id)) == 3, message="two answers and one notice sent")
    assert [sent_text(b) for b in sent_to(fake, wa_id)].count(UNSUPPORTED_REPLY) == 1


def test_twenty_copies_of_one_message_at_once_store_one_message_and_send_one_answer(web, worker, fake, tenant_a,
                                                                                    whatsapp_for):
    wa = whatsapp_for(tenant_a)
    wa_id = "16315550004"
    payload = payloads.whatsapp_text(wa.channel.phone_number_id, "Where is my order?", message_id=wamid(),
                                     wa_id=wa_id)
    raw = payloads.body(payload)
    headers = {"X-Hub-Signature-256": payloads.signature(wa.app_secret, raw)}
    start = threading.Barrier(20)
    statuses: list[int] = []

    def post() -> None:
        with httpx.Client(base_url=web.base_url, headers={"Host": wa.domain}, timeout=30) as client:
            start.wait()
            statuses.append(client.post(wa.path, content=raw, headers=headers).status_code)

    threads = [threading.Thread(target=post) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 20
    assert len(messages(tenant_a, author=Author.CUSTOMER)) == 1
    with schema_context(tenant_a.schema_name):
        assert Conversation.objects.count() == 1 and ChannelContact.objects.count() == 1
        wait_until(lambda: OutboundMessage.objects.filter(state="sent").exists(), message="the answer sent")
        assert OutboundMessage.objects.count() == 1
    assert len(messages(tenant_a, author=Author.ASSISTANT)) == 1
    assert len(sent_to(fake, wa_id)) == 1


def test_whatsapp_down_retries_then_a_dead_letter_tells_the_team_and_nothing_is_sent_twice(web, worker, fake,
                                                                                           tenant_a, whatsapp_for):
    wa = whatsapp_for(tenant_a)
    wa_id = "16315550005"
    wa.post(web, payloads.whatsapp_text(wa.channel.phone_number_id, "hi", message_id=wamid(), wa_id=wa_id))
    wait_until(lambda: sent_to(fake, wa_id), message="the first answer")
    with schema_context(tenant_a.schema_name):
        conversation = Conversation.objects.get()
        agent_reply_text = f"Your parcel left today ({uuid.uuid4().hex[:6]})."
        fake.state.down = True
        try:
            reply = agent_message_send(conversation=conversation, agent=None, text=agent_reply_text)
            outbound = wait_until(lambda: OutboundMessage.objects.filter(message=reply, state="failed").first(),
                                  timeout=60, message="the reply given up")
        finally:
            fake.state.down = False
        connection.set_schema_to_public()
    attempts = [r for r in fake.state.calls("/messages") if r.body.get("to") == wa_id and r.status == 503]
    assert len(attempts) == outbound.attempts >= 3  # the first try and the retries
    letter = wait_until(lambda: DeadLetter.objects.filter(schema_name=tenant_a.schema_name,
                                                           task_name="chat.messaging.tasks.outbound_send").first(),
                        message="the dead letter")
    assert letter.args == [outbound.pk] and "gave up" in letter.error
    notes = messages(tenant_a, internal=True)
    assert len(notes) == 1 and agent_reply_text in notes[0].text and "Not sent on WhatsApp" in notes[0].text
    # WhatsApp is back: the next reply goes out once, and the one given up is not sent behind it.
    with schema_context(tenant_a.schema_name):
        later = agent_message_send(conversation=Conversation.objects.get(), agent=None, text="Anything else?")
        wait_until(lambda: OutboundMessage.objects.filter(message=later, state="sent").exists(),
                   message="the later reply sent")
    texts = [sent_text(b) for b in sent_to(fake, wa_id)]
    assert texts.count("Anything else?") == 1 and agent_reply_text not in texts


def test_outside_the_24_hour_window_free_text_is_not_sent_the_template_is_or_the_team_is_told(
        web, worker, fake, tenant_a, tenant_b, whatsapp_for):
    for tenant, template in ((tenant_a, ""), (tenant_b, "order_update")):
        wa = whatsapp_for(tenant, template=template)
        wa_id = "16315550006"
        wa.post(web, payloads.whatsapp_text(wa.channel.phone_number_id, "hi", message_id=wamid(), wa_id=wa_id))
        with schema_context(tenant.schema_name):
            wait_until(lambda: OutboundMessage.objects.filter(state="sent").exists(), message="the first answer")
            ChannelContact.objects.update(last_inbound_at=timezone.now() - timedelta(hours=25))
            reply = agent_message_send(conversation=Conversation.objects.get(), agent=None, text="Still there?")
            wanted = "sent" if template else "window_closed"
            wait_until(lambda reply=reply, wanted=wanted: OutboundMessage.objects.filter(
                message=reply, state=wanted).exists(),
                       message=f"the late reply {wanted}")
    bodies = [b for b in sent_to(fake, "16315550006") if b["type"] == "template" or sent_text(b) == "Still there?"]
    assert bodies == [{"messaging_product": "whatsapp", "recipient_type": "individual", "to": "16315550006",
                       "type": "template", "template": {"name": "order_update", "language": {"code": "en_US"}}}]
    notes = messages(tenant_a, internal=True)
    assert len(notes) == 1 and "24 hours" in notes[0].text
    assert messages(tenant_b, internal=True) == []


def test_tenant_a_s_number_never_reaches_tenant_b(web, worker, fake, tenant_a, tenant_b, whatsapp_for):
    shared_secret = uuid.uuid4().hex  # two businesses on one Meta app sign with the same secret
    a = whatsapp_for(tenant_a, app_secret=shared_secret)
    b = whatsapp_for(tenant_b, app_secret=shared_secret)
    payload = payloads.whatsapp_text(a.channel.phone_number_id, "for A only", message_id=wamid())
    response = b.post(web, payload)  # signed correctly, posted to B's channel on B's domain
    assert response.status_code == 200 and response.json()["stored"] == 0
    # A's channel id on B's domain names no channel of B's (or another of B's): nothing stored either.
    with web.client(b.domain) as client:
        raw = payloads.body(payload)
        wrong = client.post(a.path, content=raw, headers={"X-Hub-Signature-256": payloads.signature(shared_secret,
                                                                                                      raw)})
    assert wrong.status_code in (401, 404) or wrong.json()["stored"] == 0
    assert messages(tenant_b) == []
    assert a.post(web, payload).json()["stored"] == 1
    assert [m.text for m in messages(tenant_a)] == ["for A only"]


def test_a_customer_s_message_is_acknowledged_while_a_reply_to_another_customer_is_still_on_its_way(
        web, fake, tenant_a, whatsapp_for):
    """A busy number: the send task records the number's last reply on the channel's row. Recorded
    inside its transaction, that row stayed locked while the next reply went out over HTTP, and every
    webhook of the number that came meanwhile waited for WhatsApp to answer that send."""
    from chat.conversations.services import contact_get_or_create, conversation_start
    from chat.messaging.services import outbound_deliver
    from tests.support.fake_messaging import SendGate

    wa = whatsapp_for(tenant_a)
    waiting_for_replies, writing_now = "16315550101", "16315550102"
    with schema_context(tenant_a.schema_name):
        contact = contact_get_or_create(visitor_id=f"wh:{wa.channel.pk}:{waiting_for_replies}")
        identity = ChannelContact.objects.create(
            channel=wa.channel, external_id=waiting_for_replies, contact=contact,
            conversation=conversation_start(contact=contact, channel="whatsapp"), last_inbound_at=timezone.now())
        OutboundMessage.objects.create(channel=wa.channel, channel_contact=identity, text="Your order is packed.")
        second = OutboundMessage.objects.create(channel=wa.channel, channel_contact=identity, text="It ships today.")
        # The number last heard from a customer an hour ago: the next message records its time.
        MessagingChannel.objects.filter(pk=wa.channel.pk).update(last_inbound_at=timezone.now() - timedelta(hours=1))
        connection.set_schema_to_public()
    gate = fake.state.gate = SendGate(to=waiting_for_replies, let_through=1)

    def send_replies() -> None:
        try:
            with schema_context(tenant_a.schema_name):
                outbound_deliver(outbound_id=second.pk, last_attempt=False)
        finally:
            connection.close()

    sending = threading.Thread(target=send_replies)
    sending.start()
    try:
        assert gate.holding.wait(timeout=30), "the second reply never went out"
        # The first reply is sent, the second is on its way: now another customer writes.
        with web.client(wa.domain) as client:
            raw = payloads.body(payloads.whatsapp_text(wa.channel.phone_number_id, "Do you deliver on Saturday?",
                                                       message_id=wamid(), wa_id=writing_now))
            response = client.post(wa.path, content=raw, timeout=10, headers={
                "Content-Type": "application/json", "X-Hub-Signature-256": payloads.signature(wa.app_secret, raw)})
        assert sending.is_alive(), "the send finished first: nothing was on its way"
    finally:
        gate.release.set()
        sending.join(timeout=60)
        fake.state.gate = None
    assert response.status_code == 200 and response.json()["stored"] == 1
    assert [sent_text(body) for body in sent_to(fake, waiting_for_replies)] == [
        "Your order is packed.", "It ships today."]
    with schema_context(tenant_a.schema_name):
        channel = MessagingChannel.objects.get(pk=wa.channel.pk)
        assert channel.last_outbound_at is not None
        assert channel.last_inbound_at > timezone.now() - timedelta(minutes=5)
        connection.set_schema_to_public()
