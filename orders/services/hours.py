"""Opening hours writes: the weekly schedule and dated exceptions, replaced as a whole."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, time
from typing import Any

from django.db import transaction

from config.content_version import content_version_bump
from orders.exceptions import InvalidHours
from orders.models import SpecialDay, SpecialDayOpening, WeeklyOpening

WEEKDAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CLOCK = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")

TimeRange = tuple[time, time]


@dataclass(frozen=True)
class SpecialDayInput:
    date: date
    closed: bool
    ranges: list[TimeRange] = field(default_factory=list)
    note: str = ""


def clock_parse(text: str) -> time:
    """'09:30' -> 09:30; '24:00' means the midnight that ends the day (stored as 00:00)."""
    match = _CLOCK.match(str(text).strip())
    if not match or (match.group(1) == "24" and match.group(2) != "00"):
        raise InvalidHours(f"'{text}' is not a time of day (HH:MM).")
    hour = int(match.group(1))
    return time(0, 0) if hour == 24 else time(hour, int(match.group(2)))


def _ranges_parse(raw: Any, *, where: str) -> list[TimeRange]:
    if not isinstance(raw, list):
        raise InvalidHours(f"{where}: expected a list of [opens, closes] ranges.")
    ranges = []
    for item in raw:
        if not isinstance(item, list | tuple) or len(item) != 2:
            raise InvalidHours(f"{where}: each range is [\"HH:MM\", \"HH:MM\"], not {item!r}.")
        opens, closes = clock_parse(item[0]), clock_parse(item[1])
        if opens == closes:
            raise InvalidHours(f"{where}: a range cannot open and close at the same time ({item[0]}).")
        ranges.append((opens, closes))
    return ranges


def opening_hours_parse(*, data: Any) -> tuple[dict[int, list[TimeRange]], list[SpecialDayInput]]:
    """The hours.json shape: {"weekly": {"mon": [["07:30", "17:00"]], ...}, "exceptions": [...]}."""
    if not isinstance(data, dict) or not isinstance(data.get("weekly"), dict):
        raise InvalidHours("Opening hours need a 'weekly' object with mon ... sun.")
    missing = [key for key in WEEKDAY_KEYS if key not in data["weekly"]]
    if missing:
        raise InvalidHours(f"The weekly schedule is missing {', '.join(missing)}.", details={"missing": missing})
    weekly = {index: _ranges_parse(data["weekly"][key], where=key) for index, key in enumerate(WEEKDAY_KEYS)}
    specials = []
    for entry in data.get("exceptions") or []:
        try:
            day = date.fromisoformat(str(entry.get("date")))
        except (ValueError, AttributeError) as exc:
            raise InvalidHours(f"Exception {entry!r} needs a date (YYYY-MM-DD).") from exc
        closed = bool(entry.get("closed"))
        ranges = [] if closed else _ranges_parse(entry.get("ranges"), where=str(day))
        if not closed and not ranges:
            raise InvalidHours(f"{day}: give either \"closed\": true or some ranges.")
        specials.append(SpecialDayInput(date=day, closed=closed, ranges=ranges, note=str(entry.get("note") or "")))
    return weekly, specials


def opening_hours_replace(*, weekly: dict[int, list[TimeRange]], special_days: list[SpecialDayInput]) -> None:
    """Replace the whole schedule at once, so it is never seen half-written."""
    with transaction.atomic():
        WeeklyOpening.objects.all().delete()
        SpecialDay.objects.all().delete()
        WeeklyOpening.objects.bulk_create(
            WeeklyOpening(weekday=weekday, opens=opens, closes=closes)
            for weekday, ranges in weekly.items() for opens, closes in ranges)
        for special in special_days:
            row = SpecialDay.objects.create(date=special.date, closed=special.closed, note=special.note)
            SpecialDayOpening.objects.bulk_create(
                SpecialDayOpening(special_day=row, opens=opens, closes=closes) for opens, closes in special.ranges)
        content_version_bump()


def opening_hours_set_from_json(*, data: Any) -> None:
    weekly, special_days = opening_hours_parse(data=data)
    opening_hours_replace(weekly=weekly, special_days=special_days)
