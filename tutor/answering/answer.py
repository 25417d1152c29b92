"""Answering a learner's question from the lessons: a quoted sentence, where it comes from, what to study.

Two lessons, a words-only index (``bm25``: no model to load), a question typed without diacritics,
and one the lessons do not answer:

>>> from tutor.answering import HelpDesk
>>> from tutor.content.library import Lesson
>>> def lesson(lesson_id, title, sections):
...     item = {"skills": ["4.1-basic"], "difficulty": 0.5, "question": {"vi": "?", "en": "?"}, "correct": 0,
...             "options": {"vi": ["Có", "Không"], "en": ["Yes", "No"]}, "explanation": {"vi": "-", "en": "-"}}
...     return Lesson.model_validate({
...         "id": lesson_id, "skills": ["4.1-basic"], "duration_minutes": 10, "title": title,
...         "objectives": {"vi": ["-"], "en": ["-"]}, "sections": [{"heading": h, "body": b} for h, b in sections],
...         "items": [dict(item, id=f"{lesson_id}-{i}") for i in range(4)]})
>>> def t(vi, en):
...     return {"vi": vi, "en": en}
>>> passwords = lesson("strong-passwords", t("Mật khẩu mạnh", "Strong passwords"), [
...     (t("Độ dài", "Length"), t("Mật khẩu mạnh dài ít nhất 12 ký tự.", "A strong password has at least 12 characters.")),
...     (t("Mã OTP", "OTP codes"), t("Không bao giờ đọc mã OTP cho người khác.", "Never read an OTP code to anyone."))])
>>> calls = lesson("video-calls", t("Gọi video", "Video calls"), [
...     (t("Bắt đầu", "Starting"), t("Mở Zalo, chọn tên người thân rồi bấm biểu tượng máy quay.", "Open Zalo and tap the camera icon.")),
...     (t("Kết thúc", "Ending"), t("Bấm nút đỏ để kết thúc cuộc gọi.", "Tap the red button to end the call."))])
>>> desk = HelpDesk.build([passwords, calls], encoder="bm25")
>>> a = desk.ask("lam sao ket thuc cuoc goi video")
>>> a.answered, a.source.lesson_id, a.answer
(True, 'video-calls', 'Bấm nút đỏ để kết thúc cuộc gọi.')
>>> off_topic = desk.ask("Giá vàng hôm nay bao nhiêu?")
>>> off_topic.answered, off_topic.answer, off_topic.lessons[0].lesson_id
(False, None, 'strong-passwords')

The answer is extracted, never generated: the sentence (or the list it introduces) of the best
passage that shares the most rare question words with the question. A passage in the learner's
language is preferred (``LANG_MARGIN``); a passage in the other language answers when no passage in
the learner's language comes close, and says which language it is in.

Abstention: ``evidence`` = ``w * cosine + (1 - w) * coverage`` of the best passage, ``w`` being
the form's fusion weight, ``cosine`` the encoder's raw cosine and ``coverage`` the BM25 score over
the ideal score (about 1 when every question word is found). Below the form's threshold
(calibrated on the evaluation questions, both answerable and not: see calibration.json and
bench/results/retrieval.md) the answer is ``answered=False`` with the closest lessons and no quote,
unless a passage in another language has a cosine above the form's ``cross:`` threshold (a lesson
that lacks the learner's language), which then answers, labelled with its language.

Ties: the current lesson's passages get ``CURRENT_LESSON_BONUS`` and lessons teaching one of the
learner's weak skills ``WEAK_SKILL_BONUS`` on the fused 0..1 scale: enough to order near-equal
passages, far too little to lift an unrelated lesson over a clear match.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tutor.answering.calibration import evidence
from tutor.answering.encoders import DEFAULT_ENCODER, encoder_or_none
from tutor.answering.index import IndexSettings, LessonIndex, Ranking
from tutor.answering.lexical import analyse
from tutor.answering.passages import OBJECTIVES_SECTION, Document, Passage, sentences

CURRENT_LESSON_BONUS = 0.02
WEAK_SKILL_BONUS = 0.01
LANG_MARGIN = 0.10
MAX_ANSWER_WORDS = 90
SHORT_SENTENCE_WORDS = 12


@dataclass
class PassageHit:
    lesson_id: str
    lesson_title: str
    section: int  # index of the section in the lesson (-1: the lesson's objectives)
    heading: str
    lang: str  # language the passage is written in: "vi" or "en"
    text: str
    score: float  # fused score, 0..1, with the tie-break bonuses


@dataclass
class LessonSuggestion:
    lesson_id: str
    title: str
    lang: str  # language of the title
    score: float
    skills: list[str] = field(default_factory=list)


@dataclass
class Answer:
    question: str
    answered: bool
    answer: str | None  # extracted sentence(s); None when answered is False
    answer_lang: str | None  # language of the answer text, may differ from the question's
    source: PassageHit | None  # the passage the answer is quoted from
    passages: list[PassageHit]  # best passages, best first
    lessons: list[LessonSuggestion]  # lessons to study, best first
    question_lang: str  # "vi" or "en" (detected unless given)
    question_form: str  # "vi", "vi_nodiac" or "en"
    evidence: float
    threshold: float
    timings_ms: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def evidence_of(ranking: Ranking) -> float:
    """How strongly the best passage supports an answer (module docstring)."""
    if not ranking.passages:
        return 0.0
    return evidence(ranking.w_dense, ranking.top_dense, ranking.coverage)


def _sentence_score(sentence: str, lang: str, q_tokens: set[str], index: LessonIndex) -> float:
    toks = set(analyse(sentence, lang).folded)
    return sum(index.lexical.idf(t, "folded") for t in q_tokens & toks)


def _is_list_item(s: str) -> bool:
    return bool(s[:1] in "-*+•" or (s[:1].isdigit() and s[1:3].lstrip("0123456789")[:1] in (".", ")")))


def extract_answer(passage: Passage, question: str, question_lang: str, index: LessonIndex) -> str:
    """The sentence(s) of ``passage`` that answer the question best (see the module docstring)."""
    units = sentences(passage.text)
    if not units:
        return passage.text
    q_tokens = set(analyse(question, question_lang).folded)
    scores = [_sentence_score(u, passage.lang, q_tokens, index) for u in units]
    best = int(np.argmax(scores)) if max(scores) > 0 else 0
    chosen = [best]
    # A sentence introducing a list ("Cách làm:") brings its list; a list item brings its intro.
    if units[best].rstrip().endswith(":"):
        j = best + 1
        while j < len(units) and _is_list_item(units[j]) and len(chosen) < 7:
            chosen.append(j)
            j += 1
    elif _is_list_item(units[best]) and best > 0:
        start = best
        while start > 0 and _is_list_item(units[start - 1]):
            start -= 1
        if start > 0 and units[start - 1].rstrip().endswith(":") and best - start < 6:
            chosen = list(range(start - 1, best + 1))
    if max(scores) <= 0 or sum(len(units[i].split()) for i in chosen) < SHORT_SENTENCE_WORDS:
        if chosen[-1] + 1 < len(units):
            chosen.append(chosen[-1] + 1)
    out: list[str] = []
    n = 0
    for i in chosen:
        w = len(units[i].split())
        if out and n + w > MAX_ANSWER_WORDS:
            break
        out.append(units[i])
        n += w
    return "\n".join(out)


class HelpDesk:
    """Answers learners' questions from a :class:`LessonIndex` (thread-safe)."""

    def __init__(self, index: LessonIndex, k_passages: int = 5, k_lessons: int = 3):
        self.index = index
        self.k_passages = k_passages
        self.k_lessons = k_lessons

    @classmethod
    def build(
        cls,
        lessons: Iterable[Document],
        encoder: str = DEFAULT_ENCODER,
        encoder_threads: int | None = None,
        cache_dir: Path | None = None,
        progress: bool = False,
        settings: IndexSettings = IndexSettings(),
    ) -> HelpDesk:
        """A help desk over ``lessons``, the index built (or loaded from ``cache_dir``) with the
        encoder named ``encoder`` (``bm25``: words only); each process builds its own."""
        enc = encoder_or_none(encoder, encoder_threads)
        return cls(LessonIndex.build(lessons, enc, settings=settings, cache_dir=cache_dir, progress=progress))

    def add_or_replace_lesson(self, lesson: Document) -> dict[str, Any]:
        """Index a new or edited lesson; questions asked after this returns can be answered from it."""
        return self.index.add_or_replace_lesson(lesson)

    def add_or_replace_lessons(self, lessons: Sequence[Document]) -> dict[str, Any]:
        """Index many new or edited lessons with one rebuild (an imported course)."""
        return self.index.add_or_replace_lessons(lessons)

    def ask(
        self,
        question: str,
        lang: str | None = None,
        current_lesson: str | None = None,
        weak_skills: Iterable[str] = (),
    ) -> Answer:
        """Answer ``question``.

        ``lang``: the learner's language ("vi" or "en"), preferred for the answer and used when
        the question's own language is unclear; None = from the question alone.
        ``current_lesson``: id of the lesson the learner is on; ``weak_skills``: skill ids the
        learner has not mastered. Both only break near-ties.
        """
        t0 = time.perf_counter()
        index = self.index
        ranking = index.search(question, k=max(50, self.k_passages * 4), hint=lang)
        form = ranking.form
        weak = set(weak_skills)
        scores = ranking.fused.astype(np.float64).copy()
        for j, pi in enumerate(ranking.passages):
            p = index.passages[pi]
            if current_lesson and p.lesson_id == current_lesson:
                scores[j] += CURRENT_LESSON_BONUS
            if weak and weak.intersection(p.skills):
                scores[j] += WEAK_SKILL_BONUS
        order = np.lexsort((np.arange(len(scores)), -scores))
        ranked = [(ranking.passages[j], float(scores[j]), j) for j in order]
        preferred = lang if lang in ("vi", "en") else form.lang

        def hit(pi: int, score: float) -> PassageHit:
            p = index.passages[pi]
            return PassageHit(p.lesson_id, p.title, p.section, p.heading, p.lang, p.text, round(score, 4))

        def suggestion(lid: str, score: float) -> LessonSuggestion:
            info = index.lessons[lid]
            tlang = preferred if preferred in info["titles"] else next(iter(info["titles"]))
            return LessonSuggestion(lid, info["titles"][tlang], tlang, round(score, 4), list(info["skills"]))

        passages = [hit(pi, s) for pi, s, _ in ranked[: self.k_passages]]
        lessons: list[LessonSuggestion] = []
        seen: set[str] = set()
        for pi, s, _ in ranked:
            lid = index.passages[pi].lesson_id
            if lid in seen:
                continue
            seen.add(lid)
            lessons.append(suggestion(lid, s))
            if len(lessons) >= self.k_lessons:
                break

        evidence = evidence_of(ranking)
        threshold = index.calibration.abstain_below(form.key)
        answered = bool(ranked) and evidence >= threshold
        answer = source = answer_lang = None
        if not answered and ranking.query_vector is not None:
            # Fallback: a passage in another language (a lesson missing the learner's language).
            other = index.search(question, k=20, method="dense", query_vector=ranking.query_vector, lang=form.lang)
            for pi, cos in zip(other.passages, other.dense if other.dense is not None else []):
                if index.passages[pi].lang != form.lang:
                    if float(cos) >= index.calibration.other_language_above(form.key):
                        answered = True
                        source = hit(pi, float(cos))
                        answer = extract_answer(index.passages[pi], question, form.lang, index)
                        answer_lang = index.passages[pi].lang
                        lid = index.passages[pi].lesson_id
                        if all(sug.lesson_id != lid for sug in lessons):
                            lessons = [suggestion(lid, float(cos))] + lessons[: self.k_lessons - 1]
                    break
        if answered and source is None:
            top_pi, top_score, _ = ranked[0]
            top_lesson = index.passages[top_pi].lesson_id
            same = [(pi, s) for pi, s, _ in ranked if index.passages[pi].lang == preferred and s >= top_score - LANG_MARGIN]
            same_lesson = [(pi, s) for pi, s in same if index.passages[pi].lesson_id == top_lesson]
            pool = same_lesson or same or [(top_pi, top_score)]
            # prefer a section passage over the objectives list when they are close
            body = [(pi, s) for pi, s in pool if index.passages[pi].section != OBJECTIVES_SECTION and s >= pool[0][1] - LANG_MARGIN]
            pi, s = (body or pool)[0]
            source = hit(pi, s)
            answer = extract_answer(index.passages[pi], question, form.lang, index)
            answer_lang = index.passages[pi].lang
        timings = dict(ranking.timings_ms)
        timings["total_ms"] = round((time.perf_counter() - t0) * 1000, 2)
        return Answer(
            question=question,
            answered=answered,
            answer=answer,
            answer_lang=answer_lang,
            source=source,
            passages=passages,
            lessons=lessons,
            question_lang=form.lang,
            question_form=form.key,
            evidence=round(evidence, 4),
            threshold=round(threshold, 4),
            timings_ms={k: round(v, 2) for k, v in timings.items()},
        )
