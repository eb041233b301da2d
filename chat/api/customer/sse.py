"""The customer side's Server-Sent Events: one answer, as named events (docs/api.md).

    event: message.delta       {"conversation_id", "reply_to", "seq", "text"}   a checked piece
    event: message.completed   {"conversation_id", "reply_to", "message", "mode", "usage"}
    event: handoff             {"conversation_id", "reply_to", "status"}         a person takes it from here
    event: error               {"error": {"code", "message", "details"}}        no answer now (it comes later)
    event: ping                {}                                                every API_SSE_PING_SECONDS

The stream ends after `message.completed` (and `handoff`, when that answer asked for a person),
after `handoff`, or after `error`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from django.conf import settings
from django.http import StreamingHttpResponse

from chat.api.customer.streaming import ANSWERED, FAILED, Outcome, answer_start
from config.db import in_schema
from config.errors import error_body


def sse_event(name: str, data: dict[str, Any]) -> bytes:
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"event: {name}\ndata: {body}\n\n".encode()


def _conversation_status(conversation_id: int) -> str:
    from chat.conversations.models import Conversation

    return str(Conversation.objects.values_list("status", flat=True).get(pk=conversation_id))


def event_stream_response(events: AsyncIterator[bytes]) -> StreamingHttpResponse:
    # No caching, and no buffering by a proxy (nginx honours X-Accel-Buffering): each event goes out as it is made.
    return StreamingHttpResponse(events, content_type="text/event-stream; charset=utf-8",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def answer_events(*, schema_name: str, conversation_id: int, reply_to: int, outcome: Outcome | None
                        ) -> AsyncIterator[bytes]:
    """The events of the answer to stored message `reply_to`: written now and streamed (`outcome`
    None), or, for a message answered already or left to a person, its known `outcome` at once.
    The answer starts on the event loop that serves the response, once the response has begun."""
    address = {"conversation_id": conversation_id, "reply_to": reply_to}
    # A comment (clients skip it) sends the response's head at once: the app knows its message is
    # stored before the first words are written.
    yield f": message {reply_to} stored\n\n".encode()
    if outcome is None:
        running = answer_start(schema_name=schema_name, customer_message_id=reply_to)
        while True:
            try:
                piece = await running.next_piece(settings.API_SSE_PING_SECONDS)
            except TimeoutError:
                yield sse_event("ping", {})
                continue
            if piece is None:
                break
            yield sse_event("message.delta", {**address, "seq": piece.seq, "text": piece.text})
        outcome = await running.outcome()
    if outcome.kind == FAILED:
        yield sse_event("error", error_body(
            "answer_failed", "The answer could not be written just now. It will appear in the conversation's "
            "history shortly."))
        return
    if outcome.kind == ANSWERED:
        yield sse_event("message.completed", {**address, "message": outcome.message, "mode": outcome.mode,
                                              "usage": outcome.usage})
        if not outcome.handoff:
            return
    status = await in_schema(schema_name, _conversation_status, conversation_id)
    yield sse_event("handoff", {**address, "status": status})
