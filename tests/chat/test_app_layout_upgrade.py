"""A tenant schema migrated by the one-app layout (chat 0001..0012) upgrades to the domain apps with
nothing lost: every row, foreign key, embedding, content type and permission is still there."""

from __future__ import annotations

import datetime
from collections.abc import Iterator

import pytest
from django.contrib.auth.models import Permission, User
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from chat.analytics.models import AnalyticsDay, AnalyticsQuestion
from chat.conversations.models import Author, Contact, Conversation, ConversationEvent, Message, TeamMemberProfile
from chat.dashboard.models import CannedResponse, Invitation
from chat.knowledge.models import IndexingJob, IndexingJobItem, KnowledgeChunk, KnowledgeSource, KnowledgeTerm
from chat.widget.models import WidgetSettings
from tests.support.migrations import schema_migrated_to

# The leaf of the chat app's one migration chain on main before the split (commit 4d948d3).
ONE_APP_LEAF = ("chat", "0012_business_embedding_model_and_endpoint_probe")
DOMAIN_APPS = ("chat", "knowledge", "widget", "dashboard", "analytics")
MOVED = {
    "knowledge": ["indexingjob", "indexingjobitem", "knowledgesource", "knowledgechunk", "knowledgeterm"],
    "widget": ["widgetsettings"],
    "dashboard": ["invitation", "cannedresponse"],
    "analytics": ["analyticsday", "analyticsquestion"],
}
EMBEDDING = [round(0.001 * i, 3) for i in range(384)]


@pytest.fixture
def old_schema() -> Iterator[str]:
    """A schema of its own, migrated only as far as main's chat app went."""
    with schema_migrated_to(ONE_APP_LEAF) as name:
        yield name


def _old_rows(executor: MigrationExecutor) -> dict[str, int]:
    """Rows written through the historical models, as main's code would have written them."""
    old = executor.loader.project_state([ONE_APP_LEAF, ("contenttypes", "0002_remove_content_type_name")]).apps

    def model(name: str):  # type: ignore[no-untyped-def]
        return old.get_model("chat", name)

    user = old.get_model("auth", "User").objects.create(username="agent@shop.test", email="agent@shop.test")
    contact = model("Contact").objects.create(visitor_id="v-1", name="Ann", email="ann@example.test",
                                              email_status="given")
    conversation = model("Conversation").objects.create(contact=contact, status="human", assignee=user)
    question = model("Message").objects.create(conversation=conversation, author="customer", text="Open on Sunday?",
                                                client_id="c-1", answer_state="answered")
    answer = model("Message").objects.create(conversation=conversation, author="assistant", text="From 10 to 4.",
                                             in_reply_to=question, confidence=0.9, sources=[{"source_id": 1}])
    model("ConversationEvent").objects.create(conversation=conversation, kind="assigned", from_status="needs_human",
                                              to_status="human", actor="agent@shop.test")
    job = model("IndexingJob").objects.create(kind="import", total=1, done=1, status="finished")
    source = model("KnowledgeSource").objects.create(kind="faq", key="opening", title="Opening hours",
                                                     question="Open on Sunday?", answer="From 10 to 4.",
                                                     content_hash="h", job=job, status="ready")
    model("IndexingJobItem").objects.create(job=job, source=source, outcome="done")
    chunk = model("KnowledgeChunk").objects.create(source=source, position=0, role="qa", text="Open on Sunday?",
                                                   content="From 10 to 4.", content_hash="h", embedding=EMBEDDING,
                                                   embedding_model="minilm", embedding_dims=384)
    model("KnowledgeTerm").objects.create(kind="word", term="sunday", chunks=1)
    model("WidgetSettings").objects.create(public_key="pk_upgrade", greeting="Hello from before", demo_page="cafe")
    model("Invitation").objects.create(email="new@shop.test", role="agent", nonce="n-1", invited_by=user,
                                       expires_at=datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC))
    model("TeamMemberProfile").objects.create(user=user, display_name="Sam", avatar_image=b"\x89PNG",
                                              avatar_content_type="image/png")
    model("CannedResponse").objects.create(title="Thanks", text="Thank you!")
    model("AnalyticsDay").objects.create(day=datetime.date(2026, 11, 30), stale=False, conversations=1,
                                         ratings=[0, 0, 0, 1, 0], assistant_waits=[1.5])
    model("AnalyticsQuestion").objects.create(day=datetime.date(2026, 11, 30), key="open on sunday",
                                              example="Open on Sunday?", asked=1)
    # Content types as main left them (made when first used), one with a permission pointing at it.
    content_type = old.get_model("contenttypes", "ContentType")
    ids = {model_name: content_type.objects.create(app_label="chat", model=model_name).pk
           for names in MOVED.values() for model_name in names}
    old.get_model("auth", "Permission").objects.create(
        name="Can view knowledge source", codename="view_knowledgesource", content_type_id=ids["knowledgesource"])
    return {"user": user.pk, "conversation": conversation.pk, "question": question.pk, "answer": answer.pk,
            "job": job.pk, "source": source.pk, "chunk": chunk.pk, **ids}


def test_a_database_of_the_one_app_layout_upgrades_with_nothing_lost(old_schema: str) -> None:
    executor = MigrationExecutor(connection)
    assert ("knowledge", "0001_initial") not in executor.loader.applied_migrations
    ids = _old_rows(executor)

    # When the rest of the migrations run, as `manage.py migrate_all` runs them on every tenant,
    executor = MigrationExecutor(connection)
    executor.migrate([node for node in executor.loader.graph.leaf_nodes() if node[0] in DOMAIN_APPS])
    ContentType.objects.clear_cache()

    # then every row reads back through the new apps' models, foreign keys included.
    conversation = Conversation.objects.get(pk=ids["conversation"])
    assert conversation.contact == Contact.objects.get(visitor_id="v-1")
    assert conversation.assignee == User.objects.get(pk=ids["user"])
    answer = Message.objects.get(pk=ids["answer"])
    assert (answer.author, answer.in_reply_to_id, answer.sources) == (Author.ASSISTANT, ids["question"],
                                                                       [{"source_id": 1}])
    assert list(conversation.messages.values_list("text", flat=True)) == ["Open on Sunday?", "From 10 to 4."]
    assert ConversationEvent.objects.get(conversation=conversation).to_status == "human"

    source = KnowledgeSource.objects.get(pk=ids["source"])
    assert source.job == IndexingJob.objects.get(pk=ids["job"])
    assert IndexingJobItem.objects.get(job_id=ids["job"]).source == source
    chunk = source.chunks.get()
    assert chunk.pk == ids["chunk"] and chunk.embedding_dims == 384
    assert [round(float(x), 3) for x in chunk.embedding] == EMBEDDING
    assert KnowledgeChunk.objects.filter(embedding_model="minilm").count() == 1
    assert KnowledgeTerm.objects.get(kind="word", term="sunday").chunks == 1

    widget = WidgetSettings.objects.get()
    assert (widget.public_key, widget.greeting, widget.demo_page) == ("pk_upgrade", "Hello from before", "cafe")
    assert Invitation.objects.get(nonce="n-1").invited_by_id == ids["user"]
    profile = TeamMemberProfile.objects.get(user=User.objects.get(pk=ids["user"]))
    assert (profile.display_name, bytes(profile.avatar_image)) == ("Sam", b"\x89PNG")
    assert CannedResponse.objects.get().text == "Thank you!"
    day = AnalyticsDay.objects.get()
    assert (day.conversations, day.ratings, day.assistant_waits) == (1, [0, 0, 0, 1, 0], [1.5])
    assert AnalyticsQuestion.objects.get().example == "Open on Sunday?"

    # The content types moved to the new labels under the same ids, so permissions still point right.
    for label, model_names in MOVED.items():
        for model_name in model_names:
            moved = ContentType.objects.get(pk=ids[model_name])
            assert (moved.app_label, moved.model) == (label, model_name)
    assert ContentType.objects.get_for_model(KnowledgeSource).pk == ids["knowledgesource"]
    assert not ContentType.objects.filter(app_label="chat", model__in=sum(MOVED.values(), [])).exists()
    permission = Permission.objects.get(codename="view_knowledgesource")
    assert permission.content_type.model_class() is KnowledgeSource

    # The tables are the ones main made: nothing was created, renamed or dropped.
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", [old_schema])
        tables = {row[0] for row in cursor.fetchall()}
    assert {f"chat_{name}" for names in MOVED.values() for name in names} <= tables
    assert not {table for table in tables if table.split("_")[0] in MOVED}
