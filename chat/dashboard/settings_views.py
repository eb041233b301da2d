"""Owner settings: the business profile (with its own LLM key), opening hours and time zone, the widget.

The writes are small services here, next to the only pages that make them; they validate first and
raise ValidationFailed with a message the owner can act on, which the page shows beside the form.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import date, datetime
from typing import Any

from django import forms
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from chat.assistant.probe import business_endpoint_probe
from chat.conversations.models import BusinessProfile
from chat.conversations.services import business_profile_get
from chat.dashboard.permissions import owner_required
from chat.widget.models import WidgetSettings
from chat.widget.services import widget_settings_get
from config import egress
from config.errors import ApplicationError, ValidationFailed
from config.outside_urls import outside_url, validate_outside_url
from config.secrets_at_rest import secret_masked
from orders.catalog_understanding import show_stock_counts
from orders.models import SpecialDay, WeeklyOpening
from orders.selectors import tenant_zone
from orders.services.catalog import commerce_stock_counts_set
from orders.services.hours import WEEKDAY_KEYS, opening_hours_set_from_json
from tenants.models import Tenant

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}(-[a-z]{2})?$")
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
_ORIGIN = re.compile(r"^https?://[a-z0-9.-]+(:\d{1,5})?$")
_RANGE = re.compile(r"^(\d{1,2}:\d{2})\s*[-–]\s*(\d{1,2}:\d{2})$")
MAX_RATE_PER_MINUTE = 10_000


# ------------------------------------------------------------------------------------ services


def _words(text: str) -> list[str]:
    """One entry per line or comma, blanks dropped."""
    return [part.strip() for part in re.split(r"[\n,]", text) if part.strip()]


def business_profile_update(*, name: str, tagline: str, tone: str, languages: list[str], human_only_topics: list[str],
                            contact_email: str, phone: str, address: str) -> BusinessProfile:
    name = " ".join(name.split())
    if not name:
        raise ValidationFailed("The business needs a name.", code="invalid_profile", details={"field": "name"})
    codes = [code.lower() for code in languages]
    bad = [code for code in codes if not _LANGUAGE_CODE.match(code)]
    if bad or not codes:
        raise ValidationFailed("Languages are codes such as en, nl or pt-br, at least one.", code="invalid_profile",
                               details={"field": "languages", "invalid": bad})
    profile = business_profile_get()
    profile.name, profile.tagline, profile.tone = name, tagline.strip(), tone.strip() or profile.tone
    profile.languages = list(dict.fromkeys(codes))
    profile.human_only_topics = list(dict.fromkeys(human_only_topics))
    profile.contact_email, profile.phone, profile.address = contact_email.strip(), phone.strip(), address.strip()
    profile.save()
    return profile


def business_llm_set(*, api_key: str | None, base_url: str, chat_model: str,
                     embedding_model: str = "") -> BusinessProfile:
    """The business's own LLM provider. `api_key` None keeps the stored key; "" removes it (and the rest).

    An embedding model makes the endpoint embed the knowledge base too; changing which model embeds
    it embeds the chunks again in the background (search keeps using the old vectors meanwhile).
    """
    from chat.knowledge.embeddings import current_model_id

    profile = business_profile_get()
    embedded_with = current_model_id()
    if api_key is not None:
        profile.llm_api_key = api_key.strip()
    if not profile.llm_api_key:
        profile.llm_base_url, profile.llm_chat_model, profile.llm_embedding_model = "", "", ""
    else:
        base_url = base_url.strip()
        if base_url:
            try:
                # Refused here with a reason the owner can act on; the guard checks again at every
                # connection, since a name can point elsewhere tomorrow.
                egress.url_check(base_url)
            except egress.EgressRefused as error:
                raise ValidationFailed(f"This base URL cannot be used: {error.message}", code="invalid_llm_base_url",
                                       details={"field": "base_url"}) from error
        profile.llm_base_url, profile.llm_chat_model = base_url, chat_model.strip()
        profile.llm_embedding_model = embedding_model.strip()
    profile.save(update_fields=["llm_api_key", "llm_base_url", "llm_chat_model", "llm_embedding_model", "updated"])
    if current_model_id() != embedded_with:
        from chat.knowledge.tasks import kb_reembed_stale

        transaction.on_commit(kb_reembed_stale.delay)
    return profile


def tenant_timezone_set(*, tenant: Tenant, timezone_name: str) -> Tenant:
    """The zone opening hours are written in and analytics days are counted in."""
    name = timezone_name.strip()
    if name not in zoneinfo.available_timezones():
        raise ValidationFailed(f"'{name}' is not a known time zone (e.g. Europe/Amsterdam).", code="invalid_timezone")
    Tenant.objects.filter(pk=tenant.pk).update(timezone=name)
    tenant.timezone = name
    return tenant


def _ranges_read(text: str, *, where: str) -> list[list[str]]:
    ranges = []
    for part in _words(text):
        match = _RANGE.match(part)
        if not match:
            raise ValidationFailed(f"{where}: '{part}' is not a range like 09:00-17:30.", code="invalid_hours")
        ranges.append([match.group(1).zfill(5), match.group(2).zfill(5)])
    return ranges


def opening_hours_from_form(*, weekly: dict[str, str], special_days: str) -> dict[str, Any]:
    """The page's text fields as the hours JSON the orders app validates and stores.

    A weekday is "09:00-12:00, 13:00-17:00" or empty (closed). A special day is one line:
    "2026-12-25 closed" or "2026-12-24 09:00-13:00 Christmas Eve" (the words after the ranges are a note).
    """
    data: dict[str, Any] = {"weekly": {key: _ranges_read(weekly.get(key, ""), where=WEEKDAY_NAMES[index])
                                       for index, key in enumerate(WEEKDAY_KEYS)}, "exceptions": []}
    for line in special_days.splitlines():
        words = line.split()
        if not words:
            continue
        try:
            day = date.fromisoformat(words[0])
        except ValueError as exc:
            raise ValidationFailed(f"'{line.strip()}' should start with a date (YYYY-MM-DD).",
                                   code="invalid_hours") from exc
        rest = words[1:]
        if rest and rest[0].lower() == "closed":
            data["exceptions"].append({"date": day.isoformat(), "closed": True, "note": " ".join(rest[1:])})
            continue
        ranges = [word.strip(",") for word in rest if _RANGE.match(word.strip(","))]
        note = " ".join(word for word in rest if not _RANGE.match(word.strip(",")))
        data["exceptions"].append({"date": day.isoformat(), "closed": False, "note": note,
                                   "ranges": _ranges_read(", ".join(ranges), where=day.isoformat())})
    return data


def opening_hours_save(*, tenant: Tenant, timezone_name: str, weekly: dict[str, str], special_days: str) -> None:
    data = opening_hours_from_form(weekly=weekly, special_days=special_days)
    with transaction.atomic():
        tenant_timezone_set(tenant=tenant, timezone_name=timezone_name)
        opening_hours_set_from_json(data=data)


def widget_settings_update(*, display_name: str, greeting: str, primary_color: str, text_color: str, avatar_url: str,
                           position: str, language: str, prechat_enabled: bool, prechat_require_email: bool,
                           allowed_origins: list[str], messages_per_minute_per_ip: int,
                           messages_per_minute_per_visitor: int) -> WidgetSettings:
    for label, colour in (("main colour", primary_color), ("text colour", text_color)):
        if not _COLOUR.match(colour):
            raise ValidationFailed(f"The {label} must be a colour like #1f6feb.", code="invalid_widget")
    origins = [origin.rstrip("/").lower() for origin in allowed_origins]
    bad = [origin for origin in origins if not _ORIGIN.match(origin)]
    if bad:
        raise ValidationFailed(f"Allowed websites are origins like https://shop.example, not: {', '.join(bad)}.",
                               code="invalid_widget", details={"invalid": bad})
    if position not in ("left", "right"):
        raise ValidationFailed("The widget sits on the left or the right.", code="invalid_widget")
    if avatar_url.strip() and outside_url(avatar_url) is None:
        raise ValidationFailed("The avatar is a web address starting with https:// (or http://).",
                               code="invalid_widget")
    if not _LANGUAGE_CODE.match(language.lower()):
        raise ValidationFailed("The widget's language is a code such as en or nl.", code="invalid_widget")
    for rate in (messages_per_minute_per_ip, messages_per_minute_per_visitor):
        if not 1 <= rate <= MAX_RATE_PER_MINUTE:
            raise ValidationFailed(f"Rate limits are between 1 and {MAX_RATE_PER_MINUTE} messages a minute.",
                                   code="invalid_widget")
    widget = widget_settings_get()
    widget.display_name, widget.greeting = display_name.strip(), greeting.strip() or widget.greeting
    widget.primary_color, widget.text_color, widget.avatar_url = primary_color, text_color, avatar_url.strip()
    widget.position, widget.language = position, language.lower()
    widget.prechat_enabled = prechat_enabled
    widget.prechat_require_email = prechat_enabled and prechat_require_email
    widget.allowed_origins = list(dict.fromkeys(origins))
    widget.messages_per_minute_per_ip = messages_per_minute_per_ip
    widget.messages_per_minute_per_visitor = messages_per_minute_per_visitor
    widget.save()
    return widget


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
                  hours_form: HoursForm | None = None, error: str = "", hours_error: str = "",
                  commerce_form: CommerceForm | None = None, status: int = 200) -> HttpResponse:
    """The one page for the business: its profile, its opening hours and time zone, its own AI provider."""
    profile = business_profile_get()
    return render(request, "dashboard/settings/profile.html", {
        "form": form or ProfileForm(initial=_profile_initial(profile)),
        "hours_form": hours_form or HoursForm(initial=_hours_initial(request.tenant)),
        "commerce_form": commerce_form or CommerceForm(initial={"show_stock_counts": show_stock_counts()}),
        "llm_form": llm_form or LlmForm(initial={"base_url": profile.llm_base_url,
                                                 "chat_model": profile.llm_chat_model,
                                                 "embedding_model": profile.llm_embedding_model}),
        "probe": probe_rows(profile.llm_probe) if profile.llm_api_key else [],
        "probe_tried_at": _probe_time(profile.llm_probe) if profile.llm_api_key else None,
        "key_masked": secret_masked(profile.llm_api_key), "error": error, "hours_error": hours_error,
        "saved": request.GET.get("saved"),
    }, status=status)


@owner_required
def profile_page(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _profile_page(request)
    form = ProfileForm(request.POST)
    if not form.is_valid():
        return _profile_page(request, form=form, status=400)
    data = form.cleaned_data
    try:
        business_profile_update(name=data["name"], tagline=data["tagline"], tone=data["tone"],
                                languages=_words(data["languages"]), human_only_topics=_words(data["human_only_topics"]),
                                contact_email=data["contact_email"], phone=data["phone"], address=data["address"])
    except ApplicationError as error:
        return _profile_page(request, form=form, error=error.message, status=error.status)
    return redirect(reverse("dashboard:profile") + "?saved=profile")


@owner_required
def profile_llm(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return redirect("dashboard:profile")
    form = LlmForm(request.POST)
    if not form.is_valid():
        return _profile_page(request, llm_form=form, status=400)
    data = form.cleaned_data
    api_key = "" if data["remove_key"] else (data["api_key"] or None)
    try:
        with transaction.atomic():
            business_llm_set(api_key=api_key, base_url=data["base_url"], chat_model=data["chat_model"],
                             embedding_model=data["embedding_model"])
    except ApplicationError as error:
        return _profile_page(request, llm_form=form, error=error.message, status=error.status)
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
    initial: dict[str, Any] = {"timezone": tenant.timezone}
    weekly: dict[int, list[str]] = {}
    for row in WeeklyOpening.objects.order_by("weekday", "opens"):
        weekly.setdefault(row.weekday, []).append(f"{row.opens:%H:%M}-{row.closes:%H:%M}")
    for index, key in enumerate(WEEKDAY_KEYS):
        initial[key] = ", ".join(weekly.get(index, []))
    lines = []
    today = timezone.now().astimezone(tenant_zone()).date()
    for special in SpecialDay.objects.filter(date__gte=today).prefetch_related("ranges").order_by("date"):
        if special.closed:
            lines.append(f"{special.date.isoformat()} closed {special.note}".strip())
        else:
            ranges = ", ".join(f"{r.opens:%H:%M}-{r.closes:%H:%M}" for r in special.ranges.all())
            lines.append(f"{special.date.isoformat()} {ranges} {special.note}".strip())
    initial["special_days"] = "\n".join(lines)
    return initial


@owner_required
def hours_page(request: HttpRequest) -> HttpResponse:
    """Saves the hours form of the profile page; its old address (a page of its own) leads there."""
    if request.method != "POST":
        return redirect(reverse("dashboard:profile") + "#hours", permanent=True)
    form = HoursForm(request.POST)
    if not form.is_valid():
        return _profile_page(request, hours_form=form, status=400)
    data = form.cleaned_data
    try:
        opening_hours_save(tenant=request.tenant, timezone_name=data["timezone"],
                           weekly={key: data[key] for key in WEEKDAY_KEYS}, special_days=data["special_days"])
    except ApplicationError as error:
        return _profile_page(request, hours_form=form, hours_error=error.message, status=error.status)
    return redirect(reverse("dashboard:profile") + "?saved=hours#hours")


@owner_required
def commerce_page(request: HttpRequest) -> HttpResponse:
    """Saves the commerce form of the profile page: whether customers are told stock counts."""
    if request.method != "POST":
        return redirect(reverse("dashboard:profile") + "#commerce")
    form = CommerceForm(request.POST)
    if not form.is_valid():
        return _profile_page(request, commerce_form=form, status=400)
    commerce_stock_counts_set(shown=form.cleaned_data["show_stock_counts"])
    return redirect(reverse("dashboard:profile") + "?saved=commerce#commerce")


def _widget_initial(widget: WidgetSettings) -> dict[str, Any]:
    fields = ("display_name", "greeting", "primary_color", "text_color", "avatar_url", "position", "language",
              "prechat_enabled", "prechat_require_email", "messages_per_minute_per_ip",
              "messages_per_minute_per_visitor")
    return {**{name: getattr(widget, name) for name in fields}, "allowed_origins": "\n".join(widget.allowed_origins)}


def _widget_page(request: HttpRequest, form: WidgetForm | None = None, error: str = "",
                 status: int = 200) -> HttpResponse:
    widget = widget_settings_get()
    scheme = "https" if request.is_secure() else "http"
    host = request.get_host()
    return render(request, "dashboard/settings/widget.html", {
        "form": form or WidgetForm(initial=_widget_initial(widget)), "widget": widget, "error": error,
        "snippet": f'<script src="{scheme}://{host}/widget.js" data-key="{widget.public_key}" async></script>',
        "demo_url": reverse("chat:demo"), "saved": request.GET.get("saved"),
    }, status=status)


@owner_required
def widget_page(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _widget_page(request)
    form = WidgetForm(request.POST)
    if not form.is_valid():
        return _widget_page(request, form, status=400)
    data = form.cleaned_data
    try:
        widget_settings_update(
            display_name=data["display_name"], greeting=data["greeting"], primary_color=data["primary_color"],
            text_color=data["text_color"], avatar_url=data["avatar_url"], position=data["position"],
            language=data["language"], prechat_enabled=data["prechat_enabled"],
            prechat_require_email=data["prechat_require_email"], allowed_origins=_words(data["allowed_origins"]),
            messages_per_minute_per_ip=data["messages_per_minute_per_ip"],
            messages_per_minute_per_visitor=data["messages_per_minute_per_visitor"])
    except ApplicationError as error:
        return _widget_page(request, form, error=error.message, status=error.status)
    return redirect(reverse("dashboard:widget") + "?saved=1")
