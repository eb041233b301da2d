"""The widget's per-IP and per-visitor message limits, counted in one round trip to Redis."""

from __future__ import annotations

import uuid
from typing import Any

from django_tenants.utils import schema_context

from chat.widget.services import rate_limits_hit


def test_a_message_past_one_limit_is_refused_and_not_counted_against_the_next(tenant_a: Any) -> None:
    ip, visitor = f"ip:{uuid.uuid4().hex}", f"visitor:{uuid.uuid4().hex}"
    with schema_context(tenant_a.schema_name):
        decisions = [rate_limits_hit(limits=[(ip, 2), (visitor, 5)]) for _ in range(3)]
        # The visitor's bucket saw two messages, not three: a third one still fits a limit of 3.
        visitor_after = rate_limits_hit(limits=[(visitor, 3)])
    assert [decision.allowed for decision in decisions] == [True, True, False]
    assert 1 <= decisions[2].retry_after <= 60
    assert visitor_after.allowed


def test_limits_are_per_tenant(tenant_a: Any, tenant_b: Any) -> None:
    bucket = f"ip:{uuid.uuid4().hex}"
    with schema_context(tenant_a.schema_name):
        assert rate_limits_hit(limits=[(bucket, 1)]).allowed
        assert not rate_limits_hit(limits=[(bucket, 1)]).allowed
    with schema_context(tenant_b.schema_name):
        assert rate_limits_hit(limits=[(bucket, 1)]).allowed


def test_the_socket_counts_in_the_same_buckets_from_its_event_loop(tenant_a: Any, tenant_b: Any) -> None:
    import asyncio

    from chat.widget.services import rate_limits_hit_async

    bucket = f"ip:{uuid.uuid4().hex}"

    async def three_from_the_loop() -> list[bool]:
        decisions = [await rate_limits_hit_async(schema_name=tenant_a.schema_name, limits=[(bucket, 3)])
                     for _ in range(3)]
        return [decision.allowed for decision in decisions]

    with schema_context(tenant_a.schema_name):
        assert rate_limits_hit(limits=[(bucket, 3)]).allowed
    from_loop = asyncio.run(three_from_the_loop())
    with schema_context(tenant_b.schema_name):
        other_tenant = rate_limits_hit(limits=[(bucket, 3)])

    assert from_loop == [True, True, False]
    assert other_tenant.allowed
