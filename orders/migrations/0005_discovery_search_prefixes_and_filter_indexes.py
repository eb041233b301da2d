"""Discovery search at catalog scale: the full-text index of product vectors holds every beginning
of every word (`search_prefixes`), so a question's word is one exact GIN lookup instead of a prefix
query merging the postings of every word that starts with it; a question of filters only reads a few
products in the order of an index (variant price, product category)."""

import django.contrib.postgres.indexes
import django.contrib.postgres.search
from django.db import migrations, models

BATCH = 2000


def _fold(text):
    # orders.selectors.text_fold as it is when this migration is written.
    import re
    import unicodedata

    if not text.isascii():
        text = "".join(char for char in unicodedata.normalize("NFKD", text) if not unicodedata.combining(char))
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def _prefixes(text):
    # orders.discovery.product_search_prefixes as it is when this migration is written.
    beginnings = set()
    for word in _fold(text).split():
        beginnings.update(word[:end] for end in range(2, len(word) + 1))
    return " ".join(sorted(beginnings))


def fill_prefixes(apps, schema_editor):
    ProductEmbedding = apps.get_model("orders", "ProductEmbedding")
    rows = ProductEmbedding.objects.only("pk", "text").order_by("pk")
    last = 0
    while batch := list(rows.filter(pk__gt=last)[:BATCH]):
        for row in batch:
            row.search_prefixes = _prefixes(row.text)
        ProductEmbedding.objects.bulk_update(batch, ["search_prefixes"])
        last = batch[-1].pk


class Migration(migrations.Migration):
    dependencies = [("orders", "0004_product_embeddings_for_discovery")]

    operations = [
        migrations.RemoveIndex(model_name="productembedding", name="orders_product_vector_text"),
        migrations.RemoveField(model_name="productembedding", name="search_vector"),
        migrations.AddField(model_name="productembedding", name="search_prefixes",
                            field=models.TextField(blank=True, default="")),
        migrations.RunPython(fill_prefixes, migrations.RunPython.noop),
        migrations.AddField(
            model_name="productembedding", name="search_vector",
            field=models.GeneratedField(
                db_persist=True,
                expression=models.Func(models.Func(models.F("search_prefixes"), models.Value(" "),
                                                   function="string_to_array"),
                                       function="array_to_tsvector",
                                       output_field=django.contrib.postgres.search.SearchVectorField()),
                output_field=django.contrib.postgres.search.SearchVectorField())),
        migrations.AddIndex(model_name="productembedding",
                            index=django.contrib.postgres.indexes.GinIndex(fields=["search_vector"],
                                                                           name="orders_product_vector_text")),
        migrations.AddIndex(model_name="product",
                            index=models.Index(fields=["category"], name="orders_product_category")),
        migrations.AddIndex(model_name="variant",
                            index=models.Index(fields=["price_minor"], name="orders_variant_price")),
    ]
