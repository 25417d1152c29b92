"""Fit a mastery (BKT) or next-answer model on an answer log into an artefact, and measure an artefact on a log.

`train_artefact` writes an artefact directory (never pickle): for ``bkt`` the service's format
(model.json + metadata.json, read by tutor.tracing.artefacts.load_mastery_model) plus
diagnostics.json; for ``next-answer`` model.json + weights.npz + metadata.json
(tutor.tracing.next_answer).

`evaluate_artefact` scores predictions and writes a report (tutor.research.reports). Without
``folds`` the artefact predicts every row of the data, each learner starting from scratch (the
data is a test split); with ``folds=K`` a model of the same kind and hyper-parameters is refitted
K times, each time on the learners outside one fold (learner-level cross-validation), and the
pooled held-out predictions are scored.
"""

from __future__ import annotations

import platform
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import clone
from tqdm import tqdm

from tutor.errors import Invalid
from tutor.research import spark_next_answer, spark_training
from tutor.research.logs import file_sha256, read_log
from tutor.research.reports import metrics, write_report, write_report_parts
from tutor.tracing.artefacts import ArtefactError, read_json_object
from tutor.tracing.bkt import BKT
from tutor.tracing.next_answer import NextAnswerModel

MODELS = ("bkt", "next-answer")
ENGINES = ("local", "spark")
Model = BKT | NextAnswerModel


def make_model(kind: str, seed: int | None, overrides: dict[str, Any] | None = None) -> Model:
    """A fresh estimator of the given kind (hyper-parameters: defaults, then overrides)."""
    if kind == "bkt":
        est: Model = BKT(random_state=seed)
    elif kind == "next-answer":
        est = NextAnswerModel(random_state=seed)
    else:
        raise Invalid(f"unknown model {kind!r}; expected one of {', '.join(MODELS)}")
    params = dict(overrides or {})
    if isinstance(params.get("hidden"), list):  # JSON has no tuples
        params["hidden"] = tuple(params["hidden"])
    return est.set_params(**params)


def load_model(directory: Path) -> tuple[str, Model, dict]:
    """Load a bkt or next-answer artefact; returns (kind, estimator, metadata)."""
    directory = Path(directory)
    mpath = directory / "model.json"
    kind = read_json_object(mpath).get("kind")
    meta_path = directory / "metadata.json"
    meta = read_json_object(meta_path) if meta_path.exists() else {}
    if kind == "bkt":
        return "bkt", BKT.load(directory), meta
    if kind == "next-answer":
        return "next-answer", NextAnswerModel.load(directory), meta
    raise ArtefactError(f"{mpath}: unknown model kind {kind!r}; expected one of {', '.join(MODELS)}")


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
    """The versions of the libraries the fit ran on, for metadata.json."""
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
    engine: str = "local",
    master: str = "local[*]",
) -> dict[str, Any]:
    """Fit and write an artefact; returns its metadata (used by `tutor train` and training scripts).

    ``engine="spark"`` fits on Apache Spark (``master``); the artefact is the same, with
    ``engine`` and ``spark_master`` in its metadata. A next-answer model fitted on Spark is its
    logistic part alone (``blend`` 0 unless overridden, which Spark refuses)."""
    est = make_model(kind, seed, overrides)
    if engine == "spark":
        if isinstance(est, NextAnswerModel) and "blend" not in (overrides or {}):
            est.set_params(blend=0.0)  # on Spark the model is its logistic part (see tutor.research.spark_next_answer)
        spark = spark_training.spark_session(master)
        t0 = time.perf_counter()
        with spark_training.answers_frame(spark, data, fmt) as df:
            if isinstance(est, BKT):
                spark_training.fit_bkt(spark, df, est, progress)
            else:
                spark_next_answer.fit_next_answer(spark, df, est, progress)
            seconds = time.perf_counter() - t0
            data_summary = spark_training.summary(df)
        engine_meta: dict[str, Any] = {"engine": "spark", "spark_master": master}
    elif engine == "local":
        log = read_log(data, fmt)
        t0 = time.perf_counter()
        est.fit(log, progress=progress)
        seconds = time.perf_counter() - t0
        data_summary = log.summary()
        engine_meta = {"engine": "local"}
    else:
        raise Invalid(f"unknown engine {engine!r}; expected one of {', '.join(ENGINES)}")
    sha = file_sha256(data) if "://" not in str(data) else ""
    meta: dict[str, Any] = {
        "kind": kind,
        "version": version or f"{kind}-{(sha or 'remote')[:10]}-s{seed}",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": kind,
        "seed": seed,
        "data": {"path": str(data), "format": fmt, "sha256": sha, **data_summary},
        "data_sha256": sha,
        "n_rows": data_summary["n_rows"],
        "training_seconds": round(seconds, 3),
        "hyperparameters": _jsonable(est.get_params()),
        "software": _versions(),
        **engine_meta,
    }
    if isinstance(est, BKT):
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
        meta["hyperparameters"]["default_params"] = est.default_skill_params.as_dict()
    else:
        meta["fit_summary"] = {
            "skills": len(est.skills_),
            "timings_seconds": {k: round(v, 3) for k, v in est.timings_.items()},
            "mlp_training_loss": [round(x, 5) for x in est.history_],
            "logistic_regression_iterations": est.lr_n_iter_,
        }
    meta.update(extra_metadata or {})
    est.save(out, meta)
    return meta


def evaluate_artefact(
    model_dir: Path,
    data: Path,
    fmt: str,
    folds: int | None = None,
    report: Path | None = None,
    seed: int = 0,
    progress: bool = True,
    engine: str = "local",
    master: str = "local[*]",
) -> dict[str, Any]:
    """Score an artefact on a log (or cross-validate its kind and hyper-parameters) and write the report.

    ``engine="spark"`` predicts in Spark's partitions and sums per-bin counts (see
    `tutor.research.spark_training.evaluate`); cross-validation runs in process only."""
    if engine not in ENGINES:
        raise Invalid(f"unknown engine {engine!r}; expected one of {', '.join(ENGINES)}")
    kind, est, meta = load_model(model_dir)
    if report is None:
        report = Path(model_dir) / "evaluation" / (re.sub(r"[^\w.=-]+", "_", Path(str(data).rstrip("/*")).stem) + (f"-cv{folds}" if folds else ""))
    if engine == "spark":
        if folds:
            raise Invalid("--folds runs in process; drop --engine spark, or evaluate a test split on Spark")
        spark = spark_training.spark_session(master)
        with spark_training.answers_frame(spark, data, fmt) as df:
            result, roc, table = spark_training.evaluate(spark, df, est)
        out = {**result, "model": str(model_dir), "kind": kind, "data": str(data), "format": fmt, "folds": None, "report": str(report),
               "engine": "spark", "auc_method": f"{spark_training.HISTOGRAM_BINS}-bin histogram of the predictions, ties within a bin counted half"}
        context = {"model": str(model_dir), "kind": kind, "version": meta.get("version"), "data": str(data), "format": fmt,
                   "data_sha256": file_sha256(data) if "://" not in str(data) else "-",
                   "protocol": "the artefact predicts every row from the same learner's earlier rows (each learner starts from scratch), on Spark"}
        write_report_parts(Path(report), roc, table, out, context)
        return out
    log = read_log(data, fmt)
    fold_metrics = []
    if folds:
        p = np.empty(len(log))
        splits = log.learner_folds(folds, seed)
        for tr_rows, te_rows in tqdm(splits, desc="cross-validation", unit="fold", disable=not progress, file=sys.stderr):
            m = clone(est).fit(log.take(tr_rows), progress=progress)
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
    out = {**result, "model": str(model_dir), "kind": kind, "data": str(data), "format": fmt,
           "folds": folds, "report": str(report)}
    if fold_metrics:
        out["fold_metrics"] = fold_metrics
    context = {"model": str(model_dir), "kind": kind, "version": meta.get("version"), "data": str(data),
               "format": fmt, "data_sha256": sha, "protocol": protocol}
    write_report(Path(report), p, log.score, log.label, out, context)
    return out
