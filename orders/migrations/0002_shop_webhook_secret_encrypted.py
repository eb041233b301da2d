"""A shop's webhook secret is stored encrypted (config.secrets_at_rest); existing secrets are
encrypted in place, and the reverse migration writes them back as plaintext."""

from django.db import migrations

import config.secrets_at_rest
from config.secrets_at_rest import column_encrypt_in_place

ARGS = {"app_label": "orders", "model_name": "shopconnection", "field_name": "webhook_secret"}


class Migration(migrations.Migration):
    dependencies = [("orders", "0001_initial")]

    operations = [
        migrations.AlterField(model_name="shopconnection", name="webhook_secret",
                              field=config.secrets_at_rest.EncryptedTextField()),
        migrations.RunPython(column_encrypt_in_place(**ARGS), column_encrypt_in_place(**ARGS, decrypt=True)),
    ]
