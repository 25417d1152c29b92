"""Measuring retrieval: recall@k and MRR of the labelled lesson (or SQuAD paragraph), latency,
and abstention on questions the library cannot answer.

Every question is searched once, keeping every candidate's raw BM25 and cosine; a fusion weight is
then applied to those raw scores (identical to what ``LessonIndex.search`` computes for an index
of at most ``ALL_CANDIDATES_UP_TO`` passages), so a sweep over weights costs one search per question.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tutor.answering.calibration import DEFAULT_W_DENSE, NEVER, Calibration, evidence, load_calibration, save_calibration
from tutor.answering.encoders import Encoder
from tutor.answering.fusion import fuse
from tutor.answering.index import IndexSettings, LessonIndex, Ranking
from tutor.answering.lexical import coverage
from tutor.answering.library import load_squad
from tutor.content.library import Library, load_library


@dataclass
class Scored:
    """One question's raw candidate scores, for re-fusing at any weight."""

    qid: str
    slice: str
    relevant: tuple[str, ...]
    form_key: str
    lesson_of: np.ndarray  # lesson index of each candidate
    other_lang: np.ndarray  # True where the candidate passage is not in the question's language
    bm25: np.ndarray
    dense: np.ndarray | None
    ideal_bm25: float
    search_ms: float


def score_questions(
    index: LessonIndex, questions: Sequence, lang_of=lambda q: None, progress=None, method: str | None = None
) -> tuple[list[Scored], list[str]]:
    """Search every question once (``lang_of(q)`` forces its language; None = detect).

    ``method``: ``bm25`` skips the encoder (its latency is then BM25's alone); otherwise both
    parts are computed."""
    lesson_ids = sorted(index.lessons)
    pos = {lid: i for i, lid in enumerate(lesson_ids)}
    out: list[Scored] = []
    for q in questions:
        t0 = time.perf_counter()
        use = "bm25" if (method == "bm25" or not index.encoder) else "fused"
        r: Ranking = index.search(q.question, lang=lang_of(q), k=None, method=use, w_dense=0.5)
        ms = (time.perf_counter() - t0) * 1000
        # restore passage order so candidates align across questions
        order = np.argsort(np.asarray(r.passages))
        out.append(
            Scored(
                qid=q.id,
                slice=q.slice,
                relevant=tuple(q.lessons),
                form_key=r.form.key,
                lesson_of=np.asarray([pos[index.passages[i].lesson_id] for i in np.asarray(r.passages)[order]]),
                other_lang=np.asarray([index.passages[i].lang != r.form.lang for i in np.asarray(r.passages)[order]], dtype=bool),
                bm25=r.bm25[order],
                dense=None if r.dense is None else r.dense[order],
                ideal_bm25=r.ideal_bm25,
                search_ms=ms,
            )
        )
        if progress:
            progress(1)
    return out, lesson_ids


def lesson_ranking(s: Scored, w_dense: float, method: str = "minmax") -> tuple[np.ndarray, np.ndarray, int]:
    """(lesson indices best first, their scores, index of the best passage) at this weight."""
    fused = fuse(s.bm25, s.dense, w_dense, method)
    order = np.lexsort((np.arange(len(fused)), -fused))
    seen: dict[int, float] = {}
    for i in order:
        li = int(s.lesson_of[i])
        if li not in seen:
            seen[li] = float(fused[i])
    ids = np.fromiter(seen.keys(), dtype=np.int64, count=len(seen))
    vals = np.fromiter(seen.values(), dtype=np.float32, count=len(seen))
    return ids, vals, int(order[0]) if len(order) else -1


def ranking_metrics(
    scored: Iterable[Scored], lesson_ids: list[str], w_dense, method: str = "minmax", ks=(1, 3, 5), mrr_k: int = 10
) -> dict:
    """Recall@k and MRR@mrr_k over answerable questions. ``w_dense``: a float or {form_key: float}."""
    pos = {lid: i for i, lid in enumerate(lesson_ids)}
    hits = {k: 0 for k in ks}
    rr = 0.0
    n = 0
    for s in scored:
        if not s.relevant:
            continue
        ids, _, _ = lesson_ranking(s, _weight(w_dense, s.form_key), method)
        rel = {pos[r] for r in s.relevant if r in pos}
        first = next((rank for rank, li in enumerate(ids[:mrr_k].tolist(), 1) if li in rel), None)
        n += 1
        for k in ks:
            hits[k] += int(any(li in rel for li in ids[:k].tolist()))
        rr += 1.0 / first if first else 0.0
    out = {f"recall_at_{k}": round(hits[k] / n, 4) if n else None for k in ks}
    out[f"mrr_at_{mrr_k}"] = round(rr / n, 4) if n else None
    out["n_questions"] = n
    return out


def evidence_at(s: Scored, w_dense: float, method: str = "minmax") -> float:
    """``answer.evidence_of`` for a scored question at this weight (same definition)."""
    if not len(s.bm25):
        return 0.0
    _, _, top = lesson_ranking(s, w_dense, method)
    cos = float(s.dense[top]) if s.dense is not None and w_dense > 0 else 0.0
    return evidence(w_dense, cos, coverage(s.bm25[top], s.ideal_bm25))


def percentile_ms(values: Sequence[float], p: float) -> float:
    return round(float(np.percentile(np.asarray(values), p)), 2) if len(values) else 0.0


def cross_evidence(s: Scored) -> float:
    """Best cosine of a passage in another language than the question's (answer.py's fallback)."""
    if s.dense is None or not s.other_lang.any():
        return 0.0
    return float(s.dense[s.other_lang].max())


def answers(s: Scored, w: float, threshold: float, cross_threshold: float) -> bool:
    """``HelpDesk.ask``'s decision: answer when the best passage's evidence reaches the threshold,
    or else when a passage in another language reaches the cross-language cosine threshold."""
    return evidence_at(s, w) >= threshold or cross_evidence(s) >= cross_threshold


def _weight(w_dense: float | dict[str, float], form_key: str) -> float:
    """The fusion weight for a form, from one weight for all or ``{form_key: weight}``."""
    if isinstance(w_dense, dict):
        return float(w_dense.get(form_key, w_dense.get("*", DEFAULT_W_DENSE)))
    return float(w_dense)


def abstention_metrics(scored: Iterable[Scored], w_dense, thresholds: dict[str, float]) -> dict:
    """Abstention precision/recall: the "positive" class is a question the library cannot answer."""
    tp = fp = fn = 0
    answered_right = answerable = 0
    for s in scored:
        w = _weight(w_dense, s.form_key)
        t = thresholds.get(s.form_key, thresholds.get("*", 0.0))
        tx = thresholds.get(f"cross:{s.form_key}", thresholds.get("cross:*", NEVER))
        abstain = not answers(s, w, t, tx)
        if not s.relevant:
            tp += int(abstain)
            fn += int(not abstain)
        else:
            answerable += 1
            fp += int(abstain)
            answered_right += int(not abstain)
    return {
        "abstention_precision": round(tp / (tp + fp), 4) if tp + fp else None,
        "abstention_recall": round(tp / (tp + fn), 4) if tp + fn else None,
        "answerable_answered": round(answered_right / answerable, 4) if answerable else None,
        "n_unanswerable": tp + fn,
        "n_answerable": answerable,
    }


def best_threshold(pos: Sequence[float], neg: Sequence[float], objective: str = "accuracy") -> tuple[float, float]:
    """Threshold on evidence (abstain below it) maximising the share of questions handled right
    (answerable ``pos`` answered, unanswerable ``neg`` abstained; ``objective="balanced"`` weighs
    the two groups equally instead); ties go to the lower threshold (answer more).
    Returns (threshold, objective value)."""
    answerable = np.sort(np.asarray(pos, dtype=np.float64))
    unanswerable = np.sort(np.asarray(neg, dtype=np.float64))
    if not len(unanswerable) or not len(answerable):
        return (0.0, float("nan"))
    values = np.unique(np.concatenate([answerable, unanswerable]))
    cands = np.concatenate([[values[0] - 1e-6], (values[:-1] + values[1:]) / 2, [values[-1] + 1e-6]])
    best = (cands[0], -1.0)
    for t in cands:
        tpr = float((unanswerable < t).mean())  # unanswerable abstained
        tnr = float((answerable >= t).mean())  # answerable answered
        if objective == "balanced":
            bal = (tpr + tnr) / 2
        else:
            bal = (tpr * len(unanswerable) + tnr * len(answerable)) / (len(unanswerable) + len(answerable))
        if bal > best[1] + 1e-12:
            best = (float(t), bal)
    return best


def auc(pos: Sequence[float], neg: Sequence[float]) -> float | None:
    """P(evidence of an answerable question > that of an unanswerable one)."""
    if not len(pos) or not len(neg):
        return None
    p = np.asarray(pos)[:, None]
    n = np.asarray(neg)[None, :]
    return round(float((p > n).mean() + 0.5 * (p == n).mean()), 4)


WEIGHT_GRID = tuple(round(x, 2) for x in np.arange(0.0, 1.0001, 0.05))


def sweep_weights(scored: list[Scored], lesson_ids: list[str], grid=WEIGHT_GRID, ks=(1, 3, 5), mrr_k: int = 10) -> list[dict]:
    return [dict(w_dense=w, **ranking_metrics(scored, lesson_ids, w, ks=ks, mrr_k=mrr_k)) for w in grid]


def choose_weight(rows: list[dict], key=("recall_at_3", "mrr_at_10"), prior: float = 0.5) -> float:
    """The weight with the best sum of ``key`` metrics; ties go to the weight nearest ``prior``."""
    def val(r):
        return sum((r.get(k) or 0.0) for k in key)

    best = max(val(r) for r in rows)
    tied = [r["w_dense"] for r in rows if val(r) >= best - 1e-9]
    return float(min(tied, key=lambda w: (abs(w - prior), w)))


FORMS = ("vi", "vi_nodiac", "en")


def _method_and_weight(kind: str, encoder: Encoder | None, calibrated: float | dict[str, float]) -> tuple[str, float | dict[str, float]]:
    """A method's label and its fusion weight: 0 for BM25 (or no encoder), 1 for the encoder alone,
    else ``calibrated`` (a weight, or one per form)."""
    if kind == "bm25" or encoder is None:
        return "bm25", 0.0
    return f"{kind}:{encoder.name}", 1.0 if kind == "dense" else calibrated


def _build_content_index(content_dir: Path, encoder: Encoder | None, cache_dir: Path | None) -> tuple[Library, LessonIndex]:
    library = load_library(content_dir)
    index = LessonIndex.build(library.lessons.values(), encoder, cache_dir=cache_dir, progress=True)
    return library, index


def calibrate(scored: list[Scored], lesson_ids: list[str], encoder_name: str | None) -> tuple[Calibration, dict]:
    """Fusion weight per form (best recall@3 + MRR@10) and abstention threshold per form (most
    questions handled right: answerable answered, unanswerable abstained), from scored questions.
    Forms are those of the detected language (what ``ask`` sees), not the labelled slice."""
    has_dense = any(s.dense is not None for s in scored)
    report: dict = {"encoder": encoder_name, "forms": {}}
    weights: dict[str, float] = {}
    thresholds: dict[str, float] = {}
    pooled = [s for s in scored]
    groups = {f: [s for s in scored if s.form_key == f] for f in FORMS}
    groups["*"] = pooled
    for f, group in groups.items():
        answerable = [s for s in group if s.relevant]
        if has_dense and answerable:
            rows = sweep_weights(answerable, lesson_ids)
            w = choose_weight(rows)
        else:
            rows, w = [], 0.0
        weights[f] = w
        pos = [evidence_at(s, w) for s in group if s.relevant]
        neg = [evidence_at(s, w) for s in group if not s.relevant]
        t, bal = best_threshold(pos, neg)
        thresholds[f] = round(t, 4)
        report["forms"][f] = {
            "n_answerable": len(pos),
            "n_unanswerable": len(neg),
            "w_dense": w,
            "threshold": round(t, 4),
            "accuracy": None if bal != bal else round(bal, 4),
            "evidence_auc": auc(pos, neg),
            "sweep": rows,
        }
    # A form with too few unanswerable questions to calibrate on uses the pooled threshold.
    for f in FORMS:
        if report["forms"][f]["n_unanswerable"] < 3 or report["forms"][f]["n_answerable"] < 3:
            thresholds[f] = thresholds["*"]
            report["forms"][f]["threshold"] = thresholds["*"]
            report["forms"][f]["threshold_from"] = "*"
    # Cross-language fallback: among the questions the first test turns down, the cosine of the
    # best other-language passage above which answering gets more of them right than abstaining
    # (ties: the higher threshold, i.e. abstain). Never, when that helps no question.
    if has_dense:
        for f, group in groups.items():
            w, t = weights[f], thresholds[f]
            down = [s for s in group if evidence_at(s, w) < t]
            best_tx, best_ok = NEVER, sum(1 for s in down if not s.relevant)
            for tx in sorted({round(cross_evidence(s) + 1e-6, 6) for s in down}, reverse=True):
                ok = sum(1 for s in down if (cross_evidence(s) >= tx) == bool(s.relevant))
                if ok > best_ok:
                    best_tx, best_ok = tx, ok
            thresholds[f"cross:{f}"] = round(best_tx, 4)
            report["forms"][f]["cross_threshold"] = round(best_tx, 4)
    kept = load_calibration(encoder_name)  # the answer composer's fitted parts are `tutor answer-calibrate`'s, kept as they are
    cal = Calibration(encoder=encoder_name or "bm25", w_dense=weights, threshold=thresholds, span_weights=kept.span_weights, answerable=kept.answerable)
    return cal, report


def calibrate_on_content(content_dir: Path, encoder: Encoder | None, cache_dir: Path | None = None, write: bool = True):
    """Calibrate on the content's evaluation questions and (``write``) save calibration.json."""
    library, index = _build_content_index(content_dir, encoder, cache_dir)
    scored, lesson_ids = score_questions(index, library.eval_questions)
    cal, report = calibrate(scored, lesson_ids, encoder.name if encoder else None)
    cal.notes = {
        "measured_on": f"content eval questions ({len(library.eval_questions)}), {len(library.lessons)} lessons",
        "content_hash": index.content_hash,
        "date": datetime.date.today().isoformat(),
        "objective": "w_dense: max recall@3 + MRR@10 per detected form; threshold: max share of questions handled right",
    }
    if write:
        save_calibration(cal)
    slim = {f: {k: v for k, v in r.items() if k != "sweep"} for f, r in report["forms"].items()}
    return cal, {"encoder": report["encoder"], "forms": slim, "written": write}


def evaluate_content(
    content_dir: Path, encoder: Encoder | None, kind: str = "fused", k: int = 10, w_dense=None, limit=None, cache_dir: Path | None = None
) -> dict:
    """Per slice (vi, vi_nodiac, en): recall@1/3/5 and MRR of a labelled lesson; abstention
    precision/recall on the unanswerable questions; language detection accuracy; latency."""
    library, index = _build_content_index(content_dir, encoder, cache_dir)
    questions = library.eval_questions[:limit] if limit else library.eval_questions
    scored, lesson_ids = score_questions(index, questions, method=kind)
    cal = index.calibration
    method, w = _method_and_weight(kind, encoder, w_dense if w_dense is not None else dict(cal.w_dense))
    out: dict = {
        "method": method,
        "w_dense": w,
        "lessons": len(library.lessons),
        "passages": len(index.passages),
    }
    for sl in FORMS:
        group = [s for s in scored if s.slice == sl]
        m = ranking_metrics(group, lesson_ids, w, ks=(1, 3, 5), mrr_k=k)
        m.update(abstention_metrics(group, w, dict(cal.threshold)))
        m["form_detected_as_slice"] = round(sum(s.form_key == sl for s in group) / len(group), 4) if group else None
        out[sl] = m
    allm = ranking_metrics(scored, lesson_ids, w, ks=(1, 3, 5), mrr_k=k)
    allm.update(abstention_metrics(scored, w, dict(cal.threshold)))
    out["all"] = allm
    times = [s.search_ms for s in scored]
    out["p50_ms"] = percentile_ms(times, 50)
    out["p95_ms"] = percentile_ms(times, 95)
    return out


def evaluate_squad(
    path: Path, encoder: Encoder | None, kind: str = "fused", k: int = 10, w_dense=None, lang=None, limit=None, with_titles=False,
    cache_dir: Path | None = None,
) -> dict:
    """Index a SQuAD file's paragraphs; recall@1/5 and MRR@k of each question's paragraph; latency."""
    ss = load_squad(path, lang=lang, with_titles=with_titles)
    index = LessonIndex.build(ss.paragraphs, encoder, settings=IndexSettings(languages=(ss.lang,)), cache_dir=cache_dir, progress=True)
    questions = ss.questions[:limit] if limit else ss.questions
    scored, lesson_ids = score_questions(index, questions, lang_of=lambda q: ss.lang, method=kind)
    method, w = _method_and_weight(kind, encoder, float(w_dense) if w_dense is not None else index.calibration.weight(ss.lang))
    m = ranking_metrics(scored, lesson_ids, w, ks=(1, 5), mrr_k=k)
    times = [s.search_ms for s in scored]
    return {
        "recall_at_1": m["recall_at_1"],
        "recall_at_5": m["recall_at_5"],
        f"mrr_at_{k}": m[f"mrr_at_{k}"],
        "n_questions": m["n_questions"],
        "p50_ms": percentile_ms(times, 50),
        "p95_ms": percentile_ms(times, 95),
        "method": method,
        "w_dense": w,
        "lang": ss.lang,
        "paragraphs": len(ss.paragraphs),
        "passages": len(index.passages),
    }
