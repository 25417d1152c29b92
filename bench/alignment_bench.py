"""Alignment benchmark: writes bench/results/alignment.md and bench/results/alignment.json, and the
aligner's calibration (tutor/catalog/alignment_calibration.json, unless --no-write-calibration).

    .venv/bin/python bench/alignment_bench.py                 # BM25 and e5-small (a few minutes on 2 cores)
    .venv/bin/python bench/alignment_bench.py --encoder bm25  # BM25 only (about a minute)
    .venv/bin/python bench/alignment_bench.py --vector-cache /tmp/e5-vectors.npz  # keep the encoder's vectors for the next run

Every bundled lesson, and each of its items, is aligned with its tags hidden by an aligner whose
exemplars are the other lessons and their items, in Vietnamese, English and Vietnamese without
diacritics. Nearly every skill has one bundled lesson, so the held-out text's own skill mostly has no
exemplar left: its competence is found from the framework's description and from the lessons of the
same competence at the other bands, and its band from the lessons of the other competences.
A second kind of text, `item-known`, is each item aligned with only itself left out (its lesson's
sections and other items stay): an imported course that covers a bundled lesson's topic.
The fusion weights are chosen on a grid, for lessons and for items apart, for every lesson on the
other lessons only (nested leave-one-out); the confidence is a logistic fit cross-validated by lesson. So every number here is
out of sample. Competence top-k ranks competences by their best skill.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pickle
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tutor.answering.encoders import get_encoder  # noqa: E402
from tutor.catalog.alignment import (  # noqa: E402
    CALIBRATION_FILE,
    Aligner,
    AlignmentCalibration,
    item_text,
    lesson_text,
    save_alignment_calibration,
)
from tutor.catalog.alignment_tuning import (  # noqa: E402
    GRID_DENSE,
    GRID_LEAD,
    ITEM_LEAD,
    KINDS,
    SLICES,
    MemoEncoder,
    Stacked,
    fit,
    grid,
    held_out_evidence,
    known_lesson_evidence,
    measurement_notes,
    nested_scores,
    per_kind_choice,
    ranks,
    stack,
)
from tutor.content.library import load_library  # noqa: E402

RESULTS = ROOT / "bench" / "results"
SHOWN = {"lesson": "lessons", "item": "items", "item-known": "items, lesson known"}


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


def metrics(r, mask) -> dict[str, float]:
    return {
        "n": int(mask.sum()),
        "competence_top1": round(float((r.competence[mask] == 1).mean()), 3),
        "competence_top3": round(float((r.competence[mask] <= 3).mean()), 3),
        "skill_top1": round(float((r.skill[mask] == 1).mean()), 3),
        "skill_top3": round(float((r.skill[mask] <= 3).mean()), 3),
    }


def table(r, s: Stacked) -> dict[str, dict[str, dict[str, float]]]:
    out: dict[str, dict[str, dict[str, float]]] = {}
    for kind in KINDS:
        out[kind] = {sl: metrics(r, (s.kind == kind) & (s.slice == sl)) for sl in SLICES}
        out[kind]["all"] = metrics(r, s.kind == kind)
    return out


def methods(with_encoder: bool) -> dict[str, dict]:
    """The grids compared: which channels, the lead or not (for lessons; items never get it, `ITEM_LEAD`), nearest exemplars (the shipped fit also tries centroids)."""
    out = {"bm25": {"dense": (0.0,), "lead": (0.0,)}, "bm25 + lead": {"dense": (0.0,), "lead": GRID_LEAD}}
    if with_encoder:
        out |= {"dense": {"dense": (1.0,), "lead": (0.0,)}, "fused": {"dense": GRID_DENSE, "lead": (0.0,)}, "fused + lead": {"dense": GRID_DENSE, "lead": GRID_LEAD}}
    return out


def timing(library, aligner: Aligner, n_texts: int = 24) -> dict[str, float]:
    """Milliseconds per `suggest` on the full library, for lesson and item texts (vi and en)."""
    lessons = list(library.lessons.values())[: n_texts // 2]
    texts = [lesson_text(lesson, lang) for lesson in lessons for lang in ("vi", "en")]
    items = [item_text(item, lang) for lesson in lessons for item in lesson.items[:1] for lang in ("vi", "en")]
    out = {}
    for name, batch in (("lesson", texts), ("item", items)):
        aligner.suggest("", batch[0])  # warm
        times = []
        for t in batch:
            start = time.perf_counter()
            aligner.suggest("", t)
            times.append((time.perf_counter() - start) * 1000)
        out[f"{name}_ms_median"] = round(float(np.median(times)), 1)
        out[f"{name}_ms_p95"] = round(float(np.percentile(times, 95)), 1)
    return out


def reliability(conf: np.ndarray, right: np.ndarray) -> list[dict]:
    edges = [0.0, 0.2, 0.4, 0.6, 0.8, 0.9, 1.0001]
    out = []
    for lo, hi in zip(edges, edges[1:]):
        m = (conf >= lo) & (conf < hi)
        if m.any():
            out.append({"confidence": f"{lo:.1f}–{min(hi, 1.0):.1f}", "n": int(m.sum()),
                        "mean_confidence": round(float(conf[m].mean()), 3), "right": round(float(right[m].mean()), 3)})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--encoder", default="e5-small", help="e5-small (default; BM25 is measured too) or bm25")
    ap.add_argument("--no-write-calibration", action="store_true")
    ap.add_argument("--render", action="store_true", help="only rewrite alignment.md from alignment.json")
    ap.add_argument("--evidence-cache", type=Path, help="a pickle of the held-out evidence (read if present, else written): rerun the fits alone")
    ap.add_argument("--vector-cache", type=Path, help="an .npz file keeping the encoder's vectors between runs (read if present, written at the end)")
    args = ap.parse_args()
    if args.render:
        (RESULTS / "alignment.md").write_text(markdown(json.loads((RESULTS / "alignment.json").read_text(encoding="utf-8"))), encoding="utf-8")
        return
    started, load_start = time.time(), os.getloadavg()
    library = load_library(ROOT / "content")
    encoder = None if args.encoder == "bm25" else get_encoder(args.encoder)
    memo = MemoEncoder(encoder, args.vector_cache) if encoder else None
    log(f"held-out evidence for {len(library.lessons)} lessons ({'encoder ' + encoder.name if encoder else 'BM25 only'})")
    if args.evidence_cache and args.evidence_cache.exists():
        queries = pickle.loads(args.evidence_cache.read_bytes())
    else:
        queries = held_out_evidence(library, memo) + known_lesson_evidence(library, memo)
        if args.evidence_cache:
            args.evidence_cache.write_bytes(pickle.dumps(queries))
    evidence_s = time.time() - started
    log(f"evidence in {evidence_s:.0f} s for {len(queries)} texts")
    if memo is not None:
        memo.save()
    blank = Aligner(library.framework, [], None, AlignmentCalibration("bench"))
    s, mask = stack(queries, blank), blank.skill_mask

    results: dict[str, dict] = {}
    for name, spec in methods(encoder is not None).items():
        chosen, best = per_kind_choice(s, grid(dense=spec["dense"], modes=("nearest",), lead=spec["lead"]), mask, grid(dense=spec["dense"], modes=("nearest",), lead=ITEM_LEAD))
        r = ranks(nested_scores(s, chosen, mask), s.truth)
        results[name] = {"table": table(r, s), "weights_on_all": {g: w.__dict__ for g, w in best.items()},
                         "weights_chosen_per_lesson": len({tuple(w.__dict__.values()) for w in chosen})}
        log(name, results[name]["table"]["lesson"]["all"], results[name]["table"]["item"]["all"])

    notes = measurement_notes(library)
    calibrations = {}
    fits = [("bm25", (0.0,))] + ([(encoder.name, GRID_DENSE)] if encoder else [])
    for key, dense in fits:
        f = fit(s, mask, key, grid(dense=dense), notes, grid(dense=dense, lead=ITEM_LEAD))
        calibrations[key] = {
            "weights": f.calibration.weights.__dict__,
            "lesson_weights": f.calibration.lesson_weights.__dict__ if f.calibration.lesson_weights else None, "coef": f.calibration.coef, "intercept": f.calibration.intercept,
            "accept_confidence": f.calibration.accept_confidence, "accept_precision": None if f.accept_precision is None else round(f.accept_precision, 3),
            "accept_share": round(f.accept_share, 3), "brier": round(f.brier, 4), "ece": round(f.ece, 4),
            "top1_right": round(float(f.top1_right.mean()), 3),
            "accept_share_by_kind": {k: round(float(((f.top1_confidence >= f.calibration.accept_confidence) & (s.kind == k)).sum() / (s.kind == k).sum()), 3)
                                     for k in KINDS},
            "reliability_top1": reliability(f.top1_confidence, f.top1_right),
        }
        weights_on_all = {"lesson": (f.calibration.lesson_weights or f.calibration.weights).__dict__, "item": f.calibration.weights.__dict__}
        results[f"{key} (shipped: mode chosen)"] = {"table": table(f.nested_ranks, s), "weights_on_all": weights_on_all,
                                                    "weights_chosen_per_lesson": f.distinct_choices}
        if not args.no_write_calibration:
            save_alignment_calibration(f.calibration, CALIBRATION_FILE)
        log("calibration", key, {k: v for k, v in calibrations[key].items() if k != "reliability_top1"})

    log("timing")
    speed = {"bm25": timing(library, Aligner.from_library(library, None))}
    full = Aligner.from_library(library, memo)  # the exemplars' vectors are those computed above
    if encoder:
        full.encoder = encoder  # each text timed is embedded afresh
        speed[encoder.name] = timing(library, full)
    recipe = full.suggest("Phở bò Hà Nội", "Ninh xương bò tám tiếng, thêm quế, hồi, gừng nướng; bánh phở chần qua nước sôi, thái thịt bò tái mỏng.")[0]
    out = {
        "generated": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_average_start": [round(x, 2) for x in load_start],
                    "load_average_end": [round(x, 2) for x in os.getloadavg()], "wall_s": round(time.time() - started, 1),
                    "evidence_s": round(evidence_s, 1)},
        "counts": {"lessons": len(library.lessons), "items": len(library.items), "texts": len(queries)},
        "methods": results, "calibration": calibrations, "suggest_ms": speed,
        "unrelated_text": {"skill": recipe.skill, "confidence": recipe.confidence},
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "alignment.json").write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (RESULTS / "alignment.md").write_text(markdown(out), encoding="utf-8")
    log(f"done in {time.time() - started:.0f} s")


def markdown(out: dict) -> str:
    m = out["machine"]
    lines = [
        "# Alignment benchmark", "",
        f"Generated by `bench/alignment_bench.py` on {out['generated']} ({m['cpus']} CPU cores, Python {m['python']}; "
        f"load average at start {' '.join(map(str, m['load_average_start']))}, at end {' '.join(map(str, m['load_average_end']))}; "
        f"other work shared the cores). Wall time {m['wall_s'] / 60:.1f} min, of which {m['evidence_s']:.0f} s computing the held-out evidence.", "",
        f"{out['counts']['lessons']} lessons and {out['counts']['items']} items, each aligned with its tags hidden by an aligner whose exemplars are the "
        f"other {out['counts']['lessons'] - 1} lessons (its own lesson's items excluded too), in three slices: vi, en, vi without diacritics "
        f"({out['counts']['texts']} texts). Nearly every skill has one bundled lesson, so the held-out text's own skill mostly has no exemplar left: its "
        "competence comes from the framework's description and the lessons of the same competence at the other bands; its band from the "
        "lessons of other competences. Weights are chosen for lessons and for items apart, for each lesson on the other lessons (nested leave-one-out), so every figure is "
        "out of sample. `items, lesson known` rows: each item aligned with only itself left out, its lesson's sections and "
        "other items kept — an imported course that covers a bundled lesson's topic. Competence top-k ranks competences by their best "
        "skill. Targets for lessons: competence top-3 ≥ 0.90, top-1 ≥ 0.75.", "",
        "## Accuracy", "",
        "| method | texts | slice | n | competence top-1 | competence top-3 | skill top-1 | skill top-3 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, res in out["methods"].items():
        for kind, per in res["table"].items():
            for sl, v in per.items():
                figures = " | ".join(f"{v[k]:.3f}" for k in ("competence_top1", "competence_top3", "skill_top1", "skill_top3"))
                lines.append(f"| {name} | {SHOWN[kind]} | {sl} | {v['n']} | {figures} |")
    lines += ["", "Weights fitted on all lessons (what ships), per method, for lessons and for items:", ""]
    for name, res in out["methods"].items():
        shown = "; ".join(f"{group}: framework {w['framework']}, dense {w['dense']}, band {w['band']}, within {w['within']}, lead {w.get('lead', 0.0)}, "
                          f"exemplars {w['exemplars']}" for group, w in res["weights_on_all"].items())
        lines.append(f"- {name}: {shown} ({res['weights_chosen_per_lesson']} distinct choices across the nested fits)")
    lines += ["", "## Confidence and automatic acceptance", "",
              "Confidence is the logistic fit stored in `tutor/catalog/alignment_calibration.json`; the figures use the fit without the text's "
              "own lesson. `accept_confidence` is the lowest confidence at which the top suggestion is the right skill at least 90% of the "
              "time (measured over all slices, lessons and items together, at least 20 texts above it); 1.0 means no threshold reaches it.", "",
              "| encoder | top-1 right | Brier | ECE | accept_confidence | precision above it | share accepted | lessons | items | items, lesson known |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for key, c in out["calibration"].items():
        precision = "–" if c["accept_precision"] is None else f"{c['accept_precision']:.3f}"
        by_kind = " | ".join(f"{c['accept_share_by_kind'][k]:.3f}" for k in KINDS)
        lines.append(f"| {key} | {c['top1_right']:.3f} | {c['brier']:.4f} | {c['ece']:.4f} | {c['accept_confidence']:.4f} | {precision} | {c['accept_share']:.3f} | {by_kind} |")
    for key, c in out["calibration"].items():
        lines += ["", f"Reliability of the top suggestion, {key}:", "", "| confidence | n | mean confidence | right |", "|---|---|---|---|"]
        lines += [f"| {b['confidence']} | {b['n']} | {b['mean_confidence']:.3f} | {b['right']:.3f} |" for b in c["reliability_top1"]]
    lines += ["", "## Time per suggestion", "", "`Aligner.suggest` on the full library (all 48 lessons as exemplars), one text at a time.", "",
              "| encoder | lesson median ms | lesson p95 ms | item median ms | item p95 ms |", "|---|---|---|---|---|"]
    for key, t in out["suggest_ms"].items():
        lines.append(f"| {key} | {t['lesson_ms_median']} | {t['lesson_ms_p95']} | {t['item_ms_median']} | {t['item_ms_p95']} |")
    u = out["unrelated_text"]
    lines += ["", f"An unrelated text (a phở recipe) gets {u['skill']} at confidence {u['confidence']:.3f}.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
