"""A shop sends an order webhook while Redis is down (killed for real), then Redis comes back.

A real daphne server and a real Celery worker use a Redis server of this test's own, which is
SIGKILLed while a signed Shopify webhook is POSTed and started again (empty) afterwards. The delivery
must be answered as accepted (it is stored, with its outbox row) and applied exactly once: by the
outbox relay that beat sends to every tenant, or by the shop's own retry of the same delivery id.
The same outbox carries the other work a stored row promises: an owner's invitation made while
Redis is down is e-mailed once it is back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
import redis
from django.conf import settings
from django.test import Client
from django_tenants.utils import schema_context

from chat.dashboard.models import Invitation
from config.celery import app
from config.outbox.models import OutboxMessage
from config.outbox.tasks import outbox_relay_tenant
from config.redis import tenant_key
from orders.models import Order, WebhookDelivery
from tests.orders import payloads
from tests.orders.conftest import SHOPIFY_SECRET, domain_of, shop_connect
from tests.support.processes import PrivateRedis, WebServer, Worker, child_env, wait_until

SHOPIFY = "/webhooks/shopify/"


@pytest.fixture
def connected(make_tenant: Callable[..., object]) -> object:
    """A shop selling in EUR with its Shopify webhook secret set."""
    tenant = make_tenant(name="Shop under a Redis outage").tenant  # type: ignore[attr-defined]
    shop_connect(tenant.schema_name, currency="EUR", platforms=["shopify"])
    return tenant


@pytest.fixture
def redis_of_our_own() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    yield server
    server.stop()


@pytest.fixture
def stack(redis_of_our_own: PrivateRedis) -> Iterator[tuple[WebServer, Worker]]:
    env = child_env(REDIS_URL=redis_of_our_own.url)
    web = WebServer(env=env)
    try:
        worker = Worker(queues="high,medium", env=env)
    except BaseException:
        web.stop()
        raise
    yield web, worker
    worker.stop()
    web.stop()


def post_order(web: WebServer, tenant: object, raw: bytes, delivery_id: str) -> httpx.Response:
    with web.client(domain_of(tenant)) as client:
        return client.post(SHOPIFY, content=raw,
                           headers=payloads.shopify_headers(SHOPIFY_SECRET, raw, "orders/create", delivery_id))


def beat_sends_the_outbox_relay(tenant: object, redis_url: str) -> None:
    """One pass of beat's `outbox-relay` entry for this tenant: the dispatcher sends each active tenant
    the relay task stamped with its schema; here it is sent for this test's tenant only, so the relay
    never touches the outboxes of other tests' tenants in the shared database."""
    entry = settings.CELERY_BEAT_SCHEDULE["outbox-relay"]
    assert (entry["task"], entry["args"]) == ("tenants.tasks.dispatch_to_active_tenants", [outbox_relay_tenant.name])
    with app.connection_for_write(redis_url) as broker, schema_context(tenant.schema_name):  # type: ignore[attr-defined]
        outbox_relay_tenant.apply_async(producer=app.amqp.Producer(broker))


def the_order(tenant: object, number: str) -> Order | None:
    with schema_context(tenant.schema_name):  # type: ignore[attr-defined]
        return Order.objects.filter(number=number).first()


def assert_applied_once(tenant: object, number: str, delivery_id: str) -> None:
    with schema_context(tenant.schema_name):  # type: ignore[attr-defined]
        order = Order.objects.get(number=number)
        assert (order.status, order.total_minor, order.email) == ("paid", 6490, "jon@example.com")
        assert [(i.sku, i.quantity, i.unit_price_minor) for i in order.items.all()] == [("TL-HOOD-001-NAV-M", 1, 5995)]
        assert [(c.from_status, c.to_status) for c in order.history.all()] == [("", "pending"), ("pending", "paid")]
        delivery = WebhookDelivery.objects.get(delivery_id=delivery_id)
        assert delivery.state == "processed" and delivery.attempts == 1
        wait_until(lambda: OutboxMessage.objects.filter(done_at__isnull=False).count() == 1,
                   message="the outbox row marked done")


def test_a_webhook_posted_while_redis_is_down_is_applied_by_the_relay_once_redis_is_back(
        connected, redis_of_our_own, stack) -> None:
    web, _worker = stack
    raw = payloads.body(payloads.shopify_order(name="#5101", order_id=5101))

    redis_of_our_own.kill()
    response = post_order(web, connected, raw, "while-redis-down-5101")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "accepted"
    with schema_context(connected.schema_name):
        assert WebhookDelivery.objects.get(delivery_id="while-redis-down-5101").state == "received"
        assert OutboxMessage.objects.get().queued_at is None  # stored, known not to be queued
    assert the_order(connected, "#5101") is None

    redis_of_our_own.start()  # back, and empty: the failed enqueue left nothing in it
    beat_sends_the_outbox_relay(connected, redis_of_our_own.url)
    wait_until(lambda: the_order(connected, "#5101"), timeout=60, message="order applied by the relay")
    assert_applied_once(connected, "#5101", "while-redis-down-5101")

    # The relay's next pass finds nothing owed; the order is not applied twice.
    beat_sends_the_outbox_relay(connected, redis_of_our_own.url)
    with schema_context(connected.schema_name):
        wait_until(lambda: OutboxMessage.objects.get().sends == 2, message="two sends in all")
    assert_applied_once(connected, "#5101", "while-redis-down-5101")


def test_the_shops_retry_of_a_delivery_never_applied_is_processed_not_called_a_duplicate(
        connected, redis_of_our_own, stack) -> None:
    web, _worker = stack
    raw = payloads.body(payloads.shopify_order(name="#5102", order_id=5102))

    redis_of_our_own.kill()
    first = post_order(web, connected, raw, "retried-5102")
    assert first.status_code == 200 and first.json()["status"] == "accepted", first.text
    redis_of_our_own.start()

    # The shop retries the same delivery id (its first copy was never applied): it is applied now.
    retry = post_order(web, connected, raw, "retried-5102")
    assert retry.status_code == 200 and retry.json()["status"] == "accepted", retry.text
    wait_until(lambda: the_order(connected, "#5102"), timeout=60, message="order applied after the shop's retry")
    assert_applied_once(connected, "#5102", "retried-5102")

    # Once applied, another copy is a duplicate and changes nothing.
    again = post_order(web, connected, raw, "retried-5102")
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    with schema_context(connected.schema_name):
        assert WebhookDelivery.objects.filter(delivery_id="retried-5102").count() == 1
    assert_applied_once(connected, "#5102", "retried-5102")


def test_an_invitation_made_while_redis_is_down_is_emailed_once_redis_is_back(
        connected, redis_of_our_own, stack) -> None:
    from tenants.services import ROLE_OWNER, tenant_user_create

    web, _worker = stack
    with schema_context(connected.schema_name):
        owner = tenant_user_create(email="owner@outage.test", password="owner-pass-1234", role=ROLE_OWNER,
                                   name="Olivia Owner")
        session = Client(HTTP_HOST=domain_of(connected))
        session.force_login(owner, backend="django.contrib.auth.backends.ModelBackend")
    with web.client(domain_of(connected)) as browser:
        browser.cookies.set("sessionid", session.cookies["sessionid"].value)
        page = browser.get("/app/team/")
        assert page.status_code == 200
        token = page.text.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]

        redis_of_our_own.kill()
        invited = browser.post("/app/team/", data={"email": "new.agent@outage.test", "role": "agent",
                                                   "csrfmiddlewaretoken": token})
    assert invited.status_code == 302, invited.text  # the owner is told it was sent, not shown an error
    with schema_context(connected.schema_name):
        invitation = Invitation.objects.get(email="new.agent@outage.test")
        assert OutboxMessage.objects.get(task_name="chat.dashboard.tasks.invitation_email_send").queued_at is None

    redis_of_our_own.start()
    beat_sends_the_outbox_relay(connected, redis_of_our_own.url)
    emailed = tenant_key(connected.schema_name, "invitation", str(invitation.pk), "emailed")
    wait_until(lambda: redis.Redis.from_url(redis_of_our_own.url).exists(emailed), timeout=60,
               message="invitation e-mailed by the worker")
    with schema_context(connected.schema_name):
        wait_until(lambda: OutboxMessage.objects.get(task_name="chat.dashboard.tasks.invitation_email_send").done_at,
                   message="the outbox row marked done")
