"""Measuring the answers themselves: key-point coverage, cut answers, length, abstention on near misses.

Every answerable evaluation question carries ``key_points``: the facts a good answer contains, in the
question's language, taken from the lesson text. A key point is *covered* when at least
``KEY_POINT_SHARE`` of its words (diacritics folded; English stemmed) are in the answer; a question's
coverage is the share of its key points covered (0 when it is not answered).

Each question is asked once with ``keep_candidates``: every span the composer weighed is kept with
its features, so span weights and the near-miss test can be refitted and the answer re-chosen
without asking again (the same choice ``HelpDesk._answer`` makes). Span weights are a pairwise
logistic regression (scikit-learn; RankSVM-style differences): within a question, a span covering
the most key points in the fewest words should outrank one covering fewer. The near-miss test is a
rule (a question asking a fee, a phone number, a time, an age or a password recovery that the chosen
span does not give is turned down) and a logistic regression over ``answer.ANSWERABLE_FEATURES`` of
the chosen span, separating answerable questions from unanswerable and near-miss ones among those
that pass the evidence test. Both are
measured 5-fold cross-validated over questions (fitted on 4/5, measured on the other fifth).
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tutor.answering.answer import ANSWERABLE_FEATURES, Composed, HelpDesk, answers_near_miss
from tutor.answering.calibration import Calibration, save_calibration
from tutor.answering.compose import DEFAULT_SPAN_WEIGHTS, FEATURES, MAX_ANSWER_WORDS, MAX_LIST_WORDS, STEP_KINDS, is_cut, is_example, plain, span_score
from tutor.answering.evaluation import FORMS, percentile_ms
from tutor.answering.lexical import analyse
from tutor.content.library import load_library

KEY_POINT_SHARE = 0.7
FOLDS = 5


def _unigrams(text: str, lang: str) -> set[str]:
    t = analyse(text, lang)
    return {w for w in (t.folded if lang == "vi" else t.exact) if "_" not in w}


def key_point_covered(answer: str, key_point: str, lang: str) -> bool:
    """At least ``KEY_POINT_SHARE`` of the key point's words are in the answer."""
    want = _unigrams(key_point, lang)
    if not want:
        return key_point.strip().lower() in answer.lower()
    return len(want & _unigrams(answer, lang)) / len(want) >= KEY_POINT_SHARE


def coverage(answer: str | None, key_points: Sequence[str], lang: str) -> float:
    if not key_points:
        return float("nan")
    if not answer:
        return 0.0
    return sum(key_point_covered(answer, kp, lang) for kp in key_points) / len(key_points)


@dataclass
class Asked:
    """One evaluation question asked once, with everything needed to re-choose its answer."""

    qid: str
    slice: str
    form: str
    answerable: bool
    near_miss: bool
    key_points: list[str]
    lang: str  # language the key points are matched in (the question's: vi for vi_nodiac)
    passed_evidence: bool
    margin: float  # evidence over its threshold
    mode: str  # what the shipped desk replied: answer | hint | not_in_lessons
    kind: str  # compose.question_kind
    fallback_answer: str | None  # the other-language answer when the evidence test failed
    candidates: list[Composed] = field(default_factory=list)
    ms: float = 0.0


def ask_all(desk: HelpDesk, questions: Sequence) -> list[Asked]:
    """Ask every question once (timed, as a learner would), keeping the candidate spans."""
    out: list[Asked] = []
    for q in questions:
        a = desk.ask(q.question, keep_candidates=True)
        passed = a.evidence >= a.threshold
        out.append(
            Asked(
                qid=q.id, slice=q.slice, form=a.question_form, answerable=bool(q.lessons), near_miss=bool(getattr(q, "near", None)),
                key_points=list(getattr(q, "key_points", []) or []), lang="en" if q.slice == "en" else "vi", passed_evidence=passed, margin=a.evidence - a.threshold,
                mode=a.mode, kind=a.question_kind, fallback_answer=a.answer if (not passed and a.answered) else None, candidates=a.candidates,
                ms=a.timings_ms.get("total_ms", 0.0),
            )
        )
    return out


def _fits(r: Asked, max_words: int = MAX_ANSWER_WORDS) -> list[Composed]:
    """The spans short enough to answer (``HelpDesk._answer``'s rule)."""
    return [c for c in r.candidates if c.n_words <= (MAX_LIST_WORDS if c.shape == "list" and r.kind in STEP_KINDS else max_words)]


def _best_span(r: Asked, weights: dict[str, float], max_words: int = MAX_ANSWER_WORDS) -> Composed | None:
    fits = _fits(r, max_words)
    return max(fits, key=lambda c: span_score(c.features, weights)) if fits else None


def choose(r: Asked, weights: dict[str, float], answerable: dict[str, float], max_words: int = MAX_ANSWER_WORDS, near_miss_test: bool = True) -> str | None:
    """The answer the desk gives with these span weights and near-miss model (None: abstains or hints);
    ``near_miss_test=False``: without the near-miss test at all (the baseline)."""
    if r.mode == "hint":
        return None
    if not r.passed_evidence:
        return r.fallback_answer
    best = _best_span(r, weights, max_words)
    if best is None:
        return None
    if r.kind == "what" and best.shape == "sentence":
        best = next((c for c in _fits(r, max_words) if c.shape == "sentences" and c.lesson_id == best.lesson_id and c.section == best.section
                     and c.text.startswith(best.text + "\n") and c.text.count("\n") == 1 and is_example(plain(c.text[len(best.text) + 1:]))), best)
    if near_miss_test and not answers_near_miss(Calibration(encoder="", answerable=answerable), best, r.margin):
        return None
    return best.text


def fit_span_weights(records: Sequence[Asked], pairs_per_question: int = 40, seed: int = 0) -> dict[str, float]:
    """Pairwise logistic regression: for each answerable question, spans that cover the most key points
    (the shortest of them, within 15 words) against spans that cover fewer."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(seed)
    xs: list[np.ndarray] = []
    ys: list[int] = []
    for r in records:
        fits = _fits(r)
        if not r.answerable or not r.key_points or not fits:
            continue
        cov = [coverage(c.text, r.key_points, r.lang) for c in fits]
        top = max(cov)
        if top <= 0:
            continue
        shortest = min(len(c.text.split()) for c, v in zip(fits, cov) if v >= top)
        good = [c for c, v in zip(fits, cov) if v >= top and len(c.text.split()) <= shortest + 15]
        bad = [c for c, v in zip(fits, cov) if v < top]
        if not bad:
            continue
        for _ in range(pairs_per_question):
            g = good[int(rng.integers(len(good)))]
            b = bad[int(rng.integers(len(bad)))]
            d = np.asarray(g.features) - np.asarray(b.features)
            xs += [d, -d]
            ys += [1, 0]
    if len(set(ys)) < 2:
        return dict(DEFAULT_SPAN_WEIGHTS)
    model = LogisticRegression(C=1.0, max_iter=2000, fit_intercept=False).fit(np.asarray(xs), np.asarray(ys))
    return {name: round(float(w), 4) for name, w in zip(FEATURES, model.coef_[0])}


def fit_answerable(records: Sequence[Asked], weights: dict[str, float]) -> dict[str, float]:
    """Logistic regression over the chosen span's near-miss features: answerable (1) against
    unanswerable and near-miss (0), among questions that pass the evidence test and whose span gives
    the kind of fact asked (the others are turned down by that rule alone). Features are standardised
    for the fit and the weights folded back onto the raw features; the cut-off is then moved to the
    value that handles the most training questions right (ties: nearest the model's own)."""
    from sklearn.linear_model import LogisticRegression

    xs, ys = [], []
    for r in records:
        if not r.passed_evidence or r.mode == "hint":
            continue
        best = _best_span(r, weights)
        if best is None or best.lacks_type:
            continue
        f = best.near_miss_features(r.margin)
        xs.append([f[k] for k in ANSWERABLE_FEATURES])
        ys.append(int(r.answerable))
    if len(set(ys)) < 2:
        return {}
    x, y = np.asarray(xs), np.asarray(ys)
    mu, sd = x.mean(0), x.std(0) + 1e-9
    model = LogisticRegression(C=0.1, max_iter=5000).fit((x - mu) / sd, y)
    w = model.coef_[0] / sd
    z = x @ w
    cuts = np.unique(z)
    cuts = np.concatenate([[cuts[0] - 1.0], (cuts[:-1] + cuts[1:]) / 2])
    b0 = float(model.intercept_[0] - (model.coef_[0] * mu / sd).sum())
    right = [int(((z >= t) == (y == 1)).sum()) for t in cuts]
    best_cut = min((t for t, ok in zip(cuts, right) if ok == max(right)), key=lambda t: abs(t + b0))
    out = {k: round(float(v), 4) for k, v in zip(ANSWERABLE_FEATURES, w)}
    out["intercept"] = round(float(-best_cut), 4)
    return out


def metrics(records: Sequence[Asked], answers: dict[str, str | None]) -> dict:
    """Key-point coverage, complete rate, words, answered share, abstention precision / recall."""
    answerable = [r for r in records if r.answerable]
    unanswerable = [r for r in records if not r.answerable]
    covs = [coverage(answers[r.qid], r.key_points, r.lang) for r in answerable if r.key_points]
    given = [answers[r.qid] for r in records if answers[r.qid]]
    words = [len(a.split()) for a in given if a]
    abstained_right = sum(1 for r in unanswerable if not answers[r.qid])
    abstained_wrong = sum(1 for r in answerable if not answers[r.qid])
    near = [r for r in unanswerable if r.near_miss]
    return {
        "n_answerable": len(answerable),
        "n_unanswerable": len(unanswerable),
        "n_near_miss": len(near),
        "key_point_coverage": round(float(np.mean(covs)), 4) if covs else None,
        "key_point_coverage_when_answered": round(float(np.mean([c for r, c in zip([r for r in answerable if r.key_points], covs) if answers[r.qid]])), 4)
        if any(answers[r.qid] for r in answerable) else None,
        "complete_rate": round(sum(not is_cut(a) for a in given if a) / len(given), 4) if given else None,
        "cut_answers": sum(is_cut(a) for a in given if a),
        "words_mean": round(float(np.mean(words)), 1) if words else None,
        "words_p95": round(float(np.percentile(words, 95)), 1) if words else None,
        "over_80_words": sum(w > MAX_ANSWER_WORDS for w in words),
        "answerable_answered": round(sum(1 for r in answerable if answers[r.qid]) / len(answerable), 4) if answerable else None,
        "abstention_precision": round(abstained_right / (abstained_right + abstained_wrong), 4) if abstained_right + abstained_wrong else None,
        "abstention_recall": round(abstained_right / len(unanswerable), 4) if unanswerable else None,
        "near_miss_recall": round(sum(1 for r in near if not answers[r.qid]) / len(near), 4) if near else None,
        "hints_on_eval_questions": sum(1 for r in records if r.mode == "hint"),
    }


def report(records: Sequence[Asked], weights: dict[str, float], answerable: dict[str, float], near_miss_test: bool = True) -> dict:
    answers = {r.qid: choose(r, weights, answerable, near_miss_test=near_miss_test) for r in records}
    out = {sl: metrics([r for r in records if r.slice == sl], answers) for sl in FORMS}
    out["all"] = metrics(records, answers)
    return out


def _fold(qid: str, k: int = FOLDS) -> int:
    return int(hashlib.sha1(qid.encode()).hexdigest(), 16) % k


def cross_validated(records: Sequence[Asked], k: int = FOLDS) -> dict:
    """Span weights and near-miss thresholds fitted on k-1 folds, answers chosen on the held-out fold."""
    answers: dict[str, str | None] = {}
    for fold in range(k):
        train = [r for r in records if _fold(r.qid, k) != fold]
        weights = fit_span_weights(train)
        answerable = fit_answerable(train, weights)
        for r in records:
            if _fold(r.qid, k) == fold:
                answers[r.qid] = choose(r, weights, answerable)
    out = {sl: metrics([r for r in records if r.slice == sl], answers) for sl in FORMS}
    out["all"] = metrics(records, answers)
    return out


def answer_quality(desk: HelpDesk, questions: Sequence, calibration: Calibration) -> dict:
    """Shipped weights (calibration.json), cross-validated refits, and the baseline of hand-set weights
    with no near-miss test; latency of the whole ``ask`` per question."""
    records = ask_all(desk, questions)
    shipped_w = calibration.span_weights or DEFAULT_SPAN_WEIGHTS
    return {
        "shipped": report(records, shipped_w, calibration.answerable),
        "cross_validated": cross_validated(records),
        "default_weights_no_near_miss_test": report(records, DEFAULT_SPAN_WEIGHTS, {}, near_miss_test=False),
        "span_weights": shipped_w,
        "answerable": calibration.answerable,
        "ask_p50_ms": percentile_ms([r.ms for r in records], 50),
        "ask_p95_ms": percentile_ms([r.ms for r in records], 95),
        "questions": len(records),
    }


def calibrate_answers(desk: HelpDesk, questions: Sequence, write: bool = True) -> dict:
    """Fit span weights and near-miss thresholds on all the evaluation questions; save them with the
    index's calibration (calibration.json), after reporting the cross-validated estimate."""
    records = ask_all(desk, questions)
    weights = fit_span_weights(records)
    answerable = fit_answerable(records, weights)
    cal = desk.index.calibration
    cal.span_weights, cal.answerable = weights, answerable
    cal.notes = dict(cal.notes, answers={
        "measured_on": f"content eval questions ({len(records)})", "date": datetime.date.today().isoformat(),
        "objective": "span_weights: pairwise logistic regression on key-point coverage; answerable: logistic regression, answerable vs not",
    })
    if write:
        save_calibration(cal)
    return {"span_weights": weights, "answerable": answerable, "cross_validated": cross_validated(records), "in_sample": report(records, weights, answerable),
            "written": write}


def content_desk(content_dir: Path, encoder_name: str, cache_dir: Path | None, encoder_threads: int | None = None) -> tuple[HelpDesk, list]:
    """The help desk over the content's lessons, and its evaluation questions."""
    library = load_library(content_dir)
    desk = HelpDesk.build(library.lessons.values(), encoder_name, encoder_threads=encoder_threads, cache_dir=cache_dir)
    return desk, list(library.eval_questions)
