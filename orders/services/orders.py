"""Orders: the one place status transitions are decided, and upserts from shops and imports.

The lifecycle is pending -> paid -> packed -> shipped -> delivered; cancelled from pending, paid or
packed; refunded from paid, packed, shipped or delivered. Shops can skip steps (a webhook may never
come), so any forward move is allowed; a backward move never is. An update older than the one
already stored changes nothing.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Q

from orders.events import order_updated_send
from orders.exceptions import InvalidTransition, OrderNotFound
from orders.models import Order, OrderItem, OrderStatus, OrderStatusChange
from orders.platforms import FulfillmentData, OrderData, TrackingData

logger = logging.getLogger(__name__)

S = OrderStatus
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    S.PENDING: frozenset({S.PAID, S.PACKED, S.SHIPPED, S.DELIVERED, S.CANCELLED}),
    S.PAID: frozenset({S.PACKED, S.SHIPPED, S.DELIVERED, S.CANCELLED, S.REFUNDED}),
    S.PACKED: frozenset({S.SHIPPED, S.DELIVERED, S.CANCELLED, S.REFUNDED}),
    S.SHIPPED: frozenset({S.DELIVERED, S.REFUNDED}),
    S.DELIVERED: frozenset({S.REFUNDED}),
    S.CANCELLED: frozenset(),
    S.REFUNDED: frozenset(),
}


def order_lookup_key(number: str) -> str:
    """'#1001', ' tl-10412 ' -> '1001', 'TL-10412': how a customer might type the number."""
    return re.sub(r"\s+", "", number).lstrip("#").upper()


def order_transition_allowed(*, from_status: str, to_status: str) -> bool:
    return to_status in ALLOWED_TRANSITIONS.get(from_status, frozenset())


@dataclass(frozen=True)
class TransitionResult:
    changed: bool
    from_status: str
    to_status: str
    reason: str = ""


def _status_move(*, order: Order, to_status: str, at: datetime, source: str) -> TransitionResult:
    """Move a locked order and record it; returns what happened without raising (callers decide if a
    refusal is an error). The caller saves the order, together with whatever else it changed."""
    current = order.status
    if to_status == current:
        return TransitionResult(False, current, to_status, "already in that status")
    if not order_transition_allowed(from_status=current, to_status=to_status):
        return TransitionResult(False, current, to_status, f"{current} cannot become {to_status}")
    order.status = to_status
    OrderStatusChange.objects.create(order=order, from_status=current, to_status=to_status, at=at, source=source)
    return TransitionResult(True, current, to_status)


def order_transition(*, order: Order, to_status: str, at: datetime, source: str) -> Order:
    """A deliberate status change (a person, an import): refused loudly when the lifecycle forbids it."""
    if to_status not in S.values:
        raise InvalidTransition(f"'{to_status}' is not an order status.", details={"status": to_status})
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        result = _status_move(order=locked, to_status=to_status, at=at, source=source)
        if not result.changed and result.from_status != to_status:
            raise InvalidTransition(f"Order {locked.number} is {result.from_status} and cannot become {to_status}.",
                                    details={"from": result.from_status, "to": to_status})
        locked.save(update_fields=["status", "updated"])
        if result.changed:
            order_updated_send(order=locked)
    return locked


def order_status_advance(*, order: Order, to_status: str, at: datetime, source: str) -> TransitionResult:
    """A reported status (webhooks): applied when it moves forward, otherwise ignored and logged.

    The order must already be locked by the caller (select_for_update inside its transaction), and
    the caller saves it.
    """
    result = _status_move(order=order, to_status=to_status, at=at, source=source)
    if not result.changed and result.reason != "already in that status":
        logger.info("order %s: %s reported %s, kept %s (%s)", order.number, source, to_status, order.status,
                    result.reason)
    return result


def _tracking_apply(order: Order, tracking: TrackingData | None) -> None:
    if tracking is None:
        return
    order.carrier = tracking.carrier or order.carrier
    order.tracking_number = tracking.tracking_number or order.tracking_number
    order.tracking_url = tracking.tracking_url or order.tracking_url
    order.estimated_delivery = tracking.estimated_delivery or order.estimated_delivery


def _items_replace(order: Order, data: OrderData, *, new: bool = False) -> None:
    wanted = [(i.sku, i.name, i.quantity, i.unit_price_minor) for i in data.items]
    if not new:
        current = [(i.sku, i.name, i.quantity, i.unit_price_minor) for i in order.items.all()]
        if current == wanted:
            return
        OrderItem.objects.filter(order=order).delete()
    OrderItem.objects.bulk_create(
        OrderItem(order=order, sku=sku, name=name[:300], quantity=quantity, unit_price_minor=price)
        for sku, name, quantity, price in wanted)


def _order_new(data: OrderData, *, status: str) -> Order:
    return Order(number=data.number, lookup_key=order_lookup_key(data.number), email=data.email, phone=data.phone,
                 currency=data.currency, status=status, subtotal_minor=data.subtotal_minor,
                 shipping_minor=data.shipping_minor, total_minor=data.total_minor, placed_at=data.placed_at,
                 platform=data.platform, external_ref=data.external_ref, source_updated_at=data.updated_at)


def order_upsert(*, data: OrderData, source: str) -> str:
    """Create or update an order from a shop's snapshot; returns what happened, for the delivery log."""
    # No savepoint when called inside the delivery's transaction: it commits or rolls back as one.
    with transaction.atomic(savepoint=False):
        order = (Order.objects.select_for_update()
                 .filter(Q(platform=data.platform, external_ref=data.external_ref)
                         | Q(lookup_key=order_lookup_key(data.number)))
                 .order_by("id").first())
        if order is None:
            return _order_create(data=data, source=source)
        if order.source_updated_at and data.updated_at < order.source_updated_at:
            logger.info("order %s: %s from %s is older than what we have (%s); ignored", order.number, source,
                        data.updated_at.isoformat(), order.source_updated_at.isoformat())
            return f"order {order.number} unchanged: update from {data.updated_at.isoformat()} is stale"
        order.email = data.email or order.email
        order.phone = data.phone or order.phone
        order.currency = data.currency
        order.subtotal_minor, order.shipping_minor = data.subtotal_minor, data.shipping_minor
        order.total_minor = data.total_minor
        order.platform, order.external_ref = data.platform, data.external_ref
        order.source_updated_at = data.updated_at
        _items_replace(order, data)
        _tracking_apply(order, data.tracking)
        result = None
        if data.status:
            result = order_status_advance(order=order, to_status=data.status, at=data.updated_at, source=source)
        order.save()
        order_updated_send(order=order)
        if result is not None and result.changed:
            return f"order {order.number} {result.from_status} -> {result.to_status}"
        return f"order {order.number} updated, status {order.status}"


def _order_create(*, data: OrderData, source: str) -> str:
    """A new order starts as pending when it was placed; a later status is a change at its update time."""
    target = data.status or S.PENDING
    order = _order_new(data, status=S.PENDING)
    _tracking_apply(order, data.tracking)
    steps = [OrderStatusChange(from_status="", to_status=S.PENDING, at=data.placed_at, source=source)]
    if order_transition_allowed(from_status=S.PENDING, to_status=target):
        order.status = target
        steps.append(OrderStatusChange(from_status=S.PENDING, to_status=target, at=data.updated_at, source=source))
    elif target != S.PENDING:
        logger.info("order %s: new order reported as %s, kept pending", data.number, target)
    order.save()
    for step in steps:
        step.order = order
    OrderStatusChange.objects.bulk_create(steps)
    _items_replace(order, data, new=True)
    order_updated_send(order=order, created=True)
    return f"order {order.number} created as {order.status}"


def fulfillment_apply(*, data: FulfillmentData, source: str) -> str:
    """Tracking details and the shipping status of a fulfillment; its order must already be known."""
    with transaction.atomic(savepoint=False):
        order = Order.objects.select_for_update().filter(platform=data.platform,
                                                         external_ref=data.order_external_ref).first()
        if order is None:
            # Deliveries can overtake each other: retry until the order's own webhook has arrived.
            raise OrderNotFound(f"No order with {data.platform} id {data.order_external_ref} yet.")
        _tracking_apply(order, data.tracking)
        result = None
        if data.status:
            result = order_status_advance(order=order, to_status=data.status, at=data.updated_at, source=source)
        order.save()
        order_updated_send(order=order)
        if result is not None and result.changed:
            return f"order {order.number} {result.from_status} -> {result.to_status}, tracking updated"
        return f"order {order.number} tracking updated, status {order.status}"


@dataclass(frozen=True)
class HistoryEntry:
    status: str
    at: datetime


def order_import(*, data: OrderData, history: list[HistoryEntry], source: str) -> bool:
    """Create an order with its known history (demo data, migrations from other tools).

    Idempotent on the order number: an order that exists already is left as it is. Returns whether
    it was created. The history must follow the lifecycle and end at the order's status.
    """
    if Order.objects.filter(lookup_key=order_lookup_key(data.number)).exists():
        return False
    steps = history or [HistoryEntry(status=data.status or S.PENDING, at=data.placed_at)]
    with transaction.atomic():
        order = _order_new(data, status=steps[0].status)
        _tracking_apply(order, data.tracking)
        order.save()
        OrderStatusChange.objects.create(order=order, from_status="", to_status=steps[0].status, at=steps[0].at,
                                         source=source)
        _items_replace(order, data, new=True)
        for step in steps[1:]:
            result = _status_move(order=order, to_status=step.status, at=step.at, source=source)
            if not result.changed:
                raise InvalidTransition(f"Order {data.number}: {result.reason}.",
                                        details={"from": result.from_status, "to": step.status})
        if data.status and order.status != data.status:
            raise InvalidTransition(f"Order {data.number}: its history ends at {order.status}, not {data.status}.")
        order.save(update_fields=["status", "updated"])
    return True
