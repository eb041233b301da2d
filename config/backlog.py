"""How much work waits in each Celery queue, and for how long: for `/metrics` and the autoscaling
signal published to CloudWatch (config.cloudwatch).

Read straight from the broker's lists (the one Redis, settings.CELERY_BROKER_URL = REDIS_URL): kombu's Redis transport keeps a queue as one Redis list per
priority step (the queue's name, then `\\x06\\x16<step>` for the steps above 0), new messages pushed on
the left and taken from the right, so a list's last element is its oldest message. Each message's
headers carry the time it was sent (`config.celery.SENT_AT_HEADER`), stamped by every task's
`apply_async`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from config.celery import SENT_AT_HEADER, Queue
from config.redis import redis_client

# kombu's Redis transport: its default priority steps and the separator of a step's list name.
_PRIORITY_STEPS = (0, 3, 6, 9)
_PRIORITY_SEPARATOR = "\x06\x16"


@dataclass(frozen=True)
class QueueBacklog:
    queue: str
    waiting: int
    oldest_age_seconds: float  # 0 when the queue is empty (or its oldest message has no send time)


def _keys(queue: str) -> list[str]:
    return [queue if step == 0 else f"{queue}{_PRIORITY_SEPARATOR}{step}" for step in _PRIORITY_STEPS]


def _sent_at(raw: str | None) -> float | None:
    if not raw:
        return None
    try:
        sent = json.loads(raw).get("headers", {}).get(SENT_AT_HEADER)
    except (ValueError, AttributeError):
        return None
    return float(sent) if isinstance(sent, (int, float)) else None


def queue_backlog() -> list[QueueBacklog]:
    """Every queue of `config.celery.Queue`, most urgent first, in one round trip to the broker."""
    pipeline = redis_client().pipeline(transaction=False)
    for queue in Queue:
        for key in _keys(queue.value):
            pipeline.llen(key)
            pipeline.lindex(key, -1)
    replies = pipeline.execute()
    now = time.time()
    backlog = []
    per_queue = len(_PRIORITY_STEPS) * 2
    for index, queue in enumerate(Queue):
        mine = replies[index * per_queue:(index + 1) * per_queue]
        waiting = sum(int(length) for length in mine[0::2])
        sent = [stamp for stamp in (_sent_at(raw) for raw in mine[1::2]) if stamp is not None]
        backlog.append(QueueBacklog(queue=queue.value, waiting=waiting,
                                    oldest_age_seconds=max(0.0, now - min(sent)) if sent else 0.0))
    return backlog
