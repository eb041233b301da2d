"""The `webhooks` endpoints of the business API: an integration manages its endpoints with an API key
that has the `webhooks` scope, and another tenant's key gets nothing."""

from __future__ import annotations

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from chat.api.services import api_key_create
from chat.webhooks.models import WebhookEndpoint

pytestmark = pytest.mark.usefixtures("receiver_allowed", "empty_queues")


def api(business, scopes: list[str]) -> Client:
    with schema_context(business.tenant.schema_name):
        key = api_key_create(name="integration", scopes=scopes).key
    return Client(HTTP_HOST=business.domain, HTTP_AUTHORIZATION=f"Bearer {key}")


def test_an_integration_creates_lists_updates_tests_and_deletes_an_endpoint(business, receiver) -> None:
    client = api(business, ["read", "write", "webhooks"])
    created = client.post("/api/v1/webhooks/endpoints", {"url": receiver.url("api"), "events": ["order.updated"]},
                          content_type="application/json")
    assert created.status_code == 201
    body = created.json()
    assert body["secret"].startswith("whsec_") and body["events"] == ["order.updated"] and body["enabled"]
    listed = client.get("/api/v1/webhooks/endpoints").json()
    assert [row["id"] for row in listed["data"]] == [body["id"]] and listed["has_more"] is False
    assert listed["data"][0]["secret"] != body["secret"] and "…" in listed["data"][0]["secret"]

    patched = client.patch(f"/api/v1/webhooks/endpoints/{body['id']}", {"enabled": False, "events": ["message.created"]},
                           content_type="application/json").json()
    assert patched["enabled"] is False and patched["events"] == ["message.created"]

    tested = client.post(f"/api/v1/webhooks/endpoints/{body['id']}/test")
    assert tested.status_code == 202 and tested.json()["type"] == "webhook.test"
    deliveries = client.get(f"/api/v1/webhooks/endpoints/{body['id']}/deliveries").json()["data"]
    assert [d["message_id"] for d in deliveries] == [tested.json()["message_id"]]

    rotated = client.post(f"/api/v1/webhooks/endpoints/{body['id']}/rotate-secret").json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != body["secret"]
    assert client.delete(f"/api/v1/webhooks/endpoints/{body['id']}").status_code == 204
    with schema_context(business.tenant.schema_name):
        assert not WebhookEndpoint.objects.exists()


def test_bad_input_is_refused_in_the_one_error_shape(business, settings) -> None:
    settings.EGRESS_ALLOWED_NETWORKS = []
    client = api(business, ["read", "write", "webhooks"])
    internal = client.post("/api/v1/webhooks/endpoints", {"url": "http://169.254.169.254/", "events": ["order.updated"]},
                           content_type="application/json")
    assert internal.status_code == 400 and internal.json()["error"]["code"] == "egress_refused"
    unknown = client.post("/api/v1/webhooks/endpoints", {"url": "https://example.com/h", "events": ["order.updated"],
                                                        "secret": "whsec_mine"}, content_type="application/json")
    assert unknown.status_code == 400 and unknown.json()["error"]["details"]["secret"] == ["Unknown field."]
    bad_event = client.post("/api/v1/webhooks/endpoints", {"url": "https://example.com/h", "events": ["order.deleted"]},
                            content_type="application/json")
    assert bad_event.status_code == 400 and "error" in bad_event.json()
    with schema_context(business.tenant.schema_name):
        assert not WebhookEndpoint.objects.exists()


def test_scopes_and_tenants_keep_endpoints_apart(business, other_business, receiver) -> None:
    owner = api(business, ["read", "write", "webhooks"])
    endpoint_id = owner.post("/api/v1/webhooks/endpoints", {"url": receiver.url("api-2"), "events": ["order.updated"]},
                             content_type="application/json").json()["id"]
    without_scope = api(business, ["read", "write", "conversations"])
    assert without_scope.get("/api/v1/webhooks/endpoints").status_code == 403
    stranger = api(other_business, ["read", "write", "webhooks"])
    assert stranger.get(f"/api/v1/webhooks/endpoints/{endpoint_id}").status_code == 404
    assert stranger.get("/api/v1/webhooks/endpoints").json()["data"] == []
    # Another tenant's key on this tenant's domain is a wrong key.
    with schema_context(other_business.tenant.schema_name):
        foreign = api_key_create(name="foreign", scopes=["read", "webhooks"]).key
    answer = Client(HTTP_HOST=business.domain, HTTP_AUTHORIZATION=f"Bearer {foreign}").get(
        "/api/v1/webhooks/endpoints")
    assert answer.status_code == 401
