"""A lesson cut into passages: one section in one language, split when long, with overlap.

A passage never crosses a section: its heading says where in the lesson the learner should look.
Sections longer than ``MAX_WORDS`` are cut at sentence or list-item boundaries into pieces of at
most ``MAX_WORDS`` words, each new piece starting with the last ``OVERLAP_WORDS`` words' worth of
sentences of the previous one. The lesson's objectives form one more passage (``section = -1``).
Text is NFC and stripped of Markdown emphasis for matching and display.

What is split is a :class:`Document`: a ``tutor.content.library.Lesson`` is one, and so is a
``library.Page`` (a SQuAD paragraph, a benchmark's generated passage), which is not a lesson and
may be written in one language only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from tutor.answering.normalise import nfc
from tutor.content.library import LANGUAGES

MAX_WORDS = 160
OVERLAP_WORDS = 40
OBJECTIVES_SECTION = -1
_HEADINGS_OBJECTIVES = {"vi": "Mục tiêu bài học", "en": "Lesson objectives"}


class Localised(Protocol):
    """A text by language; empty (or None) for a language the document is not written in."""

    def get(self, lang: str, /) -> str | None: ...


class LocalisedList(Protocol):
    def get(self, lang: str, /) -> Sequence[str] | None: ...


class DocumentSection(Protocol):
    @property
    def heading(self) -> Localised: ...

    @property
    def body(self) -> Localised: ...


class Document(Protocol):
    """What the index reads of a lesson, so that texts that are not lessons can be indexed too."""

    @property
    def id(self) -> str: ...

    @property
    def skills(self) -> Sequence[str]: ...

    @property
    def title(self) -> Localised: ...

    @property
    def objectives(self) -> LocalisedList: ...

    @property
    def sections(self) -> Sequence[DocumentSection]: ...


@dataclass(frozen=True)
class Passage:
    lesson_id: str
    lang: str
    section: int  # index in lesson.sections, -1 for the objectives
    chunk: int  # piece of that section, from 0
    title: str
    heading: str
    text: str
    skills: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.lesson_id}/{self.section}/{self.lang}/{self.chunk}"

    @property
    def index_text(self) -> str:
        """What is matched and embedded: title, heading and text (blank parts left out)."""
        head = ". ".join(p for p in (self.title, self.heading) if p)
        return f"{head}.\n{self.text}" if head else self.text


_EMPHASIS = re.compile(r"(\*\*|__|`)")
_ITALIC = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_HEADING_MARK = re.compile(r"^\s{0,3}#{1,6}\s+", re.MULTILINE)


def clean_markdown(text: str) -> str:
    text = _LINK.sub(r"\1", text)
    text = _EMPHASIS.sub("", text)
    text = _ITALIC.sub(r"\1", text)
    text = _HEADING_MARK.sub("", text)
    return nfc(text).strip()


_SENTENCE_END = re.compile(r"(?:(?<=[.!?…])|(?<=[.!?…][\"”»)]))\s+")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)])\s+")
_NUMBERED_ITEM = re.compile(r"^\s*\d{1,3}[.)]\s+")


def is_list_item(text: str) -> bool:
    """A bulleted ("- ", "* ", "• ") or numbered ("1. ", "2) ") list item: the one rule for the whole package."""
    return bool(_LIST_ITEM.match(text))


def is_numbered_item(text: str) -> bool:
    return bool(_NUMBERED_ITEM.match(text))


_LONE_QUOTE = re.compile(r'(?:^|(?<=\s))"(?=\s|$)')


def open_quote(text: str) -> bool:
    """True while a quotation opened in ``text`` is not yet closed (straight or curly quotes); a quote
    mark standing alone between spaces (a character being named: / \\ : " < >) opens nothing."""
    return _LONE_QUOTE.sub("", text).count('"') % 2 == 1 or text.count("“") > text.count("”")


def _split_sentences(para: str) -> list[str]:
    out: list[str] = []
    buf = ""
    for p in _SENTENCE_END.split(para):
        # Keep together: an abbreviation followed by a lower-case word ("v.v. và") and a quotation
        # whose closing mark is still to come ('"Tài khoản bị khóa. Bấm link." Đó là lừa đảo').
        if buf and (p[:1].islower() or open_quote(buf)):
            buf = f"{buf} {p}"
        else:
            if buf:
                out.append(buf)
            buf = p
    if buf:
        out.append(buf)
    return out


def sentences(text: str) -> list[str]:
    """Sentences and list items of a passage, in order. A list item is one unit, never split:
    "1. Mở ứng dụng. Chọn Cài đặt." stays whole, marker included."""
    out: list[str] = []
    for block in re.split(r"\n\s*\n", text):
        lines = [ln.strip() for ln in block.split("\n") if ln.strip()]
        # Join wrapped lines back together unless a line starts a list item.
        merged: list[str] = []
        for ln in lines:
            if merged and not is_list_item(ln):
                merged[-1] = f"{merged[-1]} {ln}"
            else:
                merged.append(ln)
        for para in merged:
            out += [para] if is_list_item(para) else _split_sentences(para)
    return [s for s in (x.strip() for x in out) if s]


def _n_words(s: str) -> int:
    return len(s.split())


def chunk_text(text: str, max_words: int = MAX_WORDS, overlap_words: int = OVERLAP_WORDS) -> list[str]:
    """Pieces of at most ``max_words`` words at sentence boundaries, overlapping by whole sentences."""
    units: list[str] = []
    for s in sentences(text):
        ws = s.split()
        if len(ws) <= max_words:
            units.append(s)
        else:  # one enormous sentence: cut it by words
            step = max(1, max_words - overlap_words)
            units += [" ".join(ws[i : i + max_words]) for i in range(0, len(ws), step)]
    if not units:
        return []
    pieces: list[list[str]] = [[]]
    count = 0
    for u in units:
        n = _n_words(u)
        if pieces[-1] and count + n > max_words:
            carry: list[str] = []
            c = 0
            for prev in reversed(pieces[-1]):
                if c + _n_words(prev) > overlap_words:
                    break
                carry.insert(0, prev)
                c += _n_words(prev)
            pieces.append(carry)
            count = c
        pieces[-1].append(u)
        count += n
    return ["\n".join(p) for p in pieces if p]


def lesson_languages(doc: Document, languages: Sequence[str] = LANGUAGES) -> tuple[str, ...]:
    """Those of ``languages`` the document is written in (a title or a section body in it)."""
    return tuple(lang for lang in languages if doc.title.get(lang) or any(s.body.get(lang) for s in doc.sections))


def split_lesson(
    doc: Document, max_words: int = MAX_WORDS, overlap_words: int = OVERLAP_WORDS, languages: Sequence[str] = LANGUAGES
) -> list[Passage]:
    """The passages of a lesson (or any :class:`Document`) in each of ``languages`` it is written in."""
    out: list[Passage] = []
    skills = tuple(doc.skills)
    for lang in lesson_languages(doc, languages):
        title = clean_markdown(doc.title.get(lang) or "")
        items = doc.objectives.get(lang) or []
        if items:
            body = "\n".join(f"- {clean_markdown(o)}" for o in items)
            for c, piece in enumerate(chunk_text(body, max_words, overlap_words)):
                out.append(Passage(doc.id, lang, OBJECTIVES_SECTION, c, title, _HEADINGS_OBJECTIVES.get(lang, ""), piece, skills))
        for s_idx, section in enumerate(doc.sections):
            body = clean_markdown(section.body.get(lang) or "")
            heading = clean_markdown(section.heading.get(lang) or "")
            for c, piece in enumerate(chunk_text(body, max_words, overlap_words)):
                out.append(Passage(doc.id, lang, s_idx, c, title, heading, piece, skills))
    return out


def section_bodies(doc: Document, languages: Sequence[str] = LANGUAGES) -> dict[tuple[int, str], str]:
    """Each section's whole cleaned body by (section, language), paragraphs kept: what an answer is
    composed from, so that a list or a paragraph split across passages is still seen whole."""
    out: dict[tuple[int, str], str] = {}
    for lang in lesson_languages(doc, languages):
        for s_idx, section in enumerate(doc.sections):
            body = clean_markdown(section.body.get(lang) or "")
            if body:
                out[(s_idx, lang)] = body
        items = doc.objectives.get(lang) or []
        if items:
            out[(OBJECTIVES_SECTION, lang)] = "\n".join(f"- {clean_markdown(o)}" for o in items)
    return out

