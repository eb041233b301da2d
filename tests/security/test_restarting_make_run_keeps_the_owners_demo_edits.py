"""The machine restarts `make run` (which runs `manage.py demo load` each time) after the demo café's
owner changed a price and the opening hours: the restart must not put the demo's back."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import time

from django_tenants.utils import schema_context

from orders.models import Variant, WeeklyOpening
from orders.services.catalog import variant_update
from orders.services.hours import opening_hours_set_from_json
from tenants.demo import FIXTURES
from tenants.models import Tenant
from tests.support.processes import ROOT, child_env

LOAD_TIMEOUT_SECONDS = 600


def demo_load() -> str:
    done = subprocess.run([sys.executable, "manage.py", "demo", "load"], cwd=ROOT, env=child_env(),
                          capture_output=True, text=True, timeout=LOAD_TIMEOUT_SECONDS)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_a_second_demo_load_keeps_the_owners_price_and_hours() -> None:
    first = demo_load()
    assert "tenant cafe" in first or "demo content of cafe" in first, first
    with schema_context("cafe"):
        espresso = Variant.objects.select_related("product").get(sku="SC-COF-001-SGL")
        assert espresso.price_minor == 240
        variant_update(variant=espresso, price="3.10", stock=150, is_sellable=True)
        hours = json.loads((FIXTURES / "cafe" / "hours.json").read_text())
        hours["weekly"]["mon"] = [["10:00", "14:00"]]
        opening_hours_set_from_json(data=hours)

    second = demo_load()

    with schema_context("cafe"):
        assert Variant.objects.get(sku="SC-COF-001-SGL").price_minor == 310
        monday = [(row.opens, row.closes) for row in WeeklyOpening.objects.filter(weekday=0)]
        assert monday == [(time(10, 0), time(14, 0))]
    assert "already loaded" in second, second
    assert Tenant.objects.get(schema_name="cafe").demo_loaded_at is not None
