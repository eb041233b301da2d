"""The audit log's table, append-only in the database too: a trigger refuses every UPDATE and DELETE of a
row, and TRUNCATE of the table, whoever connects (the ORM, the admin, a psql session). Dropping the whole
tenant schema (the tenant's deletion) is not refused. The function lives in the public schema, so the
trigger of each tenant's copy of the table (tenants.schemas copies triggers) names the one function."""

from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies: list[tuple[str, str]] = [
    ]

    operations = [
        migrations.CreateModel(
            name='AuditEntry',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('created', models.DateTimeField(auto_now_add=True, db_index=True)),
                ('actor', models.CharField(max_length=254)),
                ('action', models.CharField(choices=[('login', 'Logged in'), ('takeover', 'Took over a conversation'), ('export', 'Exported data'), ('deletion', 'Deleted'), ('settings_change', 'Changed settings'), ('key_change', 'Changed a key or secret'), ('team_change', 'Changed the team')], max_length=20)),
                ('target', models.CharField(blank=True, max_length=200)),
                ('details', models.JSONField(blank=True, default=dict)),
                ('request_id', models.CharField(blank=True, max_length=128)),
            ],
            options={
                'verbose_name_plural': 'audit entries',
                'ordering': ['-created', '-pk'],
            },
        ),
        migrations.RunSQL(
            sql="""
            CREATE OR REPLACE FUNCTION public.deskpilot_audit_refuse_change() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'audit entries are append-only: % refused', TG_OP
                    USING ERRCODE = 'insufficient_privilege';
            END;
            $$;
            CREATE TRIGGER audit_auditentry_append_only BEFORE UPDATE OR DELETE ON audit_auditentry
                FOR EACH ROW EXECUTE FUNCTION public.deskpilot_audit_refuse_change();
            CREATE TRIGGER audit_auditentry_no_truncate BEFORE TRUNCATE ON audit_auditentry
                FOR EACH STATEMENT EXECUTE FUNCTION public.deskpilot_audit_refuse_change();
            """,
            reverse_sql="""
            DROP TRIGGER IF EXISTS audit_auditentry_no_truncate ON audit_auditentry;
            DROP TRIGGER IF EXISTS audit_auditentry_append_only ON audit_auditentry;
            """,
        ),
    ]
