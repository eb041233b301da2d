"""The production web server (gunicorn managing uvicorn workers, config/gunicorn_conf.py) stopping
gracefully: an orchestrator's SIGTERM to gunicorn closes every open widget socket with code 1012
("service restart", so the widget reconnects elsewhere), and the answer the process was writing is
still stored and reaches the customer when they come back. Real processes, real sockets, a fake
model as a real HTTP server. (Proxy trust under this server: tests/security/test_attacker_forges_x_forwarded_for.py.)"""

from __future__ import annotations

import os
import signal

from django_tenants.utils import schema_context
from websockets.exceptions import ConnectionClosed

from chat.conversations.models import Message
from chat.widget.services import widget_settings_get
from tests.support.fake_openai import FakeOpenAIServer
from tests.support.processes import WebServer, child_env, wait_until
from tests.support.ws import WidgetSocket

ANSWER = "Dogs are welcome on the terrace."


def open_widget(server: WebServer, tenant) -> WidgetSocket:
    with schema_context(tenant.schema_name):
        key = widget_settings_get().public_key
    return WidgetSocket(server.port, tenant.get_primary_domain().domain, f"/ws/widget/?key={key}")


def close_code(widget: WidgetSocket) -> int | None:
    """Read frames until the server closes the socket; the code it closed with."""
    try:
        while True:
            widget.recv(timeout=30)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None


def test_sigterm_closes_widget_sockets_with_1012_and_the_answer_in_flight_is_still_stored(demo_copies) -> None:
    cafe = demo_copies["cafe"]
    with FakeOpenAIServer(first_token_delay=2.0) as llm:
        llm.default_reply = {"text": ANSWER}
        server = WebServer(env=child_env(OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=llm.base_url,
                                         ASSISTANT_CACHE_ENABLED="false", WEB_CONCURRENCY="2"))
        try:
            idle = open_widget(server, cafe)
            idle.recv_until("welcome")
            asking = open_widget(server, cafe)
            asking.recv_until("welcome")
            asking.send({"type": "message", "client_id": "m1", "text": "can I bring my dog on the terrace?"})
            question_id = asking.recv_until("ack")["message_id"]
            wait_until(lambda: llm.chat_requests, timeout=30, message="the model asked for the answer")

            os.kill(server.pid, signal.SIGTERM)  # to gunicorn alone, as an orchestrator stops a task

            assert close_code(idle) == 1012
            assert close_code(asking) == 1012
            assert server.process.wait(timeout=45) == 0
        finally:
            server.stop()
    log = server.output()
    assert "Traceback" not in log and "ERROR" not in log, log[-3000:]
    # The answer outlived the socket: stored before the process ended, in the customer's history when
    # their widget reconnects.
    with schema_context(cafe.schema_name):
        conversation_id = Message.objects.get(pk=question_id).conversation_id
        stored = list(Message.objects.filter(conversation_id=conversation_id, author="assistant")
                      .values_list("text", flat=True))
    assert stored == [ANSWER]
