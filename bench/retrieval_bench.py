"""Retrieval benchmark: writes bench/results/retrieval.md and bench/results/retrieval.json.

    .venv/bin/python bench/retrieval_bench.py                 # everything (about 30-60 min on 2 cores, cold)
    .venv/bin/python bench/retrieval_bench.py --skip-100k --skip-xquad

1. The content's evaluation questions (slices vi, vi_nodiac, en; `lessons: []` = unanswerable):
   recall@1/3/5 and MRR@10 of a labelled lesson per slice for BM25, each encoder alone and fused;
   abstention precision/recall; the fusion-weight sweep; a 5-fold cross-validated estimate of the
   calibrated default (weights and thresholds chosen on 4/5 of the questions, measured on the
   rest). Writes tutor/answering/calibration.json (unless --no-write-calibration).
2. XQuAD en/es/de (../shared/data/xquad): recall@1/5 and MRR@10 of the question's paragraph for
   BM25, each encoder alone, and fused; the fusion weight is chosen per language by 2-fold
   cross-validation over articles (chosen on one half, measured on the other).
3. Latency of `HelpDesk.ask` (the whole query path: detection, BM25, e5 query embedding, faiss,
   fusion, answer composition) against the shipped library and against 100,000 generated passages.
   Embedding 100,000 passages with e5-small on 2 cores takes hours, so only a sample is embedded
   for real (its throughput is measured and the full time extrapolated); the other passages get
   the vector of a randomly chosen real one plus Gaussian noise (cosine about 0.9 to it), which
   costs the same to search. Questions are embedded for real.

`--answers` instead measures the answers (bench/results/answers.md and .json; a few minutes):
key-point coverage, cut answers, length, answered share and abstention on the unanswerable and
near-miss questions, per slice, with the shipped span weights and near-miss model, 5-fold
cross-validated refits, and hand-set weights without the near-miss test; then the latency of
`HelpDesk.ask` on the shipped library in three interleaved rounds (search alone, whole ask), with
the load average.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tutor.answering.answer import HelpDesk  # noqa: E402
from tutor.answering.calibration import save_calibration  # noqa: E402
from tutor.answering.encoders import DEFAULT_ENCODER, get_encoder  # noqa: E402
from tutor.answering.evaluation import (  # noqa: E402
    FORMS,
    WEIGHT_GRID,
    abstention_metrics,
    answers,
    auc,
    best_threshold,
    calibrate,
    choose_weight,
    evidence_at,
    percentile_ms,
    ranking_metrics,
    score_questions,
    sweep_weights,
)
from tutor.answering.index import IndexSettings, LessonIndex  # noqa: E402
from tutor.answering.library import Page, PageSection, load_squad  # noqa: E402
from tutor.answering.passages import sentences, split_lesson  # noqa: E402
from tutor.answering.quality import answer_quality  # noqa: E402
from tutor.content.library import load_library  # noqa: E402

RESULTS = ROOT / "bench" / "results"
DATA = ROOT.parent / "shared" / "data"
ENCODERS = ("e5-small", "minilm")


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


def load_avg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


# ------------------------------------------------------------------------------------ content


def thresholds_at(scored, w_by_form: dict[str, float]) -> dict[str, float]:
    """Best threshold (most questions handled right) per form at fixed weights (pooled '*' for thin forms)."""
    out = {}
    groups = {f: [s for s in scored if s.form_key == f] for f in FORMS}
    groups["*"] = list(scored)
    for f, g in groups.items():
        w = w_by_form.get(f, w_by_form.get("*", 0.5))
        pos = [evidence_at(s, w) for s in g if s.relevant]
        neg = [evidence_at(s, w) for s in g if not s.relevant]
        t, _ = best_threshold(pos, neg)
        out[f] = round(t, 4)
        if len(neg) < 3 or len(pos) < 3:
            out[f] = None
    return {f: (t if t is not None else out["*"]) for f, t in out.items()}


def slice_table(scored, lesson_ids, w, thresholds) -> dict:
    out = {}
    for sl in (*FORMS, "all"):
        group = scored if sl == "all" else [s for s in scored if s.slice == sl]
        m = ranking_metrics(group, lesson_ids, w, ks=(1, 3, 5), mrr_k=10)
        m.update(abstention_metrics(group, w, thresholds))
        out[sl] = m
    return out


def fold_of(qid: str, k: int) -> int:
    return int(hashlib.sha1(qid.encode()).hexdigest(), 16) % k


def cross_validated(scored, lesson_ids, name, k: int = 5) -> dict:
    """Calibrate on k-1 folds, measure on the held-out fold; metrics over all held-out questions."""
    held: list = []
    per_q_w: dict[str, float] = {}
    per_q_t: dict[str, float] = {}
    per_q_tx: dict[str, float] = {}
    for fold in range(k):
        train = [s for s in scored if fold_of(s.qid, k) != fold]
        test = [s for s in scored if fold_of(s.qid, k) == fold]
        cal, _ = calibrate(train, lesson_ids, name)
        for s in test:
            per_q_w[s.qid] = cal.weight(s.form_key)
            per_q_t[s.qid] = cal.abstain_below(s.form_key)
            per_q_tx[s.qid] = cal.other_language_above(s.form_key)
        held += test
    out = {}
    for sl in (*FORMS, "all"):
        group = held if sl == "all" else [s for s in held if s.slice == sl]
        hits = {1: 0, 3: 0, 5: 0}
        n = 0
        tp = fp = fn = 0
        for s in group:
            w = per_q_w[s.qid]
            if s.relevant:
                m = ranking_metrics([s], lesson_ids, w, ks=(1, 3, 5))
                n += 1
                for kk in hits:
                    hits[kk] += m[f"recall_at_{kk}"]
            abstain = not answers(s, w, per_q_t[s.qid], per_q_tx[s.qid])
            if not s.relevant:
                tp += abstain
                fn += not abstain
            else:
                fp += abstain
        out[sl] = {
            **{f"recall_at_{kk}": round(v / n, 4) if n else None for kk, v in hits.items()},
            "abstention_precision": round(tp / (tp + fp), 4) if tp + fp else None,
            "abstention_recall": round(tp / (tp + fn), 4) if tp + fn else None,
        }
    return out


def bench_content(args) -> dict:
    content = load_library(ROOT / "content")
    qs = content.eval_questions
    log(f"content: {len(content.lessons)} lessons, {len(qs)} questions")
    res: dict = {
        "lessons": len(content.lessons),
        "questions": {sl: sum(1 for q in qs if q.slice == sl and q.lessons) for sl in FORMS},
        "unanswerable": {sl: sum(1 for q in qs if q.slice == sl and not q.lessons) for sl in FORMS},
        "methods": {},
        "calibration": {},
    }
    indexes = {}
    scored_by = {}
    lesson_ids = None
    for name in (None, *args.encoders):
        enc = get_encoder(name) if name else None
        t0 = time.perf_counter()
        index = LessonIndex.build(content.lessons.values(), enc, cache_dir=args.index_cache, progress=True)
        log(f"index {name or 'bm25'}: {index.build_stats} in {time.perf_counter() - t0:.1f}s")
        scored, lesson_ids = score_questions(index, qs, method="fused" if enc else "bm25")
        indexes[name or "bm25"] = index
        scored_by[name or "bm25"] = scored
        res.setdefault("index", {})[name or "bm25"] = dict(index.build_stats, content_hash=index.content_hash)
    res["passages"] = len(indexes["bm25"].passages)
    res["form_detection"] = {
        sl: round(float(np.mean([s.form_key == sl for s in scored_by["bm25"] if s.slice == sl])), 4) for sl in FORMS
    }

    # BM25 alone
    bm = scored_by["bm25"]
    cal_bm, rep_bm = calibrate(bm, lesson_ids, None)
    res["methods"]["bm25"] = {"w_dense": 0.0, "thresholds": cal_bm.threshold, "slices": slice_table(bm, lesson_ids, 0.0, cal_bm.threshold)}
    res["calibration"]["bm25"] = {f: {k: v for k, v in r.items() if k != "sweep"} for f, r in rep_bm["forms"].items()}
    cals = {"bm25": cal_bm}
    for name in args.encoders:
        sc = scored_by[name]
        enc_name = indexes[name].encoder.name
        th_dense = thresholds_at(sc, {"*": 1.0})
        res["methods"][f"dense:{name}"] = {"w_dense": 1.0, "thresholds": th_dense, "slices": slice_table(sc, lesson_ids, 1.0, th_dense)}
        cal, rep = calibrate(sc, lesson_ids, enc_name)
        cals[enc_name] = cal
        res["methods"][f"fused:{name}"] = {"w_dense": cal.w_dense, "thresholds": cal.threshold, "slices": slice_table(sc, lesson_ids, dict(cal.w_dense), cal.threshold)}
        res["calibration"][name] = {f: {k: v for k, v in r.items() if k != "sweep"} for f, r in rep["forms"].items()}
        res.setdefault("sweeps", {})[name] = {f: rep["forms"][f]["sweep"] for f in (*FORMS, "*")}
        res.setdefault("cross_validated", {})[f"fused:{name}"] = cross_validated(sc, lesson_ids, enc_name)
        # evidence parts on their own (AUC answerable vs unanswerable), at the calibrated weight
        parts = {}
        for f in (*FORMS, "*"):
            g = sc if f == "*" else [s for s in sc if s.form_key == f]
            w = cal.weight(f)
            parts[f] = {
                "evidence": auc([evidence_at(s, w) for s in g if s.relevant], [evidence_at(s, w) for s in g if not s.relevant]),
                "cosine_only": auc([evidence_at(s, 1.0) for s in g if s.relevant], [evidence_at(s, 1.0) for s in g if not s.relevant]),
                "coverage_only": auc([evidence_at(s, 0.0) for s in g if s.relevant], [evidence_at(s, 0.0) for s in g if not s.relevant]),
            }
        res.setdefault("evidence_auc", {})[name] = parts

    # Ablation for questions typed without diacritics: diacritic restoration and folded passage copies.
    if DEFAULT_ENCODER in args.encoders:
        enc = get_encoder(DEFAULT_ENCODER)
        cal = cals[enc.name]
        nodiac = [q for q in qs if q.slice == "vi_nodiac"]
        abl = {}
        for label, st in (
            ("restored question (default)", IndexSettings()),
            ("restored question + folded passage copies", IndexSettings(dense_folded=True)),
            ("folded passage copies, no restoration", IndexSettings(dense_folded=True, restore_diacritics=False)),
            ("neither", IndexSettings(restore_diacritics=False)),
        ):
            variant = LessonIndex.build(content.lessons.values(), enc, settings=st, cache_dir=args.index_cache, progress=True)
            sc_v, _ = score_questions(variant, nodiac)
            abl[f"vi_nodiac, {label}: dense alone"] = ranking_metrics(sc_v, lesson_ids, 1.0)
            abl[f"vi_nodiac, {label}: fused at w={cal.weight('vi_nodiac')}"] = ranking_metrics(sc_v, lesson_ids, cal.weight("vi_nodiac"))
        res["ablation_dense_folded"] = abl
        # RRF instead of min-max fusion, at the same weights
        res["ablation_rrf"] = {
            sl: ranking_metrics([s for s in scored_by[DEFAULT_ENCODER] if s.slice == sl], lesson_ids, dict(cal.w_dense), method="rrf")
            for sl in FORMS
        }

    if args.write_calibration:
        today = datetime.date.today().isoformat()
        for cal in cals.values():
            cal.notes = {
                "measured_on": f"content eval questions: {len(qs)} ({sum(1 for q in qs if not q.lessons)} unanswerable), {len(content.lessons)} lessons",
                "content_hash": indexes["bm25"].content_hash,
                "date": today,
                "objective": "w_dense: max recall@3 + MRR@10 per detected form; threshold: max share of questions handled right (answerable answered, unanswerable abstained)",
            }
            save_calibration(cal)
        log("wrote tutor/answering/calibration.json")
    res["_indexes"] = indexes  # used by the latency section, dropped before writing JSON
    return res


# ------------------------------------------------------------------------------------ XQuAD


def xquad_split_weight(scored, lesson_ids, article_of) -> tuple[dict, list]:
    """Fusion weight by 2-fold CV over articles: metrics of each half at the weight chosen on the other."""
    halves = [[s for s in scored if article_of[s.relevant[0]] % 2 == h] for h in (0, 1)]
    chosen = []
    held = []
    for h in (0, 1):
        rows = sweep_weights(halves[1 - h], lesson_ids, ks=(1, 5))
        w = choose_weight(rows, key=("recall_at_1", "mrr_at_10"))
        chosen.append(w)
        held.append((halves[h], w))
    hits1 = hits5 = rr = n = 0.0
    for group, w in held:
        m = ranking_metrics(group, lesson_ids, w, ks=(1, 5))
        k = m["n_questions"]
        hits1 += m["recall_at_1"] * k
        hits5 += m["recall_at_5"] * k
        rr += m["mrr_at_10"] * k
        n += k
    return {"recall_at_1": round(hits1 / n, 4), "recall_at_5": round(hits5 / n, 4), "mrr_at_10": round(rr / n, 4), "n_questions": int(n)}, chosen


def bench_xquad(args) -> dict:
    out: dict = {}
    for lang in ("en", "es", "de"):
        path = DATA / "xquad" / f"xquad.{lang}.json"
        if not path.exists():
            out[lang] = {"skipped": f"{path} not found"}
            continue
        ss = load_squad(path)
        data = json.loads(path.read_text(encoding="utf-8"))
        article_of = {}
        i = 0
        for a_idx, art in enumerate(data["data"]):
            for _ in art["paragraphs"]:
                article_of[f"p{i:05d}"] = a_idx
                i += 1
        settings = IndexSettings(languages=(lang,))
        res: dict = {"paragraphs": len(ss.paragraphs), "questions": len(ss.questions)}
        bm_index = LessonIndex.build(ss.paragraphs, None, settings, cache_dir=None)
        def lang_of(q, lang=lang):
            return lang

        bm, lesson_ids = score_questions(bm_index, ss.questions, lang_of=lang_of, method="bm25")
        res["passages"] = len(bm_index.passages)
        bm_times = [s.search_ms for s in bm]
        res["bm25"] = dict(ranking_metrics(bm, lesson_ids, 0.0, ks=(1, 5)), p50_ms=percentile_ms(bm_times, 50), p95_ms=percentile_ms(bm_times, 95))
        for name in args.encoders:
            enc = get_encoder(name)
            t0 = time.perf_counter()
            index = LessonIndex.build(ss.paragraphs, enc, settings, cache_dir=args.index_cache, progress=True)
            log(f"xquad {lang} {name}: {index.build_stats} ({time.perf_counter() - t0:.0f}s)")
            sc, _ = score_questions(index, ss.questions, lang_of=lang_of)
            times = [s.search_ms for s in sc]
            lat = {"p50_ms": percentile_ms(times, 50), "p95_ms": percentile_ms(times, 95)}
            res[f"dense:{name}"] = dict(ranking_metrics(sc, lesson_ids, 1.0, ks=(1, 5)), **lat)
            cv, chosen = xquad_split_weight(sc, lesson_ids, article_of)
            res[f"fused:{name}"] = dict(cv, **lat, w_dense_chosen_per_half=chosen)
            rows = sweep_weights(sc, lesson_ids, ks=(1, 5))
            res.setdefault("sweeps", {})[name] = rows
            res[f"fused:{name}:rrf@0.5"] = ranking_metrics(sc, lesson_ids, 0.5, method="rrf", ks=(1, 5))
        out[lang] = res
    return out


# ------------------------------------------------------------------------------------ latency


class NoisyCopyEncoder:
    """Bench-only: real vectors for a sample of passages, noisy copies of them for the rest;
    questions go to the real encoder. See the module docstring."""

    def __init__(self, real, real_vectors: dict[str, np.ndarray], sigma: float = 0.48, seed: int = 0):
        self.real = real
        self.name = f"{real.name}-noisy-bench"
        self.dim = real.dim
        self._real_vectors = real_vectors
        self._pool = np.stack(list(real_vectors.values()))
        self.sigma = sigma
        self._rng = np.random.default_rng(seed)

    def queries(self, texts):
        return self.real.queries(texts)

    def passages(self, texts, batch_size=16, progress=None):
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            v = self._real_vectors.get(t)
            if v is None:
                src = self._pool[self._rng.integers(len(self._pool))]
                g = self._rng.standard_normal(self.dim).astype(np.float32)
                g *= self.sigma / np.linalg.norm(g)
                v = src + g
                v /= np.linalg.norm(v)
            out[i] = v
        if progress:
            progress(len(texts))
        return out


def generated_lessons(content, n: int, seed: int = 7) -> list[Page]:
    """n one-passage lessons, half Vietnamese, half English, that do not copy the library's answers.

    Vietnamese: 60-150 syllables from a first-order Markov chain over the syllables of the
    library's Vietnamese sections (same vocabulary and word statistics, no real sentence).
    English: 4-8 sentences drawn from XQuAD's English paragraphs (other topics), or the same
    Markov recipe over the library's English sections when XQuAD is absent.
    """
    rng = random.Random(seed)

    def chain(texts: list[str]) -> dict[str, list[str]]:
        nxt: dict[str, list[str]] = {}
        for t in texts:
            toks = t.split()
            for a, b in zip(toks, toks[1:]):
                nxt.setdefault(a, []).append(b)
        return nxt

    def babble(nxt: dict[str, list[str]], starts: list[str], n_words: int) -> str:
        w = rng.choice(starts)
        out = [w]
        while len(out) < n_words:
            w = rng.choice(nxt[w]) if nxt.get(w) else rng.choice(starts)
            out.append(w)
        return " ".join(out)

    bodies = {"vi": [], "en": []}
    for lesson in content.lessons.values():
        for sec in lesson.sections:
            for lang in ("vi", "en"):
                bodies[lang].append(sec.body.get(lang))
    chains = {lang: chain(b) for lang, b in bodies.items()}
    starts = {lang: [t.split()[0] for t in b if t.split()] for lang, b in bodies.items()}
    xq_sentences: list[str] = []
    xq = DATA / "xquad" / "xquad.en.json"
    if xq.exists():
        for art in json.loads(xq.read_text(encoding="utf-8"))["data"]:
            for p in art["paragraphs"]:
                xq_sentences += sentences(p["context"])
    out = []
    for i in range(n):
        lang = "vi" if i % 2 == 0 else "en"
        if lang == "en" and xq_sentences:
            body = " ".join(rng.choice(xq_sentences) for _ in range(rng.randint(4, 8)))
        else:
            body = babble(chains[lang], starts[lang], rng.randint(60, 150))
        body = " ".join(body.split()[:150])
        title = f"Bài đọc thêm {i}" if lang == "vi" else f"Extra reading {i}"
        out.append(Page(id=f"gen-{i:06d}", title={lang: title}, sections=(PageSection({}, {lang: body}),), skills=("x",)))
    return out


def time_asks(desk: HelpDesk, questions, warmup: int = 5) -> dict:
    for q in questions[:warmup]:
        desk.ask(q.question)
    times, enc = [], []
    answers = []
    for q in questions:
        t0 = time.perf_counter()
        a = desk.ask(q.question)
        times.append((time.perf_counter() - t0) * 1000)
        enc.append(a.timings_ms.get("encode_ms", 0.0))
        answers.append(a)
    return {
        "n": len(times),
        "p50_ms": percentile_ms(times, 50),
        "p95_ms": percentile_ms(times, 95),
        "max_ms": round(max(times), 1),
        "encode_p50_ms": percentile_ms(enc, 50),
        "load_avg_after": load_avg(),
    }, answers


def bench_latency(args, content_res) -> dict:
    content = load_library(ROOT / "content")
    qs = content.eval_questions
    index = content_res["_indexes"][DEFAULT_ENCODER]
    desk = HelpDesk(index)
    out: dict = {}
    out["library"], _ = time_asks(desk, qs)
    out["library"]["passages"] = len(index.passages)
    log(f"latency library: {out['library']}")
    lesson = next(iter(content.lessons.values()))
    t0 = time.perf_counter()
    desk.add_or_replace_lesson(lesson)
    out["library"]["add_or_replace_lesson_s"] = round(time.perf_counter() - t0, 2)
    if args.skip_100k:
        return out

    enc = get_encoder(DEFAULT_ENCODER)
    out["large_path_check"] = large_path_check(content, index)
    log(f"large-index path check: {out['large_path_check']}")
    n = args.n_generated
    gen = generated_lessons(content, n)
    sample = gen[: args.n_real]
    # Real embeddings of a sample, timed (Vietnamese ones twice: the text and its folded copy).
    probe = LessonIndex(enc, cache_dir=None)
    texts, _, _ = probe._entries_for([p for lesson in sample for p in split_lesson(lesson)])
    t0 = time.perf_counter()
    vecs = enc.passages(texts)
    secs = time.perf_counter() - t0
    rate = len(texts) / secs
    total_entries_est = int(len(texts) / len(sample) * n)
    out["embedding"] = {
        "sample_entries": len(texts),
        "seconds": round(secs, 1),
        "entries_per_s": round(rate, 2),
        "estimated_hours_for_all": round(total_entries_est / rate / 3600, 2),
        "estimated_entries_for_all": total_entries_est,
    }
    log(f"embedding throughput: {out['embedding']}")
    noisy = NoisyCopyEncoder(enc, dict(zip(texts, vecs)))
    t0 = time.perf_counter()
    big = LessonIndex.build(list(content.lessons.values()) + gen, noisy, cache_dir=None, calibration=index.calibration)
    out["index_100k"] = {"build_s": round(time.perf_counter() - t0, 1), **big.build_stats}
    log(f"100k index: {out['index_100k']}")
    big_desk = HelpDesk(big)
    out["generated"], answers = time_asks(big_desk, qs)
    out["generated"]["passages"] = len(big.passages)
    rel = [(q, a) for q, a in zip(qs, answers) if q.lessons]
    out["generated"]["stress_recall_at_3"] = round(float(np.mean([any(x.lesson_id in q.lessons for x in a.lessons[:3]) for q, a in rel])), 4)
    t0 = time.perf_counter()
    big_desk.add_or_replace_lesson(lesson)
    out["generated"]["add_or_replace_lesson_s"] = round(time.perf_counter() - t0, 1)
    log(f"latency 100k: {out['generated']}")
    return out


def large_path_check(content, index, n: int = 20_000, seed: int = 3) -> dict:
    """Recall@3 per slice when the library sits among n English passages on other topics (XQuAD
    sentences) whose vectors are noisy copies of the library's own vectors (cosine about 0.9 to a
    real lesson passage: hard distractors for the dense side). Checks the large-index search path
    (candidate union, HNSW) against the library alone."""
    xq = DATA / "xquad" / "xquad.en.json"
    if not xq.exists():
        return {"skipped": f"{xq} not found"}
    rng = random.Random(seed)
    pool = [s for art in json.loads(xq.read_text(encoding="utf-8"))["data"] for p in art["paragraphs"] for s in sentences(p["context"])]
    gen = [
        Page(id=f"x{i:06d}", title={"en": f"Reading {i}"}, sections=(PageSection({}, {"en": " ".join(rng.choice(pool) for _ in range(5))}),))
        for i in range(n)
    ]
    real = {t: index._vectors[i] for i, t in enumerate(index._entries_for(index.passages)[0])}
    big = LessonIndex.build(list(content.lessons.values()) + gen, NoisyCopyEncoder(index.encoder, real), cache_dir=None, calibration=index.calibration)
    out = {"passages": len(big.passages)}
    for label, idx in (("library alone", index), (f"library + {n:,} distractors", big)):
        desk = HelpDesk(idx)
        row = {}
        for sl in FORMS:
            rel = [q for q in content.eval_questions if q.lessons and q.slice == sl]
            row[sl] = round(float(np.mean([any(x.lesson_id in q.lessons for x in desk.ask(q.question).lessons[:3]) for q in rel])), 4)
        out[label] = row
    return out


# ------------------------------------------------------------------------------------ report


def fmt(x, nd=3):
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:.{nd}f}"
    return str(x)


def write_report(res: dict) -> str:
    L = []
    meta = res["meta"]
    L.append("# Retrieval benchmark\n")
    L.append(f"Generated by `bench/retrieval_bench.py` on {meta['date']} ({meta['machine']}; load average at start {meta['load_avg_start']}, at end {meta['load_avg_end']}; other work shared the 2 cores). Wall time {meta['wall_min']} min.\n")
    for part in ("xquad", "latency"):
        if meta.get(f"{part}_from"):
            L.append(f"The {part} section is kept from the run of {meta[f'{part}_from']} (`--keep-previous`).\n")
    c = res.get("content")
    if c:
        L.append("## Content question set\n")
        L.append(f"{c['lessons']} lessons, {c['passages']} passages; answerable questions per slice {c['questions']}, unanswerable {c['unanswerable']}. Every method is calibrated the same way on these questions (fusion weight per detected form: best recall@3 + MRR@10; abstention threshold per form: most questions handled right, i.e. answerable answered and unanswerable abstained), so these figures are in-sample; the cross-validated rows below are not.\n")
        L.append("| method | slice | R@1 | R@3 | R@5 | MRR@10 | abstention precision | abstention recall | answerable answered |")
        L.append("|---|---|---|---|---|---|---|---|---|")
        for m, r in c["methods"].items():
            for sl in (*FORMS, "all"):
                x = r["slices"][sl]
                L.append(f"| {m} | {sl} | {fmt(x['recall_at_1'])} | {fmt(x['recall_at_3'])} | {fmt(x['recall_at_5'])} | {fmt(x['mrr_at_10'])} | {fmt(x['abstention_precision'])} | {fmt(x['abstention_recall'])} | {fmt(x['answerable_answered'])} |")
        L.append("")
        if c.get("cross_validated"):
            L.append("### Cross-validated (5 folds: weights and thresholds chosen on 4/5, measured on the held-out 1/5)\n")
            L.append("| method | slice | R@1 | R@3 | R@5 | abstention precision | abstention recall |")
            L.append("|---|---|---|---|---|---|---|")
            for m, r in c["cross_validated"].items():
                for sl in (*FORMS, "all"):
                    x = r[sl]
                    L.append(f"| {m} | {sl} | {fmt(x['recall_at_1'])} | {fmt(x['recall_at_3'])} | {fmt(x['recall_at_5'])} | {fmt(x['abstention_precision'])} | {fmt(x['abstention_recall'])} |")
            L.append("")
        L.append("### Calibration (written to tutor/retrieval/calibration.json)\n")
        L.append("| method | form | w_dense | threshold | share handled right | evidence AUC | answerable / unanswerable |")
        L.append("|---|---|---|---|---|---|---|")
        for m, forms in c["calibration"].items():
            for f, r in forms.items():
                L.append(f"| {m} | {f} | {fmt(r['w_dense'], 2)} | {fmt(r['threshold'], 4)}{' (pooled)' if r.get('threshold_from') else ''} | {fmt(r['accuracy'])} | {fmt(r['evidence_auc'])} | {r['n_answerable']} / {r['n_unanswerable']} |")
        L.append("")
        if c.get("evidence_auc"):
            L.append("Evidence parts, AUC (answerable vs unanswerable): the combination against each part alone.\n")
            L.append("| encoder | form | evidence (combined) | cosine only | coverage only |")
            L.append("|---|---|---|---|---|")
            for name, forms in c["evidence_auc"].items():
                for f, r in forms.items():
                    L.append(f"| {name} | {f} | {fmt(r['evidence'])} | {fmt(r['cosine_only'])} | {fmt(r['coverage_only'])} |")
            L.append("")
        if c.get("sweeps"):
            L.append("### Fusion weight sweep, recall@3 per detected form (w_dense = 0 is BM25 alone, 1 the encoder alone)\n")
            for name, forms in c["sweeps"].items():
                L.append(f"**{name}**\n")
                L.append("| form | " + " | ".join(f"{w:.2f}" for w in WEIGHT_GRID[::2]) + " |")
                L.append("|---|" + "---|" * len(WEIGHT_GRID[::2]))
                for f, rows in forms.items():
                    by_w = {r["w_dense"]: r for r in rows}
                    L.append(f"| {f} | " + " | ".join(fmt(by_w[w]["recall_at_3"]) if w in by_w else "–" for w in WEIGHT_GRID[::2]) + " |")
                L.append("")
        if c.get("ablation_dense_folded"):
            L.append("### Ablations\n")
            L.append("| variant | R@1 | R@3 | R@5 | MRR@10 |")
            L.append("|---|---|---|---|---|")
            for k, x in c["ablation_dense_folded"].items():
                L.append(f"| {k} | {fmt(x['recall_at_1'])} | {fmt(x['recall_at_3'])} | {fmt(x['recall_at_5'])} | {fmt(x['mrr_at_10'])} |")
            for sl, x in c.get("ablation_rrf", {}).items():
                L.append(f"| {sl}: RRF instead of min-max (same weights) | {fmt(x['recall_at_1'])} | {fmt(x['recall_at_3'])} | {fmt(x['recall_at_5'])} | {fmt(x['mrr_at_10'])} |")
            L.append("")
        L.append(f"Language/form detection accuracy per slice: {c['form_detection']}\n")
    x = res.get("xquad")
    if x:
        L.append("## XQuAD (240 paragraphs, 1,190 questions per language)\n")
        L.append("Fused rows: the weight is chosen per language by 2-fold cross-validation over articles (chosen on one half, measured on the other; the two chosen weights are listed). Latency is `LessonIndex.search` per question (p50 / p95 ms).\n")
        L.append("| lang | method | R@1 | R@5 | MRR@10 | p50 ms | p95 ms | note |")
        L.append("|---|---|---|---|---|---|---|---|")
        for lang, r in x.items():
            if "skipped" in r:
                L.append(f"| {lang} | – | – | – | – | – | – | {r['skipped']} |")
                continue
            for m, v in r.items():
                if not isinstance(v, dict) or "recall_at_1" not in v:
                    continue
                note = f"w_dense chosen {v['w_dense_chosen_per_half']}" if "w_dense_chosen_per_half" in v else ""
                L.append(f"| {lang} | {m} | {fmt(v['recall_at_1'])} | {fmt(v['recall_at_5'])} | {fmt(v['mrr_at_10'])} | {fmt(v.get('p50_ms'), 1)} | {fmt(v.get('p95_ms'), 1)} | {note} |")
        L.append("")
        for lang, r in x.items():
            for name, rows in r.get("sweeps", {}).items():
                L.append(f"Sweep {lang} / {name}, R@1 by w_dense: " + ", ".join(f"{row['w_dense']:.2f}: {row['recall_at_1']:.3f}" for row in rows[::2]) + "\n")
    lat = res.get("latency")
    if lat:
        L.append("## Latency of `HelpDesk.ask` (whole query path, one question at a time, 2 CPU cores)\n")
        L.append("| index | passages | p50 ms | p95 ms | max ms | e5 query embedding p50 ms | add_or_replace_lesson s |")
        L.append("|---|---|---|---|---|---|---|")
        for key, label in (("library", "shipped library"), ("generated", f"library + {res['meta'].get('n_generated', 0):,} generated")):
            if key in lat:
                v = lat[key]
                L.append(f"| {label} | {v['passages']:,} | {fmt(v['p50_ms'], 1)} | {fmt(v['p95_ms'], 1)} | {fmt(v['max_ms'], 1)} | {fmt(v['encode_p50_ms'], 1)} | {fmt(v.get('add_or_replace_lesson_s'), 2)} |")
        L.append("")
        if "embedding" in lat:
            e = lat["embedding"]
            L.append(
                f"Embedding cost: {e['sample_entries']} generated passage texts embedded for real in {e['seconds']} s = {e['entries_per_s']} per second; "
                f"all {e['estimated_entries_for_all']:,} texts of the 100k index would take about {e['estimated_hours_for_all']} h. "
                "The remaining vectors are noisy copies of the real ones (see the script's docstring); the index, BM25 over all 100k texts and the query path are real. "
                f"Index build (BM25 + faiss, no embedding): {lat['index_100k']['build_s']} s. Worst case, not a quality measure: recall@3 of the library's questions among the 100,000 generated passages (50,000 of them Markov babble built from the library's own Vietnamese word pairs, with vectors near those of real babble) is: {lat['generated'].get('stress_recall_at_3')}.\n"
            )
        if lat.get("large_path_check") and "skipped" not in lat["large_path_check"]:
            chk = lat["large_path_check"]
            L.append("Large-index path check (`large_path_check`): recall@3 of the library's answerable questions, alone and among 20,000 English XQuAD-sentence passages whose vectors are noisy copies of the library's own (hard distractors for the encoder side):\n")
            L.append("| index | vi | vi_nodiac | en |")
            L.append("|---|---|---|---|")
            for label, row in chk.items():
                if isinstance(row, dict):
                    L.append(f"| {label} | {fmt(row['vi'])} | {fmt(row['vi_nodiac'])} | {fmt(row['en'])} |")
            L.append("")
    return "\n".join(L) + "\n"


def bench_answers(args) -> dict:
    """Answer quality per slice (shipped, cross-validated, baseline) and interleaved latency rounds."""
    library = load_library(ROOT / "content")
    desk = HelpDesk.build(library.lessons.values(), DEFAULT_ENCODER, cache_dir=args.index_cache)
    qs = library.eval_questions
    res: dict = {"meta": {"date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), "load_avg_start": load_avg(),
                          "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores (shared with other work), Python {platform.python_version()}",
                          "questions": len(qs), "passages": len(desk.index.passages)}}
    log("answer quality ...")
    res["quality"] = answer_quality(desk, qs, desk.index.calibration)
    rounds = []
    for _ in range(3):  # interleaved: search alone, then the whole ask, question by question
        search, whole, compose = [], [], []
        for q in qs:
            t0 = time.perf_counter()
            desk.index.search(q.question, k=50)
            search.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            a = desk.ask(q.question)
            whole.append((time.perf_counter() - t0) * 1000)
            compose.append(a.timings_ms["total_ms"] - a.timings_ms.get("search_ms", 0.0))
        rounds.append({"search_p50_ms": percentile_ms(search, 50), "search_p95_ms": percentile_ms(search, 95), "ask_p50_ms": percentile_ms(whole, 50),
                       "ask_p95_ms": percentile_ms(whole, 95), "beyond_search_p50_ms": percentile_ms(compose, 50),
                       "beyond_search_p95_ms": percentile_ms(compose, 95), "load_avg": load_avg()})
        log(f"latency round: {rounds[-1]}")
    res["latency_rounds"] = rounds
    res["latency_median"] = {k: float(np.median([r[k] for r in rounds])) for k in rounds[0] if k != "load_avg"}
    res["meta"]["load_avg_end"] = load_avg()
    return res


def answers_report(res: dict) -> str:
    q = res["quality"]
    lines = [f"# Answer quality ({res['meta']['date']})", "", f"{res['meta']['machine']}; load average {res['meta']['load_avg_start']} at start, "
             f"{res['meta']['load_avg_end']} at end. {res['meta']['questions']} questions, {res['meta']['passages']} passages.", ""]
    keys = ("key_point_coverage", "complete_rate", "cut_answers", "words_mean", "words_p95", "answerable_answered", "abstention_precision",
            "abstention_recall", "near_miss_recall")
    for name in ("shipped", "cross_validated", "default_weights_no_near_miss_test"):
        lines += [f"## {name}", "", "| slice | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
        for sl in (*FORMS, "all"):
            lines.append(f"| {sl} | " + " | ".join(fmt(q[name][sl][k]) for k in keys) + " |")
        lines.append("")
    lines += ["## Latency (HelpDesk.ask, one question at a time, interleaved with search alone)", "",
              "| round | search p50 / p95 ms | ask p50 / p95 ms | beyond search p50 / p95 ms | load average |", "|---|---|---|---|---|"]
    for i, r in enumerate(res["latency_rounds"], 1):
        lines.append(f"| {i} | {r['search_p50_ms']} / {r['search_p95_ms']} | {r['ask_p50_ms']} / {r['ask_p95_ms']} | "
                     f"{r['beyond_search_p50_ms']} / {r['beyond_search_p95_ms']} | {r['load_avg']} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--encoders", default=",".join(ENCODERS))
    ap.add_argument("--skip-xquad", action="store_true")
    ap.add_argument("--skip-100k", action="store_true")
    ap.add_argument("--n-generated", type=int, default=100_000)
    ap.add_argument("--n-real", type=int, default=300, help="generated passages embedded for real")
    ap.add_argument("--skip-latency", action="store_true")
    ap.add_argument("--keep-previous", action="store_true", help="keep skipped sections from the previous results file")
    ap.add_argument("--no-write-calibration", dest="write_calibration", action="store_false")
    ap.add_argument("--out", default=str(RESULTS / "retrieval"))
    ap.add_argument("--index-cache", type=Path, default=ROOT / "var" / "index-cache", help="cache of passage vectors (default: var/index-cache)")
    ap.add_argument("--report-only", action="store_true", help="rewrite the .md from the existing .json")
    ap.add_argument("--answers", action="store_true", help="only the answers: bench/results/answers.md and .json")
    args = ap.parse_args()
    if args.answers:
        res = bench_answers(args)
        out = RESULTS / "answers"
        out.with_suffix(".json").write_text(json.dumps(res, indent=1, ensure_ascii=False, default=float) + "\n", encoding="utf-8")
        out.with_suffix(".md").write_text(answers_report(res), encoding="utf-8")
        log(f"wrote {out.with_suffix('.md')} and .json")
        return
    if args.report_only:
        out = Path(args.out)
        out.with_suffix(".md").write_text(write_report(json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))), encoding="utf-8")
        return
    args.encoders = tuple(e for e in args.encoders.split(",") if e)
    t0 = time.perf_counter()
    res: dict = {
        "meta": {
            "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}",
            "load_avg_start": load_avg(),
            "encoders": list(args.encoders),
            "n_generated": 0 if args.skip_100k else args.n_generated,
        }
    }
    out = Path(args.out)
    previous = json.loads(out.with_suffix(".json").read_text(encoding="utf-8")) if out.with_suffix(".json").exists() else {}
    res["content"] = bench_content(args)
    if not args.skip_xquad:
        res["xquad"] = bench_xquad(args)
    elif args.keep_previous and "xquad" in previous:
        res["xquad"] = previous["xquad"]
        res["meta"]["xquad_from"] = previous["meta"].get("xquad_from") or previous["meta"].get("date")
    if args.skip_latency and args.keep_previous and "latency" in previous:
        res["latency"] = previous["latency"]
        res["meta"]["latency_from"] = previous["meta"].get("latency_from") or previous["meta"].get("date")
        res["meta"]["n_generated"] = previous["meta"].get("n_generated", 0)
    elif not args.skip_latency:
        res["latency"] = bench_latency(args, res["content"])
    res["content"].pop("_indexes", None)
    res["meta"]["load_avg_end"] = load_avg()
    res["meta"]["wall_min"] = round((time.perf_counter() - t0) / 60, 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(res, indent=1, ensure_ascii=False, default=float) + "\n", encoding="utf-8")
    out.with_suffix(".md").write_text(write_report(res), encoding="utf-8")
    log(f"wrote {out.with_suffix('.md')} and .json")


if __name__ == "__main__":
    main()
