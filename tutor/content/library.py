"""The framework, lessons and evaluation questions as validated data.

Teachers edit YAML; everything is checked here, and every problem names its file and line so the
person fixing it can find it. The service refuses to start on content with problems.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_core import ErrorDetails

from tutor.content.quality import quality_problems
from tutor.content.rules import Context, Problem, example_rules, folded_markers, lesson_rules, metadata_rules, problem
from tutor.content.yaml_lines import line_of, read_yaml, yaml_error_line
from tutor.errors import Invalid
from tutor.text import check_text

LANGUAGES = ("vi", "en")
IsoDate = Annotated[date, PlainSerializer(lambda d: d.isoformat(), return_type=str)]  # dumps as text, so lessons store as JSON
MIN_WORDS_PER_LANGUAGE = 300
ID_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"
CONTENT_LICENCES = ("CC-BY-4.0", "CC-BY-SA-4.0", "CC0-1.0")  # SPDX ids; the bundled library is CC-BY-4.0


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
    description: Text | None = None  # what the skill adds at its band, where the competence's description is not enough
    no_lesson: Text | None = None  # why no lesson teaches it yet (the specialised band; advanced lessons to come)


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


class Source(Strict):
    """Where a fact in the lesson was checked: an official page, with the day it was read."""

    title: str = Field(min_length=1)
    url: str = Field(pattern=r"^https://\S+$", description="An https address.")
    publisher: str = Field(min_length=1, description="Who publishes it, e.g. Chính phủ (chinhphu.vn).")
    accessed: IsoDate = Field(description="The day the page was read to check the lesson.")


class Lesson(Strict):
    id: str = Field(pattern=ID_PATTERN, max_length=80)
    skills: list[str] = Field(min_length=1)
    duration_minutes: int = Field(ge=1, le=240)
    title: Text
    objectives: TextList
    sections: list[Section] = Field(min_length=2)
    items: list[Item] = Field(min_length=4)
    licence: Literal["CC-BY-4.0", "CC-BY-SA-4.0", "CC0-1.0"] | None = Field(None, description=f"SPDX id of the content licence, one of {', '.join(CONTENT_LICENCES)}.")
    authors: list[str] = Field(default_factory=list, description="Who wrote the lesson.")
    last_reviewed: IsoDate | None = Field(None, description="The day a reviewer last checked the lesson's facts.")
    sources: list[Source] = Field(default_factory=list, description="Official pages for its facts about Vietnamese services and laws.")
    examples: dict[str, Text] = Field(
        default_factory=dict,
        description="The lesson's point in one audience's world: audience id (content/audiences.yaml) → one to three sentences in both "
                    "languages (Markdown), shown after the first section to learners of that audience.",
    )

    @field_validator("skills")
    @classmethod
    def no_repeats(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("a skill is listed twice")
        return v

    def example_for(self, audience: str | None) -> Text | None:
        """The example written for this audience, if the lesson has one."""
        return self.examples.get(audience) if audience else None

    def words(self, lang: str) -> int:
        texts = [self.title.get(lang), *self.objectives.get(lang)]
        for s in self.sections:
            texts += [s.heading.get(lang), s.body.get(lang)]
        return sum(len(t.split()) for t in texts)


class Audience(Strict):
    """Who a learner is (officials, students, workers, citizens) and the default goal that comes with it."""

    id: str = Field(pattern=ID_PATTERN, max_length=32)
    name: Text
    description: Text
    goal: dict[str, int] = Field(min_length=1, description="Competence → target level (1-8).")
    lti_roles: list[str] = Field(default_factory=list, description="LTI 1.3 roles that set this audience at launch.")


class EvalQuestion(Strict):
    id: str
    slice: Literal["vi", "vi_nodiac", "en"]
    question: str = Field(min_length=1)
    lessons: list[str]
    key_points: list[str] = Field(default_factory=list, description="Facts a good answer contains, in the question's language, from the lesson text.")
    near: list[str] = Field(default_factory=list, description="For a question no lesson answers: the lessons whose topic it is in (a near miss).")


class ContentError(Invalid):
    """Content with problems; `problems` lists each error with file and line (warnings ride along)."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems if p.severity == "error"))


# Pydantic's messages in Vietnamese, by error type; {..} are filled from the error's context.
_VI_BY_TYPE = {
    "string_too_short": "không được để trống",
    "too_short": "cần ít nhất {min_length} mục",
    "too_long": "quá nhiều (tối đa {max_length})",
    "greater_than_equal": "phải lớn hơn hoặc bằng {ge}",
    "less_than_equal": "phải nhỏ hơn hoặc bằng {le}",
    "int_parsing": "phải là số nguyên",
    "int_type": "phải là số nguyên",
    "int_from_float": "phải là số nguyên",
    "float_parsing": "phải là một số",
    "float_type": "phải là một số",
    "string_type": "phải là văn bản",
    "list_type": "phải là một danh sách",
    "dict_type": "phải là một nhóm trường, ví dụ {{vi: ..., en: ...}}",
    "model_type": "phải là một nhóm trường, ví dụ {{vi: ..., en: ...}}",
    "model_attributes_type": "phải là một nhóm trường, ví dụ {{vi: ..., en: ...}}",
    "string_pattern_mismatch": "sai định dạng (mẫu {pattern})",
    "date_from_datetime_parsing": "phải là ngày dạng YYYY-MM-DD",
    "date_parsing": "phải là ngày dạng YYYY-MM-DD",
    "date_type": "phải là ngày dạng YYYY-MM-DD",
    "literal_error": "phải là một trong {expected}",
    "bool_type": "phải là true hoặc false",
    "bool_parsing": "phải là true hoặc false",
}
# Our own validators' messages, in Vietnamese.
_VI_BY_MESSAGE = [
    (re.compile(r"vi has (\d+) entries but en has (\d+): translate each one"), "tiếng Việt có {0} mục nhưng tiếng Anh có {1}: mỗi mục cần một bản dịch"),
    (re.compile(r"an entry is empty"), "có một mục để trống"),
    (re.compile(r"an item needs 2 to 6 options, this one has (\d+)"), "mỗi câu hỏi cần 2 đến 6 phương án, câu này có {0}"),
    (re.compile(r"correct = (\d+) but there are only (\d+) options \(counted from 0\)"), "correct = {0} nhưng chỉ có {1} phương án (đếm từ 0)"),
    (re.compile(r"a skill is listed twice"), "một kỹ năng được ghi hai lần"),
]
_SHAPE_ERRORS = {"dict_type", "list_type", "model_type", "model_attributes_type", "string_type"}


def _describe(err: ErrorDetails, lines: dict | None = None) -> tuple[str, str, str]:
    """(where, English, Vietnamese) for one validation error."""
    where = ".".join(str(p) for p in err["loc"])
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "missing":
        field_name = err["loc"][-1] if err["loc"] else "value"
        if field_name in LANGUAGES:
            lang_vi = "tiếng Việt" if field_name == "vi" else "tiếng Anh"
            return where, f"missing translation ({field_name})", f"thiếu bản {lang_vi} ({field_name})"
        return where, "required field missing", "thiếu trường bắt buộc"
    if err["type"] == "extra_forbidden":
        key = str(err["loc"][-1]) if err["loc"] else ""
        if " " in key.strip() or not key.isascii():  # `{vi: Cán bộ, công chức, en: ...}` makes `công chức` a key
            return (where, f"unknown field {key!r}: probably the rest of a value cut at an unquoted comma inside {{ ... }}; put that value in quotes",
                    f"trường lạ {key!r}: có lẽ là phần còn lại của một giá trị bị cắt ở dấu phẩy trong {{ ... }}; hãy đặt giá trị đó trong dấu nháy")
        return where, "unknown field", "trường không có trong mẫu bài học (viết sai tên?)"
    vi = msg
    if err["type"] in _VI_BY_TYPE:
        try:
            vi = _VI_BY_TYPE[err["type"]].format(**(err.get("ctx") or {}))
        except (KeyError, IndexError):
            vi = _VI_BY_TYPE[err["type"]]
    else:
        for pattern, template in _VI_BY_MESSAGE:
            m = pattern.search(msg)
            if m:
                vi = template.format(*m.groups())
                break
    flow = getattr(lines, "flow", ())
    if msg.startswith("vi has") and any(tuple(err["loc"]) + (lang,) in flow for lang in LANGUAGES):
        msg += "; this list is written [a, b, c]: an unquoted comma inside an entry splits it in two, so put entries with commas in quotes"
        vi += "; danh sách này viết dạng [a, b, c]: dấu phẩy không nằm trong dấu nháy sẽ tách một mục thành hai, hãy đặt mục có dấu phẩy trong dấu nháy"
    return where, msg, vi


def validation_problems(exc: ValidationError, lines: dict, shown: str, prefix: tuple = ()) -> list[Problem]:
    """One problem per error, leaving out what follows from another: nothing is reported inside a
    value whose own shape is wrong (a list where a mapping belongs says so once)."""
    errors = exc.errors()
    broken = [tuple(e["loc"]) for e in errors if e["type"] in _SHAPE_ERRORS]
    out = []
    for err in errors:
        loc = tuple(err["loc"])
        if any(len(b) < len(loc) and loc[: len(b)] == b for b in broken):
            continue
        where, en, vi = _describe(err, lines)
        shown_where = ".".join(str(p) for p in prefix) + ("." if prefix and where else "") + where
        out.append(problem(shown, line_of(lines, prefix + loc), shown_where, en, vi, loc=loc, rule=f"schema-{err['type']}"))
    return out


def _read(path: Path, shown: str, problems: list[Problem]) -> tuple[Any, dict] | None:
    try:
        return read_yaml(path)
    except yaml.YAMLError as exc:
        line, en, vi = yaml_error_line(exc)
        problems.append(Problem(shown, line, en, (), vi, rule="yaml"))
        return None


def _parse(model: type[BaseModel], path: Path, shown: str, problems: list[Problem]):
    """(model or None, raw data or None, lines)."""
    read = _read(path, shown, problems)
    if read is None:
        return None, None, {}
    data, lines = read
    try:
        return model.model_validate(data), data, lines
    except ValidationError as exc:
        problems += validation_problems(exc, lines, shown)
        return None, data, lines


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
    eval_files: dict[str, str] = field(default_factory=dict)  # question id -> the eval/ file it is in (its set), without .yaml
    warnings: list[Problem] = field(default_factory=list)  # what `tutor content check` shows without refusing the content
    audiences: dict[str, Audience] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.skills = {s.id: s for s in self.framework.skills}
        self.competences = {c.code: c for d in self.framework.domains for c in d.competences}
        self.domains = {d.code: d for d in self.framework.domains}
        self.bands = {b.id: b for b in self.framework.bands}
        self.domain_of = {c.code: d.code for d in self.framework.domains for c in d.competences}
        self._items: dict[str, tuple[Lesson, Item]] | None = None
        self._context: tuple[dict, Context] | None = None

    @property
    def items(self) -> dict[str, tuple[Lesson, Item]]:
        """Every item with its lesson; rebuilt only after the lessons change."""
        if self._items is None:
            self._items = {item.id: (lesson, item) for lesson in self.lessons.values() for item in lesson.items}
        return self._items

    def level_skill(self, competence: str, level: int) -> str | None:
        """The skill that stands for a target level: the competence's skill at the band holding that level."""
        band = next((b.id for b in self.framework.bands if level in b.levels), None)
        sid = f"{competence}-{band}"
        return sid if band and sid in self.skills and self.skills[sid].competence == competence else None

    def audience_goal(self, audience_id: str) -> tuple[str, ...]:
        """The skills of an audience's default goal, in framework order."""
        wanted = {self.level_skill(c, lvl) for c, lvl in self.audiences[audience_id].goal.items()}
        return tuple(s.id for s in self.framework.skills if s.id in wanted)

    def audience_for_roles(self, roles: list[str] | tuple[str, ...]) -> str | None:
        """The first audience (in file order) one of whose LTI roles the launch carries."""
        given = set(roles)
        return next((a.id for a in self.audiences.values() if given & set(a.lti_roles)), None)

    def lessons_for_skill(self, skill_id: str) -> list[Lesson]:
        return [lesson for lesson in self.lessons.values() if skill_id in lesson.skills]

    def digest(self) -> str:
        """A hash of everything learners see, to key caches built from the content."""
        h = hashlib.sha256()
        for lesson_id in sorted(self.lessons):
            h.update(json.dumps(self.lessons[lesson_id].model_dump(mode="json"), sort_keys=True, ensure_ascii=False).encode())
        return h.hexdigest()

    def context(self) -> Context:
        """What the lesson rules need (skills' domains, the library's diacritic-free syllables), per version of the lessons."""
        if self._context is None or self._context[0] is not self.items:
            self._context = (self.items, rules_context(self.framework, [lesson.model_dump() for lesson in self.lessons.values()]))
        return self._context[1]

    def check_lesson(self, lesson: Lesson, shown: str, lines: dict | None = None) -> list[Problem]:
        """Problems a lesson has against the framework and the rules (skills exist and fit, options in the
        same order, Vietnamese with its diacritics, enough words, item ids unique within it, examples for known audiences); errors and warnings."""
        lines = lines or {}
        raw = lesson.model_dump()
        return lesson_rules(raw, lines, shown, self.context()) + example_rules(raw, lines, shown, self.audiences) + _word_problems(lesson, shown, lines)

    def problems_with(self, lesson: Lesson) -> list[Problem]:
        """The errors that stop a lesson from joining the library (as new or as a replacement)."""
        shown = f"lesson {lesson.id}"
        problems = [p for p in self.check_lesson(lesson, shown) if p.severity == "error"]
        other_items = {iid for iid, (owner, _) in self.items.items() if owner.id != lesson.id}
        for j, item in enumerate(lesson.items):
            if item.id in other_items:
                problems.append(problem(shown, 1, f"items.{j}.id", f"item id {item.id!r} already belongs to another lesson",
                                        f"mã câu hỏi {item.id!r} đã thuộc về một bài khác", loc=("items", j, "id"), rule="duplicate-item"))
        return problems

    def add_lesson(self, lesson: Lesson) -> list[Problem]:
        """Add or replace a lesson after checking it; returns the problems (and adds nothing) if any."""
        problems = self.problems_with(lesson)
        if not problems:
            self.lessons[lesson.id] = lesson
            self._items = None
        return problems


def new_lesson_problems(lesson: Lesson | dict, shown: str, lines: dict | None = None, today: date | None = None) -> list[Problem]:
    """What a lesson entering through `tutor content import` or `POST /v1/content/lessons` must also have:
    licence, authors, a review date and sources (the bundled library's older lessons only get warnings)."""
    raw = lesson.model_dump() if isinstance(lesson, Lesson) else lesson
    return [p for p in metadata_rules(raw, lines or {}, shown, today or date.today(), new=True) if p.severity == "error"]


def rules_context(framework: Framework | None, raw_lessons: list[Any]) -> Context:
    vi_texts: list[str] = []
    en_texts: list[str] = []
    for raw in raw_lessons:
        if isinstance(raw, dict):
            _collect_texts(raw, vi_texts, en_texts)
    markers = folded_markers(vi_texts, en_texts)
    if framework is None:
        return Context(skills=None, markers=markers)
    domain_of = {c.code: d.code for d in framework.domains for c in d.competences}
    return Context(
        skills={s.id: domain_of.get(s.competence, "?") for s in framework.skills},
        domain_names={d.code: (d.name.en, d.name.vi) for d in framework.domains},
        markers=markers,
    )


def _collect_texts(value: Any, vi: list[str], en: list[str], lang: str | None = None) -> None:
    if isinstance(value, str):
        if lang == "vi":
            vi.append(value)
        elif lang == "en":
            en.append(value)
    elif isinstance(value, list):
        for v in value:
            _collect_texts(v, vi, en, lang)
    elif isinstance(value, dict):
        for k, v in value.items():
            _collect_texts(v, vi, en, k if k in LANGUAGES else lang)


def _word_problems(lesson: Lesson, shown: str, lines: dict) -> list[Problem]:
    out = []
    for lang in LANGUAGES:
        n = lesson.words(lang)
        if n < MIN_WORDS_PER_LANGUAGE:
            name_vi = "tiếng Việt" if lang == "vi" else "tiếng Anh"
            out.append(problem(shown, line_of(lines, ("sections",)), lang, f"{n} words, at least {MIN_WORDS_PER_LANGUAGE} needed",
                               f"bản {name_vi} có {n} từ, cần ít nhất {MIN_WORDS_PER_LANGUAGE}", loc=("sections",), rule="words"))
    return out


def _check_framework(fw: Framework, shown: str, lines: dict) -> list[Problem]:
    problems = []
    comps = {c.code for d in fw.domains for c in d.competences}
    bands = {b.id for b in fw.bands}
    ids: set[str] = set()
    for i, s in enumerate(fw.skills):
        def at(*k: object, i: int = i) -> int:
            return line_of(lines, ("skills", i, *k))

        if s.id in ids:
            problems.append(problem(shown, at("id"), f"skills.{i}.id", f"duplicate skill id {s.id!r}", f"mã kỹ năng {s.id!r} bị trùng"))
        ids.add(s.id)
        if s.competence not in comps:
            problems.append(problem(shown, at("competence"), f"skills.{i}.competence", f"unknown competence {s.competence!r}", f"không có năng lực {s.competence!r}"))
        if s.band not in bands:
            problems.append(problem(shown, at("band"), f"skills.{i}.band", f"unknown band {s.band!r}", f"không có trình độ {s.band!r}"))
    for i, s in enumerate(fw.skills):
        for j, p in enumerate(s.prerequisites):
            if p not in ids:
                problems.append(problem(shown, line_of(lines, ("skills", i, "prerequisites", j)), f"skills.{i}.prerequisites",
                                        f"unknown skill {p!r}", f"không có kỹ năng {p!r}"))
    cycle = _find_cycle({s.id: s.prerequisites for s in fw.skills})
    if cycle:
        first = next(i for i, s in enumerate(fw.skills) if s.id == cycle[0])
        problems.append(problem(shown, line_of(lines, ("skills", first)), "", "prerequisite cycle: " + " -> ".join(cycle),
                                "vòng lặp điều kiện tiên quyết: " + " -> ".join(cycle)))
    for label, vi_label, codes in (("domain", "lĩnh vực", [d.code for d in fw.domains]), ("competence", "năng lực", [c.code for d in fw.domains for c in d.competences])):
        dupes = sorted({c for c in codes if codes.count(c) > 1})
        if dupes:
            problems.append(problem(shown, 1, "", f"duplicate {label} code(s): {', '.join(dupes)}", f"mã {vi_label} bị trùng: {', '.join(dupes)}"))
    return problems


def collapse(problems: list[Problem], at_least: int = 3) -> list[Problem]:
    """The same message three times or more becomes one line that counts the others: within a file
    (one unknown skill tagged on every item), and, for warnings, across files (45 lessons without sources)."""
    def what(p: Problem, lang: str) -> str:
        text = p.vi if lang == "vi" and p.vi else p.message
        return text.split(": ", 1)[1] if p.loc and ": " in text else text

    groups: dict[tuple, list[Problem]] = {}
    for p in problems:
        key = (p.severity, p.rule, what(p, "en")) + ((p.file,) if p.severity == "error" or not p.rule else ())
        groups.setdefault(key, []).append(p)
    out = []
    for p in problems:
        key = (p.severity, p.rule, what(p, "en")) + ((p.file,) if p.severity == "error" or not p.rule else ())
        group = groups[key]
        if len(group) < at_least:
            out.append(p)
        elif group[0] is p:
            rest = group[1:]
            files = sorted({q.file for q in rest} - {p.file})
            if files:
                names = ", ".join(Path(f).stem for f in files[:8]) + ("…" if len(files) > 8 else "")
                en, vi = f" (and in {len(files)} other files: {names})", f" (và ở {len(files)} tệp khác: {names})"
            else:
                at = ", ".join(str(q.line) for q in rest[:8]) + ("…" if len(rest) > 8 else "")
                en, vi = f" (and {len(rest)} more times, lines {at})", f" (và {len(rest)} lần nữa, ở dòng {at})"
            out.append(replace(p, message=p.message + en, vi=(p.vi or p.message) + vi))
    return out


def _load_audiences(path: Path, shown, library: Library, problems: list[Problem]) -> dict[str, Audience]:
    """content/audiences.yaml, if there is one: each audience's competences exist and its levels have skills."""
    if not path.exists():
        return {}
    read = _read(path, shown(path), problems)
    if read is None:
        return {}
    data, lines = read
    if not isinstance(data, list):
        problems.append(problem(shown(path), 1, "", "expected a list of audiences", "cần một danh sách các nhóm đối tượng"))
        return {}
    out: dict[str, Audience] = {}
    for i, raw in enumerate(data):
        try:
            audience = Audience.model_validate(raw)
        except ValidationError as exc:
            problems.extend(validation_problems(exc, lines, shown(path), prefix=(i,)))
            continue
        if audience.id in out:
            problems.append(problem(shown(path), line_of(lines, (i, "id")), f"{i}.id", f"duplicate audience {audience.id!r}", f"nhóm đối tượng {audience.id!r} bị trùng"))
        for code, level in audience.goal.items():
            at = line_of(lines, (i, "goal", code))
            if code not in library.competences:
                problems.append(problem(shown(path), at, f"{i}.goal.{code}", f"unknown competence {code!r}", f"không có năng lực {code!r}"))
            elif library.level_skill(code, level) is None:
                problems.append(problem(shown(path), at, f"{i}.goal.{code}", f"level {level} has no skill (levels are 1-8)",
                                        f"mức {level} không có kỹ năng tương ứng (mức từ 1 đến 8)"))
            elif library.skills[library.level_skill(code, level) or ""].no_lesson is not None:
                problems.append(problem(shown(path), at, f"{i}.goal.{code}", f"level {level} has no lesson yet: no learner can reach this goal",
                                        f"mức {level} chưa có bài học: chưa người học nào đạt được mục tiêu này", severity="warning", rule="no-lesson"))
        out[audience.id] = audience
    return out


def load_library(content_dir: Path) -> Library:
    """Load and check everything under content_dir in one pass; raise ContentError listing every error.

    A lesson that cannot be read still gets every rule its raw data allows, but nothing that only
    follows from it (evaluation questions naming it are not reported as naming an unknown lesson).
    Warnings are kept on the library (`Library.warnings`)."""
    content_dir = Path(content_dir)
    problems: list[Problem] = []

    def shown(p: Path) -> str:
        return str(p.relative_to(content_dir.parent)) if p.is_relative_to(content_dir.parent) else str(p)

    fw_path = content_dir / "framework.yaml"
    if not fw_path.exists():
        raise ContentError([problem(shown(fw_path), 1, "", "framework file missing", "thiếu tệp khung năng lực framework.yaml")])
    framework, _, fw_lines = _parse(Framework, fw_path, shown(fw_path), problems)
    if framework is not None:
        problems += _check_framework(framework, shown(fw_path), fw_lines)

    parsed = []
    for path in sorted((content_dir / "lessons").glob("*.yaml")):
        lesson, raw, lines = _parse(Lesson, path, shown(path), problems)
        parsed.append((path, lesson, raw, lines))
    ctx = rules_context(framework, [raw for _, _, raw, _ in parsed])
    unreadable: set[str] = set()
    lessons: dict[str, Lesson] = {}
    item_owner: dict[str, str] = {}
    for path, lesson, raw, lines in parsed:
        problems += lesson_rules(raw, lines, shown(path), ctx)
        if lesson is None:
            named = raw.get("id") if isinstance(raw, dict) else None
            unreadable.add(named if isinstance(named, str) else path.stem)
            unreadable.add(path.stem)
            continue
        problems += _word_problems(lesson, shown(path), lines)
        if lesson.id != path.stem:
            problems.append(problem(shown(path), line_of(lines, ("id",)), "id", f"{lesson.id!r} differs from the file name {path.stem!r}",
                                    f"{lesson.id!r} khác tên tệp {path.stem!r}"))
        if lesson.id in lessons:
            problems.append(problem(shown(path), line_of(lines, ("id",)), "", f"duplicate lesson id {lesson.id!r}", f"mã bài học {lesson.id!r} bị trùng"))
            continue
        for j, item in enumerate(lesson.items):
            if item.id in item_owner and item_owner[item.id] != lesson.id:
                problems.append(problem(shown(path), line_of(lines, ("items", j, "id")), f"items.{j}.id", f"item id {item.id!r} also used in lesson {item_owner[item.id]!r}",
                                        f"mã câu hỏi {item.id!r} đã được dùng trong bài {item_owner[item.id]!r}", rule="duplicate-item"))
            item_owner.setdefault(item.id, lesson.id)
        lessons[lesson.id] = lesson

    questions: list[EvalQuestion] = []
    eval_files: dict[str, str] = {}
    for path in sorted((content_dir / "eval").glob("*.yaml")):
        read = _read(path, shown(path), problems)
        if read is None:
            continue
        data, lines = read
        if not isinstance(data, list):
            problems.append(problem(shown(path), 1, "", "expected a list of questions", "cần một danh sách câu hỏi"))
            continue
        for i, raw in enumerate(data):
            try:
                q = EvalQuestion.model_validate(raw)
            except ValidationError as exc:
                problems += validation_problems(exc, lines, shown(path), prefix=(i,))
                continue
            if q.slice == "vi_nodiac" and not q.question.isascii():
                problems.append(problem(shown(path), line_of(lines, (i, "question")), f"{i}.question", "slice vi_nodiac but the question has diacritics or other non-ASCII letters",
                                        "nhóm vi_nodiac nhưng câu hỏi có dấu hoặc ký tự ngoài ASCII"))
            for name in ("lessons", "near"):
                for j, lid in enumerate(getattr(q, name)):
                    if lid not in lessons and lid not in unreadable:
                        problems.append(problem(shown(path), line_of(lines, (i, name, j)), f"{i}.{name}", f"unknown lesson {lid!r}", f"không có bài học {lid!r}"))
            questions.append(q)
            eval_files.setdefault(q.id, path.stem)
    ids = [q.id for q in questions]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        problems.append(problem("content/eval", 1, "", f"duplicate question id(s): {', '.join(dupes)}", f"mã câu hỏi đánh giá bị trùng: {', '.join(dupes)}"))

    if framework is None:
        raise ContentError(collapse(problems))
    library = Library(framework=framework, lessons=lessons, eval_questions=questions, eval_files=eval_files)
    library.audiences = _load_audiences(content_dir / "audiences.yaml", shown, library, problems)
    for path, _, raw, lines in parsed:
        problems += example_rules(raw, lines, shown(path), library.audiences)
    taught = {s for lesson in lessons.values() for s in lesson.skills}
    for i, s in enumerate(framework.skills):
        at = line_of(fw_lines, ("skills", i))
        if s.id not in taught and s.no_lesson is None:
            problems.append(problem(shown(fw_path), at, f"skills.{i}", f"no lesson teaches {s.id!r}: write one, or say why in `no_lesson`",
                                    f"chưa bài học nào dạy {s.id!r}: hãy viết bài, hoặc ghi lý do ở `no_lesson`", severity="warning", rule="no-lesson"))
        elif s.id in taught and s.no_lesson is not None:
            problems.append(problem(shown(fw_path), at, f"skills.{i}.no_lesson", f"{s.id!r} has lessons now: remove `no_lesson`",
                                    f"{s.id!r} đã có bài học: hãy xóa `no_lesson`", severity="warning", rule="no-lesson"))
    lesson_lines = {lesson.id: lines for _, lesson, _, lines in parsed if lesson is not None}
    problems += quality_problems(library, {lid: shown(content_dir / "lessons" / f"{lid}.yaml") for lid in lessons}, lesson_lines)
    problems = collapse(problems)
    if any(p.severity == "error" for p in problems):
        raise ContentError(problems)
    library.warnings = problems
    return library
