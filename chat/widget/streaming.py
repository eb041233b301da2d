"""Streaming an answer to a conversation's sockets, with a buffer for clients that reconnect."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING, Any

from django.conf import settings

from chat.assistant.first_tokens import FirstTokenTurn
from chat.conversations.events import conversation_group, publish_now
from config.live import KeptCopy
from config.redis import redis_client, tenant_key

if TYPE_CHECKING:
    from chat.assistant.engine import Turn

logger = logging.getLogger(__name__)

# Answers being generated in this process; a reference keeps each task alive after its socket closes.
_RUNNING: set[asyncio.Task[Any]] = set()


def answer_ref_for(customer_message_id: int) -> str:
    return f"a{customer_message_id}"


def _buffer_key(schema_name: str, answer_ref: str) -> str:
    return tenant_key(schema_name, "answer", answer_ref)


class GroupSink:
    """Publishes each checked piece of an answer to the conversation's group, numbered, and keeps it."""

    def __init__(self, schema_name: str, conversation_id: int, answer_ref: str) -> None:
        self.schema_name = schema_name
        self.group = conversation_group(schema_name, conversation_id)
        self.answer_ref = answer_ref
        self.seq = 0

    async def delta(self, text: str) -> None:
        self.seq += 1
        frame = {"type": "answer.delta", "answer_ref": self.answer_ref, "seq": self.seq, "text": text}
        # Kept before it is published: a client resuming after this piece went out finds it.
        await publish_now(self.group, frame, kept=KeptCopy(key=_buffer_key(self.schema_name, self.answer_ref),
                                                           value=json.dumps(frame),
                                                           ttl_seconds=settings.WIDGET_ANSWER_BUFFER_SECONDS))


def buffered_deltas(schema_name: str, answer_ref: str, after_seq: int) -> list[dict[str, Any]]:
    frames = [json.loads(raw) for raw in redis_client().lrange(_buffer_key(schema_name, answer_ref), 0, -1)]
    return [frame for frame in frames if frame["seq"] > after_seq]


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
    from chat.widget.services import current_time

    answer_ref = answer_ref_for(customer_message_id)
    group = conversation_group(schema_name, conversation_id)
    sink = GroupSink(schema_name, conversation_id, answer_ref)
    try:
        await publish_now(group, {"type": "answer.start", "answer_ref": answer_ref, "reply_to": customer_message_id})
        result = await answer_customer_message(schema_name=schema_name, message_id=customer_message_id, sink=sink,
                                               now=current_time(), first_token=first_token, turn=turn)
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
