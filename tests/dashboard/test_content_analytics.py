"""Analytics on a small dataset whose every figure is known, the period's validation, constant queries;
the daily roll-up: equal to the live computation, computed once, computed again after a late change."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import schema_context, tenant_context

from chat.analytics.models import AnalyticsDay
from chat.analytics.services import first_unfinished_day, question_normalise
from chat.conversations import services as conversation_services
from chat.conversations.models import Author, Channel, Contact, Conversation, ConversationEvent, Message
from chat.dashboard.analytics import AnalyticsReport, Period, analytics_report
from chat.dashboard.tasks import analytics_roll_up
from tenants.models import Tenant, UsageEntry
from tests.dashboard.conftest import Business

PERIOD = "/app/analytics/?from=2026-11-01&to=2026-11-03"
KNOWN = [{"source_id": 1, "title": "Hours", "url": "", "score": 0.9, "kind": "faq"}]


@dataclass
class Said:
    author: str
    text: str
    at: datetime
    confidence: float | None = None
    sources: list[dict[str, Any]] = field(default_factory=list)
    internal: bool = False


def _at(day: int, hour: int, minute: int = 0, second: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=UTC)


def conversation_add(*, said: list[Said], status: str = "bot", channel: str = Channel.WIDGET,
                     resolved_at: datetime | None = None, rating: int | None = None,
                     handoff: bool = False) -> Conversation:
    """A conversation as it happened: started at its first message, messages at their own times."""
    contact = Contact.objects.create(visitor_id=f"v-{Contact.objects.count()}-{said[0].at.timestamp()}")
    conversation = Conversation.objects.create(contact=contact, channel=channel, status=status, rating=rating,
                                               resolved_at=resolved_at)
    Conversation.objects.filter(pk=conversation.pk).update(created=said[0].at)
    asked = None
    for line in said:
        message = Message.objects.create(
            conversation=conversation, author=line.author, text=line.text, confidence=line.confidence,
            sources=line.sources, internal=line.internal, mode="offline" if line.author == Author.ASSISTANT else "",
            in_reply_to=asked if line.author == Author.ASSISTANT else None)
        Message.objects.filter(pk=message.pk).update(created=line.at)
        if line.author == Author.CUSTOMER:
            asked = message
    if handoff:
        event = ConversationEvent.objects.create(conversation=conversation, kind="handoff_requested",
                                                 actor="assistant")
        ConversationEvent.objects.filter(pk=event.pk).update(created=said[0].at)
    conversation.refresh_from_db()
    return conversation


def known_dataset() -> None:
    conversation_add(said=[Said(Author.CUSTOMER, "What are your opening hours?", _at(1, 10)),
                           Said(Author.ASSISTANT, "9 to 5.", _at(1, 10, 0, 2), 0.9, KNOWN)],
                     status="resolved", resolved_at=_at(1, 10, 5), rating=5)
    conversation_add(said=[Said(Author.CUSTOMER, "what are your   opening hours", _at(1, 11)),
                           Said(Author.ASSISTANT, "I'm not sure.", _at(1, 11, 0, 4), 0.1),
                           Said(Author.AGENT, "A note for the team", _at(1, 11, 1), internal=True),
                           Said(Author.AGENT, "We open at 9.", _at(1, 11, 2))],
                     status="resolved", resolved_at=_at(1, 11, 10), rating=2, handoff=True)
    conversation_add(said=[Said(Author.CUSTOMER, "Do you ship abroad?", _at(2, 9)),
                           Said(Author.ASSISTANT, "Yes, across the EU.", _at(2, 9, 0, 6), 0.8, KNOWN)])
    # Not counted: the owner testing in the playground, and a conversation before the period.
    conversation_add(channel=Channel.PLAYGROUND, said=[Said(Author.CUSTOMER, "test?", _at(2, 12)),
                                                      Said(Author.ASSISTANT, "I'm not sure.", _at(2, 12, 0, 1), 0.0)])
    conversation_add(said=[Said(Author.CUSTOMER, "Old question", _at(31, 23, month=10)),
                           Said(Author.ASSISTANT, "I'm not sure.", _at(31, 23, 0, 1, month=10), 0.0)],
                     status="resolved", resolved_at=_at(31, 23, 30, month=10), rating=1)


def test_analytics_figures_on_a_known_dataset(business: Business) -> None:
    with schema_context(business.tenant.schema_name):
        known_dataset()
    entries = UsageEntry.objects.bulk_create([UsageEntry(tenant=business.tenant, kind=UsageEntry.Kind.MESSAGE,
                                                         tokens_in=100, tokens_out=50) for _ in range(2)])
    UsageEntry.objects.filter(pk__in=[entry.pk for entry in entries]).update(created=_at(1, 10))

    page = business.client(business.owner).get(PERIOD)
    assert page.status_code == 200
    report = page.context["report"]
    assert [day.conversations for day in report.days] == [2, 1, 0]
    assert report.totals["conversations"] == 3
    assert report.totals["resolved_by_assistant"] == 1  # the second one had an agent's reply
    assert report.totals["handed_off"] == 1
    assert (report.totals["answers"], report.totals["unanswered"]) == (3, 1)
    assert report.assistant_first_response.median == pytest.approx(4.0)
    assert report.assistant_first_response.p90 == pytest.approx(5.6)
    assert report.assistant_first_response.count == 3
    assert (report.human_first_response.median, report.human_first_response.count) == (pytest.approx(120.0), 1)
    assert report.resolution.median == pytest.approx(450.0)
    assert report.ratings == {1: 0, 2: 1, 3: 0, 4: 0, 5: 1}
    assert [(q.text.lower().split()[0], q.asked) for q in report.top_questions] == [("what", 2), ("do", 1)]
    assert report.totals["usage_messages"] == 2 and report.totals["usage_tokens"] == 300
    body = page.content.decode()
    assert body.count("<svg") == 4
    assert 'id="stat-resolved">33%' in body
    assert "2.0 min" in body  # a person's first reply

    # The finished days were rolled up by that visit; the next one reads them and shows the same.
    with schema_context(business.tenant.schema_name):
        assert list(AnalyticsDay.objects.filter(stale=False).values_list("day", flat=True)) == [
            date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)]
    assert _summary(business.client(business.owner).get(PERIOD).context["report"]) == _summary(report)


def test_days_are_the_tenants_local_days(business: Business) -> None:
    with schema_context(business.tenant.schema_name):
        # 02:00 UTC on 2 November is still 1 November in New York.
        conversation_add(said=[Said(Author.CUSTOMER, "Late question", _at(2, 2))])
    owner = business.client(business.owner)
    assert [day.conversations for day in owner.get(PERIOD).context["report"].days] == [0, 1, 0]
    # Days rolled up in UTC are not New York's days: a change of time zone computes them again.
    Tenant.objects.filter(pk=business.tenant.pk).update(timezone="America/New_York")
    assert [day.conversations for day in owner.get(PERIOD).context["report"].days] == [1, 0, 0]


def test_a_message_at_2330_utc_in_winter_counts_on_the_next_day_in_amsterdam(business: Business) -> None:
    Tenant.objects.filter(pk=business.tenant.pk).update(timezone="Europe/Amsterdam")
    with schema_context(business.tenant.schema_name):
        # 23:30 UTC on Sunday 1 November is 00:30 on Monday 2 November in Amsterdam (UTC+1 in winter).
        conversation_add(said=[Said(Author.CUSTOMER, "Do you ship to Belgium?", _at(1, 23, 30)),
                               Said(Author.ASSISTANT, "Yes.", _at(1, 23, 30, 5), 0.9, KNOWN)])
    entry = UsageEntry.objects.create(tenant=business.tenant, kind=UsageEntry.Kind.MESSAGE, tokens_in=10)
    UsageEntry.objects.filter(pk=entry.pk).update(created=_at(1, 23, 30, 5))
    owner = business.client(business.owner)

    report = owner.get(PERIOD).context["report"]
    assert [day.conversations for day in report.days] == [0, 1, 0]
    assert [day.answers for day in report.days] == [0, 1, 0]
    assert [day.messages for day in report.usage_days] == [0, 1, 0]
    # That visit rolled the finished days up in Amsterdam's days; the next one reads them: the same.
    with schema_context(business.tenant.schema_name):
        assert [(row.day.day, row.conversations, row.time_zone) for row in AnalyticsDay.objects.order_by("day")] == [
            (1, 0, "Europe/Amsterdam"), (2, 1, "Europe/Amsterdam"), (3, 0, "Europe/Amsterdam")]
    assert _summary(owner.get(PERIOD).context["report"]) == _summary(report)


@pytest.mark.parametrize("query", ["from=2026-11-05&to=2026-11-01", "from=yesterday", "from=2024-01-01&to=2026-01-01"])
def test_a_bad_period_is_refused_with_the_reason(business: Business, query: str) -> None:
    page = business.client(business.owner).get(f"/app/analytics/?{query}")
    assert page.status_code == 400
    assert page.context["error"].code == "invalid_period"
    assert 'role="alert"' in page.content.decode()


def test_the_default_period_is_the_last_30_days(business: Business) -> None:
    period = business.client(business.owner).get("/app/analytics/").context["period"]
    assert (period.last - period.first).days == 29
    assert period.last >= date.today() - timedelta(days=1)


def _days_ago(days: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime.combine(timezone.now().date() - timedelta(days=days), time(hour, minute, second), tzinfo=UTC)


def _period_query(first: datetime, last: datetime) -> str:
    return f"/app/analytics/?from={first.date().isoformat()}&to={last.date().isoformat()}"


def test_analytics_queries_do_not_grow_with_the_data(business: Business) -> None:
    """Rolling up a period, and reading it once rolled up, each cost the same queries for 3 or 30
    conversations a day."""
    owner = business.client(business.owner)

    def queries(path: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert owner.get(path).status_code == 200
        return len(captured)

    def busy_days(first_day_ago: int, per_day: int) -> str:
        with schema_context(business.tenant.schema_name):
            for day in range(3):
                for index in range(per_day):
                    asked = _days_ago(first_day_ago - day, 8, index)
                    conversation_add(said=[Said(Author.CUSTOMER, f"Question {index % 7}", asked),
                                           Said(Author.ASSISTANT, "Answer", asked + timedelta(seconds=3), 0.2),
                                           Said(Author.AGENT, "Me too", asked + timedelta(seconds=60))],
                                     status="resolved", resolved_at=asked + timedelta(hours=1), rating=index % 5 + 1,
                                     handoff=index % 2 == 0)
        return _period_query(_days_ago(first_day_ago), _days_ago(first_day_ago - 2))

    quiet, busy = busy_days(20, per_day=3), busy_days(10, per_day=30)
    rolling_up, reading = queries(quiet), queries(quiet)
    assert (queries(busy), queries(busy)) == (rolling_up, reading)
    assert reading < rolling_up
    assert reading <= 12
    # Thirty days, today among them: the rolled-up days as before, and today's three live statements.
    queries("/app/analytics/")
    assert queries("/app/analytics/") == reading + 3


# --------------------------------------------------------------------------------- the roll-up


def varied_dataset(*, seed: int, days: int) -> None:
    """Conversations of every kind over `days` finished days ending yesterday, at random times."""
    rng = random.Random(seed)
    questions = [f"Question {n}?" for n in range(14)] + ["WHERE is my order", "where is my order?!"]
    for day in range(days, 0, -1):
        for _ in range(rng.randint(3, 9)):
            asked = _days_ago(day, rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59))
            said = [Said(Author.CUSTOMER, rng.choice(questions), asked)]
            if rng.random() < 0.9:
                known = rng.random() < 0.7
                said.append(Said(Author.ASSISTANT, "An answer", asked + timedelta(seconds=rng.randint(1, 40)),
                                 0.9 if known else 0.1, KNOWN if known else []))
            if rng.random() < 0.2:
                said.append(Said(Author.AGENT, "A note", asked + timedelta(seconds=70), internal=True))
            if rng.random() < 0.4:
                said.append(Said(Author.AGENT, "A person", asked + timedelta(seconds=rng.randint(50, 4000))))
            resolved = rng.random() < 0.6
            conversation_add(said=said, status="resolved" if resolved else rng.choice(["bot", "human", "needs_human"]),
                             resolved_at=asked + timedelta(minutes=rng.randint(2, 3000)) if resolved else None,
                             rating=rng.choice([None, None, 1, 2, 3, 4, 5]), handoff=rng.random() < 0.3,
                             channel=Channel.PLAYGROUND if rng.random() < 0.1 else Channel.WIDGET)
    # Asked only on the last day, but often: it must make the top ten whichever days are rolled up.
    for minute in range(6):
        conversation_add(said=[Said(Author.CUSTOMER, "Late favourite?", _days_ago(1, 20, minute))])


def _summary(report: AnalyticsReport) -> dict[str, Any]:
    def durations(value: Any) -> tuple[Any, ...]:
        return (pytest.approx(value.median), pytest.approx(value.p90), value.count)

    return {"days": report.days, "totals": report.totals, "ratings": report.ratings,
            "assistant": durations(report.assistant_first_response), "human": durations(report.human_first_response),
            "resolution": durations(report.resolution),
            "questions": [(question_normalise(q.text), q.asked) for q in report.top_questions]}


def test_rolled_up_days_equal_the_live_computation(business: Business) -> None:
    Tenant.objects.filter(pk=business.tenant.pk).update(timezone="Europe/Berlin")
    tenant = Tenant.objects.get(pk=business.tenant.pk)
    zone = ZoneInfo("Europe/Berlin")
    today = timezone.now().astimezone(zone).date()
    period = Period(first=today - timedelta(days=9), last=today - timedelta(days=1), zone=zone)
    with tenant_context(tenant):
        varied_dataset(seed=8, days=10)

        def report(now: datetime) -> dict[str, Any]:
            return _summary(analytics_report(period=period, tenant_id=tenant.pk, schema_name=tenant.schema_name,
                                             now=now))

        # Seen from the period's first morning nothing is finished: every figure is computed live.
        live = report(datetime.combine(period.first, time(9), tzinfo=zone))
        assert not AnalyticsDay.objects.exists()
        assert live["totals"]["conversations"] > 20 and ("late favourite", 6) in live["questions"]
        # From the middle of the period: the first days from the roll-up, the rest live.
        middle = report(datetime.combine(period.first + timedelta(days=5), time(9), tzinfo=zone))
        assert AnalyticsDay.objects.filter(stale=False).count() == 5
        # From today: every day rolled up, then read from the stored rows.
        rolled = report(timezone.now())
        assert AnalyticsDay.objects.filter(stale=False, time_zone="Europe/Berlin").count() == 9
        stored = report(timezone.now())
    assert middle == live
    assert rolled == live
    assert stored == live


def test_a_late_change_to_a_finished_day_marks_it_and_the_page_shows_it(business: Business) -> None:
    owner = business.client(business.owner)
    path = _period_query(_days_ago(3), _days_ago(3))
    with schema_context(business.tenant.schema_name):
        asked = _days_ago(3, 10)
        conversation = conversation_add(said=[Said(Author.CUSTOMER, "Can I bring my dog?", asked),
                                              Said(Author.ASSISTANT, "Let me check.", asked + timedelta(seconds=5),
                                                   0.9, KNOWN)])
    before = owner.get(path).context["report"]
    assert (before.totals["resolved_by_assistant"], before.ratings[4], before.human_first_response.count) == (0, 0, 0)

    with tenant_context(Tenant.objects.get(pk=business.tenant.pk)):
        conversation_services.conversation_resolve(conversation=conversation, actor="assistant")
        conversation_services.conversation_rate(conversation=conversation, score=4)
        assert AnalyticsDay.objects.get(day=asked.date()).stale
    resolved = owner.get(path).context["report"]
    assert (resolved.totals["resolved_by_assistant"], resolved.ratings[4], resolved.resolution.count) == (1, 1, 1)
    with schema_context(business.tenant.schema_name):
        assert not AnalyticsDay.objects.get(day=asked.date()).stale

    # Days later a person answers too: no longer resolved by the assistant alone.
    with tenant_context(Tenant.objects.get(pk=business.tenant.pk)):
        conversation_services.agent_message_send(conversation=conversation, agent=business.agent, text="Yes!")
    answered = owner.get(path).context["report"]
    assert (answered.totals["resolved_by_assistant"], answered.human_first_response.count) == (0, 1)


def test_today_is_computed_live_and_never_stored(business: Business) -> None:
    tenant = Tenant.objects.get(pk=business.tenant.pk)
    with tenant_context(tenant):
        contact = conversation_services.contact_get_or_create(visitor_id="today-visitor")
        conversation = conversation_services.conversation_start(contact=contact)
        conversation_services.message_receive(conversation=conversation, text="Are you open today?")
    report = business.client(business.owner).get("/app/analytics/").context["report"]
    assert report.days[-1].day == timezone.now().date() and report.days[-1].conversations == 1
    assert [(q.text, q.asked) for q in report.top_questions] == [("Are you open today?", 1)]
    with schema_context(tenant.schema_name):
        assert not AnalyticsDay.objects.filter(day__gte=report.days[-1].day).exists()
        finished = first_unfinished_day(zone=ZoneInfo("UTC")) - report.period.first
        assert AnalyticsDay.objects.filter(stale=False).count() == finished.days


def test_the_roll_up_task_stores_finished_days_once_and_again_when_stale(business: Business) -> None:
    assert any(entry["task"] == "tenants.tasks.dispatch_to_active_tenants"
               and entry.get("args") == ["chat.dashboard.tasks.analytics_roll_up"]
               for entry in settings.CELERY_BEAT_SCHEDULE.values())
    assert analytics_roll_up.deskpilot_queue == "low"
    tenant = Tenant.objects.get(pk=business.tenant.pk)
    with tenant_context(tenant):
        conversation = conversation_add(said=[Said(Author.CUSTOMER, "Hello?", _days_ago(2, 12))])
        assert analytics_roll_up.run() == 366
        assert analytics_roll_up.run() == 0
        assert AnalyticsDay.objects.get(day=_days_ago(2).date()).conversations == 1
        conversation_services.conversation_rate(conversation=conversation, score=5)
        assert analytics_roll_up.run() == 1
        assert AnalyticsDay.objects.get(day=_days_ago(2).date()).ratings == [0, 0, 0, 0, 1]
