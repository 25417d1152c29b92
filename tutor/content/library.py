"""The framework, lessons and evaluation questions as validated data.

Teachers edit YAML; everything is checked here, and every problem names its file and line so the
person fixing it can find it. The service refuses to start on content with problems.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_core import ErrorDetails

from tutor.content.yaml_lines import line_of, read_yaml
from tutor.errors import Invalid
from tutor.text import check_text

LANGUAGES = ("vi", "en")
MIN_WORDS_PER_LANGUAGE = 300
ID_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def storable_text(cls, value: Any, info: ValidationInfo) -> Any:
        """Every string of the content can be stored and indexed: valid Unicode, no NUL (nested models check their own)."""
        for text in [value] if isinstance(value, str) else value if isinstance(value, list) else ():
            if isinstance(text, str):
                check_text(text, info.field_name or "text")
        return value


class Text(Strict):
    """The same text in Vietnamese and English."""

    vi: str = Field(min_length=1)
    en: str = Field(min_length=1)

    def get(self, lang: str) -> str:
        return getattr(self, lang)


class TextList(Strict):
    """A list in both languages, item for item."""

    vi: list[str] = Field(min_length=1)
    en: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def same_length(self) -> TextList:
        if len(self.vi) != len(self.en):
            raise ValueError(f"vi has {len(self.vi)} entries but en has {len(self.en)}: translate each one")
        if any(not s.strip() for s in self.vi + self.en):
            raise ValueError("an entry is empty")
        return self

    def get(self, lang: str) -> list[str]:
        return getattr(self, lang)


class Band(Strict):
    id: str
    code: str
    levels: list[int]
    name: Text


class Competence(Strict):
    code: str = Field(pattern=r"^\d\.\d$")
    name: Text
    description: Text
    official_wording: bool = False


class Domain(Strict):
    code: str = Field(pattern=r"^\d$")
    name: Text
    description: Text
    official_wording: bool = False
    competences: list[Competence] = Field(min_length=1)


class Skill(Strict):
    """A competence at a band: the unit the tracer models."""

    id: str
    competence: str
    band: str
    prerequisites: list[str] = []


class Framework(Strict):
    revised: date = Field(description="When the framework file's content was last changed; CASE's lastChangeDateTime.")
    bands: list[Band]
    domains: list[Domain]
    skills: list[Skill]


class Section(Strict):
    heading: Text
    body: Text


class Item(Strict):
    """A multiple-choice assessment item; `correct` indexes the options from 0."""

    id: str = Field(pattern=ID_PATTERN)
    skills: list[str] = Field(min_length=1)
    difficulty: float = Field(ge=0.0, le=1.0)
    question: Text
    options: TextList
    correct: int = Field(ge=0)
    explanation: Text

    @model_validator(mode="after")
    def correct_is_an_option(self) -> Item:
        n = len(self.options.vi)
        if not 2 <= n <= 6:
            raise ValueError(f"an item needs 2 to 6 options, this one has {n}")
        if self.correct >= n:
            raise ValueError(f"correct = {self.correct} but there are only {n} options (counted from 0)")
        return self


class Lesson(Strict):
    id: str = Field(pattern=ID_PATTERN, max_length=80)
    skills: list[str] = Field(min_length=1)
    duration_minutes: int = Field(ge=1, le=240)
    title: Text
    objectives: TextList
    sections: list[Section] = Field(min_length=2)
    items: list[Item] = Field(min_length=4)

    @field_validator("skills")
    @classmethod
    def no_repeats(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("a skill is listed twice")
        return v

    def words(self, lang: str) -> int:
        texts = [self.title.get(lang), *self.objectives.get(lang)]
        for s in self.sections:
            texts += [s.heading.get(lang), s.body.get(lang)]
        return sum(len(t.split()) for t in texts)


class EvalQuestion(Strict):
    id: str
    slice: Literal["vi", "vi_nodiac", "en"]
    question: str = Field(min_length=1)
    lessons: list[str]
    key_points: list[str] = Field(default_factory=list, description="Facts a good answer contains, in the question's language, from the lesson text.")
    near: list[str] = Field(default_factory=list, description="For a question no lesson answers: the lessons whose topic it is in (a near miss).")


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    message: str
    loc: tuple = ()

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class ContentError(Invalid):
    """Content with problems; `problems` lists each one with file and line."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def _describe(err: ErrorDetails) -> str:
    where = ".".join(str(p) for p in err["loc"])
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "missing":
        field_name = err["loc"][-1] if err["loc"] else "value"
        if field_name in LANGUAGES:
            return f"{where}: missing translation ({field_name})"
        return f"{where}: required field missing"
    if err["type"] == "extra_forbidden":
        return f"{where}: unknown field"
    return f"{where}: {msg}" if where else msg


def _parse(model: type[BaseModel], path: Path, shown: str, problems: list[Problem]):
    try:
        data, lines = read_yaml(path)
    except Exception as exc:  # yaml errors carry their own mark
        mark = getattr(exc, "problem_mark", None)
        problems.append(Problem(shown, (mark.line + 1) if mark else 1, f"not valid YAML: {getattr(exc, 'problem', exc)}"))
        return None, {}
    try:
        return model.model_validate(data), lines
    except ValidationError as exc:
        for err in exc.errors():
            problems.append(Problem(shown, line_of(lines, err["loc"]), _describe(err)))
        return None, lines


def _find_cycle(prereqs: dict[str, list[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in prereqs.get(node, []):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in prereqs:
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


@dataclass
class Library:
    """Validated content: the framework's skills, the lessons and the evaluation questions."""

    framework: Framework
    lessons: dict[str, Lesson] = field(default_factory=dict)
    eval_questions: list[EvalQuestion] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.skills = {s.id: s for s in self.framework.skills}
        self.competences = {c.code: c for d in self.framework.domains for c in d.competences}
        self.domains = {d.code: d for d in self.framework.domains}
        self.bands = {b.id: b for b in self.framework.bands}
        self.domain_of = {c.code: d.code for d in self.framework.domains for c in d.competences}
        self._items: dict[str, tuple[Lesson, Item]] | None = None

    @property
    def items(self) -> dict[str, tuple[Lesson, Item]]:
        """Every item with its lesson; rebuilt only after the lessons change."""
        if self._items is None:
            self._items = {item.id: (lesson, item) for lesson in self.lessons.values() for item in lesson.items}
        return self._items

    def lessons_for_skill(self, skill_id: str) -> list[Lesson]:
        return [lesson for lesson in self.lessons.values() if skill_id in lesson.skills]

    def digest(self) -> str:
        """A hash of everything learners see, to key caches built from the content."""
        h = hashlib.sha256()
        for lesson_id in sorted(self.lessons):
            h.update(json.dumps(self.lessons[lesson_id].model_dump(), sort_keys=True, ensure_ascii=False).encode())
        return h.hexdigest()

    def check_lesson(self, lesson: Lesson, shown: str, lines: dict | None = None) -> list[Problem]:
        """Problems a lesson has against the framework (skills exist, enough words, item ids unique within it)."""
        lines = lines or {}
        problems = []
        for i, sid in enumerate(lesson.skills):
            if sid not in self.skills:
                problems.append(Problem(shown, line_of(lines, ("skills", i)), f"skills.{i}: unknown skill {sid!r}", ("skills", i)))
        seen: set[str] = set()
        for j, item in enumerate(lesson.items):
            if item.id in seen:
                problems.append(Problem(shown, line_of(lines, ("items", j, "id")), f"items.{j}.id: duplicate item id {item.id!r}", ("items", j, "id")))
            seen.add(item.id)
            for i, sid in enumerate(item.skills):
                if sid not in self.skills:
                    problems.append(Problem(shown, line_of(lines, ("items", j, "skills", i)), f"items.{j}.skills.{i}: unknown skill {sid!r}", ("items", j, "skills", i)))
        for lang in LANGUAGES:
            n = lesson.words(lang)
            if n < MIN_WORDS_PER_LANGUAGE:
                problems.append(Problem(shown, line_of(lines, ("sections",)), f"{lang}: {n} words, at least {MIN_WORDS_PER_LANGUAGE} needed", ("sections",)))
        return problems

    def problems_with(self, lesson: Lesson) -> list[Problem]:
        """What stops a lesson from joining the library (as new or as a replacement)."""
        shown = f"lesson {lesson.id}"
        problems = self.check_lesson(lesson, shown)
        other_items = {iid for iid, (owner, _) in self.items.items() if owner.id != lesson.id}
        for j, item in enumerate(lesson.items):
            if item.id in other_items:
                problems.append(Problem(shown, 1, f"items.{j}.id: item id {item.id!r} already belongs to another lesson", ("items", j, "id")))
        return problems

    def add_lesson(self, lesson: Lesson) -> list[Problem]:
        """Add or replace a lesson after checking it; returns the problems (and adds nothing) if any."""
        problems = self.problems_with(lesson)
        if not problems:
            self.lessons[lesson.id] = lesson
            self._items = None
        return problems


def _check_framework(fw: Framework, shown: str, lines: dict) -> list[Problem]:
    problems = []
    comps = {c.code for d in fw.domains for c in d.competences}
    bands = {b.id for b in fw.bands}
    ids: set[str] = set()
    for i, s in enumerate(fw.skills):
        def at(*k: object, i: int = i) -> int:
            return line_of(lines, ("skills", i, *k))

        if s.id in ids:
            problems.append(Problem(shown, at("id"), f"skills.{i}.id: duplicate skill id {s.id!r}"))
        ids.add(s.id)
        if s.competence not in comps:
            problems.append(Problem(shown, at("competence"), f"skills.{i}.competence: unknown competence {s.competence!r}"))
        if s.band not in bands:
            problems.append(Problem(shown, at("band"), f"skills.{i}.band: unknown band {s.band!r}"))
    for i, s in enumerate(fw.skills):
        for j, p in enumerate(s.prerequisites):
            if p not in ids:
                problems.append(Problem(shown, line_of(lines, ("skills", i, "prerequisites", j)), f"skills.{i}.prerequisites: unknown skill {p!r}"))
    cycle = _find_cycle({s.id: s.prerequisites for s in fw.skills})
    if cycle:
        first = next(i for i, s in enumerate(fw.skills) if s.id == cycle[0])
        problems.append(Problem(shown, line_of(lines, ("skills", first)), "prerequisite cycle: " + " -> ".join(cycle)))
    for label, codes in (("domain", [d.code for d in fw.domains]), ("competence", [c.code for d in fw.domains for c in d.competences])):
        dupes = sorted({c for c in codes if codes.count(c) > 1})
        if dupes:
            problems.append(Problem(shown, 1, f"duplicate {label} code(s): {', '.join(dupes)}"))
    return problems


def load_library(content_dir: Path) -> Library:
    """Load and check everything under content_dir; raise ContentError listing every problem."""
    content_dir = Path(content_dir)
    problems: list[Problem] = []

    def shown(p: Path) -> str:
        return str(p.relative_to(content_dir.parent)) if p.is_relative_to(content_dir.parent) else str(p)

    fw_path = content_dir / "framework.yaml"
    if not fw_path.exists():
        raise ContentError([Problem(shown(fw_path), 1, "framework file missing")])
    framework, fw_lines = _parse(Framework, fw_path, shown(fw_path), problems)
    if framework is None:
        raise ContentError(problems)
    problems += _check_framework(framework, shown(fw_path), fw_lines)
    library = Library(framework=framework)

    item_owner: dict[str, str] = {}
    for path in sorted((content_dir / "lessons").glob("*.yaml")):
        lesson, lines = _parse(Lesson, path, shown(path), problems)
        if lesson is None:
            continue
        if lesson.id != path.stem:
            problems.append(Problem(shown(path), line_of(lines, ("id",)), f"id {lesson.id!r} differs from the file name {path.stem!r}"))
        if lesson.id in library.lessons:
            problems.append(Problem(shown(path), line_of(lines, ("id",)), f"duplicate lesson id {lesson.id!r}"))
            continue
        problems += library.check_lesson(lesson, shown(path), lines)
        for j, item in enumerate(lesson.items):
            if item.id in item_owner and item_owner[item.id] != lesson.id:
                problems.append(Problem(shown(path), line_of(lines, ("items", j, "id")), f"items.{j}.id: item id {item.id!r} also used in lesson {item_owner[item.id]!r}"))
            item_owner.setdefault(item.id, lesson.id)
        library.lessons[lesson.id] = lesson
    library._items = None

    for path in sorted((content_dir / "eval").glob("*.yaml")):
        try:
            data, lines = read_yaml(path)
        except Exception as exc:
            mark = getattr(exc, "problem_mark", None)
            problems.append(Problem(shown(path), (mark.line + 1) if mark else 1, f"not valid YAML: {getattr(exc, 'problem', exc)}"))
            continue
        if not isinstance(data, list):
            problems.append(Problem(shown(path), 1, "expected a list of questions"))
            continue
        for i, raw in enumerate(data):
            try:
                q = EvalQuestion.model_validate(raw)
            except ValidationError as exc:
                for err in exc.errors():
                    problems.append(Problem(shown(path), line_of(lines, (i, *err["loc"])), f"{i}." + _describe(err)))
                continue
            if q.slice == "vi_nodiac" and not q.question.isascii():
                problems.append(Problem(shown(path), line_of(lines, (i, "question")), f"{i}.question: slice vi_nodiac but the question has diacritics or other non-ASCII letters"))
            for name in ("lessons", "near"):
                for j, lid in enumerate(getattr(q, name)):
                    if lid not in library.lessons:
                        problems.append(Problem(shown(path), line_of(lines, (i, name, j)), f"{i}.{name}: unknown lesson {lid!r}"))
            library.eval_questions.append(q)
    ids = [q.id for q in library.eval_questions]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        problems.append(Problem("content/eval", 1, f"duplicate question id(s): {', '.join(dupes)}"))

    if problems:
        raise ContentError(problems)
    return library


def stats(library: Library) -> dict:
    """Counts a content editor checks at a glance."""
    slices: dict[str, int] = {}
    for q in library.eval_questions:
        key = "unanswerable" if not q.lessons else q.slice
        slices[key] = slices.get(key, 0) + 1
    return {
        "domains": len(library.framework.domains),
        "competences": len(library.competences),
        "skills": len(library.skills),
        "skills_with_lessons": len({s for lesson in library.lessons.values() for s in lesson.skills}),
        "lessons": {lang: sum(1 for lesson in library.lessons.values() if lesson.title.get(lang)) for lang in LANGUAGES},
        "items": sum(len(lesson.items) for lesson in library.lessons.values()),
        "words": {lang: sum(lesson.words(lang) for lesson in library.lessons.values()) for lang in LANGUAGES},
        "eval_questions": {"total": len(library.eval_questions), **dict(sorted(slices.items()))},
    }
