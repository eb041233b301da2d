"""Owner settings: profile and own LLM key, opening hours and time zone, widget; who may open them."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest
from django_tenants.utils import schema_context

from chat.conversations.models import BusinessProfile
from orders.selectors import opening_hours_on
from tenants.models import Tenant
from tests.dashboard.conftest import Business

WIDGET_FORM = {
    "display_name": "Sunny help", "greeting": "Hello from the shop!", "primary_color": "#aa3300",
    "text_color": "#ffffff", "avatar_url": "", "position": "left", "language": "nl", "prechat_enabled": "on",
    "prechat_require_email": "on", "allowed_origins": "https://shop.example\nhttps://www.shop.example/",
    "messages_per_minute_per_ip": "50", "messages_per_minute_per_visitor": "10",
}


@pytest.mark.parametrize("path", ["/app/settings/profile/", "/app/settings/widget/",
                                  "/app/usage/", "/app/analytics/", "/app/webhooks/"])
def test_agents_get_403_on_owner_pages(business: Business, path: str) -> None:
    assert business.client(business.agent).get(path).status_code == 403
    assert business.client(business.owner).get(path).status_code == 200


def test_widget_settings_saved_and_served_by_the_widget_config(business: Business) -> None:
    owner = business.client(business.owner)
    page = owner.get("/app/settings/widget/")
    widget = page.context["widget"]
    assert f"data-key=&quot;{widget.public_key}&quot;" in page.content.decode()  # escaped inside the textarea
    assert f"http://{business.domain}/widget.js" in page.context["snippet"]

    saved = owner.post("/app/settings/widget/", WIDGET_FORM)
    assert saved.status_code == 302

    config = business.client().get(f"/widget/config?key={widget.public_key}", HTTP_ORIGIN="https://www.shop.example")
    assert config.status_code == 200
    body = config.json()
    assert body["name"] == "Sunny help"
    assert body["greeting"] == "Hello from the shop!"
    assert body["colors"]["primary"] == "#aa3300"
    assert body["position"] == "left" and body["language"] == "nl"
    assert body["prechat"] == {"enabled": True, "require_email": True}
    refused = business.client().get(f"/widget/config?key={widget.public_key}", HTTP_ORIGIN="https://other.example")
    assert refused.status_code == 403


def test_widget_settings_refuse_bad_values(business: Business) -> None:
    owner = business.client(business.owner)
    bad_origin = owner.post("/app/settings/widget/", {**WIDGET_FORM, "allowed_origins": "shop.example/path"})
    assert bad_origin.status_code == 400
    assert "origins like https://shop.example" in bad_origin.content.decode()
    bad_colour = owner.post("/app/settings/widget/", {**WIDGET_FORM, "primary_color": "red"})
    assert bad_colour.status_code == 400


def test_hours_edited_and_read_by_the_assistant(business: Business) -> None:
    owner = business.client(business.owner)
    saved = owner.post("/app/settings/hours/", {
        "timezone": "Europe/Amsterdam", "mon": "09:00-12:00, 13:00-17:30", "tue": "9:00-17:00", "wed": "",
        "thu": "", "fri": "22:00-02:00", "sat": "", "sun": "",
        "special_days": "2030-12-25 closed Christmas\n2030-12-24 09:00-13:00 Christmas Eve",
    })
    assert saved.status_code == 302
    assert Tenant.objects.get(pk=business.tenant.pk).timezone == "Europe/Amsterdam"
    with schema_context(business.tenant.schema_name):
        monday = opening_hours_on(day=date(2030, 12, 2))
        assert [(r.opens, r.closes) for r in monday.ranges] == [("09:00", "12:00"), ("13:00", "17:30")]
        assert monday.timezone == "Europe/Amsterdam"
        assert opening_hours_on(day=date(2030, 12, 4)).closed
        assert opening_hours_on(day=date(2030, 12, 25)).closed
        eve = opening_hours_on(day=date(2030, 12, 24))
        assert eve.special and eve.note == "Christmas Eve" and eve.ranges[0].closes == "13:00"
    shown = owner.get("/app/settings/profile/").context["hours_form"].initial
    assert shown["mon"] == "09:00-12:00, 13:00-17:30" and shown["fri"] == "22:00-02:00"


def test_hours_have_one_place_the_profile_page_and_the_old_address_leads_there(business: Business) -> None:
    owner = business.client(business.owner)
    page = owner.get("/app/settings/profile/")
    links = [link.label for link in page.context["dashboard_nav_settings"]]
    assert "Profile & hours" in links and not [label for label in links if label == "Opening hours"]
    assert 'id="hours-heading"' in page.content.decode() and 'name="mon"' in page.content.decode()
    old = owner.get("/app/settings/hours/")
    assert old.status_code == 301 and old["Location"] == "/app/settings/profile/#hours"
    assert business.client(business.agent).get("/app/settings/hours/").status_code == 403
    refused = owner.post("/app/settings/hours/", {"timezone": "Mars/Olympus", "mon": "", "tue": "", "wed": "",
                                                 "thu": "", "fri": "", "sat": "", "sun": "", "special_days": ""})
    assert refused.status_code == 400 and "not a known time zone" in refused.content.decode()
    assert 'id="profile-heading"' in refused.content.decode()  # the owner stays on the one page


@pytest.mark.parametrize("change", [{"timezone": "Mars/Olympus"}, {"mon": "9 to 5"}, {"special_days": "soon closed"}])
def test_bad_hours_change_nothing(business: Business, change: dict[str, str]) -> None:
    form = {"timezone": "UTC", "mon": "09:00-17:00", "tue": "", "wed": "", "thu": "", "fri": "", "sat": "", "sun": "",
            "special_days": ""}
    owner = business.client(business.owner)
    assert owner.post("/app/settings/hours/", form).status_code == 302
    refused = owner.post("/app/settings/hours/", {**form, "tue": "10:00-11:00", **change})
    assert refused.status_code == 400
    with schema_context(business.tenant.schema_name):
        assert opening_hours_on(day=date(2030, 12, 3)).closed  # Tuesday was not saved


def test_profile_and_own_llm_key_never_shown_in_full(business: Business) -> None:
    owner = business.client(business.owner)
    saved = owner.post("/app/settings/profile/", {
        "name": "Sunrise Café", "tagline": "", "tone": "warm", "languages": "en, NL", "human_only_topics": "refunds",
        "contact_email": "hi@sunrise.example", "phone": "", "address": ""})
    assert saved.status_code == 302
    key = "sk-test-secret-key-0123456789abcd"
    owner.post("/app/settings/profile/llm/", {"api_key": key, "base_url": "", "chat_model": "gpt-4o-mini"})
    with schema_context(business.tenant.schema_name):
        profile = BusinessProfile.objects.get()
        assert profile.languages == ["en", "nl"] and profile.human_only_topics == ["refunds"]
        assert profile.llm_api_key == key and profile.llm_chat_model == "gpt-4o-mini"
    page = owner.get("/app/settings/profile/").content.decode()
    assert key not in page and "abcd" in page
    # Saving again without a key keeps the stored one; "remove" clears it.
    owner.post("/app/settings/profile/llm/", {"api_key": "", "base_url": "", "chat_model": "gpt-4o"})
    with schema_context(business.tenant.schema_name):
        assert BusinessProfile.objects.get().llm_api_key == key
    owner.post("/app/settings/profile/llm/", {"remove_key": "on", "api_key": "", "base_url": "", "chat_model": ""})
    with schema_context(business.tenant.schema_name):
        assert BusinessProfile.objects.get().llm_api_key == ""


def test_usage_page_warns_at_80_percent(make_business: Any) -> None:
    from tenants.models import Plan, UsageEntry

    plan = Plan.objects.create(code=f"tiny-{uuid.uuid4().hex[:10]}", name="Tiny", monthly_messages=10,
                               monthly_tokens=1_000_000, knowledge_sources=10, agent_seats=3)
    business = make_business(plan_code=plan.code)
    UsageEntry.objects.bulk_create([UsageEntry(tenant=business.tenant, kind=UsageEntry.Kind.MESSAGE)
                                    for _ in range(8)])
    page = business.client(business.owner).get("/app/usage/")
    body = page.content.decode()
    assert page.status_code == 200
    assert "8 of 10" in body
    assert "You have used 80% of your plan" in body


def test_owner_chooses_whether_customers_see_stock_counts(business: Business) -> None:
    from orders.catalog_understanding import show_stock_counts

    owner = business.client(business.owner)
    page = owner.get("/app/settings/profile/")
    assert 'id="commerce-heading"' in page.content.decode() and 'name="show_stock_counts"' in page.content.decode()
    with schema_context(business.tenant.schema_name):
        assert show_stock_counts() is False  # off until the business turns it on
    saved = owner.post("/app/settings/commerce/", {"show_stock_counts": "on"})
    assert saved.status_code == 302 and saved["Location"].endswith("saved=commerce#commerce")
    with schema_context(business.tenant.schema_name):
        assert show_stock_counts() is True
    assert owner.post("/app/settings/commerce/", {}).status_code == 302
    with schema_context(business.tenant.schema_name):
        assert show_stock_counts() is False
    assert business.client(business.agent).post("/app/settings/commerce/", {"show_stock_counts": "on"}).status_code \
        == 403
    with schema_context(business.tenant.schema_name):
        assert show_stock_counts() is False
