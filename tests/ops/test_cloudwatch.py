"""The queue backlog reaches CloudWatch (namespace Deskpilot, dimension Queue) through the real boto3
client, from the task beat runs every minute; nothing is sent while it is not configured."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from django.test import override_settings
from django_tenants.utils import schema_context

from config.celery import Queue
from config.redis import redis_client
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


def test_the_backlog_of_each_queue_is_published(cloudwatch: FakeCloudWatch, tenant_a) -> None:
    queues_emptied()
    with schema_context(tenant_a.schema_name):
        for _ in range(3):  # no worker consumes them: they wait in `low`
            tenant_worker_probe.apply_async(args=[uuid.uuid4().hex])
    with override_settings(CLOUDWATCH_METRICS_REGION="eu-west-1", CLOUDWATCH_ENDPOINT_URL=cloudwatch.url):
        assert queue_backlog_publish.apply().get() == 12
    queues_emptied()
    (call,) = cloudwatch.calls
    assert call["Namespace"] == "Deskpilot"
    by_name = {(datum["MetricName"], datum["Dimensions"][0]["Value"]): datum for datum in call["MetricData"]}
    assert {queue for _, queue in by_name} == {"critical", "high", "medium", "low"}
    assert all(datum["Dimensions"][0]["Name"] == "Queue" for datum in call["MetricData"])
    assert by_name[("QueueBacklog", "low")]["Value"] == 3 and by_name[("QueueBacklog", "low")]["Unit"] == "Count"
    assert by_name[("QueueBacklog", "high")]["Value"] == 0
    # No worker answered for `low`: the whole backlog counts against one.
    assert by_name[("QueueBacklogPerTask", "low")]["Value"] == 3
    assert by_name[("QueueOldestTaskAge", "low")]["Unit"] == "Seconds"
    assert 0 < by_name[("QueueOldestTaskAge", "low")]["Value"] < 60
    assert by_name[("QueueOldestTaskAge", "critical")]["Value"] == 0


def test_nothing_is_sent_until_a_region_is_configured(cloudwatch: FakeCloudWatch) -> None:
    with override_settings(CLOUDWATCH_METRICS_REGION="", CLOUDWATCH_ENDPOINT_URL=cloudwatch.url):
        assert queue_backlog_publish.apply().get() == 0
    assert cloudwatch.calls == []


def test_cloudwatch_refusing_costs_one_minute_of_figures_not_a_dead_letter(cloudwatch: FakeCloudWatch) -> None:
    cloudwatch.deny = True  # the role lacks cloudwatch:PutMetricData
    with override_settings(CLOUDWATCH_METRICS_REGION="eu-west-1", CLOUDWATCH_ENDPOINT_URL=cloudwatch.url):
        assert queue_backlog_publish.apply().get() == 0  # logged; the next minute sends afresh
    assert cloudwatch.calls == []
