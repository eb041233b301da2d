"""Loads the demo tenants' business profile (name, tone, languages, human-only topics)."""

from __future__ import annotations

import json
from pathlib import Path

from chat.conversations.models import BusinessProfile
from tenants.models import Tenant


def load_demo(*, tenant: Tenant, fixtures: Path) -> None:
    path = fixtures / "profile.json"
    profile = json.loads(path.read_text()) if path.exists() else {}
    BusinessProfile.objects.update_or_create(pk=1, defaults={
        "name": profile.get("name", tenant.name),
        "tagline": profile.get("tagline", ""),
        "tone": profile.get("tone", "friendly, short and clear"),
        "languages": profile.get("languages", ["en"]),
        "human_only_topics": profile.get("human_only_topics", []),
        "contact_email": profile.get("email", ""),
        "phone": profile.get("phone", ""),
        "address": profile.get("address", ""),
    })
