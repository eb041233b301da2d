"""A streamed chat completion: the answer's checked pieces as `chat.completion.chunk` objects.

First a chunk with the assistant's role, then one per checked piece, a last one with
`finish_reason`, a usage chunk when the client asked (`stream_options.include_usage`), then
`data: [DONE]`. A failure once the response has begun (its status is sent) is an error object in
the stream, as OpenAI sends one, then `[DONE]`: OpenAI's clients raise it as an APIError.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from django.conf import settings

from chat.api.customer.streaming import ANSWERED, FAILED, Outcome, answer_start
from chat.api.openai.wire import DONE, chunk, error_body, sse_data

# A comment line: OpenAI's clients skip it, and proxies see the connection is alive.
KEEP_ALIVE = b": keep-alive\n\n"


@dataclass(frozen=True)
class CompletionHead:
    completion_id: str
    created: int
    model: str
    conversation_id: int


async def completion_chunks(*, head: CompletionHead, schema_name: str, reply_to: int, outcome: Outcome | None,
                            include_usage: bool) -> AsyncIterator[bytes]:
    """The chunks of the answer to stored message `reply_to`: written now (`outcome` None), or the
    known `outcome` of a message answered already or left to a person."""
    def chunk_of(delta: dict[str, str] | None, **fields: object) -> bytes:
        return sse_data(chunk(completion_id=head.completion_id, created=head.created, model=head.model,
                              delta=delta, **fields))  # type: ignore[arg-type]

    yield chunk_of({"role": "assistant", "content": ""})
    streamed = False
    if outcome is None:
        running = answer_start(schema_name=schema_name, customer_message_id=reply_to)
        while True:
            try:
                piece = await running.next_piece(settings.API_SSE_PING_SECONDS)
            except TimeoutError:
                yield KEEP_ALIVE
                continue
            if piece is None:
                break
            streamed = True
            yield chunk_of({"content": piece.text})
        outcome = await running.outcome()
    if outcome.kind == FAILED:
        yield sse_data(error_body(message="The assistant could not finish this answer. Please try again shortly.",
                                  status=500, code="answer_failed"))
        yield DONE
        return
    if outcome.kind == ANSWERED and not streamed and outcome.message is not None:
        yield chunk_of({"content": outcome.message["text"]})
    final = sse_data({**chunk(completion_id=head.completion_id, created=head.created, model=head.model, delta={},
                              finish_reason="stop"),
                      "deskpilot": {"conversation_id": head.conversation_id,
                                    "handoff": outcome.handoff or outcome.kind != ANSWERED}})
    yield final
    if include_usage:
        yield chunk_of(None, usage=outcome.usage)
    yield DONE
