"""The widget's per-IP and per-visitor message limits, counted in one script on the event loop's Redis."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from chat.widget.services import RateDecision, rate_limits_hit


def hits(schema_name: str, *limits: list[tuple[str, int]]) -> list[RateDecision]:
    """Each list of limits counted once, one after another, as a socket's messages are."""
    async def count() -> list[RateDecision]:
        return [await rate_limits_hit(schema_name=schema_name, limits=buckets) for buckets in limits]

    return asyncio.run(count())


def test_a_message_past_one_limit_is_refused_and_not_counted_against_the_next(tenant_a: Any) -> None:
    ip, visitor = f"ip:{uuid.uuid4().hex}", f"visitor:{uuid.uuid4().hex}"
    *decisions, visitor_after = hits(tenant_a.schema_name, *[[(ip, 2), (visitor, 5)]] * 3,
                                     # The visitor's bucket saw two messages, not three: a third fits a limit of 3.
                                     [(visitor, 3)])
    assert [decision.allowed for decision in decisions] == [True, True, False]
    assert 1 <= decisions[2].retry_after <= 60
    assert visitor_after.allowed


def test_limits_are_per_tenant(tenant_a: Any, tenant_b: Any) -> None:
    bucket = f"ip:{uuid.uuid4().hex}"
    assert [decision.allowed for decision in hits(tenant_a.schema_name, [(bucket, 1)], [(bucket, 1)])] == [True, False]
    assert hits(tenant_b.schema_name, [(bucket, 1)])[0].allowed


def test_messages_counted_at_once_by_many_sockets_are_all_counted(tenant_a: Any) -> None:
    """A burst from one IP, each socket's count in the same pipelined batch: exactly the limit gets through."""
    bucket = f"ip:{uuid.uuid4().hex}"

    async def burst() -> list[RateDecision]:
        return list(await asyncio.gather(*(rate_limits_hit(schema_name=tenant_a.schema_name, limits=[(bucket, 30)])
                                           for _ in range(50))))

    decisions = asyncio.run(burst())
    assert sum(decision.allowed for decision in decisions) == 30
