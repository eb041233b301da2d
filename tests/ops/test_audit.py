"""The audit log: each staff action leaves one entry, owners alone read it, and no entry can be
changed or removed, through the model or straight through the database."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction
from django_tenants.utils import schema_context

from chat.audit.models import AuditAction, AuditEntry, AuditEntryRefused
from chat.audit.services import audit_record
from chat.conversations.services import contact_get_or_create, conversation_start
from chat.dashboard.models import CannedResponse
from chat.dashboard.services import business_llm_set, business_profile_update, widget_settings_update
from chat.widget.services import widget_settings_get
from config.logging import log_context
from orders.services.catalog import shop_secret_set
from tests.dashboard.conftest import OWNER_PASSWORD
from tests.ops.conftest import Business


def entries(business: Business) -> list[AuditEntry]:
    with schema_context(business.tenant.schema_name):
        return list(AuditEntry.objects.order_by("pk"))


def test_staff_actions_through_the_dashboard_leave_one_entry_each(business: Business) -> None:
    schema = business.tenant.schema_name
    anonymous = business.client()
    response = anonymous.post("/app/login/", {"username": business.owner.username.upper(),
                                              "password": OWNER_PASSWORD})
    assert response.status_code == 302
    owner = business.client(business.owner)
    agent = business.client(business.agent)
    with schema_context(schema):
        conversation = conversation_start(contact=contact_get_or_create(visitor_id="v-audit"))
        canned = CannedResponse.objects.create(title="Opening times", text="We open at nine.")
    assert agent.post(f"/app/inbox/{conversation.pk}/action", {"action": "take_over"}).status_code == 302
    assert owner.post("/app/team/", {"email": "new.teammate@example.test", "role": "agent"}).status_code == 302
    assert owner.post(f"/app/team/{business.agent.pk}/remove").status_code == 302
    assert owner.post(f"/app/canned-responses/{canned.pk}/delete").status_code == 302

    logged = [(entry.actor, entry.action, entry.target) for entry in entries(business)]
    assert logged == [
        (business.owner.username, "login", business.owner.username),
        (business.agent.username, "takeover", f"conversation {conversation.pk}"),
        (business.owner.username, "team_change", "new.teammate@example.test"),
        (business.owner.username, "team_change", business.agent.username),
        (business.owner.username, "deletion", "canned response 'Opening times'"),
    ]
    assert all(entry.request_id for entry in entries(business))  # each names the request it came from


def test_settings_and_key_changes_are_logged_without_the_secret(business: Business) -> None:
    with schema_context(business.tenant.schema_name), log_context(user=business.owner.username):
        business_profile_update(name="Renamed", tagline="", tone="", languages=["en"], human_only_topics=[],
                                contact_email="", phone="", address="")
        widget = widget_settings_get()
        widget_settings_update(display_name="Help", greeting="Hi", primary_color="#1f6feb", text_color="#ffffff",
                               avatar_url="", position=widget.position, language="en", prechat_enabled=False,
                               prechat_require_email=False, allowed_origins=[], messages_per_minute_per_ip=30,
                               messages_per_minute_per_visitor=10)
        business_llm_set(api_key="sk-the-real-secret-123456", base_url="", chat_model="gpt-4o-mini")
        shop_secret_set(platform="shopify", secret="shpss_a_long_enough_secret")
    logged = [(entry.actor, entry.action, entry.target) for entry in entries(business)]
    owner = business.owner.username
    assert logged == [(owner, "settings_change", "business profile"), (owner, "settings_change", "chat widget"),
                      (owner, "key_change", "LLM API key"), (owner, "settings_change", "LLM provider"),
                      (owner, "key_change", "shopify webhook secret")]
    stored = str([(entry.target, entry.details) for entry in entries(business)])
    assert "sk-the-real-secret" not in stored and "shpss_a_long" not in stored


def test_only_owners_read_the_log_a_page_at_a_time(business: Business, make_business) -> None:
    with schema_context(business.tenant.schema_name), log_context(user="someone@example.test"):
        for number in range(55):
            audit_record(action=AuditAction.SETTINGS_CHANGE, target=f"setting {number}")
    other = make_business(name="Other")
    with schema_context(other.tenant.schema_name):
        audit_record(action=AuditAction.DELETION, target="the other business's secret thing")

    owner = business.client(business.owner)
    first = owner.get("/app/settings/audit/")
    assert first.status_code == 200
    page = first.content.decode()
    # Newest first, fifty a page: 54 down to 5 here, 4 down to 0 on the next.
    assert "setting 54<" in page and "setting 5<" in page and "setting 4<" not in page and "Page 1 of 2" in page
    assert "the other business" not in page
    second = owner.get("/app/settings/audit/?page=2").content.decode()
    assert "setting 4<" in second and "setting 0<" in second and "setting 5<" not in second
    assert business.client(business.agent).get("/app/settings/audit/").status_code == 403
    assert business.client().get("/app/settings/audit/").status_code == 302  # to the login page


def test_an_entry_cannot_be_changed_or_deleted_even_with_sql(make_business) -> None:
    business = make_business(name="Append only")  # a tenant copied from the template: the trigger came along
    with schema_context(business.tenant.schema_name):
        entry = audit_record(action=AuditAction.LOGIN, target="owner")
        entry.target = "someone else"
        with pytest.raises(AuditEntryRefused):
            entry.save()
        with pytest.raises(AuditEntryRefused):
            entry.delete()
        for statement in ("UPDATE audit_auditentry SET actor = 'nobody'", "DELETE FROM audit_auditentry",
                          "TRUNCATE audit_auditentry"):
            with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(statement)
        with pytest.raises(DatabaseError), transaction.atomic():
            AuditEntry.objects.all().delete()
        with pytest.raises(DatabaseError), transaction.atomic():
            AuditEntry.objects.update(actor="nobody")
        assert list(AuditEntry.objects.values_list("actor", "target")) == [("system", "owner")]
