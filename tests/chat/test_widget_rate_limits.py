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
