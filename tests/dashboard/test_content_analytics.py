"""Analytics on a small dataset whose every figure is known, the period's validation, constant queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from chat.models import Author, Channel, Contact, Conversation, ConversationEvent, Message
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
                     resolved_at: datetime | None = None, rating: int | None = None, handoff: bool = False) -> None:
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


def test_days_are_the_tenants_local_days(business: Business) -> None:
    Tenant.objects.filter(pk=business.tenant.pk).update(timezone="America/New_York")
    with schema_context(business.tenant.schema_name):
        # 02:00 UTC on 2 November is still 1 November in New York.
        conversation_add(said=[Said(Author.CUSTOMER, "Late question", _at(2, 2))])
    report = business.client(business.owner).get(PERIOD).context["report"]
    assert [day.conversations for day in report.days] == [1, 0, 0]


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


def test_analytics_queries_do_not_grow_with_the_data(business: Business) -> None:
    owner = business.client(business.owner)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert owner.get(PERIOD).status_code == 200
        return len(captured)

    with schema_context(business.tenant.schema_name):
        known_dataset()
    small = queries()
    with schema_context(business.tenant.schema_name):
        for index in range(25):
            conversation_add(said=[Said(Author.CUSTOMER, f"Question {index}", _at(3, 8, index)),
                                   Said(Author.ASSISTANT, "Answer", _at(3, 8, index, 3), 0.2)],
                             status="resolved", resolved_at=_at(3, 9), rating=index % 5 + 1)
    assert queries() == small
    assert small <= 30  # django-tenants adds a SET search_path before each statement
