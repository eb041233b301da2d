"""Takes over the knowledge base's tables from the chat app (chat 0013): Django's state only, the tables
stay as they are under their chat_* names."""

import django.contrib.postgres.indexes
import django.contrib.postgres.search
import django.db.models.deletion
import pgvector.django.vector
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("chat", "0013_domain_models_to_their_apps"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='IndexingJob',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('kind', models.CharField(choices=[('import', 'Import'), ('reindex', 'Re-index')], max_length=20)),
                        ('status', models.CharField(choices=[('running', 'Running'), ('finished', 'Finished'), ('finished_with_failures', 'Finished with failures')], default='running', max_length=30)),
                        ('total', models.PositiveIntegerField(default=0)),
                        ('done', models.PositiveIntegerField(default=0)),
                        ('failed', models.PositiveIntegerField(default=0)),
                        ('description', models.CharField(blank=True, max_length=300)),
                        ('created', models.DateTimeField(auto_now_add=True)),
                        ('finished', models.DateTimeField(blank=True, null=True)),
                    ],
                    options={
                        'db_table': 'chat_indexingjob',
                        'ordering': ['-created'],
                    },
                ),
                migrations.CreateModel(
                    name='KnowledgeTerm',
                    fields=[
                        ('pk', models.CompositePrimaryKey('kind', 'term', blank=True, editable=False, primary_key=True, serialize=False)),
                        ('kind', models.CharField(choices=[('word', 'Word of the chunk text'), ('lexeme', 'Full-text lexeme')], max_length=10)),
                        ('term', models.TextField()),
                        ('chunks', models.IntegerField()),
                    ],
                    options={
                        'db_table': 'chat_knowledgeterm',
                    },
                ),
                migrations.CreateModel(
                    name='KnowledgeSource',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('kind', models.CharField(choices=[('faq', 'FAQ entry'), ('page', 'Page'), ('file', 'Uploaded file'), ('url', 'Web page')], max_length=10)),
                        ('key', models.CharField(max_length=700, unique=True)),
                        ('title', models.CharField(max_length=500)),
                        ('question', models.TextField(blank=True)),
                        ('answer', models.TextField(blank=True)),
                        ('variants', models.JSONField(blank=True, default=list, help_text='Other ways customers ask the question.')),
                        ('body', models.TextField(blank=True)),
                        ('document_format', models.CharField(blank=True, help_text='markdown, text, html, pdf or docx.', max_length=20)),
                        ('url', models.URLField(blank=True, max_length=2000)),
                        ('filename', models.CharField(blank=True, max_length=500)),
                        ('origin', models.CharField(blank=True, db_index=True, max_length=500)),
                        ('raw', models.BinaryField(blank=True, null=True)),
                        ('content_hash', models.CharField(help_text='Hash of the content as last imported.', max_length=64)),
                        ('indexed_hash', models.CharField(blank=True, help_text='Hash of the content the chunks came from.', max_length=64)),
                        ('status', models.CharField(choices=[('pending', 'Pending'), ('indexing', 'Indexing'), ('ready', 'Ready'), ('failed', 'Failed')], db_index=True, default='pending', max_length=20)),
                        ('error', models.TextField(blank=True)),
                        ('created', models.DateTimeField(auto_now_add=True)),
                        ('updated', models.DateTimeField(auto_now=True)),
                        ('indexed', models.DateTimeField(blank=True, null=True)),
                        ('job', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='sources', to='knowledge.indexingjob')),
                    ],
                    options={
                        'db_table': 'chat_knowledgesource',
                        'ordering': ['kind', 'title'],
                    },
                ),
                migrations.CreateModel(
                    name='KnowledgeChunk',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('position', models.PositiveIntegerField()),
                        ('role', models.CharField(choices=[('question', 'FAQ question'), ('phrasing', 'FAQ alternative phrasing'), ('qa', 'FAQ question and answer'), ('passage', 'Passage of a document')], max_length=10)),
                        ('heading', models.CharField(blank=True, help_text='Section path within the document.', max_length=500)),
                        ('text', models.TextField(help_text='What is embedded.')),
                        ('content', models.TextField(help_text="What a reader is shown: the passage, or the FAQ's answer.")),
                        ('content_hash', models.CharField(max_length=64)),
                        ('search_vector', django.contrib.postgres.search.SearchVectorField(null=True)),
                        ('embedding', pgvector.django.vector.VectorField(null=True)),
                        ('embedding_model', models.CharField(blank=True, max_length=200)),
                        ('embedding_dims', models.PositiveSmallIntegerField(null=True)),
                        ('created', models.DateTimeField(auto_now_add=True)),
                        ('source', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='chunks', to='knowledge.knowledgesource')),
                    ],
                    options={
                        'db_table': 'chat_knowledgechunk',
                        'ordering': ['source_id', 'position'],
                        'indexes': [django.contrib.postgres.indexes.GinIndex(fields=['search_vector'], name='kb_chunk_search_gin'), models.Index(fields=['embedding_model'], name='kb_chunk_model')],
                        'constraints': [models.UniqueConstraint(fields=('source', 'position'), name='kb_chunk_unique_position')],
                    },
                ),
                migrations.CreateModel(
                    name='IndexingJobItem',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('outcome', models.CharField(choices=[('pending', 'Pending'), ('done', 'Done'), ('failed', 'Failed')], default='pending', max_length=10)),
                        ('error', models.TextField(blank=True)),
                        ('job', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='items', to='knowledge.indexingjob')),
                        ('source', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='job_items', to='knowledge.knowledgesource')),
                    ],
                    options={
                        'db_table': 'chat_indexingjobitem',
                        'constraints': [models.UniqueConstraint(fields=('job', 'source'), name='kb_job_item_unique')],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
