"""The queue backlog and the dead letters as CloudWatch metrics: the signal the workers' autoscaling
follows and what the alarms watch (docs/decisions/1801-queue-backlog-metric.md and 1701: deploy/aws reads
exactly these names).

Namespace `Deskpilot`, dimensions `Environment` (CLOUDWATCH_METRICS_ENVIRONMENT) and `Queue` (critical,
high, medium, low):
- `QueueBacklog` (Count): tasks waiting in the queue;
- `QueueBacklogPerTask` (Count): that, divided by the workers consuming the queue (at least one);
- `QueueOldestTaskAge` (Seconds): how long the oldest of them has waited.
And, with the `Environment` dimension only, `DeadLetters` (Count): dead letters not yet replayed.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings

from config.backlog import QueueBacklog, queue_backlog

logger = logging.getLogger("deskpilot.metrics")

NAMESPACE = "Deskpilot"
# How long beat's task waits for the workers to say which queues they consume.
WORKERS_REPLY_SECONDS = 1.0


def cloudwatch_enabled() -> bool:
    return bool(settings.CLOUDWATCH_METRICS_REGION)


def queue_consumers() -> dict[str, int]:
    """How many workers consume each queue, as the workers themselves answer (Celery's inspect)."""
    from config.celery import app

    replies: dict[str, Any] = app.control.inspect(timeout=WORKERS_REPLY_SECONDS).active_queues() or {}
    consumers: dict[str, int] = {}
    for queues in replies.values():
        for queue in queues or ():
            consumers[queue["name"]] = consumers.get(queue["name"], 0) + 1
    return consumers


def backlog_metric_data(*, backlog: list[QueueBacklog], consumers: dict[str, int], dead_letters: int,
                        environment: str) -> list[dict[str, Any]]:
    where = {"Name": "Environment", "Value": environment}
    data: list[dict[str, Any]] = [
        {"MetricName": "DeadLetters", "Dimensions": [where], "Value": dead_letters, "Unit": "Count"},
    ]
    for queue in backlog:
        dimensions = [where, {"Name": "Queue", "Value": queue.queue}]
        data += [
            {"MetricName": "QueueBacklog", "Dimensions": dimensions, "Value": queue.waiting, "Unit": "Count"},
            {"MetricName": "QueueBacklogPerTask", "Dimensions": dimensions,
             "Value": queue.waiting / max(1, consumers.get(queue.queue, 0)), "Unit": "Count"},
            {"MetricName": "QueueOldestTaskAge", "Dimensions": dimensions, "Value": queue.oldest_age_seconds,
             "Unit": "Seconds"},
        ]
    return data


def queue_backlog_publish(*, dead_letters: int) -> int:
    """Send the backlog of every queue and `dead_letters` (not yet replayed: the caller counts them, since
    plumbing reads no app's tables) to CloudWatch; returns how many values were sent (0: off)."""
    if not cloudwatch_enabled():
        return 0
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    # A session of its own: boto3's default one is shared by every thread of the process.
    client = boto3.session.Session().client("cloudwatch", region_name=settings.CLOUDWATCH_METRICS_REGION,
                                            endpoint_url=settings.CLOUDWATCH_ENDPOINT_URL or None)
    data = backlog_metric_data(backlog=queue_backlog(), consumers=queue_consumers(),
                               dead_letters=dead_letters,
                               environment=settings.CLOUDWATCH_METRICS_ENVIRONMENT)
    try:
        client.put_metric_data(Namespace=NAMESPACE, MetricData=data)
    except (BotoCoreError, ClientError) as error:
        # Not retried: the next minute's figures replace these, and a retry would only report old ones.
        logger.warning("queue backlog not sent to CloudWatch: %s", error)
        return 0
    return len(data)
