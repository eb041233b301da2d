"""The demo tenants' knowledge base: imported, searchable, and loading it again changes nothing."""

from __future__ import annotations

from django_tenants.utils import schema_context

from chat.knowledge.demo import load_demo
from chat.knowledge.models import KnowledgeChunk, KnowledgeSource
from chat.knowledge.selectors import kb_search
from tenants.demo import FIXTURES


def test_demo_loader_imports_faq_and_pages_idempotently(tenant_a) -> None:
    with schema_context(tenant_a.schema_name):
        load_demo(tenant=tenant_a, fixtures=FIXTURES / "shop")
        assert KnowledgeSource.objects.filter(kind="page").count() == 3
        assert KnowledgeSource.objects.filter(kind="faq").count() >= 30
        assert set(KnowledgeSource.objects.values_list("status", flat=True)) == {"ready"}
        before = list(KnowledgeChunk.objects.order_by("pk").values_list("pk", flat=True))

        load_demo(tenant=tenant_a, fixtures=FIXTURES / "shop")
        assert list(KnowledgeChunk.objects.order_by("pk").values_list("pk", flat=True)) == before
        titles = [result.title for result in kb_search(query="can i send my jeans back", k=3)]
        assert "What is your return policy?" in titles
