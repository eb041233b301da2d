"""Owner settings: the business profile (with its own LLM key), opening hours and time zone, the widget.

The writes are services (chat.dashboard.services, orders.services.hours); a refusal is shown on the
form it came from (config.errors.form_submit).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from chat.assistant.probe import business_endpoint_probe
from chat.audit.selectors import audit_entry_page
from chat.conversations.customer_data import conversation_retention_set
from chat.conversations.models import BusinessProfile
from chat.conversations.services import business_profile_get
from chat.dashboard.permissions import owner_required
from chat.dashboard.services import (
    MAX_RATE_PER_MINUTE,
    business_llm_set,
    business_profile_update,
    widget_settings_update,
)
from chat.widget.models import WidgetSettings
from chat.widget.services import widget_settings_get
from config.errors import form_submit
from config.outside_urls import validate_outside_url
from config.secrets_at_rest import secret_masked
from orders.catalog_understanding import show_stock_counts
from orders.selectors import opening_hours_as_text, tenant_zone
from orders.services.catalog import commerce_stock_counts_set
from orders.services.hours import WEEKDAY_KEYS, opening_hours_set_from_text
from tenants.models import Tenant


def _words(text: str) -> list[str]:
    """One entry per line or comma, blanks dropped."""
    return [part.strip() for part in re.split(r"[\n,]", text) if part.strip()]


# --------------------------------------------------------------------------------------- forms


class ProfileForm(forms.Form):
    name = forms.CharField(max_length=200)
    tagline = forms.CharField(max_length=300, required=False)
    tone = forms.CharField(max_length=200, required=False, help_text="How the assistant should sound.")
    languages = forms.CharField(max_length=200, help_text="Language codes, comma separated: en, nl")
    human_only_topics = forms.CharField(required=False, label="Topics only a person handles (one per line)",
                                        widget=forms.Textarea(attrs={"rows": 3}))
    contact_email = forms.EmailField(required=False)
    phone = forms.CharField(max_length=40, required=False)
    address = forms.CharField(max_length=300, required=False)


class LlmForm(forms.Form):
    api_key = forms.CharField(max_length=300, required=False, label="API key",
                              help_text="Leave empty to keep the stored key.",
                              widget=forms.PasswordInput(attrs={"autocomplete": "off"}))
    remove_key = forms.BooleanField(required=False, label="Remove the key (use the platform's assistant)")
    base_url = forms.URLField(required=False, label="Base URL (empty: OpenAI)", assume_scheme="https")
    chat_model = forms.CharField(max_length=100, required=False, label="Chat model")
    embedding_model = forms.CharField(
        max_length=100, required=False, label="Embedding model (optional)",
        help_text="Empty: the platform embeds your knowledge base, so an endpoint without embeddings works.")


class HoursForm(forms.Form):
    timezone = forms.CharField(max_length=64, label="Time zone")
    mon = forms.CharField(required=False, label="Monday")
    tue = forms.CharField(required=False, label="Tuesday")
    wed = forms.CharField(required=False, label="Wednesday")
    thu = forms.CharField(required=False, label="Thursday")
    fri = forms.CharField(required=False, label="Friday")
    sat = forms.CharField(required=False, label="Saturday")
    sun = forms.CharField(required=False, label="Sunday")
    special_days = forms.CharField(required=False, label="Special days (one per line)",
                                   widget=forms.Textarea(attrs={"rows": 5, "cols": 60}))


class CommerceForm(forms.Form):
    show_stock_counts = forms.BooleanField(
        required=False, label="Tell customers how many are left",
        help_text="Off: the assistant says only 'in stock' or 'sold out' (a café never shows counts).")


class RetentionForm(forms.Form):
    days = forms.IntegerField(required=False, min_value=1, max_value=36500,
                              label="Delete conversations older than (days)",
                              help_text="Empty: keep them until you delete them.")


class WidgetForm(forms.Form):
    display_name = forms.CharField(max_length=100, required=False, help_text="Empty: the business name.")
    greeting = forms.CharField(max_length=300)
    primary_color = forms.CharField(max_length=7, label="Main colour", widget=forms.TextInput(attrs={"type": "color"}))
    text_color = forms.CharField(max_length=7, label="Text colour", widget=forms.TextInput(attrs={"type": "color"}))
    avatar_url = forms.URLField(required=False, assume_scheme="https", validators=[validate_outside_url])
    position = forms.ChoiceField(choices=[("right", "Right"), ("left", "Left")])
    language = forms.CharField(max_length=8)
    prechat_enabled = forms.BooleanField(required=False, label="Ask for name and e-mail before the chat")
    prechat_require_email = forms.BooleanField(required=False, label="E-mail required")
    allowed_origins = forms.CharField(required=False, label="Websites that may embed the widget (one per line)",
                                      widget=forms.Textarea(attrs={"rows": 3}))
    messages_per_minute_per_ip = forms.IntegerField(min_value=1, max_value=MAX_RATE_PER_MINUTE)
    messages_per_minute_per_visitor = forms.IntegerField(min_value=1, max_value=MAX_RATE_PER_MINUTE)


# ---------------------------------------------------------------------------------------- pages


def _profile_initial(profile: BusinessProfile) -> dict[str, Any]:
    return {"name": profile.name, "tagline": profile.tagline, "tone": profile.tone,
            "languages": ", ".join(profile.languages or []),
            "human_only_topics": "\n".join(profile.human_only_topics or []), "contact_email": profile.contact_email,
            "phone": profile.phone, "address": profile.address}


def _profile_page(request: HttpRequest, *, form: ProfileForm | None = None, llm_form: LlmForm | None = None,
                  hours_form: HoursForm | None = None, commerce_form: CommerceForm | None = None,
                  retention_form: RetentionForm | None = None, status: int = 200) -> HttpResponse:
    """The one page for the business: its profile, its opening hours and time zone, its own AI provider."""
    profile = business_profile_get()
    return render(request, "dashboard/settings/profile.html", {
        "form": form or ProfileForm(initial=_profile_initial(profile)),
        "hours_form": hours_form or HoursForm(initial=_hours_initial(request.tenant)),
        "commerce_form": commerce_form or CommerceForm(initial={"show_stock_counts": show_stock_counts()}),
        "retention_form": retention_form or RetentionForm(initial={"days": profile.conversation_retention_days}),
        "llm_form": llm_form or LlmForm(initial={"base_url": profile.llm_base_url,
                                                 "chat_model": profile.llm_chat_model,
                                                 "embedding_model": profile.llm_embedding_model}),
        "probe": probe_rows(profile.llm_probe) if profile.llm_api_key else [],
        "probe_tried_at": _probe_time(profile.llm_probe) if profile.llm_api_key else None,
        "key_masked": secret_masked(profile.llm_api_key), "saved": request.GET.get("saved"),
    }, status=status)


@owner_required
def profile_page(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _profile_page(request)
    form = ProfileForm(request.POST)
    submitted = form_submit(form, lambda data: business_profile_update(
        name=data["name"], tagline=data["tagline"], tone=data["tone"], languages=_words(data["languages"]),
        human_only_topics=_words(data["human_only_topics"]), contact_email=data["contact_email"],
        phone=data["phone"], address=data["address"]))
    if not submitted.accepted:
        return _profile_page(request, form=form, status=submitted.status)
    return redirect(reverse("dashboard:profile") + "?saved=profile")


@owner_required
def profile_llm(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return redirect("dashboard:profile")
    form = LlmForm(request.POST)
    submitted = form_submit(form, lambda data: business_llm_set(
        api_key="" if data["remove_key"] else (data["api_key"] or None), base_url=data["base_url"],
        chat_model=data["chat_model"], embedding_model=data["embedding_model"]))
    if not submitted.accepted:
        return _profile_page(request, llm_form=form, status=submitted.status)
    # Tried once now, after the settings are stored, so the page shows what works before customers meet it.
    business_endpoint_probe(tenant_schema=request.tenant.schema_name)
    return redirect(reverse("dashboard:profile") + "?saved=llm#llm-heading")


PROBE_LABELS = (("chat", "Chat"), ("tools", "Tool calling"), ("embeddings", "Embeddings"))
PROBE_STATUS = {"ok": "works", "partial": "works, with a caveat", "failed": "does not work", "skipped": "not tried"}


def _probe_time(probe: dict[str, Any]) -> datetime | None:
    try:
        return datetime.fromisoformat(str((probe or {}).get("tried_at")))
    except ValueError:
        return None


def probe_rows(probe: dict[str, Any]) -> list[dict[str, str]]:
    """The stored probe result as the page's rows: what was tried, whether it works, and why."""
    rows = []
    for key, label in PROBE_LABELS:
        check = probe.get(key) if isinstance(probe, dict) else None
        if isinstance(check, dict):
            status = str(check.get("status", ""))
            rows.append({"label": label, "status": status, "verdict": PROBE_STATUS.get(status, status),
                         "detail": str(check.get("detail", ""))})
    return rows


def _hours_initial(tenant: Tenant) -> dict[str, Any]:
    weekly, special_days = opening_hours_as_text(today=timezone.now().astimezone(tenant_zone()).date())
    return {"timezone": tenant.timezone, **dict(zip(WEEKDAY_KEYS, weekly, strict=True)), "special_days": special_days}


@owner_required
def hours_page(request: HttpRequest) -> HttpResponse:
    """Saves the hours form of the profile page; its old address (a page of its own) leads there."""
    if request.method != "POST":
        return redirect(reverse("dashboard:profile") + "#hours", permanent=True)
    form = HoursForm(request.POST)
    submitted = form_submit(form, lambda data: opening_hours_set_from_text(
        tenant=request.tenant, timezone_name=data["timezone"], weekly={key: data[key] for key in WEEKDAY_KEYS},
        special_days=data["special_days"]))
    if not submitted.accepted:
        return _profile_page(request, hours_form=form, status=submitted.status)
    return redirect(reverse("dashboard:profile") + "?saved=hours#hours")


@owner_required
def commerce_page(request: HttpRequest) -> HttpResponse:
    """Saves the commerce form of the profile page: whether customers are told stock counts."""
    if request.method != "POST":
        return redirect(reverse("dashboard:profile") + "#commerce")
    form = CommerceForm(request.POST)
    submitted = form_submit(form, lambda data: commerce_stock_counts_set(shown=data["show_stock_counts"]))
    if not submitted.accepted:
        return _profile_page(request, commerce_form=form, status=submitted.status)
    return redirect(reverse("dashboard:profile") + "?saved=commerce#commerce")


@owner_required
def retention_page(request: HttpRequest) -> HttpResponse:
    """Saves the retention form of the profile page: how long conversations are kept."""
    if request.method != "POST":
        return redirect(reverse("dashboard:profile") + "#retention")
    form = RetentionForm(request.POST)
    submitted = form_submit(form, lambda data: conversation_retention_set(days=data["days"]))
    if not submitted.accepted:
        return _profile_page(request, retention_form=form, status=submitted.status)
    return redirect(reverse("dashboard:profile") + "?saved=retention#retention")


def _widget_initial(widget: WidgetSettings) -> dict[str, Any]:
    fields = ("display_name", "greeting", "primary_color", "text_color", "avatar_url", "position", "language",
              "prechat_enabled", "prechat_require_email", "messages_per_minute_per_ip",
              "messages_per_minute_per_visitor")
    return {**{name: getattr(widget, name) for name in fields}, "allowed_origins": "\n".join(widget.allowed_origins)}


def _widget_page(request: HttpRequest, form: WidgetForm | None = None, status: int = 200) -> HttpResponse:
    widget = widget_settings_get()
    scheme = "https" if request.is_secure() else "http"
    host = request.get_host()
    return render(request, "dashboard/settings/widget.html", {
        "form": form or WidgetForm(initial=_widget_initial(widget)), "widget": widget,
        "snippet": f'<script src="{scheme}://{host}/widget.js" data-key="{widget.public_key}" async></script>',
        "demo_url": reverse("chat:demo"), "saved": request.GET.get("saved"),
    }, status=status)


@owner_required
def widget_page(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _widget_page(request)
    form = WidgetForm(request.POST)
    submitted = form_submit(form, lambda data: widget_settings_update(
        display_name=data["display_name"], greeting=data["greeting"], primary_color=data["primary_color"],
        text_color=data["text_color"], avatar_url=data["avatar_url"], position=data["position"],
        language=data["language"], prechat_enabled=data["prechat_enabled"],
        prechat_require_email=data["prechat_require_email"], allowed_origins=_words(data["allowed_origins"]),
        messages_per_minute_per_ip=data["messages_per_minute_per_ip"],
        messages_per_minute_per_visitor=data["messages_per_minute_per_visitor"]))
    if not submitted.accepted:
        return _widget_page(request, form, status=submitted.status)
    return redirect(reverse("dashboard:widget") + "?saved=1")


@owner_required
def audit_page(request: HttpRequest) -> HttpResponse:
    """The business's audit log, for its owners: a page at a time, newest first."""
    return render(request, "dashboard/settings/audit.html", {"page": audit_entry_page(page=request.GET.get("page"))})
