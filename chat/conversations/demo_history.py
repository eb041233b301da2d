"""A demo business's past month: about thirty days of conversations, written the way they happened.

Run once per demo tenant as the last of the demo loaders (settings.DESKPILOT_DEMO_LOADERS), so the
inbox, the analytics, the unanswered questions and the usage page show what the product does on a
first look. Every event goes through the services real traffic uses (a customer's first and next
messages, the offline assistant's answer, a handoff, an agent taking over and replying, resolving,
a rating): the same rows, status changes, analytics marks and usage entries as the real thing.

Each event is written with the clock set back to the moment it happened. Every timestamp the
product writes comes from `django.utils.timezone.now()` (auto_now fields, Message.created's
default, the services' own `now`); for the length of the load the process's clock (time-machine,
a library made for this) answers with the historical instant. No row is back-dated
after the fact, so nothing the services keep in step (last_message_at, resolved_at, the analytics
days a late change marks stale, the usage ledger's month) can disagree with the dates.

The history is made from the tenant's own content: questions from its FAQ (in the customers'
spelling, from its variants), questions it has no answer for, its human-only topics and, where it
has orders, customers asking about them. It is seeded from the tenant's slug: the same demo gives
the same month.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import time_machine
from django.contrib.auth.models import User
from django.db import connection
from django.utils import timezone as django_timezone

from chat.assistant.llm import run_then_close_llm_clients
from chat.conversations import services
from chat.conversations.models import Channel, Contact, Conversation, ConversationStatus
from config.db import in_schema
from tenants.models import Tenant

T = TypeVar("T")
logger = logging.getLogger(__name__)

HISTORY_DAYS = 30
# Conversations started on a day, lowest and highest; weekends a little busier for a café.
CONVERSATIONS_PER_DAY = (2, 5)
# Customers' local hours, weighted: mornings and early evenings are busy, nights quiet.
HOUR_WEIGHTS = [1, 1, 0, 0, 0, 0, 1, 3, 6, 8, 8, 7, 7, 6, 5, 5, 5, 6, 7, 7, 6, 4, 3, 2]
# Where conversations come from: mostly the website's widget.
CHANNEL_WEIGHTS: tuple[tuple[str, int], ...] = (
    (str(Channel.WIDGET), 80), (str(Channel.MESSAGING), 14), (str(Channel.API), 6))
# Conversations in the last day and a half are more likely still open, as in a real inbox.
RECENT = timedelta(hours=36)

UNKNOWN_QUESTIONS = {
    "cafe": ["Do you sell gift cards?", "Can I book the whole place for a birthday party?",
             "Are you hiring at the moment?", "Do you do catering for offices?",
             "Can I leave my bike in your yard?", "do you have a loyalty card"],
    "shop": ["Do you sell gift cards?", "Do you have a physical store I can visit?",
             "Are you hiring?", "do you do student discount", "Will the linen shirt come back in stock in XL?",
             "Can I change the delivery address after ordering?", "Do you plant a tree for every order?",
             "Can I collect my order from your warehouse?"],
}
# What customers say when they want a person; each names one of the business's human-only topics.
HUMAN_REQUESTS = {
    "cafe": ["I had an allergic reaction after eating here yesterday, can I speak to someone?",
             "I'd like a refund, my breakfast this morning was cold",
             "I want to make a complaint about how I was spoken to at the counter",
             "Could someone send me a catering quote for 40 people next Friday?"],
    "shop": ["I want to make a complaint about my last order",
             "My parcel arrived today with a damaged item, the hoodie is torn",
             "I will file a chargeback if nobody answers me about my payment",
             "We run a small boutique and are interested in wholesale, who can I talk to?"],
}
FOLLOW_UPS = ["Thanks!", "Great, thank you", "ok cheers", "Perfect, thanks a lot", "Thank you so much!"]
AGENT_REPLIES = [
    "Hi, I'm sorry about that. I'm looking into it now and will sort it out for you.",
    "Thanks for your patience. I've checked and we'll make this right today.",
    "Hello! I've taken a look: I'll send you an email with everything in a few minutes.",
    "Thanks for letting us know. I've passed this on and we'll get back to you by tomorrow.",
]
AGENT_CLOSINGS = ["All done, have a lovely day!", "That's sorted now. Anything else, just write.",
                  "You're welcome! Take care."]
NAMES = ["Maria", "Tom", "Aisha", "Lukas", "Sofia", "James", "Noor", "Daan", "Emma", "Oliver", "Lena", "Sam",
         "Fatima", "Ruben", "Chloe", "Jonas", "Priya", "Ben", "Eva", "Milan"]


class _HistoricalClock:
    """While installed, the process's clock (time-machine: `time.time()`, `datetime.now()`, and so
    `django.utils.timezone.now()`) stands at the instant last set with `at`; monotonic clocks, which
    the event loop and timeouts use, are left alone.

    Installed for one tenant's load and removed right after: nothing else reads the clock meanwhile
    (`demo load` runs before the web, worker and beat processes start).
    """

    def __init__(self) -> None:
        self._travel: time_machine.travel | None = None

    def at(self, instant: datetime) -> datetime:
        self._stop()
        self._travel = time_machine.travel(instant, tick=False)
        self._travel.start()
        return instant

    def _stop(self) -> None:
        if self._travel is not None:
            self._travel.stop()
            self._travel = None

    @contextlib.contextmanager
    def installed(self) -> Iterator[_HistoricalClock]:
        try:
            yield self
        finally:
            self._stop()


@dataclass(frozen=True)
class _Content:
    known: list[str]  # how customers ask what the FAQ answers
    unknown: list[str]
    human_only: list[str]
    orders: list[tuple[str, str]]  # number, email


def _content(*, fixtures: Path) -> _Content:
    from orders.models import Order

    known: list[str] = []
    faq = fixtures / "faq.csv"
    if faq.exists():
        with faq.open(newline="", encoding="utf-8-sig") as stream:
            for row in csv.DictReader(stream):
                variants = [v.strip() for v in (row.get("variants") or "").split("|") if v.strip()]
                known += [row["question"], *variants]
    profile = services.business_profile_get()
    human_only = HUMAN_REQUESTS.get(fixtures.name, [])
    if not human_only:
        human_only = [f"I need to talk to someone about this: {topic}" for topic in profile.human_only_topics]
    orders = [(number, email) for number, email in Order.objects.exclude(email="").values_list("number", "email")]
    return _Content(known=known, unknown=UNKNOWN_QUESTIONS.get(fixtures.name, UNKNOWN_QUESTIONS["cafe"]),
                    human_only=human_only, orders=orders[:12])


class _Writer:
    """Writes one conversation's events in order, each at its own moment, through the services.

    On one event loop for the whole history, as a web process answers: the services run on the
    database threads (config.db), the answers on the loop, and the loop's connections serve them all.
    """

    def __init__(self, *, schema_name: str, clock: _HistoricalClock, agent: User | None, rng: random.Random) -> None:
        self.schema_name, self.clock, self.agent, self.rng = schema_name, clock, agent, rng
        self.visitors = 0
        self.handoffs_recent = 0

    async def _call(self, at: datetime, function: Callable[..., T], /, **kwargs: Any) -> T:
        self.clock.at(at)
        return await in_schema(self.schema_name, functools.partial(function, **kwargs))

    async def customer(self, at: datetime) -> Contact:
        self.visitors += 1
        name = self.rng.choice(NAMES) if self.rng.random() < 0.6 else ""
        contact = await self._call(at, services.contact_get_or_create,
                                   visitor_id=f"demo-{self.schema_name}-{self.visitors}", name=name)
        return contact

    async def start(self, at: datetime, contact: Contact, text: str, channel: str) -> Conversation:
        conversation = await self._call(at, services.conversation_start, contact=contact, channel=channel)
        await self.say(at, conversation, text)
        return conversation

    async def say(self, at: datetime, conversation: Conversation, text: str) -> None:
        received = await self._call(at, services.message_receive, conversation=conversation, text=text)
        await self._answer(at, received)

    async def _answer(self, asked: datetime, received: services.ReceivedMessage) -> None:
        from chat.assistant.engine import answer_customer_message

        if received.needs_answer:
            now = self.clock.at(asked + timedelta(seconds=self.rng.uniform(1.5, 6)))
            await answer_customer_message(schema_name=self.schema_name, message_id=received.message.pk, now=now)

    async def status(self, conversation: Conversation) -> str:
        return await in_schema(self.schema_name, lambda: Conversation.objects.values_list("status", flat=True)
                               .get(pk=conversation.pk))

    async def agent_handles(self, at: datetime, conversation: Conversation, *, resolve: bool) -> datetime:
        """An agent takes over, replies, and (if `resolve`) closes it; returns when the last of it happened."""
        agent = self.agent
        assert agent is not None
        await self._call(at, services.conversation_take_over, conversation=conversation, agent=agent)
        at += timedelta(seconds=self.rng.randint(30, 180))
        await self._call(at, services.agent_message_send, conversation=conversation, agent=agent,
                         text=self.rng.choice(AGENT_REPLIES))
        if not resolve:
            return at
        at += timedelta(minutes=self.rng.randint(2, 25))
        await self._call(at, services.agent_message_send, conversation=conversation, agent=agent,
                         text=self.rng.choice(AGENT_CLOSINGS))
        at += timedelta(minutes=self.rng.randint(1, 10))
        await self._call(at, services.conversation_resolve, conversation=conversation, actor=agent.get_username())
        return at

    async def resolve(self, at: datetime, conversation: Conversation, actor: str) -> None:
        await self._call(at, services.conversation_resolve, conversation=conversation, actor=actor)

    async def rate(self, at: datetime, conversation: Conversation, score: int) -> None:
        await self._call(at, services.conversation_rate, conversation=conversation, score=score)


def _agent() -> User | None:
    from tenants.services import ROLE_AGENT, ROLE_OWNER

    for role in (ROLE_AGENT, ROLE_OWNER):
        user = User.objects.filter(groups__name=role, is_active=True).order_by("pk").first()
        if user is not None:
            return user
    return None


def _moments(*, rng: random.Random, zone: ZoneInfo, today: date, until: datetime) -> list[datetime]:
    """When each conversation started: every day of the month before `until`, at customers' busy hours."""
    moments = []
    for days_ago in range(HISTORY_DAYS, -1, -1):
        day = today - timedelta(days=days_ago)
        low, high = CONVERSATIONS_PER_DAY
        for _ in range(rng.randint(low, high + (1 if day.weekday() >= 5 else 0))):
            hour = rng.choices(range(24), weights=HOUR_WEIGHTS)[0]
            local = datetime(day.year, day.month, day.day, hour, rng.randint(0, 59), rng.randint(0, 59), tzinfo=zone)
            # Early enough that what follows it (answers, an agent's reply within the hour and a
            # half, the resolution and the rating) is in the past too.
            if local < until - timedelta(hours=3):
                moments.append(local)
    return sorted(moments)


async def _conversation(writer: _Writer, content: _Content, started: datetime, now: datetime,
                        kind: str | None = None) -> None:
    """One customer's visit: a question of some kind, what the product did with it, and how it ended."""
    rng = writer.rng
    channel = rng.choices([c for c, _ in CHANNEL_WEIGHTS], weights=[w for _, w in CHANNEL_WEIGHTS])[0]
    contact = await writer.customer(started)
    recent = now - started < RECENT
    kind = kind or rng.choices(["known", "unknown", "human", "order"],
                               weights=[62, 16, 10 if content.human_only else 0, 12 if content.orders else 0])[0]
    at = started
    if kind == "order":
        number, email = rng.choice(content.orders)
        conversation = await writer.start(at, contact, f"Hi, where is my order {number}?", channel)
        at += timedelta(seconds=rng.randint(20, 90))
        await writer.say(at, conversation, email)
    elif kind == "human":
        conversation = await writer.start(at, contact, rng.choice(content.human_only), channel)
    else:
        pool = content.known if kind == "known" else content.unknown
        conversation = await writer.start(at, contact, rng.choice(pool), channel)
        if rng.random() < 0.35:  # a second question in the same visit
            at += timedelta(seconds=rng.randint(30, 240))
            await writer.say(at, conversation, rng.choice(content.known))
    at += timedelta(seconds=rng.randint(20, 120))

    if await writer.status(conversation) == ConversationStatus.NEEDS_HUMAN:
        # Recent handoffs take turns: one still waiting for the team (the inbox's first job), the
        # next taken over and under way; older ones were answered and closed.
        writer.handoffs_recent += recent
        if writer.agent is None or (recent and writer.handoffs_recent % 2 == 1):
            return
        taken = at + timedelta(minutes=rng.randint(2, 90))
        end = await writer.agent_handles(taken, conversation, resolve=not recent)
        if not recent and rng.random() < 0.55:
            await writer.rate(end + timedelta(seconds=rng.randint(10, 120)), conversation,
                              rng.choices([5, 4, 3, 2, 1], weights=[50, 28, 10, 7, 5])[0])
        return
    if rng.random() < 0.5:
        await writer.say(at, conversation, rng.choice(FOLLOW_UPS))
        at += timedelta(seconds=rng.randint(10, 60))
    if rng.random() < 0.4:  # the widget's rating card, right after the answer
        await writer.rate(at + timedelta(seconds=rng.randint(5, 60)), conversation,
                          rng.choices([5, 4, 3, 2, 1], weights=[55, 25, 10, 6, 4])[0])
    # Only the team resolves: going through the inbox later that day, it closes most of what the
    # assistant handled; the last day and a half is still there to look at.
    if recent or writer.agent is None or rng.random() < 0.15:
        return
    await writer.resolve(at + timedelta(minutes=rng.randint(20, 480)), conversation,
                         actor=writer.agent.get_username())


def history_write(*, tenant: Tenant, fixtures: Path, now: datetime | None = None) -> int:
    """About HISTORY_DAYS days of conversations ending at `now` (default: the real now); returns how many."""
    now = now or django_timezone.now()
    zone = ZoneInfo(tenant.timezone)
    rng = random.Random(f"demo-history-{tenant.schema_name}")
    content = _content(fixtures=fixtures)
    clock = _HistoricalClock()
    writer = _Writer(schema_name=connection.schema_name, clock=clock, agent=_agent(), rng=rng)
    moments = _moments(rng=rng, zone=zone, today=now.astimezone(zone).date(), until=now)


    # The last visits ask for a person: the inbox opens on one waiting and one under way.
    last_kinds = ["human", "human"] if content.human_only else []

    async def write() -> None:
        for number, started in enumerate(moments):
            kind = last_kinds[number - len(moments)] if number >= len(moments) - len(last_kinds) else None
            await _conversation(writer, content, started, now, kind)

    with clock.installed():
        run_then_close_llm_clients(write())
    return len(moments)


def load_demo(*, tenant: Tenant, fixtures: Path, **_: Any) -> None:
    if Conversation.objects.exclude(channel=Channel.PLAYGROUND).exists():
        return  # a load interrupted after the history was written: write it only once
    began = time.monotonic()
    count = history_write(tenant=tenant, fixtures=fixtures)
    logger.info("demo history for %s: %d conversations in %.1fs", tenant.schema_name, count,
                time.monotonic() - began)
