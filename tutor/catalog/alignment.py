"""Which framework skill an imported lesson or item teaches: ranked suggestions with a calibrated confidence.

A platform's own courses arrive without skill tags. The aligner ranks the framework's skills (a
competence at a band) for a text from two kinds of evidence, each matched by words (BM25, with the
answering capability's Vietnamese tokens and diacritic folding) and, when an encoder is given, by
meaning (the multilingual question encoder, symmetric: texts are compared with texts):

* the framework itself: each competence's name and description with its domain's, in both languages;
* exemplars: the bundled lessons (objectives, each section) and items, tagged by their authors, and
  any imported lesson a person has accepted since (`Aligner.add_exemplar`);
* the text's lead against each competence's topic: the text's title and short lines (headings,
  objectives, an item's options; `lead`) against the competence's name and description, by TF-IDF
  over word pairs with diacritics folded. A lesson's headings say what it is about; its body
  mostly says how, in words every competence shares.

A competence scores by how close the text is to its description and to its nearest exemplar (or to
the centroid of its exemplars, per the calibration). A skill adds how close the text comes to the
skill's own exemplars against those of its competence's other bands (`within`; only where the
competence has exemplars at two bands or more), and how much the text's nearest exemplars of the
*other* competences are of its band (is it written like the basic lessons or the intermediate
ones?), so a competence taught so far at one band only does not pull every text on its topic to
that band. Each kind of evidence is scaled to [0, 1] across the competences first, so that the
weights mean the same for a ten-word item and a two-thousand-word lesson. The encoder reads a
text's first `ENCODED_WORDS` words.

Lessons and items have their own weights (`suggest`'s `kind`): a lesson's headings carry its topic,
an item's question and options are all it has. The weights and the confidence (a logistic fit of the score, its margin to the runner-up, the
text's length and how close it comes to any exemplar) come from ``alignment_calibration.json``
beside this file, measured leave-one-out on the bundled lessons and items by
``bench/alignment_bench.py`` (``tutor.catalog.alignment_tuning``); each encoder has its own entry
because the scores of different encoders are not comparable.

>>> from pathlib import Path
>>> from tutor.content.library import load_library
>>> aligner = Aligner.from_library(load_library(Path("content")), encoder=None)
>>> best = aligner.suggest("Mật khẩu", "Tạo mật khẩu mạnh, bật xác thực hai lớp, không đưa mã OTP cho ai")[0]
>>> best.competence, best.case_id == identifier("competence:4.1")
('4.1', True)
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from sklearn.feature_extraction.text import TfidfVectorizer

from tutor.answering.encoders import Encoder
from tutor.answering.language import detect_form
from tutor.answering.lexical import LexicalIndex, Terms, analyse
from tutor.answering.normalise import words
from tutor.content.case import identifier
from tutor.content.library import LANGUAGES, Framework, Item, Lesson, Library
from tutor.errors import Invalid

CALIBRATION_FILE = Path(__file__).with_name("alignment_calibration.json")
BM25_KEY = "bm25"
DEFAULT_ACCEPT_CONFIDENCE = 0.9
BAND_NEIGHBOURS = 20  # exemplars of other competences that judge the band
ENCODED_WORDS = 80  # what the encoder reads: a lesson's title and objectives, a section's opening (~8x faster than 512 tokens)
LEAD_TITLE_TIMES = 3  # the title's weight in a text's lead
LEAD_LINE_WORDS = 12  # a line this short is a heading, an objective or an option: part of the lead
ExemplarMode = Literal["nearest", "centroid"]
TextKind = Literal["lesson", "item"]


class Suggestion(BaseModel):
    """One framework skill suggested for a text, best first in `Aligner.suggest`'s list."""

    model_config = ConfigDict(frozen=True, json_schema_extra={"examples": [{
        "skill": "4.1-intermediate", "competence": "4.1", "band": "intermediate",
        "case_id": "158ef328-4b9a-5d89-8a00-96ce45d99ab0", "score": 0.61, "confidence": 0.93,
    }]})

    skill: str = Field(description="The framework skill id (competence-band).", examples=["4.1-intermediate"])
    competence: str = Field(examples=["4.1"])
    band: str = Field(examples=["intermediate"])
    case_id: str = Field(description="CASE CFItem identifier of the competence, as GET /ims/case/v1p0/CFItems/{id} serves it.")
    score: float = Field(description="The raw fused score (comparable only within one aligner and encoder).")
    confidence: float = Field(ge=0, le=1, description="Calibrated probability that this is the right skill.")


@dataclass(frozen=True)
class Exemplar:
    """A text known to teach or assess a skill; `source` names where it came from (a lesson or item id, or "accepted")."""

    text: str
    skill: str
    language: str
    source: str


@dataclass
class Weights:
    """How the evidence is fused (see the module docstring); the stored ones are measured, these defaults only stand in."""

    framework: float = 0.5  # framework descriptions vs exemplars, for the competence
    dense: float = 0.0  # encoder vs BM25, in both
    band: float = 0.1  # how much the band judged from other competences counts
    exemplars: ExemplarMode = "nearest"
    within: float = 1.0  # the skill's own nearest exemplar against its competence's other bands
    lead: float = 0.0  # the text's lead against the competences' topics (TF-IDF), added to the competence's score


@dataclass
class AlignmentCalibration:
    """The weights, the confidence's logistic coefficients and the automatic-accept threshold of one encoder."""

    encoder: str
    weights: Weights = field(default_factory=Weights)  # items, and texts of no stated kind
    lesson_weights: Weights | None = None  # lessons (None: as `weights`)
    coef: list[float] = field(default_factory=lambda: [1.0, 4.0, 0.0, 4.0])  # score, margin, log(1 + words), strength
    intercept: float = -4.0
    accept_confidence: float = DEFAULT_ACCEPT_CONFIDENCE
    notes: dict = field(default_factory=dict)

    def weights_for(self, kind: TextKind | None) -> Weights:
        return self.lesson_weights if kind == "lesson" and self.lesson_weights is not None else self.weights

    def confidence(self, features: np.ndarray) -> np.ndarray:
        z = features @ np.asarray(self.coef, dtype=np.float64) + self.intercept
        return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))


def load_alignment_calibration(encoder_name: str | None, path: Path = CALIBRATION_FILE) -> AlignmentCalibration:
    """The stored calibration of an encoder (`None`: BM25 alone); the defaults above when none is stored."""
    key = encoder_name or BM25_KEY
    if path.exists():
        entry = json.loads(path.read_text(encoding="utf-8")).get(key)
        if entry:
            lesson = entry.get("lesson_weights")
            return AlignmentCalibration(
                encoder=key, weights=Weights(**entry["weights"]), lesson_weights=Weights(**lesson) if lesson else None,
                coef=list(entry["coef"]), intercept=float(entry["intercept"]),
                accept_confidence=float(entry["accept_confidence"]), notes=entry.get("notes", {}),
            )
    return AlignmentCalibration(encoder=key, weights=Weights(dense=0.0 if key == BM25_KEY else 0.5))


def save_alignment_calibration(cal: AlignmentCalibration, path: Path = CALIBRATION_FILE) -> None:
    """Write (or replace) one encoder's entry, keeping the others."""
    data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    entry = asdict(cal)
    entry.pop("encoder")
    data[cal.encoder] = entry
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")


def _accept_confidence(encoder_name: str) -> float:
    return load_alignment_calibration(encoder_name).accept_confidence


ACCEPT_CONFIDENCE = _accept_confidence("e5-small-q4")
"""The confidence from which the default aligner's top suggestion is accepted without review: the
lowest at which the measured leave-one-out precision of the top suggestion is at least 0.9."""


def lesson_text(lesson: Lesson, lang: str) -> str:
    """A bundled lesson as an importer would read it: title, objectives, then each section."""
    parts = [lesson.title.get(lang), *lesson.objectives.get(lang)]
    for s in lesson.sections:
        parts += [s.heading.get(lang), s.body.get(lang)]
    return "\n".join(parts)


def item_text(item: Item, lang: str) -> str:
    """A bundled item as an importer would read it: question, options, explanation."""
    return "\n".join([item.question.get(lang), *item.options.get(lang), item.explanation.get(lang)])


def library_exemplars(library: Library, exclude_lessons: Iterable[str] = ()) -> list[Exemplar]:
    """The bundled lessons' exemplars: per language, the title with the objectives, each section (their
    source: the lesson's id), each item (its source: the item's id)."""
    excluded = set(exclude_lessons)
    out: list[Exemplar] = []
    for lesson in library.lessons.values():
        if lesson.id in excluded:
            continue
        for lang in LANGUAGES:
            texts = ["\n".join([lesson.title.get(lang), *lesson.objectives.get(lang)])]
            texts += [f"{s.heading.get(lang)}\n{s.body.get(lang)}" for s in lesson.sections]
            out += [Exemplar(t, skill, lang, lesson.id) for t in texts for skill in lesson.skills]
            out += [Exemplar(item_text(item, lang), skill, lang, item.id) for item in lesson.items for skill in item.skills]
    return out


def lead(text: str) -> str:
    """What a text says it is about: its first line (the title) `LEAD_TITLE_TIMES` times, then its lines
    of at most `LEAD_LINE_WORDS` words (headings, objectives, options), without the paragraphs.

    >>> lead("Mật khẩu mạnh\\nMục tiêu: tạo mật khẩu\\n" + "Một đoạn văn dài " * 5)
    'Mật khẩu mạnh\\nMật khẩu mạnh\\nMật khẩu mạnh\\nMục tiêu: tạo mật khẩu'
    """
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return text
    return "\n".join([lines[0]] * LEAD_TITLE_TIMES + [line for line in lines[1:] if len(line.split()) <= LEAD_LINE_WORDS])


def _topic_tokens(text: str, lang: str) -> list[str]:
    """Tokens for the lead's TF-IDF: Vietnamese syllables folded, with their pairs (a pair is most often a
    word); English stems, with their pairs."""
    terms = _terms(text, lang)
    if lang == "vi":
        return list(terms.folded)
    toks = list(terms.exact)
    return toks + [f"{a}_{b}" for a, b in zip(toks, toks[1:])]


def _as_given(tokens: list[str]) -> list[str]:
    return tokens


@dataclass
class Evidence:
    """The evidence for one text, per competence (rows in framework order) and band (columns)."""

    framework_bm25: np.ndarray  # (competences,) BM25 coverage of the competence's description
    framework_dense: np.ndarray
    framework_lead: np.ndarray  # (competences,) TF-IDF cosine of the text's lead and the competence's topic
    nearest_bm25: np.ndarray  # best exemplar of the competence
    nearest_dense: np.ndarray
    centroid_bm25: np.ndarray  # all of the competence's exemplars as one document
    centroid_dense: np.ndarray
    band_bm25: np.ndarray  # (competences, bands) share of the band among the nearest other-competence exemplars
    band_dense: np.ndarray
    skill_bm25: np.ndarray  # (competences, bands) the skill's own best exemplar (0: the skill has none)
    skill_dense: np.ndarray
    present: np.ndarray  # (competences, bands) whether the skill has exemplars
    n_words: int


def _spread(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Min-max over the competences (last axis), so that BM25 coverage, cosines and the band share
    weigh alike whatever the text's length; and the range divided by."""
    lo, hi = x.min(axis=-1, keepdims=True), x.max(axis=-1, keepdims=True)
    span = np.maximum(hi - lo, 1e-9)
    return (x - lo) / span, span


def fuse_arrays(fb, fd, fl, nb, nd, cb, cd, bb, bd, sb, sd, present, w: Weights, skill_mask: np.ndarray) -> np.ndarray:
    """`fuse` over arrays with any leading axes (competences, then bands, last): the tuning scores
    every held-out text and weight at once with it."""
    d = w.dense
    framework = d * _spread(fd)[0] + (1 - d) * _spread(fb)[0]
    near_b, span_b = _spread(nb)
    near_d, span_d = _spread(nd)
    exemplar = d * near_d + (1 - d) * near_b if w.exemplars == "nearest" else d * _spread(cd)[0] + (1 - d) * _spread(cb)[0]
    band = d * bd + (1 - d) * bb
    comparable = present.sum(axis=-1, keepdims=True) >= 2
    within = np.where(comparable, d * (sd - sd.max(axis=-1, keepdims=True)) / span_d[..., None]
                      + (1 - d) * (sb - sb.max(axis=-1, keepdims=True)) / span_b[..., None], 0.0)
    competence = w.framework * framework + (1 - w.framework) * exemplar + w.lead * _spread(fl)[0]
    scores = competence[..., None] + w.band * (band - 0.5) + w.within * within
    return np.where(skill_mask, scores, -np.inf)


def fuse(ev: Evidence, w: Weights, skill_mask: np.ndarray) -> np.ndarray:
    """Scores (competences, bands) of the existing skills; -inf where the framework has no such skill."""
    return fuse_arrays(ev.framework_bm25, ev.framework_dense, ev.framework_lead, ev.nearest_bm25, ev.nearest_dense, ev.centroid_bm25, ev.centroid_dense,
                       ev.band_bm25, ev.band_dense, ev.skill_bm25, ev.skill_dense, ev.present, w, skill_mask)


def strength(nearest_bm25: np.ndarray, nearest_dense: np.ndarray, w: Weights) -> np.ndarray:
    """How close the text comes to any exemplar at all, unnormalised: an unrelated text is far from all."""
    return w.dense * nearest_dense.max(axis=-1) + (1 - w.dense) * nearest_bm25.max(axis=-1)


def confidence_features(scores: np.ndarray, n_words: int, closeness: float) -> np.ndarray:
    """Per skill: its score, its margin over the best other skill, log(1 + words), the text's `strength`
    (a missing skill counts as the lowest score)."""
    flat = scores.ravel().astype(np.float64)
    finite = np.isfinite(flat)
    flat = np.where(finite, flat, flat[finite].min() if finite.any() else 0.0)
    order = np.argsort(-flat, kind="stable")
    best = flat[order[0]]
    second = flat[order[1]] if flat.size > 1 else best
    others_best = np.full_like(flat, best)
    others_best[order[0]] = second
    return np.stack([flat, flat - others_best, np.full_like(flat, math.log1p(n_words)), np.full_like(flat, closeness)], axis=1)


@lru_cache(maxsize=50_000)
def _terms(text: str, lang: str) -> Terms:
    """Tokens of an exemplar, kept: an aligner rebuilt after an addition (or per held-out lesson) re-reads no text."""
    return analyse(text, lang)


def _opening(text: str) -> str:
    """The first `ENCODED_WORDS` words of a text, what the encoder reads."""
    return " ".join(text.split()[:ENCODED_WORDS])


def _coverage(index: LexicalIndex | None, terms: Terms, form: str) -> np.ndarray | None:
    if index is None or index.n == 0:
        return None
    ideal = index.ideal_score(terms, form)
    return index.scores(terms, form) / ideal if ideal > 0 else np.zeros(index.n, dtype=np.float32)


def _band_share(sims: np.ndarray, competence: np.ndarray, band: np.ndarray, n_comp: int, n_band: int) -> np.ndarray:
    """For each competence c and band b: the similarity-weighted share of b among the text's
    `BAND_NEIGHBOURS` nearest exemplars of competences other than c (0.5 when there are none)."""
    out = np.full((n_comp, n_band), 1.0 / max(n_band, 1))
    if sims.size == 0:
        return out
    order = np.argsort(-sims, kind="stable")
    comp_sorted, band_sorted, sim_sorted = competence[order], band[order], np.maximum(sims[order], 0.0)
    for c in range(n_comp):
        keep = np.flatnonzero(comp_sorted != c)[:BAND_NEIGHBOURS]
        total = sim_sorted[keep].sum()
        if total > 0:
            out[c] = np.bincount(band_sorted[keep], weights=sim_sorted[keep], minlength=n_band) / total
    return out


class Aligner:
    """Suggests framework skills for a text from the framework and the exemplars; see the module docstring.

    `encoder` None matches words only (fast; what the tests use). `calibration` defaults to the stored
    entry of the encoder.
    """

    def __init__(self, framework: Framework, exemplars: Iterable[Exemplar], encoder: Encoder | None = None,
                 calibration: AlignmentCalibration | None = None):
        self.framework = framework
        self.encoder = encoder
        self.calibration = calibration or load_alignment_calibration(encoder.name if encoder else None)
        self.competences = [c.code for d in framework.domains for c in d.competences]
        self.bands = [b.id for b in framework.bands]
        # skills no lesson teaches (`no_lesson`: levels 5-8 today) have no exemplars to align to; suggest them once they do
        self._skill_at = {(s.competence, s.band): s.id for s in framework.skills if s.no_lesson is None}
        self.skill_mask = np.array([[(c, b) in self._skill_at for b in self.bands] for c in self.competences])
        self._competence_of = {s.id: s.competence for s in framework.skills}
        self._band_of = {s.id: s.band for s in framework.skills}
        self._c_index = {c: i for i, c in enumerate(self.competences)}
        self._b_index = {b: i for i, b in enumerate(self.bands)}
        self._framework_texts = self._describe_framework()
        self._topic_texts = self._describe_topics()
        self._framework_index = {lang: LexicalIndex([_terms(t, lang) for t in self._framework_texts[lang]]) for lang in LANGUAGES}
        self._framework_vectors = (
            np.stack([encoder.queries([_opening(t) for t in self._framework_texts[lang]]) for lang in LANGUAGES]) if encoder else None
        )  # (languages, competences, dim)
        self._exemplars: list[Exemplar] = []
        self._vectors: list[np.ndarray] = []
        self._built = False
        self.add_exemplars(exemplars)

    @classmethod
    def from_library(cls, library: Library, encoder: Encoder | None = None, exclude_lessons: Iterable[str] = (),
                     calibration: AlignmentCalibration | None = None) -> Aligner:
        """An aligner over the library's framework with its lessons as exemplars (but those in `exclude_lessons`)."""
        return cls(library.framework, library_exemplars(library, exclude_lessons), encoder, calibration)

    @property
    def accept_confidence(self) -> float:
        """The confidence from which this aligner's top suggestion may be accepted without review (measured)."""
        return self.calibration.accept_confidence

    def _describe_framework(self) -> dict[str, list[str]]:
        texts: dict[str, list[str]] = {lang: [] for lang in LANGUAGES}
        for d in self.framework.domains:
            for c in d.competences:
                for lang in LANGUAGES:
                    texts[lang].append("\n".join([c.name.get(lang), c.description.get(lang), d.name.get(lang), d.description.get(lang)]))
        return texts

    def _describe_topics(self) -> dict[str, list[str]]:
        """Each competence's name (twice) and description: what its lead is compared with (the domain's words are shared by its competences)."""
        return {lang: ["\n".join([c.name.get(lang), c.name.get(lang), c.description.get(lang)]) for d in self.framework.domains for c in d.competences]
                for lang in LANGUAGES}

    def add_exemplar(self, text: str, skill: str, language: str | None = None, source: str = "accepted") -> None:
        """Learn from a text a person has tagged (an accepted imported lesson or item)."""
        self.add_exemplars([Exemplar(text, skill, language or detect_form(text).lang, source)])

    def add_exemplars(self, exemplars: Iterable[Exemplar]) -> None:
        new = list(exemplars)
        for e in new:
            if e.skill not in self._competence_of:
                raise Invalid(f"unknown skill {e.skill!r} for an exemplar; GET /v1/skills lists the framework's skills")
            if not words(e.text):
                raise Invalid(f"an exemplar of {e.skill} has no words")
        if self.encoder and new:
            self._vectors.append(self.encoder.queries([_opening(e.text) for e in new]))
        self._exemplars += new
        self._built = False

    def _build(self) -> None:
        """Index the exemplars (BM25 per language, each one and per competence); rebuilt after additions."""
        ex = self._exemplars
        self._ex_competence = np.array([self._c_index[self._competence_of[e.skill]] for e in ex], dtype=np.int64)
        self._ex_band = np.array([self._b_index[self._band_of[e.skill]] for e in ex], dtype=np.int64)
        self._ex_source = np.array([e.source for e in ex], dtype=object)
        self._ex_lang: dict[str, np.ndarray] = {}
        self._ex_index: dict[str, LexicalIndex] = {}
        self._centroid_index: dict[str, tuple[LexicalIndex, np.ndarray]] = {}
        for lang in sorted({e.language for e in ex}):
            members = np.array([i for i, e in enumerate(ex) if e.language == lang], dtype=np.int64)
            terms = [_terms(ex[i].text, lang) for i in members]
            self._ex_lang[lang], self._ex_index[lang] = members, LexicalIndex(terms)
            comps = sorted({int(self._ex_competence[i]) for i in members})
            joined = [Terms(tuple(t for i, tm in zip(members, terms) if self._ex_competence[i] == c for t in tm.exact),
                            tuple(t for i, tm in zip(members, terms) if self._ex_competence[i] == c for t in tm.folded)) for c in comps]
            self._centroid_index[lang] = (LexicalIndex(joined), np.array(comps, dtype=np.int64))
        topics = {lang: [_topic_tokens(t, lang) for t in self._topic_texts[lang]] for lang in LANGUAGES}
        self._tfidf = TfidfVectorizer(analyzer=_as_given, sublinear_tf=True).fit(
            [t for lang in LANGUAGES for t in topics[lang]] + [_topic_tokens(e.text, e.language) for e in ex])
        self._topics = {lang: self._tfidf.transform(topics[lang]) for lang in LANGUAGES}
        n_c = len(self.competences)
        if self.encoder is not None and ex:
            self._ex_vectors = np.concatenate(self._vectors)
            sums = np.zeros((n_c, self._ex_vectors.shape[1]), dtype=np.float32)
            np.add.at(sums, self._ex_competence, self._ex_vectors)
            norms = np.linalg.norm(sums, axis=1, keepdims=True)
            self._centroids = np.where(norms > 0, sums / np.maximum(norms, 1e-12), 0.0)
        self._built = True

    def _present_for(self, keep: np.ndarray) -> np.ndarray:
        n_b = len(self.bands)
        present = np.zeros(len(self.competences) * n_b, dtype=bool)
        present[self._ex_competence[keep] * n_b + self._ex_band[keep]] = True
        return present.reshape(len(self.competences), n_b)

    def _nearest(self, sims: np.ndarray, competence: np.ndarray, band: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The best exemplar's similarity per competence, and per skill."""
        n_c, n_b = len(self.competences), len(self.bands)
        flat_best = np.zeros(n_c * n_b)
        if sims.size:
            np.maximum.at(flat_best, competence * n_b + band, np.maximum(sims, 0.0))
        best = flat_best.reshape(n_c, n_b)
        return best.max(axis=1), best

    def evidence(self, text: str, language: str | None = None, ignore_source: str | None = None) -> Evidence:
        """The evidence for a text, before the weights: what `suggest` fuses (and the tuning measures).

        `ignore_source`: leave out the exemplars from that source (a held-out item's own), nearest ones only."""
        if not words(text):
            raise Invalid("the text to align has no words: give the lesson's or item's text")
        if not self._built:
            self._build()
        form = detect_form(text, language)
        lang = form.lang if form.lang in LANGUAGES else "en"
        terms = analyse(text, lang)
        n_c, n_b = len(self.competences), len(self.bands)
        zeros = np.zeros(n_c)
        fw = _coverage(self._framework_index[lang], terms, form.key)
        framework_lead = (self._topics[lang] @ self._tfidf.transform([_topic_tokens(lead(text), lang)]).T).toarray().ravel()
        even, flat = np.full((n_c, n_b), 1.0 / n_b), np.zeros((n_c, n_b))
        nearest_bm25, centroid_bm25, band_bm25, skill_bm25 = zeros, zeros, even, flat
        keep = self._ex_source != ignore_source
        if lang in self._ex_index:
            members = self._ex_lang[lang]
            sims = _coverage(self._ex_index[lang], terms, form.key)
            if sims is not None:
                sims, members = sims[keep[members]], members[keep[members]]
                nearest_bm25, skill_bm25 = self._nearest(sims, self._ex_competence[members], self._ex_band[members])
                band_bm25 = _band_share(sims, self._ex_competence[members], self._ex_band[members], n_c, n_b)
            index, comps = self._centroid_index[lang]
            joined = _coverage(index, terms, form.key)
            if joined is not None:
                centroid_bm25 = np.zeros(n_c)
                centroid_bm25[comps] = joined
        framework_dense, nearest_dense, centroid_dense, band_dense, skill_dense = zeros, zeros, zeros, even, flat
        if self.encoder is not None:
            q = self.encoder.queries([_opening(text)])[0]
            assert self._framework_vectors is not None
            framework_dense = (self._framework_vectors @ q).max(axis=0)
            if self._exemplars:
                sims = (self._ex_vectors @ q)[keep]
                nearest_dense, skill_dense = self._nearest(sims, self._ex_competence[keep], self._ex_band[keep])
                centroid_dense = self._centroids @ q
                band_dense = _band_share(sims, self._ex_competence[keep], self._ex_band[keep], n_c, n_b)
        return Evidence(
            framework_bm25=fw if fw is not None else zeros, framework_dense=framework_dense, framework_lead=framework_lead,
            nearest_bm25=nearest_bm25, nearest_dense=nearest_dense, centroid_bm25=centroid_bm25, centroid_dense=centroid_dense,
            band_bm25=band_bm25, band_dense=band_dense, skill_bm25=skill_bm25, skill_dense=skill_dense, present=self._present_for(keep), n_words=len(words(text)),
        )

    def suggest(self, title: str, text: str, language: str | None = None, k: int = 3, kind: TextKind | None = None) -> list[Suggestion]:
        """The `k` likeliest skills for a lesson or item (its title and text), best first.

        `language` (vi, en, ...) when the platform says it; detected otherwise. `kind` picks the weights
        measured on lessons or on items (None: the items'). An empty text (no words in title or text) is `Invalid`.
        """
        if k < 1:
            raise Invalid(f"k = {k}: ask for at least one suggestion")
        whole = "\n".join(t for t in (title.strip(), text.strip()) if t)
        ev = self.evidence(whole, language)
        weights = self.calibration.weights_for(kind)
        scores = fuse(ev, weights, self.skill_mask)
        closeness = float(strength(ev.nearest_bm25, ev.nearest_dense, weights))
        conf = self.calibration.confidence(confidence_features(scores, ev.n_words, closeness))
        flat = scores.ravel()
        out = []
        for pos in np.argsort(-flat, kind="stable")[:k]:
            if not np.isfinite(flat[pos]):
                break
            c, b = divmod(int(pos), len(self.bands))
            competence, band = self.competences[c], self.bands[b]
            out.append(Suggestion(skill=self._skill_at[(competence, band)], competence=competence, band=band,
                                  case_id=identifier(f"competence:{competence}"), score=round(float(flat[pos]), 6),
                                  confidence=round(float(conf[pos]), 6)))
        return out
