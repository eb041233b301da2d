"""Cost control: what each tenant used this month, against its plan, and telling the owners.

The ledger (`tenants.UsageEntry`, public schema) is the only truth; every decision about a line is
made on sums over it (the running totals below are only a shortcut far from the lines). What counts:

- messages: `message` entries, one per answered customer message whatever the mode (llm, offline,
  cache), because the plan sells answered messages;
- tokens: chat-model tokens, carried by `message` entries (the answer's tokens) and by `llm_call`
  entries (model calls that answered no customer message); embedding tokens are not chat tokens;
- cost: every entry's estimated cost, embeddings included.

The owner trying the assistant (the playground, `manage.py assistant ask`) is no customer: its answers
are `playground` entries, which count toward none of these and are shown apart (questions and cost).
Which channel is which is said once, in PRACTICE_CHANNELS.

Summing the ledger after every answer would grow with the month's traffic, so Redis keeps running
totals beside it, as a cache only: seeded from the ledger, incremented after each entry commits,
dropped every USAGE_TOTALS_CACHE_SECONDS so any drift is short-lived. They only tell whether the
month is clearly below the warning line; whenever they say otherwise, the ledger decides.

A plan level is the higher of the two percentages: at 80% the owners are warned, at 100% the
assistant stops calling the model (offline mode answers) and the owners are told. Each level is
told once per tenant and month, guarded by a unique constraint rather than a check.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import cast

import redis
from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import send_mail
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django_tenants.utils import schema_context

from chat.conversations.models import Channel
from config.celery import Queue, tenant_task
from config.db import in_schema_ahead
from config.loops import PerLoop
from config.outbox.services import outbox_send
from config.redis import RedisScript, redis_client, redis_client_async, tenant_key
from tenants.exceptions import TenantNotFound
from tenants.models import Tenant, UsageEntry, UsageNotice
from tenants.selectors import month_start
from tenants.services import ROLE_OWNER

__all__ = [
    "LEVEL_EXHAUSTED",
    "LEVEL_OK",
    "LEVEL_WARNING",
    "PRACTICE_CHANNELS",
    "UsageMonth",
    "llm_allowed",
    "llm_allowed_async",
    "usage_month",
    "usage_notice_email",
    "usage_notice_email_send",
    "usage_notices_current",
    "usage_answer_counted",
    "usage_answer_entry",
    "usage_counts_toward_plan",
    "usage_kind_for_channel",
    "usage_record_answer",
]

logger = logging.getLogger(__name__)

LEVEL_OK = "ok"
LEVEL_WARNING = str(UsageNotice.Level.WARNING)
LEVEL_EXHAUSTED = str(UsageNotice.Level.EXHAUSTED)
WARNING_PERCENT = 80
EXHAUSTED_PERCENT = 100
# Levels in the order a month reaches them; reaching one means every earlier one was reached too.
_LEVELS_IN_ORDER = (LEVEL_WARNING, LEVEL_EXHAUSTED)

# The generation is bumped after every recorded entry; a cached level remembers the generation it
# was computed at, so a level read before a new entry committed is never served after it.
_GENERATION_TTL_SECONDS = 40 * 24 * 3600

# Conversations that are the owner trying the assistant, not a customer asking: their answers are
# recorded apart and count toward no plan limit.
PRACTICE_CHANNELS: tuple[str, ...] = (str(Channel.PLAYGROUND), str(Channel.CONSOLE))
# What counts toward a plan's tokens and shows as its cost: everything but embeddings (tokens only) and
# the owner's practice.
_NOT_PLAN_TOKENS = (UsageEntry.Kind.EMBEDDING, UsageEntry.Kind.PLAYGROUND)


def usage_kind_for_channel(channel: str) -> str:
    """The ledger kind of an answer in a conversation of this channel."""
    return str(UsageEntry.Kind.PLAYGROUND if channel in PRACTICE_CHANNELS else UsageEntry.Kind.MESSAGE)


def usage_counts_toward_plan(channel: str) -> bool:
    return channel not in PRACTICE_CHANNELS


@dataclass(frozen=True)
class UsageMonth:
    messages: int
    tokens: int
    cost_minor: int
    # The owner's questions (playground, console) and their cost: counted toward nothing above.
    playground_questions: int
    playground_cost_minor: int
    # None: no plan, so no limit.
    message_limit: int | None
    token_limit: int | None
    percent: float
    level: str

    @property
    def llm_allowed(self) -> bool:
        return self.level != LEVEL_EXHAUSTED


# ----------------------------------------------------------------------------- reads


def usage_month(*, schema_name: str, now: datetime | None = None) -> UsageMonth:
    """The tenant's usage in the month containing `now` (this month by default), against its plan."""
    month, _tenant_id = _usage_month_with_tenant(schema_name=schema_name, now=now)
    return month


def _usage_month_with_tenant(*, schema_name: str, now: datetime | None) -> tuple[UsageMonth, int]:
    start = month_start(now)
    end = _next_month_start(start)
    in_month = Q(usage_entries__created__gte=start, usage_entries__created__lt=end)
    # One query: the tenant's plan limits and the month's sums (a LEFT JOIN on the ledger, so a
    # tenant without entries still gets its row, with zeros).
    row = (
        Tenant.objects.filter(schema_name=schema_name)
        .values("pk", "plan__monthly_messages", "plan__monthly_tokens")
        .annotate(
            used_messages=Coalesce(
                Sum("usage_entries__quantity", filter=in_month & Q(usage_entries__kind=UsageEntry.Kind.MESSAGE)), 0
            ),
            used_tokens=Coalesce(
                Sum(
                    F("usage_entries__tokens_in") + F("usage_entries__tokens_out"),
                    filter=in_month & ~Q(usage_entries__kind__in=_NOT_PLAN_TOKENS),
                ),
                0,
            ),
            used_cost=Coalesce(Sum("usage_entries__cost_minor",
                                   filter=in_month & ~Q(usage_entries__kind=UsageEntry.Kind.PLAYGROUND)), 0),
            playground_questions=Coalesce(Sum("usage_entries__quantity",
                                              filter=in_month & Q(usage_entries__kind=UsageEntry.Kind.PLAYGROUND)), 0),
            playground_cost=Coalesce(Sum("usage_entries__cost_minor",
                                         filter=in_month & Q(usage_entries__kind=UsageEntry.Kind.PLAYGROUND)), 0),
        )
        .order_by()
        .first()
    )
    if row is None:
        raise TenantNotFound(f"There is no tenant '{schema_name}'.")
    messages, tokens = int(row["used_messages"]), int(row["used_tokens"])
    message_limit, token_limit = row["plan__monthly_messages"], row["plan__monthly_tokens"]
    month = UsageMonth(
        messages=messages,
        tokens=tokens,
        cost_minor=int(row["used_cost"]),
        playground_questions=int(row["playground_questions"]),
        playground_cost_minor=int(row["playground_cost"]),
        message_limit=message_limit,
        token_limit=token_limit,
        percent=max(_percent(messages, message_limit), _percent(tokens, token_limit)),
        level=_level(((messages, message_limit), (tokens, token_limit))),
    )
    return month, int(row["pk"])


def _next_month_start(start: datetime) -> datetime:
    return (start + timedelta(days=32)).replace(day=1)


def _percent(used: int, limit: int | None) -> float:
    if limit is None:
        return 0.0
    if limit == 0:
        # A plan that includes none of it is used up from the start.
        return 100.0
    return used * 100 / limit


def _level(used_and_limits: tuple[tuple[int, int | None], ...]) -> str:
    """Compared in integers, so 80 of 100 is exactly the warning line (80/100*100 as a float is not
    guaranteed to be 80.0 for every limit)."""

    def reached(percent: int) -> bool:
        return any(limit is not None and used * 100 >= percent * limit for used, limit in used_and_limits)

    if reached(EXHAUSTED_PERCENT):
        return LEVEL_EXHAUSTED
    if reached(WARNING_PERCENT):
        return LEVEL_WARNING
    return LEVEL_OK


async def llm_allowed_async(*, schema_name: str) -> bool:
    """llm_allowed for async code: the cached level is read on the event loop's own Redis client;
    only a missing or outdated level goes to a database thread to be computed."""
    try:
        generation, cached = await redis_client_async().mget([_generation_key(schema_name), _level_key(schema_name)])
    except redis.RedisError:
        cached = None
    if cached is not None:
        level = _cached_level(cached, generation=generation or "0")
        if level is not None:
            return level != LEVEL_EXHAUSTED
    # When the cached level expires, every answer under way would compute it at once; one does,
    # the others of this event loop wait for its result.
    computing = _computing_levels.get()
    pending = computing.get(schema_name)
    if pending is None:
        # Ahead of the database pool's queue: in a burst, that queue is every message being stored.
        pending = computing[schema_name] = asyncio.get_running_loop().create_task(
            in_schema_ahead(schema_name, llm_allowed, schema_name=schema_name))
        pending.add_done_callback(lambda _task: computing.pop(schema_name, None))
    return await asyncio.shield(pending)


_computing_levels: PerLoop[dict[str, asyncio.Task[bool]]] = PerLoop(dict)


def _cached_level(cached: str, *, generation: str) -> str | None:
    """The level a cache entry holds, or None when it was computed before the latest entry."""
    cached_generation, _, level = cached.partition(":")
    return level if cached_generation == generation else None


def llm_allowed(*, schema_name: str) -> bool:
    """May the assistant call the model for this tenant now? False once the plan is used up.

    Called before every model call, so the level is cached in Redis for a few seconds (one round
    trip when cached). Recording usage bumps the tenant's generation, which discards the cached
    level at once: the answer that reaches 100% is followed by no model call. The few seconds only
    delay a plan change made in the admin.
    """
    client = redis_client()
    generation_key = _generation_key(schema_name)
    level_key = _level_key(schema_name)
    try:
        # The client decodes responses (decode_responses=True): strings, not bytes.
        generation, cached = cast("list[str | None]", client.mget([generation_key, level_key]))
    except redis.RedisError:
        logger.warning("Redis unavailable for the usage level of %s; reading the ledger", schema_name, exc_info=True)
        return usage_month(schema_name=schema_name).llm_allowed
    generation = generation or "0"
    if cached is not None and (level := _cached_level(cached, generation=generation)) is not None:
        return level != LEVEL_EXHAUSTED
    level = _usage_level(schema_name=schema_name, generation=generation)
    _usage_level_remember(schema_name=schema_name, generation=generation, level=level)
    return level != LEVEL_EXHAUSTED


def _usage_level(*, schema_name: str, generation: str | None) -> str:
    """The month's level: from the running totals when they are clearly below the warning line,
    from the ledger otherwise (so every line is decided on the ledger's figures)."""
    if _usage_estimate_level(schema_name=schema_name, generation=generation) == LEVEL_OK:
        return LEVEL_OK
    return usage_month(schema_name=schema_name).level


def _level_key(schema_name: str) -> str:
    return tenant_key(schema_name, "usage", "level", f"{month_start():%Y-%m}")


# Caches the level only if no entry was recorded since `generation` was read: a level computed
# before a newer entry committed must not be served after it.
_REMEMBER_IF_CURRENT = RedisScript("""
if (redis.call('GET', KEYS[1]) or '0') == ARGV[1] then
    redis.call('SET', KEYS[2], ARGV[1] .. ':' .. ARGV[2], 'EX', ARGV[3])
end
""")


def _usage_level_remember(*, schema_name: str, generation: str, level: str) -> None:
    try:
        _REMEMBER_IF_CURRENT(redis_client(), keys=[_generation_key(schema_name), _level_key(schema_name)],
                             args=[generation, level, int(settings.USAGE_LEVEL_CACHE_SECONDS)])
    except redis.RedisError:
        logger.warning("could not cache the usage level of %s", schema_name, exc_info=True)


def _totals_key(schema_name: str) -> str:
    return tenant_key(schema_name, "usage", "totals", f"{month_start():%Y-%m}")


# Seeds the running totals only if no entry was recorded since `generation` was read (one recorded
# meanwhile may be missing from the sum and would never be added). ARGV: generation, messages,
# tokens, message limit, token limit ('' = none), ttl.
_TOTALS_SEED_IF_CURRENT = RedisScript("""
if (redis.call('GET', KEYS[1]) or '0') == ARGV[1] then
    redis.call('HSET', KEYS[2], 'messages', ARGV[2], 'tokens', ARGV[3], 'message_limit', ARGV[4],
               'token_limit', ARGV[5])
    redis.call('EXPIRE', KEYS[2], ARGV[6])
end
""")


def _usage_estimate_level(*, schema_name: str, generation: str | None, totals: dict[str, str] | None = None) -> str:
    """The level by the running totals (read here unless given); seeded from the ledger when
    missing. LEVEL_EXHAUSTED (ask the ledger) when Redis cannot tell."""
    client = redis_client()
    if totals is None:
        try:
            totals = cast("dict[str, str]", client.hgetall(_totals_key(schema_name)))
        except redis.RedisError:
            return LEVEL_EXHAUSTED
    if totals:
        def limit(name: str) -> int | None:
            return int(totals[name]) if totals.get(name) else None

        return _level(((int(totals.get("messages") or 0), limit("message_limit")),
                       (int(totals.get("tokens") or 0), limit("token_limit"))))
    month = usage_month(schema_name=schema_name)
    if generation is not None:
        try:
            _TOTALS_SEED_IF_CURRENT(client, keys=[_generation_key(schema_name), _totals_key(schema_name)], args=[
                generation, month.messages, month.tokens,
                "" if month.message_limit is None else month.message_limit,
                "" if month.token_limit is None else month.token_limit,
                int(settings.USAGE_TOTALS_CACHE_SECONDS)])
        except redis.RedisError:
            logger.warning("could not keep the usage totals of %s", schema_name, exc_info=True)
    return month.level


def usage_notices_current(*, schema_name: str) -> list[UsageNotice]:
    """This month's notices for the dashboard banner, the most serious first."""
    notices = list(UsageNotice.objects.filter(tenant__schema_name=schema_name, month=month_start().date()))
    return sorted(notices, key=lambda notice: _LEVELS_IN_ORDER.index(notice.level), reverse=True)


def _generation_key(schema_name: str) -> str:
    return tenant_key(schema_name, "usage", "generation")


# ----------------------------------------------------------------------------- writes


def usage_record_answer(*, schema_name: str, mode: str, tokens_in: int, tokens_out: int, cost_minor: int,
                        channel: str = str(Channel.WIDGET)) -> None:
    """Append one answered message to the ledger, then tell the owners if it crossed a line (a
    practice channel's answer is recorded apart and crosses none).

    Safe inside the caller's transaction: the cached level is discarded and the lines are checked
    once it commits. Checked any earlier, two answers committing side by side could each see only
    its own entry and both miss the line they crossed together.
    """
    tenant_id = Tenant.objects.filter(schema_name=schema_name).values_list("pk", flat=True).first()
    if tenant_id is None:
        raise TenantNotFound(f"There is no tenant '{schema_name}'.")
    entry = usage_answer_entry(tokens_in=tokens_in, tokens_out=tokens_out, cost_minor=cost_minor)
    entry.kind = usage_kind_for_channel(channel)
    entry.tenant_id = tenant_id
    entry.save(force_insert=True)
    logger.debug(
        "usage recorded for %s: %s %s answer, %s+%s tokens, cost %s", schema_name, entry.kind, mode, tokens_in,
        tokens_out, cost_minor
    )
    if usage_counts_toward_plan(channel):
        usage_answer_counted(schema_name=schema_name, tokens=tokens_in + tokens_out)


def usage_answer_entry(*, tokens_in: int, tokens_out: int, cost_minor: int) -> UsageEntry:
    """The ledger entry of one answered customer message, not saved and with no tenant yet (the
    one-statement store of an answer, chat.conversations.statements, inserts it with the answer and
    makes it a `playground` entry in a practice channel's conversation)."""
    return UsageEntry(kind=UsageEntry.Kind.MESSAGE, quantity=1, tokens_in=tokens_in, tokens_out=tokens_out,
                      cost_minor=cost_minor)


def usage_answer_counted(*, schema_name: str, tokens: int) -> None:
    """After an answer's ledger entry: once the transaction commits, the cached level is discarded
    and the owners are told if it crossed a line."""
    # Robust: the answer is stored and counted; a failure to tell the owners must not undo that.
    transaction.on_commit(lambda: _usage_counted_and_checked(schema_name=schema_name, tokens=tokens), robust=True)


def _usage_counted_and_checked(*, schema_name: str, tokens: int) -> None:
    counted = _usage_counted(schema_name=schema_name, messages=1, tokens=tokens)
    _usage_thresholds_check(schema_name=schema_name, counted=counted)


# Bumps the generation (discarding cached levels) and adds the entry to the running totals, if
# they exist: missing totals are seeded from the ledger, which holds this entry already. Returns
# the new generation and the totals, which the thresholds check needs next (one round trip).
# ARGV: messages, tokens, generation ttl.
_COUNTED = RedisScript("""
local generation = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
if redis.call('EXISTS', KEYS[2]) == 1 then
    redis.call('HINCRBY', KEYS[2], 'messages', ARGV[1])
    redis.call('HINCRBY', KEYS[2], 'tokens', ARGV[2])
end
return {generation, redis.call('HGETALL', KEYS[2])}
""")


def _usage_counted(*, schema_name: str, messages: int, tokens: int) -> tuple[str, dict[str, str]] | None:
    """The generation after this entry and the running totals with it ({} when there are none),
    or None when Redis could not be told."""
    try:
        generation, flat = _COUNTED(redis_client(), keys=[_generation_key(schema_name), _totals_key(schema_name)],
                                    args=[messages, tokens, _GENERATION_TTL_SECONDS])
    except redis.RedisError:
        logger.warning(
            "could not discard the cached usage level of %s; it expires in %ss",
            schema_name,
            settings.USAGE_LEVEL_CACHE_SECONDS,
            exc_info=True,
        )
        return None
    return str(generation), dict(zip(flat[::2], flat[1::2], strict=True))


def _usage_thresholds_check(*, schema_name: str, counted: tuple[str, dict[str, str]] | None) -> None:
    # Runs after the generation bump of this entry: the level computed here, which counts it, is
    # what the next answer's llm_allowed needs, so it is cached rather than computed a second time.
    generation: str | None
    totals: dict[str, str] | None = None
    if counted is not None:
        generation, totals = counted
    else:
        try:
            generation = str(redis_client().get(_generation_key(schema_name)) or "0")
        except redis.RedisError:
            generation = None
    if _usage_estimate_level(schema_name=schema_name, generation=generation, totals=totals) == LEVEL_OK:
        if generation is not None:
            _usage_level_remember(schema_name=schema_name, generation=generation, level=LEVEL_OK)
        return
    month, tenant_id = _usage_month_with_tenant(schema_name=schema_name, now=None)
    if generation is not None:
        _usage_level_remember(schema_name=schema_name, generation=generation, level=month.level)
    if month.level == LEVEL_OK:
        return
    reached = _LEVELS_IN_ORDER[: _LEVELS_IN_ORDER.index(month.level) + 1]
    first_of_month = month_start().date()
    # The notices and the promise of their e-mail (an outbox row, in the tenant's schema) commit
    # together: Redis down now delays the e-mail until the outbox relay sends it, and never loses it.
    # The caller may be on any schema (a thread of sync_to_async starts on public), hence the context.
    with schema_context(schema_name), transaction.atomic():
        created = [
            notice
            for level in reached
            if (notice := _usage_notice_create(tenant_id=tenant_id, month=first_of_month, level=level))
        ]
        if not created:
            return
        # One e-mail, about the most serious level reached: an answer that jumps from 79% to 100%
        # tells the owners the plan is used up, not also that it is nearly used up.
        outbox_send(task=usage_notice_email_send, args=[created[-1].pk])


def _usage_notice_create(*, tenant_id: int, month: date, level: str) -> UsageNotice | None:
    """The new notice, or None when this level was already told this month."""
    # Only a shortcut for the many answers after the line: the unique constraint is what decides.
    if UsageNotice.objects.filter(tenant_id=tenant_id, month=month, level=level).exists():
        return None
    try:
        with transaction.atomic():
            return UsageNotice.objects.create(tenant_id=tenant_id, month=month, level=level)
    except IntegrityError:
        # Another answer crossed the same line at the same moment and told the owners.
        return None


def usage_notice_email(*, notice_id: int) -> int:
    """E-mail every owner of the current tenant about a notice; returns how many were e-mailed.

    Runs in the tenant's schema (owners are that schema's users). Does nothing the second time.
    """
    schema_name = connection.schema_name
    with transaction.atomic():
        notice = (
            UsageNotice.objects.select_for_update()
            .select_related("tenant")
            .filter(pk=notice_id, tenant__schema_name=schema_name)
            .first()
        )
        if notice is None:
            logger.warning("usage notice %s is not one of %s's; nothing sent", notice_id, schema_name)
            return 0
        if notice.emailed is not None:
            return 0
        owners = list(
            User.objects.filter(groups__name=ROLE_OWNER, is_active=True)
            .exclude(email="")
            .values_list("email", flat=True)
            .distinct()
        )
        if owners:
            subject, body = _notice_email_text(notice=notice, month=usage_month(schema_name=schema_name))
            send_mail(subject, body, None, owners)
        else:
            logger.warning(
                "tenant %s has no owner with an e-mail address; usage notice %s not sent", schema_name, notice_id
            )
        notice.emailed = timezone.now()
        notice.save(update_fields=["emailed"])
    logger.info("usage notice %s (%s) sent to %s owner(s) of %s", notice_id, notice.level, len(owners), schema_name)
    return len(owners)


def _notice_email_text(*, notice: UsageNotice, month: UsageMonth) -> tuple[str, str]:
    figures = (
        f"Customer messages answered: {month.messages}"
        + (f" of {month.message_limit}" if month.message_limit is not None else "")
        + f"\nModel tokens: {month.tokens}"
        + (f" of {month.token_limit}" if month.token_limit is not None else "")
    )
    business = notice.tenant.name
    if notice.level == LEVEL_EXHAUSTED:
        subject = f"{business}: your monthly plan is used up"
        lead = (
            f"Your assistant has used everything your plan includes for {notice.month:%B %Y}. "
            "It keeps answering customers, from your knowledge base and catalog only (offline mode), "
            "until the month ends or you upgrade your plan."
        )
    else:
        subject = f"{business}: {WARNING_PERCENT}% of your monthly plan used"
        lead = (
            f"Your assistant has used {month.percent:.0f}% of what your plan includes for "
            f"{notice.month:%B %Y}. At 100% it answers from your knowledge base and catalog only "
            "(offline mode) until the month ends; upgrade your plan to avoid that."
        )
    return subject, f"{lead}\n\n{figures}\n"


@tenant_task(queue=Queue.MEDIUM)
def usage_notice_email_send(notice_id: int) -> int:
    """Tell the owners a plan level was reached (sent after the notice's row committed)."""
    return usage_notice_email(notice_id=notice_id)
