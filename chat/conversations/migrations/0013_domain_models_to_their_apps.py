"""The knowledge, widget, dashboard and analytics tables now belong to apps of their own.

Only Django's picture of the models changes: each table keeps its name, rows and constraints, and
the new apps' first migrations take the same models over (state only, `db_table` set to the name the
table has always had). The models' content types move to the new labels, so permissions and
anything else pointing at a content type keep pointing at the same model.
"""

from django.db import migrations

NEW_LABELS = {
    "knowledge": ["indexingjob", "indexingjobitem", "knowledgesource", "knowledgechunk", "knowledgeterm"],
    "widget": ["widgetsettings"],
    "dashboard": ["invitation", "cannedresponse"],
    "analytics": ["analyticsday", "analyticsquestion"],
}


def _content_types_relabel(apps, *, forwards: bool) -> None:
    content_type = apps.get_model("contenttypes", "ContentType")
    for label, models in NEW_LABELS.items():
        old, new = ("chat", label) if forwards else (label, "chat")
        # A row already under the new label (made by hand or by a partial earlier run) is left alone,
        # and so is the old one: moving it would break the (app_label, model) uniqueness.
        taken = set(content_type.objects.filter(app_label=new, model__in=models).values_list("model", flat=True))
        content_type.objects.filter(app_label=old, model__in=models).exclude(model__in=taken).update(app_label=new)


def content_types_forwards(apps, schema_editor):
    _content_types_relabel(apps, forwards=True)


def content_types_backwards(apps, schema_editor):
    _content_types_relabel(apps, forwards=False)


class Migration(migrations.Migration):

    dependencies = [
        ("chat", "0012_business_embedding_model_and_endpoint_probe"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(model_name="indexingjobitem", name="job"),
                migrations.RemoveField(model_name="indexingjobitem", name="source"),
                migrations.RemoveField(model_name="knowledgesource", name="job"),
                migrations.RemoveField(model_name="knowledgechunk", name="source"),
                migrations.RemoveField(model_name="invitation", name="invited_by"),
                migrations.DeleteModel(name="IndexingJobItem"),
                migrations.DeleteModel(name="KnowledgeChunk"),
                migrations.DeleteModel(name="KnowledgeSource"),
                migrations.DeleteModel(name="IndexingJob"),
                migrations.DeleteModel(name="KnowledgeTerm"),
                migrations.DeleteModel(name="WidgetSettings"),
                migrations.DeleteModel(name="Invitation"),
                migrations.DeleteModel(name="CannedResponse"),
                migrations.DeleteModel(name="AnalyticsDay"),
                migrations.DeleteModel(name="AnalyticsQuestion"),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_types_forwards, content_types_backwards),
    ]
