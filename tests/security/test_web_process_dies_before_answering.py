"""The web process is killed (SIGKILL) while it answers; the sweeper answers on a worker; the
customer, still connected (to the web process that took over) or coming back later, gets that
answer exactly once.

Real processes throughout: two daphne web processes, a fake model that goes silent halfway through
the answer, a Celery worker running the sweeper, and widget clients on real WebSockets.
"""

from __future__ import annotations

from django_tenants.utils import schema_context

from chat.assistant.tasks import answer_pending_messages
from chat.conversations.models import AnswerState, Message
from tests.chat.test_widget_protocol import open_widget
from tests.support.fake_openai import FakeOpenAIServer
from tests.support.processes import WebServer, Worker, child_env, wait_until
from tests.support.ws import WidgetSocket

SENTENCES = ["We are a small team.", "We love good coffee.", "We bake every morning.", "We roast our own beans.",
             "We know our regulars.", "We play music on Fridays."]


def settle(ws: WidgetSocket) -> None:
    """Every frame the server owes `ws` so far has arrived (its frames are handled in order)."""
    ws.send({"type": "are-you-done"})
    ws.recv_until("error", code="bad_frame")


def frames_of_message(ws: WidgetSocket, message_id: int) -> list[dict]:
    """Every time `ws` was given the stored message: in a welcome's history, a `message` or an `answer.end`."""
    given = [frame["message"] for frame in ws.frames if isinstance(frame.get("message"), dict)]
    given += [message for frame in ws.of_type("welcome") for message in frame["history"]]
    return [message for message in given if message["id"] == message_id]


def test_the_sweepers_answer_reaches_a_connected_and_a_returning_widget_exactly_once(tenant_a) -> None:
    with FakeOpenAIServer() as llm:
        llm.default_reply = {"text": " ".join(SENTENCES), "chunk_size": 6, "pause_midway": 600}
        dying = WebServer(env=child_env(OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=llm.base_url,
                                        ASSISTANT_CACHE_ENABLED="false"))
        survivor = WebServer(env=child_env(OPENAI_API_KEY=""))
        worker: Worker | None = None
        try:
            # The customer asks; the answer starts streaming, then the web process dies mid-answer.
            first = open_widget(dying, tenant_a)
            token = first.recv_until("welcome")["visitor_token"]
            first.send({"type": "message", "client_id": "q-1", "text": "tell me about your team"})
            question = first.recv_until("ack")["message_id"]
            start = first.recv_until("answer.start", reply_to=question)
            shown = first.recv_until("answer.delta", answer_ref=start["answer_ref"])
            dying.kill()
            with schema_context(tenant_a.schema_name):
                assert Message.objects.get(pk=question).answer_state == AnswerState.PENDING

            # It reconnects to the web process that is left, resumes, and stays connected.
            connected = open_widget(survivor, tenant_a, token=token)
            connected.recv_until("welcome")
            connected.send({"type": "resume", "last_message_id": question, "answer_ref": start["answer_ref"],
                            "seq": shown["seq"]})
            settle(connected)

            # The sweeper, on a worker, answers what the dead process left.
            worker = sweeper = Worker(env=child_env(OPENAI_API_KEY="", ASSISTANT_SWEEP_GRACE_SECONDS="0"))
            with schema_context(tenant_a.schema_name):
                answer_pending_messages.delay()
            end = connected.recv_until("answer.end", answer_ref=start["answer_ref"], timeout=60)
            with schema_context(tenant_a.schema_name):
                answer = Message.objects.get(in_reply_to_id=question, author="assistant")
            assert end["message"]["id"] == answer.pk and end["message"]["text"] == answer.text

            # A visitor coming back now (say from a page loaded before the answer) gets it once too,
            # whatever its resume says it has.
            returning = open_widget(survivor, tenant_a, token=token)
            returning.recv_until("welcome")
            returning.send({"type": "resume", "last_message_id": question, "answer_ref": start["answer_ref"],
                            "seq": shown["seq"]})
            settle(returning)
            # Two sweepers that took the question at once both tell what was stored: nobody sees it twice.
            with schema_context(tenant_a.schema_name):
                Message.objects.filter(pk=question).update(answer_state=AnswerState.PENDING)
                answer_pending_messages.delay()
            wait_until(lambda: sweeper.output().count("answered 1 message(s) left waiting") == 2, timeout=60,
                       message="the second sweep")
            settle(connected)
            settle(returning)

            assert len(frames_of_message(connected, answer.pk)) == 1, connected.frames
            assert len(frames_of_message(returning, answer.pk)) == 1, returning.frames
            # What the dead process had streamed (resumed from its kept pieces), then the sweeper's answer, once.
            kinds = [f["type"] for f in connected.frames if f.get("answer_ref") == start["answer_ref"]]
            assert kinds == ["answer.delta"] * (len(kinds) - 1) + ["answer.end"], kinds
            assert end["seq"] >= shown["seq"]
            connected.close()
            returning.close()
        finally:
            if worker is not None:
                worker.stop()
            survivor.stop()
            dying.stop()
