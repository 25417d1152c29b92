"""Recommendation benchmark: simulated learners per policy, in-process latency, and HTTP latency on PostgreSQL.

1. `tutor simulate` (tutor.recommend.simulation.simulate, the code behind the command) for ours, fixed and
   random on the same seed and the same learners (>= 2,000 each), plus ours with the placement quiz;
   steps to mastery with 95% CIs, share reaching mastery within the budget, already-known lessons shown.
2. In process: Recommender.recommend for one learner over the full library, on states taken from
   simulated learners at random points of their path; p50/p99 per call. With BKT's predicted success,
   and, interleaved round by round, with a next-answer model's (`--next-answer DIR`, an artefact of
   `tutor train --model next-answer`; without it one is trained here on generated answers, default
   architecture, 2 epochs: latency depends on the architecture, not on how long it trained).
3. HTTP: the real service (`python service.py`) on a throw-away PostgreSQL database, learners seeded
   with answers through POST /v1/events, then GET /v1/learners/{id}/next sent open-loop at `--rate`
   requests per second for `--duration` seconds (loopback only; bounded in count and time).
   Latency is measured from each request's scheduled send time, so a client that falls behind
   shows up in the numbers instead of hiding (no coordinated omission).

Writes bench/results/recommend.json and bench/results/recommend.md (with --in-process-only:
recommend-inprocess.json and .md). The load average is recorded before and after the in-process part.

    .venv/bin/python bench/recommend_bench.py                # everything (about 5 minutes on 2 cores)
    .venv/bin/python bench/recommend_bench.py --skip-http    # no PostgreSQL needed
    .venv/bin/python bench/recommend_bench.py --in-process-only --next-answer models/bkt-synthetic-v1-na/next-answer
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import os
import random
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results"

from tutor.content.library import load_library  # noqa: E402
from tutor.recommend.policy import LearnerState, Recommender, SkillRecord  # noqa: E402
from tutor.recommend.simulation import SimConfig, World, simulate  # noqa: E402
from tutor.tracing.artefacts import active_model_dir  # noqa: E402
from tutor.tracing.next_answer import NextAnswerModel, load_artefact  # noqa: E402


def pct(values, q) -> float:
    return round(float(np.percentile(np.asarray(values), q)), 3)


# ------------------------------------------------------------------------------- 1. simulation
def run_simulations(library, model, args) -> list[dict]:
    cfg = SimConfig(learners=args.learners, seed=args.seed, budget=args.budget, goal=args.goal)
    out = []
    for policy in ("ours", "fixed", "random"):
        r = simulate(library, model, policy, cfg, jobs=args.jobs)
        print(f"simulate {policy}: {r['mean_steps_to_mastery']} steps, {r['share_reached']:.1%} reached ({r['seconds']} s)", flush=True)
        out.append(r)
    if not args.skip_placement:
        r = simulate(library, model, "ours", SimConfig(**{**cfg.__dict__, "placement": True}), jobs=args.jobs)
        print(f"simulate ours+placement: {r['mean_steps_to_mastery']} steps ({r['seconds']} s)", flush=True)
        out.append(r)
    return out


# ------------------------------------------------------------------------------ 2. in process
class _Sampled(Exception):
    """Raised once a learner's state is taken: the rest of its path is not needed."""


def sample_states(library, model, n: int, seed: int) -> list[tuple[LearnerState, datetime]]:
    """Estimated states of simulated learners at random points of their path (following our policy)."""
    world = World(library, model, SimConfig(learners=n, seed=seed + 1000, budget=200))
    rng = random.Random(seed)
    states = []
    rec = world.recommender
    for i in range(n):
        # replay learner i with our policy up to a random step, recording its state there
        stop = rng.randrange(0, 60)
        snapshot: dict = {}
        original = rec.recommend

        def spy(library_, model_, state, goal, now, **kw):
            if len(snapshot.setdefault("calls", [])) == stop:
                snapshot["state"] = (LearnerState(
                    skills={k: SkillRecord(v.p, v.n, v.last) for k, v in state.skills.items()},
                    recent_lessons=dict(state.recent_lessons), recent_items=dict(state.recent_items),
                    answers=copy.deepcopy(state.answers)), now)
                raise _Sampled
            snapshot["calls"].append(1)
            return original(library_, model_, state, goal, now, **kw)

        rec.recommend = spy
        try:
            world.run_learner(i, "ours")
        except _Sampled:
            pass
        finally:
            rec.recommend = original
        if "state" in snapshot:
            states.append(snapshot["state"])
    return states


def loadavg() -> str:
    """1, 5 and 15-minute load averages: the machine is shared, so every timing is reported beside them."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def next_answer_model(library, args) -> tuple[NextAnswerModel, str]:
    """The next-answer model to measure: --next-answer, or one trained here on generated answers (default architecture)."""
    if args.next_answer:
        return NextAnswerModel.load(args.next_answer), str(args.next_answer)
    sys.path.insert(0, str(ROOT / "training"))
    from synthetic import generate, write_events

    from tutor.research.training import train_artefact

    rows, _ = generate(ROOT / "content" / "framework.yaml", 1000, args.seed, multi_skill_rate=0.1)
    with tempfile.TemporaryDirectory() as tmp:
        write_events(rows, Path(tmp) / "events.csv")
        train_artefact("next-answer", Path(tmp) / "events.csv", "events", Path(tmp) / "na", seed=args.seed, overrides={"epochs": 2}, progress=False)
        source = f"trained here: training/synthetic.py generate --learners 1000 --seed {args.seed} --multi-skill-rate 0.1 ({len(rows):,} answers)"
        return NextAnswerModel.load(Path(tmp) / "na"), source + ", default architecture, 2 epochs"


def in_process(library, model, args) -> dict:
    """p50/p99 of Recommender.recommend per case; BKT's and the next-answer model's predicted success interleaved round by round."""
    variants = {"BKT": model}
    out: dict = {"cases": {}}
    if model.next_answer is None and not args.skip_next_answer:
        na, source = next_answer_model(library, args)
        variants["next-answer"] = dataclasses.replace(model, next_answer=na)
        out["next_answer_model"] = source
    elif model.next_answer is not None:
        variants = {"next-answer": model}
        out["next_answer_model"] = "the active artefact's"
    states = {name: sample_states(library, m, 300, args.seed) for name, m in variants.items()}
    recs = {name: Recommender() for name in variants}
    cases = {"lesson, goal basic": dict(goal=None, kind="lesson"), "lesson, goal 4.2": dict(goal="4.2", kind="lesson"),
             "item, goal basic": dict(goal=None, kind="item"), "lesson, allowed 12": dict(goal=None, kind="lesson", allowed=sorted(library.lessons)[::4])}
    out["states"] = len(states["BKT"]) if "BKT" in states else len(next(iter(states.values())))
    out["loadavg_before"] = loadavg()
    for name, case in cases.items():
        times: dict[str, list[float]] = {v: [] for v in variants}
        cpu: dict[str, list[float]] = {v: [] for v in variants}  # this thread's CPU time: what the call costs, without waiting for a core
        for _ in range(args.inproc_rounds):
            for v, m in variants.items():  # interleaved: each round runs every variant
                rec = recs[v]
                goal = rec.goal(library, m, case["goal"])
                for state, now in states[v]:
                    state.predicted = None  # a request reads a fresh state: nothing cached from the last round
                    t0, c0 = time.perf_counter(), time.thread_time()
                    rec.recommend(library, m, state, goal, now + timedelta(hours=2), n=5, kind=case["kind"], allowed=case.get("allowed"))
                    times[v].append((time.perf_counter() - t0) * 1000)
                    cpu[v].append((time.thread_time() - c0) * 1000)
        for v, t in times.items():
            label = name if v == "BKT" else f"{name} [next-answer]"
            out["cases"][label] = {"calls": len(t), "p50_ms": pct(t, 50), "p99_ms": pct(t, 99), "max_ms": round(max(t), 3),
                                   "cpu_p50_ms": pct(cpu[v], 50), "cpu_p99_ms": pct(cpu[v], 99)}
            print(f"in process {label}: p50 {out['cases'][label]['p50_ms']} ms, p99 {out['cases'][label]['p99_ms']} ms", flush=True)
    out["loadavg_after"] = loadavg()
    # placement: one quiz step (posterior + most informative item) after k answers
    from tutor.recommend.placement import PlacementConfig, PlacementModel, QuizState, StoredAnswer, progress

    pm = PlacementModel(library, model, PlacementConfig())
    times = []
    rng = random.Random(args.seed)
    for _ in range(30):
        quiz = QuizState([], [], False, False)
        while True:
            t0 = time.perf_counter()
            step = progress(pm, quiz)
            times.append((time.perf_counter() - t0) * 1000)
            if step.status == "complete":
                break
            a = StoredAnswer("x", step.next_item, pm.item_skills[step.next_item], float(rng.random() < 0.5), datetime.now(timezone.utc), "placement")
            quiz.answers.append(a)
            quiz.placement.append(a)
    out["placement_step"] = {"calls": len(times), "p50_ms": pct(times, 50), "p99_ms": pct(times, 99)}
    print(f"in process placement step: p50 {out['placement_step']['p50_ms']} ms, p99 {out['placement_step']['p99_ms']} ms", flush=True)
    return out


# ------------------------------------------------------------------------------------ 3. HTTP
def seed_events(items_by_lesson: dict[str, list[str]], n_learners: int, per_learner: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    now = datetime.now(timezone.utc)
    lessons = sorted(items_by_lesson)
    events = []
    for L in range(n_learners):
        studied = rng.sample(lessons, k=rng.randint(2, 14))
        skill = rng.random()
        k = 0
        while k < per_learner:
            lesson = rng.choice(studied)
            days = rng.uniform(0, 90) if rng.random() < 0.9 else rng.uniform(0, 0.03)  # some within the last hour
            for item in items_by_lesson[lesson]:
                if k >= per_learner:
                    break
                events.append({"event_id": f"rb-{L}-{k}", "learner_id": f"learner-{L}", "item_id": item, "correct": rng.random() < 0.35 + 0.6 * skill,
                               "timestamp": (now - timedelta(days=days)).isoformat()})
                k += 1
    return events


def http_bench(library, args, workers: int) -> dict:
    import httpx
    from service_under_test import running_service

    with running_service("postgresql", args.port, workers, "rbench") as service:
        base, key = service.base_url, service.key
        headers = {"Authorization": f"Bearer {key}"}
        items_by_lesson = {lid: [it.id for it in lesson.items] for lid, lesson in library.lessons.items()}
        events = seed_events(items_by_lesson, args.http_learners, args.events_per_learner, args.seed)
        t0 = time.perf_counter()
        with httpx.Client(base_url=base, headers=headers, timeout=120) as http:
            for i in range(0, len(events), 500):
                r = http.post("/v1/events", json={"events": events[i:i + 500]})
                r.raise_for_status()
        seeded_s = time.perf_counter() - t0
        print(f"http: seeded {len(events):,} answers for {args.http_learners:,} learners in {seeded_s:.1f} s", flush=True)

        rng = random.Random(args.seed)
        goals = [None, None, None, "4", "4.2", "1.1-basic,2.1-basic", "intermediate"]
        allowed = ",".join(sorted(library.lessons)[::3])
        total = int(args.rate * args.duration)
        plan = []
        for i in range(total):
            params = {"lang": rng.choice(["vi", "en"]), "n": 5}
            g = rng.choice(goals)
            if g:
                params["goal"] = g
            if rng.random() < 0.2:
                params["allowed"] = allowed
            if rng.random() < 0.1:
                params["kind"] = "item"
            plan.append((f"/v1/learners/learner-{rng.randrange(args.http_learners)}/next", params))
        # the first `warm` requests (3 s at the same rate, through the same client threads) open the
        # connections and fill the caches; they are sent but not measured
        warm = int(args.rate * 3)
        plan = plan[:warm] + plan
        lat_sched, lat_send, statuses, slow = [], [], [], []
        lock = threading.Lock()
        counter = iter(range(len(plan)))
        start = time.perf_counter() + 0.2
        hard_stop = start + (len(plan) / args.rate) + 30

        def worker():
            with httpx.Client(base_url=base, headers=headers, timeout=10) as http:
                while True:
                    with lock:
                        i = next(counter, None)
                    if i is None:
                        return
                    due = start + i / args.rate
                    delay = due - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                    if time.perf_counter() > hard_stop:
                        return
                    sent = time.perf_counter()
                    try:
                        code = http.get(plan[i][0], params=plan[i][1]).status_code
                    except httpx.HTTPError as exc:
                        code = exc.__class__.__name__
                    done = time.perf_counter()
                    if i < warm:
                        continue
                    with lock:
                        lat_sched.append((done - due) * 1000)
                        lat_send.append((done - sent) * 1000)
                        statuses.append(code)
                        slow.append((round((done - due) * 1000, 1), round(due - start, 2)))

        threads = [threading.Thread(target=worker) for _ in range(args.client_threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - start - warm / args.rate
        ok = sum(1 for s in statuses if s == 200)
        res = {
            "store": "postgresql", "service_workers": workers, "learners": args.http_learners, "answers_seeded": len(events),
            "rate_rps": args.rate, "duration_s": args.duration, "requests": len(statuses), "ok": ok,
            "errors": len(statuses) - ok, "first_error": next((str(s) for s in statuses if s != 200), None),
            "achieved_rps": round(len(statuses) / elapsed, 1),
            "p50_ms": pct(lat_sched, 50), "p90_ms": pct(lat_sched, 90), "p99_ms": pct(lat_sched, 99), "max_ms": round(max(lat_sched), 1),
            "p99_ms_from_send": pct(lat_send, 99),
            "slowest": sorted(slow, reverse=True)[:5],  # (ms, seconds into the measured run)
        }
        print(f"http ({workers} worker(s)): {res['requests']} requests, p50 {res['p50_ms']} ms, p99 {res['p99_ms']} ms, errors {res['errors']}", flush=True)
        return res


# ------------------------------------------------------------------------------------ report
def write_report(result: dict) -> str:
    sims = {r["policy"]: r for r in result["simulation"]}
    ours, fixed = sims["ours"], sims["fixed"]
    lines = ["## Simulated learners", ""]
    lines.append(f"{ours['learners']:,} learners per policy, seed {ours['seed']} (the same learners for every policy), goal `{ours['goal']}` "
                 f"({ours['goal_skills']} skills), budget {ours['budget']} steps, model `{ours['model_version']}`.")
    lines += ["", "| policy | mean steps to mastery (95% CI) | median | p90 | reached within budget | mean steps, unreached = budget (95% CI) | already-known lessons shown | review steps | placement items |",
              "|---|---|---|---|---|---|---|---|---|"]
    for r in result["simulation"]:
        lo, hi = r["ci95_steps_to_mastery"]
        clo, chi = r["ci95_steps_budget_censored"]
        lines.append(f"| {r['policy']} | {r['mean_steps_to_mastery']:.1f} ({lo:.1f}-{hi:.1f}) | {r['median_steps_to_mastery']} | {r['p90_steps_to_mastery']} | "
                     f"{r['reached']:,} ({r['share_reached']:.1%}) | {r['mean_steps_budget_censored']:.1f} ({clo:.1f}-{chi:.1f}) | {r['mean_known_lessons_shown']:.1f} | "
                     f"{r['mean_review_steps']:.2f} | {r['mean_placement_items']:.1f} |")
    lines += ["", "Learners who already knew at least a third of the goal's skills at the start:", "",
              "| policy | learners | mean steps, unreached = budget (95% CI) | already-known lessons shown |", "|---|---|---|---|"]
    for r in result["simulation"]:
        g = r["knowing_a_third_at_start"]
        if g["learners"]:
            lines.append(f"| {r['policy']} | {g['learners']:,} | {g['mean_steps_budget_censored']:.1f} ({g['ci95'][0]:.1f}-{g['ci95'][1]:.1f}) | {g['mean_known_lessons_shown']:.1f} |")
    cmp_ = result["comparison"]
    lines += ["", f"ours vs fixed: {cmp_['fewer_steps_vs_fixed']:.1%} fewer mean steps to mastery (target >= 30%); CIs overlap: {cmp_['cis_overlap']}; "
                  f"reached within budget: {ours['reached']:,} vs {fixed['reached']:,}. Targets met: {cmp_['targets_met']}.", ""]
    return "\n".join(lines) + "\n" + in_process_report(result)


def in_process_report(result: dict) -> str:
    ip = result["in_process"]
    lines = ["## In-process recommendation (full library)", "", f"{ip['states']} learner states sampled from simulated paths. "
             f"Load average before / after: {ip['loadavg_before']} / {ip['loadavg_after']} (2 cores shared with other work: noisy).", ""]
    if ip.get("next_answer_model"):
        lines += [f"[next-answer]: predicted success from a next-answer model ({ip['next_answer_model']}), runs interleaved round by round with BKT's.", ""]
    lines += ["| case | calls | p50 ms | p99 ms | max ms | CPU p50 ms | CPU p99 ms |", "|---|---|---|---|---|---|---|"]
    for name, c in ip["cases"].items():
        lines.append(f"| {name} | {c['calls']:,} | {c['p50_ms']} | {c['p99_ms']} | {c['max_ms']} | {c.get('cpu_p50_ms', '')} | {c.get('cpu_p99_ms', '')} |")
    ps = ip["placement_step"]
    lines.append(f"| placement quiz step | {ps['calls']:,} | {ps['p50_ms']} | {ps['p99_ms']} | | | |")
    lines += ["", "p50/p99/max: wall-clock time per call; CPU: the calling thread's CPU time per call (time.thread_time), which leaves out the time spent "
              "waiting for a core, so it shows what the call costs when the machine is busy."]
    if result.get("http"):
        lines += ["", "## HTTP, PostgreSQL, open loop", "",
                  "| service workers | learners | answers seeded | target rps | achieved rps | requests | errors | p50 ms | p90 ms | p99 ms | max ms |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for h in result["http"]:
            lines.append(f"| {h['service_workers']} | {h['learners']:,} | {h['answers_seeded']:,} | {h['rate_rps']} | {h['achieved_rps']} | {h['requests']:,} | {h['errors']} | "
                         f"{h['p50_ms']} | {h['p90_ms']} | {h['p99_ms']} | {h['max_ms']} |")
        lines.append("")
        lines.append("Latency from each request's scheduled send time to its response (loopback, client and service on the same 2 cores).")
    lines += ["", f"Machine: {result['machine']}; run {result['date']}; {result['seconds']} s in all.", ""]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--learners", type=int, default=2000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--budget", type=int, default=200)
    p.add_argument("--goal", default=None)
    p.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    p.add_argument("--skip-placement", action="store_true", help="leave out the ours+placement simulation")
    p.add_argument("--skip-http", action="store_true")
    p.add_argument("--inproc-rounds", type=int, default=5)
    p.add_argument("--http-learners", type=int, default=2000)
    p.add_argument("--events-per-learner", type=int, default=40)
    p.add_argument("--rate", type=float, default=100.0)
    p.add_argument("--duration", type=float, default=30.0)
    p.add_argument("--client-threads", type=int, default=16)
    p.add_argument("--workers", type=int, action="append", help="service worker processes (repeatable; default 1)")
    p.add_argument("--port", type=int, default=8766)
    p.add_argument("--next-answer", type=Path, help="a next-answer artefact (tutor train --model next-answer) to measure beside BKT in process")
    p.add_argument("--skip-next-answer", action="store_true", help="in process: BKT's predicted success only")
    p.add_argument("--in-process-only", action="store_true", help="only part 2; writes recommend-inprocess.json and .md")
    args = p.parse_args()
    started = time.perf_counter()
    library = load_library(ROOT / "content")
    model = load_artefact(active_model_dir(ROOT / "models"))
    if args.in_process_only:
        result = {"in_process": in_process(library, model, args), "seconds": round(time.perf_counter() - started, 1),
                  "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "machine": f"{os.cpu_count()} CPU cores, Python {sys.version.split()[0]}"}
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "recommend-inprocess.json").write_text(json.dumps(result, indent=1) + "\n")
        md = in_process_report(result)
        (RESULTS / "recommend-inprocess.md").write_text(md)
        print(md)
        return
    sims = run_simulations(library, model, args)
    by = {r["policy"]: r for r in sims}
    ours, fixed = by["ours"], by["fixed"]
    fewer = 1 - ours["mean_steps_to_mastery"] / fixed["mean_steps_to_mastery"]
    overlap = not (ours["ci95_steps_to_mastery"][1] < fixed["ci95_steps_to_mastery"][0] or fixed["ci95_steps_to_mastery"][1] < ours["ci95_steps_to_mastery"][0])
    comparison = {"fewer_steps_vs_fixed": round(fewer, 4), "cis_overlap": overlap, "reached_ours": ours["reached"], "reached_fixed": fixed["reached"],
                  "targets_met": bool(fewer >= 0.30 and not overlap and ours["reached"] >= fixed["reached"])}
    result = {"simulation": sims, "comparison": comparison, "in_process": in_process(library, model, args)}
    if not args.skip_http:
        result["http"] = [http_bench(library, args, w) for w in (args.workers or [1])]
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["date"] = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    result["machine"] = f"{os.cpu_count()} CPU cores, Python {sys.version.split()[0]}"
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "recommend.json").write_text(json.dumps(result, indent=1) + "\n")
    md = write_report(result)
    (RESULTS / "recommend.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
