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
