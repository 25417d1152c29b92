"""Per audience: simulated learners reaching the audience's default goal, our policy beside the fixed course order.

For each audience of content/audiences.yaml (goal `audience:<id>`), `tutor.recommend.simulation.simulate`
runs the same learners (same seed) under "ours" and "fixed" (lessons in framework order, each once,
then again), policies interleaved per audience. Reports mean steps to reach the goal (reached
learners, 95% CI), the budget-censored mean and the share reaching it within the budget, with the
load average beside the wall time (the machine is shared: timings are noisy; step counts are not).

Writes bench/results/audiences.json and bench/results/audiences.md.

    .venv/bin/python bench/audience_bench.py                 # 500 learners per audience and policy
    .venv/bin/python bench/audience_bench.py --learners 200  # quicker
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results"

from tutor.content.library import load_library  # noqa: E402
from tutor.recommend.simulation import SimConfig, simulate  # noqa: E402
from tutor.tracing.artefacts import active_model_dir, load_mastery_model  # noqa: E402


def loadavg() -> str:
    try:
        return Path("/proc/loadavg").read_text().split(" ")[0]
    except OSError:
        return "n/a"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--learners", type=int, default=500)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--budget", type=int, default=200)
    ap.add_argument("--jobs", type=int, default=1)
    args = ap.parse_args()
    library = load_library(ROOT / "content")
    model_dir = active_model_dir(ROOT / "models")
    model = load_mastery_model(model_dir)
    rows = []
    for audience in library.audiences:
        for policy in ("ours", "fixed"):
            load = loadavg()
            started = time.perf_counter()
            r = simulate(library, model, policy, SimConfig(learners=args.learners, seed=args.seed, budget=args.budget, goal=f"audience:{audience}"), jobs=args.jobs)
            r.update(audience=audience, load_average=load, wall_seconds=round(time.perf_counter() - started, 1))
            rows.append(r)
            print(f"{audience:10s} {policy:6s} {r['mean_steps_to_mastery']} steps, {r['share_reached']:.1%} reached, load {load}", flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "audiences.json").write_text(json.dumps({"model": model.version, "learners": args.learners, "seed": args.seed, "budget": args.budget,
                                                        "cpus": os.cpu_count(), "results": rows}, indent=2, ensure_ascii=False))
    lines = [
        "# Steps to each audience's default goal: ours beside fixed order",
        "",
        f"{args.learners} simulated learners per audience and policy (same seed {args.seed}, same learners), budget {args.budget} steps, "
        f"mastery model `{model.version}`. Steps: lessons studied until every goal skill is mastered (learners who reached it); "
        "censored: learners who did not reach it count the budget. Load average at the start of each run beside its wall time "
        "(shared 2-core machine: timings are noisy, step counts are not).",
        "",
        "| audience | goal skills | policy | mean steps (95% CI) | median | censored mean | reached | load | wall s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lo, hi = r["ci95_steps_to_mastery"]
        lines.append(f"| {r['audience']} | {r['goal_skills']} | {r['policy']} | {r['mean_steps_to_mastery']} ({lo}–{hi}) | {r['median_steps_to_mastery']} | "
                     f"{r['mean_steps_budget_censored']} | {r['share_reached']:.1%} | {r['load_average']} | {r['wall_seconds']} |")
    (RESULTS / "audiences.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
