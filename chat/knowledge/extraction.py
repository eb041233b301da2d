"""Turning bytes into plain text we trust: sniff what a file really is, decode it, strip markup.

Markup never reaches the database: HTML becomes text with Markdown-style headings, DOCX paragraphs
become lines (headings keep their level), PDF pages become their text layer.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import PurePath
from xml.etree import ElementTree

from chat.knowledge.exceptions import ExtractionFailed, ImportRejected

TEXT_FORMATS = ("markdown", "text", "html")
EXTENSION_FORMATS = {
    ".md": "markdown", ".markdown": "markdown", ".txt": "text", ".text": "text",
    ".html": "html", ".htm": "html", ".pdf": "pdf", ".docx": "docx", ".csv": "csv",
}
# Signatures of binary formats we recognise only to name them in an error.
OTHER_SIGNATURES = [
    (b"\x89PNG\r\n\x1a\n", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image"),
    (b"\x7fELF", "a program (ELF)"), (b"MZ", "a Windows program"), (b"\x1f\x8b", "a gzip archive"),
    (b"Rar!", "a RAR archive"), (b"7z\xbc\xaf", "a 7-Zip archive"), (b"\xd0\xcf\x11\xe0", "an old Office file (.doc/.xls)"),
    (b"RIFF", "audio or video"), (b"ID3", "an MP3 file"), (b"OggS", "audio (Ogg)"),
]
FORMAT_NAMES = {"pdf": "PDF", "docx": "Word (DOCX)", "csv": "CSV", "markdown": "Markdown", "text": "text",
                "html": "HTML"}
# A DOCX whose document part inflates beyond this is refused (a zip bomb, not a document).
MAX_DOCX_XML_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class ExtractedDocument:
    title: str
    text: str


def format_for_filename(filename: str) -> str:
    suffix = PurePath(filename).suffix.lower()
    document_format = EXTENSION_FORMATS.get(suffix)
    if document_format is None:
        supported = ", ".join(sorted(EXTENSION_FORMATS))
        raise ImportRejected(f"'{filename}': files of type '{suffix or 'without extension'}' are not supported "
                             f"(supported: {supported}).", code="kb_unsupported_type")
    return document_format


def sniff_binary(data: bytes) -> str | None:
    """'pdf', 'docx', a description of another binary format, or None for (probably) text."""
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                return "docx" if "word/document.xml" in archive.namelist() else "a zip archive"
        except zipfile.BadZipFile:
            return "a damaged zip archive"
    for signature, description in OTHER_SIGNATURES:
        if data.startswith(signature):
            return description
    return None


def check_content_matches(*, filename: str, data: bytes) -> str:
    """The file's format, after checking its bytes agree with its extension. Raises ImportRejected."""
    claimed = format_for_filename(filename)
    if not data:
        raise ImportRejected(f"'{filename}' is empty.", code="kb_empty_file")
    actual = sniff_binary(data[:8192] if not data.startswith(b"PK\x03\x04") else data)
    if claimed in ("pdf", "docx"):
        if actual != claimed:
            found = FORMAT_NAMES.get(actual or "", actual) if actual else "text"
            raise ImportRejected(f"'{filename}' is named like a {FORMAT_NAMES[claimed]} file but its content is "
                                 f"{found}.", code="kb_type_mismatch")
        return claimed
    if actual is not None:
        found = FORMAT_NAMES.get(actual, actual)
        raise ImportRejected(f"'{filename}' is named like a {FORMAT_NAMES[claimed]} file but its content is {found}.",
                             code="kb_type_mismatch")
    return claimed


def decode_text(data: bytes, *, name: str) -> str:
    """UTF-8 (with or without BOM) or UTF-16 with a BOM; anything else is refused with where it broke."""
    if data.startswith(codecs.BOM_UTF16_LE) or data.startswith(codecs.BOM_UTF16_BE):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise ExtractionFailed(f"'{name}' says it is UTF-16 but is not valid UTF-16.",
                                   code="kb_bad_encoding") from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ExtractionFailed(
            f"'{name}' is not valid UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}); save it as UTF-8 "
            "and import it again.", code="kb_bad_encoding") from exc
    if "\x00" in text:
        raise ExtractionFailed(f"'{name}' contains binary data, not text.", code="kb_bad_encoding")
    return text


# ------------------------------------------------------------------------------------------ HTML


class _HTMLText(HTMLParser):
    """Keeps readable text and heading structure; drops scripts, styles and everything invisible."""

    SKIPPED = {"script", "style", "noscript", "template", "iframe", "object", "svg", "canvas", "head", "nav",
               "footer", "form", "button", "select"}
    BLOCKS = {"p", "div", "section", "article", "main", "header", "li", "ul", "ol", "tr", "table", "br",
              "blockquote", "pre", "dd", "dt", "dl", "hr", "figure", "figcaption", "address"}
    VOID = {"br", "hr", "img", "input", "meta", "link", "area", "base", "col", "embed", "source", "track", "wbr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip_depth = 0
        self.title_parts: list[str] = []
        self.in_title = False
        self.heading_level = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self.in_title = True
        if tag in self.SKIPPED and tag not in self.VOID:
            self.skip_depth += 1
            return
        if self.skip_depth:
            return
        if re.fullmatch(r"h[1-6]", tag):
            self.heading_level = int(tag[1])
            self.parts.append("\n\n" + "#" * self.heading_level + " ")
        elif tag in self.BLOCKS:
            self.parts.append("\n\n" if tag not in ("br", "li", "tr") else "\n")
        elif tag in ("td", "th"):
            self.parts.append(" | ")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
        if tag in self.SKIPPED and tag not in self.VOID:
            self.skip_depth = max(0, self.skip_depth - 1)
            return
        if self.skip_depth:
            return
        if re.fullmatch(r"h[1-6]", tag):
            self.heading_level = 0
            self.parts.append("\n\n")
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title_parts.append(data)
            return
        if self.skip_depth:
            return
        text = re.sub(r"\s+", " ", data)
        if self.heading_level:
            text = text.replace("\n", " ")
        self.parts.append(text)


def html_to_text(html: str) -> ExtractedDocument:
    parser = _HTMLText()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts)
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in text.splitlines()]
    cleaned = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    cleaned = re.sub(r"^(#{1,6}) *$", "", cleaned, flags=re.MULTILINE).strip()
    return ExtractedDocument(title=" ".join("".join(parser.title_parts).split()), text=cleaned)


# ------------------------------------------------------------------------------------- PDF, DOCX


def pdf_to_text(data: bytes, *, name: str) -> str:
    import logging

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise ExtractionFailed(f"'{name}' is a password-protected PDF; remove the protection and import it again.",
                                   code="kb_pdf_encrypted")
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
    except ExtractionFailed:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise ExtractionFailed(f"'{name}' is not a readable PDF ({exc}).", code="kb_pdf_broken") from exc
    text = "\n\n".join(page for page in pages if page)
    if not re.search(r"\w", text):
        raise ExtractionFailed(
            f"'{name}' has no text layer (a scanned or image-only PDF); export it with text, or paste its "
            "content as a page.", code="kb_pdf_no_text")
    return text


_WORD_NAMESPACE = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def docx_to_text(data: bytes, *, name: str) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            info = archive.getinfo("word/document.xml")
            if info.file_size > MAX_DOCX_XML_BYTES:
                raise ExtractionFailed(f"'{name}' is too large once unpacked.", code="kb_docx_too_large")
            root = ElementTree.fromstring(archive.read(info))
    except ExtractionFailed:
        raise
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError) as exc:
        raise ExtractionFailed(f"'{name}' is not a readable Word document ({exc}).", code="kb_docx_broken") from exc
    lines: list[str] = []
    for paragraph in root.iter(f"{_WORD_NAMESPACE}p"):
        pieces: list[str] = []
        for node in paragraph.iter():
            if node.tag == f"{_WORD_NAMESPACE}t" and node.text:
                pieces.append(node.text)
            elif node.tag in (f"{_WORD_NAMESPACE}tab",):
                pieces.append(" ")
            elif node.tag in (f"{_WORD_NAMESPACE}br", f"{_WORD_NAMESPACE}cr"):
                pieces.append("\n")
        text = "".join(pieces).strip()
        if not text:
            continue
        style = paragraph.find(f"{_WORD_NAMESPACE}pPr/{_WORD_NAMESPACE}pStyle")
        style_name = (style.get(f"{_WORD_NAMESPACE}val") or "") if style is not None else ""
        heading = re.match(r"(?i)^(?:heading|kop)\s*([1-6])$", style_name)
        if heading:
            lines.append("#" * int(heading.group(1)) + " " + text)
        elif style_name.lower() == "title":
            lines.append("# " + text)
        else:
            lines.append(text)
    text = "\n\n".join(lines)
    if not re.search(r"\w", text):
        raise ExtractionFailed(f"'{name}' has no text.", code="kb_empty_document")
    return text


def document_to_text(*, data: bytes, document_format: str, name: str) -> ExtractedDocument:
    """Plain text (Markdown headings kept) and a title, if the document names one."""
    if document_format == "pdf":
        return ExtractedDocument(title="", text=pdf_to_text(data, name=name))
    if document_format == "docx":
        return ExtractedDocument(title="", text=docx_to_text(data, name=name))
    decoded = decode_text(data, name=name)
    if document_format == "html":
        document = html_to_text(decoded)
    else:
        document = ExtractedDocument(title="", text=decoded.replace("\r\n", "\n").replace("\r", "\n").strip())
    if not re.search(r"\w", document.text):
        raise ExtractionFailed(f"'{name}' has no text.", code="kb_empty_document")
    return document


def looks_like_html(text: str) -> bool:
    head = text.lstrip()[:500].lower()
    return head.startswith("<!doctype html") or head.startswith("<html") or "<body" in head


# ------------------------------------------------------------------------------------------- FAQ


@dataclass(frozen=True)
class FaqRow:
    line: int
    question: str
    answer: str
    variants: list[str]


VARIANT_SEPARATOR = " | "


def split_variants(value: str) -> list[str]:
    seen: set[str] = set()
    variants: list[str] = []
    for piece in value.split("|"):
        cleaned = " ".join(piece.split())
        if cleaned and cleaned.lower() not in seen:
            seen.add(cleaned.lower())
            variants.append(cleaned)
    return variants


def parse_faq_csv(text: str, *, name: str) -> list[FaqRow]:
    """Rows of a `question,answer[,variants]` CSV; any problem raises ImportRejected naming the line."""
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise ImportRejected(f"'{name}' is empty.", code="kb_empty_file") from None
    except csv.Error as exc:
        raise ImportRejected(f"'{name}' line 1: {exc}.", code="kb_bad_csv") from exc
    columns = [column.strip().lower() for column in header]
    missing = [column for column in ("question", "answer") if column not in columns]
    if missing:
        raise ImportRejected(
            f"'{name}' line 1: the header must have the columns question,answer (and optionally variants); "
            f"missing: {', '.join(missing)}.", code="kb_bad_csv")
    position = {column: columns.index(column) for column in ("question", "answer", "variants") if column in columns}
    rows: list[FaqRow] = []
    seen_questions: dict[str, int] = {}
    try:
        for record in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in record):
                continue
            if len(record) <= max(position["question"], position["answer"]):
                raise ImportRejected(f"'{name}' line {line}: expected {len(columns)} columns, found {len(record)}.",
                                     code="kb_bad_csv")
            question = " ".join(record[position["question"]].split())
            answer = record[position["answer"]].strip()
            if not question or not answer:
                field = "question" if not question else "answer"
                raise ImportRejected(f"'{name}' line {line}: the {field} is empty.", code="kb_bad_csv")
            duplicate = seen_questions.get(question.lower())
            if duplicate:
                raise ImportRejected(f"'{name}' line {line}: the same question is already on line {duplicate}.",
                                     code="kb_bad_csv")
            seen_questions[question.lower()] = line
            variants_cell = record[position["variants"]] if "variants" in position and len(record) > position["variants"] else ""
            variants = [variant for variant in split_variants(variants_cell) if variant.lower() != question.lower()]
            rows.append(FaqRow(line=line, question=question, answer=answer, variants=variants))
    except csv.Error as exc:
        raise ImportRejected(f"'{name}' line {reader.line_num}: {exc}.", code="kb_bad_csv") from exc
    if not rows:
        raise ImportRejected(f"'{name}' has a header but no questions.", code="kb_empty_file")
    return rows
