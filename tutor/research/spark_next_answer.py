"""`tutor train --model next-answer --engine spark`: the next-answer model's logistic part fitted on Apache Spark.

The artefact is the in-process one (`NextAnswerModel.save`); the driver holds the vocabulary,
the per-feature moments and the coefficients, never the answers.

* **Vocabulary and difficulty**: a Spark aggregate per skill (skills in order of first appearance,
  the smoothed success rate), as `NextAnswerModel.fit` computes them.
* **BKT feature**: `spark_training.fit_bkt`, whose parameters equal the in-process fit's bit for bit.
* **Features**: each partition holds whole learners in time order (`spark_training.by_learner`)
  and computes `next_answer.batch_features` on them, the code of the in-process fit, of
  evaluation and (answer by answer) of the service. Every feature is a function of one learner's
  earlier answers, so a partition of whole learners has all it needs, and the features are the
  in-process ones by construction. Spark window functions over (learner, time) could express the
  counts and windows but not the BKT recursion, and would be a second copy of the 29 features to
  keep equal to the service's.
* **Standardisation**: per-partition count, mean and sum of squared deviations, combined on the
  driver (Chan et al.'s pairwise update), so the scale matches numpy's two-pass ``std``.
* **Logistic regression**: Spark MLlib's ``LogisticRegression`` (L-BFGS in the JVM, gradients
  summed with treeAggregate) on `next_answer.lr_design`'s columns; sklearn's objective
  C Σ loss + ½‖w‖² divided by C·n is MLlib's mean loss + regParam/2 ‖w‖² with regParam = 1/(C·n),
  without MLlib's own standardisation (the features are standardised already).
* **MLP**: not trained on Spark. The Spark fit is the logistic part alone (``blend`` 0): the MLP
  adds 0.006 AUC on ASSIST2009 in process (0.821 alone, 0.827 blended, README), and training it
  across executors needs torch on every executor and Spark's TorchDistributor, which this
  project's Spark extra does not install.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from tutor.errors import Invalid
from tutor.research import spark_training
from tutor.tracing.bkt import BKT
from tutor.tracing.next_answer import N_DENSE, Batch, NextAnswerModel, batch_features, lr_design, pair_keys

FEATURE_SCHEMA = "n long, pos binary, k binary, dense binary, skill binary, lag_skill binary, lag_y binary, y binary"
_INT_COLS = ("pos", "k", "skill", "lag_skill")


def _features_of(model: NextAnswerModel):
    """The function Spark maps over partitions of whole learners: their features, as arrays in bytes (one row per partition)."""

    def run(batches):
        import pyarrow as pa

        parts = list(batches)
        if not parts:
            return
        table = pa.Table.from_batches(parts).combine_chunks()
        if table.num_rows == 0:
            return
        log = spark_training.partition_log(table)
        b = batch_features(model, log)
        starts = np.r_[0, np.flatnonzero(b.rows[1:] != b.rows[:-1]) + 1] if len(b.rows) else np.zeros(0, np.int64)
        first = np.repeat(starts, np.diff(np.r_[starts, len(b.rows)]))
        pos = table.column("pos").to_numpy()[b.rows].astype(np.int64)
        yield pa.RecordBatch.from_pydict({
            "n": [len(b.rows)], "pos": [pos.tobytes()], "k": [(np.arange(len(b.rows)) - first).astype(np.int64).tobytes()],
            "dense": [b.dense.tobytes()], "skill": [b.skill.astype(np.int64).tobytes()], "lag_skill": [b.lag_skill.astype(np.int64).tobytes()],
            "lag_y": [b.lag_y.tobytes()], "y": [b.y.tobytes()],
        })

    return run


def _decode(row: Any, k_lags: int) -> tuple[np.ndarray, np.ndarray, Batch]:
    """(pos, k, features) of one partition's row of `FEATURE_SCHEMA`."""
    n = int(row["n"])
    arr = {c: np.frombuffer(row[c], dtype=np.int64 if c in _INT_COLS else np.float64) for c in ("pos", "k", "dense", "skill", "lag_skill", "lag_y", "y")}
    b = Batch(arr["dense"].reshape(n, N_DENSE), arr["skill"], arr["lag_skill"].reshape(n, k_lags), arr["lag_y"].reshape(n, k_lags), None, arr["y"])
    return arr["pos"], arr["k"], b


def features(spark, df, model: NextAnswerModel):
    """The features of every observation, as a persisted Spark DataFrame of `FEATURE_SCHEMA` (one row per partition of learners)."""
    return spark_training.by_learner(spark, df, int(df.count()), "pos").mapInArrow(_features_of(model), FEATURE_SCHEMA)


def collect_features(feats, k_lags: int) -> tuple[np.ndarray, np.ndarray, Batch]:
    """All observations' (pos, k, features) on the driver, ordered by (pos, k): for tests and small logs only."""
    parts = [_decode(r, k_lags) for r in feats.collect()]
    pos = np.concatenate([p[0] for p in parts])
    k = np.concatenate([p[1] for p in parts])
    order = np.lexsort((k, pos))
    cat = {f: np.concatenate([getattr(p[2], f) for p in parts])[order] for f in ("dense", "skill", "lag_skill", "lag_y", "y")}
    b = Batch(cat["dense"], cat["skill"], cat["lag_skill"], cat["lag_y"], None, cat["y"])
    return pos[order], k[order], b


def _moments_of(S: int, pair_lags: int, k_lags: int):
    """Per partition: observation count, feature means and sums of squared deviations, and the pair keys seen."""

    def run(batches):
        import pyarrow as pa

        for batch in batches:
            for row in batch.to_pylist():
                _, _, b = _decode(row, k_lags)
                mean = b.dense.mean(axis=0)
                m2 = ((b.dense - mean) ** 2).sum(axis=0)
                keys = pair_keys(b, S, pair_lags)
                yield pa.RecordBatch.from_pydict({"n": [len(b.y)], "mean": [mean.tobytes()], "m2": [m2.tobytes()],
                                                  "keys": [[k.astype(np.int64).tobytes() for k in keys]]})

    return run


def _combine_moments(rows: list[Any]) -> tuple[int, np.ndarray, np.ndarray]:
    """Count, mean and population standard deviation of all observations from per-partition moments (pairwise update)."""
    n, mean, m2 = 0, np.zeros(N_DENSE), np.zeros(N_DENSE)
    for r in sorted(rows, key=lambda r: (-int(r["n"]), bytes(r["mean"]))):  # a fixed order, whatever order the partitions came in
        nb, mb, m2b = int(r["n"]), np.frombuffer(r["mean"]), np.frombuffer(r["m2"])
        if nb == 0:
            continue
        total = n + nb
        delta = mb - mean
        mean = mean + delta * (nb / total)
        m2 = m2 + m2b + delta**2 * (n * nb / total)
        n = total
    return n, mean, np.sqrt(m2 / max(n, 1))


def _design_rows(model: NextAnswerModel, S: int):
    """Per partition: the standardised design rows as (label, sparse vector) for MLlib."""

    def run(row):
        from pyspark.ml.linalg import SparseVector

        _, _, b = _decode(row, model.n_previous_answers)
        Z = (b.dense - model.mean_) / model.scale_
        design = lr_design(Z, b, S, model.pairs_)
        width = design.shape[1]
        label = (b.y >= 0.5).astype(float)
        for i in range(design.shape[0]):
            a, e = design.indptr[i], design.indptr[i + 1]
            yield float(label[i]), SparseVector(width, design.indices[a:e].tolist(), design.data[a:e].tolist())

    return run


def fit_next_answer(spark, df, est: NextAnswerModel, progress: bool = False) -> NextAnswerModel:
    """Fit ``est``'s logistic part on the answers in Spark (``blend`` must be 0); ``est`` ends as fitted as by ``est.fit``."""
    from pyspark import StorageLevel
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.linalg import VectorUDT
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    if est.blend > 0:
        raise Invalid("on Spark the next-answer model is its logistic part alone: set blend=0 (tutor train ... --set blend=0), "
                      "or train it in process for the MLP")
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    est.__dict__.pop("_state_key", None)
    obs = df.select("learner", F.posexplode("skills").alias("k", "skill"), "score", "t", "src", "pos")
    skill_ids, n_resp, _, score = spark_training.skill_stats(obs)
    S = len(skill_ids)
    est.classes_ = np.array([0, 1])
    est.skills_ = list(skill_ids)
    est.skill_index_ = {s: i for i, s in enumerate(est.skills_)}
    est.global_rate_ = float(score.sum() / n_resp.sum())
    est.skill_rate_ = (score + 5.0 * est.global_rate_) / (n_resp + 5.0)

    t = time.perf_counter()
    est.bkt_ = spark_training.fit_bkt(spark, df, BKT(n_restarts=est.bkt_restarts, random_state=est.random_state), progress)
    timings["bkt"] = time.perf_counter() - t

    t = time.perf_counter()
    feats = features(spark, df, est).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        moments = feats.mapInArrow(_moments_of(S, est.pair_lags, est.n_previous_answers), "n long, mean binary, m2 binary, keys array<binary>").collect()
        n, est.mean_, std = _combine_moments(moments)
        est.scale_ = std + 1e-9
        est.pairs_ = [np.unique(np.concatenate([np.frombuffer(r["keys"][lag], dtype=np.int64) for r in moments]))
                      for lag in range(est.pair_lags)]
        timings["features"] = time.perf_counter() - t

        t = time.perf_counter()
        schema = T.StructType([T.StructField("label", T.DoubleType()), T.StructField("features", VectorUDT())])
        data = spark.createDataFrame(feats.rdd.flatMap(_design_rows(est, S)), schema).persist(StorageLevel.MEMORY_AND_DISK)
        try:
            labels = data.agg(F.min("label"), F.max("label")).first()
            if labels is None or labels[0] == labels[1]:
                raise Invalid("the training data has only one class of answers (all correct or all wrong)")
            lr = LogisticRegression(maxIter=est.max_lr_iter, regParam=1.0 / (est.C * n), elasticNetParam=0.0, standardization=False,
                                    fitIntercept=True, family="binomial", tol=1e-9)
            fitted = lr.fit(data)
        finally:
            data.unpersist()
    finally:
        feats.unpersist()
    est.set_logistic(fitted.coefficients.toArray().astype(np.float64), float(fitted.intercept), int(fitted.summary.totalIterations))
    timings["logistic_regression"] = time.perf_counter() - t
    est.mlp_, est.history_ = {}, []
    est.timings_ = timings
    est.n_rows_ = int(df.count())
    est.fit_seconds_ = time.perf_counter() - t0
    return est
