"""The usage page tells the month's AI cost in dollars: costs are kept in micro-dollars, not cents."""

from __future__ import annotations

from typing import Any

import pytest

from tenants.models import UsageEntry


@pytest.mark.parametrize(("cost_minor", "shown"), [
    (1_234_567, "$1.23"),           # 1.234567 dollars, not 12,345.67
    (2_500, "less than $0.01"),     # a quarter of a cent
    (0, "$0.00"),
    (1_500_000_000, "$1,500.00"),
])
def test_the_months_ai_cost_is_told_in_dollars(make_business: Any, settings: Any, cost_minor: int, shown: str) -> None:
    settings.LLM_COST_MINOR_UNITS_PER_USD = 1_000_000
    business = make_business()
    UsageEntry.objects.create(tenant=business.tenant, kind=UsageEntry.Kind.MESSAGE, tokens_in=10, tokens_out=10,
                              cost_minor=cost_minor)
    page = business.client(business.owner).get("/app/usage/")
    assert page.status_code == 200
    assert f"Estimated AI cost this month: {shown}</p>" in page.content.decode()


def test_the_owners_playground_cost_is_shown_apart_and_counts_toward_no_plan_figure(
        make_business: Any, settings: Any) -> None:
    settings.LLM_COST_MINOR_UNITS_PER_USD = 1_000_000
    business = make_business()
    UsageEntry.objects.create(tenant=business.tenant, kind=UsageEntry.Kind.MESSAGE, tokens_in=10, tokens_out=10,
                              cost_minor=1_000_000)
    for _ in range(2):
        UsageEntry.objects.create(tenant=business.tenant, kind=UsageEntry.Kind.PLAYGROUND, tokens_in=400,
                                  tokens_out=100, cost_minor=1_250_000)
    page = business.client(business.owner).get("/app/usage/").content.decode()
    assert "<strong>Customer messages answered</strong>: 1 of" in page
    assert "<strong>LLM tokens</strong>: 20 of" in page
    assert "Estimated AI cost this month: $1.00</p>" in page
    assert "Playground: 2 questions, $2.50 of model cost, not counted toward your plan." in page
