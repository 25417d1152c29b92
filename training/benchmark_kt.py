"""Knowledge-tracing benchmark: our BKT, pyBKT 1.4.3 (C++ E-step) and the next-answer model, side by side.

    bash training/pybkt_env.sh                      # once: builds .venv-pybkt with pyBKT from source
    .venv/bin/python training/benchmark_kt.py       # writes bench/results/kt.md and kt.json

For each data set in ../shared/data/kt (ASSIST2009, Statics2011; three-line format) every model is
fitted on train.csv and predicts every response of test.csv from the same learner's earlier test
responses (next-response prediction; each test sequence starts from the prior / an empty history;
all test responses are counted). BKT is fitted per skill with 5 restarts, as pyBKT is; pyBKT runs in
its own environment through a subprocess (training/pybkt_runner.py) and is timed inside that
process around Model.fit / Model.predict. Metrics are computed here, the same way for all models.
The online benchmark replays the ASSIST2009 test answers one at a time through a
`tutor.tracing.roster.Roster` of each model (update, and p_correct before it) in this process.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from tutor.research.logs import read_lines, write_pybkt_csv
from tutor.research.reports import metrics
from tutor.tracing.bkt import BKT
from tutor.tracing.next_answer import NextAnswerModel
from tutor.tracing.roster import Roster

ROOT = Path(__file__).resolve().parents[1]

DATA = ROOT.parent / "shared" / "data" / "kt"
DATASETS = ("assist2009", "statics2011")
TARGET_AUC = {"assist2009": 0.82, "statics2011": 0.83}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def row(name, res, fit_s, pred_s, n, extra=None):
    out = {"model": name, "auc": res["auc"], "rmse": res["rmse"], "accuracy": res["accuracy"], "n": n,
           "fit_seconds": round(fit_s, 3), "predict_seconds": round(pred_s, 3),
           "predictions_per_second": round(n / pred_s) if pred_s > 0 else None}
    out.update(extra or {})
    return out


def run_bkt(train, test, seed, **kw):
    m = BKT(n_restarts=5, random_state=seed, **kw)
    t = time.perf_counter()
    m.fit(train)
    fit_s = time.perf_counter() - t
    t = time.perf_counter()
    p = m.predict_proba(test)[:, 1]
    pred_s = time.perf_counter() - t
    diag = [d for d in m.diagnostics_.values() if d.get("fitted")]
    extra = {"skills_fitted": len(diag), "skills_default": len(m.diagnostics_) - len(diag),
             "em_iterations_max": m.n_iter_, "converged": sum(d["converged"] for d in diag)}
    return m, p, fit_s, pred_s, extra


def run_pybkt(python: Path, train, test, seed, workdir: Path):
    tr_csv, te_csv = workdir / "train.csv", workdir / "test.csv"
    write_pybkt_csv(train, tr_csv)
    te_rows = write_pybkt_csv(test, te_csv)  # one row per test answer (single-skill data)
    out = workdir / "pybkt"
    cmd = [str(python), str(ROOT / "training" / "pybkt_runner.py"), "--train", str(tr_csv), "--test", str(te_csv),
           "--out", str(out), "--num-fits", "5", "--seed", str(seed)]
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=sys.stderr)
    wall = time.perf_counter() - t
    info = json.loads((out / "pybkt.json").read_text())
    p_rows = np.load(out / "pybkt_pred.npy")
    p = np.empty(len(test))
    p[te_rows] = p_rows
    info.pop("params", None)
    info["subprocess_wall_seconds"] = round(wall, 2)
    return p, info


def run_next(train, test, seed):
    m = NextAnswerModel(random_state=seed)
    t = time.perf_counter()
    m.fit(train, progress=True)
    fit_s = time.perf_counter() - t
    t = time.perf_counter()
    p = m.predict_proba(test)[:, 1]
    pred_s = time.perf_counter() - t
    return m, p, fit_s, pred_s, {"timings": {k: round(v, 2) for k, v in m.timings_.items()}}


def online_speed(model: BKT | NextAnswerModel, test, max_events: int) -> dict:
    """Single-answer updates per second, alone and after a prediction, replaying the test answers in order."""
    events = [(e["learner_id"], e["skill_ids"], e["score"]) for e in test.events()][:max_events]
    roster = Roster(model)
    t = time.perf_counter()
    for learner, skills, score in events:
        roster.update(learner, skills, score)
    upd = time.perf_counter() - t
    roster = Roster(model)
    t = time.perf_counter()
    for learner, skills, score in events:
        roster.p_correct(learner, skills)
        roster.update(learner, skills, score)
    both = time.perf_counter() - t
    return {"events": len(events), "update_per_second": round(len(events) / upd),
            "predict_then_update_per_second": round(len(events) / both)}


def fmt(v, nd=4):
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.{nd}f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def write_markdown(result: dict, path: Path) -> None:
    L = [
        "# Knowledge tracing benchmark",
        "",
        (
            f"Written {result['created']} by `{result['command']}` on {result['machine']['cpu']} "
            f"({result['machine']['cores']} cores; load average at start {result['machine']['load_start']}, "
            f"at end {result['machine']['load_end']} — the machine is shared, so timings carry that noise)."
        ),
        "",
        (
            "Train on `train.csv`, predict every response of `test.csv` from the same learner's earlier test responses "
            "(each test sequence starts from the prior / an empty history; all test responses counted)."
        ),
        "",
    ]
    for ds, r in result["datasets"].items():
        L += [f"## {ds}", "", f"train {r['n_train']:,} responses, test {r['n_test']:,} responses", "",
              "| model | AUC | RMSE | accuracy | fit s | predictions/s |", "|---|---|---|---|---|---|"]
        for m in r["models"]:
            L.append(f"| {m['model']} | {fmt(m['auc'])} | {fmt(m['rmse'])} | {fmt(m['accuracy'])} | "
                     f"{fmt(m['fit_seconds'], 2)} | {fmt(m['predictions_per_second'])} |")
        L.append("")
        for c in r["checks"]:
            L.append(f"- {'PASS' if c['pass'] else 'FAIL'}: {c['check']} ({c['measured']})")
        L.append("")
    o = result.get("online")
    if o:
        L += ["## Online updates (in process, ASSIST2009 test answers replayed one at a time)", "",
              "| model | events | update /s | p_correct + update /s |", "|---|---|---|---|"]
        for name, v in o.items():
            if isinstance(v, dict) and "events" in v:
                L.append(f"| {name} | {v['events']:,} | {v['update_per_second']:,} | {v['predict_then_update_per_second']:,} |")
        L.append("")
        for c in o.get("checks", []):
            L.append(f"- {'PASS' if c['pass'] else 'FAIL'}: {c['check']} ({c['measured']})")
        L.append("")
    if result.get("notes"):
        L += ["## Notes", ""] + [f"- {n}" for n in result["notes"]] + [""]
    path.write_text("\n".join(L), encoding="utf-8")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    ap.add_argument("--data-dir", type=Path, default=DATA)
    ap.add_argument("--pybkt-python", type=Path, default=ROOT / ".venv-pybkt" / "bin" / "python")
    ap.add_argument("--skip-pybkt", action="store_true")
    ap.add_argument("--skip-next", action="store_true", help="Skip the next-answer model (slowest part).")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out-dir", type=Path, default=ROOT / "bench" / "results")
    args = ap.parse_args(argv)
    if not args.data_dir.is_dir():
        sys.exit(f"data folder {args.data_dir} not found (expected ../shared/data/kt next to the project)")
    use_pybkt = not args.skip_pybkt
    if use_pybkt and not args.pybkt_python.exists():
        sys.exit(f"{args.pybkt_python} not found: run `bash training/pybkt_env.sh` first, or pass --skip-pybkt")

    result = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python training/benchmark_kt.py", *(argv if argv is not None else sys.argv[1:])]),
        "machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "load_start": load_average(),
                    "python": platform.python_version(), "numpy": np.__version__},
        "datasets": {},
        "notes": [],
    }
    assist_bkt, assist_test, assist_next = None, None, None
    with tempfile.TemporaryDirectory(prefix="kt-bench-") as tmp:
        for ds in args.datasets:
            train = read_lines(args.data_dir / ds / "train.csv")
            test = read_lines(args.data_dir / ds / "test.csv")
            n = len(test)
            y, lab = test.score, test.label
            models, preds = [], {}
            log(f"{ds}: BKT (ours)")
            bkt, p, fs, ps, extra = run_bkt(train, test, args.seed)
            models.append(row("BKT (tutor.tracing.bkt, 5 restarts, guess/slip <= 0.3)", metrics(y, lab, p), fs, ps, n, extra))
            preds["bkt"] = p
            log(f"{ds}: BKT (ours) with pyBKT-like looser bounds")
            _, p2, fs2, ps2, extra2 = run_bkt(train, test, args.seed, max_guess=0.45, max_slip=0.45)
            models.append(row("BKT (tutor.tracing.bkt, 5 restarts, guess/slip <= 0.45)", metrics(y, lab, p2), fs2, ps2, n, extra2))
            if use_pybkt:
                log(f"{ds}: pyBKT 1.4.3 (subprocess)")
                pp, info = run_pybkt(args.pybkt_python, train, test, args.seed, Path(tmp) / ds)
                models.append(row(f"pyBKT {info['pybkt_version']} ({info['e_step']} E-step, 5 fits)",
                                  metrics(y, lab, pp), info["fit_seconds"], info["predict_seconds"], n, {"pybkt": info}))
                preds["pybkt"] = pp
            if not args.skip_next:
                log(f"{ds}: next-answer model")
                nm, pn, fsn, psn, extran = run_next(train, test, args.seed)
                models.append(row("next-answer (tutor.tracing.next_answer: Best-LR + MLP)", metrics(y, lab, pn), fsn, psn, n, extran))
                if ds == "assist2009":
                    assist_next = nm
            checks = []
            ours = models[0]
            if use_pybkt:
                pyb = next(m for m in models if m["model"].startswith("pyBKT"))
                checks.append({"check": "BKT AUC >= pyBKT AUC - 0.005", "pass": ours["auc"] >= pyb["auc"] - 0.005,
                               "measured": f"{ours['auc']:.4f} vs {pyb['auc']:.4f}"})
                speed = pyb["fit_seconds"] / ours["fit_seconds"]
                checks.append({"check": "BKT fit >= 3x faster than pyBKT", "pass": speed >= 3.0,
                               "measured": f"{ours['fit_seconds']:.2f} s vs {pyb['fit_seconds']:.2f} s = {speed:.1f}x"})
            if not args.skip_next:
                nx = models[-1]
                checks.append({"check": f"next-answer AUC >= {TARGET_AUC[ds]}", "pass": nx["auc"] >= TARGET_AUC[ds],
                               "measured": f"{nx['auc']:.4f}"})
                checks.append({"check": "next-answer fit < 600 s", "pass": nx["fit_seconds"] < 600,
                               "measured": f"{nx['fit_seconds']:.1f} s"})
            result["datasets"][ds] = {"n_train": len(train), "n_test": n, "models": models, "checks": checks}
            for c in checks:
                log(f"{ds}: {'PASS' if c['pass'] else 'FAIL'} {c['check']} ({c['measured']})")
            if ds == "assist2009":
                assist_bkt, assist_test = bkt, test

    if assist_bkt is not None:
        log("online throughput")
        online = {"Roster(BKT)": online_speed(assist_bkt, assist_test, max_events=200_000)}
        if assist_next is not None:
            online["Roster(NextAnswerModel)"] = online_speed(assist_next, assist_test, max_events=5_000)
        v = online["Roster(BKT)"]["update_per_second"]
        online["checks"] = [{"check": "BKT online single-event updates >= 50,000/s", "pass": v >= 50_000,
                             "measured": f"{v:,}/s"}]
        result["online"] = online
    result["machine"]["load_end"] = load_average()
    result["notes"].append("pyBKT's fit and predict seconds are measured inside its process (data loading excluded); "
                           "ours likewise exclude file reading.")
    result["notes"].append("The guess/slip <= 0.45 row shows how much of the gap to pyBKT (which does not bound "
                           "guess/slip) comes from the identifiability bounds; the service uses 0.3.")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "kt.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    write_markdown(result, args.out_dir / "kt.md")
    log(f"wrote {args.out_dir / 'kt.md'} and kt.json")
    print((args.out_dir / "kt.md").read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
