"""The kb ops command: import with a progress bar, search (--json, --queries-file), eval."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("kb", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def imported(tenant_a, faq_file) -> str:
    out, err = run("import", str(faq_file), "--tenant", tenant_a.schema_name)
    assert "Imported: 5 new, 0 changed, 0 unchanged" in out and "Indexed 5, failed 0" in out
    assert "Indexing [##############################] 5/5" in err
    return tenant_a.schema_name


def test_search_json_gives_results_with_sources_and_scores(imported) -> None:
    out, _ = run("search", "when is my bike fixed", "--tenant", imported, "--k", "3", "--json")
    payload = json.loads(out)
    assert payload["query"] == "when is my bike fixed"
    first = payload["results"][0]
    assert first["title"] == "How long does a repair take?" and first["kind"] == "faq"
    assert 0 < first["score"] <= 1 and isinstance(first["source_id"], int) and first["snippet"]
    assert len(payload["results"]) == 3


def test_queries_file_prints_one_json_object_per_line(imported, tmp_path) -> None:
    queries = tmp_path / "queries.txt"
    queries.write_text("rent a bike\n\nused bikes\nare you open sunday\n", encoding="utf-8")
    out, _ = run("search", "--queries-file", str(queries), "--tenant", imported, "--k", "2")
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["query"] for line in lines] == ["rent a bike", "used bikes", "are you open sunday"]
    assert lines[0]["results"][0]["title"] == "Can I rent a bike?"
    assert set(lines[1]["results"][0]) == {"source_id", "title", "score"}


def test_eval_prints_top1_top3_mrr_and_the_misses(imported, tmp_path) -> None:
    cases = tmp_path / "eval.csv"
    cases.write_text(
        "query,expected\n"
        "can I hire a bike,Can I rent a bike?\n"
        "e-bike battery dead,Do you fix electric bikes?\n"
        "opening hours,Do you sell second-hand bikes?\n"  # labelled wrong on purpose: a miss
        "what's the weather like on mars,\n",
        encoding="utf-8",
    )
    out, _ = run("eval", str(cases), "--tenant", imported, "--show-misses")
    assert "queries 3  top-1 0.667  top-3" in out and "MRR" in out
    assert "out-of-scope queries 1" in out
    assert "MISS 'opening hours': expected 'Do you sell second-hand bikes?'" in out
    assert "got 'What are your opening hours?'" in out


def test_import_reports_refused_files_and_fails_the_command(tenant_a, tmp_path) -> None:
    (tmp_path / "empty.md").write_bytes(b"")
    with pytest.raises(CommandError, match="1 item"):
        run("import", str(tmp_path), "--tenant", tenant_a.schema_name)
    with pytest.raises(CommandError, match="There is no tenant 'nobody'"):
        run("search", "x", "--tenant", "nobody")


KENNEL_FAQ = """question,answer,variants
Can my dog stay overnight?,"Dogs can board in our kennel from one night to three weeks, with two walks a day.",dog boarding | overnight kennel
Do you groom cats?,"We groom cats on Tuesdays; book at least a week ahead.",cat grooming | cat haircut
"""


def test_reindex_all_tenants_reindexes_each_tenant_in_its_own_schema(make_tenant, faq_file, tmp_path,
                                                                     monkeypatch) -> None:
    from django_tenants.utils import schema_context

    import tenants.selectors
    from chat.knowledge.models import IndexingJob, KnowledgeChunk
    from chat.knowledge.selectors import kb_search
    from tenants.services import tenant_set_status

    bikes, kennel, suspended = (make_tenant(name=name).tenant for name in ("Bikes", "Kennel", "Suspended"))
    kennel_file = tmp_path / "kennel.csv"
    kennel_file.write_text(KENNEL_FAQ, encoding="utf-8")
    for tenant, path in ((bikes, faq_file), (kennel, kennel_file), (suspended, kennel_file)):
        run("import", str(path), "--tenant", tenant.schema_name)
    tenant_set_status(slug=suspended.schema_name, status="suspended")

    def chunks() -> set[tuple[str, str]]:
        return set(KnowledgeChunk.objects.values_list("source__title", "content_hash"))

    before = {}
    for tenant in (bikes, kennel, suspended):
        with schema_context(tenant.schema_name):
            before[tenant.schema_name] = chunks()
    # The suite runs test files in parallel: other files' tenants must not be re-indexed under their
    # feet, so "all tenants" is the platform's real list of active tenants, narrowed to this test's.
    ours = {bikes.schema_name, kennel.schema_name, suspended.schema_name}
    every_active = tenants.selectors.active_tenant_schemas
    monkeypatch.setattr(tenants.selectors, "active_tenant_schemas",
                        lambda: [schema for schema in every_active() if schema in ours])

    out, err = run("reindex", "--all-tenants")

    assert f"{bikes.schema_name}:\nRe-indexed 5 sources, 0 failed." in out
    assert f"{kennel.schema_name}:\nRe-indexed 2 sources, 0 failed." in out
    assert suspended.schema_name not in out
    assert "Re-indexing [##############################] 5/5" in err
    assert "Re-indexing [##############################] 2/2" in err
    for tenant, sources in ((bikes, 5), (kennel, 2)):
        with schema_context(tenant.schema_name):
            job = IndexingJob.objects.get(kind="reindex")
            assert (job.status, job.total, job.done, job.failed) == ("finished", sources, sources, 0)
            # Re-chunked in place: the same chunks, in this tenant and no other.
            assert chunks() == before[tenant.schema_name]
    with schema_context(suspended.schema_name):
        assert not IndexingJob.objects.filter(kind="reindex").exists()
    with schema_context(bikes.schema_name):
        assert {result.title for result in kb_search(query="dog boarding overnight", k=5)} <= {
            title for title, _hash in before[bikes.schema_name]}
    with schema_context(kennel.schema_name):
        assert kb_search(query="can my dog sleep over", k=1)[0].title == "Can my dog stay overnight?"
        assert {result.title for result in kb_search(query="ebike repair", k=5)} <= {
            "Can my dog stay overnight?", "Do you groom cats?"}
