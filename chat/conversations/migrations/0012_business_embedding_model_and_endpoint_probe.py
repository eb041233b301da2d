from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("chat", "0011_team_member_profile_and_contact_email_status"),
    ]

    operations = [
        migrations.AddField(
            model_name="businessprofile",
            name="llm_embedding_model",
            field=models.CharField(blank=True, max_length=100),
        ),
        migrations.AddField(
            model_name="businessprofile",
            name="llm_probe",
            field=models.JSONField(blank=True, default=dict),
        ),
    ]
