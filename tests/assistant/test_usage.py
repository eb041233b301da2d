"""Plan limits: monthly usage from the ledger, the 80% and 100% lines, and telling the owners once."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import celery.app.task
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from chat.assistant.usage import (
    llm_allowed,
    usage_answer_counted,
    usage_answer_entry,
    usage_month,
    usage_notice_email_send,
    usage_notices_current,
)
from config.celery import SCHEMA_HEADER
from config.redis import redis_client, tenant_key
from tenants import services
from tenants.models import Plan, Tenant, UsageEntry, UsageNotice
from tenants.selectors import month_start

EMAIL_TASK = "chat.assistant.usage.usage_notice_email_send"


@pytest.fixture
def sent_tasks(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Tasks as they would reach the broker, with the headers our task base stamped on them.

    Celery's own send is replaced (our apply_async, which stamps the tenant, still runs), so the
    e-mail tasks these tests cause do not wait in the shared broker for some later test's worker.
    """
    sent: list[dict[str, Any]] = []

    def record(task: Any, args: Any = None, kwargs: Any = None, **options: Any) -> None:
        sent.append({"name": task.name, "args": list(args or ()), "headers": dict(options.get("headers") or {})})

    monkeypatch.setattr(celery.app.task.Task, "apply_async", record)
    return sent


@pytest.fixture
def long_level_cache(settings: Any) -> Any:
    """A cached level that would outlive the test, so only invalidation can make the checks pass."""
    settings.USAGE_TOTALS_CACHE_SECONDS = 3600
    return settings


def _plan(*, messages: int, tokens: int = 1_000_000_000) -> Plan:
    return Plan.objects.create(
        code=f"test-{uuid.uuid4().hex[:10]}",
        name="Test plan",
        monthly_messages=messages,
        monthly_tokens=tokens,
        knowledge_sources=10,
        agent_seats=2,
    )


def _tenant_on_plan(
    make_tenant: Callable[..., Any], *, messages: int, tokens: int = 1_000_000_000, owner_email: str | None = None
) -> Tenant:
    plan = _plan(messages=messages, tokens=tokens)
    return make_tenant(name="Limited business", owner_email=owner_email, plan_code=plan.code).tenant


def _seed_answers(tenant: Tenant, count: int) -> None:
    """Earlier answers this month, written straight to the ledger."""
    UsageEntry.objects.bulk_create(
        [UsageEntry(tenant=tenant, kind=UsageEntry.Kind.MESSAGE, quantity=1) for _ in range(count)]
    )


def _answer(tenant: Tenant, *, tokens_in: int = 0, tokens_out: int = 0) -> None:
    """An answer counted as the answer store counts it (chat.conversations.statements.answer_insert
    writes the entry): its ledger entry, then `usage_answer_counted`."""
    entry = usage_answer_entry(tokens_in=tokens_in, tokens_out=tokens_out, cost_minor=7)
    entry.tenant = tenant
    entry.save(force_insert=True)
    usage_answer_counted(schema_name=tenant.schema_name, tokens=tokens_in + tokens_out)


def _levels(tenant: Tenant) -> list[str]:
    return sorted(UsageNotice.objects.filter(tenant=tenant).values_list("level", flat=True))


def _emails_sent(sent_tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [task for task in sent_tasks if task["name"] == EMAIL_TASK]


def test_the_budget_at_79_80_100_and_101_percent(make_tenant, sent_tasks, long_level_cache) -> None:
    tenant = _tenant_on_plan(make_tenant, messages=100)
    _seed_answers(tenant, 78)

    _answer(tenant)
    at_79 = usage_month(schema_name=tenant.schema_name)
    assert (at_79.messages, at_79.message_limit, at_79.percent, at_79.level) == (79, 100, 79.0, "ok")
    assert llm_allowed(schema_name=tenant.schema_name)
    assert _levels(tenant) == [] and _emails_sent(sent_tasks) == []

    _answer(tenant)
    at_80 = usage_month(schema_name=tenant.schema_name)
    assert (at_80.messages, at_80.percent, at_80.level) == (80, 80.0, "warning")
    assert llm_allowed(schema_name=tenant.schema_name)
    assert _levels(tenant) == ["warning"]
    warning = UsageNotice.objects.get(tenant=tenant, level="warning")
    assert warning.month == month_start().date()
    assert [(task["args"], task["headers"][SCHEMA_HEADER]) for task in _emails_sent(sent_tasks)] == [
        ([warning.pk], tenant.schema_name)
    ]

    _seed_answers(tenant, 19)
    # The check before the model call, cached at 99%, must not outlive the answer that reaches 100%.
    assert llm_allowed(schema_name=tenant.schema_name)
    _answer(tenant)
    at_100 = usage_month(schema_name=tenant.schema_name)
    assert (at_100.messages, at_100.percent, at_100.level) == (100, 100.0, "exhausted")
    assert not llm_allowed(schema_name=tenant.schema_name)
    assert _levels(tenant) == ["exhausted", "warning"]
    exhausted = UsageNotice.objects.get(tenant=tenant, level="exhausted")
    assert [task["args"] for task in _emails_sent(sent_tasks)] == [[warning.pk], [exhausted.pk]]

    _answer(tenant)
    at_101 = usage_month(schema_name=tenant.schema_name)
    assert (at_101.messages, at_101.percent, at_101.level) == (101, 101.0, "exhausted")
    assert not llm_allowed(schema_name=tenant.schema_name)
    assert _levels(tenant) == ["exhausted", "warning"]
    assert len(_emails_sent(sent_tasks)) == 2
    assert [notice.level for notice in usage_notices_current(schema_name=tenant.schema_name)] == [
        "exhausted",
        "warning",
    ]


def test_tokens_count_against_the_plan_too_and_embeddings_do_not(make_tenant, sent_tasks, long_level_cache) -> None:
    tenant = _tenant_on_plan(make_tenant, messages=1000, tokens=1000)
    UsageEntry.objects.create(tenant=tenant, kind=UsageEntry.Kind.EMBEDDING, tokens_in=50_000, cost_minor=11)

    _answer(tenant, tokens_in=700, tokens_out=90)
    month = usage_month(schema_name=tenant.schema_name)
    assert (month.messages, month.tokens, month.cost_minor, month.percent, month.level) == (1, 790, 18, 79.0, "ok")
    assert llm_allowed(schema_name=tenant.schema_name)

    _answer(tenant, tokens_in=5, tokens_out=5)
    assert usage_month(schema_name=tenant.schema_name).level == "warning"

    # A model call that answered no customer message still spends the plan's tokens.
    UsageEntry.objects.create(tenant=tenant, kind=UsageEntry.Kind.LLM_CALL, tokens_in=150, tokens_out=40)
    _answer(tenant, tokens_in=8, tokens_out=2)
    month = usage_month(schema_name=tenant.schema_name)
    assert (month.messages, month.tokens, month.level) == (3, 1000, "exhausted")
    assert not llm_allowed(schema_name=tenant.schema_name)
    assert _levels(tenant) == ["exhausted", "warning"]


def test_jumping_past_both_lines_at_once_sends_one_email_about_the_worst(make_tenant, sent_tasks) -> None:
    tenant = _tenant_on_plan(make_tenant, messages=1000, tokens=1000)

    _answer(tenant, tokens_in=1200)

    assert _levels(tenant) == ["exhausted", "warning"]
    exhausted = UsageNotice.objects.get(tenant=tenant, level="exhausted")
    assert [task["args"] for task in _emails_sent(sent_tasks)] == [[exhausted.pk]]


def test_ten_answers_crossing_80_percent_together_create_one_warning(make_tenant, sent_tasks) -> None:
    tenant = _tenant_on_plan(make_tenant, messages=100)
    _seed_answers(tenant, 75)
    start = threading.Barrier(10)
    errors: list[BaseException] = []

    def answer() -> None:
        try:
            start.wait()
            _answer(tenant)
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=answer) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert usage_month(schema_name=tenant.schema_name).messages == 85
    assert _levels(tenant) == ["warning"]
    assert len(_emails_sent(sent_tasks)) == 1


def test_usage_of_one_tenant_never_counts_for_another(make_tenant, sent_tasks, long_level_cache) -> None:
    tenant_a = _tenant_on_plan(make_tenant, messages=100)
    tenant_b = _tenant_on_plan(make_tenant, messages=100)
    assert llm_allowed(schema_name=tenant_b.schema_name)
    _seed_answers(tenant_a, 99)

    _answer(tenant_a)

    assert not llm_allowed(schema_name=tenant_a.schema_name)
    month_b = usage_month(schema_name=tenant_b.schema_name)
    assert (month_b.messages, month_b.tokens, month_b.cost_minor, month_b.level) == (0, 0, 0, "ok")
    assert llm_allowed(schema_name=tenant_b.schema_name)
    assert usage_notices_current(schema_name=tenant_b.schema_name) == []
    assert {task["headers"][SCHEMA_HEADER] for task in _emails_sent(sent_tasks)} == {tenant_a.schema_name}


def test_far_below_the_lines_an_answer_does_not_sum_the_months_ledger(make_tenant, sent_tasks) -> None:
    tenant = _tenant_on_plan(make_tenant, messages=1000)
    _seed_answers(tenant, 300)
    _answer(tenant)

    with CaptureQueriesContext(connection) as queries:
        _answer(tenant)
        assert llm_allowed(schema_name=tenant.schema_name)

    sums = [query["sql"] for query in queries if "SUM(" in query["sql"].upper()]
    assert sums == []
    month = usage_month(schema_name=tenant.schema_name)
    assert (month.messages, month.level) == (302, "ok")


def test_the_ledger_decides_once_the_running_totals_are_summed_again(make_tenant, sent_tasks) -> None:
    tenant = _tenant_on_plan(make_tenant, messages=100)
    _seed_answers(tenant, 60)
    _answer(tenant)
    # Written past the running totals (as a lost increment would leave them): 61 counted, 79 true.
    _seed_answers(tenant, 18)
    _answer(tenant)
    assert _levels(tenant) == []

    # The cached month expires after USAGE_TOTALS_CACHE_SECONDS; the next answer sums the ledger: 81%.
    redis_client().delete(tenant_key(tenant.schema_name, "usage", f"{month_start():%Y-%m}"))
    _answer(tenant)
    assert _levels(tenant) == ["warning"]
    assert len(_emails_sent(sent_tasks)) == 1


def test_last_months_usage_does_not_count_this_month(make_tenant, sent_tasks) -> None:
    tenant = _tenant_on_plan(make_tenant, messages=100)
    _seed_answers(tenant, 100)
    last_month = month_start() - timedelta(days=3)
    UsageEntry.objects.filter(tenant=tenant).update(created=last_month)

    _answer(tenant)

    assert usage_month(schema_name=tenant.schema_name).messages == 1
    assert llm_allowed(schema_name=tenant.schema_name)
    assert usage_month(schema_name=tenant.schema_name, now=last_month).level == "exhausted"
    assert _levels(tenant) == []


def test_a_tenant_without_a_plan_has_no_limits(make_tenant, sent_tasks) -> None:
    tenant = make_tenant().tenant
    Tenant.objects.filter(pk=tenant.pk).update(plan=None)

    _answer(tenant, tokens_in=10**8)

    month = usage_month(schema_name=tenant.schema_name)
    assert (month.messages, month.message_limit, month.token_limit, month.percent, month.level) == (
        1,
        None,
        None,
        0.0,
        "ok",
    )
    assert llm_allowed(schema_name=tenant.schema_name)
    assert _levels(tenant) == []


def test_the_owners_are_emailed_once_and_agents_not_at_all(make_tenant, sent_tasks, mailoutbox) -> None:
    tenant = _tenant_on_plan(make_tenant, messages=10, owner_email="owner@example.test")
    with schema_context(tenant.schema_name):
        services.tenant_user_create(email="co-owner@example.test", password="pw-123456", role=services.ROLE_OWNER)
        services.tenant_user_create(email="agent@example.test", password="pw-123456", role=services.ROLE_AGENT)
    _seed_answers(tenant, 9)
    _answer(tenant)
    (sent,) = _emails_sent(sent_tasks)
    notice_id = sent["args"][0]

    with schema_context(sent["headers"][SCHEMA_HEADER]):
        assert usage_notice_email_send.run(notice_id) == 2
        # Delivered twice (a worker died after sending): the owners still get one e-mail.
        assert usage_notice_email_send.run(notice_id) == 0

    (email,) = mailoutbox
    assert sorted(email.to) == ["co-owner@example.test", "owner@example.test"]
    assert "used up" in email.subject and "Limited business" in email.subject
    assert "offline mode" in email.body and "10 of 10" in email.body
    assert UsageNotice.objects.get(pk=notice_id).emailed is not None


def test_a_notice_is_never_emailed_to_another_tenants_owners(make_tenant, sent_tasks, mailoutbox) -> None:
    tenant_a = _tenant_on_plan(make_tenant, messages=10, owner_email="owner-a@example.test")
    tenant_b = _tenant_on_plan(make_tenant, messages=10, owner_email="owner-b@example.test")
    _seed_answers(tenant_a, 9)
    _answer(tenant_a)
    notice = UsageNotice.objects.get(tenant=tenant_a, level="exhausted")

    with schema_context(tenant_b.schema_name):
        assert usage_notice_email_send.run(notice.pk) == 0

    assert mailoutbox == []
    notice.refresh_from_db()
    assert notice.emailed is None


def test_a_warning_email_says_how_much_is_used(make_tenant, sent_tasks, mailoutbox) -> None:
    tenant = _tenant_on_plan(make_tenant, messages=10, owner_email="owner@example.test")
    _seed_answers(tenant, 7)
    _answer(tenant)
    notice = UsageNotice.objects.get(tenant=tenant)

    with schema_context(tenant.schema_name):
        usage_notice_email_send.run(notice.pk)

    (email,) = mailoutbox
    assert email.to == ["owner@example.test"]
    assert "80%" in email.subject
    assert "8 of 10" in email.body
