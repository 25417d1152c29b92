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

import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tutor.answering.calibration import Calibration, evidence
from tutor.answering.compose import (
    DEFAULT_SPAN_WEIGHTS,
    FEATURES,
    MAX_ANSWER_WORDS,
    MAX_LIST_WORDS,
    STEP_KINDS,
    Span,
    Unit,
    asks_for,
    is_example,
    plain,
    question_kind,
    section_units,
    span_features,
    span_score,
    spans,
    with_relative,
)
from tutor.answering.encoders import DEFAULT_ENCODER, encoder_or_none
from tutor.answering.hints import HINT, QuizBook, QuizMatch, items_of
from tutor.answering.index import IndexSettings, LessonIndex, Ranking
from tutor.answering.lexical import analyse
from tutor.answering.passages import OBJECTIVES_SECTION, Document
from tutor.answering.spanvectors import SpanVectors

CURRENT_LESSON_BONUS = 0.02
WEAK_SKILL_BONUS = 0.01
SECTION_MARGIN = 0.15  # sections whose best passage is this close to the top one may hold the answer ...
TOP_LESSONS = 2  # ... and every section of the best lessons
MAX_SECTIONS = 10
SECTION_LINK = "/learn/lessons/{lesson_id}#section-{section}"  # the learner pages' address of a section
LESSON_LINK = "/learn/lessons/{lesson_id}"

# A sentence that names where to ask: a hotline or emergency number, an official site, the police.
CHANNEL = re.compile(
    r"tổng đài|hotline|đường dây|\bgọi (số )?\d{3}|\bcall \d{3}|\.gov\.vn|công an (xã|phường)|commune (or ward )?police|ward police|"
    r"hỏi trực tiếp|ask .* directly|nhà mạng|provider's hotline|bộ phận hỗ trợ|support team|help ?desk",
    re.IGNORECASE,
)

# Of those, a sentence that tells the learner to ask someone (not only names a site) is the better channel.
ASKS = re.compile(r"\bhỏi\b|liên hệ|\bgọi\b|tổng đài|hotline|công an (xã|phường)|\bask\b|\bcontact\b|\bcall\b|police", re.IGNORECASE)
ASKING_BONUS = 1.5


def section_link(lesson_id: str, section: int) -> str:
    """Where the learner reads the whole section (the lesson's page for its objectives)."""
    return SECTION_LINK.format(lesson_id=lesson_id, section=section) if section >= 0 else LESSON_LINK.format(lesson_id=lesson_id)


@dataclass
class PassageHit:
    lesson_id: str
    lesson_title: str
    section: int  # index of the section in the lesson (-1: the lesson's objectives)
    heading: str
    lang: str  # language the passage is written in: "vi" or "en"
    text: str
    score: float  # fused score, 0..1, with the tie-break bonuses
    link: str = ""  # the whole section on the learner pages


@dataclass
class LessonSuggestion:
    lesson_id: str
    title: str
    lang: str  # language of the title
    score: float
    skills: list[str] = field(default_factory=list)


@dataclass
class ChannelQuote:
    """A sentence of a lesson naming where to ask (quoted, like an answer)."""

    text: str
    lesson_id: str
    section: int
    lang: str
    link: str


@dataclass
class Answer:
    question: str
    answered: bool
    answer: str | None  # extracted span; None when not answered or when the reply is a hint
    answer_lang: str | None  # language of the answer text, may differ from the question's
    source: PassageHit | None  # the passage the answer is quoted from (or the section a hint points to)
    passages: list[PassageHit]  # best passages, best first
    lessons: list[LessonSuggestion]  # lessons to study, best first
    question_lang: str  # "vi" or "en" (detected unless given)
    question_form: str  # "vi", "vi_nodiac" or "en"
    evidence: float
    threshold: float
    question_kind: str = "fact"  # compose.KINDS
    mode: str = "not_in_lessons"  # answer | hint | not_in_lessons
    hint: str | None = None  # for a quiz question: where to look and why, never the key
    quiz_item: str | None = None  # the quiz item the question matched
    official_channel: ChannelQuote | None = None  # when not answered: where the closest lesson says to ask
    support: float = 0.0  # share of the question's rare-word weight the chosen span holds
    timings_ms: dict[str, float] = field(default_factory=dict)
    candidates: list[Composed] = field(default_factory=list, repr=False)  # every span weighed (``ask(keep_candidates=True)``)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("candidates")
        return data


def evidence_of(ranking: Ranking) -> float:
    """How strongly the best passage supports an answer (module docstring)."""
    if not ranking.passages:
        return 0.0
    return evidence(ranking.w_dense, ranking.top_dense, ranking.coverage)


def _tokens(text: str, lang: str) -> set[str]:
    """Tokens for matching a question to a span: folded syllables and pairs (Vietnamese), stems (other)."""
    t = analyse(text, lang)
    return set(t.folded if lang == "vi" else t.exact)


@dataclass
class Composed:
    """The span chosen to answer, with what the evaluation and the abstention need to know of it."""

    text: str
    lesson_id: str
    section: int
    lang: str
    shape: str
    support: float  # share of the question's rare-word weight found in the span, its heading and title
    score: float
    features: list[float] = field(default_factory=list)
    n_words: int = 0
    missing: float = 0.0  # idf of the rarest question word found nowhere in the span's lesson (0: none missing)
    lacks_type: bool = False  # the question asks a fee, a phone number, a time, an age or a recovery the span does not give
    cosine: float = 0.0  # the encoder's cosine of question and span (its passage's when the span has no vector)
    span_missing: float = 0.0  # idf of the rarest question word found neither in the span nor in its heading and title

    def near_miss_features(self, margin: float) -> dict[str, float]:
        """What the near-miss test weighs (``ANSWERABLE_FEATURES``); ``margin``: evidence over its threshold."""
        return {"support": self.support, "missing": self.missing, "margin": margin, "lexical": self.features[0], "cosine": self.cosine,
                "span_missing": self.span_missing}


ANSWERABLE_FEATURES = ("support", "missing", "margin", "lexical", "cosine", "span_missing")


def answers_near_miss(calibration: Calibration, best: Composed, margin: float) -> bool:
    """The near-miss test on the chosen span: a question asking a kind of fact (a fee, a phone number,
    a time, an age, how to recover a forgotten password) that the span does not give is not answered,
    whatever else matches; otherwise the fitted logistic model decides (``Calibration.answers_near_miss``)."""
    return not best.lacks_type and calibration.answers_near_miss(best.near_miss_features(margin))


@dataclass
class Candidate:
    """A section of one of the top passages, as a place to take an answer from."""

    passage: int  # index of its best passage in index.passages
    score: float  # that passage's fused score (with the bonuses)
    cosine: float


class Composer:
    """Chooses the span that answers (compose module docstring) from the sections of the top passages."""

    def __init__(self, index: LessonIndex, span_vectors: SpanVectors | None = None):
        self.index = index
        self.span_vectors = span_vectors or SpanVectors()
        self._units: dict[tuple[str, int, str], list[Unit]] = {}
        self._spans: dict[tuple[str, int, str], list[tuple[Span, frozenset[str]]]] = {}
        self._matrix: dict[tuple[str, int, str], tuple[np.ndarray, np.ndarray]] = {}
        self._context: dict[tuple[str, int, str], frozenset[str]] = {}
        self._lesson_tokens: dict[tuple[str, str], frozenset[str]] = {}
        self._stamp = ""

    def _fresh(self) -> None:
        if self._stamp != self.index.content_hash:
            self._units, self._spans, self._context, self._lesson_tokens, self._matrix = {}, {}, {}, {}, {}
            self._stamp = self.index.content_hash

    def lesson_tokens(self, lesson_id: str, lang: str) -> frozenset[str]:
        """Every token of a lesson in one language (title, headings, bodies)."""
        self._fresh()
        key = (lesson_id, lang)
        got = self._lesson_tokens.get(key)
        if got is None:
            titles = self.index.lessons.get(lesson_id, {}).get("titles", {})
            texts = [titles.get(lang, "")] + [b for (_, b_lang), b in self.index.bodies.get(lesson_id, {}).items() if b_lang == lang]
            texts += [p.heading for p in self.index.passages if p.lesson_id == lesson_id and p.lang == lang]
            got = self._lesson_tokens[key] = frozenset(_tokens("\n".join(texts), lang))
        return got

    def units_of(self, lesson_id: str, section: int, lang: str) -> list[Unit]:
        """The sentences and list items of a section (remembered until the index changes)."""
        self.spans_of(lesson_id, section, lang)
        return self._units[(lesson_id, section, lang)]

    def spans_of(self, lesson_id: str, section: int, lang: str) -> list[tuple[Span, frozenset[str]]]:
        self._fresh()
        key = (lesson_id, section, lang)
        got = self._spans.get(key)
        if got is None:
            body = self.index.bodies.get(lesson_id, {}).get((section, lang), "")
            units = section_units(body)
            got = [(sp, frozenset(_tokens(sp.text, lang))) for sp in spans(units)]
            self._units[key], self._spans[key] = units, got
        return got

    def all_spans(self) -> list[str]:
        """The text of every span of every section of the index (what ``SpanVectors`` embeds)."""
        return [sp.text for lid, bodies in self.index.bodies.items() for (section, lang) in bodies for sp, _ in self.spans_of(lid, section, lang)]

    def span_cosines(self, lesson_id: str, section: int, lang: str, query_vector: np.ndarray | None, fallback: float) -> np.ndarray:
        """The cosine of the question with each span of a section; ``fallback`` (the passage's) where a span has no vector."""
        spans_ = self.spans_of(lesson_id, section, lang)
        if query_vector is None or not len(self.span_vectors):
            return np.full(len(spans_), fallback)
        key = (lesson_id, section, lang)
        got = self._matrix.get(key)
        if got is None:
            vecs = [self.span_vectors.get(sp.text) for sp, _ in spans_]
            dim = len(query_vector)
            has = np.asarray([v is not None for v in vecs], dtype=bool)
            matrix = np.stack([v if v is not None else np.zeros(dim, np.float32) for v in vecs]) if vecs else np.zeros((0, dim), np.float32)
            got = self._matrix[key] = (matrix, has)
        matrix, has = got
        return np.where(has, matrix @ query_vector, fallback)

    def question_weights(self, question: str, lang: str) -> dict[str, float]:
        field_name = "folded" if lang == "vi" else "exact"
        return {t: self.index.lexical.idf(t, field_name) for t in _tokens(question, lang) if t not in QUESTION_WORDS}

    def compose(
        self, question: str, lang: str, kind: str, candidates: Sequence[Candidate], weights: dict[str, float], query_vector: np.ndarray | None = None,
    ) -> list[Composed]:
        """Every span of the candidates' sections, best first (``query_vector``: the question's, for the span cosines)."""
        index = self.index
        q_weights = self.question_weights(question, lang)
        answer_type = asks_for(question)
        total = sum(q_weights.values()) or 1.0
        top_score = candidates[0].score if candidates else 0.0
        top_cos = candidates[0].cosine if candidates else 0.0
        out: list[Composed] = []
        missing: dict[str, float] = {}
        for c in candidates:
            p = index.passages[c.passage]
            context = self._context.get((p.lesson_id, p.section, p.lang))
            if context is None:
                context = self._context[(p.lesson_id, p.section, p.lang)] = frozenset(_tokens(f"{p.title}. {p.heading}", p.lang))
            if p.lesson_id not in missing:
                have = self.lesson_tokens(p.lesson_id, p.lang)
                missing[p.lesson_id] = max((w for t, w in q_weights.items() if "_" not in t and t not in have), default=0.0)
            cosines = self.span_cosines(p.lesson_id, p.section, p.lang, query_vector, c.cosine)
            for (sp, toks), cos in zip(self.spans_of(p.lesson_id, p.section, p.lang), cosines.tolist()):
                f = span_features(sp, kind, q_weights, context, toks, c.score - top_score, c.cosine - top_cos, answer_type, cos)
                held = sum(w for t, w in q_weights.items() if t in toks or t in context) / total
                lacks = answer_type is not None and not f[FEATURES.index("gives_type")]
                span_missing = max((w for t, w in q_weights.items() if "_" not in t and t not in toks and t not in context), default=0.0)
                out.append(Composed(sp.text, p.lesson_id, p.section, p.lang, sp.shape, round(held, 4), 0.0, f, sp.n_words, round(missing[p.lesson_id], 4), lacks,
                                    round(cos, 4), round(span_missing, 4)))
        with_relative(out)
        for span in out:
            span.score = span_score(span.features, weights)
        out.sort(key=lambda span: -span.score)
        return out


# Question words and fillers (folded Vietnamese, English stems): they say what kind of answer is
# wanted, not what it is about, so they are not counted when matching a question to a span.
QUESTION_WORDS = frozenset(
    "lam sao the nao cach nao gi la_gi khong co duoc nen phai can toi minh ban em anh chi thi ma vay a nhi nhe oi hay "
    "lam_sao the_nao co_the duoc_khong khong_a what how why where when which who whether should can do does is are "
    "i my me you your we it that this".split()
)
class HelpDesk:
    """Answers learners' questions from a :class:`LessonIndex` (thread-safe)."""

    def __init__(self, index: LessonIndex, k_passages: int = 5, k_lessons: int = 3, quiz: QuizBook | None = None, span_vectors: SpanVectors | None = None):
        self.index = index
        self.k_passages = k_passages
        self.k_lessons = k_lessons
        self.quiz = quiz or QuizBook()
        self.composer = Composer(index, span_vectors)

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
        encoder named ``encoder`` (``bm25``: words only); each process builds its own. The lessons'
        quiz items are kept so that a quiz question gets a hint, not its key. The vectors of the answer
        spans are loaded from ``cache_dir`` too, and those missing embedded (spanvectors.py)."""
        lessons = list(lessons)
        enc = encoder_or_none(encoder, encoder_threads)
        quiz = QuizBook()
        for lesson in lessons:
            quiz.add(lesson.id, items_of(lesson))
        desk = cls(LessonIndex.build(lessons, enc, settings=settings, cache_dir=cache_dir, progress=progress), quiz=quiz)
        if enc is not None:
            texts = desk.composer.all_spans()
            bar = None
            if progress:
                from tqdm import tqdm  # lazy: only the command line shows a bar

                bar = tqdm(total=len(set(texts)), desc=f"embedding answer spans ({enc.name})", unit="span")
            desk.composer.span_vectors = SpanVectors.build(texts, enc, cache_dir, progress=bar.update if bar else None)
            if bar:
                bar.close()
        return desk

    def add_or_replace_lesson(self, lesson: Document) -> dict[str, Any]:
        """Index a new or edited lesson; questions asked after this returns can be answered from it."""
        self.quiz.add(lesson.id, items_of(lesson))
        return self.index.add_or_replace_lesson(lesson)

    def add_or_replace_lessons(self, lessons: Sequence[Document]) -> dict[str, Any]:
        """Index many new or edited lessons with one rebuild (an imported course)."""
        for lesson in lessons:
            self.quiz.add(lesson.id, items_of(lesson))
        return self.index.add_or_replace_lessons(lessons)

    def ask(
        self,
        question: str,
        lang: str | None = None,
        current_lesson: str | None = None,
        weak_skills: Iterable[str] = (),
        placement: bool = False,
        max_words: int = MAX_ANSWER_WORDS,
        keep_candidates: bool = False,
    ) -> Answer:
        """Answer ``question``.

        ``lang``: the learner's language ("vi" or "en"), preferred for the answer and used when
        the question's own language is unclear; None = from the question alone.
        ``current_lesson``: id of the lesson the learner is on (breaks near-ties, and a question
        that is one of its quiz items gets a hint); ``placement``: the learner is taking the placement
        quiz (a question that is any item gets a hint); ``weak_skills``: skill ids the learner has not
        mastered (break near-ties). ``max_words``: the longest answer but for a whole list of steps.
        ``keep_candidates``: keep every span weighed in ``Answer.candidates`` (for the evaluation).
        """
        t0 = time.perf_counter()
        index = self.index
        ranking = index.search(question, k=max(50, self.k_passages * 4), hint=lang)
        form = ranking.form
        kind = question_kind(question)
        weak = set(weak_skills)
        scores = ranking.fused.astype(np.float64).copy()
        for j, pi in enumerate(ranking.passages):
            p = index.passages[pi]
            if current_lesson and p.lesson_id == current_lesson:
                scores[j] += CURRENT_LESSON_BONUS
            if weak and weak.intersection(p.skills):
                scores[j] += WEAK_SKILL_BONUS
        order = np.lexsort((np.arange(len(scores)), -scores))
        cosines = ranking.dense if ranking.dense is not None else np.zeros(len(scores))
        ranked = [(ranking.passages[j], float(scores[j]), float(cosines[j])) for j in order]
        preferred = lang if lang in ("vi", "en") else form.lang

        def hit(pi: int, score: float) -> PassageHit:
            p = index.passages[pi]
            return PassageHit(p.lesson_id, p.title, p.section, p.heading, p.lang, p.text, round(score, 4), section_link(p.lesson_id, p.section))

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
        weights = index.calibration.span_weights or DEFAULT_SPAN_WEIGHTS
        result = Answer(
            question=question, answered=False, answer=None, answer_lang=None, source=None, passages=passages, lessons=lessons,
            question_lang=form.lang, question_form=form.key, evidence=round(evidence, 4), threshold=round(threshold, 4), question_kind=kind,
        )
        quiz = self.quiz.match(question, current_lesson, placement)
        if quiz is not None and quiz.lesson_id in index.lessons:
            self._hint(result, quiz, preferred, hit)
        elif ranked and evidence >= threshold:
            top_score = ranked[0][1]
            same = [c for c in ranked if index.passages[c[0]].lang == preferred] or ranked
            best_lessons: list[str] = []
            for pi, _, _ in same:
                lid = index.passages[pi].lesson_id
                if lid not in best_lessons:
                    best_lessons.append(lid)
            pool = [c for c in same if c[1] >= top_score - SECTION_MARGIN or index.passages[c[0]].lesson_id in best_lessons[:TOP_LESSONS]]
            sections: dict[tuple[str, int], Candidate] = {}
            for pi, s, cos in pool:  # best first: each section keeps its best passage
                p = index.passages[pi]
                if len(sections) < MAX_SECTIONS:
                    sections.setdefault((p.lesson_id, p.section), Candidate(pi, s, cos))
            # the objectives say what a lesson teaches, not how: a section answers when one is there
            candidates = [c for c in sections.values() if index.passages[c.passage].section != OBJECTIVES_SECTION] or list(sections.values())
            composed = self.composer.compose(question, index.passages[candidates[0].passage].lang, kind, candidates, weights, ranking.query_vector)
            if keep_candidates:
                result.candidates = composed
            self._answer(result, composed, candidates, max_words, hit)
        elif ranking.query_vector is not None:
            # Fallback: a passage in another language (a lesson missing the learner's language).
            other = index.search(question, k=20, method="dense", query_vector=ranking.query_vector, lang=form.lang)
            for pi, cos in zip(other.passages, other.dense if other.dense is not None else []):
                if index.passages[pi].lang != form.lang:
                    if float(cos) >= index.calibration.other_language_above(form.key):
                        p = index.passages[pi]
                        composed = self.composer.compose(question, p.lang, kind, [Candidate(pi, float(cos), float(cos))], weights, ranking.query_vector)
                        self._answer(result, composed, [Candidate(pi, float(cos), float(cos))], max_words, hit, check_support=False)
                        if result.answered and all(sug.lesson_id != p.lesson_id for sug in lessons):
                            result.lessons = [suggestion(p.lesson_id, float(cos))] + lessons[: self.k_lessons - 1]
                    break
        if not result.answered and result.mode != "hint":
            result.mode = "not_in_lessons"
            result.official_channel = self._channel(question, form.lang, preferred, [sug.lesson_id for sug in result.lessons[:2]])
        timings = dict(ranking.timings_ms)
        timings["search_ms"] = timings.pop("total_ms", 0.0)
        timings["total_ms"] = round((time.perf_counter() - t0) * 1000, 2)
        result.timings_ms = {k: round(v, 2) for k, v in timings.items()}
        return result

    def _answer(self, result: Answer, composed: list[Composed], candidates: list[Candidate], max_words: int, hit, check_support: bool = True) -> None:
        """Fill in the best span (within ``max_words``, a whole list of steps excepted), or abstain
        when even the best span holds too little of the question: a near miss."""
        index = self.index
        fits = [c for c in composed if c.n_words <= (MAX_LIST_WORDS if c.shape == "list" and result.question_kind in STEP_KINDS else max_words)]
        if not fits:
            return
        best = fits[0]
        if result.question_kind == "what" and best.shape == "sentence":
            # a definition brings its example ("Ví dụ: ...") when one follows it
            best = next((c for c in fits if c.shape == "sentences" and c.lesson_id == best.lesson_id and c.section == best.section
                         and c.text.startswith(best.text + "\n") and c.text.count("\n") == 1
                         and is_example(plain(c.text[len(best.text) + 1:]))), best)
        result.support = best.support
        if check_support and not answers_near_miss(index.calibration, best, result.evidence - result.threshold):
            return
        where = next(c for c in candidates if index.passages[c.passage].lesson_id == best.lesson_id and index.passages[c.passage].section == best.section)
        result.answered = True
        result.mode = "answer"
        result.answer = best.text
        result.answer_lang = best.lang
        result.source = hit(where.passage, where.score)

    def _hint(self, result: Answer, quiz: QuizMatch, lang: str, hit) -> None:
        """Point to the section that teaches the item (found with its question and key), never the key."""
        index = self.index
        lesson_lang = lang if lang in index.lessons[quiz.lesson_id]["languages"] else index.lessons[quiz.lesson_id]["languages"][0]
        probe = " ".join(filter(None, (result.question, quiz.key.get(lesson_lang, ""))))
        ranking = index.search(probe, k=None, lang=lesson_lang)
        own = [(pi, float(s)) for pi, s in zip(ranking.passages, ranking.fused)
               if index.passages[pi].lesson_id == quiz.lesson_id and index.passages[pi].lang == lesson_lang]
        body = [c for c in own if index.passages[c[0]].section != OBJECTIVES_SECTION] or own
        if not body:
            return
        pi, score = body[0]
        p = index.passages[pi]
        result.answered = True
        result.mode = "hint"
        result.quiz_item = quiz.item_id
        result.hint = HINT[lesson_lang].format(title=p.title, heading=p.heading or p.title)
        result.answer_lang = lesson_lang
        result.source = hit(pi, score)
        # the passages may state the key: a hint only says where to look
        result.source.text = ""
        for shown in result.passages:
            shown.text = ""

    def _channel(self, question: str, lang: str, preferred: str, lesson_ids: list[str]) -> ChannelQuote | None:
        """Where the closest lessons say to ask (a hotline, an official site, the commune police), quoted."""
        index = self.index
        q = _tokens(question, lang)
        best: tuple[float, ChannelQuote] | None = None
        for rank, lid in enumerate(lesson_ids):
            for section, body_lang in index.bodies.get(lid, {}):
                if body_lang != preferred or section == OBJECTIVES_SECTION:
                    continue
                for unit in self.composer.units_of(lid, section, body_lang):
                    if not CHANNEL.search(unit.text) or len(unit.text.split()) > MAX_ANSWER_WORDS:
                        continue
                    overlap = len(q & _tokens(unit.text, body_lang)) - rank + (ASKING_BONUS if ASKS.search(unit.text) else 0.0)
                    if best is None or overlap > best[0]:
                        best = (overlap, ChannelQuote(unit.text, lid, section, body_lang, section_link(lid, section)))
        return best[1] if best else None
