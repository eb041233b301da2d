"""The owner invites teammates by e-mail link (sent by a task), within the plan's seats, and removes them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import celery
import pytest
from django.contrib.auth.models import User
from django.core import mail
from django_tenants.utils import schema_context

from chat.conversations.selectors import agent_identity
from chat.dashboard.models import Invitation
from chat.dashboard.tasks import invitation_email_send
from config.celery import SCHEMA_HEADER
from config.redis import redis_client
from tenants.models import DeadLetter
from tests.dashboard.conftest import Business
from tests.support.processes import Worker, child_env, wait_until

INVITATION_TASK = "chat.dashboard.tasks.invitation_email_send"


@pytest.fixture(autouse=True)
def tasks_run_here(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Tasks these tests cause run at once in this process, inside the schema stamped on them as a
    worker would, and are listed; the tests with a real worker (the `worker` fixture) send for real."""
    sent: list[dict[str, Any]] = []
    if "worker" in request.fixturenames:
        return sent

    def run_here(task: Any, args: Any = None, kwargs: Any = None, **options: Any) -> None:
        schema = (options.get("headers") or {}).get(SCHEMA_HEADER)
        sent.append({"name": task.name, "args": list(args or ()), "queue": task.deskpilot_queue, "schema": schema})
        with schema_context(schema):
            task.run(*(args or ()), **(kwargs or {}))

    monkeypatch.setattr(celery.app.task.Task, "apply_async", run_here)
    return sent


def invite(business: Business, email: str, role: str = "agent") -> object:
    return business.client(business.owner).post("/app/team/", {"email": email, "role": role}, follow=True)


def invitation_path() -> str:
    match = re.search(r"http://[^/\s]+(/app/invite/\S+/)", mail.outbox[-1].body)
    assert match, mail.outbox[-1].body
    return match.group(1)


def test_an_invitee_sets_name_and_password_through_the_link_once(business: Business) -> None:
    mail.outbox.clear()
    response = invite(business, "New.Person@Example.test")
    assert b"An invitation was sent to new.person@example.test" in response.content
    assert mail.outbox[-1].to == ["new.person@example.test"]
    path = invitation_path()

    visitor = business.client()
    page = visitor.get(path)
    assert page.status_code == 200 and b"new.person@example.test" in page.content
    accepted = visitor.post(path, {"name": "Nina New", "password1": "nina-secret-42", "password2": "nina-secret-42"})
    assert accepted.status_code == 302 and accepted["Location"] == "/app/inbox/"
    assert visitor.get("/app/inbox/").status_code == 200

    with schema_context(business.tenant.schema_name):
        user = User.objects.get(username="new.person@example.test")
        assert user.first_name == "Nina New"
        assert list(user.groups.values_list("name", flat=True)) == ["agent"]
        # The name given is the one customers see
        assert agent_identity(user=User.objects.get(pk=user.pk)).name == "Nina New"
    # Single use: the same link does nothing the second time.
    again = business.client().get(path)
    assert again.status_code == 404 and b"already used" in again.content


def test_an_invitation_link_does_not_work_on_another_businesss_domain(
        business: Business, other_business: Business) -> None:
    mail.outbox.clear()
    invite(business, "someone@example.test")
    path = invitation_path()
    assert other_business.client().get(path).status_code == 404
    tampered = path[:-3] + ("x" if path[-3] != "x" else "y") + path[-2:]
    assert business.client().get(tampered).status_code == 404


def test_invitations_stop_at_the_plans_seat_limit_with_a_clear_error(business: Business) -> None:
    # The starter plan has 3 seats: the owner and the agent hold two.
    seats = business.tenant.plan.agent_seats
    assert seats == 3
    invite(business, "third@example.test")
    response = invite(business, "fourth@example.test")
    assert b"all are taken" in response.content
    with schema_context(business.tenant.schema_name):
        assert not User.objects.filter(username="fourth@example.test").exists()

    # Removing a teammate frees a seat.
    owner = business.client(business.owner)
    assert owner.post(f"/app/team/{business.agent.pk}/remove").status_code == 302
    assert b"An invitation was sent" in invite(business, "fourth@example.test").content
    # The removed agent's session no longer opens the dashboard.
    assert business.client(business.agent).get("/app/inbox/").status_code == 302


def test_an_owner_cannot_remove_themselves(business: Business) -> None:
    response = business.client(business.owner).post(f"/app/team/{business.owner.pk}/remove", follow=True)
    assert b"You cannot remove yourself" in response.content


def test_an_agent_cannot_invite(business: Business) -> None:
    response = business.client(business.agent).post("/app/team/", {"email": "x@example.test", "role": "owner"})
    assert response.status_code == 403


def test_a_withdrawn_invitation_link_stops_working_and_frees_its_seat(business: Business) -> None:
    from chat.dashboard.models import Invitation

    mail.outbox.clear()
    invite(business, "maybe@example.test")
    path = invitation_path()
    with schema_context(business.tenant.schema_name):
        invitation = Invitation.objects.get(email="maybe@example.test")
    business.client(business.owner).post(f"/app/team/invitations/{invitation.pk}/revoke")
    withdrawn = business.client().get(path)
    assert withdrawn.status_code == 404 and b"withdrawn" in withdrawn.content
    team = business.client(business.owner).get("/app/team/").content.decode()
    assert "2 of 3 seats used" in team


def test_the_invitation_email_is_a_task_sent_after_commit_and_sent_once(
        business: Business, tasks_run_here: list[dict[str, Any]]) -> None:
    mail.outbox.clear()
    invite(business, "later@example.test")
    with schema_context(business.tenant.schema_name):
        invitation = Invitation.objects.get(email="later@example.test")
    assert tasks_run_here == [{"name": INVITATION_TASK, "queue": "medium", "schema": business.tenant.schema_name,
                               "args": [invitation.pk, f"http://{business.domain}/"]}]
    assert [message.to for message in mail.outbox] == [["later@example.test"]]
    assert "Olivia Owner invited you to Business A" in mail.outbox[0].subject
    # Delivered twice (a worker died before acknowledging it): one e-mail all the same.
    with schema_context(business.tenant.schema_name):
        assert invitation_email_send.run(invitation.pk, f"http://{business.domain}/") is False
    assert len(mail.outbox) == 1


def test_a_withdrawn_invitation_is_not_emailed_when_its_task_runs_late(business: Business) -> None:
    with schema_context(business.tenant.schema_name):
        invitation = Invitation.objects.create(email="gone@example.test", role="agent", nonce="n-gone",
                                               expires_at="2099-01-01T00:00:00Z", revoked_at="2026-01-01T00:00:00Z")
        mail.outbox.clear()
        assert invitation_email_send.run(invitation.pk, f"http://{business.domain}/") is False
    assert mail.outbox == []


@pytest.fixture
def worker(request: pytest.FixtureRequest) -> Iterator[Worker]:
    """A real worker on `medium`, with the environment the test asks for (indirect parametrisation)."""
    redis_client().flushdb()  # this test process's own Redis database: no work left by earlier tests
    process = Worker(queues="medium", env=child_env(**getattr(request, "param", {})))
    yield process
    process.stop()


def test_a_real_worker_emails_the_invitation_in_the_tenants_schema(business: Business, worker: Worker) -> None:
    assert b"An invitation was sent" in invite(business, "worker@example.test").content
    with schema_context(business.tenant.schema_name):
        invitation = Invitation.objects.get(email="worker@example.test")
    # The worker's e-mail outbox is in its own process: it notes each invitation it e-mailed in Redis.
    emailed = f"deskpilot:{business.tenant.schema_name}:invitation:{invitation.pk}:emailed"
    wait_until(lambda: redis_client().exists(emailed), timeout=60, message="invitation e-mailed by the worker")
    assert f"invitation {invitation.pk} e-mailed" in worker.output()


# The test settings' in-memory e-mail backend checks every header, so a sender address with a line
# break in it is an e-mail that cannot be sent, on every attempt.
@pytest.mark.parametrize("worker", [{"DEFAULT_FROM_EMAIL": "Deskpilot\nBcc: x@example.test"}], indirect=True)
def test_an_invitation_email_that_keeps_failing_lands_in_the_dead_letter_store(
        business: Business, worker: Worker) -> None:
    assert b"An invitation was sent" in invite(business, "unlucky@example.test").content
    with schema_context(business.tenant.schema_name):
        invitation = Invitation.objects.get(email="unlucky@example.test")
    letter = wait_until(lambda: DeadLetter.objects.filter(task_name=INVITATION_TASK,
                                                          schema_name=business.tenant.schema_name).first(),
                        timeout=60, message="dead letter after retries")
    assert letter.queue == "medium"
    assert letter.args == [invitation.pk, f"http://{business.domain}/"]
    assert "BadHeaderError" in letter.error and letter.attempts == 3
