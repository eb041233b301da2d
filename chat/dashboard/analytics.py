"""Analytics and usage: the owner's view of how the assistant and the team are doing.

Every figure is one aggregate SQL statement over the tenant's schema (GROUP BY day, FILTER, percentile_cont),
so a page costs the same handful of queries whether the tenant has ten conversations or a hundred
thousand messages. Days are the tenant's local days. Playground conversations are the owner testing the
assistant, not customers, and are left out everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection
from django.db.models import F, Q, Sum
from django.db.models.functions import TruncDate
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django_tenants.utils import schema_context

from chat.assistant.usage import LEVEL_EXHAUSTED, LEVEL_WARNING, UsageMonth, usage_month, usage_notices_current
from chat.dashboard.charts import ChartPoint, Series, bar_chart_svg, count_format, line_chart_svg
from chat.dashboard.permissions import owner_required
from chat.models import Channel, Conversation, ConversationEvent, Message
from config.errors import ValidationFailed
from tenants.models import UsageEntry

DEFAULT_PERIOD_DAYS = 30
MAX_PERIOD_DAYS = 366
TOP_QUESTIONS = 10
QUESTION_EXAMPLE_CHARS = 300
T = TypeVar("T")


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


def _tables() -> dict[str, str]:
    return {"message": Message._meta.db_table, "conversation": Conversation._meta.db_table,
            "event": ConversationEvent._meta.db_table}


def _rows(sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql.format(**_tables()), params)
        return list(cursor.fetchall())


def _params(period: Period) -> dict[str, Any]:
    return {"start": period.start, "end": period.end, "zone": period.zone.key, "playground": Channel.PLAYGROUND,
            "threshold": float(settings.KB_ANSWER_THRESHOLD)}


# Shared by the analytics and the knowledge page's unanswered questions: an assistant answer that
# cited nothing and was below the knowledge base's answer threshold is the assistant saying it did
# not know (the offline "unknown" reply, an LLM answer whose knowledge search found nothing sure).
UNANSWERED_SQL = "m.author = 'assistant' AND m.confidence < %(threshold)s AND m.sources = '[]'::jsonb"


def conversation_days(*, period: Period) -> dict[date, tuple[int, int, int]]:
    """Per local day: conversations started, resolved by the assistant alone, handed to a person."""
    rows = _rows("""
        SELECT (c.created AT TIME ZONE %(zone)s)::date AS day,
               COUNT(*),
               COUNT(*) FILTER (WHERE c.status = 'resolved' AND NOT EXISTS (
                   SELECT 1 FROM {message} m WHERE m.conversation_id = c.id AND m.author = 'agent'
                   AND NOT m.internal)),
               COUNT(*) FILTER (WHERE EXISTS (
                   SELECT 1 FROM {event} e WHERE e.conversation_id = c.id AND e.kind = 'handoff_requested'))
        FROM {conversation} c
        WHERE c.created >= %(start)s AND c.created < %(end)s AND c.channel <> %(playground)s
        GROUP BY 1""", _params(period))
    return {day: (int(total), int(alone), int(handed)) for day, total, alone, handed in rows}


def answer_days(*, period: Period) -> dict[date, tuple[int, int]]:
    """Per local day: assistant answers, and those that did not know."""
    rows = _rows(f"""
        SELECT (m.created AT TIME ZONE %(zone)s)::date AS day,
               COUNT(*), COUNT(*) FILTER (WHERE {UNANSWERED_SQL})
        FROM {{message}} m
        WHERE m.created >= %(start)s AND m.created < %(end)s AND m.author = 'assistant'
          AND m.conversation_id NOT IN (SELECT id FROM {{conversation}} WHERE channel = %(playground)s)
        GROUP BY 1""", _params(period))
    return {day: (int(answers), int(unanswered)) for day, answers, unanswered in rows}


def first_response_times(*, period: Period) -> tuple[Durations, Durations]:
    """From a conversation's first customer message to the first assistant, and first agent, message.

    One pass over the period's messages, grouped by conversation. An assistant message is always a
    reply, so it comes after the first customer message; an agent's is counted only when it does.
    """
    rows = _rows("""
        SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY assistant_s),
               percentile_cont(0.9) WITHIN GROUP (ORDER BY assistant_s), COUNT(assistant_s),
               percentile_cont(0.5) WITHIN GROUP (ORDER BY agent_s),
               percentile_cont(0.9) WITHIN GROUP (ORDER BY agent_s), COUNT(agent_s)
        FROM (
            SELECT EXTRACT(EPOCH FROM firsts.assistant_at - firsts.asked_at) AS assistant_s,
                   CASE WHEN firsts.agent_at >= firsts.asked_at
                        THEN EXTRACT(EPOCH FROM firsts.agent_at - firsts.asked_at) END AS agent_s
            FROM (
                SELECT MIN(m.created) FILTER (WHERE m.author = 'customer') AS asked_at,
                       MIN(m.created) FILTER (WHERE m.author = 'assistant') AS assistant_at,
                       MIN(m.created) FILTER (WHERE m.author = 'agent' AND NOT m.internal) AS agent_at
                FROM {message} m JOIN {conversation} c ON c.id = m.conversation_id
                WHERE c.created >= %(start)s AND c.created < %(end)s AND c.channel <> %(playground)s
                GROUP BY m.conversation_id
            ) firsts
            WHERE firsts.asked_at IS NOT NULL
        ) waits""", _params(period))
    a_median, a_p90, a_count, h_median, h_p90, h_count = rows[0]
    return (Durations(median=_float(a_median), p90=_float(a_p90), count=int(a_count)),
            Durations(median=_float(h_median), p90=_float(h_p90), count=int(h_count)))


def resolution_times(*, period: Period) -> Durations:
    rows = _rows("""
        SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM c.resolved_at - c.created)),
               percentile_cont(0.9) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM c.resolved_at - c.created)),
               COUNT(*)
        FROM {conversation} c
        WHERE c.created >= %(start)s AND c.created < %(end)s AND c.channel <> %(playground)s
          AND c.status = 'resolved' AND c.resolved_at IS NOT NULL""", _params(period))
    median, p90, count = rows[0]
    return Durations(median=_float(median), p90=_float(p90), count=int(count))


def rating_distribution(*, period: Period) -> dict[int, int]:
    """How many conversations got each rating, 1 to 5 (zeros included)."""
    rows = _rows("""
        SELECT c.rating, COUNT(*) FROM {conversation} c
        WHERE c.created >= %(start)s AND c.created < %(end)s AND c.channel <> %(playground)s
          AND c.rating IS NOT NULL
        GROUP BY 1""", _params(period))
    found = {int(rating): int(count) for rating, count in rows}
    return {rating: found.get(rating, 0) for rating in range(1, 6)}


def question_normalise(text: str) -> str:
    """Case, punctuation and spacing aside: 'Opening hours?' and 'opening  hours' are one question."""
    return " ".join(re.sub(r"[\W_]+", " ", text.lower()).split())


def top_questions(*, period: Period, limit: int = TOP_QUESTIONS) -> list[TopQuestion]:
    """The most frequent opening questions, compared without case, punctuation or extra spacing.

    SQL takes each conversation's first customer message and counts them by lower-cased text; the
    few distinct texts that differ only in punctuation are merged here (one row per distinct text,
    never per message: a regular expression over every row cost more than the rest of the page).
    """
    rows = _rows("""
        SELECT MIN(q.text), COUNT(*) AS asked FROM (
            SELECT DISTINCT ON (m.conversation_id) left(m.text, %(example_chars)s) AS text
            FROM {message} m JOIN {conversation} c ON c.id = m.conversation_id
            WHERE c.created >= %(start)s AND c.created < %(end)s AND c.channel <> %(playground)s
              AND m.author = 'customer'
            ORDER BY m.conversation_id, m.created, m.id
        ) q
        GROUP BY lower(q.text)
        ORDER BY asked DESC""", {**_params(period), "example_chars": QUESTION_EXAMPLE_CHARS})
    merged: dict[str, TopQuestion] = {}
    for text, asked in rows:
        key = question_normalise(text)
        if not key:
            continue
        known = merged.get(key)
        merged[key] = TopQuestion(text=known.text if known else text, asked=int(asked) + (known.asked if known else 0))
    return sorted(merged.values(), key=lambda question: (-question.asked, question_normalise(question.text)))[:limit]


def usage_days(*, tenant_id: int, period: Period) -> dict[date, UsageDay]:
    """The tenant's ledger (public schema) summed per local day."""
    rows = (UsageEntry.objects.filter(tenant_id=tenant_id, created__gte=period.start, created__lt=period.end)
            .annotate(day=TruncDate("created", tzinfo=period.zone)).values("day")
            .annotate(messages=Sum("quantity", filter=Q(kind=UsageEntry.Kind.MESSAGE)),
                      tokens=Sum(F("tokens_in") + F("tokens_out"), filter=~Q(kind=UsageEntry.Kind.EMBEDDING)),
                      cost=Sum("cost_minor"))
            .order_by())
    return {row["day"]: UsageDay(day=row["day"], messages=int(row["messages"] or 0), tokens=int(row["tokens"] or 0),
                                 cost_minor=int(row["cost"] or 0)) for row in rows}


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


# The report's statements are independent reads, each a scan of the period's rows: run side by side
# on their own connections, the page waits for the slowest instead of the sum (measured in
# bench/dashboard.py). A small shared pool bounds the extra connections per web process.
_REPORT_QUERIES = ThreadPoolExecutor(max_workers=4, thread_name_prefix="analytics")


def _in_schema(schema_name: str, function: Callable[[], T]) -> Callable[[], T]:
    def run() -> T:
        try:
            with schema_context(schema_name):
                return function()
        finally:
            connection.close()  # the pool thread's own connection; the next task opens a fresh one

    return run


def analytics_report(*, period: Period, tenant_id: int, schema_name: str) -> AnalyticsReport:
    tasks: dict[str, Callable[[], Any]] = {
        "conversations": lambda: conversation_days(period=period),
        "answers": lambda: answer_days(period=period),
        "waits": lambda: first_response_times(period=period),
        "questions": lambda: top_questions(period=period),
        "resolution": lambda: resolution_times(period=period),
        "ratings": lambda: rating_distribution(period=period),
    }
    futures = {name: _REPORT_QUERIES.submit(_in_schema(schema_name, task)) for name, task in tasks.items()}
    # The cheap ones run here meanwhile.
    usage = usage_days(tenant_id=tenant_id, period=period)
    month = usage_month(schema_name=schema_name)
    results = {name: future.result() for name, future in futures.items()}
    conversations, answers = results["conversations"], results["answers"]
    days = []
    for day in period.days:
        total, alone, handed = conversations.get(day, (0, 0, 0))
        answered, unanswered = answers.get(day, (0, 0))
        days.append(DayFigures(day=day, conversations=total, resolved_by_assistant=alone, handed_off=handed,
                               answers=answered, unanswered=unanswered))
    assistant_wait, human_wait = results["waits"]
    report = AnalyticsReport(
        period=period, days=days, assistant_first_response=assistant_wait, human_first_response=human_wait,
        resolution=results["resolution"], ratings=results["ratings"], top_questions=results["questions"],
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


def _tenant_zone(request: HttpRequest) -> ZoneInfo:
    try:
        return ZoneInfo(request.tenant.timezone or "UTC")
    except (ValueError, KeyError):
        return ZoneInfo("UTC")


@owner_required
def analytics_page(request: HttpRequest) -> HttpResponse:
    zone = _tenant_zone(request)
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
        "cost": month.cost_minor / 100,
    })


def _meter_percent(used: int, limit: int | None) -> float | None:
    return None if not limit else min(100.0, used * 100 / limit)
