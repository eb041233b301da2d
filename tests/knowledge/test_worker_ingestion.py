"""Ingestion in the background, through a real Celery worker, with status and bulk progress."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django_tenants.utils import schema_context

from chat.knowledge.selectors import kb_search
from chat.models import IndexingJob, KnowledgeSource
from config.celery import app
from config.redis import redis_client
from tests.support.processes import Worker, wait_until


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
            wait_until(lambda: IndexingJob.objects.get(pk=job.pk).status == "finished", timeout=120,
                       message="import job finished")
            job.refresh_from_db()
            assert (job.done, job.failed) == (5, 1)
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
