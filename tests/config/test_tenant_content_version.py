"""The tenant's content version: bumped once a change commits, never shared between tenants, seen by
every process; and the bounded cache keyed by it."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import celery
import pytest
import redis
from django.db import connection, transaction
from django_tenants.utils import schema_context
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from config.content_version import ContentCache, content_version_get, content_version_held
from config.errors import ApplicationError
from orders.services.catalog import commerce_stock_counts_set
from tests.support.processes import ROOT, child_env


def _version(schema_name: str) -> str | None:
    with schema_context(schema_name):
        return content_version_get()


def test_a_committed_change_bumps_the_version_and_a_rolled_back_one_does_not(tenant_a) -> None:
    before = _version(tenant_a.schema_name)
    with schema_context(tenant_a.schema_name):
        with pytest.raises(RuntimeError), transaction.atomic():
            commerce_stock_counts_set(shown=True)
            raise RuntimeError("the rest of the change failed")
        assert content_version_get() == before

        with transaction.atomic():
            commerce_stock_counts_set(shown=True)
            assert content_version_get() == before, "not before the change commits"
        after = content_version_get()
    assert after is not None and after != before


def test_one_tenants_change_leaves_another_tenants_version_alone(tenant_a, tenant_b) -> None:
    before = _version(tenant_b.schema_name)
    with schema_context(tenant_a.schema_name):
        commerce_stock_counts_set(shown=True)
    assert _version(tenant_b.schema_name) == before
    assert _version(tenant_a.schema_name) != before


def test_a_turn_holds_the_version_it_read_and_its_cached_values_with_it(tenant_a, tenant_b) -> None:
    """An answer reads the version once (chat.assistant.engine.turn_load) and holds it: a price
    changed halfway through is not half in this answer; the next one sees it. Another tenant's
    work is never given the held version."""
    cache: ContentCache[int] = ContentCache()
    builds = iter(range(1, 100))
    with schema_context(tenant_a.schema_name):
        held = content_version_get()
        with content_version_held(schema_name=tenant_a.schema_name, version=held):
            first = cache.get(lambda: next(builds))
            commerce_stock_counts_set(shown=True)  # committed: the tenant's version moves on
            assert content_version_get() == held
            assert cache.get(lambda: next(builds)) == first
            with schema_context(tenant_b.schema_name):
                assert content_version_get() != held
        assert content_version_get() != held
        assert cache.get(lambda: next(builds)) != first


def test_the_version_needs_a_tenant() -> None:
    with pytest.raises(ApplicationError) as raised:
        content_version_get()
    assert raised.value.code == "no_tenant"


def test_a_version_lost_with_redis_is_never_an_old_one_again(tenant_a) -> None:
    from config.redis import redis_client, tenant_key

    first = _version(tenant_a.schema_name)
    redis_client().delete(tenant_key(tenant_a.schema_name, "content", "version"))  # a Redis without its data
    again = _version(tenant_a.schema_name)
    assert again is not None and again != first
    assert _version(tenant_a.schema_name) == again


def test_without_redis_there_is_no_version_and_the_cache_builds_every_time(tenant_a, monkeypatch) -> None:
    from config import content_version

    class Down:
        def evalsha(self, *args: Any) -> None:
            raise redis.ConnectionError("Redis is down")

    monkeypatch.setattr(content_version, "redis_client", lambda: Down())
    cache: ContentCache[int] = ContentCache()
    built: list[int] = []
    with schema_context(tenant_a.schema_name):
        assert content_version_get() is None
        cache.get(lambda: built.append(1) or 1)
        cache.get(lambda: built.append(2) or 2)
    assert built == [1, 2], "nothing is served from a cache whose version nobody can tell"


def test_a_bump_redis_refuses_is_promised_through_the_outbox(tenant_a, monkeypatch) -> None:
    from config import content_version
    from config.outbox.models import OutboxMessage

    sent: list[str] = []
    # Recorded, not queued: no broker message outlives the test.
    monkeypatch.setattr(celery.app.task.Task, "apply_async", lambda task, *args, **kwargs: sent.append(task.name))
    before = _version(tenant_a.schema_name)

    class RefusesWrites:
        def set(self, *args: Any) -> None:
            raise redis.ConnectionError("Redis is down")

    with monkeypatch.context() as patched:
        patched.setattr(content_version, "redis_client", lambda: RefusesWrites())
        with schema_context(tenant_a.schema_name):
            commerce_stock_counts_set(shown=True)
    with schema_context(tenant_a.schema_name):
        promised = list(OutboxMessage.objects.filter(task_name=content_version.content_version_bump_retry.name))
        assert len(promised) == 1 and content_version_get() == before
        assert sent == [content_version.content_version_bump_retry.name]
        content_version.content_version_bump_retry.run()  # what the relay's worker does once Redis is back
        assert content_version_get() != before


# ----------------------------------------------------------------------------- every kind of content

CATALOG_CSV = ("product_sku,name,category,description,price,currency,synonyms,variant_sku,size,colour,stock\n"
               "HOOD-1,Harbour Hoodie,hoodies,Warm,59.00,EUR,,HOOD-1-M,M,,4\n")


def _knowledge_indexed() -> Any:
    from chat.knowledge.services import faq_upsert, sources_index_now

    outcome = faq_upsert(question="Do you deliver?", answer="Yes, within the city.")
    sources_index_now(source_ids=[outcome.source_id])
    return outcome.source_id


def _faq_edit() -> None:
    from chat.knowledge.services import faq_upsert

    faq_upsert(question="Do you deliver?", answer="Only on Saturdays.")


def _source_delete() -> None:
    from chat.knowledge.services import source_delete

    source_delete(source_id=_knowledge_indexed())


def _chunks_embedded_again() -> None:
    from chat.knowledge.models import KnowledgeChunk
    from chat.knowledge.services import chunks_reembed_stale

    _knowledge_indexed()
    KnowledgeChunk.objects.update(embedding_model="an-older-model")  # as after a change of model
    assert chunks_reembed_stale() > 0


def _catalog_import() -> None:
    from orders.services.catalog import catalog_import_csv

    catalog_import_csv(stream=io.StringIO(CATALOG_CSV))


def _variant_price() -> None:
    from orders.models import Variant
    from orders.services.catalog import variant_update

    variant_update(variant=Variant.objects.get(sku="HOOD-1-M"), price="49.00", stock=4, is_sellable=True)


def _product_edit() -> None:
    from orders.models import Product
    from orders.services.catalog import product_update

    product_update(product=Product.objects.get(sku="HOOD-1"), name="Harbour Hoodie", category="hoodies",
                   description="Warm and soft", synonyms=[], is_sellable=True,
                   page_url="https://harbour.example/p/hoodie", image_url="")


def _stock_from_shop() -> None:
    from orders.models import Variant
    from orders.platforms import InventoryData
    from orders.services.catalog import variant_stock_set_from_platform

    Variant.objects.filter(sku="HOOD-1-M").update(inventory_ref="inv-1")
    variant_stock_set_from_platform(data=InventoryData(platform="shopify", inventory_ref="inv-1", available=0,
                                                       updated_at=None))


def _product_from_shop() -> None:
    from orders.platforms import ProductData, VariantData
    from orders.services.catalog import product_upsert_from_platform

    product_upsert_from_platform(currency="EUR", data=ProductData(
        platform="shopify", external_ref="77", sku="", name="Mug", description="", category="", synonyms=[],
        variants=[VariantData(sku="MUG-1", size="", colour="", price_minor=1200, stock=3)]))


def _hours() -> None:
    from orders.services.hours import opening_hours_set_from_json

    closed = {day: [] for day in ("mon", "tue", "wed", "thu", "fri", "sat")}
    opening_hours_set_from_json(data={"weekly": {**closed, "sun": [["10:00", "16:00"]]}})


def _profile() -> None:
    from chat.dashboard.services import business_profile_update

    business_profile_update(name="Threadline", tagline="Clothes for the harbour", tone="warm", languages=["en"],
                            human_only_topics=[], contact_email="", phone="", address="")


def _time_zone() -> None:
    from tenants.services import tenant_timezone_set

    tenant_timezone_set(tenant=connection.tenant, timezone_name="Europe/Lisbon")


def _widget() -> None:
    from chat.dashboard.services import widget_settings_update

    widget_settings_update(display_name="Ask us", greeting="Hi!", primary_color="#112233", text_color="#ffffff",
                           avatar_url="", position="right", language="en", prechat_enabled=False,
                           prechat_require_email=False, allowed_origins=[], messages_per_minute_per_ip=20,
                           messages_per_minute_per_visitor=10)


def _commerce() -> None:
    from orders.services.catalog import commerce_currency_set

    commerce_currency_set(currency="GBP")


CHANGES = {
    "knowledge added and indexed": (lambda: None, _knowledge_indexed),
    "knowledge edited": (_knowledge_indexed, _faq_edit),
    "knowledge deleted": (lambda: None, _source_delete),
    "chunks embedded again": (lambda: None, _chunks_embedded_again),
    "catalog imported": (lambda: None, _catalog_import),
    "price changed": (_catalog_import, _variant_price),
    "product edited": (_catalog_import, _product_edit),
    "stock from the shop": (_catalog_import, _stock_from_shop),
    "product from the shop": (lambda: None, _product_from_shop),
    "opening hours": (lambda: None, _hours),
    "business profile": (lambda: None, _profile),
    "time zone": (lambda: None, _time_zone),
    "widget settings": (lambda: None, _widget),
    "commerce settings": (lambda: None, _commerce),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_every_service_that_changes_content_bumps_the_version(change: str, tenant_a, settings) -> None:
    settings.KB_EMBEDDING_PROVIDER = "local"
    setup, write = CHANGES[change]
    with schema_context(tenant_a.schema_name):
        connection.tenant = tenant_a
        setup()
        before = content_version_get()
        write()
        assert content_version_get() != before


# ----------------------------------------------------------------------------- the cache


def test_a_tenants_value_is_rebuilt_after_its_content_changes_and_only_then(tenant_a) -> None:
    cache: ContentCache[int] = ContentCache()
    built: list[int] = []
    with schema_context(tenant_a.schema_name):
        assert cache.get(lambda: built.append(1) or 1) == 1
        assert cache.get(lambda: built.append(2) or 2) == 1
        commerce_stock_counts_set(shown=True)
        assert cache.get(lambda: built.append(3) or 3) == 3
    assert built == [1, 3]


def test_two_tenants_never_share_an_entry(tenant_a, tenant_b) -> None:
    cache: ContentCache[str] = ContentCache()
    with schema_context(tenant_a.schema_name):
        assert cache.get(lambda: "a", key="menu") == "a"
    with schema_context(tenant_b.schema_name):
        assert cache.get(lambda: "b", key="menu") == "b"
    with schema_context(tenant_a.schema_name):
        assert cache.get(lambda: "not a's", key="menu") == "a"


def test_the_cache_keeps_only_the_most_recently_used_entries(make_tenant) -> None:
    schemas = [make_tenant().tenant.schema_name for _ in range(3)]
    cache: ContentCache[str] = ContentCache(entries=2)
    built: list[str] = []
    for schema_name in (schemas[0], schemas[1], schemas[0], schemas[2], schemas[0], schemas[1]):
        with schema_context(schema_name):
            cache.get(lambda s=schema_name: built.append(s) or s)
    # The second was dropped for the third; the first, used last before the third, was kept.
    assert built == [schemas[0], schemas[1], schemas[2], schemas[1]]
    assert len(cache._values) == 2


def test_a_value_that_is_no_longer_usable_is_built_again(tenant_a) -> None:
    cache: ContentCache[int] = ContentCache()
    with schema_context(tenant_a.schema_name):
        assert cache.get(lambda: 1, usable=lambda value: value > 0) == 1
        assert cache.get(lambda: 2, usable=lambda value: value > 1) == 2


def test_nothing_is_kept_from_inside_an_open_transaction(tenant_a) -> None:
    cache: ContentCache[int] = ContentCache()
    with schema_context(tenant_a.schema_name):
        with transaction.atomic():
            assert cache.get(lambda: 1) == 1
        assert cache.get(lambda: 2) == 2


@pytest.fixture
def three_tenants(make_tenant) -> list[str]:
    return [make_tenant().tenant.schema_name for _ in range(3)]


@hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.tuples(st.sampled_from(["read", "change"]), st.integers(min_value=0, max_value=2)),
                      max_size=30))
def test_a_value_built_before_its_tenants_latest_change_is_never_served(three_tenants, steps) -> None:
    schemas = three_tenants
    cache: ContentCache[tuple[str, int]] = ContentCache(entries=2)
    changes = dict.fromkeys(schemas, 0)
    for step, which in steps:
        schema_name = schemas[which]
        with schema_context(schema_name):
            if step == "change":
                commerce_stock_counts_set(shown=changes[schema_name] % 2 == 0)
                changes[schema_name] += 1
            else:
                assert cache.get(lambda s=schema_name: (s, changes[s])) == (schema_name, changes[schema_name])
    assert len(cache._values) <= 2


# ----------------------------------------------------------------------------- another process

_READER = """
import sys, django
django.setup()
from django_tenants.utils import schema_context
from config.content_version import content_version_get
for line in sys.stdin:
    with schema_context(line.strip()):
        print(content_version_get(), flush=True)
"""


@pytest.fixture
def reader() -> Iterator[subprocess.Popen[str]]:
    """Another Python process on the same stores, asked for a tenant's version line by line."""
    process = subprocess.Popen([sys.executable, "-c", _READER], cwd=ROOT, env=child_env(), text=True,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    yield process
    process.stdin.close()  # type: ignore[union-attr]
    process.wait(timeout=30)


def _ask(process: subprocess.Popen[str], schema_name: str) -> str:
    process.stdin.write(schema_name + "\n")  # type: ignore[union-attr]
    process.stdin.flush()  # type: ignore[union-attr]
    return process.stdout.readline().strip()  # type: ignore[union-attr]


def test_another_process_sees_the_bump_at_once(tenant_a, reader) -> None:
    mine = _version(tenant_a.schema_name)
    assert _ask(reader, tenant_a.schema_name) == mine
    with schema_context(tenant_a.schema_name):
        commerce_stock_counts_set(shown=True)
    bumped = _version(tenant_a.schema_name)
    assert bumped != mine
    assert _ask(reader, tenant_a.schema_name) == bumped
    connection.set_schema_to_public()
