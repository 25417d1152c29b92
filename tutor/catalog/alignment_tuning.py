"""Measuring and calibrating the aligner, leave-one-out over the bundled lessons, all the way down.

Each bundled lesson is aligned, and each of its items, by an aligner whose exemplars are the *other*
47 lessons and their items (`held_out_evidence`). Every skill has one bundled lesson, so there the
text's own skill has no exemplar at all: the case of an imported course on a topic the bundled
lessons do not teach. The other case, an imported course that covers a bundled lesson's topic, is
measured by aligning each item with only itself left out (`known_lesson_evidence`, kind
``item-known``). The fusion weights are picked from a grid, once for lessons (on lesson texts) and
once for items (on both kinds of item text alike), and for every lesson on the other lessons' texts
only (`nested_choice`, `per_kind_choice`), so no text is scored with weights fitted on it. The confidence is a logistic fit (Platt scaling) of the top suggestions'
features, again cross-validated by lesson for the reported numbers, and the automatic-accept
threshold is the lowest confidence at which the measured precision of the top suggestion reaches
`TARGET_PRECISION`. `refit` writes the result to ``alignment_calibration.json``.

>>> platt(np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0, 0, 1, 1]))[0][0] > 0
True
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from dataclasses import fields as dataclass_fields
from datetime import date
from pathlib import Path

import numpy as np

from tutor.answering.encoders import Encoder
from tutor.answering.normalise import fold
from tutor.catalog.alignment import (
    CALIBRATION_FILE,
    Aligner,
    AlignmentCalibration,
    Evidence,
    Weights,
    confidence_features,
    fuse_arrays,
    item_text,
    lesson_text,
    save_alignment_calibration,
    strength,
)
from tutor.content.library import Library

SLICES = ("vi", "en", "vi_nodiac")
TARGET_PRECISION = 0.9
MIN_ACCEPTED = 20  # a threshold is only trusted with at least this many suggestions above it
CANDIDATES = 3  # suggestions per text that the confidence is fitted on
GRID_FRAMEWORK = tuple(round(float(x), 2) for x in np.linspace(0, 1, 6))
GRID_DENSE = tuple(round(float(x), 2) for x in np.linspace(0, 1, 6))
GRID_BAND = (0.0, 0.5, 1.2, 2.0, 3.0)
GRID_WITHIN = (0.0, 2.0, 4.0, 8.0)
GRID_LEAD = (0.0, 0.5, 1.0, 2.0, 4.0)
KINDS = ("lesson", "item", "item-known")  # what the objective weighs alike, within each group of `GROUPS`
GROUPS = {"lesson": ("lesson",), "item": ("item", "item-known")}  # each gets its own weights
ITEM_LEAD = (0.0,)  # the items' grid leaves the lead out (it costs ten times the lessons'): an item's lead is nearly all of it, and with BM25 the items' fit on all lessons chose 0
MODES = ("nearest", "centroid")


class MemoEncoder:
    """An encoder that embeds each distinct text once: the 48 held-out aligners share their exemplars.

    With `path`, the vectors are also kept in that file between runs (`save`), for this encoder only."""

    def __init__(self, inner: Encoder, path: Path | None = None):
        self.inner, self.name, self.dim = inner, inner.name, inner.dim
        self._memo: dict[str, np.ndarray] = {}
        self.path = path
        if path is not None and path.exists():
            stored = np.load(path, allow_pickle=False)
            if str(stored["encoder"]) == inner.name:
                self._memo = dict(zip(stored["texts"].tolist(), stored["vectors"]))

    def save(self) -> None:
        if self.path is not None and self._memo:
            texts = list(self._memo)
            np.savez(self.path, encoder=np.array(self.name), texts=np.array(texts), vectors=np.stack([self._memo[t] for t in texts]))

    def queries(self, texts: list[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self._memo))
        for start in range(0, len(missing), 16):
            chunk = missing[start:start + 16]
            for t, v in zip(chunk, self.inner.queries(chunk)):
                self._memo[t] = v
        return np.stack([self._memo[t] for t in texts]) if texts else np.zeros((0, self.dim), dtype=np.float32)

    def passages(self, texts, batch_size=16, progress=None):
        return self.queries(list(texts))


@dataclass
class Query:
    """One held-out text: which lesson it belongs to, what it is, its true skill and its evidence."""

    lesson: str
    kind: str  # lesson or item
    slice: str
    skill: str
    evidence: Evidence


def held_out_evidence(library: Library, encoder: Encoder | None, slices: Sequence[str] = SLICES) -> list[Query]:
    """The evidence for every lesson and item, each aligned without its own lesson among the exemplars."""
    out: list[Query] = []
    for lesson in library.lessons.values():
        aligner = Aligner.from_library(library, encoder, exclude_lessons=[lesson.id], calibration=AlignmentCalibration("tuning"))
        for sl in slices:
            lang = "vi" if sl == "vi_nodiac" else sl
            shown: Callable[[str], str] = fold if sl == "vi_nodiac" else str
            out.append(Query(lesson.id, "lesson", sl, lesson.skills[0], aligner.evidence(shown(lesson_text(lesson, lang)), lang)))
            out += [Query(lesson.id, "item", sl, item.skills[0], aligner.evidence(shown(item_text(item, lang)), lang)) for item in lesson.items]
    return out


def known_lesson_evidence(library: Library, encoder: Encoder | None, slices: Sequence[str] = SLICES) -> list[Query]:
    """The evidence for every item when its lesson is known (its sections and the other items are
    exemplars; only the item itself is left out): an imported course that covers a bundled lesson's
    topic. Kind ``item-known``. A centroid cannot leave one item out, so here the centroid evidence is
    the nearest exemplar's, so these texts cannot favour the centroid."""
    aligner = Aligner.from_library(library, encoder, calibration=AlignmentCalibration("tuning"))
    out: list[Query] = []
    for lesson in library.lessons.values():
        for sl in slices:
            lang = "vi" if sl == "vi_nodiac" else sl
            shown: Callable[[str], str] = fold if sl == "vi_nodiac" else str
            for item in lesson.items:
                ev = aligner.evidence(shown(item_text(item, lang)), lang, ignore_source=item.id)
                out.append(Query(lesson.id, "item-known", sl, item.skills[0],
                                 replace(ev, centroid_bm25=ev.nearest_bm25, centroid_dense=ev.nearest_dense)))
    return out


@dataclass
class Stacked:
    """The queries' evidence as arrays (queries first), for scoring the whole grid at once."""

    fb: np.ndarray
    fd: np.ndarray
    fl: np.ndarray
    nb: np.ndarray
    nd: np.ndarray
    cb: np.ndarray
    cd: np.ndarray
    bb: np.ndarray
    bd: np.ndarray
    sb: np.ndarray
    sd: np.ndarray
    present: np.ndarray
    n_words: np.ndarray
    truth: np.ndarray  # (queries, 2): competence row, band column
    lesson: np.ndarray  # lesson number of each query
    kind: np.ndarray
    slice: np.ndarray


EVIDENCE_FIELDS = {"fb": "framework_bm25", "fd": "framework_dense", "fl": "framework_lead", "nb": "nearest_bm25", "nd": "nearest_dense", "cb": "centroid_bm25",
                   "cd": "centroid_dense", "bb": "band_bm25", "bd": "band_dense", "sb": "skill_bm25", "sd": "skill_dense", "present": "present"}


def stack(queries: list[Query], aligner: Aligner) -> Stacked:
    ev = [q.evidence for q in queries]
    skills = {s.id: s for s in aligner.framework.skills}
    lessons = {name: i for i, name in enumerate(dict.fromkeys(q.lesson for q in queries))}
    truth = np.array([[aligner.competences.index(skills[q.skill].competence), aligner.bands.index(skills[q.skill].band)] for q in queries])
    arrays = {short: np.stack([getattr(e, name) for e in ev]) for short, name in EVIDENCE_FIELDS.items()}
    return Stacked(
        **arrays, n_words=np.array([e.n_words for e in ev]), truth=truth, lesson=np.array([lessons[q.lesson] for q in queries]),
        kind=np.array([q.kind for q in queries]), slice=np.array([q.slice for q in queries]),
    )


def evidence_of(s: Stacked, i: int) -> Evidence:
    return Evidence(**{name: getattr(s, short)[i] for short, name in EVIDENCE_FIELDS.items()}, n_words=int(s.n_words[i]))


def scores(s: Stacked, w: Weights, mask: np.ndarray) -> np.ndarray:
    """(queries, competences, bands) fused scores, as `Aligner.suggest` computes them one text at a time."""
    return fuse_arrays(s.fb, s.fd, s.fl, s.nb, s.nd, s.cb, s.cd, s.bb, s.bd, s.sb, s.sd, s.present, w, mask)


@dataclass
class Ranks:
    """1-based rank of the true competence and of the true skill, per query."""

    competence: np.ndarray
    skill: np.ndarray


def ranks(sc: np.ndarray, truth: np.ndarray) -> Ranks:
    """Ties rank as `Aligner.suggest` breaks them: the one earlier in framework order first."""
    rows = np.arange(len(sc))
    n_c, n_b = sc.shape[1:]
    flat = sc.reshape(len(sc), -1)
    true_pos = truth[:, 0] * n_b + truth[:, 1]
    true_skill = flat[rows, true_pos]
    before = np.arange(n_c * n_b)[None] < true_pos[:, None]
    skill = 1 + ((flat > true_skill[:, None]) | ((flat == true_skill[:, None]) & before)).sum(axis=1)
    comp = sc.max(axis=2)
    true_comp = comp[rows, truth[:, 0]]
    comp_before = np.arange(n_c)[None] < truth[:, :1]
    competence = 1 + ((comp > true_comp[:, None]) | ((comp == true_comp[:, None]) & comp_before)).sum(axis=1)
    return Ranks(competence=competence, skill=skill)


def grid(dense: Sequence[float] = GRID_DENSE, modes: Sequence[str] = MODES, within: Sequence[float] = GRID_WITHIN,
         lead: Sequence[float] = GRID_LEAD) -> list[Weights]:
    return [Weights(framework=f, dense=d, band=b, exemplars=m, within=x, lead=lw)  # type: ignore[arg-type]
            for f, d, b, m, x, lw in itertools.product(GRID_FRAMEWORK, dense, GRID_BAND, modes, within, lead)]


def subset(s: Stacked, rows: np.ndarray) -> Stacked:
    """The queries `rows` (a mask or indices) of `s`, keeping their lesson numbers."""
    return Stacked(**{f.name: getattr(s, f.name)[rows] for f in dataclass_fields(Stacked)})


def objective_parts(r: Ranks, s: Stacked, n_lessons: int) -> np.ndarray:
    """Per lesson and kind of text (`KINDS`): how many right, out of how many; right = competence top-1 + skill top-1."""
    good = (r.competence == 1).astype(float) + (r.skill == 1)
    out = np.zeros((n_lessons, 2 * len(KINDS)))
    for j, kind in enumerate(KINDS):
        m = s.kind == kind
        out[:, 2 * j] = np.bincount(s.lesson[m], weights=good[m], minlength=n_lessons)
        out[:, 2 * j + 1] = np.bincount(s.lesson[m], minlength=n_lessons)
    return out


def nested_choice(s: Stacked, candidates: list[Weights], mask: np.ndarray) -> tuple[list[Weights], Weights]:
    """For each lesson, the candidate weights best on the other lessons' texts; and the best on all.

    The objective gives each kind of text the same weight, whatever their counts (a kind with no
    texts counts nothing)."""
    n = int(s.lesson.max()) + 1
    parts = np.stack([objective_parts(ranks(scores(s, w, mask), s.truth), s, n) for w in candidates])  # (cands, lessons, 4)
    total = parts.sum(axis=1)

    def value(p: np.ndarray) -> np.ndarray:
        return sum(p[..., 2 * j] / np.maximum(p[..., 2 * j + 1], 1) for j in range(len(KINDS)))

    per_lesson = [candidates[int(np.argmax(value(total - parts[:, i])))] for i in range(n)]
    return per_lesson, candidates[int(np.argmax(value(total)))]


def per_kind_choice(s: Stacked, candidates: list[Weights], mask: np.ndarray, item_candidates: list[Weights] | None = None) -> tuple[list[Weights], dict[str, Weights]]:
    """For each query, the weights chosen on the other lessons' texts of its group (`GROUPS`); and the best on all, per group.

    `item_candidates`: a smaller grid for the items (the costly group: ten times the texts), `candidates` when None."""
    chosen: list[Weights | None] = [None] * len(s.truth)
    best: dict[str, Weights] = {}
    for group, kinds in GROUPS.items():
        rows = np.flatnonzero(np.isin(s.kind, kinds))
        if not rows.size:
            continue
        per_lesson, best[group] = nested_choice(subset(s, rows), item_candidates if group == "item" and item_candidates else candidates, mask)
        for q in rows:
            chosen[q] = per_lesson[s.lesson[q]]
    assert all(w is not None for w in chosen), "every query's kind belongs to a group"
    return chosen, best  # type: ignore[return-value]


def nested_scores(s: Stacked, chosen: Sequence[Weights], mask: np.ndarray) -> np.ndarray:
    """Each query scored with its own weights (those chosen without its lesson)."""
    out = np.empty((len(s.truth), *mask.shape))
    by_weights: dict[tuple, tuple[Weights, list[int]]] = {}
    for q, w in enumerate(chosen):
        by_weights.setdefault(tuple(w.__dict__.values()), (w, []))[1].append(q)
    for w, rows in by_weights.values():
        out[rows] = scores(subset(s, np.array(rows)), w, mask)
    return out


def shipped_choice(s: Stacked, best: dict[str, Weights]) -> list[Weights]:
    """The weights each query gets from the shipped calibration: its group's best on all lessons."""
    return [best[next(g for g, kinds in GROUPS.items() if k in kinds)] for k in s.kind]


def platt(x: np.ndarray, y: np.ndarray, l2: float = 1e-3, steps: int = 50) -> tuple[list[float], float]:
    """Logistic regression by Newton's method (features standardised inside, small ridge); (coef, intercept)."""
    mu, sd = x.mean(axis=0), x.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    z = np.hstack([(x - mu) / sd, np.ones((len(x), 1))])
    beta = np.zeros(z.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-np.clip(z @ beta, -40, 40)))
        reg = l2 * np.r_[beta[:-1], 0.0]
        grad = z.T @ (p - y) + reg
        hess = (z * (p * (1 - p))[:, None]).T @ z + l2 * np.eye(len(beta))
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.abs(step).max() < 1e-9:
            break
    coef = beta[:-1] / sd
    return [float(c) for c in coef], float(beta[-1] - (coef * mu).sum())


def candidate_rows(sc: np.ndarray, s: Stacked, closeness: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The top `CANDIDATES` suggestions of every query: features, right or not, query number, rank."""
    feats, right, query, rank = [], [], [], []
    n_b = sc.shape[2]
    for i in range(len(sc)):
        f = confidence_features(sc[i], int(s.n_words[i]), float(closeness[i]))
        flat = sc[i].ravel()
        for r, pos in enumerate(np.argsort(-flat, kind="stable")[:CANDIDATES]):
            feats.append(f[pos])
            right.append(divmod(int(pos), n_b) == tuple(s.truth[i]))
            query.append(i)
            rank.append(r + 1)
    return np.array(feats), np.array(right, dtype=float), np.array(query), np.array(rank)


def cross_validated_confidence(feats: np.ndarray, right: np.ndarray, lesson: np.ndarray) -> np.ndarray:
    """Each row's confidence from a logistic fitted on the other lessons' rows."""
    out = np.empty(len(right))
    for i in np.unique(lesson):
        m = lesson == i
        coef, b = platt(feats[~m], right[~m])
        out[m] = 1 / (1 + np.exp(-np.clip(feats[m] @ np.array(coef) + b, -40, 40)))
    return out


def accept_threshold(conf: np.ndarray, right: np.ndarray) -> tuple[float, float | None, float]:
    """The lowest confidence whose top suggestions at or above it are right at least `TARGET_PRECISION`
    of the time (with at least `MIN_ACCEPTED` of them): (threshold, precision, share accepted); (1.0, None, 0.0) when none."""
    order = np.argsort(-conf, kind="stable")
    hits = np.cumsum(right[order])
    n = np.arange(1, len(conf) + 1)
    precision = hits / n
    ok = np.flatnonzero((precision >= TARGET_PRECISION) & (n >= MIN_ACCEPTED))
    ok = ok[[conf[order][j] != conf[order][j + 1] if j + 1 < len(conf) else True for j in ok]]  # ties: all or none
    if not ok.size:
        return 1.0, None, 0.0
    j = int(ok.max())
    return float(conf[order][j]), float(precision[j]), float(n[j] / len(conf))


def calibration_error(conf: np.ndarray, right: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error: the mean gap between confidence and accuracy, over equal-width bins."""
    which = np.minimum((conf * bins).astype(int), bins - 1)
    gap = sum(abs(conf[which == b].mean() - right[which == b].mean()) * (which == b).sum() for b in range(bins) if (which == b).any())
    return float(gap / len(conf))


@dataclass
class Fit:
    """What `fit` measured: the calibration to store, and the honest (nested) results behind it."""

    calibration: AlignmentCalibration
    nested_ranks: Ranks
    top1_confidence: np.ndarray  # cross-validated, per query
    top1_right: np.ndarray
    brier: float
    ece: float
    accept_precision: float | None
    accept_share: float
    distinct_choices: int  # how many different weights the nested fits chose


def fit(s: Stacked, mask: np.ndarray, encoder_key: str, candidates: list[Weights], notes: dict, item_candidates: list[Weights] | None = None) -> Fit:
    """Weights (nested by lesson), confidence (cross-validated by lesson) and threshold for one encoder."""
    chosen, best = per_kind_choice(s, candidates, mask, item_candidates)
    nested = nested_scores(s, chosen, mask)
    closeness = np.array([strength(s.nb[i], s.nd[i], w) for i, w in enumerate(chosen)])
    feats, right, query, rank = candidate_rows(nested, s, closeness)
    conf = cross_validated_confidence(feats, right, s.lesson[query])
    top = rank == 1
    threshold, precision, share = accept_threshold(conf[top], right[top])
    shipped = shipped_choice(s, best)
    final_closeness = np.array([strength(s.nb[i], s.nd[i], w) for i, w in enumerate(shipped)])
    final_feats, final_right, _, _ = candidate_rows(nested_scores(s, shipped, mask), s, final_closeness)
    coef, intercept = platt(final_feats, final_right)
    cal = AlignmentCalibration(
        encoder=encoder_key, weights=best["item"], lesson_weights=best.get("lesson"), coef=coef, intercept=intercept, accept_confidence=round(threshold, 4),
        notes={**notes, "accept_precision": None if precision is None else round(precision, 4), "accept_share": round(share, 4), "date": date.today().isoformat()},
    )
    brier = float(np.mean((conf - right) ** 2))
    distinct = len({tuple(w.__dict__.values()) for w in chosen})
    return Fit(cal, ranks(nested, s.truth), conf[top], right[top], brier, calibration_error(conf, right), precision, share, distinct)


def measurement_notes(library: Library) -> dict[str, str]:
    """What a calibration entry says it was measured on."""
    return {
        "measured_on": f"nested leave-one-out: {len(library.lessons)} lessons, {len(library.items)} items; slices {', '.join(SLICES)}; "
                       "items also with their lesson known (item-known)",
        "objective": f"weights, for lessons and for items apart: competence top-1 + skill top-1, each kind of text ({', '.join(KINDS)}) weighted alike; confidence: logistic "
                     f"on the top {CANDIDATES} suggestions (score, margin, log words, strength), cross-validated by lesson; "
                     f"accept_confidence: lowest with top-1 precision >= {TARGET_PRECISION}",
        "content_hash": library.digest()[:20],
    }


def refit(library: Library, encoder: Encoder | None, write: bool = True) -> Fit:
    """Measure leave-one-out on the library and (by default) store the encoder's calibration."""
    enc = MemoEncoder(encoder) if encoder else None
    queries = held_out_evidence(library, enc) + known_lesson_evidence(library, enc)
    aligner = Aligner(library.framework, [], None, AlignmentCalibration("tuning"))
    s = stack(queries, aligner)
    key = encoder.name if encoder else "bm25"
    dense = GRID_DENSE if encoder else (0.0,)
    result = fit(s, aligner.skill_mask, key, grid(dense=dense), measurement_notes(library), grid(dense=dense, lead=ITEM_LEAD))
    if write:
        save_alignment_calibration(result.calibration, CALIBRATION_FILE)
    return result
