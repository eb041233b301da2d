"""Settings → API keys (owners only): create a key (shown once, on the page that answers the form),
see each key's scopes and when it was last used, revoke one."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from chat.api.selectors import api_key_list
from chat.api.services import CreatedApiKey, api_key_create, api_key_revoke
from chat.dashboard.forms import ApiKeyForm
from chat.dashboard.permissions import owner_required
from config.errors import errors_as_messages, form_submit


@owner_required
def api_keys_page(request: HttpRequest) -> HttpResponse:
    form = ApiKeyForm(request.POST or None)
    status, created = 200, None
    if request.method == "POST":
        submitted = form_submit(form, lambda data: api_key_create(name=data["name"], scopes=data["scopes"],
                                                                  created_by_id=request.user.pk))
        status = submitted.status
        if submitted.accepted:
            created = submitted.result
            form = ApiKeyForm()
    response = render(request, "dashboard/settings/api_keys.html",
                      {"form": form, "created": created, "api_keys": api_key_list()}, status=status)
    if isinstance(created, CreatedApiKey):
        # The page holds a secret: not for the browser's cache or back button.
        response["Cache-Control"] = "no-store"
    return response


@require_POST
@owner_required
def api_key_revoke_view(request: HttpRequest, key_id: str) -> HttpResponse:
    with errors_as_messages(request):
        key = api_key_revoke(key_id=key_id)
        messages.success(request, f"Revoked “{key.name}”: it no longer works.")
    return redirect("dashboard:api-keys")
