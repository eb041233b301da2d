"""Messaging channels: connected numbers and bots, who wrote on them, replies sent, the channel log."""

import django.db.models.deletion
from django.db import migrations, models

import chat.messaging.models
import config.secrets_at_rest


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('chat', '0013_domain_models_to_their_apps'),
    ]

    operations = [
        migrations.CreateModel(
            name='MessagingChannel',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('platform', models.CharField(choices=[('whatsapp', 'WhatsApp'), ('telegram', 'Telegram')], max_length=20)),
                ('name', models.CharField(help_text="What the dashboard calls it (the number, the bot's @name).", max_length=200)),
                ('connected', models.BooleanField(default=True)),
                ('phone_number_id', models.CharField(blank=True, max_length=64)),
                ('business_account_id', models.CharField(blank=True, max_length=64)),
                ('access_token', config.secrets_at_rest.EncryptedTextField(blank=True)),
                ('app_secret', config.secrets_at_rest.EncryptedTextField(blank=True)),
                ('verify_token', models.CharField(default=chat.messaging.models.new_verify_token, max_length=100)),
                ('template_name', models.CharField(blank=True, max_length=200)),
                ('template_language', models.CharField(default='en_US', max_length=20)),
                ('bot_token', config.secrets_at_rest.EncryptedTextField(blank=True)),
                ('bot_user_id', models.BigIntegerField(blank=True, null=True)),
                ('bot_username', models.CharField(blank=True, max_length=100)),
                ('webhook_secret', config.secrets_at_rest.EncryptedTextField(blank=True)),
                ('last_inbound_at', models.DateTimeField(blank=True, null=True)),
                ('last_outbound_at', models.DateTimeField(blank=True, null=True)),
                ('signature_failures', models.PositiveIntegerField(default=0)),
                ('delivery_failures', models.PositiveIntegerField(default=0)),
                ('created', models.DateTimeField(auto_now_add=True)),
            ],
            options={
                'ordering': ['id'],
                'constraints': [models.UniqueConstraint(condition=models.Q(('connected', True), ('platform', 'whatsapp')), fields=('phone_number_id',), name='messaging_whatsapp_number_once'), models.UniqueConstraint(condition=models.Q(('connected', True), ('platform', 'telegram')), fields=('bot_user_id',), name='messaging_telegram_bot_once')],
            },
        ),
        migrations.CreateModel(
            name='ChannelEvent',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('direction', models.CharField(choices=[('in', 'Inbound'), ('out', 'Outbound')], max_length=3)),
                ('kind', models.CharField(max_length=40)),
                ('detail', models.CharField(blank=True, max_length=300)),
                ('created', models.DateTimeField(auto_now_add=True, db_index=True)),
                ('channel', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='events', to='messaging.messagingchannel')),
            ],
            options={
                'ordering': ['-id'],
            },
        ),
        migrations.CreateModel(
            name='ChannelContact',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('external_id', models.CharField(max_length=64)),
                ('display_name', models.CharField(blank=True, max_length=200)),
                ('last_inbound_at', models.DateTimeField(blank=True, null=True)),
                ('created', models.DateTimeField(auto_now_add=True)),
                ('contact', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='channel_identities', to='chat.contact')),
                ('conversation', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='chat.conversation')),
                ('channel', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='contacts', to='messaging.messagingchannel')),
            ],
        ),
        migrations.CreateModel(
            name='OutboundMessage',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('text', models.TextField()),
                ('quick_replies', models.JSONField(blank=True, default=list)),
                ('state', models.CharField(choices=[('queued', 'Queued'), ('sent', 'Sent'), ('delivered', 'Delivered'), ('read', 'Read'), ('failed', 'Failed'), ('window_closed', 'Not sent: outside the 24-hour window')], default='queued', max_length=20)),
                ('provider_message_id', models.CharField(blank=True, db_index=True, max_length=128)),
                ('attempts', models.PositiveSmallIntegerField(default=0)),
                ('error', models.CharField(blank=True, max_length=500)),
                ('as_template', models.BooleanField(default=False)),
                ('created', models.DateTimeField(auto_now_add=True)),
                ('updated', models.DateTimeField(auto_now=True)),
                ('channel', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='outbound', to='messaging.messagingchannel')),
                ('channel_contact', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='outbound', to='messaging.channelcontact')),
                ('message', models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='outbound', to='chat.message')),
            ],
            options={
                'ordering': ['id'],
            },
        ),
        migrations.AddConstraint(
            model_name='channelcontact',
            constraint=models.UniqueConstraint(fields=('channel', 'external_id'), name='messaging_contact_once'),
        ),
        migrations.AddIndex(
            model_name='outboundmessage',
            index=models.Index(fields=['channel_contact', 'state', 'id'], name='messaging_o_channel_593a9a_idx'),
        ),
    ]
