"""Outgoing webhooks: endpoints, events turned into deliveries, and each delivery's attempts.

- Events come from the event contract (chat.conversations.events) and the orders app
  (orders.events), whose handlers run inside the changing transaction: the event's message, its
  deliveries and their outbox rows (config.outbox) commit with the change or not at all, and the
  first attempt is queued only after the commit (docs/decisions/1401).
- An attempt is made by a task on `high` (chat.webhooks.tasks) through the egress guard, signed as
  Standard Webhooks says. The delivery row is locked (skip locked) while its request is made, and the
  task names the attempt it is for, so a duplicate task (the outbox relay, a redelivered message)
  changes nothing. The delivery's `next_attempt_at` is the schedule; a sweeper sends again what a lost
  task left overdue.
- Retries at about 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h (each ±10%), or when a
  `Retry-After` says; `410 Gone` disables the endpoint at once; an endpoint failing for
  `DISABLE_AFTER` is disabled and its owners are e-mailed.
"""

from __future__ import annotations

import json
import logging
import random
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from django.contrib.auth.models import User
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from chat.conversations.events import (
    ContactCreated,
    ContactEvent,
    ContactUpdated,
    ConversationAssigned,
    ConversationCreated,
    ConversationErased,
    ConversationRated,
    ConversationStatusChanged,
    MessagePosted,
    event_handler_register,
)
from chat.conversations.models import Channel, Contact, Conversation, ConversationStatus
from chat.webhooks.models import (
    SUBSCRIBABLE,
    DeliveryStatus,
    EventType,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookMessage,
)
from chat.webhooks.signing import secret_generate, signature_header
from config.egress import EgressRefused, egress_refusal_in, guarded_httpx_transport, url_check
from config.errors import NotFound, ValidationFailed
from config.outbox.services import outbox_send
from orders.events import OrderUpdated, order_handler_register
from tenants.models import Tenant
from tenants.services import ROLE_OWNER

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 15
# The wait after each failed attempt: ten attempts over about three days.
RETRY_DELAYS = (timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
                timedelta(hours=5), timedelta(hours=10), timedelta(hours=14), timedelta(hours=20),
                timedelta(hours=24))
JITTER = 0.1
# A Retry-After is honoured up to the schedule's longest wait.
RETRY_AFTER_MAX = timedelta(hours=24)
DISABLE_AFTER = timedelta(days=3)
# During a rotation the old secret keeps signing this long, so receivers can switch at their pace.
ROTATION_OVERLAP = timedelta(hours=24)
RESPONSE_KEPT_BYTES = 2048
# A task that arrives this much before its delivery is due is an early duplicate, not the attempt.
EARLY_SLACK = timedelta(seconds=1)
# A pending delivery overdue by this much lost its task: the sweeper sends it again.
LOST_AFTER = timedelta(minutes=2)
REPLAY_MAX = 5000
# Events and their attempts are kept this long: the attempts log and "replay since" reach this far back.
HISTORY_KEEP = timedelta(days=30)
USER_AGENT = "Deskpilot-Webhooks/1"


# ------------------------------------------------------------------------------------- endpoints


@dataclass(frozen=True)
class EndpointWithSecret:
    """A new or rotated endpoint and its secret in the clear: shown to the owner once, never again."""

    endpoint: WebhookEndpoint
    secret: str


def _events_clean(events: Iterable[str]) -> list[str]:
    chosen = list(dict.fromkeys(events))
    unknown = [event for event in chosen if event not in SUBSCRIBABLE]
    if unknown:
        raise ValidationFailed(f"Unknown event type: {', '.join(unknown)}.", code="unknown_event",
                               details={"field": "events", "unknown": unknown})
    if not chosen:
        raise ValidationFailed("Choose at least one event.", code="no_events", details={"field": "events"})
    return chosen


def _url_clean(url: str) -> str:
    url = url.strip()
    try:
        url_check(url)
    except EgressRefused as error:
        error.details = {"field": "url"}
        raise
    return url


def webhook_endpoint_create(*, url: str, events: Iterable[str], description: str = "") -> EndpointWithSecret:
    """A new endpoint, enabled; its URL must lead to a public address now (and is checked again on
    every request)."""
    chosen = _events_clean(events)
    url = _url_clean(url)
    secret = secret_generate()
    endpoint = WebhookEndpoint.objects.create(url=url, events=chosen, description=description[:200], secret=secret)
    logger.info("webhook endpoint %s created for %s", endpoint.pk, ", ".join(chosen))
    return EndpointWithSecret(endpoint=endpoint, secret=secret)


def webhook_endpoint_update(*, endpoint: WebhookEndpoint, url: str | None = None, events: Iterable[str] | None = None,
                            description: str | None = None) -> WebhookEndpoint:
    if url is not None and url.strip() != endpoint.url:
        endpoint.url = _url_clean(url)
    if events is not None:
        endpoint.events = _events_clean(events)
    if description is not None:
        endpoint.description = description[:200]
    endpoint.save(update_fields=["url", "events", "description", "updated"])
    return endpoint


def webhook_endpoint_enabled_set(*, endpoint: WebhookEndpoint, enabled: bool, reason: str = "") -> WebhookEndpoint:
    """Enable (a fresh start: no failures counted) or disable an endpoint."""
    endpoint.enabled = enabled
    endpoint.disabled_reason = "" if enabled else reason[:300]
    endpoint.failing_since = None
    endpoint.save(update_fields=["enabled", "disabled_reason", "failing_since", "updated"])
    return endpoint


def webhook_endpoint_secret_rotate(*, endpoint: WebhookEndpoint) -> EndpointWithSecret:
    """A new secret signs from now on; the current one also signs for ROTATION_OVERLAP."""
    with transaction.atomic():
        locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        secret = secret_generate()
        locked.previous_secret, locked.previous_secret_until = locked.secret, timezone.now() + ROTATION_OVERLAP
        locked.secret = secret
        locked.save(update_fields=["secret", "previous_secret", "previous_secret_until", "updated"])
    return EndpointWithSecret(endpoint=locked, secret=secret)


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    with transaction.atomic():
        # Its deliveries locked first: an attempt a worker is recording meanwhile waits for this
        # delete, then finds its delivery gone, instead of adding a row the delete did not see.
        list(WebhookDelivery.objects.select_for_update().filter(endpoint=endpoint).values_list("pk", flat=True))
        endpoint.delete()


def webhook_endpoint_get(*, endpoint_id: int) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.filter(pk=endpoint_id).first()
    if endpoint is None:
        raise NotFound("No such webhook endpoint.", code="webhook_endpoint_not_found")
    return endpoint


def secrets_in_use(endpoint: WebhookEndpoint, *, now: datetime) -> list[str]:
    """The secrets that sign a request now: the current one, and the previous during its overlap."""
    in_use = [endpoint.secret]
    if endpoint.previous_secret and endpoint.previous_secret_until and endpoint.previous_secret_until > now:
        in_use.append(endpoint.previous_secret)
    return in_use


# ---------------------------------------------------------------------------------------- events


def _message_create(*, type: str, data: dict[str, Any]) -> WebhookMessage:
    now = timezone.now()
    payload = {"type": type, "timestamp": now.isoformat().replace("+00:00", "Z"), "data": data}
    return WebhookMessage.objects.create(msg_id=f"msg_{uuid.uuid4().hex}", type=type, payload=payload, created=now)


def _deliveries_promise(deliveries: list[WebhookDelivery]) -> None:
    """Each delivery's first attempt, promised in this transaction (config.outbox), queued after it."""
    from chat.webhooks.tasks import webhook_delivery_send

    for delivery in deliveries:
        outbox_send(task=webhook_delivery_send, args=[delivery.pk, delivery.attempts])


def webhook_event_enqueue(*, type: str, data: dict[str, Any]) -> WebhookMessage | None:
    """The event to every enabled endpoint subscribed to it; None (and nothing stored) when none is."""
    endpoint_ids = list(WebhookEndpoint.objects.filter(enabled=True, events__contains=[type])
                        .values_list("pk", flat=True))
    if not endpoint_ids:
        return None
    message = _message_create(type=type, data=data)
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(endpoint_id=endpoint_id, message=message, next_attempt_at=message.created)
        for endpoint_id in endpoint_ids)
    _deliveries_promise(deliveries)
    return message


def _any_subscribed(*types: str) -> bool:
    return WebhookEndpoint.objects.filter(enabled=True, events__overlap=list(types)).exists()


def _conversation_facts(conversation_id: int) -> dict[str, Any] | None:
    """The conversation's ids for a payload; None for a playground conversation (the owner trying the
    assistant out, not a customer), which no webhook tells about."""
    row = (Conversation.objects.filter(pk=conversation_id).values("contact_id", "channel").first())
    if row is None or row["channel"] == Channel.PLAYGROUND:
        return None
    return {"conversation_id": conversation_id, "contact_id": row["contact_id"]}


def _on_conversation_created(event: ConversationCreated) -> None:
    if not _any_subscribed(EventType.CONVERSATION_CREATED):
        return
    ids = _conversation_facts(event.conversation_id)
    if ids is not None:
        webhook_event_enqueue(type=EventType.CONVERSATION_CREATED,
                              data={**ids, "channel": event.channel, "status": event.status})


def _on_status_changed(event: ConversationStatusChanged) -> None:
    if not _any_subscribed(EventType.CONVERSATION_STATUS_CHANGED, EventType.HANDOFF_REQUESTED):
        return
    ids = _conversation_facts(event.conversation_id)
    if ids is None:
        return
    webhook_event_enqueue(type=EventType.CONVERSATION_STATUS_CHANGED,
                          data={**ids, "from": event.from_status, "to": event.to_status, "reason": event.reason})
    if event.to_status == ConversationStatus.NEEDS_HUMAN:
        webhook_event_enqueue(type=EventType.HANDOFF_REQUESTED, data={**ids, "reason": event.reason})


def _on_assigned(event: ConversationAssigned) -> None:
    if not _any_subscribed(EventType.CONVERSATION_ASSIGNED):
        return
    ids = _conversation_facts(event.conversation_id)
    if ids is not None:
        assignee = event.assignee or {}
        webhook_event_enqueue(type=EventType.CONVERSATION_ASSIGNED,
                              data={**ids, "assignee_id": assignee.get("id"), "assignee_name": assignee.get("name")})


def _on_message(event: MessagePosted) -> None:
    if not _any_subscribed(EventType.MESSAGE_CREATED):
        return
    ids = _conversation_facts(event.conversation_id)
    if ids is not None:
        webhook_event_enqueue(type=EventType.MESSAGE_CREATED,
                              data={**ids, "message_id": event.message["id"], "message": event.message})


def _on_rated(event: ConversationRated) -> None:
    if not _any_subscribed(EventType.RATING_CREATED):
        return
    ids = _conversation_facts(event.conversation_id)
    if ids is not None:
        webhook_event_enqueue(type=EventType.RATING_CREATED, data={**ids, "rating": event.rating})


def _on_contact(event: ContactEvent) -> None:
    type = EventType.CONTACT_CREATED if isinstance(event, ContactCreated) else EventType.CONTACT_UPDATED
    if not _any_subscribed(type):
        return
    contact = Contact.objects.filter(pk=event.contact_id).first()
    if contact is None:
        return
    data: dict[str, Any] = {"contact_id": contact.pk, "name": contact.name, "email": contact.email,
                            "email_status": contact.email_status, "phone": contact.phone}
    if isinstance(event, ContactUpdated):
        data["changed"] = list(event.changed)
    webhook_event_enqueue(type=type, data=data)


def _on_order(event: OrderUpdated) -> None:
    webhook_event_enqueue(type=EventType.ORDER_UPDATED, data={"order_id": event.order_id, "number": event.number,
                                                              "status": event.status, "created": event.created})


def _on_erased(event: ConversationErased) -> None:
    """A customer's erasure: every stored event about their conversation or about them (a contact
    event holds their name, e-mail and phone), with its deliveries, attempts and the answers logged.
    A delivery still pending is never sent: its task finds no row."""
    WebhookMessage.objects.filter(Q(payload__data__conversation_id=event.conversation_id)
                                  | Q(payload__data__contact_id=event.contact_id)).delete()


def webhook_events_subscribe() -> None:
    """Follow the events each webhook is made from (once, from the app's `ready()`)."""
    event_handler_register(event_class=ConversationErased, handler=_on_erased)
    event_handler_register(event_class=ConversationCreated, handler=_on_conversation_created)
    event_handler_register(event_class=ConversationStatusChanged, handler=_on_status_changed)
    event_handler_register(event_class=ConversationAssigned, handler=_on_assigned)
    event_handler_register(event_class=MessagePosted, handler=_on_message)
    event_handler_register(event_class=ConversationRated, handler=_on_rated)
    event_handler_register(event_class=ContactCreated, handler=_on_contact)
    event_handler_register(event_class=ContactUpdated, handler=_on_contact)
    order_handler_register(handler=_on_order)


def webhook_test_send(*, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """A `webhook.test` event to this endpoint alone (enabled or not: the owner is checking it)."""
    with transaction.atomic():
        message = _message_create(type=EventType.TEST, data={"endpoint_id": endpoint.pk,
                                                              "message": "A test event from Deskpilot."})
        delivery = WebhookDelivery.objects.create(endpoint=endpoint, message=message, next_attempt_at=message.created)
        _deliveries_promise([delivery])
    return delivery


def webhook_delivery_resend(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again now, with a fresh round of retries (its earlier attempts stay logged)."""
    with transaction.atomic():
        locked = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
        locked.status, locked.attempts, locked.next_attempt_at = DeliveryStatus.PENDING, 0, timezone.now()
        locked.save(update_fields=["status", "attempts", "next_attempt_at"])
        _deliveries_promise([locked])
    return locked


def webhook_replay_since(*, endpoint: WebhookEndpoint, since: datetime) -> int:
    """Send again every event since `since` this endpoint subscribes to and has not received (failed,
    or stored while it was disabled or not subscribed); returns how many. Delivered ones are left alone."""
    if since > timezone.now():
        raise ValidationFailed("Choose a moment in the past.", code="replay_in_future", details={"field": "since"})
    with transaction.atomic():
        # This endpoint's own delivery of the message: another endpoint's success says nothing here.
        received_or_under_way = WebhookDelivery.objects.filter(
            message=OuterRef("pk"), endpoint=endpoint, status__in=[DeliveryStatus.SUCCEEDED, DeliveryStatus.PENDING])
        messages = list(WebhookMessage.objects.filter(created__gte=since, type__in=endpoint.events)
                        .exclude(Exists(received_or_under_way)).order_by("created", "id")[:REPLAY_MAX])
        now = timezone.now()
        existing = {d.message_id: d for d in WebhookDelivery.objects.select_for_update()
                    .filter(endpoint=endpoint, message__in=messages)}
        deliveries = []
        for message in messages:
            delivery = existing.get(message.pk)
            if delivery is None:
                delivery = WebhookDelivery(endpoint=endpoint, message=message)
            delivery.status, delivery.attempts, delivery.next_attempt_at = DeliveryStatus.PENDING, 0, now
            deliveries.append(delivery)
        WebhookDelivery.objects.bulk_create([d for d in deliveries if d.pk is None])
        WebhookDelivery.objects.bulk_update([d for d in deliveries if d.message_id in existing],
                                            ["status", "attempts", "next_attempt_at"])
        _deliveries_promise(deliveries)
    return len(deliveries)


# -------------------------------------------------------------------------------------- attempts


@dataclass(frozen=True)
class Answer:
    """What one request got: a status and the start of the body, or an error and no status."""

    status_code: int | None
    body: str
    error: str
    latency_ms: int
    retry_after: timedelta | None = None


def _body(message: WebhookMessage) -> bytes:
    return json.dumps(message.payload, separators=(",", ":"), ensure_ascii=False).encode()


def _retry_after(value: str | None, *, now: datetime) -> timedelta | None:
    """A Retry-After in seconds or as an HTTP date, within [0, RETRY_AFTER_MAX]; None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        wait = timedelta(seconds=int(value))
    else:
        try:
            wait = parsedate_to_datetime(value) - now
        except (TypeError, ValueError):
            return None
    return min(max(wait, timedelta(0)), RETRY_AFTER_MAX)


def _post(endpoint: WebhookEndpoint, message: WebhookMessage, *, now: datetime) -> Answer:
    body = _body(message)
    timestamp = int(now.timestamp())
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": message.msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(secrets_in_use=secrets_in_use(endpoint, now=now),
                                              msg_id=message.msg_id, timestamp=timestamp, body=body),
    }
    started = time.monotonic()
    try:
        # Redirects are not followed: a webhook URL answers itself (and each hop would be a new egress).
        with httpx.Client(transport=guarded_httpx_transport(), timeout=TIMEOUT_SECONDS, follow_redirects=False,
                          trust_env=False) as client, \
                client.stream("POST", endpoint.url, content=body, headers=headers) as response:
            kept = b""
            for chunk in response.iter_bytes():
                kept += chunk
                if len(kept) >= RESPONSE_KEPT_BYTES:
                    break
            return Answer(status_code=response.status_code, body=kept[:RESPONSE_KEPT_BYTES].decode(errors="replace"),
                          error="", latency_ms=int((time.monotonic() - started) * 1000),
                          retry_after=_retry_after(response.headers.get("retry-after"), now=now))
    except (httpx.HTTPError, EgressRefused) as error:
        refused = egress_refusal_in(error)
        text = f"refused: {refused.message}" if refused is not None else f"{type(error).__name__}: {error}"
        return Answer(status_code=None, body="", error=text[:300], latency_ms=int((time.monotonic() - started) * 1000))


@dataclass(frozen=True)
class AttemptResult:
    delivery: WebhookDelivery
    answer: Answer | None
    next_attempt_at: datetime | None


def retry_delay(*, attempts: int, retry_after: timedelta | None = None) -> timedelta | None:
    """The wait after the `attempts`-th failed attempt of a round, or None when the round is over."""
    if attempts > len(RETRY_DELAYS):
        return None
    if retry_after is not None:
        return retry_after
    return RETRY_DELAYS[attempts - 1] * random.uniform(1 - JITTER, 1 + JITTER)


def webhook_delivery_attempt(*, delivery_id: int, attempt: int) -> AttemptResult | None:
    """Make attempt number `attempt + 1` of a pending delivery, if it is still due and nobody else is
    making it; None when there was nothing to do (a duplicate, an early or a stale task)."""
    with transaction.atomic():
        delivery = (WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
                    .select_related("endpoint", "message").filter(pk=delivery_id).first())
        now = timezone.now()
        if (delivery is None or delivery.status != DeliveryStatus.PENDING or delivery.attempts != attempt
                or (delivery.next_attempt_at is not None and delivery.next_attempt_at > now + EARLY_SLACK)):
            return None
        endpoint = delivery.endpoint
        if not endpoint.enabled and delivery.message.type != EventType.TEST:
            delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None
            delivery.save(update_fields=["status", "next_attempt_at"])
            return AttemptResult(delivery=delivery, answer=None, next_attempt_at=None)
        answer = _post(endpoint, delivery.message, now=now)
        WebhookAttempt.objects.create(delivery=delivery, attempted_at=now, status_code=answer.status_code,
                                      latency_ms=answer.latency_ms, response_body=answer.body, error=answer.error)
        delivery.attempts += 1
        delivery.last_attempt_at = now
        delivery.next_attempt_at = None
        if answer.status_code is not None and 200 <= answer.status_code < 300:
            delivery.status = DeliveryStatus.SUCCEEDED
            if endpoint.failing_since is not None:
                WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=None)
        elif answer.status_code == 410:
            delivery.status = DeliveryStatus.FAILED
            _endpoint_disable_for_failing(endpoint, reason="It answered 410 Gone: the receiver asked for no more.")
        else:
            failing_since = endpoint.failing_since or now
            if endpoint.failing_since is None:
                WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=now)
            delay = retry_delay(attempts=delivery.attempts, retry_after=answer.retry_after
                                if answer.status_code in (429, 503) else None)
            if delay is not None and delivery.attempts == len(RETRY_DELAYS):
                # The round's last attempt comes no sooner than DISABLE_AFTER into the failure, however
                # the jitter fell: an endpoint that failed the whole round is disabled by that attempt.
                delay = max(delay, failing_since + DISABLE_AFTER - now)
            if now - failing_since >= DISABLE_AFTER:
                delivery.status = DeliveryStatus.FAILED
                _endpoint_disable_for_failing(endpoint, reason=f"Every attempt failed since {failing_since:%Y-%m-%d %H:%M} UTC.")
            elif delay is None:
                delivery.status = DeliveryStatus.FAILED
            else:
                delivery.next_attempt_at = now + delay
        delivery.save(update_fields=["status", "attempts", "last_attempt_at", "next_attempt_at"])
        if delivery.next_attempt_at is not None:
            transaction.on_commit(lambda: _next_attempt_queue(delivery), robust=True)
    return AttemptResult(delivery=delivery, answer=answer, next_attempt_at=delivery.next_attempt_at)


def _next_attempt_queue(delivery: WebhookDelivery) -> None:
    """A retry at its time; if this is lost (the broker down now), the sweeper finds it overdue."""
    from chat.webhooks.tasks import webhook_delivery_send

    webhook_delivery_send.apply_async(args=[delivery.pk, delivery.attempts], eta=delivery.next_attempt_at)


def _endpoint_disable_for_failing(endpoint: WebhookEndpoint, *, reason: str) -> None:
    """Disable the endpoint and promise its owners an e-mail, in the current transaction."""
    from chat.webhooks.tasks import webhook_endpoint_disabled_email

    updated = WebhookEndpoint.objects.filter(pk=endpoint.pk, enabled=True).update(
        enabled=False, disabled_reason=reason[:300], failing_since=None, updated=timezone.now())
    if updated:
        logger.warning("webhook endpoint %s disabled: %s", endpoint.pk, reason)
        outbox_send(task=webhook_endpoint_disabled_email, args=[endpoint.pk])


def webhook_deliveries_overdue_send() -> int:
    """Queue again each pending delivery whose attempt is overdue by LOST_AFTER (its task was lost)."""
    from chat.webhooks.tasks import webhook_delivery_send

    overdue = list(WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING,
                                                  next_attempt_at__lt=timezone.now() - LOST_AFTER)
                   .values_list("pk", "attempts")[:1000])
    for delivery_id, attempts in overdue:
        webhook_delivery_send.apply_async(args=[delivery_id, attempts])
    if overdue:
        logger.warning("webhooks: %d overdue deliveries queued again", len(overdue))
    return len(overdue)


def webhook_history_prune() -> int:
    """Forget events older than HISTORY_KEEP with nothing pending (their deliveries and attempts go
    with them); returns how many events were forgotten."""
    old = (WebhookMessage.objects.filter(created__lt=timezone.now() - HISTORY_KEEP)
           .exclude(deliveries__status=DeliveryStatus.PENDING))
    deleted, by_model = old.delete()
    return int(by_model.get(WebhookMessage._meta.label, 0))


def webhook_endpoint_disabled_email(*, endpoint_id: int) -> int:
    """Tell every owner of the current tenant that an endpoint was disabled; returns how many were told."""
    endpoint = WebhookEndpoint.objects.filter(pk=endpoint_id).first()
    if endpoint is None or endpoint.enabled:
        return 0
    owners = list(User.objects.filter(groups__name=ROLE_OWNER, is_active=True).exclude(email="")
                  .values_list("email", flat=True).distinct())
    business = Tenant.objects.filter(schema_name=connection.schema_name).values_list("name", flat=True).first()
    if owners:
        send_mail(f"{business}: a webhook endpoint was disabled",
                  f"We stopped sending webhooks to {endpoint.url}.\n\n{endpoint.disabled_reason}\n\n"
                  "Events are kept: once the receiver works again, enable the endpoint in the dashboard "
                  "(Settings, Outgoing webhooks) and use \"Replay since\" to send what it missed.\n",
                  None, owners)
    return len(owners)
