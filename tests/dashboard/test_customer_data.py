"""A customer's data rights: the owner hands them a copy, erases them on request, and old
conversations go by themselves after the business's retention period."""

from __future__ import annotations

import io
import json
import uuid
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_tenants.utils import schema_context

from chat.analytics.models import AnalyticsDay
from chat.audit.models import AuditAction, AuditEntry
from chat.conversations import customer_data
from chat.conversations.models import Author, BusinessProfile, Contact, Conversation, Message
from chat.conversations.services import agent_message_send, business_profile_get
from tests.dashboard.conftest import Business


def customer_with_talk(business: Business, *, text: str, days_ago: int = 0, name: str = "Ada") -> Conversation:
    when = timezone.now() - timedelta(days=days_ago)
    with schema_context(business.tenant.schema_name):
        contact = Contact.objects.create(visitor_id=uuid.uuid4().hex, name=name, email=f"{uuid.uuid4().hex[:6]}@x.test")
        conversation = Conversation.objects.create(contact=contact, last_message_at=when)
        Conversation.objects.filter(pk=conversation.pk).update(created=when)
        Message.objects.create(conversation=conversation, author=Author.CUSTOMER, text=text, created=when)
        Message.objects.create(conversation=conversation, author=Author.ASSISTANT, text="Happy to help.", created=when)
        conversation.refresh_from_db()
        return conversation


def test_the_owner_downloads_one_customers_words_and_nobody_elses(business: Business) -> None:
    mine = customer_with_talk(business, text="My size is M and I live at 3 Elm Street")
    customer_with_talk(business, text="Someone else's secret", name="Bob")
    with schema_context(business.tenant.schema_name):
        agent_message_send(conversation=mine, agent=business.agent, text="VIP, be nice", internal=True)

    response = business.client(business.owner).get(f"/app/customers/{mine.contact_id}/data")

    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="customer-{mine.contact_id}.json"'
    document = json.loads(response.content)
    texts = [m["text"] for c in document["conversations"] for m in c["messages"]]
    assert "My size is M and I live at 3 Elm Street" in texts and "Happy to help." in texts
    assert "Someone else's secret" not in texts
    assert "VIP, be nice" not in texts  # the team's internal note is the business's, not the customer's
    assert document["contact"]["name"] == "Ada"


def test_only_owners_see_or_erase_customer_data(business: Business) -> None:
    conversation = customer_with_talk(business, text="hello")
    agent = business.client(business.agent)
    assert agent.get(f"/app/customers/{conversation.contact_id}/data").status_code == 403
    assert agent.post(f"/app/customers/{conversation.contact_id}/erase", {"confirm": "erase"}).status_code == 403
    assert business.client().get(f"/app/customers/{conversation.contact_id}/data").status_code == 302
    with schema_context(business.tenant.schema_name):
        assert Contact.objects.filter(pk=conversation.contact_id).exists()


def test_an_owner_of_another_business_cannot_reach_this_businesss_customer(business: Business,
                                                                         other_business: Business) -> None:
    conversation = customer_with_talk(business, text="private words")
    response = other_business.client(other_business.owner).get(f"/app/customers/{conversation.contact_id}/data")
    assert response.status_code == 404 or b"private words" not in response.content
    other_business.client(other_business.owner).post(f"/app/customers/{conversation.contact_id}/erase",
                                                     {"confirm": "erase"})
    with schema_context(business.tenant.schema_name):
        assert Message.objects.filter(text="private words").exists()


def test_erasing_a_customer_deletes_everything_they_wrote_and_recounts_the_days_they_were_in(
        business: Business) -> None:
    gone = customer_with_talk(business, text="Please forget me", days_ago=3)
    kept = customer_with_talk(business, text="Keep me", days_ago=3, name="Bob")
    owner = business.client(business.owner)
    with schema_context(business.tenant.schema_name):
        AnalyticsDay.objects.update_or_create(day=gone.created.astimezone(timezone.get_current_timezone()).date(),
                                              defaults={"stale": False})

    refused = owner.post(f"/app/customers/{gone.contact_id}/erase", {"confirm": "yes", "conversation": str(gone.pk)})
    assert refused.status_code == 302 and refused["Location"] == f"/app/inbox/{gone.pk}/"
    with schema_context(business.tenant.schema_name):
        assert Contact.objects.filter(pk=gone.contact_id).exists()

    response = owner.post(f"/app/customers/{gone.contact_id}/erase", {"confirm": "erase"})
    assert response.status_code == 302
    with schema_context(business.tenant.schema_name):
        assert not Contact.objects.filter(pk=gone.contact_id).exists()
        assert not Conversation.objects.filter(pk=gone.pk).exists()
        assert not Message.objects.filter(text="Please forget me").exists()
        assert Message.objects.filter(text="Keep me").exists() and Contact.objects.filter(pk=kept.contact_id).exists()
        # The day's figures counted the erased conversation: they are computed again without it.
        assert AnalyticsDay.objects.filter(stale=True).exists()
    assert owner.get(f"/app/customers/{gone.contact_id}/data").status_code == 404


def test_retention_deletes_only_conversations_past_the_period_and_customers_left_with_none(
        business: Business) -> None:
    old = customer_with_talk(business, text="an old question", days_ago=40)
    recent = customer_with_talk(business, text="a recent question", days_ago=2)
    with schema_context(business.tenant.schema_name):
        # Kept until the business sets a period.
        assert customer_data.conversations_retention_apply() == 0
        profile = business_profile_get()
        BusinessProfile.objects.filter(pk=profile.pk).update(conversation_retention_days=30)
        assert customer_data.conversations_retention_apply() == 1
        assert not Conversation.objects.filter(pk=old.pk).exists()
        assert not Contact.objects.filter(pk=old.contact_id).exists()
        assert Conversation.objects.filter(pk=recent.pk).exists()


def test_the_customers_command_exports_and_erases_with_confirmation(business: Business) -> None:
    conversation = customer_with_talk(business, text="command words")
    slug = business.tenant.schema_name
    out = io.StringIO()
    call_command("customers", "export", "--tenant", slug, "--contact", str(conversation.contact_id), stdout=out)
    assert "command words" in out.getvalue()

    with pytest.raises(CommandError, match="Not confirmed"):
        call_command("customers", "erase", "--tenant", slug, "--contact", str(conversation.contact_id),
                     "--confirm", str(conversation.contact_id + 1), stdout=io.StringIO())
    out = io.StringIO()
    call_command("customers", "erase", "--tenant", slug, "--contact", str(conversation.contact_id),
                 "--confirm", str(conversation.contact_id), stdout=out)
    assert "1 conversations, 2 messages" in out.getvalue()
    with pytest.raises(CommandError, match="no customer"):
        call_command("customers", "export", "--tenant", slug, "--contact", str(conversation.contact_id),
                     stdout=io.StringIO())


def test_the_owner_sets_how_long_conversations_are_kept_on_the_profile_page(business: Business) -> None:
    owner = business.client(business.owner)
    assert b"Keeping conversations" in owner.get("/app/settings/profile/").content
    refused = owner.post("/app/settings/retention/", {"days": "0"})
    assert refused.status_code == 400 and b"greater than or equal to 1" in refused.content
    saved = owner.post("/app/settings/retention/", {"days": "90"})
    assert saved.status_code == 302 and saved["Location"].endswith("?saved=retention#retention")
    with schema_context(business.tenant.schema_name):
        assert business_profile_get().conversation_retention_days == 90
    owner.post("/app/settings/retention/", {"days": ""})
    with schema_context(business.tenant.schema_name):
        assert business_profile_get().conversation_retention_days is None
    assert business.client(business.agent).post("/app/settings/retention/", {"days": "1"}).status_code == 403


def audit_entries(business: Business, action: AuditAction) -> list[AuditEntry]:
    with schema_context(business.tenant.schema_name):
        return list(AuditEntry.objects.filter(action=action))


def test_a_copy_handed_out_leaves_one_audit_entry_naming_who_and_which_customer(business: Business) -> None:
    conversation = customer_with_talk(business, text="hello")
    assert business.client(business.owner).get(f"/app/customers/{conversation.contact_id}/data").status_code == 200
    (entry,) = audit_entries(business, AuditAction.EXPORT)
    assert (entry.actor, entry.target) == (business.owner.username, f"customer {conversation.contact_id}")
    assert entry.details["conversations"] == 1
    # A refused copy is no copy: nothing more in the log.
    business.client(business.agent).get(f"/app/customers/{conversation.contact_id}/data")
    assert len(audit_entries(business, AuditAction.EXPORT)) == 1


def test_an_erasure_leaves_one_audit_entry_that_keeps_nothing_it_erased(business: Business) -> None:
    conversation = customer_with_talk(business, text="Forget my address, 3 Elm Street", name="Ada Lovelace")
    with schema_context(business.tenant.schema_name):
        email = Contact.objects.get(pk=conversation.contact_id).email
    business.client(business.owner).post(f"/app/customers/{conversation.contact_id}/erase", {"confirm": "erase"})
    (entry,) = audit_entries(business, AuditAction.DELETION)
    assert (entry.actor, entry.target) == (business.owner.username, f"customer {conversation.contact_id}")
    assert entry.details == {"op": "customer_erased", "conversations": 1, "messages": 2}
    kept = json.dumps([entry.target, entry.details])
    assert "Ada" not in kept and email not in kept and "Elm Street" not in kept


def test_the_command_leaves_its_audit_entries_as_the_system(business: Business) -> None:
    conversation = customer_with_talk(business, text="command words")
    slug, contact = business.tenant.schema_name, str(conversation.contact_id)
    call_command("customers", "export", "--tenant", slug, "--contact", contact, stdout=io.StringIO())
    call_command("customers", "erase", "--tenant", slug, "--contact", contact, "--confirm", contact,
                 stdout=io.StringIO())
    (exported,) = audit_entries(business, AuditAction.EXPORT)
    (erased,) = audit_entries(business, AuditAction.DELETION)
    assert exported.actor == erased.actor == "system"


def test_a_retention_change_leaves_one_audit_entry_and_a_refused_one_none(business: Business) -> None:
    owner = business.client(business.owner)
    owner.post("/app/settings/retention/", {"days": "0"})
    assert audit_entries(business, AuditAction.SETTINGS_CHANGE) == []
    owner.post("/app/settings/retention/", {"days": "90"})
    (entry,) = audit_entries(business, AuditAction.SETTINGS_CHANGE)
    assert (entry.actor, entry.target) == (business.owner.username, "conversation retention")
    assert entry.details == {"days": 90, "before": None}
