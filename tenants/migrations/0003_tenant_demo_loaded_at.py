from django.db import migrations, models
from django.utils import timezone

# The demo tenants' slugs (tenants.demo.DEMO_TENANTS), written out: a migration must not import app code.
DEMO_SLUGS = ("cafe", "shop")


def mark_existing_demo_tenants_loaded(apps, schema_editor):
    """A demo tenant that exists already had its demo loaded (every `make run` used to reload it):
    its owner's edits since then are kept, not overwritten once more by the first run after this."""
    Tenant = apps.get_model("tenants", "Tenant")
    Tenant.objects.filter(schema_name__in=DEMO_SLUGS, demo_loaded_at__isnull=True).update(demo_loaded_at=timezone.now())


class Migration(migrations.Migration):

    dependencies = [
        ("tenants", "0002_usagenotice"),
    ]

    operations = [
        migrations.AddField(
            model_name="tenant",
            name="demo_loaded_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(mark_existing_demo_tenants_loaded, migrations.RunPython.noop),
    ]
