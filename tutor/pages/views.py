"""What the pages show, gathered from the domain: a learner's skills, next steps, a lesson's answers,
the placement quiz, and the desk's artefacts and data overview. No HTTP here; `api.py` renders it.

Lesson text is a small Markdown subset (paragraphs, `- ` lists, `**bold**`), turned into safe HTML:

>>> str(lesson_html("Hai dấu hiệu:\\n\\n- **hối thúc**\\n- đe doạ <b>"))
'<p>Hai dấu hiệu:</p>\\n<ul><li><strong>hối thúc</strong></li><li>đe doạ &lt;b&gt;</li></ul>'

A level is told by its code, its name and a row of filled and empty marks, never by colour alone:

>>> level_marks(3)
'■■■□□□□□'
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from markupsafe import Markup, escape
from sqlalchemy import String, cast, func, select
from sqlalchemy.orm import Session

from tutor.clock import utcnow
from tutor.content.library import Lesson, Library
from tutor.events.intake import LearnerEvent, record_events
from tutor.recommend.policy import Recommender, explain, load_state, skill_name
from tutor.store.tables import Event, Learner, Mastery
from tutor.tracing.artefacts import MasteryModel
from tutor.tracing.mastery import mastery_report

LEVELS = 8
BOLD = re.compile(r"\*\*(.+?)\*\*")


def level_marks(level: int | None) -> str:
    n = level or 0
    return "■" * n + "□" * (LEVELS - n)


def _inline(text: str) -> str:
    return BOLD.sub(r"<strong>\1</strong>", str(escape(text)))


def lesson_html(body: str) -> Markup:
    """Paragraphs and lists of a lesson section as HTML; everything else is escaped."""
    blocks = []
    for block in re.split(r"\n\s*\n", body.strip()):
        lines = [line.strip() for line in block.splitlines() if line.strip()]
        if lines and all(line.startswith("- ") for line in lines):
            blocks.append("<ul>" + "".join(f"<li>{_inline(line[2:])}</li>" for line in lines) + "</ul>")
        elif lines:
            blocks.append(f"<p>{_inline(' '.join(lines))}</p>")
    return Markup("\n".join(blocks))


@dataclass(frozen=True)
class SkillView:
    skill_id: str
    band_name: str
    p_mastered: float
    mastered: bool
    n_observations: int
    lessons: list[tuple[str, str]]  # (lesson id, title)


@dataclass(frozen=True)
class CompetenceView:
    code: str
    name: str
    p_mastered: float
    level: int | None
    level_code: str | None
    level_name: str | None
    skills: list[SkillView]


@dataclass(frozen=True)
class DomainView:
    code: str
    name: str
    p_mastered: float
    competences: list[CompetenceView]


def mastery_rows(session: Session, learner: str) -> dict[str, tuple[float, int, datetime]]:
    return {m.skill_id: (m.p_mastered, m.n_observations, m.updated_at) for m in session.scalars(select(Mastery).where(Mastery.learner_id == learner))}


def my_skills(session: Session, library: Library, model: MasteryModel, learner: str, threshold: float, lang: str) -> list[DomainView]:
    """The six domains with their competences (level and mastery), each with its skills and their lessons."""
    report = mastery_report(library, model, mastery_rows(session, learner), threshold)
    skills_of: dict[str, list[SkillView]] = {}
    for s in report.skills:
        band = library.bands[s.band]
        lessons = [(lesson.id, lesson.title.get(lang)) for lesson in library.lessons_for_skill(s.skill_id)]
        skills_of.setdefault(s.competence, []).append(SkillView(s.skill_id, band.name.get(lang), s.p_mastered, s.mastered, s.n_observations, lessons))
    band_by_code = {b.code: b for b in library.framework.bands}
    domains = []
    for d in report.domains:
        comps = []
        for c in (c for c in report.competences if c.domain == d.code):
            reached = band_by_code.get((c.level_code or "")[:2])
            level_name = f"{reached.name.get(lang)} {c.level_code[2:]}" if reached and c.level_code else None
            comps.append(CompetenceView(c.code, library.competences[c.code].name.get(lang), c.p_mastered, c.level, c.level_code, level_name, skills_of.get(c.code, [])))
        domains.append(DomainView(d.code, library.domains[d.code].name.get(lang), d.p_mastered, comps))
    return domains


@dataclass(frozen=True)
class Example:
    """A lesson's example for the learner's audience, as the lesson page shows it."""

    audience: str
    audience_name: str  # lower-cased to follow "Ví dụ dành cho ..."
    text: str


def lesson_example(library: Library, lesson: Lesson, audience: str | None, lang: str) -> Example | None:
    text = lesson.example_for(audience)
    if audience is None or text is None or audience not in library.audiences:
        return None
    name = library.audiences[audience].name.get(lang)
    return Example(audience, name[:1].lower() + name[1:], text.get(lang))


@dataclass(frozen=True)
class Step:
    lesson_id: str | None
    item_id: str | None
    kind: str
    title: str | None
    skill_name: str
    reason: str
    message: str
    p_mastered: float


def next_steps(session: Session, library: Library, model: MasteryModel, recommender: Recommender, learner: str, lang: str, n: int = 5) -> list[Step] | None:
    """The recommender's next lessons with their reason sentences; None for a learner with no answers yet."""
    now = utcnow()
    state, known = load_state(session, learner, now, recommender.policy, model.next_answer)
    if not known or not state.has_evidence:
        return None
    goal = recommender.goal(library, model, None)
    result = recommender.recommend(library, model, state, goal, now, n=n, kind="lesson")
    steps = []
    for rec in result.recommendations:
        lesson = library.lessons.get(rec.lesson_id) if rec.lesson_id else None
        steps.append(Step(rec.lesson_id, rec.item_id, rec.kind, lesson.title.get(lang) if lesson else None, skill_name(library, rec.skill_id, lang),
                          rec.reason, explain(rec, library, lang), rec.p_mastered))
    return steps


@dataclass(frozen=True)
class Marked:
    item_id: str
    question: str
    chosen: str
    right: bool
    correct_option: str
    explanation: str


@dataclass
class LessonResult:
    marked: list[Marked] = field(default_factory=list)
    before: dict[str, float] = field(default_factory=dict)
    after: dict[str, float] = field(default_factory=dict)

    @property
    def n_right(self) -> int:
        return sum(m.right for m in self.marked)


def answer_lesson(session: Session, library: Library, model: MasteryModel, learner: str, lesson: Lesson, choices: dict[str, int], lang: str) -> LessonResult:
    """Grade the chosen options and record them as answers (the intake of POST /v1/events); the caller commits."""
    now = utcnow()
    skills = sorted({s for item in lesson.items if item.id in choices for s in item.skills})
    result = LessonResult()
    before = mastery_rows(session, learner)
    result.before = {s: before[s][0] if s in before else model.params(s).prior for s in skills}
    events = []
    for item in lesson.items:
        if item.id not in choices:
            continue
        chosen = choices[item.id]
        options = item.options.get(lang)
        right = chosen == item.correct
        result.marked.append(Marked(item.id, item.question.get(lang), options[chosen], right, options[item.correct], item.explanation.get(lang)))
        events.append(LearnerEvent(
            event_id=f"page-{uuid.uuid4().hex}", learner=learner, kind="answer", occurred_at=now, source="pages",
            skills=tuple(item.skills), score=float(right), item_id=item.id, lesson_id=lesson.id,
        ))
    record_events(session, events, model)
    session.flush()
    after = mastery_rows(session, learner)
    result.after = {s: after[s][0] if s in after else result.before[s] for s in skills}
    return result


def held_about(session: Session, learner: str) -> dict[str, int] | None:
    """How much the service holds about a learner (for My data), or None when nothing."""
    if session.get(Learner, learner) is None:
        return None
    events = session.scalar(select(func.count()).select_from(Event).where(Event.learner_id == learner)) or 0
    skills = session.scalar(select(func.count()).select_from(Mastery).where(Mastery.learner_id == learner)) or 0
    return {"events": events, "skills": skills}


@dataclass(frozen=True)
class Report:
    name: str
    text: str
    images: list[str]  # file names beside report.md


@dataclass(frozen=True)
class Artefact:
    name: str
    active: bool
    metadata: dict
    reports: list[Report]

    @property
    def summary(self) -> dict[str, str]:
        """The few metadata fields a researcher scans for."""
        raw = self.metadata.get("data")
        data = raw if isinstance(raw, dict) else {}
        shown = {"version": self.metadata.get("version"), "kind": self.metadata.get("kind"), "created": self.metadata.get("created"),
                 "rows": data.get("n_rows"), "data": data.get("path")}
        return {k: str(v) for k, v in shown.items() if v is not None}


REPORT_IMAGES = ("roc.png", "reliability.png")


def artefacts(models_dir: Path, active: str) -> list[Artefact]:
    """Every artefact under models/ (a folder with model.json), with its metadata and evaluation reports."""
    found = []
    for directory in sorted(p for p in models_dir.iterdir() if (p / "model.json").is_file()):
        found.append(artefact(models_dir, directory.name, active))
    return found


def artefact(models_dir: Path, name: str, active: str) -> Artefact:
    directory = models_dir / name
    meta_path = directory / "metadata.json"
    try:
        metadata = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
    except ValueError:
        metadata = {"problem": "metadata.json is not valid JSON"}
    reports = []
    evaluation = directory / "evaluation"
    if evaluation.is_dir():
        for folder in sorted(p for p in evaluation.iterdir() if (p / "report.md").is_file()):
            images = [i for i in REPORT_IMAGES if (folder / i).is_file()]
            reports.append(Report(folder.name, (folder / "report.md").read_text(encoding="utf-8"), images))
    return Artefact(name, name == active, metadata if isinstance(metadata, dict) else {}, reports)


def artefact_names(models_dir: Path) -> set[str]:
    return {p.name for p in models_dir.iterdir() if (p / "model.json").is_file()}


@dataclass(frozen=True)
class Overview:
    learners: int
    answers: int
    per_day: list[tuple[str, int]]
    per_skill: list[tuple[str, int]]
    skipped: list[tuple[str, int]]


def data_overview(session: Session, days: int = 30) -> Overview:
    """Answers per day (the last `days` days) and per skill, learners, and skipped statements by reason."""
    since = utcnow() - timedelta(days=days)
    day = func.date(Event.occurred_at)
    per_day = [(str(d), n) for d, n in session.execute(
        select(day, func.count()).where(Event.kind == "answer", Event.occurred_at >= since).group_by(day).order_by(day))]
    per_skill_counts: dict[str, int] = {}
    as_text = cast(Event.skills, String)  # JSON has no equality on PostgreSQL; its text does
    for skills, n in session.execute(select(as_text, func.count()).where(Event.kind == "answer").group_by(as_text)):
        for s in json.loads(skills or "[]"):
            per_skill_counts[s] = per_skill_counts.get(s, 0) + n
    skipped = [(reason or "—", n) for reason, n in session.execute(
        select(Event.skip_reason, func.count()).where(Event.kind == "skipped").group_by(Event.skip_reason).order_by(func.count().desc()))]
    return Overview(
        learners=session.scalar(select(func.count()).select_from(Learner)) or 0,
        answers=session.scalar(select(func.count()).select_from(Event).where(Event.kind == "answer")) or 0,
        per_day=per_day, per_skill=sorted(per_skill_counts.items()), skipped=skipped,
    )


def bar_chart(title: str, bars: list[tuple[str, int]], width: int = 640, bar_height: int = 18) -> Markup:
    """A horizontal bar chart as inline SVG, each bar labelled with its count (so no colour is needed to read it).

    >>> chart = bar_chart("Answers per skill", [("1.1-basic", 3)])
    >>> '<title id="chart-answers-per-skill">Answers per skill</title>' in chart, '>3</text>' in chart
    (True, True)
    """
    top = max((n for _, n in bars), default=0) or 1
    label_w, gap = 170, 4
    height = max(1, len(bars)) * (bar_height + gap) + 8
    rows = []
    for i, (label, n) in enumerate(bars):
        y = 4 + i * (bar_height + gap)
        w = max(1, round((width - label_w - 60) * n / top))
        rows.append(
            f'<text x="{label_w - 6}" y="{y + bar_height - 5}" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w}" height="{bar_height}" class="bar"/>'
            f'<text x="{label_w + w + 6}" y="{y + bar_height - 5}">{n}</text>'
        )
    slug = "chart-" + "-".join(re.findall(r"[a-z0-9]+", title.lower()))
    return Markup(
        f'<svg role="img" aria-labelledby="{slug}" viewBox="0 0 {width} {height}" class="chart">'
        f'<title id="{slug}">{escape(title)}</title>{"".join(rows)}</svg>'
    )
