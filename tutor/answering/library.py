"""Where lessons and evaluation questions come from: the content library, or a SQuAD file.

The validated loader (``tutor.content.library.load_library``) is used when the content is valid. With
``strict=False`` (benchmarks, development while lessons are still being written) a content error
falls back to reading each YAML file on its own and skipping the ones that do not parse, with a
warning naming them.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class Pair:
    vi: str = ""
    en: str = ""

    def get(self, lang: str) -> str:
        return getattr(self, lang, "")


@dataclass(frozen=True)
class PairList:
    vi: tuple[str, ...] = ()
    en: tuple[str, ...] = ()


@dataclass(frozen=True)
class SimpleSection:
    heading: Any
    body: Any


@dataclass(frozen=True)
class SimpleLesson:
    """Shaped like ``tutor.content.library.Lesson`` for the parts retrieval reads."""

    id: str
    title: Any
    sections: tuple[SimpleSection, ...]
    skills: tuple[str, ...] = ()
    objectives: Any = None
    languages: tuple[str, ...] | None = None


@dataclass(frozen=True)
class EvalQuestion:
    id: str
    slice: str
    question: str
    lessons: tuple[str, ...]


@dataclass
class Content:
    lessons: dict[str, Any] = field(default_factory=dict)
    questions: list[EvalQuestion] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _pair(d: Any) -> Pair:
    d = d or {}
    return Pair(str(d.get("vi") or ""), str(d.get("en") or ""))


def lesson_from_dict(d: dict) -> SimpleLesson:
    """A lesson from its YAML mapping (the format of content/README.md)."""
    obj = d.get("objectives") or {}
    return SimpleLesson(
        id=str(d["id"]),
        title=_pair(d.get("title")),
        sections=tuple(SimpleSection(_pair(s.get("heading")), _pair(s.get("body"))) for s in d.get("sections") or []),
        skills=tuple(d.get("skills") or ()),
        objectives=PairList(tuple(map(str, obj.get("vi") or ())), tuple(map(str, obj.get("en") or ()))),
    )


def _read_yaml_content(content_dir: Path) -> Content:
    out = Content()
    for path in sorted((content_dir / "lessons").glob("*.yaml")):
        try:
            d = yaml.safe_load(path.read_text(encoding="utf-8"))
            lesson = lesson_from_dict(d)
            if not lesson.sections:
                raise ValueError("no sections")
            out.lessons[lesson.id] = lesson
        except Exception as exc:  # noqa: BLE001 - a broken file is reported and skipped
            out.skipped.append(f"{path.name}: {str(exc).splitlines()[0][:120]}")
    for path in sorted((content_dir / "eval").glob("*.yaml")):
        try:
            rows = yaml.safe_load(path.read_text(encoding="utf-8")) or []
            for r in rows:
                out.questions.append(EvalQuestion(str(r["id"]), str(r["slice"]), str(r["question"]), tuple(r.get("lessons") or ())))
        except Exception as exc:  # noqa: BLE001
            out.skipped.append(f"{path.name}: {str(exc).splitlines()[0][:120]}")
    known = set(out.lessons)
    kept = []
    for q in out.questions:
        if all(lid in known for lid in q.lessons):
            kept.append(q)
        else:
            out.skipped.append(f"question {q.id}: names a lesson that did not load")
    out.questions = kept
    return out


def load_content(content_dir: str | Path, strict: bool = True) -> Content:
    """Lessons (by id) and evaluation questions under ``content_dir``."""
    content_dir = Path(content_dir)
    try:
        from tutor.content.library import load_library
    except ImportError:  # the validated loader is not there: read the YAML directly
        return _read_yaml_content(content_dir)
    try:
        library = load_library(content_dir)
    except Exception as exc:  # noqa: BLE001 - ContentError, or anything the loader raises
        if strict:
            raise
        out = _read_yaml_content(content_dir)
        print(f"warning: content has problems ({str(exc).splitlines()[0][:200]}); read the YAML files directly", file=sys.stderr)
        for s in out.skipped:
            print(f"warning: skipped {s}", file=sys.stderr)
        return out
    questions = [
        EvalQuestion(q.id, q.slice, q.question, tuple(q.lessons)) for q in getattr(library, "eval_questions", [])
    ]
    return Content(lessons=dict(library.lessons), questions=questions)


# --- SQuAD-format files: every paragraph becomes a one-section "lesson" --------------------------


@dataclass(frozen=True)
class SquadSet:
    lessons: list[SimpleLesson]
    questions: list[EvalQuestion]  # lessons = (paragraph id,)
    lang: str


def load_squad(path: str | Path, lang: str | None = None, with_titles: bool = False) -> SquadSet:
    """Paragraphs of a SQuAD v1.1 JSON as lessons ``p0000``..., questions labelled with their paragraph.

    ``lang`` defaults to the file name's language suffix (``xquad.de.json`` -> ``de``), else ``en``.
    Article titles are left out unless ``with_titles`` (the questions are about the paragraph).
    """
    path = Path(path)
    if lang is None:
        parts = path.name.split(".")
        lang = parts[-2] if len(parts) >= 3 and len(parts[-2]) in (2, 3) else "en"
    data = json.loads(path.read_text(encoding="utf-8"))
    lessons: list[SimpleLesson] = []
    questions: list[EvalQuestion] = []
    for article in data["data"]:
        title = str(article.get("title", "")).replace("_", " ") if with_titles else ""
        for para in article["paragraphs"]:
            pid = f"p{len(lessons):05d}"
            lessons.append(
                SimpleLesson(
                    id=pid,
                    title=_LangText(lang, title),
                    sections=(SimpleSection(_LangText(lang, ""), _LangText(lang, para["context"])),),
                    languages=(lang,),
                )
            )
            for qa in para["qas"]:
                questions.append(EvalQuestion(str(qa["id"]), lang, qa["question"], (pid,)))
    return SquadSet(lessons, questions, lang)


class _LangText:
    """A text in one language, readable as ``obj.<lang>`` like the content's bilingual pairs."""

    def __init__(self, lang: str, text: str):
        self._lang, self._text = lang, text

    def __getattr__(self, name: str) -> str:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._text if name == self._lang else ""

    def get(self, lang: str) -> str:
        return self._text if lang == self._lang else ""
