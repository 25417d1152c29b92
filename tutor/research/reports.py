"""How well a model predicts learners' answers: the metrics, the reliability table and the Markdown report of `tutor evaluate`.

>>> import numpy as np
>>> m = metrics(np.array([1.0, 0.0, 1.0]), np.array([1, 0, 1]), np.array([0.9, 0.2, 0.6]))
>>> m["auc"], m["accuracy"], m["n"]
(1.0, 1.0, 3)
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve


def metrics(y_score: np.ndarray, y_label: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    """AUC, RMSE, accuracy and log loss of predictions p against scores y_score (labels y_label = score >= 0.5)."""
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


def reliability_table(p: np.ndarray, y: np.ndarray, bins: int = 10) -> list[dict[str, Any]]:
    """Mean prediction and observed outcome per equal-width bin of p: is a predicted 0.7 right 70 % of the time?"""
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
    """report.md with the metrics (and per-fold ones), roc.png and reliability.png in directory."""
    roc = roc_curve(y_label, p)[:2] if result["auc"] is not None else None
    write_report_parts(directory, roc, reliability_table(p, y_score), result, context)


def write_report_parts(
    directory: Path, roc: tuple[np.ndarray, np.ndarray] | None, table: list[dict[str, Any]], result: dict, context: dict
) -> None:
    """The report from its parts: (false positive rates, true positive rates) and the reliability table.

    A distributed evaluation (tutor.research.spark_training) builds them from per-bin counts,
    without the predictions in one process."""
    import matplotlib  # imported here: matplotlib is slow to import and only reports draw

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    if roc is not None:
        fpr, tpr = roc
        ax.plot(fpr, tpr, label=f"AUC = {result['auc']:.4f}")
    ax.plot([0, 1], [0, 1], "--", color="grey", linewidth=0.8)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title("ROC curve")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(directory / "roc.png", dpi=110)
    plt.close(fig)

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
        f"- written: {datetime.now(UTC).isoformat(timespec='seconds')}",
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
