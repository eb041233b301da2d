"""The dashboard's navigation, built from one list so that each page registers itself.

Pages are added in other modules (part 2 appends its own items); the layout shows only items whose
URL name resolves, so a page that does not exist yet never becomes a broken link.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    owner_only: bool = False
    # Items under "Settings" are grouped in their own list in the layout.
    section: str = "main"


MAIN = "main"
SETTINGS = "settings"

NAV_ITEMS: list[NavItem] = [
    NavItem("Inbox", "dashboard:inbox"),
    NavItem("Knowledge", "dashboard:knowledge"),
    NavItem("Playground", "dashboard:playground"),
    NavItem("Catalog", "dashboard:catalog"),
    NavItem("Orders", "dashboard:orders"),
    NavItem("Analytics", "dashboard:analytics", owner_only=True),
    NavItem("Profile & hours", "dashboard:profile", owner_only=True, section=SETTINGS),
    NavItem("Widget", "dashboard:widget", owner_only=True, section=SETTINGS),
    NavItem("Team", "dashboard:team", owner_only=True, section=SETTINGS),
    NavItem("Canned responses", "dashboard:canned-responses", owner_only=True, section=SETTINGS),
    NavItem("Usage", "dashboard:usage", owner_only=True, section=SETTINGS),
    NavItem("Shop webhooks", "dashboard:webhooks", owner_only=True, section=SETTINGS),
    NavItem("API keys", "dashboard:api-keys", owner_only=True, section=SETTINGS),
    NavItem("Your profile", "dashboard:me", section=SETTINGS),
]


@dataclass(frozen=True)
class NavLink:
    label: str
    url: str
    current: bool
    section: str


def nav_links_for(*, is_owner: bool, current_path: str) -> list[NavLink]:
    links = []
    for item in NAV_ITEMS:
        if item.owner_only and not is_owner:
            continue
        try:
            url = reverse(item.url_name)
        except NoReverseMatch:
            continue
        links.append(NavLink(label=item.label, url=url, current=current_path.startswith(url), section=item.section))
    return links
