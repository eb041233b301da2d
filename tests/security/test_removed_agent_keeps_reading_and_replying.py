"""Finding 3: a teammate who lost access keeps their live inbox socket, or a foreign page opens one.

The attacker is an agent the owner removed (or whose password was reset, or who logged out) and who
kept the dashboard's socket open: it must close at once, carry no later customer message, and a reply
sent on it must not be stored. The other attacker is a page on another site that opens the agents'
socket with the agent's cookie (cross-site WebSocket hijacking): it is refused at the handshake.

Everything goes through a real daphne process: people log in and act through the dashboard's HTTP
pages (CSRF and all), the sockets are real WebSocket clients carrying the session cookie that login set.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.auth.tokens import default_token_generator
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_tenants.utils import schema_context
from websockets.exceptions import ConnectionClosed, InvalidStatus

from chat.conversations.models import Author, Message
from chat.widget.services import widget_settings_get
from tests.dashboard.conftest import (  # noqa: F401  (fixtures used by name)
    AGENT_PASSWORD,
    OWNER_PASSWORD,
    Business,
    make_business,
)
from tests.support.processes import WebServer, child_env, running
from tests.support.ws import WidgetSocket

ACCESS_ENDED = 4401
# The close must come from the message the change sends, not from the periodic check (60 s here).
PROMPTLY_SECONDS = 10


@pytest.fixture
def team(make_business: Callable[..., Business]) -> Business:  # noqa: F811
    """A business with an owner and an agent (tests/dashboard/conftest.py), each logging in with its password."""
    return make_business("Threadline")


@pytest.fixture(scope="module")
def web() -> Iterator[WebServer]:
    server = WebServer(env=child_env(OPENAI_API_KEY=""))
    yield server
    server.stop()


# ----------------------------------------------------------------------------- a browser, by hand

def page_origin(team: Business) -> str:
    return f"http://{team.domain}"


def post_form(browser: httpx.Client, team: Business, path: str, data: dict[str, str]) -> httpx.Response:
    """A form posted from the dashboard's own page: the CSRF cookie's token and the page's Origin."""
    token = browser.cookies.get(settings.CSRF_COOKIE_NAME)
    assert token, "the page set no CSRF cookie"
    return browser.post(path, data={**data, "csrfmiddlewaretoken": token}, headers={"Origin": page_origin(team)})


def log_in(web: WebServer, team: Business, user: User, password: str) -> httpx.Client:
    browser = web.client(team.domain)
    assert browser.get("/app/login/").status_code == 200
    response = post_form(browser, team, "/app/login/", {"username": user.username, "password": password})
    assert response.status_code == 302, response.text
    assert browser.cookies.get(settings.SESSION_COOKIE_NAME)
    return browser


def inbox_socket(web: WebServer, team: Business, browser: httpx.Client, *, origin: str | None = "page") -> WidgetSocket:
    """The socket the dashboard's inbox.js opens, with the cookie the browser holds."""
    cookie = f"{settings.SESSION_COOKIE_NAME}={browser.cookies.get(settings.SESSION_COOKIE_NAME)}"
    return WidgetSocket(web.port, team.domain, "/ws/agent/", cookie=cookie,
                        origin=page_origin(team) if origin == "page" else origin)


def customer_widget(web: WebServer, team: Business) -> WidgetSocket:
    with schema_context(team.tenant.schema_name):
        key = widget_settings_get().public_key
    widget = WidgetSocket(web.port, team.domain, f"/ws/widget/?key={key}", origin=page_origin(team))
    widget.recv_until("welcome")
    return widget


def customer_says(widget: WidgetSocket, text: str) -> None:
    client_id = uuid.uuid4().hex
    widget.send({"type": "message", "client_id": client_id, "text": text})
    widget.recv_until("ack", client_id=client_id)


def close_code_within(socket: WidgetSocket, seconds: float) -> int | None:
    """Read (and keep) frames until the server closes the socket; its close code."""
    deadline = time.monotonic() + seconds
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"the socket is still open after {seconds}s; got {[f['type'] for f in socket.frames]}")
        try:
            socket.recv(timeout=remaining)
        except TimeoutError:
            continue
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd is not None else None


def reply_after_losing_access(socket: WidgetSocket, conversation_id: int, text: str) -> None:
    """The attacker's reply, fired at once: the socket may already be closing under it."""
    try:
        socket.send({"type": "message", "conversation_id": conversation_id, "text": text, "client_id": "late"})
    except ConnectionClosed:
        pass


def texts_seen(socket: WidgetSocket) -> list[str]:
    return [str(frame.get("message", {}).get("text")) for frame in socket.frames if frame.get("type") == "message"]


def stored(team: Business, text: str) -> bool:
    with schema_context(team.tenant.schema_name):
        return Message.objects.filter(text=text).exists()


def agent_socket_on_a_conversation(web: WebServer, team: Business, browser: httpx.Client) -> tuple[WidgetSocket, WidgetSocket, int]:
    """A customer talking to the business, and the agent's inbox socket on their conversation."""
    widget = customer_widget(web, team)
    customer_says(widget, "Where is my parcel?")
    with schema_context(team.tenant.schema_name):
        conversation_id = Message.objects.filter(author=Author.CUSTOMER, text="Where is my parcel?").get().conversation_id
    socket = inbox_socket(web, team, browser)
    socket.recv_until("welcome")
    socket.send({"type": "subscribe", "conversation_id": conversation_id})
    socket.recv_until("subscribed")
    return widget, socket, conversation_id


# ----------------------------------------------------------------------------- removed, reset, logged out

def test_an_agent_the_owner_removes_loses_their_open_socket_at_once(web: WebServer, team: Business) -> None:
    agent_browser = log_in(web, team, team.agent, AGENT_PASSWORD)
    widget, agent_socket, conversation_id = agent_socket_on_a_conversation(web, team, agent_browser)
    owner = log_in(web, team, team.owner, OWNER_PASSWORD)
    owner_socket = inbox_socket(web, team, owner)
    owner_socket.recv_until("welcome")

    assert owner.get("/app/team/").status_code == 200
    removed = post_form(owner, team, f"/app/team/{team.agent.pk}/remove", {})
    assert removed.status_code == 302
    with schema_context(team.tenant.schema_name):
        assert not User.objects.get(pk=team.agent.pk).is_active
    customer_says(widget, "My card number is 4111 and my address is 1 Elm St")
    reply_after_losing_access(agent_socket, conversation_id, "Thanks, I will keep those (after removal)")

    assert close_code_within(agent_socket, PROMPTLY_SECONDS) == ACCESS_ENDED
    assert not any("4111" in text for text in texts_seen(agent_socket))
    assert not stored(team, "Thanks, I will keep those (after removal)")
    # The owner's socket is untouched and still hears the customer.
    owner_socket.recv_until("message", timeout=20)
    assert any("4111" in text for text in texts_seen(owner_socket))
    # Nor can the removed agent come back on the session they kept.
    with pytest.raises(InvalidStatus):
        inbox_socket(web, team, agent_browser)
    for socket in (widget, owner_socket):
        socket.close()


def test_a_password_reset_closes_the_sockets_of_sessions_made_before_it(web: WebServer, team: Business) -> None:
    stolen_session = log_in(web, team, team.agent, AGENT_PASSWORD)
    widget, stolen_socket, conversation_id = agent_socket_on_a_conversation(web, team, stolen_session)

    # The real agent resets their password with the e-mailed link, from a browser of their own.
    with schema_context(team.tenant.schema_name):
        user = User.objects.get(pk=team.agent.pk)
        link = f"/app/password-reset/{urlsafe_base64_encode(force_bytes(user.pk))}/" \
               f"{default_token_generator.make_token(user)}/"
    own_browser = web.client(team.domain)
    form_page = own_browser.get(link)
    assert form_page.status_code == 302
    assert own_browser.get(form_page.headers["location"]).status_code == 200
    done = post_form(own_browser, team, form_page.headers["location"],
                     {"new_password1": "a-new-pass-9876", "new_password2": "a-new-pass-9876"})
    assert done.status_code == 302 and done.headers["location"].endswith("/app/password-reset/done/")
    customer_says(widget, "Here is my order number 55512")
    reply_after_losing_access(stolen_socket, conversation_id, "Reply on a stolen session")

    assert close_code_within(stolen_socket, PROMPTLY_SECONDS) == ACCESS_ENDED
    assert not any("55512" in text for text in texts_seen(stolen_socket))
    assert not stored(team, "Reply on a stolen session")
    # The agent, logged in with the new password, has their inbox back.
    fresh = inbox_socket(web, team, log_in(web, team, team.agent, "a-new-pass-9876"))
    fresh.recv_until("welcome")
    for socket in (widget, fresh):
        socket.close()


def test_logging_out_closes_that_sessions_sockets_and_no_other(web: WebServer, team: Business) -> None:
    shared_computer = log_in(web, team, team.agent, AGENT_PASSWORD)
    own_laptop = log_in(web, team, team.agent, AGENT_PASSWORD)
    widget, left_open, conversation_id = agent_socket_on_a_conversation(web, team, shared_computer)
    laptop_socket = inbox_socket(web, team, own_laptop)
    laptop_socket.recv_until("welcome")

    assert shared_computer.get("/app/inbox/").status_code == 200
    assert post_form(shared_computer, team, "/app/logout/", {}).status_code == 302
    customer_says(widget, "My phone is 555-0101")
    reply_after_losing_access(left_open, conversation_id, "Reply after logout")

    assert close_code_within(left_open, PROMPTLY_SECONDS) == ACCESS_ENDED
    assert not any("555-0101" in text for text in texts_seen(left_open))
    assert not stored(team, "Reply after logout")
    laptop_socket.recv_until("message", timeout=20)
    assert any("555-0101" in text for text in texts_seen(laptop_socket))
    for socket in (widget, laptop_socket):
        socket.close()


# ----------------------------------------------------------------------------- when the close message is lost

def deactivate_out_of_band(team: Business) -> None:
    """As an operator's shell does, with no service to tell the sockets (as if Redis lost the message)."""
    with schema_context(team.tenant.schema_name):
        User.objects.filter(pk=team.agent.pk).update(is_active=False)


def change_password_out_of_band(team: Business) -> None:
    """As `manage.py changepassword` does: Django's own session rule ends the older sessions."""
    with schema_context(team.tenant.schema_name):
        user = User.objects.get(pk=team.agent.pk)
        user.set_password("changed-by-shell-1")
        user.save()


@pytest.mark.parametrize("lose_access", [deactivate_out_of_band, change_password_out_of_band])
def test_every_action_of_an_agent_who_lost_access_unannounced_is_refused(
        web: WebServer, team: Business, lose_access: Callable[[Business], None]) -> None:
    browser = log_in(web, team, team.agent, AGENT_PASSWORD)
    widget, socket, conversation_id = agent_socket_on_a_conversation(web, team, browser)

    lose_access(team)
    socket.send({"type": "message", "conversation_id": conversation_id, "text": "Unannounced reply",
                 "client_id": "late"})

    assert close_code_within(socket, PROMPTLY_SECONDS) == ACCESS_ENDED
    assert socket.of_type("ack") == []
    assert not stored(team, "Unannounced reply")
    widget.close()


def test_an_idle_socket_whose_close_message_was_lost_closes_by_itself(team: Business) -> None:
    with running(WebServer(env=child_env(OPENAI_API_KEY="", DASHBOARD_AGENT_ACCESS_RECHECK_SECONDS="1"))) as web:
        assert isinstance(web, WebServer)
        socket = inbox_socket(web, team, log_in(web, team, team.agent, AGENT_PASSWORD))
        socket.recv_until("welcome")

        deactivate_out_of_band(team)

        assert close_code_within(socket, PROMPTLY_SECONDS) == ACCESS_ENDED


# ----------------------------------------------------------------------------- cross-site WebSocket hijacking

@pytest.mark.parametrize("origin", ["https://evil.example", "http://{domain}.evil.example", "https://evil-{domain}",
                                    "null", "file://{domain}/inbox.html", None])
def test_a_page_elsewhere_cannot_open_the_agents_socket_with_their_cookie(
        web: WebServer, team: Business, origin: str | None) -> None:
    browser = log_in(web, team, team.agent, AGENT_PASSWORD)

    with pytest.raises(InvalidStatus):
        inbox_socket(web, team, browser, origin=origin.format(domain=team.domain) if origin else None)

    # The same cookie from the dashboard's own page is let in.
    own = inbox_socket(web, team, browser)
    assert own.recv_until("welcome")["user"] == team.agent.username
    own.close()


def test_another_businesss_domain_is_a_foreign_origin(web: WebServer, team: Business,
                                                      make_tenant: Callable[..., Any]) -> None:
    other = make_tenant(name="Other shop")
    browser = log_in(web, team, team.agent, AGENT_PASSWORD)

    with pytest.raises(InvalidStatus):
        inbox_socket(web, team, browser, origin=f"https://{other.domain.domain}")
