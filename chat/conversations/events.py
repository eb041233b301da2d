"""The event contract: every real-time event of a conversation, typed, with its audience.

Each event is a frozen class with its fields, its wire `type` and its audience: the conversation's
customer (their widget), the tenant's agents (every open inbox, or only the agents viewing the
conversation), or internal (handled inside the server, never sent to a socket). There is one way
for an event to leave: `event_send`, which publishes it after the transaction commits, to groups
whose names start with the tenant's schema, so an event can never reach another tenant's sockets.
The channel-layer message carries the audience, and each consumer passes on only the events whose
audience includes it (chat.consumers): which group a message came through decides nothing.

Streamed events (an answer's start, pieces and end, typing) are sent while an answer is being
written, from async code with no transaction to wait for: `event_send_now` sends them in the same
shape through the same audience filter. They change nothing stored, so there is no commit to wait
for, and waiting for one would hold back every piece of the answer the customer is reading.

Internal events are handed to the handlers registered for their class (`event_handler_register`),
in the sender's transaction: what they write (the analytics roll-up marking a day to compute again)
commits or rolls back with the change itself, and no crash between a commit and a handler can lose
it (docs/decisions/0201-analytics-consumes-internal-events.md). Handlers may follow socket events
too (outgoing webhooks write their outbox rows beside the change, docs/decisions/1401).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from django.db import connection, transaction

from config.live import KeptCopy, group_publish_async, groups_publish

if TYPE_CHECKING:
    from chat.conversations.models import Message

logger = logging.getLogger(__name__)

CHANNEL_EVENT_TYPE = "deskpilot.event"


class Audience(StrEnum):
    CUSTOMER = "customer"  # the conversation's customer: their widget sockets
    AGENTS = "agents"  # the tenant's agents: their inbox sockets
    INTERNAL = "internal"  # the server itself: registered handlers, never a socket


def conversation_group(schema_name: str, conversation_id: int) -> str:
    """The customer's sockets of one conversation and the agents viewing it."""
    return f"{schema_name}.conversation.{conversation_id}"


def inbox_group(schema_name: str) -> str:
    """Every open inbox socket of one tenant."""
    return f"{schema_name}.inbox"


@dataclass(frozen=True, kw_only=True)
class Event:
    """One event. `conversation_id` addresses it; the wire shape is its other fields and `type`."""

    type: ClassVar[str]
    AUDIENCE: ClassVar[frozenset[Audience]]
    # Every agent's inbox hears it (the tenant's inbox group), not only the agents viewing the
    # conversation: what changes the inbox's list of conversations.
    INBOX_WIDE: ClassVar[bool] = False
    # Fields that address the event but are not part of its frame.
    OFF_WIRE: ClassVar[frozenset[str]] = frozenset()
    # Field name -> name on the wire, where the wire's name is no Python name ("from").
    WIRE_NAMES: ClassVar[dict[str, str]] = {}

    conversation_id: int

    @property
    def audience(self) -> frozenset[Audience]:
        return self.AUDIENCE

    def to_wire(self) -> dict[str, Any]:
        """The JSON object a socket receives."""
        return {"type": self.type, **{self.WIRE_NAMES.get(field.name, field.name): getattr(self, field.name)
                                      for field in fields(self) if field.name not in self.OFF_WIRE}}

    def groups(self, schema_name: str) -> list[str]:
        """The channel-layer groups it is published to (a socket there still filters by audience)."""
        groups = []
        if Audience.CUSTOMER in self.audience or (Audience.AGENTS in self.audience and not self.INBOX_WIDE):
            groups.append(conversation_group(schema_name, self.conversation_id))
        if Audience.AGENTS in self.audience and self.INBOX_WIDE:
            groups.append(inbox_group(schema_name))
        return groups


_CUSTOMER_AND_AGENTS = frozenset({Audience.CUSTOMER, Audience.AGENTS})
_AGENTS = frozenset({Audience.AGENTS})


# ----------------------------------------------------------------------------- conversations


# At most this many product cards under one answer (the assistant recommends three or four).
MAX_PRODUCT_CARDS = 4


def recommended_products(tool_calls: list[Any] | None) -> list[dict[str, Any]]:
    """The cards of the products an answer's last `product_search` call found: name, price (as the
    answer states it), availability (in_stock, sold_out, pre_order), and a link and an image where
    the catalog has them (only http(s) addresses)."""
    from config.outside_urls import outside_url_or_empty

    for call in reversed(tool_calls or []):
        if not isinstance(call, dict) or call.get("name") != "product_search":
            continue
        result = call.get("result") if isinstance(call.get("result"), dict) else {}
        return [{"product_id": product.get("product_id"), "sku": str(product.get("sku") or ""),
                 "name": str(product.get("name") or ""), "price": str(product.get("price") or ""),
                 "availability": str(product.get("availability") or ""),
                 "url": outside_url_or_empty(str(product.get("url") or "")),
                 "image": outside_url_or_empty(str(product.get("image") or ""))}
                for product in (result.get("products") or [])[:MAX_PRODUCT_CARDS] if isinstance(product, dict)]
    return []


def message_wire(message: Message) -> dict[str, Any]:
    """The one shape of a stored message in events, the widget's history and APIs."""
    from chat.conversations.selectors import agent_identity

    agent = agent_identity(user=message.agent) if message.agent_id and message.agent is not None else None
    return {
        "id": message.pk,
        "author": message.author,
        "text": message.text,
        "client_id": message.client_id,
        "internal": message.internal,
        "sources": message.sources,
        "quick_replies": message.quick_replies,
        # The products an assistant's answer recommended, as cards a widget or an app renders.
        "products": recommended_products(message.tool_calls) if message.author == "assistant" else [],
        # The name customers see, never the e-mail address the agent logs in with.
        "agent": agent.name if agent else None,
        "agent_avatar": agent.avatar_url if agent else None,
        "created": message.created.isoformat(),
    }


@dataclass(frozen=True, kw_only=True)
class MessagePosted(Event):
    """A message was stored: a customer's, an agent's (an internal note too), the system's, the assistant's."""

    type = "message"
    AUDIENCE = _CUSTOMER_AND_AGENTS  # at most: see `audience`
    INBOX_WIDE = True

    message: dict[str, Any]  # message_wire's shape

    @classmethod
    def of(cls, message: Message) -> MessagePosted:
        return cls(conversation_id=message.conversation_id, message=message_wire(message))

    @property
    def audience(self) -> frozenset[Audience]:
        # An internal note is the team's alone. The customer gets an assistant's answer as the
        # answer's own `answer.end`, never twice.
        if self.message["internal"] or self.message["author"] == "assistant":
            return _AGENTS
        return _CUSTOMER_AND_AGENTS


@dataclass(frozen=True, kw_only=True)
class ConversationCreated(Event):
    type = "conversation.created"
    AUDIENCE = _AGENTS
    INBOX_WIDE = True

    channel: str
    status: str


@dataclass(frozen=True, kw_only=True)
class ConversationContactChanged(Event):
    """The customer said who they are (pre-chat) or proved it (an order): no personal data in the
    event, the agents' pages ask for fresh details."""

    type = "conversation.contact"
    AUDIENCE = _AGENTS
    INBOX_WIDE = True


@dataclass(frozen=True, kw_only=True)
class ConversationStatusChanged(Event):
    """The conversation changed hands or was resolved. The customer's widget turns it into its own
    `status` frame (who is here now, or the away message): `actor` (an agent's login) stays with the team."""

    type = "conversation.status"
    AUDIENCE = _CUSTOMER_AND_AGENTS
    INBOX_WIDE = True
    WIRE_NAMES = {"from_status": "from", "to_status": "to"}

    from_status: str
    to_status: str
    actor: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class ConversationAssigned(Event):
    """Who works on what is the team's business, not the customer's."""

    type = "conversation.assigned"
    AUDIENCE = _AGENTS
    INBOX_WIDE = True

    assignee: dict[str, Any] | None  # {"id", "name"}, None when unassigned
    actor: str


@dataclass(frozen=True, kw_only=True)
class Typing(Event):
    """Someone is typing: the customer (told to the agents viewing the conversation) or an agent or
    the assistant (told to the customer, by display name only, and to those agents)."""

    type = "typing"
    AUDIENCE = _CUSTOMER_AND_AGENTS  # at most: see `audience`

    author: str  # "customer", "agent" or "assistant"
    on: bool
    name: str | None = None  # an agent's display name

    @property
    def audience(self) -> frozenset[Audience]:
        return _AGENTS if self.author == "customer" else _CUSTOMER_AND_AGENTS


@dataclass(frozen=True, kw_only=True)
class ConversationChanged(Event):
    """Something counted in a conversation's figures changed (a message, a new status, a rating):
    for the analytics roll-up (chat.analytics.services), never for a socket."""

    type = "conversation.changed"
    AUDIENCE = frozenset({Audience.INTERNAL})

    channel: str
    started: datetime

    def to_wire(self) -> dict[str, Any]:
        raise TypeError("an internal event has no wire shape: it never leaves the server")


@dataclass(frozen=True, kw_only=True)
class ConversationErased(Event):
    """A customer's data is being erased (chat.conversations.customer_data): this conversation and
    its messages go in the same transaction. For apps that keep their own records of it (delivery
    and channel logs) to delete theirs, never for a socket."""

    type = "conversation.erased"
    AUDIENCE = frozenset({Audience.INTERNAL})

    contact_id: int

    def to_wire(self) -> dict[str, Any]:
        raise TypeError("an internal event has no wire shape: it never leaves the server")


@dataclass(frozen=True, kw_only=True)
class ConversationRated(Event):
    """The customer rated the conversation (1 to 5; a later rating replaces an earlier one)."""

    type = "conversation.rated"
    AUDIENCE = frozenset({Audience.INTERNAL})

    rating: int

    def to_wire(self) -> dict[str, Any]:
        raise TypeError("an internal event has no wire shape: it never leaves the server")


@dataclass(frozen=True, kw_only=True)
class ContactEvent(Event):
    """A contact was created or changed: for the server's handlers (outgoing webhooks), never a socket
    (agents hear `conversation.contact`). A contact may have no conversation yet: `conversation_id` is 0."""

    AUDIENCE = frozenset({Audience.INTERNAL})

    conversation_id: int = 0
    contact_id: int

    def to_wire(self) -> dict[str, Any]:
        raise TypeError("an internal event has no wire shape: it never leaves the server")


@dataclass(frozen=True, kw_only=True)
class ContactCreated(ContactEvent):
    type = "contact.created"


@dataclass(frozen=True, kw_only=True)
class ContactUpdated(ContactEvent):
    type = "contact.updated"

    changed: tuple[str, ...]  # the contact's fields that changed


# ----------------------------------------------------------------------------- answers
# An answer's frames name it by `answer_ref` (chat.widget.streaming), not by its conversation.


@dataclass(frozen=True, kw_only=True)
class AnswerEvent(Event):
    """A frame of one streamed answer: its customer and the agents viewing it hear it, by `answer_ref`."""

    AUDIENCE = _CUSTOMER_AND_AGENTS
    OFF_WIRE = frozenset({"conversation_id"})

    answer_ref: str


@dataclass(frozen=True, kw_only=True)
class AnswerStarted(AnswerEvent):
    type = "answer.start"

    reply_to: int  # the customer message's id


@dataclass(frozen=True, kw_only=True)
class AnswerDelta(AnswerEvent):
    """A checked piece of an answer."""

    type = "answer.delta"

    seq: int  # 1, 2, … within the answer
    text: str


@dataclass(frozen=True, kw_only=True)
class AnswerEnded(AnswerEvent):
    """The answer is stored; `message` is its final text (message_wire's shape)."""

    type = "answer.end"

    seq: int  # the last piece sent (0: none, as from the sweeper)
    message: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class AnswerCancelled(AnswerEvent):
    """No answer will be stored (a person took over, or answering failed and the sweeper retries)."""

    type = "answer.cancelled"


# ----------------------------------------------------------------------------- sending

E = TypeVar("E", bound=Event)
EventHandler = Callable[[Any], None]
_HANDLERS: dict[type[Event], list[EventHandler]] = defaultdict(list)


def event_handler_register(*, event_class: type[E], handler: Callable[[E], None]) -> None:
    """`handler` is called with every event of `event_class`, in the sender's transaction (an app's
    `ready()` registers its handlers, once). It must be cheap and must not fail for reasons of its own:
    it runs inside every write that sends the event."""
    if handler not in _HANDLERS[event_class]:
        _HANDLERS[event_class].append(handler)


def channel_message(event: Event) -> dict[str, Any]:
    """What the channel layer carries: the frame and who may receive it."""
    return {"type": CHANNEL_EVENT_TYPE, "event": event.to_wire(), "audience": sorted(event.audience)}


def is_for(message: dict[str, Any], audience: Audience) -> bool:
    """Whether a channel-layer event message may be passed on to a socket of `audience`."""
    return audience in message.get("audience", ())


def event_send(event: Event) -> None:
    """The one way an event is sent from a service: registered handlers now, inside the caller's
    transaction; sockets once it commits (a rolled-back change tells nobody anything)."""
    for handler in _HANDLERS.get(type(event), ()):
        handler(event)
    groups = event.groups(connection.schema_name)
    if groups:
        transaction.on_commit(lambda: _publish(groups, event))


def _publish(groups: list[str], event: Event) -> None:
    try:
        groups_publish(groups, channel_message(event))
    except Exception:  # a lost live update must never undo or fail the write that caused it
        logger.exception("could not publish %s to %s", event.type, ", ".join(groups))


async def event_send_now(event: Event, *, schema_name: str, kept: KeptCopy | None = None) -> None:
    """For streamed events from async code, where there is no transaction to wait for; `kept`
    appends a copy of the frame to a Redis list first (config.live.group_publish_async)."""
    for index, group in enumerate(event.groups(schema_name)):
        try:
            await group_publish_async(group, channel_message(event), kept=kept if index == 0 else None)
        except Exception:
            logger.exception("could not publish %s to %s", event.type, group)


# An agent's sockets are told, in their own group, that who may use the inbox changed: each checks
# its session again and closes if it no longer gives access. A channel-layer message, not an event
# for the client: no socket ever forwards it.
AGENT_ACCESS_CHANGED_TYPE = "deskpilot.agent_access_changed"


def agent_user_group(schema_name: str, user_id: int) -> str:
    """Every open agent socket of one user of one tenant."""
    return f"{schema_name}.agent-user.{user_id}"


def publish_agent_access_changed_after_commit(*, user_id: int) -> None:
    group = agent_user_group(connection.schema_name, user_id)

    def send() -> None:
        try:
            groups_publish([group], {"type": AGENT_ACCESS_CHANGED_TYPE})
        except Exception:  # the sockets still check again before each action, and periodically
            logger.exception("could not tell the agent sockets of %s that their access changed", group)

    transaction.on_commit(send)
