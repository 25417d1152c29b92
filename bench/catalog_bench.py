"""Catalog scale benchmark: a generated platform of 3,000 courses with 50 activities each (150,000).

Writes bench/results/catalog.md and bench/results/catalog.json.

    .venv/bin/python bench/catalog_bench.py                      # SQLite in a temporary folder
    .venv/bin/python bench/catalog_bench.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/catalog_bench
    .venv/bin/python bench/catalog_bench.py --courses 300       # a quick run
    .venv/bin/python bench/catalog_bench.py --aligner bm25 --no-questions   # up to /next only (catalog-next.md)

1. Courses: each 35 lessons (60-150 words of Markov babble over the library's Vietnamese sections, or
   English sentences from XQuAD, as the retrieval benchmark generates them) and 15 four-option items,
   in chapters of ten; built as `tutor.catalog.course.Course` objects (the importers' output).
2. Alignment, measured apart: the service's aligner (`Runtime.aligner()`, as configured) on a sample
   of activities; activities/s. The other activities reuse a sampled activity's suggestions (said so),
   because aligning 150,000 texts with the encoder takes hours on 2 cores.
3. Import: `store_course` per course, each in its own transaction, as `tutor catalog import` does;
   activities/s over the whole catalog (alignment excluded, point 2).
4. `/next` in process: `tutor.recommend.api.next_steps` (the route's function, without HTTP) for
   learners with answers, the catalog loaded; p50/p99 over the calls. Then again with the worker's
   copy of the catalog's rows dropped before each call (`Runtime.aligned_rows.forget()`): what the
   first call after an import or a decision pays.
5. Questions: `HelpDesk.ask` over the bundled lessons plus every imported lesson (105,000). Only a
   sample of passages is embedded for real; the others get noisy copies of real vectors (the
   retrieval benchmark's NoisyCopyEncoder); questions are embedded for real. p50/p95.
6. Memory: the process's resident set size (the generated courses dropped) before and after the
   catalog's question index is built.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from retrieval_bench import NoisyCopyEncoder, generated_lessons, load_avg, time_asks  # noqa: E402

from tutor.answering.answer import HelpDesk  # noqa: E402
from tutor.answering.encoders import DEFAULT_ENCODER, get_encoder  # noqa: E402
from tutor.answering.index import LessonIndex  # noqa: E402
from tutor.answering.passages import split_lesson  # noqa: E402
from tutor.catalog.course import Activity, Course, Node, Part, Place  # noqa: E402
from tutor.catalog.documents import lesson_pages  # noqa: E402
from tutor.catalog.imports import align_text, rank, store_course  # noqa: E402
from tutor.deps import Caller  # noqa: E402
from tutor.events.intake import LearnerEvent, record_events  # noqa: E402
from tutor.recommend.api import next_steps  # noqa: E402
from tutor.runtime import Runtime  # noqa: E402
from tutor.settings import load_settings  # noqa: E402

RESULTS = ROOT / "bench" / "results"
LESSONS_PER_COURSE, ITEMS_PER_COURSE = 35, 15


def rss_mib() -> float:
    """Resident set size now (Linux /proc), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def pct(values, q) -> float:
    return round(float(np.percentile(np.asarray(values), q)), 2)


def make_courses(library, n_courses: int, seed: int = 11) -> list[Course]:
    rng = random.Random(seed)
    pages = generated_lessons(library, n_courses * LESSONS_PER_COURSE, seed=seed)
    courses = []
    for c in range(n_courses):
        key = f"course-v1:Bench+C{c:04d}+2026"
        acts = []
        mine = pages[c * LESSONS_PER_COURSE:(c + 1) * LESSONS_PER_COURSE]
        for i in range(LESSONS_PER_COURSE + ITEMS_PER_COURSE):
            place = Place(chapter=Node(key=f"{key}/ch{i // 10}", title=f"Chương {i // 10 + 1}"))
            block = f"block-v1:Bench+C{c:04d}+2026+type@{{}}+block@b{i:03d}"
            if i < LESSONS_PER_COURSE:
                page = mine[i]
                lang = next(iter(page.title))
                acts.append(Activity(key=block.format("html"), block_type="html", kind="lesson", title=page.title[lang], place=place,
                                     text=page.sections[0].body[lang], language=lang))
            else:
                words = mine[rng.randrange(len(mine))].sections[0].body
                text = next(iter(words.values())).split()
                options = tuple(" ".join(rng.sample(text, 4)) for _ in range(4))
                acts.append(Activity(key=block.format("problem"), block_type="problem", kind="item", title=f"Câu {i}", place=place,
                                     question=" ".join(text[:20]) + "?", problem_type="multiplechoiceresponse",
                                     parts=(Part(problem_type="multiplechoiceresponse", options=options, correct=(rng.randrange(4),)),)))
        courses.append(Course(platform="bench", key=key, title=f"Khoá học {c}", language=None, source="generated", activities=tuple(acts)))
    return courses


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--courses", type=int, default=3000)
    ap.add_argument("--database-url", default=None, help="default: SQLite in a temporary folder")
    ap.add_argument("--align-sample", type=int, default=500)
    ap.add_argument("--real-vectors", type=int, default=200, help="passages embedded for real for the question index")
    ap.add_argument("--next-calls", type=int, default=500)
    ap.add_argument("--aligner", default=None, help="the aligner's encoder (TUTOR_CATALOG_ALIGNER_ENCODER; bm25: built in a second)")
    ap.add_argument("--no-questions", action="store_true", help="stop after /next (writes catalog-next.md and .json, not catalog.*)")
    args = ap.parse_args()
    out: dict = {"started": datetime.now(UTC).isoformat(timespec="seconds"), "load_avg_before": load_avg(), "cpus": os.cpu_count(), "courses": args.courses}
    tmp = Path(tempfile.mkdtemp(prefix="catalog-bench-"))
    store = {"database_url": args.database_url} if args.database_url else {"database_url": f"sqlite:///{tmp / 'tutor.db'}"}
    catalog = {"accept_confidence": 0.0} | ({"aligner_encoder": args.aligner} if args.aligner else {})
    settings = load_settings(service={"var_dir": tmp / "var", "refresh_seconds": 0.0}, store=store, catalog=catalog)
    runtime = Runtime(settings)
    out["store"] = runtime.engine.dialect.name
    out["rss_start_mib"] = rss_mib()

    t0 = time.perf_counter()
    courses = make_courses(runtime.library, args.courses)
    n_acts = sum(len(c.activities) for c in courses)
    out["generate_s"] = round(time.perf_counter() - t0, 1)
    print(f"generated {len(courses)} courses, {n_acts} activities in {out['generate_s']} s", flush=True)

    aligner = runtime.aligner()
    sample = [a for c in courses[: max(1, args.align_sample // 50 + 1)] for a in c.activities][: args.align_sample]
    t0 = time.perf_counter()
    sampled = [rank(aligner, *align_text(a), a.language, "lesson" if a.kind == "lesson" else "item") for a in sample]
    secs = time.perf_counter() - t0
    out["alignment"] = {"aligner": type(aligner).__name__ if aligner else None, "sample": len(sample), "seconds": round(secs, 1),
                        "activities_per_s": round(len(sample) / secs, 1) if secs else None}
    print(f"alignment: {out['alignment']}", flush=True)
    rng = random.Random(5)

    t0 = time.perf_counter()
    per_course = []
    for c in courses:
        rankings = {a.key: sampled[rng.randrange(len(sampled))] for a in c.activities}
        t1 = time.perf_counter()
        with runtime.session() as s, s.begin():
            store_course(s, c, rankings, runtime.accept_confidence())
        per_course.append(time.perf_counter() - t1)
    secs = time.perf_counter() - t0
    out["import"] = {"activities": n_acts, "seconds": round(secs, 1), "activities_per_s": round(n_acts / secs, 1),
                     "course_p50_ms": pct(np.array(per_course) * 1000, 50), "course_p99_ms": pct(np.array(per_course) * 1000, 99)}
    print(f"import: {out['import']}", flush=True)

    learners = [f"bench-learner-{i}" for i in range(50)]
    items = [(lid, item) for lid, lesson in runtime.library.lessons.items() for item in lesson.items]
    now = datetime.now(UTC)
    with runtime.session() as s, s.begin():
        events = [
            LearnerEvent(event_id=f"b-{i}-{j}", learner=runtime.pseudonym(name), kind="answer", occurred_at=now - timedelta(days=3, minutes=j),
                         source="events", skills=tuple(item.skills), score=float(rng.random() < 0.6), item_id=item.id, lesson_id=lid)
            for i, name in enumerate(learners) for j, (lid, item) in enumerate(rng.sample(items, 20))
        ]
        record_events(s, events, runtime.model)
    caller = Caller(client_id=0, name="bench", scopes=frozenset({"platform"}), learner=None)
    times, steps, ranked = [], [], []
    for k in range(args.next_calls):
        with runtime.session() as s:
            t1 = time.perf_counter()
            result = next_steps(runtime, s, caller, learners[k % len(learners)], None, 5, "vi", "lesson", None, "query")
            times.append((time.perf_counter() - t1) * 1000)
            steps.append(len(result.on_platform))
            ranked.append(sum(1 for r in result.recommendations if r.on_platform))
    cold = []  # the worker's copy of the catalog's rows dropped before each call: what the first call after a catalog change pays
    for k in range(args.next_calls // 2):
        runtime.aligned_rows.forget()
        with runtime.session() as s:
            t1 = time.perf_counter()
            next_steps(runtime, s, caller, learners[k % len(learners)], None, 5, "vi", "lesson", None, "query")
            cold.append((time.perf_counter() - t1) * 1000)
    out["next"] = {"calls": len(times), "p50_ms": pct(times, 50), "p99_ms": pct(times, 99), "mean_platform_steps": round(float(np.mean(steps)), 2),
                   "mean_imported_ranked": round(float(np.mean(ranked)), 2), "cold_calls": len(cold), "cold_p50_ms": pct(cold, 50), "cold_p99_ms": pct(cold, 99)}
    print(f"/next in process: {out['next']}", flush=True)
    if args.no_questions:
        out["load_avg_after"] = load_avg()
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "catalog-next.json").write_text(json.dumps(out, indent=2, ensure_ascii=False))
        (RESULTS / "catalog-next.md").write_text(report(out))
        print((RESULTS / "catalog-next.md").read_text())
        return

    del courses, sample
    gc.collect()
    rss_before = rss_mib()  # the runtime with the catalog in its store, without the generated courses this script held
    with runtime.session() as s:
        pages, _ = lesson_pages(s)
    enc = get_encoder(DEFAULT_ENCODER)
    real = pages[: args.real_vectors]
    probe = LessonIndex(enc, cache_dir=None)
    texts, _, _ = probe._entries_for([p for page in real for p in split_lesson(page)])
    t0 = time.perf_counter()
    vectors = enc.passages(texts)
    out["embedding"] = {"sample_entries": len(texts), "entries_per_s": round(len(texts) / (time.perf_counter() - t0), 2)}
    noisy = NoisyCopyEncoder(enc, dict(zip(texts, vectors)))
    t0 = time.perf_counter()
    index = LessonIndex.build(list(runtime.library.lessons.values()) + pages, noisy, cache_dir=None)
    out["question_index"] = {"lessons": len(index.lessons), "build_s": round(time.perf_counter() - t0, 1), **index.build_stats}
    desk = HelpDesk(index)
    out["questions"], _ = time_asks(desk, runtime.library.eval_questions)
    out["rss_mib"] = {"before_index": rss_before, "with_index": rss_mib()}
    out["load_avg_after"] = load_avg()
    print(f"questions: {out['questions']}; memory {out['rss_mib']}", flush=True)

    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "catalog.json").write_text(json.dumps(out, indent=2, ensure_ascii=False))
    (RESULTS / "catalog.md").write_text(report(out))
    print((RESULTS / "catalog.md").read_text())


def report(r: dict) -> str:
    a, i, n = r["alignment"], r["import"], r["next"]
    if "questions" not in r:
        return "\n".join([
            f"# Catalog at scale, up to /next ({r['started']}, {r['store']}, {r['cpus']} CPUs, load average before {r['load_avg_before']}, after {r['load_avg_after']})",
            "", f"{r['courses']:,} generated courses, {i['activities']:,} activities (35 lessons and 15 items each); run with --no-questions.", "",
            "| measure | value |", "|---|---|",
            f"| alignment ({a['aligner']}), sample of {a['sample']} | {a['activities_per_s']} activities/s |",
            f"| import (store, alignment apart) | {i['activities_per_s']:,} activities/s ({i['seconds']} s; per course p50 {i['course_p50_ms']} ms, p99 {i['course_p99_ms']} ms) |",
            f"| `/next` in process, catalog loaded ({n['calls']} calls) | p50 {n['p50_ms']} ms, p99 {n['p99_ms']} ms; {n['mean_imported_ranked']} imported lessons ranked "
            f"and {n['mean_platform_steps']} platform steps listed per call |",
            f"| `/next`, catalog rows read again each call ({n.get('cold_calls', 0)} calls) | p50 {n.get('cold_p50_ms')} ms, p99 {n.get('cold_p99_ms')} ms |", "",
        ])
    q = r["questions"]
    return "\n".join([
        f"# Catalog at scale ({r['started']}, {r['store']}, {r['cpus']} CPUs, load average before {r['load_avg_before']}, after {r['load_avg_after']})",
        "",
        f"{r['courses']:,} generated courses, {i['activities']:,} activities (35 lessons and 15 items each).",
        "",
        "| measure | value |",
        "|---|---|",
        f"| alignment ({a['aligner']}), sample of {a['sample']} | {a['activities_per_s']} activities/s |",
        f"| import (store, alignment apart) | {i['activities_per_s']:,} activities/s ({i['seconds']} s; per course p50 {i['course_p50_ms']} ms, p99 {i['course_p99_ms']} ms) |",
        f"| `/next` in process, catalog loaded ({n['calls']} calls) | p50 {n['p50_ms']} ms, p99 {n['p99_ms']} ms; {n.get('mean_imported_ranked', 0)} imported lessons ranked "
        f"and {n['mean_platform_steps']} platform steps listed per call |",
        f"| `/next`, catalog rows read again each call ({n.get('cold_calls', 0)} calls) | p50 {n.get('cold_p50_ms')} ms, p99 {n.get('cold_p99_ms')} ms |",
        f"| question index over {r['question_index']['lessons']:,} lessons ({r['question_index']['passages']:,} passages) | built in {r['question_index']['build_s']} s |",
        f"| questions ({q['n']}) | p50 {q['p50_ms']} ms, p95 {q['p95_ms']} ms |",
        f"| worker memory (RSS) | {r['rss_mib']['before_index']} MiB before the question index, {r['rss_mib']['with_index']} MiB with it |",
        "",
        f"Vectors: {r['embedding']['sample_entries']} passage texts embedded for real ({r['embedding']['entries_per_s']} texts/s); the others are noisy "
        "copies of those (retrieval benchmark's NoisyCopyEncoder), so search costs are real and quality is not measured here. "
        "Alignment of the other activities reuses sampled suggestions.",
        "",
    ])


if __name__ == "__main__":
    main()
