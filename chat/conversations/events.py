"""Real-time events for the widget and the inbox, sent after the transaction commits.

Every event is a JSON object with a `type`, sent to an explicit audience: one conversation's group
(the customer's widget and agents viewing it) or a tenant's inbox group (that tenant's agents).
Group names start with the tenant's schema, so an event can never reach another tenant's sockets.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import connection, transaction

from config.live import KeptCopy, group_publish_async, groups_publish

logger = logging.getLogger(__name__)

CHANNEL_EVENT_TYPE = "deskpilot.event"


def conversation_group(schema_name: str, conversation_id: int) -> str:
    return f"{schema_name}.conversation.{conversation_id}"


def inbox_group(schema_name: str) -> str:
    return f"{schema_name}.inbox"


def _send(groups: list[str], event: dict[str, Any]) -> None:
    try:
        groups_publish(groups, {"type": CHANNEL_EVENT_TYPE, "event": event})
    except Exception:  # a lost live update must never undo or fail the write that caused it
        logger.exception("could not publish %s to %s", event.get("type"), ", ".join(groups))


async def publish_now(group: str, event: dict[str, Any], *, kept: KeptCopy | None = None) -> None:
    """For streaming from async code (answer deltas), where there is no transaction to wait for;
    `kept` appends a copy to a Redis list first (config.live.group_publish_async)."""
    try:
        await group_publish_async(group, {"type": CHANNEL_EVENT_TYPE, "event": event}, kept=kept)
    except Exception:
        logger.exception("could not publish %s to %s", event.get("type"), group)


def publish_after_commit(*, conversation_id: int, event: dict[str, Any], to_conversation: bool = True,
                         to_inbox: bool = True) -> None:
    schema = connection.schema_name
    groups = []
    if to_conversation:
        groups.append(conversation_group(schema, conversation_id))
    if to_inbox:
        groups.append(inbox_group(schema))

    transaction.on_commit(lambda: _send(groups, event))
