"""Database constraints refuse impossible states; the lifecycle only ever moves forward."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, transaction
from django_tenants.utils import schema_context

from orders.exceptions import InvalidTransition
from orders.models import Order, OrderStatusChange, Product, Variant
from orders.platforms import ItemData, OrderData
from orders.services.orders import (
    ALLOWED_TRANSITIONS,
    order_lookup_key,
    order_transition,
    order_upsert,
)

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def refused(create) -> bool:
    try:
        with transaction.atomic():
            create()
    except IntegrityError:
        return True
    return False


def test_database_refuses_impossible_catalog_states(tenant_a) -> None:
    with schema_context(tenant_a.schema_name):
        product = Product.objects.create(sku="P-1", name="Tee", price_minor=1000, currency="EUR")
        Variant.objects.create(product=product, sku="P-1-M", price_minor=1000, stock=1)
        assert refused(lambda: Variant.objects.create(product=product, sku="P-1-L", price_minor=1000, stock=-1))
        assert refused(lambda: Variant.objects.create(product=product, sku="P-1-L", price_minor=0, stock=1))
        assert refused(lambda: Variant.objects.create(product=product, sku="P-1-L", price_minor=-5, stock=1,
                                                      is_sellable=False))
        assert refused(lambda: Variant.objects.create(product_id=None, sku="P-1-L", price_minor=100, stock=1))
        assert refused(lambda: Variant.objects.create(product=product, sku="P-1-M", price_minor=100, stock=1))
        assert refused(lambda: Product.objects.create(sku="P-1", name="Dup", price_minor=100, currency="EUR"))
        assert refused(lambda: Product.objects.create(sku="P-2", name="Free", price_minor=0, currency="EUR"))
        assert refused(lambda: Product.objects.create(sku="P-2", name="Bad", price_minor=100, currency="eur"))
        # A product that is not for sale may be free (a sample, a discontinued line).
        assert not refused(lambda: Product.objects.create(sku="P-3", name="Sample", price_minor=0, currency="EUR",
                                                          is_sellable=False))
        assert Variant.objects.count() == 1


def new_order(number: str = "TL-1", status: str = "pending", updated_at: datetime = T0) -> OrderData:
    return OrderData(platform="shopify", external_ref=f"ext-{number}", number=number, email="ann@example.com",
                     phone="+31 6 1111 2222", currency="EUR", status=status,
                     items=[ItemData(sku="X", name="Thing", quantity=2, unit_price_minor=1250)], subtotal_minor=2500,
                     shipping_minor=495, total_minor=2995, placed_at=T0, updated_at=updated_at)


def test_every_allowed_transition_is_accepted_and_everything_else_refused(tenant_a) -> None:
    statuses = list(ALLOWED_TRANSITIONS)
    with schema_context(tenant_a.schema_name):
        for index, start in enumerate(statuses):
            for target in statuses:
                if target == start:
                    continue
                number = f"T-{index}-{target}"
                order_upsert(data=new_order(number), source="test")
                order = Order.objects.get(number=number)
                if start != "pending":
                    # Reach the starting status by a path the lifecycle allows.
                    path = {"paid": ["paid"], "packed": ["packed"], "shipped": ["shipped"],
                            "delivered": ["delivered"], "cancelled": ["cancelled"], "refunded": ["paid", "refunded"]}
                    for step in path[start]:
                        order = order_transition(order=order, to_status=step, at=T0, source="test")
                if target in ALLOWED_TRANSITIONS[start]:
                    assert order_transition(order=order, to_status=target, at=T0, source="test").status == target
                else:
                    with pytest.raises(InvalidTransition):
                        order_transition(order=order, to_status=target, at=T0, source="test")
                    assert Order.objects.get(pk=order.pk).status == start


def test_lifecycle_matches_the_documented_one() -> None:
    assert ALLOWED_TRANSITIONS["delivered"] == {"refunded"}
    assert ALLOWED_TRANSITIONS["shipped"] == {"delivered", "refunded"}
    assert "cancelled" not in ALLOWED_TRANSITIONS["shipped"]
    assert not ALLOWED_TRANSITIONS["cancelled"] and not ALLOWED_TRANSITIONS["refunded"]


def test_webhook_reports_never_move_an_order_backwards(tenant_a) -> None:
    with schema_context(tenant_a.schema_name):
        order_upsert(data=new_order(status="pending"), source="test")
        order_upsert(data=new_order(status="shipped", updated_at=T0 + timedelta(hours=2)), source="test")
        # Newer, but a backwards status (a platform that lags behind its fulfillments): kept.
        outcome = order_upsert(data=new_order(status="paid", updated_at=T0 + timedelta(hours=3)), source="test")
        order = Order.objects.get(number="TL-1")
        assert order.status == "shipped" and "status shipped" in outcome
        assert [(c.from_status, c.to_status) for c in order.history.all()] == [("", "pending"), ("pending", "shipped")]


def test_an_update_older_than_the_stored_one_changes_nothing(tenant_a) -> None:
    with schema_context(tenant_a.schema_name):
        order_upsert(data=new_order(status="paid", updated_at=T0 + timedelta(hours=5)), source="test")
        stale = new_order(status="delivered", updated_at=T0 + timedelta(hours=1))
        stale = OrderData(**{**stale.__dict__, "email": "someone-else@example.com", "total_minor": 1})
        outcome = order_upsert(data=stale, source="test")
        order = Order.objects.get(number="TL-1")
        assert "stale" in outcome
        assert order.status == "paid" and order.email == "ann@example.com" and order.total_minor == 2995
        assert order.history.count() == 2


def test_history_is_append_only(tenant_a) -> None:
    with schema_context(tenant_a.schema_name):
        order_upsert(data=new_order(), source="test")
        change = OrderStatusChange.objects.get()
        change.source = "rewritten"
        with pytest.raises(ValueError, match="append-only"):
            change.save()


def test_lookup_key_ignores_hash_spaces_and_case() -> None:
    assert order_lookup_key(" #1001 ") == "1001"
    assert order_lookup_key("tl-10412") == "TL-10412"
