"""Takes over the analytics roll-up tables from the chat app (chat 0013): Django's state only, the tables
stay as they are under their chat_* names."""

import django.contrib.postgres.fields
from django.db import migrations, models

import chat.analytics.models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("chat", "0013_domain_models_to_their_apps"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='AnalyticsDay',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('day', models.DateField(unique=True)),
                        ('time_zone', models.CharField(blank=True, max_length=64)),
                        ('stale', models.BooleanField(default=True)),
                        ('computed_at', models.DateTimeField(blank=True, null=True)),
                        ('conversations', models.PositiveIntegerField(default=0)),
                        ('resolved_by_assistant', models.PositiveIntegerField(default=0)),
                        ('handed_off', models.PositiveIntegerField(default=0)),
                        ('answers', models.PositiveIntegerField(default=0)),
                        ('unanswered', models.PositiveIntegerField(default=0)),
                        ('ratings', django.contrib.postgres.fields.ArrayField(base_field=models.PositiveIntegerField(), default=chat.analytics.models.five_zeros, size=5)),
                        ('assistant_waits', django.contrib.postgres.fields.ArrayField(base_field=models.FloatField(), blank=True, default=list, size=None)),
                        ('agent_waits', django.contrib.postgres.fields.ArrayField(base_field=models.FloatField(), blank=True, default=list, size=None)),
                        ('resolutions', django.contrib.postgres.fields.ArrayField(base_field=models.FloatField(), blank=True, default=list, size=None)),
                    ],
                    options={
                        'db_table': 'chat_analyticsday',
                        'ordering': ['day'],
                    },
                ),
                migrations.CreateModel(
                    name='AnalyticsQuestion',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('day', models.DateField()),
                        ('key', models.CharField(max_length=300)),
                        ('example', models.CharField(max_length=300)),
                        ('asked', models.PositiveIntegerField()),
                    ],
                    options={
                        'db_table': 'chat_analyticsquestion',
                        'constraints': [models.UniqueConstraint(fields=('day', 'key'), name='analytics_question_once_per_day')],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
