"""Streaming an answer to a conversation's sockets, with a buffer for clients that reconnect."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils.crypto import constant_time_compare, salted_hmac

from chat.assistant.first_tokens import FirstTokenTurn
from chat.conversations.events import CHANNEL_EVENT_TYPE, conversation_group, publish_now
from config.live import KeptCopy, groups_publish
from config.redis import redis_client, tenant_key

if TYPE_CHECKING:
    from chat.assistant.engine import Turn

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


class GroupSink:
    """Publishes each checked piece of an answer to the conversation's group, numbered, and keeps it."""

    def __init__(self, schema_name: str, conversation_id: int, answer_ref: str) -> None:
        self.schema_name = schema_name
        self.conversation_id = conversation_id
        self.group = conversation_group(schema_name, conversation_id)
        self.answer_ref = answer_ref
        self.seq = 0

    async def delta(self, text: str) -> None:
        self.seq += 1
        frame = {"type": "answer.delta", "answer_ref": self.answer_ref, "seq": self.seq, "text": text}
        # Kept before it is published: a client resuming after this piece went out finds it.
        await publish_now(self.group, frame, kept=KeptCopy(key=_buffer_key(self.schema_name, self.conversation_id,
                                                                                self.answer_ref),
                                                           value=json.dumps(frame),
                                                           ttl_seconds=settings.WIDGET_ANSWER_BUFFER_SECONDS))


def buffered_deltas(schema_name: str, conversation_id: int, answer_ref: str, after_seq: int) -> list[dict[str, Any]]:
    """The pieces of this conversation's answer `answer_ref` kept after `after_seq`; none for a
    reference that is not this conversation's."""
    if not answer_ref_is_of(schema_name=schema_name, conversation_id=conversation_id, answer_ref=answer_ref):
        return []
    key = _buffer_key(schema_name, conversation_id, answer_ref)
    frames = [json.loads(raw) for raw in redis_client().lrange(key, 0, -1)]
    return [frame for frame in frames if frame["seq"] > after_seq]


def answer_outcome_publish(*, schema_name: str, conversation_id: int, customer_message_id: int,
                           stored_message: dict[str, Any] | None) -> None:
    """Tell the conversation's sockets, on whichever web process, how an answer made away from them
    ended (the sweeper's, for a question a dead web process left): `answer.end` with the stored
    answer, as a streamed answer ends, or `answer.cancelled`. Call it once the answer is committed.
    A socket passes an answer on once, however many times it is told (consumers.WidgetConsumer)."""
    answer_ref = answer_ref_for(schema_name=schema_name, conversation_id=conversation_id,
                                customer_message_id=customer_message_id)
    event: dict[str, Any] = ({"type": "answer.cancelled", "answer_ref": answer_ref} if stored_message is None else
                             {"type": "answer.end", "answer_ref": answer_ref, "seq": 0, "message": stored_message})
    try:
        groups_publish([conversation_group(schema_name, conversation_id)], {"type": CHANNEL_EVENT_TYPE, "event": event})
    except Exception:  # the answer is stored: a client that reconnects gets it with `resume`
        logger.exception("could not publish %s to conversation %s", event["type"], conversation_id)


def start_answer(*, schema_name: str, conversation_id: int, customer_message_id: int,
                 first_token: FirstTokenTurn, turn: Turn | None = None) -> None:
    """Answer in this process, in the background: the task outlives the socket that asked. `turn`:
    the assistant's turn when it was read with the message (see `widget_message_receive`)."""
    task = asyncio.get_running_loop().create_task(
        _answer(schema_name=schema_name, conversation_id=conversation_id, customer_message_id=customer_message_id,
                first_token=first_token, turn=turn))
    _RUNNING.add(task)
    task.add_done_callback(_RUNNING.discard)


async def _answer(*, schema_name: str, conversation_id: int, customer_message_id: int,
                  first_token: FirstTokenTurn, turn: Turn | None) -> None:
    from chat.assistant.engine import answer_customer_message

    answer_ref = answer_ref_for(schema_name=schema_name, conversation_id=conversation_id,
                                customer_message_id=customer_message_id)
    group = conversation_group(schema_name, conversation_id)
    sink = GroupSink(schema_name, conversation_id, answer_ref)
    try:
        await publish_now(group, {"type": "answer.start", "answer_ref": answer_ref, "reply_to": customer_message_id})
        result = await answer_customer_message(schema_name=schema_name, message_id=customer_message_id, sink=sink,
                                               first_token=first_token, turn=turn)
    except Exception:
        # The message is stored and pending: the sweeper answers it. The customer is told nothing false.
        logger.exception("answering message %s failed; the sweeper will retry", customer_message_id)
        await publish_now(group, {"type": "answer.cancelled", "answer_ref": answer_ref})
        return
    finally:
        first_token.first_text_sent()  # however it ended, later answers do not wait for this one
    if not result.replied or result.stored_message is None:
        await publish_now(group, {"type": "answer.cancelled", "answer_ref": answer_ref})
        return
    await publish_now(group, {"type": "answer.end", "answer_ref": answer_ref, "seq": sink.seq,
                              "message": result.stored_message})
