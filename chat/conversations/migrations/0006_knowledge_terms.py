from django.db import migrations, models

# The counts for chunks indexed before this table existed; from here on services keep them exact.
BACKFILL = """
INSERT INTO chat_knowledgeterm (kind, term, chunks)
SELECT 'word', word, ndoc FROM ts_stat('SELECT to_tsvector(''simple'', text) FROM chat_knowledgechunk')
UNION ALL
SELECT 'lexeme', word, ndoc
FROM ts_stat('SELECT search_vector FROM chat_knowledgechunk WHERE search_vector IS NOT NULL')
"""


class Migration(migrations.Migration):

    dependencies = [
        ("chat", "0005_analytics_daily"),
    ]

    operations = [
        migrations.CreateModel(
            name="KnowledgeTerm",
            fields=[
                ("pk", models.CompositePrimaryKey("kind", "term", blank=True, editable=False, primary_key=True,
                                                  serialize=False)),
                ("kind", models.CharField(choices=[("word", "Word of the chunk text"), ("lexeme", "Full-text lexeme")],
                                          max_length=10)),
                ("term", models.TextField()),
                ("chunks", models.IntegerField()),
            ],
        ),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
    ]
