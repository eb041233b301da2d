"""An owner (or whoever holds an owner's session or API key) points a webhook at the platform's own
network: refused when saved, and refused again when sending, whatever the name resolves to then."""

from __future__ import annotations

import pytest
from django.db import transaction
from django_tenants.utils import schema_context

from chat.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from chat.webhooks.services import webhook_delivery_attempt, webhook_endpoint_create, webhook_event_enqueue
from chat.webhooks.signing import secret_generate
from config.egress import EgressRefused

pytestmark = pytest.mark.usefixtures("empty_queues")

INTERNAL = ["http://127.0.0.1:6379/", "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
            "http://localhost/hook", "http://2130706433/hook", "http://0x7f.1/hook", "http://[::ffff:127.0.0.1]/",
            "http://10.0.0.5/hook", "file:///etc/passwd"]


@pytest.mark.parametrize("url", INTERNAL)
def test_an_internal_address_is_refused_when_saved(tenant_a, settings, url) -> None:
    settings.EGRESS_ALLOWED_NETWORKS = []
    with schema_context(tenant_a.schema_name):
        with pytest.raises(EgressRefused) as refused:
            webhook_endpoint_create(url=url, events=["message.created"])
        assert refused.value.status == 400 and refused.value.details == {"field": "url"}
        assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize("path", ["loopback-by-name", "metadata"])
def test_an_internal_address_is_refused_when_sending(tenant_a, receiver, settings, path) -> None:
    """A name that resolved to a public address when saved and to a private one now (DNS rebinding), or
    a row written around the form: the request is never made."""
    settings.EGRESS_ALLOWED_NETWORKS = []
    port = receiver.server.server_address[1]
    url = {"loopback-by-name": f"http://localhost:{port}/{path}",
           "metadata": "http://169.254.169.254/latest/meta-data/"}[path]
    with schema_context(tenant_a.schema_name):
        WebhookEndpoint.objects.create(url=url, events=["order.updated"], secret=secret_generate())
        with transaction.atomic():
            webhook_event_enqueue(type="order.updated", data={"order_id": 1})
        delivery = WebhookDelivery.objects.get()
        result = webhook_delivery_attempt(delivery_id=delivery.pk, attempt=0)
        assert result is not None and result.answer.status_code is None
        attempt = WebhookAttempt.objects.get(delivery=delivery)
        assert attempt.error.startswith("refused: ") and "platform's own network" in attempt.error
        assert result.delivery.status == DeliveryStatus.PENDING  # retried, and disabled after three days
    assert receiver.got(path) == []
