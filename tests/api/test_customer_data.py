"""A customer's data rights through the API, as a business's own system would call them: a copy of
everything held about a contact, and its erasure; each leaves one audit entry naming the key; another
business's key, or a key without the scopes, reaches nothing."""

from __future__ import annotations

import uuid

from django_tenants.utils import schema_context

from chat.audit.models import AuditAction, AuditEntry
from tests.api.conftest import ApiTenant, api_client, api_key_for
from tests.support.processes import WebServer


def customer_who_wrote(tenant: ApiTenant, text: str) -> tuple[int, int]:
    from chat.conversations.services import contact_get_or_create, conversation_start, message_receive

    with schema_context(tenant.schema):
        contact = contact_get_or_create(visitor_id=f"v-{uuid.uuid4().hex}", name="Noor",
                                        email=f"noor.{uuid.uuid4().hex[:6]}@example.com")
        conversation = conversation_start(contact=contact)
        message_receive(conversation=conversation, text=text)
        return contact.pk, conversation.pk


def audit_of(tenant: ApiTenant, contact_id: int, action: AuditAction) -> list[AuditEntry]:
    with schema_context(tenant.schema):
        return list(AuditEntry.objects.filter(action=action, target=f"customer {contact_id}"))


def test_the_copy_is_the_same_document_the_owner_downloads_and_is_audited(web: WebServer, biz_a: ApiTenant) -> None:
    from chat.conversations.customer_data import customer_data_export

    contact_id, conversation_id = customer_who_wrote(biz_a, "My new address is 12 Canal Street")
    with api_client(web, biz_a, api_key_for(biz_a)) as client:
        answer = client.get(f"/contacts/{contact_id}/export")
    assert answer.status_code == 200, answer.text
    document = answer.json()
    (entry,) = audit_of(biz_a, contact_id, AuditAction.EXPORT)
    assert entry.actor.startswith("api-key:") and entry.request_id == answer.headers["X-Request-ID"]
    assert document["contact"]["name"] == "Noor" and document["conversations"][0]["id"] == conversation_id
    assert "My new address is 12 Canal Street" in [m["text"] for m in document["conversations"][0]["messages"]]
    with schema_context(biz_a.schema):
        expected = customer_data_export(contact_id=contact_id)
    assert {**document, "exported": None} == {**expected, "exported": None}


def test_erasure_answers_the_counts_leaves_nothing_and_a_retry_gets_the_same_answer(
        web: WebServer, biz_a: ApiTenant) -> None:
    from chat.conversations.models import Contact, Message

    contact_id, _ = customer_who_wrote(biz_a, "Please forget everything about me")
    with api_client(web, biz_a, api_key_for(biz_a)) as client:
        refused = client.post(f"/contacts/{contact_id}/erase", json={"confirm": True})
        assert refused.status_code == 400 and refused.json()["error"]["details"] == {"confirm": ["Unknown field."]}
        headers = {"Idempotency-Key": uuid.uuid4().hex}
        erased = client.post(f"/contacts/{contact_id}/erase", json={}, headers=headers)
        assert erased.status_code == 200, erased.text
        # The customer's greeting and the assistant's answer (or the offline one) went with the conversation.
        assert erased.json()["contact_id"] == contact_id and erased.json()["conversations"] == 1
        assert erased.json()["messages"] >= 1
        # A client retrying after a lost answer is told what happened, not that the contact is unknown.
        retried = client.post(f"/contacts/{contact_id}/erase", json={}, headers=headers)
        assert retried.json() == erased.json() and retried.headers["Idempotent-Replayed"] == "true"
        again = client.post(f"/contacts/{contact_id}/erase", json={})
        assert again.status_code == 404 and again.json()["error"]["code"] == "contact_not_found"
        assert client.get(f"/contacts/{contact_id}/export").status_code == 404
    with schema_context(biz_a.schema):
        assert not Contact.objects.filter(pk=contact_id).exists()
        assert not Message.objects.filter(text="Please forget everything about me").exists()
    (entry,) = audit_of(biz_a, contact_id, AuditAction.DELETION)
    assert entry.actor.startswith("api-key:") and entry.details["conversations"] == 1


def test_another_business_and_keys_without_the_scopes_reach_nothing(
        web: WebServer, biz_a: ApiTenant, biz_b: ApiTenant) -> None:
    from chat.conversations.models import Contact

    contact_id, _ = customer_who_wrote(biz_a, "Only business A may see this")
    key_of_b = api_key_for(biz_b)
    # B's key on A's domain: the one answer of any key that is not A's.
    with api_client(web, biz_a, key_of_b) as client:
        assert client.get(f"/contacts/{contact_id}/export").status_code == 401
        assert client.post(f"/contacts/{contact_id}/erase", json={}).status_code == 401
    # B's key on B's domain, with A's contact id: B's own customers only (the id may be one of theirs).
    with api_client(web, biz_b, key_of_b) as client:
        copy = client.get(f"/contacts/{contact_id}/export")
        assert "Only business A may see this" not in copy.text
        client.post(f"/contacts/{contact_id}/erase", json={})
    read_only = api_key_for(biz_a, scopes=["read", "conversations"])
    other_areas = api_key_for(biz_a, scopes=["read", "write", "knowledge", "catalog", "webhooks"])
    with api_client(web, biz_a, read_only) as client:
        refused = client.post(f"/contacts/{contact_id}/erase", json={})
        assert refused.status_code == 403 and refused.json()["error"]["details"]["missing_scopes"] == ["write"]
        assert client.get(f"/contacts/{contact_id}/export").status_code == 200
    with api_client(web, biz_a, other_areas) as client:
        for answer in (client.get(f"/contacts/{contact_id}/export"), client.post(f"/contacts/{contact_id}/erase", json={})):
            assert answer.status_code == 403 and answer.json()["error"]["details"]["missing_scopes"] == ["conversations"]
    with schema_context(biz_a.schema):
        assert Contact.objects.filter(pk=contact_id).exists()
    assert audit_of(biz_a, contact_id, AuditAction.DELETION) == []
