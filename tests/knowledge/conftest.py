"""Knowledge-base test helpers: a small FAQ of a bike shop, and files of every kind made on the spot."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

BIKE_FAQ = """question,answer,variants
How long does a repair take?,"Most repairs are done within two working days; a full service takes three.",how long for a fix | when will my bike be ready | repair turnaround time
Do you sell second-hand bikes?,"Yes, we sell checked and serviced second-hand bikes with a six-month warranty.",used bikes for sale | do u have cheap bikes | refurbished bicycles
What are your opening hours?,"We are open Monday to Saturday from 9:00 to 18:00 and closed on Sundays.",when are you open | opening times | are you open on sunday
Can I rent a bike?,"City bikes can be rented for 12 euros a day or 50 euros a week, helmet included.",bike hire | rent a bicycle for the weekend | how much is renting
Do you fix electric bikes?,"We repair e-bikes, including motors from Bosch and Shimano; battery repairs are sent to the maker.",ebike repair | can you fix my electric bicycle | motor broken on my e-bike
"""


@pytest.fixture
def faq_file(tmp_path: Path) -> Path:
    path = tmp_path / "faq.csv"
    path.write_text(BIKE_FAQ, encoding="utf-8")
    return path


def pdf_with_text(text: str) -> bytes:
    """A one-page PDF whose text layer says `text` (hand-built: pypdf reads it, nothing writes it)."""
    content = f"BT /F1 14 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(content)).encode() + b" >>\nstream\n" + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def pdf_without_text() -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=612, height=792)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def docx_with(paragraphs: list[tuple[str, str]]) -> bytes:
    """A minimal Word document: (style, text) paragraphs, style '' for body text."""
    namespace = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    body = "".join(
        f'<w:p>{f"<w:pPr><w:pStyle w:val={chr(34)}{style}{chr(34)}/></w:pPr>" if style else ""}'
        f"<w:r><w:t>{text}</w:t></w:r></w:p>"
        for style, text in paragraphs
    )
    document = f'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="{namespace}"><w:body>{body}</w:body></w:document>'
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        archive.writestr("word/document.xml", document)
    return out.getvalue()
