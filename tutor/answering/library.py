"""Documents that are not lessons, and SQuAD-format files of them.

The index reads lessons (``tutor.content.library.Lesson``) through the ``passages.Document``
protocol. A SQuAD paragraph, or a benchmark's generated passage, is a :class:`Page`: the same
shape, texts given as ``{language: text}``, written in whichever languages it has (XQuAD's ``de``
or ``es``, or English only), without the items, objectives and checks a lesson needs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class PageSection:
    heading: Mapping[str, str]
    body: Mapping[str, str]


@dataclass(frozen=True)
class Page:
    """A ``passages.Document`` that is not a lesson; a language missing from a text is not written."""

    id: str
    title: Mapping[str, str]
    sections: tuple[PageSection, ...]
    skills: tuple[str, ...] = ()
    objectives: Mapping[str, Sequence[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class SquadQuestion:
    """Shaped like ``tutor.content.library.EvalQuestion``, whose slices are only vi / vi_nodiac / en."""

    id: str
    slice: str  # the file's language
    question: str
    lessons: tuple[str, ...]  # (paragraph id,)


@dataclass(frozen=True)
class SquadSet:
    paragraphs: list[Page]
    questions: list[SquadQuestion]
    lang: str


def load_squad(path: str | Path, lang: str | None = None, with_titles: bool = False) -> SquadSet:
    """Paragraphs of a SQuAD v1.1 JSON as pages ``p00000``..., questions labelled with their paragraph.

    ``lang`` defaults to the file name's language suffix (``xquad.de.json`` -> ``de``), else ``en``;
    index them with ``IndexSettings(languages=(lang,))``. Article titles are left out unless
    ``with_titles`` (the questions are about the paragraph).
    """
    path = Path(path)
    if lang is None:
        parts = path.name.split(".")
        lang = parts[-2] if len(parts) >= 3 and len(parts[-2]) in (2, 3) else "en"
    data = json.loads(path.read_text(encoding="utf-8"))
    paragraphs: list[Page] = []
    questions: list[SquadQuestion] = []
    for article in data["data"]:
        title = str(article.get("title", "")).replace("_", " ") if with_titles else ""
        for para in article["paragraphs"]:
            pid = f"p{len(paragraphs):05d}"
            paragraphs.append(Page(id=pid, title={lang: title}, sections=(PageSection({}, {lang: para["context"]}),)))
            for qa in para["qas"]:
                questions.append(SquadQuestion(str(qa["id"]), lang, qa["question"], (pid,)))
    return SquadSet(paragraphs, questions, lang)
