"""Opening hours: ranges past midnight, daylight-saving changes, several ranges a day, holidays.

Clocks are frozen by passing explicit moments to the selectors.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from django_tenants.utils import schema_context

from orders.exceptions import InvalidHours
from orders.selectors import is_open_at, next_opening, opening_hours_on
from orders.services.hours import opening_hours_set_from_json

LONDON = ZoneInfo("Europe/London")
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
CLOSED_WEEK = {day: [] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


@pytest.fixture
def night_bar(make_tenant) -> object:
    """Open Friday and Saturday 22:00-04:00 in Amsterdam, past midnight and through DST changes."""
    tenant = make_tenant(name="Night bar", timezone_name="Europe/Amsterdam").tenant
    with schema_context(tenant.schema_name):
        opening_hours_set_from_json(data={"weekly": {**CLOSED_WEEK, "fri": [["22:00", "04:00"]],
                                                     "sat": [["22:00", "04:00"]]}})
    return tenant


def test_a_range_past_midnight_is_open_after_midnight_and_closes_next_day(night_bar) -> None:
    with schema_context(night_bar.schema_name):
        friday = opening_hours_on(day=date(2026, 11, 6))
        assert [(r.opens, r.closes) for r in friday.ranges] == [("22:00", "04:00")]
        assert friday.ranges[0].ends_at == datetime(2026, 11, 7, 4, 0, tzinfo=AMSTERDAM)
        after_midnight = is_open_at(moment=datetime(2026, 11, 7, 1, 30, tzinfo=AMSTERDAM))
        # Friday night closes on Saturday at 04:00, the day after it opened.
        assert after_midnight.open and after_midnight.closes_at == datetime(2026, 11, 7, 4, 0, tzinfo=AMSTERDAM)
        morning = is_open_at(moment=datetime(2026, 11, 7, 4, 0, tzinfo=AMSTERDAM))
        assert not morning.open and morning.next_opening == datetime(2026, 11, 7, 22, 0, tzinfo=AMSTERDAM)
        sunday_late = is_open_at(moment=datetime(2026, 11, 8, 23, 0, tzinfo=AMSTERDAM))
        assert not sunday_late.open and sunday_late.next_opening == datetime(2026, 11, 13, 22, 0, tzinfo=AMSTERDAM)
        # A Thursday has no range of its own and nothing running into it.
        assert opening_hours_on(day=date(2026, 11, 5)).closed


def test_the_night_the_clocks_go_forward_is_an_hour_shorter(night_bar) -> None:
    with schema_context(night_bar.schema_name):
        # Saturday 28 March 2026, 22:00 CET, to Sunday 04:00 CEST: 21:00 to 02:00 UTC, five hours.
        night = opening_hours_on(day=date(2026, 3, 28)).ranges[0]
        assert night.starts_at.astimezone(UTC) == datetime(2026, 3, 28, 21, 0, tzinfo=UTC)
        assert night.ends_at.astimezone(UTC) == datetime(2026, 3, 29, 2, 0, tzinfo=UTC)
        assert is_open_at(moment=datetime(2026, 3, 29, 1, 30, tzinfo=UTC)).open  # 03:30 CEST
        assert not is_open_at(moment=datetime(2026, 3, 29, 2, 0, tzinfo=UTC)).open  # 04:00 CEST


def test_the_night_the_clocks_go_back_is_an_hour_longer(night_bar) -> None:
    with schema_context(night_bar.schema_name):
        # Saturday 24 October 2026, 22:00 CEST (20:00 UTC), to Sunday 04:00 CET (03:00 UTC): seven hours.
        state = is_open_at(moment=datetime(2026, 10, 25, 2, 30, tzinfo=UTC))  # 03:30 CET
        assert state.open and state.closes_at.astimezone(UTC) == datetime(2026, 10, 25, 3, 0, tzinfo=UTC)
        assert not is_open_at(moment=datetime(2026, 10, 25, 3, 0, tzinfo=UTC)).open


def test_london_cafe_across_both_dst_changes(cafe) -> None:
    with schema_context(cafe.schema_name):
        # Sunday 09:00-15:00. On 29 March 2026 that is 08:00-14:00 UTC; a week earlier 09:00-15:00 UTC.
        assert is_open_at(moment=datetime(2026, 3, 29, 8, 30, tzinfo=UTC)).open
        assert not is_open_at(moment=datetime(2026, 3, 22, 8, 30, tzinfo=UTC)).open
        assert not is_open_at(moment=datetime(2026, 3, 29, 14, 30, tzinfo=UTC)).open
        assert is_open_at(moment=datetime(2026, 3, 22, 14, 30, tzinfo=UTC)).open
        upcoming = next_opening(after=datetime(2026, 3, 28, 20, 0, tzinfo=UTC))
        assert upcoming.opens_at.astimezone(UTC) == datetime(2026, 3, 29, 8, 0, tzinfo=UTC)
        assert upcoming.opens_at == datetime(2026, 3, 29, 9, 0, tzinfo=LONDON)
        # Sunday 25 October 2026, back on GMT: 09:00-15:00 UTC.
        assert is_open_at(moment=datetime(2026, 10, 25, 14, 30, tzinfo=UTC)).open
        assert not is_open_at(moment=datetime(2026, 10, 25, 8, 30, tzinfo=UTC)).open


def test_holidays_and_special_hours_replace_the_week(cafe) -> None:
    with schema_context(cafe.schema_name):
        eve = opening_hours_on(day=date(2026, 12, 24))
        assert eve.special and "Christmas Eve" in eve.note
        assert [(r.opens, r.closes) for r in eve.ranges] == [("08:00", "13:00")]
        assert not is_open_at(moment=datetime(2026, 12, 24, 7, 45, tzinfo=LONDON)).open  # weekly would be open
        noon = is_open_at(moment=datetime(2026, 12, 24, 12, 0, tzinfo=LONDON))
        assert noon.open and noon.closes_at == datetime(2026, 12, 24, 13, 0, tzinfo=LONDON)

        christmas = opening_hours_on(day=date(2026, 12, 25))  # a Friday, normally two sessions
        assert christmas.closed and christmas.special and christmas.note == "Christmas Day"
        state = is_open_at(moment=datetime(2026, 12, 25, 12, 0, tzinfo=LONDON))
        # Boxing Day (Saturday) is closed too: next is Sunday 27 December, 09:00.
        assert not state.open and state.next_opening == datetime(2026, 12, 27, 9, 0, tzinfo=LONDON)
        as_dict = state.as_dict()
        assert as_dict["next_opening"] == "2026-12-27T09:00:00+00:00" and as_dict["open"] is False


def test_several_ranges_a_day_and_closed_days(cafe, shop_readonly) -> None:
    with schema_context(cafe.schema_name):
        friday = opening_hours_on(day=date(2026, 11, 6))
        assert [(r.opens, r.closes) for r in friday.ranges] == [("07:30", "17:00"), ("18:30", "22:00")]
        between = is_open_at(moment=datetime(2026, 11, 6, 17, 30, tzinfo=LONDON))
        assert not between.open and between.next_opening == datetime(2026, 11, 6, 18, 30, tzinfo=LONDON)
    with schema_context(shop_readonly.schema_name):
        sunday = opening_hours_on(day=date(2026, 11, 8))
        assert sunday.closed and not sunday.special and sunday.timezone == "Europe/Amsterdam"
        upcoming = next_opening(after=datetime(2026, 11, 8, 12, 0, tzinfo=AMSTERDAM))
        assert upcoming.found and upcoming.opens_at == datetime(2026, 11, 9, 9, 0, tzinfo=AMSTERDAM)
        assert upcoming.day.date == date(2026, 11, 9)


def test_never_open_has_no_next_opening(make_tenant) -> None:
    tenant = make_tenant(timezone_name="Europe/Amsterdam").tenant
    with schema_context(tenant.schema_name):
        opening_hours_set_from_json(data={"weekly": CLOSED_WEEK})
        state = is_open_at(moment=datetime(2026, 11, 8, 12, 0, tzinfo=UTC))
        assert not state.open and state.next_opening is None
        assert next_opening(after=datetime(2026, 11, 8, 12, 0, tzinfo=UTC)).found is False


@pytest.mark.parametrize("weekly", [
    {"mon": [["9:00", "17:00"]]},
    {**CLOSED_WEEK, "mon": [["09:00", "09:00"]]},
    {**CLOSED_WEEK, "mon": [["25:00", "26:00"]]},
    {**CLOSED_WEEK, "mon": "09:00-17:00"},
])
def test_bad_hours_are_refused(tenant_a, weekly) -> None:
    with schema_context(tenant_a.schema_name), pytest.raises(InvalidHours):
        opening_hours_set_from_json(data={"weekly": weekly})
