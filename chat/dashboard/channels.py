"""Dashboard pages for messaging channels: connect a WhatsApp number or a Telegram bot (checked with
the platform before saving), each channel's health with a test message, disconnect. Owners only.
The pages call chat.messaging's services and selectors; that app knows nothing of these pages."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from chat.dashboard.permissions import owner_required
from chat.messaging import selectors, services
from chat.messaging.models import MessagingChannel, Platform
from config.errors import errors_as_messages, form_submit


class WhatsAppConnectForm(forms.Form):
    phone_number_id = forms.CharField(max_length=64, label="Phone number id")
    business_account_id = forms.CharField(max_length=64, label="WhatsApp business account id")
    access_token = forms.CharField(widget=forms.PasswordInput, label="Access token (a system user's, permanent)")
    app_secret = forms.CharField(widget=forms.PasswordInput, label="App secret (signs the webhooks)")
    template_name = forms.CharField(max_length=200, required=False,
                                    label="Template sent outside the 24-hour window (optional)")
    template_language = forms.CharField(max_length=20, initial="en_US", label="Template language")


class TelegramConnectForm(forms.Form):
    bot_token = forms.CharField(widget=forms.PasswordInput, label="Bot token (from @BotFather)")


class TestMessageForm(forms.Form):
    to = forms.CharField(max_length=40, label="Send to (phone number with country code, or Telegram chat id)")


def _webhook_base(request: HttpRequest) -> str:
    return settings.MESSAGING_WEBHOOK_BASE_URL or f"https://{request.get_host()}"


def _list_context(request: HttpRequest, **extra: object) -> dict[str, object]:
    base = _webhook_base(request)
    rows = [{"channel": channel, "url": services.webhook_url(base_url=base, platform=channel.platform,
                                                             channel_id=channel.pk)}
            for channel in selectors.channel_list()]
    return {"rows": rows, "whatsapp_form": WhatsAppConnectForm(prefix="wa"),
            "telegram_form": TelegramConnectForm(prefix="tg"), **extra}


@owner_required
def channels_page(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return render(request, "dashboard/channels/list.html", _list_context(request))
    if request.POST.get("platform") == Platform.WHATSAPP:
        form: forms.Form = WhatsAppConnectForm(request.POST, prefix="wa")
        submitted = form_submit(form, lambda data: services.channel_whatsapp_connect(**data))
        context = _list_context(request, whatsapp_form=form)
    else:
        form = TelegramConnectForm(request.POST, prefix="tg")
        submitted = form_submit(form, lambda data: services.channel_telegram_connect(
            bot_token=data["bot_token"], webhook_base_url=_webhook_base(request)))
        context = _list_context(request, telegram_form=form)
    if not submitted.accepted:
        return render(request, "dashboard/channels/list.html", context, status=submitted.status)
    channel: MessagingChannel = submitted.result  # type: ignore[assignment]
    return redirect("dashboard:channel", channel_id=channel.pk)


def _channel_or_404(channel_id: int) -> MessagingChannel:
    channel = selectors.channel_get(channel_id=channel_id)
    if channel is None:
        raise Http404("No such channel.")
    return channel


@owner_required
def channel_page(request: HttpRequest, channel_id: int) -> HttpResponse:
    channel = _channel_or_404(channel_id)
    form = TestMessageForm(request.POST or None)
    status, sent = 200, ""
    if request.method == "POST":
        submitted = form_submit(form, lambda data: services.channel_test_message_send(channel_id=channel.pk,
                                                                                      to=data["to"]))
        status = 200 if submitted.accepted else submitted.status
        sent = str(submitted.result) if submitted.accepted else ""
    return render(request, "dashboard/channels/detail.html", {
        "health": selectors.channel_health(channel=channel), "form": form, "sent": sent,
        "url": services.webhook_url(base_url=_webhook_base(request), platform=channel.platform,
                                    channel_id=channel.pk)}, status=status)


@require_POST
@owner_required
def channel_disconnect(request: HttpRequest, channel_id: int) -> HttpResponse:
    channel = _channel_or_404(channel_id)
    with errors_as_messages(request):
        services.channel_disconnect(channel_id=channel.pk)
    return redirect("dashboard:channel", channel_id=channel.pk)
