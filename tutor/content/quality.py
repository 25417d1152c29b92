"""Whether the items and the evaluation questions measure: near copies across skills, questions that copy
their lesson, and the counts `tutor content stats` reports.

Near copies: an item whose question and options say nearly what an item of another skill says
lets one answer count as evidence for two skills. Similarity is the Jaccard overlap of the English
content words (question and options, stop words left out); `NEAR_DUPLICATE` was measured on the
bundled library (277 items, 37,560 pairs across skills; content/README.md): the five pairs a reviewer
named as near copies score 0.81, 0.36, 0.34, 0.31 and 0.28, the highest other pair 0.308. At 0.34
the rule flags three of the five and nothing else; lower, it starts flagging pairs that only share a topic.

Questions that copy their lesson: a question that repeats a run of the lesson's words lets retrieval
match it word for word, so the evaluation overstates what learners typing their own words get. A
question is *heavy* when it shares a run of `HEAVY_RUN` or more consecutive words (Vietnamese:
syllables, compared without diacritics) with the text of a lesson it names. Four is the smallest run
that is more than one term: "tài khoản định danh" is one term of four syllables, "tài khoản định danh
điện tử" already a phrase.

>>> longest_shared_run("quen mat khau vneid thi lam sao", "Nếu quên mật khẩu VNeID, hãy ...")
4
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from typing import TYPE_CHECKING

from tutor.content.rules import Problem, fold, problem
from tutor.content.yaml_lines import line_of

if TYPE_CHECKING:
    from tutor.content.library import Item, Lesson, Library

NEAR_DUPLICATE = 0.34
HEAVY_RUN = 4
_TOKEN = re.compile(r"[^\W_]+")
STOP_WORDS = frozenset(
    "a an the to of and or in on at for is are be you your it its that this what which do does should with by from as can not will i we they".split()
    + "he she his her their them my me".split()
)


def content_words(item: Item) -> frozenset[str]:
    text = item.question.en + " " + " ".join(item.options.en)
    return frozenset(w for w in (fold(t) for t in re.findall(r"[^\W\d_]+", text)) if w not in STOP_WORDS)


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 0.0


def near_duplicates(library: Library, threshold: float = NEAR_DUPLICATE) -> list[tuple[str, str, float]]:
    """(item, item, similarity) for items of disjoint skills at or above the threshold, most similar first."""
    words = {iid: content_words(item) for iid, (_, item) in library.items.items()}
    skills = {iid: set(item.skills) for iid, (_, item) in library.items.items()}
    found = []
    for a, b in itertools.combinations(sorted(words), 2):
        if skills[a] & skills[b]:
            continue
        s = similarity(words[a], words[b])
        if s >= threshold:
            found.append((a, b, round(s, 3)))
    return sorted(found, key=lambda t: (-t[2], t[0], t[1]))


def _tokens(text: str) -> list[str]:
    return [fold(t) for t in _TOKEN.findall(text)]


def longest_shared_run(question: str, text: str) -> int:
    """The longest run of consecutive words of `question` found in the same order in `text` (without diacritics)."""
    q, t = _tokens(question), _tokens(text)
    where: dict[str, list[int]] = {}
    for j, w in enumerate(t):
        where.setdefault(w, []).append(j)
    best, previous = 0, dict[int, int]()
    for w in q:
        current = {j: previous.get(j - 1, 0) + 1 for j in where.get(w, ())}
        best = max(best, *current.values(), 0)
        previous = current
    return best


def lesson_text(lesson: Lesson, lang: str) -> str:
    """What a learner reads in the lesson: title, objectives, section headings and bodies."""
    parts = [lesson.title.get(lang), *(lesson.objectives.get(lang) or [])]
    parts += [f"{s.heading.get(lang)} {s.body.get(lang)}" for s in lesson.sections]
    return "\n".join(p for p in parts if p)


def question_overlap(library: Library) -> dict:
    """Share of heavy answerable questions, per evaluation file and per slice (see the module's docstring)."""
    texts: dict[tuple[str, str], str] = {}
    groups: dict[str, dict[str, list[bool]]] = {"by_file": {}, "by_slice": {}}
    for q in library.eval_questions:
        if not q.lessons:
            continue
        lang = "en" if q.slice == "en" else "vi"
        for lid in q.lessons:
            if (lid, lang) not in texts:
                texts[(lid, lang)] = lesson_text(library.lessons[lid], lang)
        heavy = max(longest_shared_run(q.question, texts[(lid, lang)]) for lid in q.lessons) >= HEAVY_RUN
        groups["by_file"].setdefault(library.eval_files.get(q.id, ""), []).append(heavy)
        groups["by_slice"].setdefault(q.slice, []).append(heavy)
    return {"heavy_run": HEAVY_RUN} | {
        name: {key: {"questions": len(v), "heavy_share": round(sum(v) / len(v), 3)} for key, v in sorted(found.items())} for name, found in groups.items()
    }


def quality_problems(library: Library, files: dict[str, str], lines: dict[str, dict] | None = None) -> list[Problem]:
    """Warnings for near copies across skills (the later item of each pair is the one reported)."""
    out = []
    for a, b, s in near_duplicates(library):
        lesson = library.items[b][0]
        index = next(i for i, it in enumerate(lesson.items) if it.id == b)
        line = line_of((lines or {}).get(lesson.id, {}), ("items", index, "id"))
        out.append(problem(files.get(lesson.id, f"lesson {lesson.id}"), line, f"items.{index}",
                           f"{b!r} is nearly the same as item {a!r} of another skill (similarity {s:.2f}): rewrite one so each measures its own skill",
                           f"{b!r} gần giống câu {a!r} của một kỹ năng khác (độ giống {s:.2f}): hãy viết lại một câu để mỗi câu đo đúng kỹ năng của nó",
                           severity="warning", rule="near-duplicate"))
    return out


def key_is_longest(item: Item, lang: str = "vi") -> bool:
    """The correct option is strictly longer than every other: a test-wise learner picks it unseen."""
    options = item.options.get(lang)
    key = len(options[item.correct])
    return all(key > len(o) for i, o in enumerate(options) if i != item.correct)


def stats(library: Library) -> dict:
    """Counts a content editor checks at a glance."""
    slices: dict[str, int] = {}
    for q in library.eval_questions:
        key = "unanswerable" if not q.lessons else q.slice
        slices[key] = slices.get(key, 0) + 1
    taught = {s for lesson in library.lessons.values() for s in lesson.skills}
    items = [item for _, item in library.items.values()]
    positions: Counter = Counter()
    for item in items:
        positions[f"{item.correct} of {len(item.options.vi)}"] += 1
    per_band = {b.id: sum(1 for s in library.framework.skills if s.band == b.id) for b in library.framework.bands}
    taught_per_band = {b.id: sum(1 for s in library.framework.skills if s.band == b.id and s.id in taught) for b in library.framework.bands}
    longest = {lang: round(sum(key_is_longest(i, lang) for i in items) / len(items), 3) if items else 0.0 for lang in ("vi", "en")}
    dupes = near_duplicates(library)
    return {
        "domains": len(library.framework.domains),
        "competences": len(library.competences),
        "skills": len(library.skills),
        "skills_per_band": per_band,
        "skills_with_lessons": len(taught & set(library.skills)),
        "skills_with_lessons_per_band": taught_per_band,
        "skills_marked_no_lesson": sum(1 for s in library.framework.skills if s.no_lesson),
        "lessons": {lang: sum(1 for lesson in library.lessons.values() if lesson.title.get(lang)) for lang in ("vi", "en")},
        "items": len(items),
        "key_longest_share": longest,
        "key_positions": dict(sorted(positions.items(), key=lambda kv: (int(kv[0].split(" of ")[1]), int(kv[0].split(" of ")[0])))),
        "near_duplicates": {"threshold": NEAR_DUPLICATE, "pairs": [list(p) for p in dupes]},
        "lessons_with_sources": sum(1 for lesson in library.lessons.values() if lesson.sources),
        "lessons_reviewed": sum(1 for lesson in library.lessons.values() if lesson.last_reviewed),
        "words": {lang: sum(lesson.words(lang) for lesson in library.lessons.values()) for lang in ("vi", "en")},
        "eval_questions": {"total": len(library.eval_questions), **dict(sorted(slices.items()))},
        "eval_overlap": question_overlap(library),
    }
