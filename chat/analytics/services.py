"""The analytics roll-up: each finished local day's figures computed once and stored (AnalyticsDay,
AnalyticsQuestion), so the analytics page reads a row per day instead of every message of the period.

The rules:
- A conversation's figures (counted, resolved by the assistant alone, handed to a person, first
  replies, time to resolution, rating, opening question) belong to the local day it started; answers
  and unanswered answers to the day they were written. Playground conversations are left out.
- A day is rolled up once it ended `ROLLUP_SETTLE` ago; until then (today, and yesterday for the first
  minutes after midnight) the page computes it live with the same statements.
- A later change to a conversation started on a finished day (resolved days later, rated later, an
  agent's reply, a handoff, a reopening) marks that day stale in the same transaction: the
  conversation services send the internal `ConversationChanged` event, whose handler here
  (`analytics_day_mark_stale`) runs in the sender's transaction (chat.conversations.events); a stale
  or missing day is rolled up again before the page shows it, and by the hourly beat task meanwhile. Writes that bypass the
  services (a bulk load, a manual fix in SQL) must mark the days they touch stale themselves
  (`AnalyticsDay.objects.filter(day__range=...).update(stale=True)`), or the stored days keep the
  figures from before them.
- A row remembers the time zone its day boundaries were computed in; after the tenant changes its
  time zone every row counts as missing and is computed again.

Why no change is lost: rolling up locks the day rows first and reads the data after; marking a day
stale writes (upserts) the same row inside the changing transaction. Whichever comes second waits for
the first to commit, so either the roll-up sees the change or the change's mark lands after the
roll-up. A service skips the mark only while the conversation's day is still today, and that day is
rolled up no earlier than `ROLLUP_SETTLE` after it ended: time for any transaction to commit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from chat.analytics.models import AnalyticsDay, AnalyticsQuestion
from chat.conversations.events import ConversationChanged
from chat.conversations.models import Channel, Conversation, ConversationEvent, Message
from orders.selectors import tenant_zone

ROLLUP_SETTLE = timedelta(minutes=5)
# The beat task looks this far back: as far as the longest period the page shows (a year, leap or not).
ROLLUP_LOOKBACK_DAYS = 366
QUESTION_EXAMPLE_CHARS = 300

# Shared by the analytics and the knowledge page's unanswered questions: an assistant answer that
# cited nothing and was below the knowledge base's answer threshold is the assistant saying it did
# not know (the offline "unknown" reply, an LLM answer whose knowledge search found nothing sure).
UNANSWERED_SQL = "m.author = 'assistant' AND m.confidence < %(threshold)s AND m.sources = '[]'::jsonb"


def question_normalise(text: str) -> str:
    """Case, punctuation and spacing aside: 'Opening hours?' and 'opening  hours' are one question."""
    return " ".join(re.sub(r"[\W_]+", " ", text.lower()).split())


def day_start(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=zone)


def first_unfinished_day(*, zone: ZoneInfo, now: datetime | None = None) -> date:
    """Days before this one ended at least ROLLUP_SETTLE ago and may be rolled up."""
    return ((now or timezone.now()) - ROLLUP_SETTLE).astimezone(zone).date()


# ---------------------------------------------------------------------------------- computing days


@dataclass
class DayFacts:
    """One local day's figures, as stored in AnalyticsDay and AnalyticsQuestion."""

    day: date
    conversations: int = 0
    resolved_by_assistant: int = 0
    handed_off: int = 0
    answers: int = 0
    unanswered: int = 0
    ratings: list[int] = field(default_factory=lambda: [0, 0, 0, 0, 0])
    assistant_waits: list[float] = field(default_factory=list)
    agent_waits: list[float] = field(default_factory=list)
    resolutions: list[float] = field(default_factory=list)
    # normalised question -> (an example as written, how many conversations opened with it)
    questions: dict[str, tuple[str, int]] = field(default_factory=dict)


def _tables() -> dict[str, str]:
    return {"message": Message._meta.db_table, "conversation": Conversation._meta.db_table,
            "event": ConversationEvent._meta.db_table}


def _rows(sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql.format(**_tables()), params)
        return list(cursor.fetchall())


# Per conversation started in the range: its first customer, assistant and (public) agent messages.
# An assistant message is always a reply, so it comes after the first customer message; an agent's
# wait is counted only when it does. "Resolved by the assistant alone" is resolved with no public
# agent message at all.
_CONVERSATIONS_SQL = """
    WITH started AS (
        SELECT c.id, c.status, c.rating, c.created, c.resolved_at, (c.created AT TIME ZONE %(zone)s)::date AS day
        FROM {conversation} c
        WHERE c.created >= %(start)s AND c.created < %(end)s AND c.channel <> %(playground)s
    ), firsts AS (
        SELECT m.conversation_id,
               MIN(m.created) FILTER (WHERE m.author = 'customer') AS asked_at,
               MIN(m.created) FILTER (WHERE m.author = 'assistant') AS assistant_at,
               MIN(m.created) FILTER (WHERE m.author = 'agent' AND NOT m.internal) AS agent_at
        FROM {message} m JOIN started s ON s.id = m.conversation_id
        GROUP BY m.conversation_id
    ), facts AS (
        SELECT s.*, f.agent_at IS NOT NULL AS agent_replied,
               EXTRACT(EPOCH FROM f.assistant_at - f.asked_at)::float8 AS assistant_s,
               CASE WHEN f.agent_at >= f.asked_at THEN EXTRACT(EPOCH FROM f.agent_at - f.asked_at)::float8
               END AS agent_s,
               CASE WHEN s.status = 'resolved' AND s.resolved_at IS NOT NULL
                    THEN EXTRACT(EPOCH FROM s.resolved_at - s.created)::float8 END AS resolution_s
        FROM started s LEFT JOIN firsts f ON f.conversation_id = s.id
    )
    SELECT day, COUNT(*),
           COUNT(*) FILTER (WHERE status = 'resolved' AND NOT COALESCE(agent_replied, false)),
           COUNT(*) FILTER (WHERE EXISTS (SELECT 1 FROM {event} e WHERE e.conversation_id = facts.id
                                                                  AND e.kind = 'handoff_requested')),
           ARRAY[COUNT(*) FILTER (WHERE rating = 1), COUNT(*) FILTER (WHERE rating = 2),
                 COUNT(*) FILTER (WHERE rating = 3), COUNT(*) FILTER (WHERE rating = 4),
                 COUNT(*) FILTER (WHERE rating = 5)],
           COALESCE(array_agg(assistant_s ORDER BY assistant_s) FILTER (WHERE assistant_s IS NOT NULL), '{{}}'),
           COALESCE(array_agg(agent_s ORDER BY agent_s) FILTER (WHERE agent_s IS NOT NULL), '{{}}'),
           COALESCE(array_agg(resolution_s ORDER BY resolution_s) FILTER (WHERE resolution_s IS NOT NULL), '{{}}')
    FROM facts GROUP BY day"""

_ANSWERS_SQL = f"""
    SELECT (m.created AT TIME ZONE %(zone)s)::date AS day, COUNT(*), COUNT(*) FILTER (WHERE {UNANSWERED_SQL})
    FROM {{message}} m
    WHERE m.created >= %(start)s AND m.created < %(end)s AND m.author = 'assistant'
      AND m.conversation_id NOT IN (SELECT id FROM {{conversation}} WHERE channel = %(playground)s)
    GROUP BY 1"""

# Each conversation's first customer message, counted per day by lower-cased text; the few texts
# that differ only in punctuation or spacing are merged in Python (once per distinct text, never per
# message: a regular expression over every row cost more than the rest of the page). Most asked
# first, so the example kept for a question is its most common spelling.
_QUESTIONS_SQL = """
    SELECT q.day, MIN(q.text), COUNT(*) AS asked FROM (
        SELECT DISTINCT ON (m.conversation_id) (c.created AT TIME ZONE %(zone)s)::date AS day,
               left(m.text, %(example_chars)s) AS text
        FROM {message} m JOIN {conversation} c ON c.id = m.conversation_id
        WHERE c.created >= %(start)s AND c.created < %(end)s AND c.channel <> %(playground)s
          AND m.author = 'customer'
        ORDER BY m.conversation_id, m.created, m.id
    ) q
    GROUP BY q.day, lower(q.text)
    ORDER BY q.day, asked DESC, MIN(q.text)"""


def day_facts_compute(*, first: date, last: date, zone: ZoneInfo) -> dict[date, DayFacts]:
    """Every figure of the local days first..last (both included), straight from conversations and
    messages: three statements whatever the number of days. Days without activity are left out."""
    params = {"start": day_start(first, zone), "end": day_start(last + timedelta(days=1), zone),
              "zone": zone.key, "playground": Channel.PLAYGROUND, "threshold": float(settings.KB_ANSWER_THRESHOLD),
              "example_chars": QUESTION_EXAMPLE_CHARS}
    days: dict[date, DayFacts] = {}

    def facts(day: date) -> DayFacts:
        return days.setdefault(day, DayFacts(day=day))

    for day, total, alone, handed, ratings, assistant_waits, agent_waits, resolutions in _rows(_CONVERSATIONS_SQL,
                                                                                             params):
        found = facts(day)
        found.conversations, found.resolved_by_assistant, found.handed_off = int(total), int(alone), int(handed)
        found.ratings = [int(count) for count in ratings]
        found.assistant_waits, found.agent_waits, found.resolutions = assistant_waits, agent_waits, resolutions
    for day, answers, unanswered in _rows(_ANSWERS_SQL, params):
        facts(day).answers, facts(day).unanswered = int(answers), int(unanswered)
    for day, text, asked in _rows(_QUESTIONS_SQL, params):
        key = question_normalise(text)
        if not key:
            continue
        questions = facts(day).questions
        example, counted = questions.get(key, (text, 0))
        questions[key] = (example, counted + int(asked))
    return days


# ---------------------------------------------------------------------------------- storing days


def analytics_days_missing(*, first: date, last: date, zone: ZoneInfo) -> list[date]:
    """The days first..last with no up-to-date row (never rolled up, stale, or from another time zone)."""
    current = set(AnalyticsDay.objects.filter(day__range=(first, last), stale=False, time_zone=zone.key)
                  .values_list("day", flat=True))
    count = (last - first).days + 1
    return [day for day in (first + timedelta(days=offset) for offset in range(count)) if day not in current]


def analytics_days_roll_up(*, days: Iterable[date], zone: ZoneInfo) -> int:
    """Compute and store the given finished days; days already up to date are left alone.

    Returns how many days were computed. Safe to run twice and side by side: the day rows are locked
    before the data is read, so two roll-ups of one day take turns and the second finds it done.
    """
    wanted = sorted(set(days))
    if not wanted:
        return 0
    if wanted[-1] >= first_unfinished_day(zone=zone):
        raise ValueError(f"{wanted[-1]} is not finished yet: only finished days are rolled up")
    with transaction.atomic():
        # A placeholder for every day, so each has a row to lock (created in day order, as every
        # roll-up does, so two never wait for each other in a circle).
        AnalyticsDay.objects.bulk_create([AnalyticsDay(day=day, time_zone=zone.key) for day in wanted],
                                         ignore_conflicts=True)
        rows = [row for row in AnalyticsDay.objects.select_for_update().filter(day__in=wanted).order_by("day")
                if row.stale or row.time_zone != zone.key]
        if not rows:
            return 0
        computed = day_facts_compute(first=rows[0].day, last=rows[-1].day, zone=zone)
        now = timezone.now()
        questions = []
        for row in rows:
            facts = computed.get(row.day, DayFacts(day=row.day))
            row.time_zone, row.stale, row.computed_at = zone.key, False, now
            for name in ("conversations", "resolved_by_assistant", "handed_off", "answers", "unanswered", "ratings",
                         "assistant_waits", "agent_waits", "resolutions"):
                setattr(row, name, getattr(facts, name))
            questions += [AnalyticsQuestion(day=row.day, key=key[:300], example=example, asked=asked)
                          for key, (example, asked) in facts.questions.items()]
        AnalyticsDay.objects.bulk_update(rows, fields=[
            "time_zone", "stale", "computed_at", "conversations", "resolved_by_assistant", "handed_off", "answers",
            "unanswered", "ratings", "assistant_waits", "agent_waits", "resolutions"])
        # One statement: QuerySet.delete() would load every row first and delete them a hundred at a
        # time, because other apps listen to post_delete (of any model).
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {AnalyticsQuestion._meta.db_table} WHERE day = ANY(%s)",
                           [[row.day for row in rows]])
        AnalyticsQuestion.objects.bulk_create(questions, batch_size=5000)
    return len(rows)


def analytics_days_roll_up_finished(*, lookback_days: int = ROLLUP_LOOKBACK_DAYS) -> int:
    """Roll up the finished days of the last `lookback_days` that are missing or stale (beat, hourly)."""
    zone = tenant_zone()
    last = first_unfinished_day(zone=zone) - timedelta(days=1)
    return analytics_days_roll_up(days=analytics_days_missing(first=last - timedelta(days=lookback_days - 1),
                                                              last=last, zone=zone), zone=zone)


def analytics_day_mark_stale(event: ConversationChanged) -> None:
    """A conversation changed: if it started on a day that may be rolled up already, that day's row
    must be computed again. The handler of `ConversationChanged`, run inside the transaction that
    makes the change (or after it committed), never before: see the module's note on why no change
    is lost."""
    if event.channel == Channel.PLAYGROUND:
        return
    zone = tenant_zone()
    day = event.started.astimezone(zone).date()
    if day >= timezone.now().astimezone(zone).date():
        return  # today: computed live, and rolled up only after ROLLUP_SETTLE past its end
    # An upsert, not an update: a roll-up of this day may have inserted its row and not committed yet.
    AnalyticsDay.objects.bulk_create([AnalyticsDay(day=day, stale=True)], update_conflicts=True,
                                     unique_fields=["day"], update_fields=["stale"])
