"""The queue backlog and the dead letters reach CloudWatch (namespace Deskpilot, dimensions Environment and
Queue: the names deploy/aws's scaling and alarms read) through the real boto3 client, from the task beat
runs every minute; nothing is sent while it is not configured."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest
from django.test import override_settings
from django.utils import timezone
from django_tenants.utils import schema_context

from config.celery import Queue
from config.redis import redis_client
from tenants.models import DeadLetter
from tenants.tasks import queue_backlog_publish
from tests.support.fake_cloudwatch import FakeCloudWatch
from tests.support.worker_probe import tenant_worker_probe


@pytest.fixture
def cloudwatch(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeCloudWatch]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    server = FakeCloudWatch()
    yield server
    server.stop()


def queues_emptied() -> None:
    for queue in Queue:
        redis_client().delete(queue.value, *(f"{queue.value}\x06\x16{step}" for step in (3, 6, 9)))


def configured(cloudwatch: FakeCloudWatch) -> override_settings:
    return override_settings(CLOUDWATCH_METRICS_REGION="eu-west-1", CLOUDWATCH_METRICS_ENVIRONMENT="staging",
                             CLOUDWATCH_ENDPOINT_URL=cloudwatch.url)


def dead_letter(*, replayed: bool) -> DeadLetter:
    now = timezone.now()
    return DeadLetter.objects.create(task_name="tests.cloudwatch", task_id=uuid.uuid4().hex, queue="low",
                                     error="gave up", first_failed_at=now, last_failed_at=now,
                                     replayed_at=now if replayed else None)


def test_the_backlog_of_each_queue_is_published(cloudwatch: FakeCloudWatch, tenant_a) -> None:
    queues_emptied()
    with schema_context(tenant_a.schema_name):
        for _ in range(3):  # no worker consumes them: they wait in `low`
            tenant_worker_probe.apply_async(args=[uuid.uuid4().hex])
    with configured(cloudwatch):
        assert queue_backlog_publish.apply().get() == 13
    queues_emptied()
    (call,) = cloudwatch.calls
    assert call["Namespace"] == "Deskpilot"
    per_queue = [datum for datum in call["MetricData"] if datum["MetricName"] != "DeadLetters"]
    # Every figure is this environment's: the dimension deploy/aws's policies and alarms name.
    assert all(datum["Dimensions"][0] == {"Name": "Environment", "Value": "staging"} for datum in call["MetricData"])
    assert all(datum["Dimensions"][1]["Name"] == "Queue" for datum in per_queue)
    by_name = {(datum["MetricName"], datum["Dimensions"][1]["Value"]): datum for datum in per_queue}
    assert {queue for _, queue in by_name} == {"critical", "high", "medium", "low"}
    assert {name for name, _ in by_name} == {"QueueBacklog", "QueueBacklogPerTask", "QueueOldestTaskAge"}
    assert by_name[("QueueBacklog", "low")]["Value"] == 3 and by_name[("QueueBacklog", "low")]["Unit"] == "Count"
    assert by_name[("QueueBacklog", "high")]["Value"] == 0
    # No worker answered for `low`: the whole backlog counts against one.
    assert by_name[("QueueBacklogPerTask", "low")]["Value"] == 3
    assert by_name[("QueueOldestTaskAge", "low")]["Unit"] == "Seconds"
    assert 0 < by_name[("QueueOldestTaskAge", "low")]["Value"] < 60
    assert by_name[("QueueOldestTaskAge", "critical")]["Value"] == 0


def published_dead_letters(cloudwatch: FakeCloudWatch) -> dict[str, object]:
    with configured(cloudwatch):
        queue_backlog_publish.apply().get()
    (dead,) = [datum for datum in cloudwatch.calls[-1]["MetricData"] if datum["MetricName"] == "DeadLetters"]
    return dead


def test_the_dead_letters_not_yet_replayed_are_published(cloudwatch: FakeCloudWatch) -> None:
    before = published_dead_letters(cloudwatch)  # other tests' letters may share the database
    letters = [dead_letter(replayed=False), dead_letter(replayed=False), dead_letter(replayed=True)]
    try:
        after = published_dead_letters(cloudwatch)
    finally:
        DeadLetter.objects.filter(pk__in=[letter.pk for letter in letters]).delete()
    assert after["Dimensions"] == [{"Name": "Environment", "Value": "staging"}] and after["Unit"] == "Count"
    # The two waiting ones count; the replayed one no longer rings the alarm.
    assert after["Value"] - before["Value"] == 2


def test_a_region_without_an_environment_refuses_to_start() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import config.settings.base"], capture_output=True, text=True, timeout=60,
        env={**os.environ, "CLOUDWATCH_METRICS_REGION": "eu-west-1", "CLOUDWATCH_METRICS_ENVIRONMENT": ""},
    )
    assert result.returncode != 0
    assert "set CLOUDWATCH_METRICS_ENVIRONMENT too" in result.stderr


def test_nothing_is_sent_until_a_region_is_configured(cloudwatch: FakeCloudWatch) -> None:
    with override_settings(CLOUDWATCH_METRICS_REGION="", CLOUDWATCH_ENDPOINT_URL=cloudwatch.url):
        assert queue_backlog_publish.apply().get() == 0
    assert cloudwatch.calls == []


def test_cloudwatch_refusing_costs_one_minute_of_figures_not_a_dead_letter(cloudwatch: FakeCloudWatch) -> None:
    cloudwatch.deny = True  # the role lacks cloudwatch:PutMetricData
    with configured(cloudwatch):
        assert queue_backlog_publish.apply().get() == 0  # logged; the next minute sends afresh
    assert cloudwatch.calls == []
