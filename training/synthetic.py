"""Synthetic answer logs over the framework's 48 skills, and the default BKT artefact fitted on them.

Until real answers exist, the service's mastery parameters come from data generated here; the
generator is deliberately simple and documented so the artefact's numbers can be traced.

    # write var/synthetic/events.csv (+ truth.json) for 5,000 learners, seed 2026
    .venv/bin/python training/synthetic.py generate --learners 5000 --seed 2026
    # generate, fit BKT, write models/bkt-synthetic-v1 and point models/active at it
    .venv/bin/python training/synthetic.py build-default --learners 5000 --seed 2026
    # at scale: 1M learners, 50M answers as Parquet shards (memory flat: one chunk of learners at a time)
    .venv/bin/python training/synthetic.py lake --learners 1000000 --answers 50000000 --out var/lake-50m

Generator (version ``synthetic-v1``)
------------------------------------
Skills and prerequisites are read from ``content/framework.yaml`` (the ``skills:`` list).

Per-skill true parameters (random, seeded), respecting prerequisites:

* ``depth`` = length of the longest prerequisite chain below the skill (0 for a skill without
  prerequisites).
* ``prior``: basic skills U(0.25, 0.55), intermediate U(0.08, 0.25), times 0.85^depth, and never
  more than 0.9 x the smallest prior of its prerequisites (a learner is less likely to know a skill
  already than the skills it builds on).
* ``learn``: basic U(0.12, 0.30), intermediate U(0.06, 0.18), times 0.9^depth.
* ``guess`` U(0.10, 0.25) (mostly four-option items), ``slip`` U(0.04, 0.15), ``forget`` 0.

Learners (``--learners``, default 5,000): each practises 6-30 skills, taken in a random
topological order of the prerequisite graph (a skill only after all of its prerequisites), in
the way the recommender proposes them. On each skill the learner answers items until three
correct in a row (the skill-builder stopping rule) or 12 answers, at least 2. The hidden state
follows BKT with two prerequisite effects:

* a learner who has not mastered every prerequisite when starting a skill knows it initially with
  probability 0.3 x prior (instead of prior) and learns at 0.6 x learn per answer;
* answers are emitted with the skill's guess/slip.

With ``--multi-skill-rate r`` (default 0) a fraction r of answers are to items that also measure
one already-practised prerequisite; they are correct only if both skills' emissions are
(conjunctive), and both hidden states may learn. The default artefact uses 0, so that each
answer measures one skill, as the fitted model assumes.

Because of the prerequisite effects, the per-skill parameters BKT can recover are the effective
ones: the fraction of learners who knew the skill at their first answer (``prior``) and the
fraction of not-known answers followed by a transition to known (``learn``). truth.json holds
both the generating and the effective values; the artefact's metadata reports the recovery error.

Output: ``events`` CSV with learner_id, skill_ids, correct, timestamp (ISO 8601, UTC).

At scale (``lake``, generator ``synthetic-lake-v1``): the same skills, parameters, stopping rule
and prerequisite effects, simulated with numpy for a chunk of learners at a time (all learners of
the chunk take their n-th skill together), written as one Parquet shard per chunk
(``part-NNNNN.parquet``, the `events` columns), so memory does not grow with the log. Two
simplifications make it vectorisable: each learner's skill order is one of 512 random topological
orders drawn at the start, and instead of 6-30 skills each learner has a budget of answers
(``--answers`` spread evenly over ``--learners``; the last skill is cut when it runs out), so the
log has exactly the size asked for. No multi-skill items; truth.json holds the parameters only.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import yaml

from tutor.research.training import train_artefact
from tutor.tracing.artefacts import load_mastery_model

ROOT = Path(__file__).resolve().parents[1]

GENERATOR_VERSION = "synthetic-v1"
MAX_ATTEMPTS, MIN_ATTEMPTS, STREAK = 12, 2, 3
NOT_READY_PRIOR, NOT_READY_LEARN = 0.3, 0.6


@dataclass
class Skill:
    id: str
    band: str
    prerequisites: list[str]


def read_skills(framework: Path) -> list[Skill]:
    data = yaml.safe_load(framework.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("skills"), list):
        raise TypeError(f"{framework}: expected a top-level 'skills:' list")
    # a skill no lesson teaches (`no_lesson`: levels 5-8 for now) has no items, so no learner can answer on it
    return [Skill(str(s["id"]), str(s.get("band", "basic")), [str(p) for p in s.get("prerequisites") or []])
            for s in data["skills"] if not s.get("no_lesson")]


def depths(skills: list[Skill]) -> dict[str, int]:
    pre = {s.id: s.prerequisites for s in skills}
    memo: dict[str, int] = {}

    def d(x: str) -> int:
        if x not in memo:
            memo[x] = 0 if not pre[x] else 1 + max(d(p) for p in pre[x])
        return memo[x]

    return {s.id: d(s.id) for s in skills}


def true_parameters(skills: list[Skill], rng: np.random.Generator) -> dict[str, dict[str, float]]:
    dep = depths(skills)
    params: dict[str, dict[str, float]] = {}
    for s in sorted(skills, key=lambda s: dep[s.id]):  # prerequisites first
        basic = s.band == "basic"
        prior = (rng.uniform(0.25, 0.55) if basic else rng.uniform(0.08, 0.25)) * 0.85 ** dep[s.id]
        if s.prerequisites:
            prior = min(prior, 0.9 * min(params[p]["prior"] for p in s.prerequisites))
        learn = (rng.uniform(0.12, 0.30) if basic else rng.uniform(0.06, 0.18)) * 0.9 ** dep[s.id]
        params[s.id] = {
            "prior": round(float(prior), 4),
            "learn": round(float(learn), 4),
            "guess": round(float(rng.uniform(0.10, 0.25)), 4),
            "slip": round(float(rng.uniform(0.04, 0.15)), 4),
            "forget": 0.0,
        }
    return {s.id: params[s.id] for s in skills}


def random_topological_order(skills: list[Skill], rng: np.random.Generator) -> list[str]:
    pre = {s.id: set(s.prerequisites) for s in skills}
    done: set[str] = set()
    order: list[str] = []
    while len(order) < len(skills):
        ready = sorted(x for x in pre if x not in done and pre[x] <= done)
        pick = ready[int(rng.integers(len(ready)))]
        order.append(pick)
        done.add(pick)
    return order


def generate(
    framework: Path, n_learners: int, seed: int, multi_skill_rate: float = 0.0
) -> tuple[list[tuple[str, str, int, str]], dict]:
    """Rows (learner_id, skill_ids, correct, timestamp) and the truth (parameters, effective values)."""
    rng = np.random.default_rng(seed)
    skills = read_skills(framework)
    params = true_parameters(skills, rng)
    pre = {s.id: s.prerequisites for s in skills}
    first_known = {s.id: [0, 0] for s in skills}  # known at first answer, learners
    transitions = {s.id: [0, 0] for s in skills}  # not-known -> known, not-known answers followed by another
    rows: list[tuple[str, str, int, str]] = []
    t0 = datetime(2026, 9, 1, tzinfo=UTC)
    for k in range(n_learners):
        lid = f"syn-{k + 1:05d}"
        order = random_topological_order(skills, rng)
        n_sk = int(rng.integers(6, 31))
        known: dict[str, bool] = {}
        now = t0 + timedelta(days=float(rng.uniform(0, 60)), hours=float(rng.uniform(7, 21)))
        for sid in order[:n_sk]:
            p = params[sid]
            ready = all(known.get(q, False) for q in pre[sid])
            prior = p["prior"] * (1.0 if ready else NOT_READY_PRIOR)
            learn = p["learn"] * (1.0 if ready else NOT_READY_LEARN)
            state = bool(rng.random() < prior)
            first_known[sid][0] += state
            first_known[sid][1] += 1
            streak, n = 0, 0
            while n < MIN_ATTEMPTS or (n < MAX_ATTEMPTS and streak < STREAK):
                ok = rng.random() < ((1 - p["slip"]) if state else p["guess"])
                item_skills = [sid]
                practised = [q for q in pre[sid] if q in known]
                if multi_skill_rate > 0 and practised and rng.random() < multi_skill_rate:
                    q = practised[int(rng.integers(len(practised)))]
                    pq = params[q]
                    ok = ok and rng.random() < ((1 - pq["slip"]) if known[q] else pq["guess"])
                    item_skills.append(q)
                    if not known[q] and rng.random() < pq["learn"]:
                        known[q] = True
                rows.append((lid, ";".join(item_skills), int(ok), now.strftime("%Y-%m-%dT%H:%M:%SZ")))
                now += timedelta(seconds=float(rng.uniform(20, 120)))
                streak = streak + 1 if ok else 0
                n += 1
                if not state:
                    will_continue = n < MIN_ATTEMPTS or (n < MAX_ATTEMPTS and streak < STREAK)
                    learned = bool(rng.random() < learn)
                    if will_continue:
                        transitions[sid][1] += 1
                        transitions[sid][0] += learned
                    state = learned
            known[sid] = state
            now += timedelta(hours=float(rng.uniform(2, 72)))
    effective = {
        sid: {
            "prior": first_known[sid][0] / first_known[sid][1] if first_known[sid][1] else None,
            "learn": transitions[sid][0] / transitions[sid][1] if transitions[sid][1] else None,
            "learners": first_known[sid][1],
        }
        for sid in params
    }
    truth = {
        "generator": GENERATOR_VERSION,
        "seed": seed,
        "learners": n_learners,
        "multi_skill_rate": multi_skill_rate,
        "rules": {
            "skills_per_learner": "6-30, random topological order of the prerequisite graph",
            "stopping": f"{STREAK} correct in a row or {MAX_ATTEMPTS} answers, at least {MIN_ATTEMPTS}",
            "prerequisite_effect": f"not all prerequisites mastered: prior x {NOT_READY_PRIOR}, learn x {NOT_READY_LEARN}",
        },
        "parameters": params,
        "effective": effective,
        "framework": str(framework),
    }
    return rows, truth


def write_events(rows, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["learner_id", "skill_ids", "correct", "timestamp"])
        w.writerows(rows)


LAKE_VERSION = "synthetic-lake-v1"
LAKE_ORDERS = 512


def generate_lake(framework: Path, n_learners: int, n_answers: int, seed: int, out: Path, chunk: int = 50_000) -> dict:
    """Write n_answers answers of n_learners learners as Parquet shards under out, chunk learners at a time."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    skills = read_skills(framework)
    params = true_parameters(skills, rng)
    ids = [s.id for s in skills]
    pos = {sid: i for i, sid in enumerate(ids)}
    K = len(ids)
    pre = np.zeros((K, K), dtype=bool)  # pre[s, q]: q is a prerequisite of s
    for s in skills:
        for q in s.prerequisites:
            pre[pos[s.id], pos[q]] = True
    arr = {n: np.array([params[sid][n] for sid in ids]) for n in ("prior", "learn", "guess", "slip")}
    orders = np.array([[pos[x] for x in random_topological_order(skills, rng)] for _ in range(LAKE_ORDERS)])
    skill_text = np.array(ids, dtype=object)
    out.mkdir(parents=True, exist_ok=True)
    t0 = datetime(2026, 9, 1, tzinfo=UTC).timestamp()
    base, extra = divmod(n_answers, n_learners)
    written, shard = 0, 0
    schema = pa.schema([("learner_id", pa.string()), ("skill_ids", pa.string()), ("correct", pa.int8()), ("timestamp", pa.timestamp("s", tz="UTC"))])
    for first in range(0, n_learners, chunk):
        L = min(chunk, n_learners - first)
        lid = np.arange(first, first + L)
        budget = base + (lid < extra).astype(np.int64)
        order = orders[rng.integers(LAKE_ORDERS, size=L)]
        known = np.zeros((L, K), dtype=bool)
        now = t0 + rng.uniform(0, 60 * 86400, L) + rng.uniform(7, 21, L) * 3600
        out_l, out_s, out_y, out_t = [], [], [], []
        for j in range(K):
            live = budget > 0
            if not live.any():
                break
            sid = order[:, j]
            ready = ~(pre[sid] & ~known).any(axis=1)
            prior = arr["prior"][sid] * np.where(ready, 1.0, NOT_READY_PRIOR)
            learn = arr["learn"][sid] * np.where(ready, 1.0, NOT_READY_LEARN)
            state = rng.random(L) < prior
            going = live.copy()
            streak = np.zeros(L, dtype=np.int64)
            for n in range(MAX_ATTEMPTS):
                ok = rng.random(L) < np.where(state, 1 - arr["slip"][sid], arr["guess"][sid])
                emit = going & (budget > 0)
                out_l.append(lid[emit])
                out_s.append(sid[emit])
                out_y.append(ok[emit])
                out_t.append(now[emit])
                budget -= emit
                now = now + np.where(emit, rng.uniform(20, 120, L), 0.0)
                streak = np.where(ok, streak + 1, 0)
                state = state | (~state & (rng.random(L) < learn))
                going = emit & ((n + 1 < MIN_ATTEMPTS) | (streak < STREAK))
            known[np.arange(L), sid] = state
            now = now + rng.uniform(2, 72, L) * 3600
        learners = np.concatenate(out_l)
        table = pa.table({
            "learner_id": pa.array([f"syn-{k + 1:07d}" for k in learners.tolist()], pa.string()),
            "skill_ids": pa.array(skill_text[np.concatenate(out_s)], pa.string()),
            "correct": pa.array(np.concatenate(out_y).astype(np.int8)),
            "timestamp": pa.array(np.concatenate(out_t).astype("datetime64[s]"), pa.timestamp("s", tz="UTC")),
        }, schema=schema)
        pq.write_table(table, out / f"part-{shard:05d}.parquet", compression="zstd")
        written += table.num_rows
        shard += 1
    truth = {"generator": LAKE_VERSION, "seed": seed, "learners": n_learners, "answers_asked": n_answers, "answers": written,
             "shards": shard, "parameters": params, "framework": str(framework)}
    (out / "_truth.json").write_text(json.dumps(truth, indent=1) + "\n", encoding="utf-8")
    return truth


def recovery(truth: dict, fitted: dict[str, dict[str, float]]) -> dict:
    """Mean / max absolute error of the fitted parameters against the truth (effective prior/learn)."""
    out = {}
    for name in ("prior", "learn", "guess", "slip"):
        errs = []
        for sid, p in fitted.items():
            ref = truth["effective"][sid][name] if name in ("prior", "learn") else truth["parameters"][sid][name]
            if ref is not None:
                errs.append(abs(p[name] - ref))
        out[name] = {"mean_abs_error": round(float(np.mean(errs)), 4), "max_abs_error": round(float(np.max(errs)), 4)}
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Synthetic answer logs over the framework's skills.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("generate", "build-default"):
        p = sub.add_parser(name)
        p.add_argument("--learners", type=int, default=5000)
        p.add_argument("--seed", type=int, default=2026)
        p.add_argument("--multi-skill-rate", type=float, default=0.0)
        p.add_argument("--framework", type=Path, default=ROOT / "content" / "framework.yaml")
        p.add_argument("--out", type=Path, default=ROOT / "var" / "synthetic" / "events.csv")
    lake = sub.add_parser("lake", help="N learners, M answers as Parquet shards, memory flat (for Spark and benchmarks).")
    lake.add_argument("--learners", type=int, required=True)
    lake.add_argument("--answers", type=int, required=True)
    lake.add_argument("--seed", type=int, default=2026)
    lake.add_argument("--chunk", type=int, default=50_000, help="Learners simulated (and written) at a time.")
    lake.add_argument("--framework", type=Path, default=ROOT / "content" / "framework.yaml")
    lake.add_argument("--out", type=Path, required=True)
    b = sub.choices["build-default"]
    b.add_argument("--model-dir", type=Path, default=ROOT / "models" / "bkt-synthetic-v1")
    b.add_argument("--version", default="bkt-synthetic-v1")
    b.add_argument("--no-activate", action="store_true", help="Do not point models/active at the new artefact.")
    args = ap.parse_args(argv)

    t = time.perf_counter()
    if args.cmd == "lake":
        if args.learners < 1 or args.answers < 0:
            ap.error("--learners must be at least 1 and --answers at least 0")
        truth = generate_lake(args.framework, args.learners, args.answers, args.seed, args.out, args.chunk)
        print(json.dumps({k: truth[k] for k in ("generator", "learners", "answers", "shards")} | {"seconds": round(time.perf_counter() - t, 1)}))
        return
    rows, truth = generate(args.framework, args.learners, args.seed, args.multi_skill_rate)
    write_events(rows, args.out)
    truth_path = args.out.with_name("truth.json")
    truth_path.write_text(json.dumps(truth, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {len(rows)} answers of {args.learners} learners to {args.out} ({time.perf_counter() - t:.1f}s)",
          file=sys.stderr)
    if args.cmd == "generate":
        return

    meta = train_artefact(
        "bkt", args.out, "events", args.model_dir, seed=args.seed, version=args.version, progress=False,
        extra_metadata={
            "source": "fitted by tutor.tracing.bkt.BKT on synthetic answers (training/synthetic.py); replace with a fit on real answers",
            "generator": {k: truth[k] for k in ("generator", "seed", "learners", "multi_skill_rate", "rules")},
            "data": None,  # filled below with a path relative to the project
        },
    )
    fitted = json.loads((args.model_dir / "model.json").read_text(encoding="utf-8"))["skills"]
    meta["recovery"] = recovery(truth, fitted)
    meta["true_parameters"] = truth["parameters"]
    meta["effective_parameters"] = {k: {"prior": v["prior"], "learn": v["learn"]} for k, v in truth["effective"].items()}
    rel = args.out.resolve().relative_to(ROOT) if args.out.resolve().is_relative_to(ROOT) else args.out
    meta["data"] = {"path": str(rel), "format": "events", "sha256": meta["data_sha256"], "n_rows": meta["n_rows"],
                    "regenerate": f"training/synthetic.py generate --learners {args.learners} --seed {args.seed}"}
    (args.model_dir / "metadata.json").write_text(json.dumps(meta, indent=1, sort_keys=True, ensure_ascii=False) + "\n",
                                                  encoding="utf-8")
    model = load_mastery_model(args.model_dir)  # raises if the service could not load it
    print(json.dumps({"artefact": str(args.model_dir), "version": model.version, "skills": len(model.skills),
                      "recovery": meta["recovery"], "training_seconds": meta["training_seconds"]}))
    if not args.no_activate:
        (args.model_dir.parent / "active").write_text(args.model_dir.name + "\n", encoding="utf-8")
        print(f"models/active -> {args.model_dir.name}", file=sys.stderr)


if __name__ == "__main__":
    main()
