"""Takes over the widget's settings table from the chat app (chat 0013): Django's state only, the tables
stay as they are under their chat_* names."""

from django.db import migrations, models

import chat.widget.models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("chat", "0013_domain_models_to_their_apps"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='WidgetSettings',
                    fields=[
                        ('id', models.PositiveSmallIntegerField(default=1, editable=False, primary_key=True, serialize=False)),
                        ('public_key', models.CharField(default=chat.widget.models.new_public_key, max_length=64, unique=True)),
                        ('allowed_origins', models.JSONField(blank=True, default=list, help_text='Origins (https://shop.example) whose pages may embed the widget.')),
                        ('display_name', models.CharField(blank=True, max_length=100)),
                        ('greeting', models.CharField(default='Hi! How can we help you today?', max_length=300)),
                        ('primary_color', models.CharField(default='#1f6feb', max_length=7)),
                        ('text_color', models.CharField(default='#ffffff', max_length=7)),
                        ('avatar_url', models.URLField(blank=True)),
                        ('position', models.CharField(choices=[('right', 'Right'), ('left', 'Left')], default='right', max_length=5)),
                        ('language', models.CharField(default='en', max_length=8)),
                        ('prechat_enabled', models.BooleanField(default=False)),
                        ('prechat_require_email', models.BooleanField(default=False)),
                        ('messages_per_minute_per_ip', models.PositiveIntegerField(default=100)),
                        ('messages_per_minute_per_visitor', models.PositiveIntegerField(default=30)),
                        ('demo_page', models.CharField(choices=[('shop', 'An online shop'), ('cafe', 'A café or restaurant')], default='shop', help_text='What the demo page (/demo/) looks like: a sample website of this kind of business.', max_length=10)),
                        ('updated', models.DateTimeField(auto_now=True)),
                    ],
                    options={
                        'verbose_name_plural': 'widget settings',
                        'db_table': 'chat_widgetsettings',
                        'constraints': [models.CheckConstraint(condition=models.Q(('id', 1)), name='widget_settings_singleton')],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
