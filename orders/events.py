"""What the orders app tells the apps above it, in the changing transaction.

Orders sit below the chat apps and import none of them; an app above that must follow orders (the
outgoing webhooks' `order.updated`) registers a handler here from its `ready()`. Handlers run inside
the transaction that changed the order, so what they store (an outbox row) commits or rolls back
with the change; they must be cheap and must not fail for reasons of their own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from orders.models import Order


@dataclass(frozen=True, kw_only=True)
class OrderUpdated:
    """An order was created or changed (status, tracking, items, amounts)."""

    order_id: int
    number: str
    status: str
    created: bool


OrderHandler = Callable[[OrderUpdated], None]
_HANDLERS: list[OrderHandler] = []


def order_handler_register(*, handler: OrderHandler) -> None:
    if handler not in _HANDLERS:
        _HANDLERS.append(handler)


def order_updated_send(*, order: Order, created: bool = False) -> None:
    event = OrderUpdated(order_id=order.pk, number=order.number, status=order.status, created=created)
    for handler in _HANDLERS:
        handler(event)
