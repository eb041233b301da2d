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
