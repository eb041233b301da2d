"""Opening hours writes: the weekly schedule and dated exceptions, replaced as a whole, from the
hours JSON (a file, the demo) or from the dashboard's text fields."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, time
from typing import Any

from django.db import transaction

from chat.audit.models import AuditAction
from chat.audit.services import audit_record
from config.content_version import content_version_bump
from orders.exceptions import InvalidHours
from orders.models import SpecialDay, SpecialDayOpening, WeeklyOpening
from tenants.models import Tenant
from tenants.services import tenant_timezone_set

WEEKDAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_CLOCK = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")
_TEXT_RANGE = re.compile(r"^(\d{1,2}:\d{2})\s*[-–]\s*(\d{1,2}:\d{2})$")

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


def _text_ranges_read(text: str, *, where: str) -> list[list[str]]:
    ranges = []
    for part in (part.strip() for part in re.split(r"[\n,]", text)):
        if not part:
            continue
        match = _TEXT_RANGE.match(part)
        if not match:
            raise InvalidHours(f"{where}: '{part}' is not a range like 09:00-17:30.")
        ranges.append([match.group(1).zfill(5), match.group(2).zfill(5)])
    return ranges


def opening_hours_from_text(*, weekly: dict[str, str], special_days: str) -> dict[str, Any]:
    """The dashboard's text fields as the hours JSON.

    A weekday is "09:00-12:00, 13:00-17:00" or empty (closed). A special day is one line:
    "2026-12-25 closed" or "2026-12-24 09:00-13:00 Christmas Eve" (the words after the ranges are a note).
    """
    data: dict[str, Any] = {"weekly": {key: _text_ranges_read(weekly.get(key, ""), where=WEEKDAY_NAMES[index])
                                       for index, key in enumerate(WEEKDAY_KEYS)}, "exceptions": []}
    for line in special_days.splitlines():
        words = line.split()
        if not words:
            continue
        try:
            day = date.fromisoformat(words[0])
        except ValueError as exc:
            raise InvalidHours(f"'{line.strip()}' should start with a date (YYYY-MM-DD).") from exc
        rest = words[1:]
        if rest and rest[0].lower() == "closed":
            data["exceptions"].append({"date": day.isoformat(), "closed": True, "note": " ".join(rest[1:])})
            continue
        ranges = [word.strip(",") for word in rest if _TEXT_RANGE.match(word.strip(","))]
        note = " ".join(word for word in rest if not _TEXT_RANGE.match(word.strip(",")))
        data["exceptions"].append({"date": day.isoformat(), "closed": False, "note": note,
                                   "ranges": _text_ranges_read(", ".join(ranges), where=day.isoformat())})
    return data


def opening_hours_set_from_text(*, tenant: Tenant, timezone_name: str, weekly: dict[str, str],
                                special_days: str) -> None:
    """The hours and the time zone they are written in, both or neither."""
    data = opening_hours_from_text(weekly=weekly, special_days=special_days)
    with transaction.atomic():
        tenant_timezone_set(tenant=tenant, timezone_name=timezone_name)
        opening_hours_set_from_json(data=data)
        audit_record(action=AuditAction.SETTINGS_CHANGE, target="opening hours and time zone",
                     details={"timezone": timezone_name})
