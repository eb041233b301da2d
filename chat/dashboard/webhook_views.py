"""Owner pages for outgoing webhooks: endpoints (the secret shown once), each endpoint's deliveries and
attempts, "send again", "replay since", "send a test event", enable or disable, rotate the secret.

Every write is a service of chat.webhooks; a refusal (an address the egress guard refuses) is shown on
the form it came from.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from chat.dashboard.permissions import owner_required
from chat.webhooks import selectors, services
from chat.webhooks.models import EVENT_LABELS, SUBSCRIBABLE, EventType, WebhookEndpoint
from config.errors import ApplicationError, form_submit
from config.secrets_at_rest import secret_masked

DELIVERIES_SHOWN = 50


class EndpointForm(forms.Form):
    url = forms.URLField(max_length=2000, label="Endpoint URL", assume_scheme="https",
                         help_text="Your server's address; it must be reachable from the internet.")
    description = forms.CharField(max_length=200, required=False)
    events = forms.MultipleChoiceField(choices=[(value, f"{value}: {EVENT_LABELS[EventType(value)]}") for value in SUBSCRIBABLE],
                                       widget=forms.CheckboxSelectMultiple, initial=SUBSCRIBABLE)


class ReplayForm(forms.Form):
    since = forms.DateTimeField(label="Replay since", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                                input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"])


def _endpoint_or_404(endpoint_id: int) -> WebhookEndpoint:
    try:
        return services.webhook_endpoint_get(endpoint_id=endpoint_id)
    except ApplicationError as error:
        raise Http404(error.message) from error


def _list_context(**extra: Any) -> dict[str, Any]:
    endpoints = [{"endpoint": e, "secret": secret_masked(e.secret)} for e in selectors.webhook_endpoint_list()]
    return {"endpoints": endpoints, "form": EndpointForm(), **extra}


@owner_required
def endpoint_list(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return render(request, "dashboard/webhooks/list.html", _list_context())
    form = EndpointForm(request.POST)
    submitted = form_submit(form, lambda data: services.webhook_endpoint_create(
        url=data["url"], events=data["events"], description=data["description"]))
    if submitted.result is None:
        return render(request, "dashboard/webhooks/list.html", _list_context(form=form), status=submitted.status)
    # The secret is shown on this answer only: it is never shown again (the list masks it).
    return render(request, "dashboard/webhooks/secret.html", {"endpoint": submitted.result.endpoint,
                                                              "secret": submitted.result.secret, "new": True},
                  status=201)


def _detail(request: HttpRequest, endpoint: WebhookEndpoint, *, status: int = 200, **extra: Any) -> HttpResponse:
    return render(request, "dashboard/webhooks/detail.html", {
        "endpoint": endpoint, "secret": secret_masked(endpoint.secret),
        "deliveries": selectors.webhook_delivery_list(endpoint=endpoint)[:DELIVERIES_SHOWN], "replay_form": ReplayForm(),
        "done": request.GET.get("done", ""), **extra}, status=status)


@owner_required
def endpoint_detail(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    return _detail(request, _endpoint_or_404(endpoint_id))


def _back(endpoint: WebhookEndpoint, done: str) -> HttpResponse:
    return redirect(reverse("dashboard:outgoing-webhook", args=[endpoint.pk]) + f"?done={done}")


@owner_required
@require_POST
def endpoint_action(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = _endpoint_or_404(endpoint_id)
    action = request.POST.get("action", "")
    if action in ("enable", "disable"):
        services.webhook_endpoint_enabled_set(endpoint=endpoint, enabled=action == "enable",
                                              reason="Disabled by an owner.")
        return _back(endpoint, f"{action}d")
    if action == "test":
        services.webhook_test_send(endpoint=endpoint)
        return _back(endpoint, "test")
    if action == "rotate":
        rotated = services.webhook_endpoint_secret_rotate(endpoint=endpoint)
        return render(request, "dashboard/webhooks/secret.html", {"endpoint": rotated.endpoint,
                                                                  "secret": rotated.secret, "new": False})
    if action == "delete":
        services.webhook_endpoint_delete(endpoint=endpoint)
        return redirect(reverse("dashboard:outgoing-webhooks"))
    if action == "replay":
        form = ReplayForm(request.POST)
        submitted = form_submit(form, lambda data: services.webhook_replay_since(
            endpoint=endpoint, since=_aware(data["since"])))
        if submitted.result is None:
            return _detail(request, endpoint, status=submitted.status, replay_form=form)
        return _back(endpoint, f"replayed-{submitted.result}")
    return _detail(request, endpoint, status=400, error="Unknown action.")


def _aware(moment: datetime) -> datetime:
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)


@owner_required
@require_POST
def delivery_resend(request: HttpRequest, delivery_id: int) -> HttpResponse:
    delivery = selectors.webhook_delivery_get(delivery_id=delivery_id)
    if delivery is None:
        raise Http404("No such delivery.")
    services.webhook_delivery_resend(delivery=delivery)
    return _back(delivery.endpoint, "resent")
