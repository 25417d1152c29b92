"""`tutor train` + `tutor evaluate` round trip on small files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tutor.cli import app
from tutor.research.logs import write_events_csv
from tutor.tracing.artefacts import load_mastery_model
from tutor.tracing.responses import ResponseLog

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
runner = CliRunner()


def small_log(learners: int, seed: int) -> ResponseLog:
    rng = np.random.default_rng(seed)
    seqs = []
    for _ in range(learners):
        sk, ys = [], []
        for s in ("4.1-basic", "4.2-basic", "1.1-basic"):
            known = rng.random() < 0.3
            for _t in range(int(rng.integers(4, 12))):
                sk.append(s if rng.random() > 0.1 else [s, "1.2-basic"])
                ys.append(float(rng.random() < (0.9 if known else 0.2)))
                known = known or rng.random() < 0.25
        seqs.append((sk, ys))
    return ResponseLog.from_sequences(seqs, learner_ids=[f"L{seed}-{i}" for i in range(learners)])


def run(*args: str):
    result = runner.invoke(app, list(args))
    return result


@pytest.fixture()
def files(tmp_path):
    write_events_csv(small_log(120, 1), tmp_path / "train.csv")
    write_events_csv(small_log(40, 2), tmp_path / "test.csv")
    return tmp_path


def test_train_then_evaluate_bkt(files):
    out = files / "bkt"
    r = run("train", "--model", "bkt", "--data", str(files / "train.csv"), "--format", "events", "--out", str(out),
            "--seed", "3", "--quiet")
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert summary["kind"] == "bkt" and summary["n_rows"] > 0
    model = load_mastery_model(out)  # what the service would load
    assert "4.1-basic" in model.skills
    meta = json.loads((out / "metadata.json").read_text())
    for key in ("kind", "version", "hyperparameters", "data_sha256", "n_rows", "training_seconds", "seed", "created"):
        assert key in meta, key
    assert meta["seed"] == 3 and len(meta["data_sha256"]) == 64 and meta["data"]["n_learners"] == 120

    report = files / "report"
    r = run("evaluate", "--model", str(out), "--data", str(files / "test.csv"), "--format", "events",
            "--report", str(report), "--quiet")
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)  # stdout is exactly one JSON object
    assert set(res) >= {"auc", "rmse", "accuracy", "n"} and res["n"] == len(small_log(40, 2))
    assert 0.6 < res["auc"] <= 1.0
    assert {p.name for p in report.iterdir()} == {"report.md", "roc.png", "reliability.png"}
    assert "![ROC curve](roc.png)" in (report / "report.md").read_text()


def test_cross_validation_and_next_answer(files):
    out = files / "na"
    r = run("train", "--model", "next-answer", "--data", str(files / "train.csv"), "--out", str(out), "--quiet",
            "--set", "epochs=1", "--set", "hidden=[16,8]", "--set", "embed_dim=4", "--set", "bkt_restarts=1")
    assert r.exit_code == 0, r.output
    r = run("evaluate", "--model", str(out), "--data", str(files / "train.csv"), "--folds", "3",
            "--report", str(files / "cv"), "--quiet")
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)
    assert res["folds"] == 3 and len(res["fold_metrics"]) == 3 and res["kind"] == "next-answer"
    assert res["n"] == sum(f["n"] for f in res["fold_metrics"])
    assert "Per fold" in (files / "cv" / "report.md").read_text()


def test_bad_file_gives_a_clear_error(files):
    bad = files / "bad.csv"
    bad.write_text("learner_id,skill_ids,correct\nu1,4.1-basic,1\nu1,4.1-basic,yes-ish\n")
    r = run("train", "--model", "bkt", "--data", str(bad), "--out", str(files / "x"), "--quiet")
    assert r.exit_code == 2
    assert "bad.csv, line 3: correct 'yes-ish' is not 0 or 1" in r.stderr
    r = run("train", "--model", "svm", "--data", str(bad), "--out", str(files / "x"))
    assert r.exit_code == 2 and "--model must be one of" in r.stderr


@pytest.mark.skipif(not (SHARED_DATA / "kt").is_dir(), reason=f"public KT data not found at {SHARED_DATA / 'kt'}")
def test_lines_format_on_the_public_split(tmp_path):
    kt = SHARED_DATA / "kt" / "assist2009"
    r = run("train", "--model", "bkt", "--data", str(kt / "train.csv"), "--format", "lines", "--out", str(tmp_path / "m"),
            "--quiet")
    assert r.exit_code == 0, r.output
    r = run("evaluate", "--model", str(tmp_path / "m"), "--data", str(kt / "test.csv"), "--format", "lines",
            "--report", str(tmp_path / "r"), "--quiet")
    res = json.loads(r.stdout)
    assert res["n"] == 101_419 and res["auc"] > 0.70
