"""`tutor train` and `tutor evaluate`: fit a mastery / next-answer model on a log and measure it.

    tutor train --model bkt --data answers.jsonl --format events --out models/bkt-2026-11 --seed 0
    tutor evaluate --model models/bkt-2026-11 --data test.csv --format lines
    tutor evaluate --model models/bkt-2026-11 --data answers.jsonl --folds 5 --report reports/bkt-cv

`train` writes an artefact directory (never pickle): for ``bkt`` the service's format
(model.json + metadata.json, read by tutor.tracing.artefacts.load_mastery_model) plus diagnostics.json;
for ``next-answer`` model.json + weights.npz + metadata.json (tutor.tracing.next_answer).

`evaluate` prints ONE JSON object on stdout (auc, rmse, accuracy, n, ...) and writes report.md,
roc.png and reliability.png to the report directory. Without ``--folds`` the artefact predicts
every row of the data, each learner starting from scratch (the data is a test split); with
``--folds K`` a model of the same kind and hyper-parameters is refitted K times, each time on
the learners outside one fold (learner-level cross-validation), and the pooled held-out
predictions are scored. Progress bars go to stderr.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

import numpy as np
import typer

from tutor.research.logs import FORMATS, LogFormatError, file_sha256, read_log

MODELS = ("bkt", "next-answer")


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


def _parse_sets(sets: list[str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in sets or []:
        if "=" not in item:
            _fail(f"--set expects KEY=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        try:
            out[k.strip()] = json.loads(v)
        except json.JSONDecodeError:
            out[k.strip()] = v
    return out


def make_model(kind: str, seed: int | None, overrides: dict[str, Any] | None = None):
    """A fresh estimator of the given kind (hyper-parameters: defaults, then overrides)."""
    if kind == "bkt":
        from tutor.tracing.bkt import BKT

        est = BKT(random_state=seed)
    elif kind == "next-answer":
        from tutor.tracing.next_answer import NextAnswerModel

        est = NextAnswerModel(random_state=seed)
    else:
        raise ValueError(f"unknown model {kind!r}; expected one of {', '.join(MODELS)}")
    if overrides:
        if "hidden" in overrides and isinstance(overrides["hidden"], list):
            overrides["hidden"] = tuple(overrides["hidden"])
        est.set_params(**overrides)
    return est


def load_model(directory: Path):
    """Load a bkt or next-answer artefact; returns (kind, estimator, metadata)."""
    directory = Path(directory)
    mpath = directory / "model.json"
    try:
        kind = json.loads(mpath.read_text(encoding="utf-8")).get("kind")
    except FileNotFoundError:
        raise ValueError(f"{mpath}: file missing (is {directory} a model artefact directory?)") from None
    except (json.JSONDecodeError, AttributeError) as exc:
        raise ValueError(f"{mpath}: not a JSON object ({exc})") from None
    meta_path = directory / "metadata.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.exists() else {}
    if kind == "bkt":
        from tutor.tracing.bkt import BKT

        return "bkt", BKT.load(directory), meta
    if kind == "next-answer":
        from tutor.tracing.next_answer import NextAnswerModel

        return "next-answer", NextAnswerModel.load(directory), meta
    raise ValueError(f"{mpath}: unknown model kind {kind!r}; expected one of {', '.join(MODELS)}")


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if hasattr(v, "as_dict"):
        return v.as_dict()
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    return v


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "numpy": np.__version__}
    for mod in ("sklearn", "torch"):
        m = sys.modules.get(mod)
        if m is not None:
            out[mod if mod != "sklearn" else "scikit-learn"] = m.__version__
    return out


def train_artefact(
    kind: str,
    data: Path,
    fmt: str,
    out: Path,
    seed: int = 0,
    version: str | None = None,
    overrides: dict[str, Any] | None = None,
    progress: bool = True,
    extra_metadata: dict | None = None,
) -> dict[str, Any]:
    """Fit and write an artefact; returns its metadata (used by `tutor train` and training scripts)."""
    log = read_log(data, fmt)
    est = make_model(kind, seed, overrides)
    t0 = time.perf_counter()
    est.fit(log, progress=progress)
    seconds = time.perf_counter() - t0
    sha = file_sha256(data)
    meta: dict[str, Any] = {
        "kind": kind,
        "version": version or f"{kind}-{sha[:10]}-s{seed}",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model": kind,
        "seed": seed,
        "data": {"path": str(data), "format": fmt, "sha256": sha, **log.summary()},
        "data_sha256": sha,
        "n_rows": len(log),
        "training_seconds": round(seconds, 3),
        "hyperparameters": _jsonable(est.get_params()),
        "software": _versions(),
    }
    if kind == "bkt":
        diag = est.diagnostics_
        fitted = [d for d in diag.values() if d.get("fitted")]
        meta["fit_summary"] = {
            "skills": len(diag),
            "fitted": len(fitted),
            "kept_default": len(diag) - len(fitted),
            "converged": sum(1 for d in fitted if d.get("converged")),
            "mastery_not_informative": sorted(s for s, d in diag.items() if not d.get("mastery_informative")),
            "log_likelihood": est.log_likelihood_,
            "max_iterations_used": est.n_iter_,
        }
        meta["hyperparameters"]["default_params"] = est._default().as_dict()
    else:
        meta["fit_summary"] = {
            "skills": len(est.skills_),
            "timings_seconds": {k: round(v, 3) for k, v in est.timings_.items()},
            "mlp_training_loss": [round(x, 5) for x in getattr(est, "history_", [])],
            "logistic_regression_iterations": est.lr_n_iter_,
        }
    meta.update(extra_metadata or {})
    est.save(out, meta)
    return meta


# ---------------------------------------------------------------------------------------------
# metrics and report
# ---------------------------------------------------------------------------------------------
def metrics(y_score: np.ndarray, y_label: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    from sklearn.metrics import roc_auc_score

    n = len(p)
    auc = float(roc_auc_score(y_label, p)) if len(np.unique(y_label)) == 2 else None
    pc = np.clip(p, 1e-12, 1 - 1e-12)
    return {
        "auc": auc,
        "rmse": float(np.sqrt(np.mean((p - y_score) ** 2))) if n else None,
        "accuracy": float(np.mean((p >= 0.5) == (y_label == 1))) if n else None,
        "log_loss": float(-np.mean(y_score * np.log(pc) + (1 - y_score) * np.log(1 - pc))) if n else None,
        "n": int(n),
        "mean_prediction": float(p.mean()) if n else None,
        "mean_outcome": float(y_score.mean()) if n else None,
    }


def reliability_table(p: np.ndarray, y: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    out = []
    for b in range(bins):
        m = idx == b
        if m.any():
            out.append({"bin": f"{edges[b]:.1f}-{edges[b + 1]:.1f}", "n": int(m.sum()),
                        "mean_predicted": float(p[m].mean()), "observed": float(y[m].mean())})
    return out


def write_report(
    directory: Path, p: np.ndarray, y_score: np.ndarray, y_label: np.ndarray, result: dict, context: dict
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_curve

    directory.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    if result["auc"] is not None:
        fpr, tpr, _ = roc_curve(y_label, p)
        ax.plot(fpr, tpr, label=f"AUC = {result['auc']:.4f}")
    ax.plot([0, 1], [0, 1], "--", color="grey", linewidth=0.8)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title("ROC curve")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(directory / "roc.png", dpi=110)
    plt.close(fig)

    table = reliability_table(p, y_score)
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], "--", color="grey", linewidth=0.8, label="perfect calibration")
    ax.plot([r["mean_predicted"] for r in table], [r["observed"] for r in table], "o-", label="model")
    ax.set_xlabel("predicted P(correct)")
    ax.set_ylabel("observed fraction correct")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title("Reliability diagram (10 bins)")
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(directory / "reliability.png", dpi=110)
    plt.close(fig)

    def fmt(v):
        return "—" if v is None else (f"{v:.4f}" if isinstance(v, float) else str(v))

    lines = [
        f"# Evaluation of `{context['model']}`",
        "",
        f"- model kind: {context['kind']}, version: {context.get('version', '?')}",
        f"- data: `{context['data']}` (format {context['format']}, sha256 {context['data_sha256'][:16]}…)",
        f"- protocol: {context['protocol']}",
        f"- written: {datetime.now(timezone.utc).isoformat(timespec='seconds')}",
        "",
        "| metric | value |",
        "|---|---|",
    ]
    for k in ("auc", "rmse", "accuracy", "log_loss", "n", "mean_prediction", "mean_outcome"):
        lines.append(f"| {k} | {fmt(result[k])} |")
    if result.get("fold_metrics"):
        lines += ["", "Per fold:", "", "| fold | n | auc | rmse | accuracy |", "|---|---|---|---|---|"]
        for i, fm in enumerate(result["fold_metrics"]):
            lines.append(f"| {i + 1} | {fm['n']} | {fmt(fm['auc'])} | {fmt(fm['rmse'])} | {fmt(fm['accuracy'])} |")
    lines += [
        "",
        "![ROC curve](roc.png) ![Reliability diagram](reliability.png)",
        "",
        "Reliability (10 equal-width bins of the predicted probability):",
        "",
        "| bin | n | mean predicted | observed |",
        "|---|---|---|---|",
    ]
    for r in table:
        lines.append(f"| {r['bin']} | {r['n']} | {r['mean_predicted']:.3f} | {r['observed']:.3f} |")
    (directory / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def evaluate_artefact(
    model_dir: Path,
    data: Path,
    fmt: str,
    folds: int | None = None,
    report: Path | None = None,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, Any]:
    kind, est, meta = load_model(model_dir)
    log = read_log(data, fmt)
    fold_metrics = []
    if folds:
        from tqdm import tqdm

        params = est.get_params()
        p = np.empty(len(log))
        splits = log.learner_folds(folds, seed)
        for tr_rows, te_rows in tqdm(splits, desc="cross-validation", unit="fold", disable=not progress, file=sys.stderr):
            m = make_model(kind, params.get("random_state"))
            m.set_params(**params)
            m.fit(log.take(tr_rows), progress=progress)
            part = log.take(te_rows)
            pp = m.predict_proba(part)[:, 1]
            p[te_rows] = pp
            fold_metrics.append(metrics(part.score, part.label, pp))
        protocol = f"learner-level {folds}-fold cross-validation (hyper-parameters of the artefact, refitted per fold)"
    else:
        p = est.predict_proba(log)[:, 1]
        protocol = "the artefact predicts every row from the same learner's earlier rows (each learner starts from scratch)"
    result = metrics(log.score, log.label, p)
    sha = file_sha256(data)
    if report is None:
        report = Path(model_dir) / "evaluation" / (Path(data).stem + (f"-cv{folds}" if folds else ""))
    out = {**result, "model": str(model_dir), "kind": kind, "data": str(data), "format": fmt,
           "folds": folds, "report": str(report)}
    if fold_metrics:
        out["fold_metrics"] = fold_metrics
    context = {"model": str(model_dir), "kind": kind, "version": meta.get("version"), "data": str(data),
               "format": fmt, "data_sha256": sha, "protocol": protocol}
    write_report(Path(report), p, log.score, log.label, out, context)
    return out


# ---------------------------------------------------------------------------------------------
# typer commands (registered in tutor/cli.py)
# ---------------------------------------------------------------------------------------------
def train(
    data: Path = typer.Option(..., "--data", help="Answer log to fit on."),
    out: Path = typer.Option(..., "--out", help="Artefact directory to write."),
    model: str = typer.Option("bkt", "--model", help="bkt (per-skill BKT, the service's mastery model) or next-answer."),
    fmt: str = typer.Option("events", "--format", help="events (CSV/JSON lines/Parquet), pybkt (CSV) or lines (3-line KT format)."),
    seed: int = typer.Option(0, "--seed", help="Random seed (EM restarts, MLP initialisation)."),
    version: Optional[str] = typer.Option(None, "--version", help="Version string for metadata.json (default: kind-datahash-seed)."),
    sets: Optional[list[str]] = typer.Option(None, "--set", help="Hyper-parameter KEY=VALUE (JSON value), repeatable, e.g. --set n_restarts=10."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """Fit a model on an answer log and write its artefact (JSON/NPZ + metadata.json, never pickle)."""
    if model not in MODELS:
        _fail(f"--model must be one of {', '.join(MODELS)}, got {model!r}")
    if fmt not in FORMATS:
        _fail(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    try:
        meta = train_artefact(model, data, fmt, out, seed, version, _parse_sets(sets), progress=not quiet)
    except LogFormatError as exc:
        _fail(str(exc))
    except ValueError as exc:
        _fail(str(exc))
    typer.echo(json.dumps({"out": str(out), "kind": model, "version": meta["version"], "n_rows": meta["n_rows"],
                           "training_seconds": meta["training_seconds"]}))


def evaluate(
    model: Path = typer.Option(..., "--model", help="Artefact directory written by `tutor train`."),
    data: Path = typer.Option(..., "--data", help="Answer log to evaluate on (a test split, or any log with --folds)."),
    fmt: str = typer.Option("events", "--format", help="events, pybkt or lines."),
    folds: Optional[int] = typer.Option(None, "--folds", help="Learner-level K-fold cross-validation instead of a test split."),
    report: Optional[Path] = typer.Option(None, "--report", help="Report directory (default: MODEL/evaluation/DATA-STEM)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the fold assignment."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """Score a model on a log: one JSON object on stdout, report.md + roc.png + reliability.png."""
    if fmt not in FORMATS:
        _fail(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if folds is not None and folds < 2:
        _fail("--folds must be at least 2")
    try:
        result = evaluate_artefact(model, data, fmt, folds, report, seed, progress=not quiet)
    except LogFormatError as exc:
        _fail(str(exc))
    except ValueError as exc:
        _fail(str(exc))
    typer.echo(json.dumps(result))
