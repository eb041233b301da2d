"""The widget's away banner: worked out once per web process, and never past an opening or closing or
a change to the hours."""

from __future__ import annotations

import time

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from chat.widget import services as widget_services
from orders.services.hours import opening_hours_set_from_json

CLOSED_WEEK = {day: [] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


@pytest.fixture
def bakery(make_tenant) -> object:
    """Open Wednesdays 09:00-17:00 in Amsterdam."""
    tenant = make_tenant(name="Bakery", timezone_name="Europe/Amsterdam").tenant
    with schema_context(tenant.schema_name):
        opening_hours_set_from_json(data={"weekly": {**CLOSED_WEEK, "wed": [["09:00", "17:00"]]}})
    return tenant


def test_the_banner_is_reused_without_queries_while_nothing_changes(bakery) -> None:
    # A Wednesday morning: open
    with time_machine.travel("2026-11-25T10:00:00+01:00", tick=False), schema_context(bakery.schema_name):
        first = widget_services.away_state("en")
        with CaptureQueriesContext(connection) as queries:
            again = widget_services.away_state("en")
    assert first == again == {"open": True, "message": ""}
    assert len(queries) == 0


def test_a_banner_worked_out_just_before_closing_is_not_reused_after_it(bakery) -> None:
    # Half a second before closing the banner says "open", and may be kept for half a second only.
    with time_machine.travel("2026-11-25T16:59:59.500+01:00", tick=False), schema_context(bakery.schema_name):
        assert widget_services.away_state("en")["open"] is True
        time.sleep(0.6)
        with CaptureQueriesContext(connection) as queries:
            widget_services.away_state("en")
    assert len(queries) > 0, "worked out again once the business has closed"


def test_new_opening_hours_show_at_once(bakery) -> None:
    # A Wednesday morning: open
    with time_machine.travel("2026-11-25T10:00:00+01:00", tick=False), schema_context(bakery.schema_name):
        assert widget_services.away_state("en")["open"] is True
        opening_hours_set_from_json(data={"weekly": CLOSED_WEEK})
        assert widget_services.away_state("en")["open"] is False


def test_closed_says_when_a_person_will_reply(bakery) -> None:
    # Wednesday evening: closed till next week
    with time_machine.travel("2026-11-25T18:00:00+01:00", tick=False), schema_context(bakery.schema_name):
        state = widget_services.away_state("en")
    assert state["open"] is False and state["message"]
