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

Summing the ledger after every answer would grow with the month's traffic, so one Redis hash per
tenant and month keeps, as a cache only: running totals (seeded from the ledger, incremented after
each entry commits) and the ledger's level (until the next entry). It is dropped every
USAGE_TOTALS_CACHE_SECONDS, so any drift is short-lived. The totals only tell whether the month is
clearly below the warning line; whenever they say otherwise, the ledger decides.

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
from config.db import in_schema
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
]

logger = logging.getLogger(__name__)

LEVEL_OK = "ok"
LEVEL_WARNING = str(UsageNotice.Level.WARNING)
LEVEL_EXHAUSTED = str(UsageNotice.Level.EXHAUSTED)
WARNING_PERCENT = 80
EXHAUSTED_PERCENT = 100
# Levels in the order a month reaches them; reaching one means every earlier one was reached too.
_LEVELS_IN_ORDER = (LEVEL_WARNING, LEVEL_EXHAUSTED)

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
    """llm_allowed for async code: the cached month is read on the event loop's own Redis client;
    only a level the cache cannot tell goes to a database thread to be computed."""
    cached: dict[str, str] | None
    try:
        cached = cast("dict[str, str]", await redis_client_async().hgetall(_month_key(schema_name)))
    except redis.RedisError:
        cached = None
    if cached is not None and (level := _cached_level(cached)) is not None:
        return level != LEVEL_EXHAUSTED
    # When the cached month expires, every answer under way would sum the ledger at once; one does,
    # the others of this event loop wait for its result.
    computing = _computing_levels.get()
    pending = computing.get(schema_name)
    if pending is None:
        pending = computing[schema_name] = asyncio.get_running_loop().create_task(
            in_schema(schema_name, llm_allowed, schema_name=schema_name))
        pending.add_done_callback(lambda _task: computing.pop(schema_name, None))
    return await asyncio.shield(pending)


_computing_levels: PerLoop[dict[str, asyncio.Task[bool]]] = PerLoop(dict)


def llm_allowed(*, schema_name: str) -> bool:
    """May the assistant call the model for this tenant now? False once the plan is used up.

    Called before every model call, so it reads the cached month (one round trip); recording usage
    drops the cached level at once, so the answer that reaches 100% is followed by no model call. A
    plan changed in the admin applies when the cached month expires (USAGE_TOTALS_CACHE_SECONDS).
    """
    try:
        # The client decodes responses (decode_responses=True): strings, not bytes.
        cached = cast("dict[str, str]", redis_client().hgetall(_month_key(schema_name)))
    except redis.RedisError:
        logger.warning("Redis unavailable for the usage level of %s; reading the ledger", schema_name, exc_info=True)
        return usage_month(schema_name=schema_name).llm_allowed
    level = _cached_level(cached)
    if level is None:
        month, _tenant_id = _usage_month_remembered(schema_name=schema_name, entries=cached.get("entries", "0"))
        level = month.level
    return level != LEVEL_EXHAUSTED


def _cached_level(cached: dict[str, str]) -> str | None:
    """The level the cached month tells: the ledger's, kept until the next entry; else OK when the
    running totals are clearly below the warning line; else None (the ledger must decide)."""
    if cached.get("level"):
        return cached["level"]
    if "messages" not in cached:
        return None

    def limit(name: str) -> int | None:
        return int(cached[name]) if cached.get(name) else None

    level = _level(((int(cached["messages"]), limit("message_limit")), (int(cached.get("tokens") or 0),
                                                                          limit("token_limit"))))
    return LEVEL_OK if level == LEVEL_OK else None


def _month_key(schema_name: str) -> str:
    return tenant_key(schema_name, "usage", f"{month_start():%Y-%m}")


# Keeps the ledger's month (totals, limits and level) only if no entry was counted since `entries`
# was read: a sum made before a newer entry committed would be missing it for good.
# ARGV: entries read, messages, tokens, message limit, token limit ('' = none), level, ttl.
_REMEMBER_IF_CURRENT = RedisScript("""
if (redis.call('HGET', KEYS[1], 'entries') or '0') == ARGV[1] then
    redis.call('HSET', KEYS[1], 'entries', ARGV[1], 'messages', ARGV[2], 'tokens', ARGV[3],
               'message_limit', ARGV[4], 'token_limit', ARGV[5], 'level', ARGV[6])
    if redis.call('TTL', KEYS[1]) < 0 then
        redis.call('EXPIRE', KEYS[1], ARGV[7])
    end
end
""")


def _usage_month_remembered(*, schema_name: str, entries: str | None) -> tuple[UsageMonth, int]:
    """The month from the ledger, kept in the cache when `entries` (the count read before summing)
    is still current; with `entries` None (Redis could not count) it is not kept."""
    month, tenant_id = _usage_month_with_tenant(schema_name=schema_name, now=None)
    if entries is None:
        return month, tenant_id
    try:
        _REMEMBER_IF_CURRENT(redis_client(), keys=[_month_key(schema_name)], args=[
            entries, month.messages, month.tokens,
            "" if month.message_limit is None else month.message_limit,
            "" if month.token_limit is None else month.token_limit,
            month.level, int(settings.USAGE_TOTALS_CACHE_SECONDS)])
    except redis.RedisError:
        logger.warning("could not keep the usage month of %s", schema_name, exc_info=True)
    return month, tenant_id


def usage_notices_current(*, schema_name: str) -> list[UsageNotice]:
    """This month's notices for the dashboard banner, the most serious first."""
    notices = list(UsageNotice.objects.filter(tenant__schema_name=schema_name, month=month_start().date()))
    return sorted(notices, key=lambda notice: _LEVELS_IN_ORDER.index(notice.level), reverse=True)


# ----------------------------------------------------------------------------- writes


def usage_answer_entry(*, tokens_in: int, tokens_out: int, cost_minor: int) -> UsageEntry:
    """The ledger entry of one answered customer message, not saved and with no tenant yet."""
    return UsageEntry(kind=UsageEntry.Kind.MESSAGE, quantity=1, tokens_in=tokens_in, tokens_out=tokens_out,
                      cost_minor=cost_minor)


def usage_answer_counted(*, schema_name: str, tokens: int) -> None:
    """After an answer's ledger entry: once the transaction commits, the cached level is dropped
    and the owners are told if it crossed a line."""
    # Robust: the answer is stored and counted; a failure to tell the owners must not undo that.
    transaction.on_commit(lambda: _usage_counted_and_checked(schema_name=schema_name, tokens=tokens), robust=True)


def _usage_counted_and_checked(*, schema_name: str, tokens: int) -> None:
    counted = _usage_counted(schema_name=schema_name, messages=1, tokens=tokens)
    _usage_thresholds_check(schema_name=schema_name, counted=counted)


# Counts the entry in the cached month: drops the ledger's level and adds the entry to the running
# totals, if they exist (missing totals are seeded from the ledger, which holds this entry already).
# Returns the month after it, which the thresholds check needs next (one round trip).
# ARGV: messages, tokens, ttl.
_COUNTED = RedisScript("""
redis.call('HINCRBY', KEYS[1], 'entries', 1)
redis.call('HDEL', KEYS[1], 'level')
if redis.call('HEXISTS', KEYS[1], 'messages') == 1 then
    redis.call('HINCRBY', KEYS[1], 'messages', ARGV[1])
    redis.call('HINCRBY', KEYS[1], 'tokens', ARGV[2])
end
if redis.call('TTL', KEYS[1]) < 0 then
    redis.call('EXPIRE', KEYS[1], ARGV[3])
end
return redis.call('HGETALL', KEYS[1])
""")


def _usage_counted(*, schema_name: str, messages: int, tokens: int) -> dict[str, str] | None:
    """The cached month after this entry, or None when Redis could not be told."""
    try:
        flat = _COUNTED(redis_client(), keys=[_month_key(schema_name)],
                        args=[messages, tokens, int(settings.USAGE_TOTALS_CACHE_SECONDS)])
    except redis.RedisError:
        logger.warning(
            "could not drop the cached usage level of %s; it expires in %ss",
            schema_name,
            settings.USAGE_TOTALS_CACHE_SECONDS,
            exc_info=True,
        )
        return None
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _usage_thresholds_check(*, schema_name: str, counted: dict[str, str] | None) -> None:
    # Runs after this entry was counted: far below the lines the running totals say so; otherwise
    # the ledger's level, which counts this entry, is kept for the next answer's llm_allowed.
    if counted is not None and _cached_level(counted) == LEVEL_OK:
        return
    month, tenant_id = _usage_month_remembered(schema_name=schema_name,
                                               entries=None if counted is None else counted.get("entries", "0"))
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
