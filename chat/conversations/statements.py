"""The two writes every answered customer pays, each one SQL statement: a customer's message stored
(`message_insert`) and the assistant's answer stored with its usage entry (`answer_insert`).

Through the ORM each took a transaction of four to seven round trips to PostgreSQL (lock, insert,
update, update, the tenant's id, commit), the largest share of the web process's CPU per answer
that the redesign added (docs/benchmarks.md). One statement with data-modifying CTEs does the same
work in one trip, atomically, without BEGIN or COMMIT (docs/decisions/1103-one-statement-stores.md,
measured with bench/sustained.py). They are the only code that writes these rows for these steps:
the services in services.py call them and add what is rare (reopening a resolved conversation, a
handoff) through the ORM in the same transaction.

The rows are built as model instances and every column is filled as the ORM fills it (`pre_save`
for dates, `get_db_prep_save` for JSON), so a field added to these models with a default needs no
change here. Only columns taken from another CTE are written as expressions.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Field, Model
from django_tenants.utils import get_public_schema_name

from chat.conversations.models import AnswerState, Author, Conversation, ConversationStatus, Message
from tenants.models import Tenant, UsageEntry


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def _insert(alias: str, instance: Model, *, linked: dict[str, tuple[str, list[Any]]] | None = None,
            source: tuple[str, list[Any]] = ("", []), returning: tuple[str, ...] = ("id",),
            schema: str | None = None) -> tuple[str, list[Any]]:
    """`alias AS (INSERT INTO table (...) SELECT ... [FROM source] RETURNING ...)` and its parameters.
    `linked`: attribute name -> (SQL expression, its parameters) for columns taken from another CTE;
    `source`: what the SELECT reads from, with its parameters; `schema`: the table's when it is not
    the tenant's (the public usage ledger)."""
    linked = linked or {}
    source_sql, source_params = source
    sql, slots = _insert_sql(type(instance), alias, tuple((name, sql) for name, (sql, _) in linked.items()),
                             source_sql, returning, schema)
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
    """The statement of `_insert`, built once per shape, and where each value comes from."""
    expressions = dict(linked)
    columns: list[str] = []
    values: list[str] = []
    slots: list[Field[Any, Any] | str] = []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
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


def _replying_statuses() -> list[str]:
    return [status for status in ConversationStatus.values if Conversation.assistant_may_reply_in(status)]


@dataclass(frozen=True)
class InsertedMessage:
    # The conversation as the message found it (locked).
    status: str
    channel: str
    started: datetime
    # None when the conversation is resolved (nothing stored: reopen it first) or does not exist.
    message: Message | None


def message_insert(*, conversation_id: int, message: Message) -> InsertedMessage | None:
    """The customer's `message` (unsaved, its answer state decided here) stored in one statement: the
    conversation row locked, the message inserted (pending an answer if the assistant may reply) and
    the conversation's last message moved on, unless the conversation is resolved. None when there is
    no such conversation. A `client_id` stored already raises IntegrityError (unique constraint)."""
    new_message, message_params = _insert(
        "new_message", message, returning=("id", "answer_state"),
        linked={"answer_state": ("CASE WHEN locked.status = ANY(%s) THEN %s ELSE %s END",
                                 [_replying_statuses(), AnswerState.PENDING, AnswerState.NOT_NEEDED]),
                "conversation_id": ("locked.id", [])},
        source=("locked WHERE locked.status <> %s", [ConversationStatus.RESOLVED]))
    table = _quote(Conversation._meta.db_table)
    sql = (f"WITH locked AS (SELECT id, status, channel, created FROM {table} WHERE id = %s FOR UPDATE), "
           f"{new_message}, "
           f"touched AS (UPDATE {table} SET last_message_at = %s, updated = %s FROM new_message "
           f"WHERE {table}.id = %s) "
           "SELECT locked.status, locked.channel, locked.created, new_message.id, new_message.answer_state "
           "FROM locked LEFT JOIN new_message ON TRUE")
    with connection.cursor() as cursor:
        cursor.execute(sql, [conversation_id, *message_params, message.created, message.created, conversation_id])
        row = cursor.fetchone()
    if row is None:
        return None
    status, channel, started, message_id, answer_state = row
    if message_id is None:
        return InsertedMessage(status=status, channel=channel, started=started, message=None)
    message.pk, message.conversation_id, message.answer_state = message_id, conversation_id, answer_state
    message._state.adding = False
    return InsertedMessage(status=status, channel=channel, started=started, message=message)


@dataclass(frozen=True)
class InsertedAnswer:
    conversation_id: int
    # The conversation after the answer: its status and low-confidence streak decide a handoff.
    status: str
    channel: str
    started: datetime
    low_confidence_streak: int
    # An answer stored already (a retry, the sweeper racing a live answer), or the one stored now;
    # neither when a person owns the conversation.
    existing_id: int | None
    message: Message | None


def answer_insert(*, customer_message_id: int, answer: Message, low_confidence: bool, language: str | None,
                  pending_order_number: str | None, failed_verifications: int | None,
                  usage: UsageEntry | None, practice_channels: tuple[str, ...]) -> InsertedAnswer | None:
    """The assistant's `answer` (unsaved) to a customer's message in one statement, unless a person
    owns the conversation or an answer is stored already: the conversation row locked (a takeover
    and an answer never interleave), the answer inserted, the customer's message marked answered
    (not needed, when a person owns the conversation), the conversation moved on (its last message
    never backwards; its low-confidence streak one longer or back to 0) and, with `usage`, the answer
    counted in the tenant's ledger (kind by the conversation's channel: `practice_channels` apart).
    None when there is no such customer message."""
    message_table = _quote(Message._meta.db_table)
    table = _quote(Conversation._meta.db_table)
    new_message, message_params = _insert("new_message", answer, linked={"conversation_id": ("replying.id", [])},
                                          source=("replying", []))
    steps: list[tuple[str, list[Any]]] = [
        (f"locked AS (SELECT id, status, channel, created, low_confidence_streak FROM {table} WHERE id = "
         f"(SELECT conversation_id FROM {message_table} WHERE id = %s AND author = %s) FOR UPDATE)",
         [customer_message_id, Author.CUSTOMER]),
        (f"existing AS (SELECT id FROM {message_table} WHERE in_reply_to_id = %s AND author = %s LIMIT 1)",
         [customer_message_id, Author.ASSISTANT]),
        ("replying AS (SELECT id FROM locked WHERE status = ANY(%s) AND NOT EXISTS (SELECT 1 FROM existing))",
         [_replying_statuses()]),
        (new_message, message_params),
        (f"answered AS (UPDATE {message_table} SET answer_state = "
         "CASE WHEN EXISTS (SELECT 1 FROM replying) THEN %s ELSE %s END "
         "WHERE id = %s AND EXISTS (SELECT 1 FROM locked) AND NOT EXISTS (SELECT 1 FROM existing))",
         [AnswerState.ANSWERED, AnswerState.NOT_NEEDED, customer_message_id]),
        (f"touched AS (UPDATE {table} SET last_message_at = GREATEST({table}.last_message_at, %s), "
         f"low_confidence_streak = CASE WHEN %s THEN {table}.low_confidence_streak + 1 ELSE 0 END, "
         "updated = %s, language = COALESCE(%s, language), "
         "pending_order_number = COALESCE(%s, pending_order_number), "
         f"failed_verifications = COALESCE(%s, failed_verifications) FROM replying WHERE {table}.id = replying.id "
         f"RETURNING {table}.low_confidence_streak)",
         [answer.created, low_confidence, answer.created, language or None, pending_order_number,
          failed_verifications]),
    ]
    if usage is not None:
        public = get_public_schema_name()
        tenant_id = (f"(SELECT id FROM {_quote(public)}.{_quote(Tenant._meta.db_table)} WHERE schema_name = %s)",
                     [connection.schema_name])
        kind = ("(SELECT CASE WHEN channel = ANY(%s) THEN %s ELSE %s END FROM locked)",
                [list(practice_channels), str(UsageEntry.Kind.PLAYGROUND), str(UsageEntry.Kind.MESSAGE)])
        counted, usage_params = _insert("counted", usage, linked={"tenant_id": tenant_id, "kind": kind},
                                        source=("new_message", []), schema=public)
        steps.append((counted, usage_params))
    sql = ("WITH " + ", ".join(step for step, _ in steps) +
           " SELECT locked.id, locked.status, locked.channel, locked.created, "
           "COALESCE((SELECT low_confidence_streak FROM touched), locked.low_confidence_streak), "
           "(SELECT id FROM existing), (SELECT id FROM new_message) FROM locked")
    with connection.cursor() as cursor:
        cursor.execute(sql, [param for _, params in steps for param in params])
        row = cursor.fetchone()
    if row is None:
        return None
    conversation_id, status, channel, started, streak, existing_id, answer_id = row
    if answer_id is not None:
        answer.pk, answer.conversation_id = answer_id, conversation_id
        answer._state.adding = False
    return InsertedAnswer(conversation_id=conversation_id, status=status, channel=channel, started=started,
                          low_confidence_streak=streak, existing_id=existing_id,
                          message=answer if answer_id is not None else None)
