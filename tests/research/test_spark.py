"""`--engine spark` fits and scores the same models as the in-process engine, on Parquet data sets and single files."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from tests.research.test_research_cli import small_log
from tutor.cli import app
from tutor.research import spark_next_answer, spark_training
from tutor.research.logs import read_log, write_events_csv
from tutor.research.training import evaluate_artefact, train_artefact
from tutor.tracing.artefacts import load_mastery_model
from tutor.tracing.next_answer import NextAnswerModel, batch_features
from tutor.tracing.responses import LogFormatError, ResponseLog

SHARED_KT = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "kt"
runner = CliRunner()
FAST = ["--set", "n_restarts=2", "--set", "max_iter=25"]


def write_lake(log: ResponseLog, folder: Path, files: int = 3) -> None:
    """The log as a Parquet data set split over day folders, rows shuffled across files (time order comes from timestamps)."""
    rng = np.random.default_rng(0)
    start = datetime(2026, 11, 1, tzinfo=UTC).timestamp()
    rows = rng.permutation(len(log))
    for k, part in enumerate(np.array_split(rows, files)):
        day = folder / f"day=2026-11-0{k + 1}"
        day.mkdir(parents=True)
        pq.write_table(pa.table({
            "learner_id": [log.learner_ids[log.learner[i]] for i in part],
            "skill_ids": [";".join(log.skills_of(int(i))) for i in part],
            "score": log.score[part],
            "timestamp": pa.array([datetime.fromtimestamp(start + 60 * float(log.order[i]), UTC) for i in part], pa.timestamp("us", tz="UTC")),
            "item_id": ["item"] * len(part),
        }), day / "part-00000.parquet")


def params(out: Path) -> dict[str, dict[str, float]]:
    return {s: p.as_dict() for s, p in load_mastery_model(out).skills.items()}


def invoke(*args: str):
    r = runner.invoke(app, list(args))
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    folder = tmp_path_factory.mktemp("spark")
    write_lake(small_log(150, 1), folder / "lake")
    write_events_csv(small_log(50, 2), folder / "test.csv")
    return folder


def test_spark_bkt_equals_the_local_fit_and_scores_the_same(spark, lake):
    for engine in ("local", "spark"):
        summary = invoke("train", "--model", "bkt", "--data", str(lake / "lake"), "--out", str(lake / engine), "--seed", "3", "--quiet",
                         "--engine", engine, "--master", "local[2]", *FAST)
        assert summary["n_rows"] == len(read_log(lake / "lake"))
    local, distributed = params(lake / "local"), params(lake / "spark")
    assert list(local) == list(distributed)  # the same skills, in the same order
    worst = max(abs(local[s][k] - distributed[s][k]) for s in local for k in local[s])
    assert worst < 1e-6
    meta = json.loads((lake / "spark" / "metadata.json").read_text())
    assert meta["engine"] == "spark" and meta["data"]["n_learners"] == 150 and meta["data_sha256"] == json.loads((lake / "local" / "metadata.json").read_text())["data_sha256"]
    scores = {engine: invoke("evaluate", "--model", str(lake / "spark"), "--data", str(lake / "test.csv"), "--quiet", "--engine", engine,
                             "--master", "local[2]", "--report", str(lake / f"report-{engine}")) for engine in ("local", "spark")}
    assert round(scores["local"]["auc"], 4) == round(scores["spark"]["auc"], 4)
    for k in ("rmse", "accuracy", "log_loss", "mean_prediction", "mean_outcome", "n"):
        assert scores["local"][k] == pytest.approx(scores["spark"][k], abs=1e-9), k
    assert (lake / "report-spark" / "report.md").exists() and (lake / "report-spark" / "roc.png").exists()


def test_spark_names_the_file_and_row_of_a_bad_answer(spark, tmp_path):
    pq.write_table(pa.table({"learner_id": ["a", "b", "c"], "skill_ids": ["s1", "s1", "s1"], "correct": pa.array([1, 7, 0], pa.int64())}),
                   tmp_path / "part-0.parquet")
    with pytest.raises(LogFormatError, match=r"part-0.parquet, row 2: neither correct"):
        with spark_training.answers_frame(spark, tmp_path, "events") as df:
            spark_training.fit_bkt(spark, df, spark_training.BKT())


def test_spark_evaluates_the_next_answer_model_as_in_process(spark, tmp_path):
    write_events_csv(small_log(80, 4), tmp_path / "train.csv")
    write_events_csv(small_log(40, 5), tmp_path / "test.csv")
    train_artefact("next-answer", tmp_path / "train.csv", "events", tmp_path / "na", seed=0, progress=False,
                   overrides={"epochs": 1, "hidden": [16, 8], "embed_dim": 4, "bkt_restarts": 1})
    local = evaluate_artefact(tmp_path / "na", tmp_path / "test.csv", "events", report=tmp_path / "r1", progress=False)
    spark_result = evaluate_artefact(tmp_path / "na", tmp_path / "test.csv", "events", report=tmp_path / "r2", progress=False,
                                     engine="spark", master="local[2]")
    assert abs(local["auc"] - spark_result["auc"]) < 1e-4 and local["rmse"] == pytest.approx(spark_result["rmse"], abs=1e-9)


def test_spark_next_answer_model_has_the_local_features_and_auc(spark, tmp_path):
    """Trained on Spark (its logistic part), the model has the in-process vocabulary, BKT, features and scaling, and scores as in process."""
    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    write_events_csv(small_log(120, 6), train)
    write_events_csv(small_log(60, 7), test)
    local_meta = train_artefact("next-answer", train, "events", tmp_path / "local", seed=0, progress=False, overrides={"bkt_restarts": 2, "blend": 0.0})
    meta = train_artefact("next-answer", train, "events", tmp_path / "spark", seed=0, progress=False, overrides={"bkt_restarts": 2},
                          engine="spark", master="local[2]")
    assert meta["engine"] == "spark" and meta["hyperparameters"]["blend"] == 0 and meta["n_rows"] == local_meta["n_rows"]
    local, distributed = NextAnswerModel.load(tmp_path / "local"), NextAnswerModel.load(tmp_path / "spark")
    assert distributed.skills_ == local.skills_ and distributed.global_rate_ == pytest.approx(local.global_rate_, abs=1e-15)
    np.testing.assert_allclose(distributed.skill_rate_, local.skill_rate_, rtol=0, atol=1e-15)
    assert {s: p.as_dict() for s, p in distributed.bkt_.params_.items()} == {s: p.as_dict() for s, p in local.bkt_.params_.items()}
    np.testing.assert_allclose(distributed.mean_, local.mean_, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(distributed.scale_, local.scale_, rtol=1e-12, atol=1e-12)
    for a, b in zip(distributed.pairs_, local.pairs_, strict=True):
        np.testing.assert_array_equal(a, b)

    log = read_log(train, "events")
    with spark_training.answers_frame(spark, train, "events") as df:
        pos, k, got = spark_next_answer.collect_features(spark_next_answer.features(spark, df, distributed), distributed.n_previous_answers)
    want = batch_features(distributed, log)
    first = np.r_[0, np.flatnonzero(want.rows[1:] != want.rows[:-1]) + 1]
    want_k = np.arange(len(want.rows)) - np.repeat(first, np.diff(np.r_[first, len(want.rows)]))
    order = np.lexsort((want_k, want.rows))
    np.testing.assert_array_equal(pos, want.rows[order])
    np.testing.assert_array_equal(k, want_k[order])
    np.testing.assert_allclose(got.dense, want.dense[order], rtol=0, atol=1e-12)
    for name in ("skill", "lag_skill", "lag_y", "y"):
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name)[order], err_msg=name)

    scores = [evaluate_artefact(tmp_path / m, test, "events", report=tmp_path / f"r-{m}", progress=False) for m in ("local", "spark")]
    assert abs(scores[0]["auc"] - scores[1]["auc"]) < 0.003


@pytest.mark.skipif(not (SHARED_KT / "assist2009" / "train.csv").exists(), reason="../shared/data/kt/assist2009 is not here")
def test_assist2009_spark_fit_and_auc_equal_the_local_ones(spark, tmp_path):
    data, test = SHARED_KT / "assist2009" / "train.csv", SHARED_KT / "assist2009" / "test.csv"
    for engine in ("local", "spark"):
        train_artefact("bkt", data, "lines", tmp_path / engine, seed=0, progress=False, engine=engine, master="local[2]")
    local, distributed = params(tmp_path / "local"), params(tmp_path / "spark")
    assert max(abs(local[s][k] - distributed[s][k]) for s in local for k in local[s]) < 1e-6
    a = evaluate_artefact(tmp_path / "local", test, "lines", report=tmp_path / "r1", progress=False)
    b = evaluate_artefact(tmp_path / "spark", test, "lines", report=tmp_path / "r2", progress=False, engine="spark", master="local[2]")
    assert round(a["auc"], 4) == round(b["auc"], 4)
