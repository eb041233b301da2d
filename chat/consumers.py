"""WebSocket consumers: the customer's widget and the agents' live inbox (docs/widget-protocol.md).

They parse frames and call services; the tenant comes from the ASGI middleware (config.websocket),
and every database call runs inside that tenant's schema.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeGuard, TypeVar
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from chat.conversations import selectors as conversation_selectors
from chat.conversations import services
from chat.conversations.events import (
    Audience,
    Typing,
    agent_user_group,
    conversation_group,
    event_send_now,
    inbox_group,
    is_for,
)
from chat.dashboard import selectors as dashboard_selectors
from chat.widget import services as widget_services
from chat.widget import streaming
from config.db import BIGINT_MAX, in_tenant, in_thread
from config.errors import ApplicationError, error_frame, store_failure
from config.tracing import REQUEST_ID_ATTRIBUTE, TENANT_ATTRIBUTE, span

logger = logging.getLogger(__name__)
T = TypeVar("T")

CLOSE_FORBIDDEN = 4403
# An agent socket whose session stopped giving access (docs/widget-protocol.md): log in again.
CLOSE_ACCESS_ENDED = 4401
# Too many widget handshakes from one IP for this tenant (WIDGET_HANDSHAKES_PER_MINUTE_PER_IP).
CLOSE_TOO_MANY_HANDSHAKES = 4429
# A store cannot take the connection now (RFC 6455's "Try Again Later").
CLOSE_TRY_AGAIN_LATER = 1013

# Redis starts sending a group's events to this process when it reads the SUBSCRIBE that group_add
# wrote on the layer's listening connection, and group_add does not wait for that. An event
# published just after, on another connection, can reach Redis first and go to nobody: the start of
# a new conversation's first answer, or all of it when the offline assistant answers within
# milliseconds. So a socket counts a group as heard once a probe it published there came back, and
# what must not be missed waits for that (docs/decisions/1504-a-group-is-heard-before-it-is-used.md).
# A probe can lose the same race, so it is published again until one comes back; after the longest
# wait the group is taken as heard anyway (Redis failing: what a widget missed is in the database,
# and it reads it when it reconnects).
PROBE_AGAIN_AFTER_SECONDS = 0.1
HEARD_AT_THE_LATEST_SECONDS = 5.0


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def _is_whole_number(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _frame_count(content: dict[str, Any], field: str) -> int:
    """A frame's id or sequence number: 0 when missing, a bad_frame error when not a whole number
    from 0 to a bigint's largest."""
    value = content.get(field)
    if value is None:
        return 0
    if not _is_whole_number(value) or not 0 <= value <= BIGINT_MAX:
        raise ApplicationError(f"{field} must be a whole number from 0.", code="bad_frame")
    return int(value)


class TenantConsumer(AsyncJsonWebsocketConsumer):
    """Runs database work inside the connection's tenant, and answers errors in the one shape."""

    # Each group joined, with an event set once this socket hears what is published to it; the
    # probes still out, by name; the work waiting for them.
    groups_heard: dict[str, asyncio.Event]
    probes: dict[str, asyncio.Event]
    background: set[asyncio.Task[None]]

    def listen_nowhere_yet(self) -> None:
        self.groups_heard, self.probes, self.background = {}, {}, set()

    async def db(self, function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        return await in_tenant(self.scope["tenant"], function, *args, **kwargs)

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels' own dispatch first closes stale database connections, on asgiref's one shared
        # sync thread, before every message it hands any consumer: each frame and each event (every
        # streamed piece of every answer, to every socket) queued for that single thread. These
        # consumers never use a connection of that thread: all their database work goes through
        # config.db (database_sync_to_async), which closes old connections around each call.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    @property
    def schema(self) -> str:
        return str(self.scope["tenant"].schema_name)

    async def join(self, group: str) -> asyncio.Event:
        """Listen to `group`. The event returned is set once this socket hears what is published
        there (PROBE_AGAIN_AFTER_SECONDS): wait for it before publishing what it must not miss."""
        heard = self.groups_heard.get(group)
        if heard is None:
            await self.channel_layer.group_add(group, self.channel_name)
            heard = self.groups_heard[group] = asyncio.Event()
            self._in_background(self._probe(group, heard))
        return heard

    async def when_heard(self, action: Callable[[], Awaitable[None]], *heard: asyncio.Event) -> None:
        """Run `action` once every one of `heard` is set: now if they are, else when the probes come
        back (which this socket receives only after the frame or event it is handling now)."""
        if all(event.is_set() for event in heard):
            await action()
            return

        async def run() -> None:
            for event in heard:
                await event.wait()
            await action()

        self._in_background(run())

    def _in_background(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self.background.add(task)
        task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Task[None]) -> None:
        self.background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("a socket's background work failed", exc_info=task.exception())

    async def _probe(self, group: str, heard: asyncio.Event) -> None:
        probe = secrets.token_urlsafe(12)
        self.probes[probe] = heard
        give_up_at = time.monotonic() + HEARD_AT_THE_LATEST_SECONDS
        try:
            while not heard.is_set() and time.monotonic() < give_up_at:
                await self.channel_layer.group_send(group, {"type": "deskpilot.listening", "probe": probe})
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(heard.wait(), PROBE_AGAIN_AFTER_SECONDS)
            if not heard.is_set():
                logger.warning("no probe came back from a group within %s s; going on without",
                               HEARD_AT_THE_LATEST_SECONDS)
        except Exception:
            logger.exception("could not make sure a group is heard; going on without")
        finally:
            self.probes.pop(probe, None)
            heard.set()

    async def deskpilot_listening(self, message: dict[str, Any]) -> None:
        # Every socket of the group receives every probe; each knows only its own.
        heard = self.probes.get(str(message.get("probe")))
        if heard is not None:
            heard.set()

    async def disconnect(self, code: int) -> None:
        for task in list(getattr(self, "background", ())):
            task.cancel()
        for group, heard in getattr(self, "groups_heard", {}).items():
            # Answers of this process waiting for this socket to listen go on: nobody is left to miss them.
            heard.set()
            await self.channel_layer.group_discard(group, self.channel_name)

    async def send_error(self, code: str, message: str, *, details: Any = None) -> None:
        await self.send_json(error_frame(ApplicationError(message, code=code, details=details)))

    # Channels hands a socket's frames to its consumer one at a time: while one is being handled
    # (a message waiting for the database under load, say), the client's next frames, its pongs
    # among them, wait unread. Silence is only held against a client while we were listening.
    frames_in_progress = 0
    last_frame_done = 0.0

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        self.frames_in_progress += 1
        try:
            await self._receive_frame(text_data)
        finally:
            self.frames_in_progress -= 1
            self.last_frame_done = time.monotonic()

    @classmethod
    async def decode_json(cls, text_data: str) -> Any:
        content = await super().decode_json(text_data)
        # Only a \u escape makes a lone surrogate: most frames skip the walk.
        return services.without_lone_surrogates(content) if "\\u" in text_data else content

    def silent_for(self, last_heard: float) -> float:
        """Seconds the client has said nothing while this consumer was free to read it."""
        if self.frames_in_progress:
            return 0.0
        return time.monotonic() - max(last_heard, self.last_frame_done)

    async def _receive_frame(self, text_data: str | None) -> None:
        try:
            content = await self.decode_json(text_data) if text_data else None
        except ValueError:
            content = None
        if not isinstance(content, dict) or not isinstance(content.get("type"), str):
            await self.send_error("bad_frame", "Frames are JSON objects with a type.")
            return
        handler = self.handlers().get(content["type"])
        if handler is None:
            await self.send_error("bad_frame", f"Unknown frame type {content['type'][:40]!r}.")
            return
        try:
            with span(f"ws.frame {content['type']}", **{TENANT_ATTRIBUTE: self.schema,
                                                        REQUEST_ID_ATTRIBUTE: self.scope.get("request_id")}):
                await handler(content)
        except ApplicationError as exc:
            await self.send_json(error_frame(exc, client_id=content.get("client_id")))
        except Exception as exc:
            unavailable = store_failure(exc)
            if unavailable is not None:
                logger.warning("widget frame %s refused, a store failed: %s", content["type"], exc)
                await self.send_json(error_frame(unavailable, client_id=content.get("client_id")))
                return
            logger.exception("widget frame %s failed", content["type"])
            await self.send_error("server_error", "Something went wrong on our side. Please try again.")

    def handlers(self) -> dict[str, Callable[[dict[str, Any]], Any]]:
        return {}


class WidgetConsumer(TenantConsumer):
    """One customer's widget. It only ever sends frames of its own visitor's conversation: the
    conversation's group, its stored messages, and answers kept under it (chat.widget.streaming)."""

    async def connect(self) -> None:
        self.listen_nowhere_yet()
        self.sent_seq: dict[str, int] = {}
        self.ended: set[str] = set()
        # Stored messages this socket has sent (history, resume, live): each is sent once, whichever
        # process told it first (the web process streaming an answer, the sweeper after a restart).
        self.delivered: set[int] = set()
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        key = (query.get("key") or [""])[0]
        token = (query.get("token") or [None])[0]
        origin = _header(self.scope, b"origin")
        client = self.scope.get("client") or ["unknown"]
        self.ip = str(client[0])
        try:
            handshake = await widget_services.handshake_rate_limit_hit(schema_name=self.schema, ip=self.ip)
            session = (await self.db(widget_services.widget_session_open, public_key=key, origin=origin, token=token)
                       if handshake.allowed else None)
        except Exception as exc:
            unavailable = store_failure(exc)
            if unavailable is None:
                raise
            # Accepted only to say why, as for the handshake limit: the widget shows the message and
            # tries again later rather than seeing a bare refusal.
            logger.warning("widget connection refused, a store failed: %s", exc)
            await self.accept()
            await self.send_json(error_frame(unavailable))
            await self.close(code=CLOSE_TRY_AGAIN_LATER)
            return
        if not handshake.allowed:
            # Accepted only to say why: a refusal before the handshake reaches a browser as a bare 1006.
            await self.accept()
            await self.send_error("rate_limited", "Too many chat connections from your network. Please wait a moment.",
                                  details={"retry_after": handshake.retry_after})
            await self.close(code=CLOSE_TOO_MANY_HANDSHAKES)
            return
        if session is None:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        await self.accept()
        self.visitor_id = session.visitor_id
        self.contact_id = session.contact_id
        self.conversation_id = session.conversation_id
        self.limits = session.limits
        self.last_pong = time.monotonic()
        heard = await self.join(conversation_group(self.schema, self.conversation_id)) if self.conversation_id else None
        history = session.welcome["history"]
        self.delivered.update(message["id"] for message in history)
        await self.send_json(session.welcome)
        if heard is not None and session.awaiting_answer:
            # An answer stored between reading the history and hearing the group was published to
            # nobody here: read what came since, once, when a question was still waiting.
            last_id = max(m["id"] for m in history)
            await self.when_heard(lambda: self._send_messages_after(last_id), heard)
        self.pinger = asyncio.get_running_loop().create_task(self._ping_loop())

    async def disconnect(self, code: int) -> None:
        pinger = getattr(self, "pinger", None)
        if pinger is not None:
            pinger.cancel()
        await super().disconnect(code)

    async def _ping_loop(self) -> None:
        interval = settings.WIDGET_PING_INTERVAL_SECONDS
        timeout = settings.WIDGET_PING_TIMEOUT_SECONDS
        with contextlib.suppress(asyncio.CancelledError):
            while True:
                await asyncio.sleep(interval)
                if self.silent_for(self.last_pong) > timeout:
                    logger.info("closing a widget connection that stopped answering pings")
                    await self.close(code=4408)
                    return
                await self.send_json({"type": "ping", "ts": int(time.time() * 1000)})

    def handlers(self) -> dict[str, Callable[[dict[str, Any]], Any]]:
        return {"message": self.on_message, "resume": self.on_resume, "typing": self.on_typing,
                "handoff": self.on_handoff, "prechat": self.on_prechat, "rating": self.on_rating,
                "pong": self.on_pong}

    async def on_pong(self, content: dict[str, Any]) -> None:
        self.last_pong = time.monotonic()

    async def on_message(self, content: dict[str, Any]) -> None:
        client_id = str(content.get("client_id") or "")[:64] or None
        text = content.get("text")
        if not isinstance(text, str):
            raise ApplicationError("A message needs a text.", code="invalid")
        received = await widget_services.widget_message_receive(
            tenant=self.scope["tenant"], visitor_id=self.visitor_id, contact_id=self.contact_id,
            conversation_id=self.conversation_id, ip=self.ip, limits=self.limits, text=text, client_id=client_id)
        self.contact_id = received.contact_id
        await self.send_json({"type": "ack", "client_id": client_id, "message_id": received.message_id})
        self.conversation_id = received.conversation_id
        heard = await self.join(conversation_group(self.schema, self.conversation_id))
        if received.needs_answer and received.created:
            streaming.start_answer(schema_name=self.schema, conversation_id=self.conversation_id,
                                   customer_message_id=received.message_id, once_heard=heard)

    async def on_resume(self, content: dict[str, Any]) -> None:
        if self.conversation_id is None:
            return
        last_id = _frame_count(content, "last_message_id")
        await self._send_messages(await self._messages_after(last_id))
        answer_ref = content.get("answer_ref")
        if isinstance(answer_ref, str) and answer_ref not in self.ended:
            seen = _frame_count(content, "seq")
            # Only an answer of this socket's conversation resumes: a reference from anywhere else
            # (another customer's, made up) is not remembered and finds nothing.
            if not streaming.answer_ref_is_of(schema_name=self.schema, conversation_id=self.conversation_id,
                                              answer_ref=answer_ref):
                return
            self.sent_seq[answer_ref] = max(self.sent_seq.get(answer_ref, 0), seen)
            frames = await in_thread(streaming.buffered_deltas, self.schema, self.conversation_id, answer_ref, seen)
            for frame in frames:
                await self._send_delta(frame)

    async def _send_messages_after(self, last_id: int) -> None:
        await self._send_messages(await self._messages_after(last_id))

    async def _send_messages(self, messages: list[dict[str, Any]]) -> None:
        """Stored messages read from the database (`_messages_after`): an assistant's as `answer.end`."""
        for message in messages:
            reply_to = message.pop("_reply_to", None)
            if message["author"] == "assistant" and reply_to:
                ref = self._answer_ref(reply_to)
                await self._send_stored({"type": "answer.end", "answer_ref": ref, "seq": self.sent_seq.get(ref, 0),
                                         "message": message})
            else:
                await self._send_stored({"type": "message", "message": message})

    def _answer_ref(self, customer_message_id: int) -> str:
        return streaming.answer_ref_for(schema_name=self.schema, conversation_id=self.conversation_id,
                                        customer_message_id=customer_message_id)

    async def _messages_after(self, last_id: int) -> list[dict[str, Any]]:
        return await self.db(widget_services.widget_messages_after, conversation_id=self.conversation_id,
                             last_id=last_id)

    async def _send_stored(self, frame: dict[str, Any]) -> None:
        """A stored message's frame (`message`, or `answer.end` for an answer), unless this socket
        sent that message already."""
        if frame["type"] == "answer.end":
            self.ended.add(frame["answer_ref"])
        message_id = frame["message"]["id"]
        if message_id in self.delivered:
            return
        self.delivered.add(message_id)
        await self.send_json(frame)

    async def _send_delta(self, frame: dict[str, Any]) -> None:
        ref = frame["answer_ref"]
        if ref in self.ended or frame["seq"] <= self.sent_seq.get(ref, 0):
            return  # already delivered: a resumed client never sees a piece twice
        self.sent_seq[ref] = frame["seq"]
        await self.send_json(frame)

    async def on_typing(self, content: dict[str, Any]) -> None:
        if self.conversation_id is None:
            return
        await event_send_now(Typing(conversation_id=self.conversation_id, author="customer", on=bool(content.get("on"))),
                             schema_name=self.schema)

    async def on_handoff(self, content: dict[str, Any]) -> None:
        if self.conversation_id is None:
            raise ApplicationError("Say hello first, then we can bring in a person.", code="invalid")
        await self.db(widget_services.widget_handoff_request, conversation_id=self.conversation_id)

    async def on_prechat(self, content: dict[str, Any]) -> None:
        self.contact_id = await self.db(widget_services.visitor_prechat_save, visitor_id=self.visitor_id,
                                        name=str(content.get("name") or ""), email=str(content.get("email") or ""))
        await self.send_json({"type": "prechat.saved"})

    async def on_rating(self, content: dict[str, Any]) -> None:
        score = content.get("score")
        if not _is_whole_number(score) or not 1 <= score <= 5 or self.conversation_id is None:
            raise ApplicationError("A rating is a whole number from 1 to 5.", code="invalid")
        await self.db(widget_services.widget_conversation_rate, conversation_id=self.conversation_id, score=score)
        await self.send_json({"type": "rating.saved", "score": score})

    async def deskpilot_event(self, message: dict[str, Any]) -> None:
        """An event of this conversation whose audience includes its customer, as the widget's frame."""
        if not is_for(message, Audience.CUSTOMER):
            return
        event = message["event"]
        if event.get("conversation_id", self.conversation_id) != self.conversation_id:
            return  # never another conversation's, whatever group it came through
        render: Callable[[dict[str, Any]], Awaitable[None]] = getattr(self, self._RENDERERS.get(event["type"],
                                                                                             "send_json"))
        await render(event)

    # The events the widget shows in a frame of its own (the rest are sent as they are).
    _RENDERERS = {"answer.delta": "_send_delta", "answer.start": "_send_unless_ended",
                  "answer.cancelled": "_send_unless_ended", "answer.end": "_send_end", "message": "_send_message",
                  "conversation.status": "_send_status", "typing": "_send_typing"}

    async def _send_unless_ended(self, event: dict[str, Any]) -> None:
        if event["answer_ref"] not in self.ended:
            await self.send_json(event)

    async def _send_end(self, event: dict[str, Any]) -> None:
        ref = event["answer_ref"]
        if ref not in self.ended:
            # The last piece this client got: the sweeper, which streams nothing, says 0 even when
            # the web process that died had streamed some of this answer here.
            await self._send_stored({**event, "seq": max(event["seq"], self.sent_seq.get(ref, 0))})

    async def _send_message(self, event: dict[str, Any]) -> None:
        await self._send_stored({"type": "message", "message": event["message"]})

    async def _send_status(self, event: dict[str, Any]) -> None:
        # The widget's own frame: who is here now, or the away message (never the agent's login).
        await self.send_json(await self.db(widget_services.widget_status_frame, conversation_id=self.conversation_id,
                                           status=event["to"]))

    async def _send_typing(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "typing", "author": event["author"], "on": event["on"], "name": event["name"]})


class AgentConsumer(TenantConsumer):
    """An agent's live inbox: every event of the tenant, and the conversations they open.

    Only the dashboard's own pages may open it (Origin), and only while the session gives access:
    checked at the handshake, before every action, every DASHBOARD_AGENT_ACCESS_RECHECK_SECONDS, and
    at once when a service that takes access away (a teammate removed, a password reset, a logout)
    tells the user's sockets. Without access it closes with CLOSE_ACCESS_ENDED.
    """

    async def connect(self) -> None:
        self.listen_nowhere_yet()
        self.access_ended = False
        # Channels' session middleware read the cookie (chat.routing); the session itself is read
        # in the tenant's schema, where its row is, each time access is checked.
        self.session_key = self.scope["session"].session_key
        self.user = await self.db(dashboard_selectors.agent_socket_user, origin=_header(self.scope, b"origin"),
                                  session_key=self.session_key)
        if self.user is None:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        # Listen for "access changed", then look again once it is heard (at the welcome): a removal
        # that commits in between is either seen by that look or heard by the group.
        access_heard = await self.join(agent_user_group(self.schema, self.user.pk))
        if not await self._access_holds():
            await self.close(code=CLOSE_FORBIDDEN)
            return
        await self.accept()
        # Welcomed once the inbox's events reach this socket: what happens after the welcome is shown.
        inbox_heard = await self.join(inbox_group(self.schema))
        await self.when_heard(self._welcome, access_heard, inbox_heard)
        self.rechecker = asyncio.get_running_loop().create_task(self._recheck_loop())

    async def _welcome(self) -> None:
        if await self._check_access():
            await self.send_json({"type": "welcome", "user": self.user.get_username()})

    async def _access_holds(self) -> bool:
        return await self.db(dashboard_selectors.agent_session_still, session_key=self.session_key,
                             user_id=self.user.pk)

    async def _check_access(self) -> bool:
        """Whether the session still gives access; if not, the socket is closed."""
        if self.access_ended:
            return False
        if await self._access_holds():
            return True
        await self._end_access()
        return False

    async def _end_access(self) -> None:
        if not self.access_ended:
            self.access_ended = True
            logger.info("closing an agent socket whose session no longer gives access")
            await self.close(code=CLOSE_ACCESS_ENDED)

    async def _recheck_loop(self) -> None:
        # The safety net under the group message, which Redis may lose: an agent who no longer has
        # access stops receiving the tenant's conversations within this interval even if idle.
        interval = settings.DASHBOARD_AGENT_ACCESS_RECHECK_SECONDS
        with contextlib.suppress(asyncio.CancelledError):
            while not self.access_ended:
                await asyncio.sleep(interval)
                try:
                    await self._check_access()
                except Exception:  # a database hiccup closes nobody; the next look decides
                    logger.exception("could not check an agent socket's access")

    async def disconnect(self, code: int) -> None:
        rechecker = getattr(self, "rechecker", None)
        if rechecker is not None:
            rechecker.cancel()
        await super().disconnect(code)

    async def deskpilot_agent_access_changed(self, message: dict[str, Any]) -> None:
        try:
            await self._check_access()
        except Exception:  # told that access changed and unable to check: fail closed
            logger.exception("could not check an agent socket's access; closing it")
            await self._end_access()

    def _checked(self, action: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], Any]:
        async def checked(content: dict[str, Any]) -> None:
            if await self._check_access():
                await action(content)

        return checked

    def handlers(self) -> dict[str, Callable[[dict[str, Any]], Any]]:
        # Every action checks the session first: a removed agent's frame is refused even if the
        # message that should have closed their socket was lost.
        actions: dict[str, Callable[[dict[str, Any]], Any]] = {
            "subscribe": self.on_subscribe, "message": self.on_message, "take_over": self.on_take_over,
            "hand_back": self.on_hand_back, "resolve": self.on_resolve, "typing": self.on_typing}
        return {**{name: self._checked(action) for name, action in actions.items()}, "pong": self.on_pong}

    async def on_pong(self, content: dict[str, Any]) -> None:
        return None

    async def _conversation(self, content: dict[str, Any]) -> Any:
        return await self.db(conversation_selectors.conversation_get, conversation_id=content.get("conversation_id"))

    async def on_subscribe(self, content: dict[str, Any]) -> None:
        conversation = await self._conversation(content)
        heard = await self.join(conversation_group(self.schema, conversation.pk))
        await self.when_heard(lambda: self.send_json({"type": "subscribed", "conversation_id": conversation.pk}), heard)

    async def on_message(self, content: dict[str, Any]) -> None:
        conversation = await self._conversation(content)
        message = await self.db(services.agent_message_send, conversation=conversation, agent=self.user,
                                text=str(content.get("text") or ""), internal=bool(content.get("internal")))
        await self.send_json({"type": "ack", "client_id": content.get("client_id"), "message_id": message.pk})

    async def on_take_over(self, content: dict[str, Any]) -> None:
        conversation = await self._conversation(content)
        await self.db(services.conversation_take_over, conversation=conversation, agent=self.user)

    async def on_hand_back(self, content: dict[str, Any]) -> None:
        conversation = await self._conversation(content)
        await self.db(services.conversation_hand_back, conversation=conversation, agent=self.user)

    async def on_resolve(self, content: dict[str, Any]) -> None:
        conversation = await self._conversation(content)
        await self.db(services.conversation_resolve, conversation=conversation, actor=self.user.get_username())

    async def on_typing(self, content: dict[str, Any]) -> None:
        conversation = await self._conversation(content)
        # The customer reads "Sam is typing": the agent's display name, never their e-mail.
        identity = await self.db(conversation_selectors.agent_identity_of, user_id=self.user.pk)
        await event_send_now(Typing(conversation_id=conversation.pk, author="agent", on=bool(content.get("on")),
                                    name=identity.name), schema_name=self.schema)

    async def deskpilot_event(self, message: dict[str, Any]) -> None:
        if not self.access_ended and is_for(message, Audience.AGENTS):
            await self.send_json(message["event"])
