"""Bad input gets a clear error on that item; nothing is partly imported; other sources go on."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django_tenants.utils import schema_context

from chat.knowledge import chunking, services
from chat.knowledge.exceptions import ImportRejected
from chat.knowledge.models import KnowledgeChunk, KnowledgeSource
from chat.knowledge.selectors import kb_search

from .conftest import docx_with, pdf_with_text, pdf_without_text

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def import_folder(folder: Path) -> services.ImportReport:
    report = services.kb_import_path(path=folder)
    services.sources_index_now(source_ids=report.to_index)
    return report


def test_a_folder_of_bad_files_reports_each_and_imports_the_good_ones(tenant_a, tmp_path, settings) -> None:
    settings.KB_MAX_FILE_BYTES = 10 * 1024 * 1024
    files = {
        "empty.txt": b"",
        "huge.pdf": None,  # 200 MB sparse file: refused by its size, never read
        "scan.pdf": pdf_without_text(),
        "photo.pdf": PNG,
        "notes.txt": pdf_with_text("Hello"),
        "latin1.txt": "Caf\u00e9 au lait".encode("latin-1"),
        "columns.csv": b"q,a\nHi,Hello\n",
        "short-row.csv": b"question,answer\nDo you deliver?,Yes\nOnly a question\n",
        "data.json": b"{}",
        "good.md": b"# Delivery\n\nWe deliver bikes within 10 km of the shop for 15 euros.\n",
        "manual.pdf": pdf_with_text("Pump tyres to four bar before every ride"),
        "guide.docx": docx_with([("Heading1", "Saddle height"), ("", "Set the saddle at hip height.")]),
    }
    for name, data in files.items():
        if data is None:
            with open(tmp_path / name, "wb") as handle:
                handle.truncate(200 * 1024 * 1024)
        else:
            (tmp_path / name).write_bytes(data)

    with schema_context(tenant_a.schema_name):
        report = import_folder(tmp_path)
        errors = dict(report.errors)
        assert errors["empty.txt"] == "'empty.txt' is empty."
        assert "200.0 MB; the limit is 10 MB" in errors["huge.pdf"]
        assert "named like a PDF file but its content is a PNG image" in errors["photo.pdf"]
        assert "named like a text file but its content is PDF" in errors["notes.txt"]
        assert "not valid UTF-8 text (byte 0xe9 on line 1)" in errors["latin1.txt"]
        assert "line 1" in errors["columns.csv"] and "missing: question, answer" in errors["columns.csv"]
        assert "line 3" in errors["short-row.csv"]
        assert "not supported" in errors["data.json"]
        assert not KnowledgeSource.objects.filter(kind="faq").exists()  # no row of a bad CSV got in

        scan = KnowledgeSource.objects.get(filename="scan.pdf")
        assert scan.status == "failed" and "no text layer" in scan.error and not scan.chunks.exists()
        ready = set(KnowledgeSource.objects.filter(status="ready").values_list("filename", flat=True))
        assert ready == {"good.md", "manual.pdf", "guide.docx"}
        assert kb_search(query="how much is delivery", k=1)[0].title == "Delivery"
        assert kb_search(query="tyre pressure", k=1)[0].content.startswith("Pump tyres to four bar")
        guide = KnowledgeSource.objects.get(filename="guide.docx")
        assert guide.title == "Saddle height" and "Set the saddle at hip height." in guide.body


def test_html_is_stored_as_text_without_scripts_or_markup(tenant_a, tmp_path) -> None:
    (tmp_path / "page.html").write_text(
        "<html><head><title>Warranty</title><script>alert('owned')</script><style>p{color:red}</style></head>"
        "<body><nav>Home | Shop</nav><h1>Warranty</h1><p>Frames carry a <b>lifetime</b> warranty.</p>"
        "<script>document.cookie</script><p onclick=\"evil()\">Parts: two years.</p></body></html>",
        encoding="utf-8",
    )
    with schema_context(tenant_a.schema_name):
        import_folder(tmp_path)
        source = KnowledgeSource.objects.get(filename="page.html")
        stored = source.body + "".join(source.chunks.values_list("content", flat=True))
        assert "lifetime warranty" in source.body and "Parts: two years." in source.body
        for forbidden in ("<", ">", "alert", "document.cookie", "color:red", "evil", "Home | Shop"):
            assert forbidden not in stored


def test_csv_with_an_empty_answer_names_the_line_and_imports_nothing(tenant_a) -> None:
    csv_text = "question,answer\nDo you deliver?,Yes\nDo you repair?,\n"
    with schema_context(tenant_a.schema_name):
        with pytest.raises(ImportRejected, match="line 3: the answer is empty"):
            services.file_import(name="faq.csv", data=csv_text.encode())
        assert KnowledgeSource.objects.count() == 0


# ------------------------------------------------------------------------------------- web pages


class _Site(BaseHTTPRequestHandler):
    release = threading.Event()
    redirect_target = ""

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/page":
            body = (b"<html><head><title>Bike storage</title></head><body><h1>Bike storage</h1>"
                    b"<p>We store bikes over winter for 40 euros a month.</p><script>x()</script></body></html>")
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", type(self).redirect_target)
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/slow":
            type(self).release.wait(timeout=30)
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()


@contextlib.contextmanager
def local_site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    server.daemon_threads = True
    _Site.release.clear()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        _Site.release.set()
        server.shutdown()
        server.server_close()


def index_url(url: str) -> KnowledgeSource:
    report = services.url_import(url=url)
    services.sources_index_now(source_ids=report.to_index)
    return KnowledgeSource.objects.get(pk=report.to_index[0])


def test_a_web_page_is_fetched_stripped_and_searchable(tenant_a, settings) -> None:
    settings.EGRESS_ALLOWED_NETWORKS = ["127.0.0.1"]  # the test site is on loopback
    with local_site() as site, schema_context(tenant_a.schema_name):
        source = index_url(f"{site}/page")
        assert source.status == "ready" and source.title == "Bike storage"
        assert "x()" not in source.body and "<" not in source.body
        result = kb_search(query="winter bike storage price", k=1)[0]
        assert result.title == "Bike storage" and result.url == f"{site}/page" and result.kind == "url"


def test_a_url_on_a_private_or_loopback_address_is_refused(tenant_a, settings) -> None:
    assert not settings.EGRESS_ALLOWED_NETWORKS  # the egress guard allows nothing private by default
    with local_site() as site, schema_context(tenant_a.schema_name):
        for url in (f"{site}/page", "http://localhost/admin", "http://10.0.0.8/", "http://169.254.169.254/latest/",
                    "http://[::1]/", "http://0.0.0.0/"):
            source = index_url(url)
            assert source.status == "failed", url
            assert "private or local address" in source.error
            assert not source.chunks.exists()
        assert not KnowledgeChunk.objects.exists()


def test_a_redirect_to_a_private_address_is_refused_at_that_hop(tenant_a, settings) -> None:
    # The first host is trusted by name (an allow-listed intranet host); the hop it redirects to is not.
    settings.EGRESS_ALLOWED_NETWORKS = ["localhost"]
    with local_site() as site, schema_context(tenant_a.schema_name):
        port = site.rsplit(":", 1)[1]
        _Site.redirect_target = f"http://127.0.0.1:{port}/page"
        source = index_url(f"http://localhost:{port}/redirect")
        assert source.status == "failed"
        assert "'127.0.0.1' points to a private or local address" in source.error
        allowed = index_url(f"http://localhost:{port}/page")  # the allow-listed host itself works
        assert allowed.status == "ready"


def test_a_url_that_times_out_fails_with_the_reason_and_others_are_unaffected(tenant_a, settings, faq_file) -> None:
    settings.EGRESS_ALLOWED_NETWORKS = ["127.0.0.1"]
    settings.KB_URL_TIMEOUT_SECONDS = 0.5
    with local_site() as site, schema_context(tenant_a.schema_name):
        report = services.kb_import_path(path=faq_file)
        slow = services.url_import(url=f"{site}/slow")
        services.sources_index_now(source_ids=slow.to_index + report.to_index)
        source = KnowledgeSource.objects.get(pk=slow.to_index[0])
        assert source.status == "failed" and "did not answer within 0.5 seconds" in source.error
        assert KnowledgeSource.objects.filter(kind="faq", status="ready").count() == 5


@pytest.mark.parametrize("line", ["# a" + " " * 1500 + "b", "## a" + "\t" * 1500 + "b", "# " + "#" * 1500 + "b"])
def test_a_long_heading_line_keeps_its_title(line: str) -> None:
    # The heading pattern backtracked cubically on such lines: bench/hostile_text.py times them.
    assert chunking.first_heading(line) == line.lstrip("#").strip()
    assert chunking.document_chunks(title="T", text=line + "\n\nBody.")[0].heading == line.lstrip("#").strip()[:500]


@pytest.mark.parametrize(("line", "title"), [
    ("# Returns ##", "Returns"), ("## C#", "C"), ("# a # b #  ", "a # b"), ("# ###", "#"), ("#  \t ", ""),
    ("### Opening hours", "Opening hours"),
])
def test_heading_titles_lose_their_closing_hashes(line: str, title: str) -> None:
    assert chunking.first_heading(line) == title
