"""Who may open which dashboard page: any user of this tenant (agent) or its owners only.

Users live in each tenant's own schema, so "logged in" already means "a user of this tenant": a
session cookie from another business's domain names no user here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from tenants.services import ROLE_OWNER

View = TypeVar("View", bound=Callable[..., HttpResponse])


def user_is_owner(user: Any) -> bool:
    if not user.is_authenticated:
        return False
    # Cached on the user object: the layout and the decorator both ask on every page.
    if not hasattr(user, "_deskpilot_is_owner"):
        user._deskpilot_is_owner = user.groups.filter(name=ROLE_OWNER).exists()
    return bool(user._deskpilot_is_owner)


def agent_required(view: View) -> View:
    """Any logged-in user of this tenant; anyone else is sent to the login page."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated or not request.user.is_active:
            return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
        return view(request, *args, **kwargs)

    return cast(View, wrapper)


def owner_required(view: View) -> View:
    """Owners only; a logged-in agent gets a 403 page that says why."""

    @functools.wraps(view)
    @agent_required
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not user_is_owner(request.user):
            return render(request, "dashboard/forbidden.html", status=403)
        return view(request, *args, **kwargs)

    return cast(View, wrapper)
