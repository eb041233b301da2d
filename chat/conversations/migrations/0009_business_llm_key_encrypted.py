"""A business's own LLM API key is stored encrypted (config.secrets_at_rest); existing keys are
encrypted in place, and the reverse migration writes them back as plaintext."""

from django.db import migrations

import config.secrets_at_rest
from config.secrets_at_rest import column_encrypt_in_place

ARGS = {"app_label": "chat", "model_name": "businessprofile", "field_name": "llm_api_key"}


class Migration(migrations.Migration):
    dependencies = [("chat", "0008_message_created_set_by_writer")]

    operations = [
        migrations.AlterField(model_name="businessprofile", name="llm_api_key",
                              field=config.secrets_at_rest.EncryptedTextField(blank=True)),
        migrations.RunPython(column_encrypt_in_place(**ARGS), column_encrypt_in_place(**ARGS, decrypt=True)),
    ]
