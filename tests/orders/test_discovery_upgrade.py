"""A tenant whose products were embedded before discovery's full text indexed word beginnings (orders
0004) finds them by the beginnings of their words once upgraded: nothing has to be embedded again."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.support.migrations import schema_migrated_to

BEFORE = ("orders", "0004_product_embeddings_for_discovery")


@pytest.fixture
def schema_before() -> Iterator[str]:
    """A schema of its own, its orders app migrated only as far as 0004."""
    with schema_migrated_to(BEFORE) as name:
        yield name


def test_products_embedded_before_the_upgrade_are_found_by_their_words_after_it(schema_before: str) -> None:
    from orders.discovery import product_search

    executor = MigrationExecutor(connection)
    old = executor.loader.project_state([BEFORE]).apps
    for sku, name, category, description in (
            ("CAFE-1", "Almond Croissant", "Pastries", "Flaky croissant filled with almond cream."),
            ("CAFE-2", "Crème Brûlée", "Desserts", "Baked custard under burnt sugar."),
            ("CAFE-3", "Flat White", "Coffee", "Double ristretto with steamed milk.")):
        product = old.get_model("orders", "Product").objects.create(
            sku=sku, name=name, category=category, description=description, price_minor=450, currency="EUR")
        old.get_model("orders", "Variant").objects.create(product=product, sku=f"{sku}-1", price_minor=450, stock=5)
        old.get_model("orders", "ProductEmbedding").objects.create(
            product=product, text=f"{name}. {category}. {description}", text_hash="before")

    # When the rest of the migrations run, as `manage.py migrate_all` runs them on every tenant,
    executor = MigrationExecutor(connection)
    # (the latest: today's search reads columns later migrations add)
    executor.migrate(executor.loader.graph.leaf_nodes("orders"))

    # a customer's plural finds the singular, and a word written without its accents finds it with them.
    assert [found.sku for found in product_search(query="any pastries?", mode="text").products] == ["CAFE-1"]
    assert [found.sku for found in product_search(query="creme brulee", mode="text").products] == ["CAFE-2"]
    assert not product_search(query="a croissant with tea", mode="text", limit=4).products[1:]
