"""Real Celery worker processes: tenant context, retries, dead letters, replay, crashes, priority."""

from __future__ import annotations

import io
import os
import signal
import uuid

import pytest
from django.core.management import call_command
from django_tenants.utils import schema_context

from config.celery import app
from config.logging import log_context
from config.redis import redis_client, tenant_key
from tenants import services
from tenants.models import DeadLetter
from tests.support.processes import Worker, wait_until
from tests.support.worker_probe import tenant_worker_probe


@pytest.fixture(autouse=True)
def _empty_queues() -> None:
    """This test process owns its Redis database: start every test with no queued work."""
    redis_client().flushdb()


def ran_in(marker: str) -> str | None:
    return redis_client().get(f"deskpilot:probe:{marker}:ran_in")


def new_marker() -> str:
    return uuid.uuid4().hex[:12]


def test_task_sent_from_tenant_a_runs_in_schema_a_and_carries_the_request_id(tenant_a, tenant_b) -> None:
    worker = Worker()
    try:
        marker_a, marker_b = new_marker(), new_marker()
        with schema_context(tenant_a.schema_name), log_context(request_id="req-follows-into-task"):
            tenant_worker_probe.delay(marker_a)
        with schema_context(tenant_b.schema_name):
            tenant_worker_probe.delay(marker_b)
        assert wait_until(lambda: ran_in(marker_a), message="probe A") == tenant_a.schema_name
        assert wait_until(lambda: ran_in(marker_b), message="probe B") == tenant_b.schema_name
        wait_until(lambda: "req=req-follows-into-task" in worker.output(), message="request id in worker log")
        assert f"tenant={tenant_a.schema_name}" in worker.output()
    finally:
        worker.stop()


def test_tenant_task_without_a_tenant_fails_loudly_and_never_runs_on_public() -> None:
    worker = Worker()
    try:
        marker = new_marker()
        tenant_worker_probe.delay(marker)  # sent from the public schema: no tenant
        letter = wait_until(lambda: DeadLetter.objects.filter(args=[marker]).first(), message="dead letter")
        assert "MissingTenant" in letter.error and letter.schema_name == ""
        assert letter.attempts == 1  # a programming error is not retried
        assert ran_in(marker) is None
        assert "refusing to run it on the public schema" in worker.output()
    finally:
        worker.stop()


def test_failing_task_retries_lands_in_dead_letters_and_replay_runs_it_to_success(tenant_a) -> None:
    worker = Worker()
    try:
        marker = new_marker()
        redis_client().set(f"deskpilot:probe:{marker}:broken", "1")
        with schema_context(tenant_a.schema_name):
            tenant_worker_probe.delay(marker)
        letter = wait_until(lambda: DeadLetter.objects.filter(args=[marker]).first(), timeout=60,
                            message="dead letter after retries")
        attempts = redis_client().llen(tenant_key(tenant_a.schema_name, "probe", marker, "attempts"))
        assert attempts == 3  # the first try and two retries (test settings)
        assert letter.attempts == 3
        assert letter.schema_name == tenant_a.schema_name
        assert letter.task_name == tenant_worker_probe.name
        assert letter.queue == "low"
        assert "is set to fail" in letter.error and "Traceback" in letter.traceback
        assert letter.first_failed_at < letter.last_failed_at

        listing = io.StringIO()
        call_command("deadletters", "list", stdout=listing)
        assert f"{letter.pk:>5}  {tenant_a.schema_name}" in listing.getvalue()
        shown = io.StringIO()
        call_command("deadletters", "show", str(letter.pk), stdout=shown)
        assert "is set to fail" in shown.getvalue() and tenant_a.schema_name in shown.getvalue()

        redis_client().delete(f"deskpilot:probe:{marker}:broken")  # the cause is fixed
        call_command("deadletters", "replay", str(letter.pk), stdout=io.StringIO())
        assert wait_until(lambda: ran_in(marker), message="replayed probe") == tenant_a.schema_name
        letter.refresh_from_db()
        assert letter.replayed_at is not None and letter.replay_count == 1
        assert DeadLetter.objects.filter(args=[marker], replayed_at__isnull=True).count() == 0

        call_command("deadletters", "purge", str(letter.pk), stdout=io.StringIO())
        assert not DeadLetter.objects.filter(pk=letter.pk).exists()
    finally:
        worker.stop()


def test_worker_killed_mid_task_does_not_lose_the_task(tenant_a) -> None:
    first = Worker()
    marker = new_marker()
    attempts_key = tenant_key(tenant_a.schema_name, "probe", marker, "attempts")
    try:
        with schema_context(tenant_a.schema_name):
            tenant_worker_probe.delay(marker, hold=True)
        wait_until(lambda: redis_client().llen(attempts_key) >= 1, message="task started")
        first.kill()  # SIGKILL the worker and its pool: no goodbye, no ack
    finally:
        first.stop()
    assert ran_in(marker) is None
    redis_client().set(tenant_key(tenant_a.schema_name, "probe", marker, "release"), "1")
    second = Worker()
    try:
        assert wait_until(lambda: ran_in(marker), timeout=90, message="task redelivered") == tenant_a.schema_name
        assert redis_client().llen(attempts_key) >= 2
    finally:
        second.stop()


def test_pool_process_killed_mid_task_requeues_it(tenant_a) -> None:
    worker = Worker()
    marker = new_marker()
    attempts_key = tenant_key(tenant_a.schema_name, "probe", marker, "attempts")
    try:
        with schema_context(tenant_a.schema_name):
            tenant_worker_probe.delay(marker, hold=True)
        wait_until(lambda: redis_client().llen(attempts_key) >= 1, message="task started")
        children = [int(pid) for pid in os.popen(f"pgrep -P {worker.pid}").read().split()]
        assert children, "the worker has a pool process"
        for pid in children:
            os.kill(pid, signal.SIGKILL)
        redis_client().set(tenant_key(tenant_a.schema_name, "probe", marker, "release"), "1")
        assert wait_until(lambda: ran_in(marker), timeout=60, message="task re-run") == tenant_a.schema_name
        assert redis_client().llen(attempts_key) >= 2
    finally:
        worker.stop()


def test_suspended_tenant_work_is_skipped(tenant_a, tenant_b) -> None:
    services.tenant_set_status(slug=tenant_a.schema_name, status="suspended")
    worker = Worker()
    try:
        skipped, served = new_marker(), new_marker()
        with schema_context(tenant_a.schema_name):
            tenant_worker_probe.delay(skipped)
        with schema_context(tenant_b.schema_name):
            tenant_worker_probe.delay(served)
        # One pool process, one queue: B's task runs after A's was handled.
        wait_until(lambda: ran_in(served), message="B's probe")
        assert ran_in(skipped) is None
        assert f"tenant {tenant_a.schema_name} is suspended" in worker.output()
    finally:
        worker.stop()


def test_critical_task_starts_before_a_backlog_of_low_tasks(tenant_a) -> None:
    low_markers = [f"low-{index}-{new_marker()}" for index in range(40)]
    critical_marker = f"critical-{new_marker()}"
    with schema_context(tenant_a.schema_name):
        for marker in low_markers:
            tenant_worker_probe.apply_async(args=[marker])
        tenant_worker_probe.apply_async(args=[critical_marker], queue="critical")
    assert app.connection().default_channel.client.llen("low") == len(low_markers)
    worker = Worker()
    try:
        wait_until(lambda: ran_in(critical_marker), message="critical probe")
        order = redis_client().lrange("deskpilot:probe:order", 0, -1)
        assert order[0] == critical_marker
    finally:
        worker.stop()
