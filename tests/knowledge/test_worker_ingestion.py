"""Ingestion in the background, through a real Celery worker, with status and bulk progress, also when
a source's task fails for good."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django_tenants.utils import schema_context

from chat.knowledge import services
from chat.knowledge.models import IndexingJob, KnowledgeSource
from chat.knowledge.selectors import kb_search
from config.celery import app
from config.redis import redis_client
from tenants.models import DeadLetter
from tests.support.fake_openai import FakeOpenAIServer
from tests.support.processes import Worker, child_env, wait_until

from .conftest import BIKE_FAQ


@pytest.fixture(autouse=True)
def _empty_queues() -> None:
    redis_client().flushdb()


def test_background_import_and_reindex_run_on_the_workers(tenant_a, faq_file, tmp_path) -> None:
    (tmp_path / "faq.csv").write_text(faq_file.read_text())
    (tmp_path / "scan.pdf").write_bytes(b"%PDF-1.4\nnot really a pdf")
    out = io.StringIO()
    call_command("kb", "import", str(tmp_path), "--tenant", tenant_a.schema_name, "--background", stdout=out)
    assert "Indexing 6 sources on the workers" in out.getvalue()
    with schema_context(tenant_a.schema_name):
        assert set(KnowledgeSource.objects.values_list("status", flat=True)) == {"pending"}
        job = IndexingJob.objects.get()
        assert (job.total, job.done, job.failed, job.status) == (6, 0, 0, "running")

    worker = Worker(queues="medium,low")
    try:
        with schema_context(tenant_a.schema_name):
            wait_until(lambda: IndexingJob.objects.get(pk=job.pk).status != "running", timeout=120,
                       message="import job finished")
            job.refresh_from_db()
            assert (job.done, job.failed, job.status) == (5, 1, "finished_with_failures")
            broken = KnowledgeSource.objects.get(filename="scan.pdf")
            assert broken.status == "failed" and "not a readable PDF" in broken.error
            assert KnowledgeSource.objects.filter(status="ready").count() == 5
            assert kb_search(query="fix my ebike motor", k=1)[0].title == "Do you fix electric bikes?"

    finally:
        worker.stop()

    # Bulk re-indexing waits on `low`, behind anything live.
    call_command("kb", "reindex", "--tenant", tenant_a.schema_name, "--background", stdout=io.StringIO())
    broker = app.connection().default_channel.client
    assert (broker.llen("low"), broker.llen("medium")) == (5, 0)
    worker = Worker(queues="low")
    try:
        with schema_context(tenant_a.schema_name):
            reindex = IndexingJob.objects.filter(kind="reindex").get()
            wait_until(lambda: IndexingJob.objects.get(pk=reindex.pk).status == "finished", timeout=120,
                       message="re-index job finished")
            reindex.refresh_from_db()
            assert (reindex.total, reindex.done, reindex.failed) == (5, 5, 0)
        status = io.StringIO()
        call_command("kb", "status", "--tenant", tenant_a.schema_name, stdout=status)
        assert "5 ready" in status.getvalue() and "1 failed" in status.getvalue()
    finally:
        worker.stop()


def test_a_source_whose_indexing_task_fails_for_good_is_counted_and_its_bulk_job_finishes(
        tenant_a, faq_file, settings) -> None:
    with FakeOpenAIServer() as fake:
        settings.EMBEDDING_API_KEY = "sk-test"
        settings.EMBEDDING_BASE_URL = fake.base_url
        with schema_context(tenant_a.schema_name):
            report = services.kb_import_path(path=faq_file)
            services.sources_index_now(source_ids=report.to_index)
            # One answer changes: re-indexing needs a new vector for it; the other four keep theirs.
            faq_file.write_text(BIKE_FAQ.replace("12 euros a day", "15 euros a day"), encoding="utf-8")
            services.kb_import_path(path=faq_file)
            rental = KnowledgeSource.objects.get(title="Can I rent a bike?")
            job = services.kb_reindex(background=True)
        # The endpoint refuses that vector on the first try and both retries (test settings).
        fake.script_reply(endpoint="embeddings", status=400, error_message="input rejected", times=3)

        worker = Worker(queues="low", env=child_env(EMBEDDING_API_KEY="sk-test", EMBEDDING_BASE_URL=fake.base_url))
        try:
            with schema_context(tenant_a.schema_name):
                wait_until(lambda: IndexingJob.objects.get(pk=job.pk).status != "running", timeout=120,
                           message="re-index job ended")
                job.refresh_from_db()
                assert (job.status, job.total, job.done, job.failed) == ("finished_with_failures", 5, 4, 1)
                assert job.finished is not None
                rental.refresh_from_db()
                assert rental.status == "failed"
                assert rental.error.startswith("Indexing failed after 3 attempts: EmbeddingFailed: ")
                assert "input rejected" in rental.error
                assert job.items.get(source=rental).error == rental.error
                assert KnowledgeSource.objects.exclude(pk=rental.pk).filter(status="ready").count() == 4
                status = io.StringIO()
                call_command("kb", "status", "--tenant", tenant_a.schema_name, stdout=status)
                assert f"Job {job.pk} reindex: 5/5 (1 failed) finished with failures" in status.getvalue()
                assert f"#{rental.pk} Can I rent a bike?: Indexing failed after 3 attempts" in status.getvalue()
            assert fake.pending_scripts("embeddings") == 0
            letter = DeadLetter.objects.get(task_name="chat.knowledge.tasks.kb_reindex_source",
                                            schema_name=tenant_a.schema_name)
            assert letter.args == [rental.pk, job.pk] and letter.attempts == 3

            # The endpoint is fine again: replaying the dead letter indexes the source, and the job
            # counts it as done instead of failed (never twice).
            call_command("deadletters", "replay", str(letter.pk), stdout=io.StringIO())
            with schema_context(tenant_a.schema_name):
                wait_until(lambda: IndexingJob.objects.get(pk=job.pk).status == "finished", timeout=60,
                           message="replayed source counted")
                job.refresh_from_db()
                assert (job.total, job.done, job.failed) == (5, 5, 0)
                rental.refresh_from_db()
                assert rental.status == "ready" and rental.error == ""
                assert "15 euros a day" in rental.chunks.get(role="qa").content
        finally:
            worker.stop()
