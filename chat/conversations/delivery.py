"""How an answer reaches its customer: the seam between the conversation core and each channel.

The core path is the same for every channel (docs/architecture-core.md): the channel's adapter
stores the customer's message with `services.message_receive` (once per the channel's own message
id), then the assistant answers it with `chat.assistant.engine.answer_deliver`, which drafts,
checks, streams and stores the answer and hands it to an `AnswerDelivery`. Channels differ only in
that object:

- a live connection (the widget's socket) streams each checked piece and ends with the stored
  answer (`chat.widget.streaming.WidgetSocketDelivery`);
- everything answered away from the customer's connection (the sweeper, a messaging platform's
  webhook, later an e-mail) uses `LaterDelivery`: nothing streams, and once the answer is stored
  the channel's stored-answer sender, registered here by the channel's app, sends it whole.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

logger = logging.getLogger(__name__)


class AnswerDelivery(Protocol):
    """One answer's way to its customer. The core calls `started` once, `delta` with each checked
    piece of text as it may be shown, then `finished` once the answer is committed: with the stored
    answer (`events.message_wire`'s message), or None when none was stored (a person took the
    conversation, or answering failed and the sweeper will try again)."""

    async def started(self) -> None: ...

    async def delta(self, text: str) -> None: ...

    async def finished(self, stored_message: dict[str, Any] | None) -> None: ...


class StoredAnswerSender(Protocol):
    """A channel's way to send an answer made away from the customer's connection, once stored."""

    async def __call__(self, *, schema_name: str, conversation_id: int, customer_message_id: int,
                       stored_message: dict[str, Any] | None) -> None: ...


_stored_answer_senders: dict[str, StoredAnswerSender] = {}


def stored_answer_sender_register(*, channel: str, sender: StoredAnswerSender) -> None:
    """Called by a channel's app when it is ready: how that channel's later answers reach customers."""
    _stored_answer_senders[channel] = sender


class AgentReplySender(Protocol):
    """A channel's way to send a team member's reply: called inside the transaction that stores the
    message, so what it promises (an outbox row) commits with the reply or not at all."""

    def __call__(self, *, message: Any) -> None: ...


_agent_reply_senders: dict[str, AgentReplySender] = {}


def agent_reply_sender_register(*, channel: str, sender: AgentReplySender) -> None:
    """Called by a channel's app whose customers are not on a socket (a messaging platform): how an
    agent's reply in the inbox reaches them. Channels without one are reached by the reply's event."""
    _agent_reply_senders[channel] = sender


def agent_reply_send(*, message: Any) -> None:
    sender = _agent_reply_senders.get(message.conversation.channel)
    if sender is not None:
        sender(message=message)


class LaterDelivery:
    """An answer made away from the customer's connection: nothing is streamed, and the stored
    answer goes out through its conversation's channel. A channel with no sender (the owner's
    playground, which reads its answer in the request) is given nothing: the answer is stored and
    the inbox shows it."""

    def __init__(self, *, schema_name: str, conversation_id: int, customer_message_id: int, channel: str) -> None:
        self.schema_name = schema_name
        self.conversation_id = conversation_id
        self.customer_message_id = customer_message_id
        self.channel = channel

    async def started(self) -> None:
        return None

    async def delta(self, text: str) -> None:
        return None

    async def finished(self, stored_message: dict[str, Any] | None) -> None:
        sender = _stored_answer_senders.get(self.channel)
        if sender is None:
            return
        try:
            await sender(schema_name=self.schema_name, conversation_id=self.conversation_id,
                         customer_message_id=self.customer_message_id, stored_message=stored_message)
        except Exception:  # the answer is stored: the customer's next visit or resume reads it
            logger.exception("could not send the answer to message %s on %s", self.customer_message_id, self.channel)
