"""The busiest writes, each in one SQL statement: a customer's message, with the conversation it
starts, and (see `answer_insert`) the assistant's answer.

Through the ORM, a widget's first message took nine round trips to PostgreSQL (the contact, then a
transaction for the conversation and its "created" event, then one that locked the conversation,
inserted the message and touched the conversation), 3.3 ms of a web process's CPU
(bench/widget_receive.py); an answer and its usage entry took two transactions. One statement with
data-modifying CTEs does the same work atomically, with no BEGIN or COMMIT trips: 0.8 ms for the
first message, and storing an answer went from 5.6 to 2.3 ms (bench/assistant_stages.py).

The rows are still built as model instances, and every column is filled the way the ORM fills it
(`pre_save` for automatic dates, `get_db_prep_save` for JSON and the like), so a field added to
these models later with a default needs no change here. Only a foreign key to a row inserted by
the same statement is written as an expression.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Field, Model
from django.utils import timezone
from django_tenants.utils import get_public_schema_name

from chat.conversations.models import AnswerState, Author, Conversation, ConversationEvent, ConversationStatus, Message
from tenants.models import Tenant, UsageEntry


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def _insert(alias: str, instance: Model, *, linked: dict[str, tuple[str, list[Any]]] | None = None,
            source: tuple[str, list[Any]] = ("", []), returning: Sequence[str] = ("id",),
            schema: str | None = None) -> tuple[str, list[Any]]:
    """`alias AS (INSERT INTO table (...) SELECT ... [FROM source] RETURNING ...)` and its parameters.
    `linked`: attribute name -> (SQL expression, its parameters), for columns taken from another CTE;
    `source`: what the SELECT reads from (another CTE), with its parameters; `schema`: the table's,
    when it is not the tenant's (the public ledger)."""
    linked = linked or {}
    source_sql, source_params = source
    sql, slots = _insert_sql(type(instance), alias, tuple((name, sql) for name, (sql, _) in linked.items()),
                             source_sql, tuple(returning), schema)
    params: list[Any] = []
    for slot in slots:
        if isinstance(slot, str):
            params.extend(linked[slot][1])
        else:
            params.append(slot.get_db_prep_save(slot.pre_save(instance, True), connection))
    return sql, [*params, *source_params]


@functools.cache
def _insert_sql(model: type[Model], alias: str, linked: tuple[tuple[str, str], ...], source_sql: str,
                returning: tuple[str, ...], schema: str | None) -> tuple[str, tuple[Field[Any, Any] | str, ...]]:
    """The statement of `_insert`, written once per shape rather than for every message (the model's
    fields walked and every name quoted again), and where each value comes from: a field of the
    instance, or a linked expression (named by its attribute)."""
    expressions = dict(linked)
    columns: list[str] = []
    values: list[str] = []
    slots: list[Field[Any, Any] | str] = []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue  # the sequence numbers it
        columns.append(_quote(field.column))
        if field.attname in expressions:
            values.append(expressions[field.attname])
            slots.append(field.attname)
        else:
            values.append("%s")
            slots.append(field)
    table = f"{_quote(schema)}.{_quote(model._meta.db_table)}" if schema else _quote(model._meta.db_table)
    sql = (f"{alias} AS (INSERT INTO {table} ({', '.join(columns)}) "
           f"SELECT {', '.join(values)}{f' FROM {source_sql}' if source_sql else ''} "
           f"RETURNING {', '.join(returning)})")
    return sql, tuple(slots)


def _statuses_the_assistant_replies_in() -> list[str]:
    return [status for status in ConversationStatus.values if Conversation.assistant_may_reply_in(status)]


def first_message_insert(*, conversation: Conversation, event: ConversationEvent, message: Message) -> None:
    """A new conversation, its first event and the customer's first message (three unsaved rows), in
    one statement. The instances get their ids, as the ORM's saves would give them."""
    new_conversation, conversation_params = _insert("new_conversation", conversation)
    from_new_conversation = {"conversation_id": ("new_conversation.id", [])}
    new_event, event_params = _insert("new_event", event, linked=from_new_conversation,
                                      source=("new_conversation", []))
    new_message, message_params = _insert("new_message", message, linked=from_new_conversation,
                                          source=("new_conversation", []))
    with connection.cursor() as cursor:
        cursor.execute(f"WITH {new_conversation}, {new_event}, {new_message} "
                       "SELECT new_conversation.id, new_message.id FROM new_conversation, new_message",
                       [*conversation_params, *event_params, *message_params])
        conversation.pk, message.pk = cursor.fetchone()
    event.conversation = message.conversation = conversation
    conversation._state.adding = message._state.adding = False


@dataclass(frozen=True)
class NextMessage:
    message: Message
    # The conversation's, as the message was stored.
    status: str
    channel: str
    started: datetime


def next_message_insert(*, conversation_id: int, text: str, client_id: str | None) -> NextMessage | None:
    """A customer's message in a conversation that is not resolved, in one statement: the conversation
    row is locked, the message stored (pending an answer if the assistant may reply) and the
    conversation touched. None when the conversation is resolved (a new message reopens it, which
    the ORM path does) or does not exist."""
    now = timezone.now()
    message = Message(conversation_id=conversation_id, author=Author.CUSTOMER, text=text, client_id=client_id,
                      answer_state=AnswerState.PENDING, created=now)
    new_message, message_params = _insert(
        "new_message", message, returning=("id", "answer_state"),
        linked={"answer_state": ("CASE WHEN locked.status = ANY(%s) THEN %s ELSE %s END",
                                 [_statuses_the_assistant_replies_in(), AnswerState.PENDING, AnswerState.NOT_NEEDED])},
        source=("locked WHERE locked.status <> %s", [ConversationStatus.RESOLVED]))
    table = _quote(Conversation._meta.db_table)
    sql = (f"WITH locked AS (SELECT id, status, channel, created FROM {table} WHERE id = %s FOR UPDATE), "
           f"{new_message}, "
           f"touched AS (UPDATE {table} SET last_message_at = %s, updated = %s FROM new_message WHERE {table}.id = %s) "
           "SELECT new_message.id, new_message.answer_state, locked.status, locked.channel, locked.created "
           "FROM locked, new_message")
    with connection.cursor() as cursor:
        cursor.execute(sql, [conversation_id, *message_params, now, now, conversation_id])
        row = cursor.fetchone()
    if row is None:
        return None
    message.pk, message.answer_state, status, channel, started = row
    message._state.adding = False
    return NextMessage(message=message, status=status, channel=channel, started=started)


@dataclass(frozen=True)
class AnswerInsert:
    conversation_id: int
    channel: str
    started: datetime
    # An answer stored already (a retry, the sweeper), or the one stored now; neither when a person
    # owns the conversation.
    existing_id: int | None
    message: Message | None


def answer_insert(*, customer_message_id: int, answer: Message, language: str | None,
                  pending_order_number: str | None, failed_verifications: int | None,
                  usage: UsageEntry | None) -> AnswerInsert | None:
    """The assistant's answer to a customer's message, in one statement, unless a person took over or
    an answer is stored already: the conversation row is locked (a takeover and an answer never
    interleave), the answer inserted, the customer's message marked answered (or not needed), the
    conversation touched (its last message never moves backwards; its low-confidence streak starts
    over) and, with `usage`, the answer counted in the tenant's ledger. None when there is no such
    customer message. An answer that may start a handoff is stored through the ORM instead."""
    message_table = _quote(Message._meta.db_table)
    table = _quote(Conversation._meta.db_table)
    new_message, message_params = _insert("new_message", answer, linked={"conversation_id": ("replying.id", [])},
                                          source=("replying", []))
    steps = [
        (f"locked AS (SELECT id, status, channel, created FROM {table} WHERE id = "
         f"(SELECT conversation_id FROM {message_table} WHERE id = %s AND author = %s) FOR UPDATE)",
         [customer_message_id, Author.CUSTOMER]),
        (f"existing AS (SELECT id FROM {message_table} WHERE in_reply_to_id = %s AND author = %s LIMIT 1)",
         [customer_message_id, Author.ASSISTANT]),
        ("replying AS (SELECT id FROM locked WHERE status = ANY(%s) AND NOT EXISTS (SELECT 1 FROM existing))",
         [_statuses_the_assistant_replies_in()]),
        (new_message, message_params),
        (f"answered AS (UPDATE {message_table} SET answer_state = "
         "CASE WHEN EXISTS (SELECT 1 FROM replying) THEN %s ELSE %s END "
         "WHERE id = %s AND EXISTS (SELECT 1 FROM locked) AND NOT EXISTS (SELECT 1 FROM existing))",
         [AnswerState.ANSWERED, AnswerState.NOT_NEEDED, customer_message_id]),
        (f"touched AS (UPDATE {table} SET last_message_at = GREATEST({table}.last_message_at, %s), "
         "low_confidence_streak = 0, updated = %s, language = COALESCE(%s, language), "
         "pending_order_number = COALESCE(%s, pending_order_number), "
         f"failed_verifications = COALESCE(%s, failed_verifications) FROM replying WHERE {table}.id = replying.id)",
         [answer.created, timezone.now(), language or None, pending_order_number, failed_verifications]),
    ]
    if usage is not None:
        public = get_public_schema_name()
        tenant_id = (f"(SELECT id FROM {_quote(public)}.{_quote(Tenant._meta.db_table)} WHERE schema_name = %s)",
                     [connection.schema_name])
        # The entry's kind follows the conversation's channel (chat.assistant.usage.usage_kind_for_channel,
        # here in SQL since the channel is read by this statement): the owner's practice apart.
        from chat.assistant.usage import PRACTICE_CHANNELS

        kind = ("(SELECT CASE WHEN channel = ANY(%s) THEN %s ELSE %s END FROM locked)",
                [list(PRACTICE_CHANNELS), str(UsageEntry.Kind.PLAYGROUND), str(UsageEntry.Kind.MESSAGE)])
        counted, usage_params = _insert("counted", usage, linked={"tenant_id": tenant_id, "kind": kind},
                                        source=("new_message", []), schema=public)
        steps.append((counted, usage_params))
    sql = ("WITH " + ", ".join(step for step, _ in steps) +
           " SELECT locked.id, locked.channel, locked.created, (SELECT id FROM existing), "
           "(SELECT id FROM new_message) FROM locked")
    with connection.cursor() as cursor:
        cursor.execute(sql, [param for _, params in steps for param in params])
        row = cursor.fetchone()
    if row is None:
        return None
    conversation_id, channel, started, existing_id, answer_id = row
    if answer_id is not None:
        answer.pk, answer.conversation_id = answer_id, conversation_id
        answer._state.adding = False
    return AnswerInsert(conversation_id=conversation_id, channel=channel, started=started, existing_id=existing_id,
                        message=answer if answer_id is not None else None)
