"""The demo tenants' widget: their name and greeting, on their own domain's demo page."""

from __future__ import annotations

from pathlib import Path

from chat.conversations.services import business_profile_get
from chat.widget.services import widget_settings_get
from tenants.models import Tenant


def load_demo(*, tenant: Tenant, fixtures: Path) -> None:
    widget = widget_settings_get()
    if not widget.display_name:
        profile = business_profile_get()
        widget.display_name = profile.name
        widget.greeting = f"Hi! I'm {profile.name}'s assistant. Ask me about orders, opening hours or anything else."
        widget.language = (profile.languages or ["en"])[0]
        widget.save()
