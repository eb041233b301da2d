"""The demo: two businesses with their owners and agents, and a platform superuser.

Raw content lives in tenants/fixtures/demo/<slug>/. Each app that owns demo data registers a loader
in settings.DESKPILOT_DEMO_LOADERS: a function `load_demo(*, tenant, fixtures: Path) -> None`, run
inside the tenant's schema. A tenant's demo is loaded once (Tenant.demo_loaded_at): after that its
catalog, hours, knowledge and team are the business's own, and `make run` never loads them again.
Loaders stay idempotent, so a load interrupted half-way is simply run again in full.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.utils import timezone
from django.utils.module_loading import import_string
from django_tenants.utils import get_public_schema_name, schema_context

from config.content_version import content_version_bump
from tenants import services
from tenants.models import Tenant

logger = logging.getLogger(__name__)

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "demo"

# Development-only credentials, printed by `make run`. Production never loads the demo.
PLATFORM_ADMIN = ("admin@deskpilot.localhost", "deskpilot-admin")


@dataclass(frozen=True)
class DemoTenant:
    slug: str
    name: str
    domain: str
    timezone: str
    owner: tuple[str, str]
    agent: tuple[str, str]


DEMO_TENANTS = [
    DemoTenant("cafe", "Sunrise Café", "cafe.localhost", "Europe/London",
               ("owner@cafe.localhost", "cafe-owner-demo"), ("agent@cafe.localhost", "cafe-agent-demo")),
    DemoTenant("shop", "Threadline", "shop.localhost", "Europe/Amsterdam",
               ("owner@shop.localhost", "shop-owner-demo"), ("agent@shop.localhost", "shop-agent-demo")),
]


# The names customers see for the demo's team members, instead of their e-mail addresses.
DEMO_STAFF_NAMES = {"owner@cafe.localhost": "Sam", "agent@cafe.localhost": "Priya",
                    "owner@shop.localhost": "Daan", "agent@shop.localhost": "Mila"}


def demo_profile(slug: str) -> dict[str, object]:
    path = FIXTURES / slug / "profile.json"
    return json.loads(path.read_text()) if path.exists() else {}


def demo_load() -> list[str]:
    """Create what is missing of the demo and run every app's loader. Returns what was created."""
    from django.contrib.auth.models import User

    created: list[str] = []
    connection.set_schema_to_public()
    email, password = PLATFORM_ADMIN
    if not User.objects.filter(username=email).exists():
        User.objects.create_superuser(username=email, email=email, password=password)
        created.append("platform superuser")
    for demo in DEMO_TENANTS:
        tenant = Tenant.objects.filter(schema_name=demo.slug).first()
        if tenant is None:
            result = services.tenant_create(slug=demo.slug, name=demo.name, domain=demo.domain,
                                            timezone_name=demo.timezone)
            tenant = result.tenant
            created.append(f"tenant {demo.slug}")
        if tenant.demo_loaded_at is not None:
            continue
        with schema_context(demo.slug):
            for (user_email, user_password), role in ((demo.owner, services.ROLE_OWNER), (demo.agent, services.ROLE_AGENT)):
                if not User.objects.filter(username=user_email).exists():
                    services.tenant_user_create(email=user_email, password=user_password, role=role,
                                                name=DEMO_STAFF_NAMES.get(user_email, ""))
                    created.append(f"{role} {user_email}")
            for loader_path in settings.DESKPILOT_DEMO_LOADERS:
                import_string(loader_path)(tenant=tenant, fixtures=FIXTURES / demo.slug)
            # Some loaders write their rows directly (profile, widget): the answers' content changed.
            content_version_bump(schema_name=demo.slug)
        # Marked only once every loader has finished: an interrupted load runs again next time.
        Tenant.objects.filter(pk=tenant.pk).update(demo_loaded_at=timezone.now())
        created.append(f"demo content of {demo.slug}")
    connection.set_schema_to_public()
    return created


def demo_logins(port: str) -> list[str]:
    suffix = "" if port == "80" else f":{port}"
    lines = [
        f"Platform admin   http://localhost{suffix}/admin/   {PLATFORM_ADMIN[0]} / {PLATFORM_ADMIN[1]}",
    ]
    for demo in DEMO_TENANTS:
        lines.append(f"{demo.name:<16} http://{demo.domain}{suffix}/   shop page with the chat widget: "
                     f"http://{demo.domain}{suffix}/demo/")
        lines.append(f"  owner          {demo.owner[0]} / {demo.owner[1]}")
        lines.append(f"  agent          {demo.agent[0]} / {demo.agent[1]}")
    return lines


def demo_present() -> bool:
    with schema_context(get_public_schema_name()):
        return Tenant.objects.filter(schema_name__in=[d.slug for d in DEMO_TENANTS]).count() == len(DEMO_TENANTS)
