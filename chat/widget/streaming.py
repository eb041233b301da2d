"""Streaming an answer to a conversation's sockets, with a buffer for clients that reconnect."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from typing import Any

from django.conf import settings
from django.utils.crypto import constant_time_compare, salted_hmac

from chat.conversations.events import (
    AnswerCancelled,
    AnswerDelta,
    AnswerEnded,
    AnswerStarted,
    event_send_now,
)
from config.live import KeptCopy
from config.redis import redis_client, tenant_key

logger = logging.getLogger(__name__)

# Answers being generated in this process; a reference keeps each task alive after its socket closes.
_RUNNING: set[asyncio.Task[Any]] = set()


_ANSWER_REF_SALT = "deskpilot.widget.answer_ref"
# Longer than any reference this module makes; what a client sends beyond that is not one.
_ANSWER_REF_MAX_CHARS = 64


def answer_ref_for(*, schema_name: str, conversation_id: int, customer_message_id: int) -> str:
    """The name an answer has on the widget protocol: its question's id and a MAC (SECRET_KEY's) of
    the question with its tenant and conversation, so nobody can make one up for a conversation
    that is not theirs. Derived rather than drawn at random and stored: the web process that
    streams an answer and the sweeper that answers the same question after that process died, in
    another process, give it the same name, and the client's half-shown answer is replaced."""
    mac = salted_hmac(_ANSWER_REF_SALT, f"{schema_name}:{conversation_id}:{customer_message_id}",
                      algorithm="sha256").digest()[:16]
    return f"a{customer_message_id}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def answer_ref_is_of(*, schema_name: str, conversation_id: int, answer_ref: str) -> bool:
    """Whether `answer_ref` (as a client sent it) names an answer in this conversation."""
    if len(answer_ref) > _ANSWER_REF_MAX_CHARS:
        return False
    head, dot, _ = answer_ref.partition(".")
    if not dot or head[:1] != "a" or not head[1:].isascii() or not head[1:].isdigit():
        return False
    expected = answer_ref_for(schema_name=schema_name, conversation_id=conversation_id,
                              customer_message_id=int(head[1:]))
    return constant_time_compare(answer_ref, expected)


def _buffer_key(schema_name: str, conversation_id: int, answer_ref: str) -> str:
    # Keyed by the conversation too: a reference read from another conversation finds nothing here.
    return tenant_key(schema_name, "answer", str(conversation_id), answer_ref)


class WidgetSocketDelivery:
    """The widget's adapter (chat.conversations.delivery.AnswerDelivery): an answer streamed to its
    conversation's group, every piece numbered and kept for clients that resume, then ended with
    the stored answer (`answer.end`) or `answer.cancelled`. Every socket of the conversation, on
    every web process, passes it on once (consumers.WidgetConsumer)."""

    def __init__(self, *, schema_name: str, conversation_id: int, customer_message_id: int,
                 once_heard: asyncio.Event | None = None) -> None:
        self.schema_name = schema_name
        self.conversation_id = conversation_id
        self.customer_message_id = customer_message_id
        self.answer_ref = answer_ref_for(schema_name=schema_name, conversation_id=conversation_id,
                                         customer_message_id=customer_message_id)
        self.seq = 0
        # Set once the asking socket hears the conversation's group (consumers.TenantConsumer.join):
        # an answer published before that would reach nobody there.
        self.once_heard = once_heard

    async def started(self) -> None:
        if self.once_heard is not None:
            await self.once_heard.wait()
        await event_send_now(AnswerStarted(conversation_id=self.conversation_id, answer_ref=self.answer_ref,
                                           reply_to=self.customer_message_id), schema_name=self.schema_name)

    async def delta(self, text: str) -> None:
        self.seq += 1
        event = AnswerDelta(conversation_id=self.conversation_id, answer_ref=self.answer_ref, seq=self.seq, text=text)
        # Kept before it is published: a client resuming after this piece went out finds it.
        await event_send_now(event, schema_name=self.schema_name,
                             kept=KeptCopy(key=_buffer_key(self.schema_name, self.conversation_id, self.answer_ref),
                                           value=json.dumps(event.to_wire()),
                                           ttl_seconds=settings.WIDGET_ANSWER_BUFFER_SECONDS))

    async def finished(self, stored_message: dict[str, Any] | None) -> None:
        # An answer made away from the sockets (the sweeper's) streamed nothing and says seq 0, even
        # when the web process that died had streamed some of it: each socket keeps its own count.
        event: AnswerCancelled | AnswerEnded = (
            AnswerCancelled(conversation_id=self.conversation_id, answer_ref=self.answer_ref)
            if stored_message is None else
            AnswerEnded(conversation_id=self.conversation_id, answer_ref=self.answer_ref, seq=self.seq,
                        message=stored_message))
        await event_send_now(event, schema_name=self.schema_name)


async def stored_answer_send(*, schema_name: str, conversation_id: int, customer_message_id: int,
                             stored_message: dict[str, Any] | None) -> None:
    """The widget's stored-answer sender (chat.conversations.delivery.LaterDelivery): the answer made
    away from the sockets ends on them as a streamed one does. A client that is not connected gets
    it from the history when it comes back."""
    delivery = WidgetSocketDelivery(schema_name=schema_name, conversation_id=conversation_id,
                                    customer_message_id=customer_message_id)
    await delivery.finished(stored_message)


def buffered_deltas(schema_name: str, conversation_id: int, answer_ref: str, after_seq: int) -> list[dict[str, Any]]:
    """The pieces of this conversation's answer `answer_ref` kept after `after_seq`; none for a
    reference that is not this conversation's."""
    if not answer_ref_is_of(schema_name=schema_name, conversation_id=conversation_id, answer_ref=answer_ref):
        return []
    key = _buffer_key(schema_name, conversation_id, answer_ref)
    frames = [json.loads(raw) for raw in redis_client().lrange(key, 0, -1)]
    return [frame for frame in frames if frame["seq"] > after_seq]


def start_answer(*, schema_name: str, conversation_id: int, customer_message_id: int,
                 once_heard: asyncio.Event) -> None:
    """Answer in this process, in the background: the task outlives the socket that asked, and
    publishes nothing before that socket hears the conversation's group (`once_heard`)."""
    from chat.assistant.engine import answer_deliver

    delivery = WidgetSocketDelivery(schema_name=schema_name, conversation_id=conversation_id,
                                    customer_message_id=customer_message_id, once_heard=once_heard)
    task = asyncio.get_running_loop().create_task(
        answer_deliver(schema_name=schema_name, message_id=customer_message_id, delivery=delivery))
    _RUNNING.add(task)
    task.add_done_callback(_RUNNING.discard)


async def answers_in_flight_finish() -> None:
    """When the server stops (config.startup.before_server_stops): the answers this process is still
    writing get up to an answer's deadline to be stored and delivered to the conversation's group,
    where the customer's reconnected widget (on another process) picks them up; one still not done
    then is cut off, and its question stays pending for the sweeper."""
    if _RUNNING:
        await asyncio.wait(set(_RUNNING), timeout=settings.ASSISTANT_ANSWER_DEADLINE_SECONDS)
