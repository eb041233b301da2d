"""Splitting sources into the pieces that are embedded and searched.

An FAQ entry becomes one chunk for its question, one per alternative phrasing and one for question
and answer together: a customer's words are compared with each way of asking, and with the whole.
A document is split along its headings, then paragraphs packed up to a target size; a passage that
continues a section repeats the end of the one before it, so a sentence that answers a question is
never cut off from its context. Every passage is embedded with its document title and heading path.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

ROLE_QUESTION = "question"
ROLE_PHRASING = "phrasing"
ROLE_QUESTION_ANSWER = "qa"
ROLE_PASSAGE = "passage"


@dataclass(frozen=True)
class ChunkDraft:
    role: str
    text: str  # what is embedded
    content: str  # what a reader is shown
    heading: str = ""
    # Full-text fields: `search_title` weighs more than `search_body`; both empty means no text index.
    search_title: str = ""
    search_body: str = ""
    content_hash: str = field(default="", compare=False)

    def with_hash(self) -> ChunkDraft:
        digest = hashlib.sha256(
            "\x1f".join((self.role, self.text, self.content, self.heading, self.search_title, self.search_body)).encode()
        ).hexdigest()
        return ChunkDraft(self.role, self.text, self.content, self.heading, self.search_title, self.search_body, digest)


def faq_chunks(*, question: str, answer: str, variants: list[str]) -> list[ChunkDraft]:
    drafts = [ChunkDraft(role=ROLE_QUESTION, text=question, content=answer)]
    drafts += [ChunkDraft(role=ROLE_PHRASING, text=variant, content=answer) for variant in variants]
    drafts.append(ChunkDraft(
        role=ROLE_QUESTION_ANSWER, text=f"{question}\n{answer}", content=answer,
        search_title=" ".join([question, *variants]), search_body=answer,
    ))
    return [draft.with_hash() for draft in drafts]


# The title's closing hashes and spaces are stripped by _heading_title, not by the pattern: a lazy
# title followed by \s*#*\s*$ backtracked cubically on a long heading line with a run of spaces
# (minutes for one 4,000-character line).
_HEADING = re.compile(r"^(#{1,6})\s+(.+)$")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


def _heading_title(raw: str) -> str:
    """What the pattern r"(.+?)\\s*#*\\s*$" used to capture, stripped: the title without its closing hashes."""
    return (raw.rstrip().rstrip("#").rstrip() or raw[:1]).strip()


@dataclass
class _Section:
    path: list[str]
    paragraphs: list[str]


def _sections(text: str) -> list[_Section]:
    sections: list[_Section] = [_Section(path=[], paragraphs=[])]
    stack: list[tuple[int, str]] = []
    paragraph: list[str] = []

    def close_paragraph() -> None:
        if paragraph:
            sections[-1].paragraphs.append("\n".join(paragraph).strip())
            paragraph.clear()

    for line in text.splitlines():
        heading = _HEADING.match(line)
        if heading:
            close_paragraph()
            level, title = len(heading.group(1)), _heading_title(heading.group(2))
            stack = [(depth, name) for depth, name in stack if depth < level] + [(level, title)]
            sections.append(_Section(path=[name for _depth, name in stack], paragraphs=[]))
        elif not line.strip():
            close_paragraph()
        else:
            paragraph.append(line.rstrip())
    close_paragraph()
    return [section for section in sections if section.paragraphs]


def _split_long(paragraph: str, limit: int) -> list[str]:
    """A paragraph longer than `limit`: split between sentences (or lines, or words as a last resort)."""
    if len(paragraph) <= limit:
        return [paragraph]
    pieces = _SENTENCE_END.split(paragraph) if "\n" not in paragraph else paragraph.split("\n")
    result: list[str] = []
    current = ""
    for piece in pieces:
        while len(piece) > limit:  # a single enormous "sentence": cut at a space
            cut = piece.rfind(" ", 0, limit)
            cut = cut if cut > limit // 2 else limit
            if current:
                result.append(current)
                current = ""
            result.append(piece[:cut].strip())
            piece = piece[cut:].strip()
        joiner = "\n" if "\n" in paragraph else " "
        if current and len(current) + len(piece) + 1 > limit:
            result.append(current)
            current = piece
        else:
            current = f"{current}{joiner}{piece}" if current else piece
    if current:
        result.append(current)
    return result


def _overlap_tail(passage: str, overlap: int) -> str:
    """The end of a passage, from a sentence or line start, at most about `overlap` characters."""
    if overlap <= 0 or len(passage) <= overlap:
        return "" if overlap <= 0 else passage
    tail = passage[-overlap:]
    boundary = max(tail.find(". ") + 2 if ". " in tail else -1, tail.find("\n") + 1 if "\n" in tail else -1)
    if boundary > 0:
        return tail[boundary:].strip()
    space = tail.find(" ")
    return tail[space + 1:].strip() if space >= 0 else tail


def document_chunks(*, title: str, text: str, target: int = 700, maximum: int = 1000,
                    overlap: int = 150) -> list[ChunkDraft]:
    drafts: list[ChunkDraft] = []
    for section in _sections(text):
        heading = " > ".join(section.path)
        pieces = [piece for paragraph in section.paragraphs for piece in _split_long(paragraph, maximum)]
        passages: list[str] = []
        current = ""
        for piece in pieces:
            if current and len(current) + len(piece) + 2 > target:
                passages.append(current)
                tail = _overlap_tail(current, overlap)
                current = f"{tail}\n\n{piece}" if tail and len(tail) + len(piece) + 2 <= maximum else piece
            else:
                current = f"{current}\n\n{piece}" if current else piece
        if current:
            passages.append(current)
        context = " — ".join(part for part in (title, heading) if part)
        for passage in passages:
            drafts.append(ChunkDraft(
                role=ROLE_PASSAGE,
                text=f"{context}\n{passage}" if context else passage,
                content=passage,
                heading=heading[:500],
                search_title=f"{title} {heading}".strip(),
                search_body=passage,
            ).with_hash())
    return drafts


def first_heading(text: str) -> str:
    for line in text.splitlines():
        heading = _HEADING.match(line)
        if heading:
            return _heading_title(heading.group(2))
        if line.strip():
            break
    return ""


def content_hash(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
