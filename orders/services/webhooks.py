"""Shop webhooks in: verify, check, store the raw delivery once, and apply it on the `high` queue.

Receiving is cheap and synchronous (signature, JSON, payload shape, one INSERT) so the shop gets its
answer fast and a bad delivery gets a clear one; applying it happens in a worker. A delivery id can
only be stored once (a unique constraint), so twenty copies arriving together make one change.
The delivery is stored with its outbox row (outbox.services): "accepted" means it will be applied,
whether or not Redis took the task at that moment.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from celery import Task
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from config.outbox.services import outbox_resend_unless_under_way, outbox_send
from orders.exceptions import InvalidPayload, WebhookRejected
from orders.models import Platform, ShopConnection, WebhookDelivery
from orders.platforms import (
    TOPICS,
    FulfillmentData,
    InventoryData,
    OrderData,
    ProductData,
    json_loads_exact,
    payload_parse,
)
from orders.services.catalog import product_upsert_from_platform, variant_stock_set_from_platform
from orders.services.orders import fulfillment_apply, order_upsert

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlatformHeaders:
    signature: str
    topic: str
    delivery_id: str
    prefix: str


PLATFORM_HEADERS = {
    Platform.SHOPIFY: PlatformHeaders("X-Shopify-Hmac-Sha256", "X-Shopify-Topic", "X-Shopify-Webhook-Id",
                                      "x-shopify-"),
    Platform.WOOCOMMERCE: PlatformHeaders("X-WC-Webhook-Signature", "X-WC-Webhook-Topic",
                                          "X-WC-Webhook-Delivery-ID", "x-wc-webhook-"),
}


@dataclass(frozen=True)
class WebhookReceipt:
    status: str  # accepted, duplicate, ignored
    topic: str
    delivery_id: str

    def as_dict(self) -> dict[str, str]:
        return {"status": self.status, "topic": self.topic, "delivery_id": self.delivery_id}


def webhook_signature_valid(*, secret: str, body: bytes, signature: str) -> bool:
    """Base64 HMAC-SHA256 of the raw body, compared in constant time."""
    expected = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest())
    return hmac.compare_digest(expected, signature.strip().encode())


def _currency_for(platform: str, topic: str) -> str:
    """The shop currency, read only for topics whose payload does not carry one (products)."""
    from orders.selectors import commerce_currency

    return commerce_currency() if TOPICS[platform][topic].needs_currency else ""


def webhook_receive(*, platform: str, headers: Mapping[str, str], body: bytes) -> WebhookReceipt:
    """Verify and store one delivery; the work is queued after commit. Raises WebhookRejected & co."""
    names = PLATFORM_HEADERS[platform]
    connection = ShopConnection.objects.filter(platform=platform).first()
    signature = headers.get(names.signature, "")
    if connection is None or not signature or not webhook_signature_valid(
            secret=connection.webhook_secret, body=body, signature=signature):
        reason = "no secret configured" if connection is None else "missing or wrong signature"
        logger.warning("%s webhook refused: %s", platform, reason)
        raise WebhookRejected("The webhook signature is missing or not valid.", code="invalid_signature", status=401)
    topic = headers.get(names.topic, "").strip()
    delivery_id = headers.get(names.delivery_id, "").strip()
    if topic not in TOPICS[platform]:
        logger.info("%s webhook with topic %r ignored (delivery %s)", platform, topic, delivery_id or "-")
        return WebhookReceipt(status="ignored", topic=topic, delivery_id=delivery_id)
    if not delivery_id or len(delivery_id) > 128:
        raise WebhookRejected(f"The {names.delivery_id} header is missing or too long.", code="missing_delivery_id")
    try:
        payload = json_loads_exact(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookRejected("The body is not valid JSON.", code="invalid_json") from exc
    # Parse now, only to refuse a malformed payload while the shop is still listening.
    payload_parse(platform=platform, topic=topic, payload=payload, currency=_currency_for(platform, topic))
    kept_headers = {key.lower(): value for key, value in headers.items() if key.lower().startswith(names.prefix)}
    try:
        with transaction.atomic():
            delivery = WebhookDelivery.objects.create(platform=platform, delivery_id=delivery_id, topic=topic,
                                                      body=body, headers=kept_headers)
            # The outbox row commits with the delivery: from here on it is applied even if Redis is
            # down right now (the relay queues it once it is back), so the answer is "accepted".
            outbox_send(task=_apply_task(), args=[delivery.pk], key=_outbox_key(delivery.pk))
    except IntegrityError:
        if _resend_if_unapplied(platform=platform, delivery_id=delivery_id):
            logger.info("%s delivery %s seen before but never applied; queued again", platform, delivery_id)
            return WebhookReceipt(status="accepted", topic=topic, delivery_id=delivery_id)
        logger.info("%s delivery %s seen before; nothing to do", platform, delivery_id)
        return WebhookReceipt(status="duplicate", topic=topic, delivery_id=delivery_id)
    return WebhookReceipt(status="accepted", topic=topic, delivery_id=delivery_id)


def _apply_task() -> Task:
    from orders.tasks import webhook_delivery_process

    return webhook_delivery_process


def _outbox_key(delivery_pk: int) -> str:
    return f"orders.webhookdelivery:{delivery_pk}"


def _resend_if_unapplied(*, platform: str, delivery_id: str) -> bool:
    """A shop's retry of a stored delivery: queued again when its first copy was not applied and is not
    under way (never queued, queued too long ago, or dead-lettered); a duplicate otherwise."""
    delivery = WebhookDelivery.objects.filter(platform=platform, delivery_id=delivery_id).first()
    if delivery is None or delivery.state == WebhookDelivery.State.PROCESSED:
        return False
    return outbox_resend_unless_under_way(key=_outbox_key(delivery.pk))


def _apply(*, parsed: Any, currency: str, source: str) -> str:
    if isinstance(parsed, OrderData):
        return order_upsert(data=parsed, source=source)
    if isinstance(parsed, FulfillmentData):
        return fulfillment_apply(data=parsed, source=source)
    if isinstance(parsed, ProductData):
        return product_upsert_from_platform(data=parsed, currency=currency)
    if isinstance(parsed, InventoryData):
        return variant_stock_set_from_platform(data=parsed)
    raise InvalidPayload(f"Nothing knows how to apply {type(parsed).__name__}.")


def webhook_delivery_apply(*, delivery_id: int) -> str | None:
    """Apply one stored delivery, once: a delivery already processed is left alone."""
    try:
        with transaction.atomic():
            delivery = WebhookDelivery.objects.select_for_update().filter(pk=delivery_id).first()
            if delivery is None:
                logger.warning("webhook delivery %s is gone; nothing to do", delivery_id)
                return None
            if delivery.state == WebhookDelivery.State.PROCESSED:
                return delivery.outcome
            payload = json_loads_exact(bytes(delivery.body))
            currency = _currency_for(delivery.platform, delivery.topic)
            parsed = payload_parse(platform=delivery.platform, topic=delivery.topic, payload=payload,
                                   currency=currency)
            outcome = _apply(parsed=parsed, currency=currency, source=f"{delivery.platform}:{delivery.topic}")
            delivery.state = WebhookDelivery.State.PROCESSED
            delivery.outcome = outcome[:300]
            delivery.attempts += 1
            delivery.processed = timezone.now()
            delivery.save(update_fields=["state", "outcome", "attempts", "processed"])
    except Exception as exc:
        # The work rolled back; note the attempt, and let the task retry (then dead-letter) it.
        WebhookDelivery.objects.filter(pk=delivery_id).exclude(state=WebhookDelivery.State.PROCESSED).update(
            state=WebhookDelivery.State.FAILED, attempts=F("attempts") + 1,
            outcome=f"{type(exc).__name__}: {exc}"[:300])
        raise
    logger.info("%s delivery %s (%s): %s", delivery.platform, delivery.delivery_id, delivery.topic, outcome)
    return outcome
