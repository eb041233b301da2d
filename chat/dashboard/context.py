"""What every dashboard page's layout needs: the navigation for this user."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from chat.dashboard.nav import SETTINGS, nav_links_for
from chat.dashboard.permissions import user_is_owner


def layout_context(request: HttpRequest) -> dict[str, Any]:
    if not request.path.startswith("/app/") or not request.user.is_authenticated:
        return {}
    is_owner = user_is_owner(request.user)
    links = nav_links_for(is_owner=is_owner, current_path=request.path)
    return {
        "dashboard_is_owner": is_owner,
        "dashboard_nav_main": [link for link in links if link.section != SETTINGS],
        "dashboard_nav_settings": [link for link in links if link.section == SETTINGS],
    }
