"""Analytics and usage: the owner's view of how the assistant and the team are doing.

Finished days come from the daily roll-up (chat/analytics/services.py: one row per local day, computed
once, computed again when a later change marks it stale); only today is aggregated live from the
messages, with the same statements. A page therefore costs the same handful of queries whatever the
tenant's history; what grows with it is only the number of wait samples read (one per conversation
of the period, a few bytes each) and the distinct opening questions summed in SQL. Days are the
tenant's local days. Playground conversations are the owner testing the assistant, not customers,
and are left out everywhere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import F, Q, Sum
from django.db.models.functions import TruncDate
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from chat.analytics.models import AnalyticsDay, AnalyticsQuestion
from chat.analytics.services import (
    UNANSWERED_SQL,
    DayFacts,
    analytics_days_roll_up,
    day_facts_compute,
    first_unfinished_day,
    question_normalise,
)
from chat.assistant.llm import cost_minor_to_text
from chat.assistant.usage import LEVEL_EXHAUSTED, LEVEL_WARNING, UsageMonth, usage_month, usage_notices_current
from chat.dashboard.charts import ChartPoint, Series, bar_chart_svg, count_format, line_chart_svg
from chat.dashboard.permissions import owner_required
from config.errors import ValidationFailed
from tenants.middleware import tenant_zone_of
from tenants.models import UsageEntry

# The knowledge page's unanswered questions share these with the analytics.
__all__ = ["UNANSWERED_SQL", "question_normalise"]

DEFAULT_PERIOD_DAYS = 30
MAX_PERIOD_DAYS = 366
TOP_QUESTIONS = 10


# ------------------------------------------------------------------------------------- the period


@dataclass(frozen=True)
class Period:
    """Local calendar days first..last, both included, in the tenant's time zone."""

    first: date
    last: date
    zone: ZoneInfo

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(0, 0), tzinfo=self.zone)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time(0, 0), tzinfo=self.zone)

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=offset) for offset in range((self.last - self.first).days + 1)]


def _date_parse(raw: str, *, name: str) -> date:
    try:
        return date.fromisoformat(raw.strip())
    except ValueError as exc:
        raise ValidationFailed(f"'{raw}' is not a date: use YYYY-MM-DD for '{name}'.", code="invalid_period",
                               details={"field": name}) from exc


def analytics_period_parse(*, raw_from: str | None, raw_to: str | None, zone: ZoneInfo,
                           today: date | None = None) -> Period:
    """The period asked for with ?from=&to=; the last 30 days (today included) when not given."""
    today = today or timezone.now().astimezone(zone).date()
    last = _date_parse(raw_to, name="to") if raw_to else today
    first = _date_parse(raw_from, name="from") if raw_from else last - timedelta(days=DEFAULT_PERIOD_DAYS - 1)
    if first > last:
        raise ValidationFailed("The period starts after it ends.", code="invalid_period",
                               details={"from": first.isoformat(), "to": last.isoformat()})
    if (last - first).days + 1 > MAX_PERIOD_DAYS:
        raise ValidationFailed(f"A period can be at most {MAX_PERIOD_DAYS} days long.", code="invalid_period",
                               details={"max_days": MAX_PERIOD_DAYS})
    return Period(first=first, last=last, zone=zone)


# -------------------------------------------------------------------------------------- selectors


@dataclass(frozen=True)
class DayFigures:
    day: date
    conversations: int = 0
    resolved_by_assistant: int = 0
    handed_off: int = 0
    answers: int = 0
    unanswered: int = 0


@dataclass(frozen=True)
class Durations:
    """Seconds; None when nothing was measured."""

    median: float | None
    p90: float | None
    count: int


@dataclass(frozen=True)
class TopQuestion:
    text: str
    asked: int


@dataclass(frozen=True)
class UsageDay:
    day: date
    messages: int
    tokens: int
    cost_minor: int


@dataclass
class AnalyticsReport:
    period: Period
    days: list[DayFigures]
    assistant_first_response: Durations
    human_first_response: Durations
    resolution: Durations
    ratings: dict[int, int]
    top_questions: list[TopQuestion]
    usage_days: list[UsageDay]
    month: UsageMonth
    totals: dict[str, int] = field(default_factory=dict)

    def share(self, part: str, whole: str) -> float | None:
        return self.totals[part] / self.totals[whole] if self.totals.get(whole) else None


def usage_days(*, tenant_id: int, period: Period) -> dict[date, UsageDay]:
    """The tenant's ledger (public schema) summed per local day."""
    # The owner's playground questions are no customer's: left out, as everywhere in the analytics.
    rows = (UsageEntry.objects.filter(tenant_id=tenant_id, created__gte=period.start, created__lt=period.end)
            .exclude(kind=UsageEntry.Kind.PLAYGROUND)
            .annotate(day=TruncDate("created", tzinfo=period.zone)).values("day")
            .annotate(messages=Sum("quantity", filter=Q(kind=UsageEntry.Kind.MESSAGE)),
                      tokens=Sum(F("tokens_in") + F("tokens_out"), filter=~Q(kind=UsageEntry.Kind.EMBEDDING)),
                      cost=Sum("cost_minor"))
            .order_by())
    return {row["day"]: UsageDay(day=row["day"], messages=int(row["messages"] or 0), tokens=int(row["tokens"] or 0),
                                 cost_minor=int(row["cost"] or 0)) for row in rows}


def percentile(ordered: list[float], fraction: float) -> float | None:
    """PostgreSQL's percentile_cont over sorted values: interpolated between the two nearest ranks."""
    if not ordered:
        return None
    position = fraction * (len(ordered) - 1)
    below = math.floor(position)
    above = math.ceil(position)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


def durations(samples: list[list[float]]) -> Durations:
    ordered = sorted(value for day in samples for value in day)
    return Durations(median=percentile(ordered, 0.5), p90=percentile(ordered, 0.9), count=len(ordered))


def stored_days(*, first: date, last: date, zone: ZoneInfo) -> list[DayFacts]:
    """The finished days first..last from the roll-up; any missing or stale day is rolled up first,
    so the page never shows a day that was not computed from the data as it is now."""
    def current() -> list[AnalyticsDay]:
        return list(AnalyticsDay.objects.filter(day__range=(first, last), time_zone=zone.key).order_by("day"))

    rows = current()
    fresh = {row.day for row in rows if not row.stale}
    missing = [day for day in _dates(first, last) if day not in fresh]
    if missing:
        analytics_days_roll_up(days=missing, zone=zone)
        rows = current()
    return [DayFacts(day=row.day, conversations=row.conversations, resolved_by_assistant=row.resolved_by_assistant,
                     handed_off=row.handed_off, answers=row.answers, unanswered=row.unanswered,
                     ratings=list(row.ratings), assistant_waits=row.assistant_waits, agent_waits=row.agent_waits,
                     resolutions=row.resolutions) for row in rows]


def _dates(first: date, last: date) -> list[date]:
    return [first + timedelta(days=offset) for offset in range((last - first).days + 1)]


def top_questions(*, stored_first: date | None, stored_last: date | None, live: list[DayFacts],
                  limit: int = TOP_QUESTIONS) -> list[TopQuestion]:
    """The most frequent opening questions over rolled-up days and live days together.

    From the roll-up, one statement reads the top `limit` questions plus the stored counts of every
    question asked on the live days: a question in neither set is behind all of the top ones, whatever
    the live days add, so the merged top is exact (ties broken by the question, as everywhere).
    """
    totals: dict[str, list[Any]] = {}  # normalised question -> [example, asked]
    for facts in live:
        for key, (example, asked) in facts.questions.items():
            totals.setdefault(key, [example, 0])[1] += asked
    if stored_first is not None and stored_last is not None:
        table = AnalyticsQuestion._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(f"""
                WITH sums AS (
                    SELECT key, (array_agg(example ORDER BY asked DESC, example))[1] AS example, SUM(asked) AS asked
                    FROM {table} WHERE day BETWEEN %(first)s AND %(last)s GROUP BY key)
                (SELECT * FROM sums ORDER BY asked DESC, key COLLATE "C" LIMIT %(limit)s)
                UNION
                (SELECT * FROM sums WHERE key = ANY(%(keys)s))""",
                           {"first": stored_first, "last": stored_last, "limit": limit, "keys": list(totals)})
            for key, example, asked in cursor.fetchall():
                # The example as written on the rolled-up days, where a question has been asked longest.
                known = totals.setdefault(key, [example, 0])
                known[0] = example
                known[1] += int(asked)
    ranked = sorted(totals.items(), key=lambda item: (-item[1][1], item[0]))[:limit]
    return [TopQuestion(text=example, asked=asked) for _key, (example, asked) in ranked]


def analytics_report(*, period: Period, tenant_id: int, schema_name: str,
                     now: datetime | None = None) -> AnalyticsReport:
    """The period's figures: finished days from the roll-up, the rest (today) computed live."""
    zone = period.zone
    live_first = max(period.first, first_unfinished_day(zone=zone, now=now))
    stored_last = min(period.last, live_first - timedelta(days=1))
    stored = stored_days(first=period.first, last=stored_last, zone=zone) if period.first <= stored_last else []
    live = (list(day_facts_compute(first=live_first, last=period.last, zone=zone).values())
            if live_first <= period.last else [])
    questions = top_questions(stored_first=period.first if stored else None, stored_last=stored_last if stored else None,
                              live=live)
    usage = usage_days(tenant_id=tenant_id, period=period)
    month = usage_month(schema_name=schema_name)
    facts = stored + live
    by_day = {day.day: day for day in facts}
    days = []
    for day in period.days:
        found = by_day.get(day) or DayFacts(day=day)
        days.append(DayFigures(day=day, conversations=found.conversations,
                               resolved_by_assistant=found.resolved_by_assistant, handed_off=found.handed_off,
                               answers=found.answers, unanswered=found.unanswered))
    report = AnalyticsReport(
        period=period, days=days,
        assistant_first_response=durations([day.assistant_waits for day in facts]),
        human_first_response=durations([day.agent_waits for day in facts]),
        resolution=durations([day.resolutions for day in facts]),
        ratings={rating: sum(day.ratings[rating - 1] for day in facts) for rating in range(1, 6)},
        top_questions=questions,
        usage_days=[usage.get(day, UsageDay(day=day, messages=0, tokens=0, cost_minor=0)) for day in period.days],
        month=month)
    report.totals = {
        "conversations": sum(d.conversations for d in days),
        "resolved_by_assistant": sum(d.resolved_by_assistant for d in days),
        "handed_off": sum(d.handed_off for d in days),
        "answers": sum(d.answers for d in days),
        "unanswered": sum(d.unanswered for d in days),
        "ratings": sum(report.ratings.values()),
        "usage_messages": sum(d.messages for d in report.usage_days),
        "usage_tokens": sum(d.tokens for d in report.usage_days),
        "usage_cost_minor": sum(d.cost_minor for d in report.usage_days),
    }
    return report


# -------------------------------------------------------------------------------------- rendering


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _day_label(day: date) -> str:
    return f"{day:%d %b}"


def analytics_charts(report: AnalyticsReport) -> dict[str, Any]:
    days = report.days
    return {
        "conversations": bar_chart_svg(title="Conversations per day", points=[
            ChartPoint(_day_label(d.day), d.conversations) for d in days]),
        "rates": line_chart_svg(title="Resolved by the assistant alone, handed to a person, unanswered (share per day)",
                                maximum=1.0, series=[
            Series("Resolved by the assistant", [ChartPoint(_day_label(d.day), _rate(d.resolved_by_assistant,
                                                                                     d.conversations)) for d in days]),
            Series("Handed to a person", [ChartPoint(_day_label(d.day), _rate(d.handed_off, d.conversations))
                                          for d in days]),
            Series("Unanswered", [ChartPoint(_day_label(d.day), _rate(d.unanswered, d.answers)) for d in days]),
        ]),
        "ratings": bar_chart_svg(title="Ratings", points=[
            ChartPoint(f"{rating} ★", count) for rating, count in report.ratings.items()]),
        "usage": bar_chart_svg(title="Messages answered per day", points=[
            ChartPoint(_day_label(d.day), d.messages) for d in report.usage_days], fmt=count_format),
    }


@owner_required
def analytics_page(request: HttpRequest) -> HttpResponse:
    zone = tenant_zone_of(request.tenant)
    try:
        period = analytics_period_parse(raw_from=request.GET.get("from"), raw_to=request.GET.get("to"), zone=zone)
    except ValidationFailed as error:
        default = analytics_period_parse(raw_from=None, raw_to=None, zone=zone)
        return render(request, "dashboard/analytics/analytics.html",
                      {"error": error, "period": default, "raw_from": request.GET.get("from", ""),
                       "raw_to": request.GET.get("to", "")}, status=400)
    report = analytics_report(period=period, tenant_id=request.tenant.pk, schema_name=request.tenant.schema_name)
    return render(request, "dashboard/analytics/analytics.html", {
        "period": period, "report": report, "charts": analytics_charts(report),
        "raw_from": period.first.isoformat(), "raw_to": period.last.isoformat(),
        "resolved_share": report.share("resolved_by_assistant", "conversations"),
        "handoff_share": report.share("handed_off", "conversations"),
        "unanswered_share": report.share("unanswered", "answers"),
        "waits": [(label, duration_text(durations.median), duration_text(durations.p90), durations.count)
                  for label, durations in (("The assistant's first reply", report.assistant_first_response),
                                           ("A person's first reply", report.human_first_response),
                                           ("Time to resolution", report.resolution))],
    })


@owner_required
def usage_page(request: HttpRequest) -> HttpResponse:
    schema_name = request.tenant.schema_name
    month = usage_month(schema_name=schema_name)
    plan = request.tenant.plan
    return render(request, "dashboard/analytics/usage.html", {
        "month": month, "plan": plan,
        "meters": [
            {"label": "Customer messages answered", "used": month.messages, "limit": month.message_limit,
             "percent": _meter_percent(month.messages, month.message_limit)},
            {"label": "LLM tokens", "used": month.tokens, "limit": month.token_limit,
             "percent": _meter_percent(month.tokens, month.token_limit)},
        ],
        "warning": month.level == LEVEL_WARNING, "exhausted": month.level == LEVEL_EXHAUSTED,
        "notices": usage_notices_current(schema_name=schema_name),
        # Costs are kept in micro-dollars by default (LLM_COST_MINOR_UNITS_PER_USD), not in cents.
        "cost": cost_minor_to_text(month.cost_minor),
        "playground_cost": cost_minor_to_text(month.playground_cost_minor),
    })


def _meter_percent(used: int, limit: int | None) -> float | None:
    return None if not limit else min(100.0, used * 100 / limit)
