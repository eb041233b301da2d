"""What differs between staging and production: sizes and counts only, never the shape of the stack."""

from dataclasses import dataclass, field


@dataclass(frozen=True, kw_only=True)
class WorkerGroup:
    """One worker service: the queues it consumes, in priority order, and its task counts."""

    name: str
    queues: tuple[str, ...]
    min_tasks: int
    max_tasks: int
    # Messages waiting per running task that the service scales to hold.
    backlog_per_task: int
    spot: bool = False


@dataclass(frozen=True, kw_only=True)
class Sizes:
    environment: str
    max_azs: int
    nat_gateways: int
    web_cpu: int
    web_memory_mib: int
    web_min_tasks: int
    web_max_tasks: int
    worker_cpu: int
    worker_memory_mib: int
    worker_groups: tuple[WorkerGroup, ...]
    db_instance_class: str
    db_allocated_gib: int
    db_max_allocated_gib: int
    # Set in the parameter group, so the connections alarm knows its 100 %.
    db_max_connections: int
    redis_node_type: str
    # Staging only: web and workers go to zero tasks outside business hours.
    scale_to_zero_out_of_hours: bool = False
    # Oldest-task-age alarm thresholds per queue, in seconds: how late each kind of work may run.
    oldest_task_age_seconds: dict[str, int] = field(
        default_factory=lambda: {"critical": 30, "high": 60, "medium": 300, "low": 1800}
    )


def _groups(*, critical_min: int, critical_max: int, other_max: int) -> tuple[WorkerGroup, ...]:
    return (
        WorkerGroup(name="critical-high", queues=("critical", "high"), min_tasks=critical_min,
                    max_tasks=critical_max, backlog_per_task=10),
        WorkerGroup(name="medium", queues=("medium",), min_tasks=1, max_tasks=other_max, backlog_per_task=50),
        WorkerGroup(name="low", queues=("low",), min_tasks=1, max_tasks=other_max, backlog_per_task=200, spot=True),
    )


STAGING = Sizes(
    environment="staging",
    max_azs=2,
    nat_gateways=1,
    web_cpu=512,
    web_memory_mib=1024,
    web_min_tasks=2,
    web_max_tasks=4,
    worker_cpu=512,
    worker_memory_mib=1024,
    worker_groups=_groups(critical_min=1, critical_max=2, other_max=2),
    db_instance_class="t4g.medium",
    db_allocated_gib=20,
    db_max_allocated_gib=100,
    db_max_connections=400,
    redis_node_type="cache.t4g.small",
    scale_to_zero_out_of_hours=True,
)

PRODUCTION = Sizes(
    environment="production",
    max_azs=3,
    nat_gateways=2,
    web_cpu=1024,
    web_memory_mib=2048,
    web_min_tasks=2,
    web_max_tasks=10,
    worker_cpu=1024,
    worker_memory_mib=2048,
    worker_groups=_groups(critical_min=2, critical_max=10, other_max=6),
    db_instance_class="r7g.large",
    db_allocated_gib=100,
    db_max_allocated_gib=1000,
    db_max_connections=1600,
    redis_node_type="cache.r7g.large",
)
