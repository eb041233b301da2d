"""Product vectors for discovery questions: one row per product with the model that embedded it,
HNSW-indexed per supported dimension like the knowledge base's chunks."""

import django.contrib.postgres.indexes
import django.contrib.postgres.search
import django.db.models.deletion
import pgvector.django
from django.db import migrations, models

# HNSW needs a fixed dimension: one partial expression index per dimension a supported model has.
DIMENSIONS = (384, 1536)


class Migration(migrations.Migration):
    dependencies = [("orders", "0003_product_kind_and_stock_counts_setting")]

    operations = [
        migrations.CreateModel(
            name="ProductEmbedding",
            fields=[
                ("product", models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True,
                                                 related_name="embedding", serialize=False, to="orders.product")),
                ("text", models.TextField(help_text="What was embedded.")),
                ("text_hash", models.CharField(max_length=64)),
                ("embedding", pgvector.django.VectorField(null=True)),
                ("embedding_model", models.CharField(blank=True, max_length=200)),
                ("embedding_dims", models.PositiveSmallIntegerField(null=True)),
                ("search_vector", models.GeneratedField(
                    db_persist=True, expression=django.contrib.postgres.search.SearchVector("text", config="simple"),
                    output_field=django.contrib.postgres.search.SearchVectorField())),
                ("updated", models.DateTimeField(auto_now=True)),
            ],
            options={"indexes": [
                models.Index(fields=["embedding_model"], name="orders_product_vector_model"),
                django.contrib.postgres.indexes.GinIndex(fields=["search_vector"], name="orders_product_vector_text"),
            ]},
        ),
        *[
            migrations.RunSQL(
                f"CREATE INDEX orders_product_vector_{dims}_hnsw ON orders_productembedding "
                f"USING hnsw ((embedding::vector({dims})) vector_cosine_ops) WHERE embedding_dims = {dims}",
                f"DROP INDEX IF EXISTS orders_product_vector_{dims}_hnsw",
            )
            for dims in DIMENSIONS
        ],
    ]
