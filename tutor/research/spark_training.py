"""`tutor train --engine spark` and `tutor evaluate --engine spark`: the same models, fitted and scored on Apache Spark.

The driver holds parameters and sums, never the log:

* **Reading.** A Parquet data set (a folder as `tutor research export` writes it, a glob, or a
  ``hdfs://``/``s3a://`` URL) is read by Spark; its rows keep their place in the data set
  (``_metadata.file_path``, ``_metadata.row_index``), which orders ties in time exactly as the
  in-process reader does. Other formats (CSV, JSON lines, ``lines``, ``pybkt``) are read by the
  in-process reader, checked there, and handed to Spark as a Parquet file: they are one file on one
  machine anyway.
* **BKT.** Answers are exploded into one observation per skill, grouped into (learner, skill)
  chains by a repartition on the learner and a sort inside partitions, and cut into blocks of
  whole chains that stay cached. The driver runs `tutor.tracing.em.run_em`, the loop of the
  in-process fit, with an E-step that maps `tutor.tracing.em.e_step` over the blocks (the same
  packing and kernel) and adds the per-slot sums, which are exact integers (`em.add_sums`): the
  counts, and so the parameters, equal the in-process fit's bit for bit, however the chains are
  split. The best restart per skill and the diagnostics come from `BKT.adopt_em_run`.
* **Evaluation.** Predictions are made where the data lives, each partition holding whole
  learners; partitions return per-bin counts of a 10⁶-bin histogram of the predictions, from
  which the driver computes the metrics (AUC with ties inside a bin counted half) and the report.
* **Next-answer model.** Its features, BKT included, are per-learner histories, computed in each
  partition by the same code that serves them (`NextAnswerModel.predict_proba`), which evaluation
  uses; its logistic part is fitted on Spark by `tutor.research.spark_next_answer`.

pyspark is imported inside the functions: it is an optional extra (``pip install -e '.[spark]'``).
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from tutor.errors import Invalid
from tutor.research.logs import is_dataset, parquet_files, read_log
from tutor.tracing import em
from tutor.tracing.bkt import BKT
from tutor.tracing.responses import LogFormatError, ResponseLog

PARTITION_OBSERVATIONS = 2_000_000  # observations per Spark partition when chains are grouped
BLOCK_OBSERVATIONS = 250_000  # observations per cached block of chains (one E-step call each)
HISTOGRAM_BINS = 1_000_000
_TRUE = ("1", "true", "t", "yes", "1.0")
_FALSE = ("0", "false", "f", "no", "0.0")
LOG4J = """status = error
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n
logger.repl.name = org.apache.spark.repl.Main
logger.repl.level = error
"""

_session: Any = None


def spark_session(master: str = "local[*]"):
    """The process's one Spark session (created on first use): Python workers on this interpreter, loopback only, quiet.

    ``local[...]`` binds the driver to 127.0.0.1; ``spark://`` leaves the addresses to the
    cluster's configuration; ``sc://`` connects to a Spark Connect server.
    """
    global _session
    if _session is not None:
        return _session
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise Invalid("--engine spark needs pyspark: pip install -e '.[spark]' (and Java 17)") from None
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    if master.startswith("sc://"):
        _session = SparkSession.builder.remote(master).getOrCreate()
    else:
        log4j = Path(tempfile.gettempdir()) / "tutor-spark-log4j2.properties"
        log4j.write_text(LOG4J, encoding="utf-8")
        builder = (
            SparkSession.builder.master(master).appName("tutor")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={log4j.as_uri()}")
            .config("spark.executor.extraJavaOptions", f"-Dlog4j2.configurationFile={log4j.as_uri()}")
            .config("spark.sql.shuffle.partitions", "8")
        )
        if master.startswith("local"):
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
            builder = builder.config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
        _session = builder.getOrCreate()
        _session.sparkContext.setLogLevel("ERROR")
    _session.conf.set("spark.sql.session.timeZone", "UTC")
    _session.conf.set("spark.sql.ansi.enabled", "false")  # a bad value is a null the checks name, not a Java stack trace
    return _session


def stop_session() -> None:
    global _session
    if _session is not None:
        _session.stop()
        _session = None


# =============================================================================================
# Reading: one row per answer with learner, skills, score, t (time key), src and pos (place in the data set)
# =============================================================================================
@contextmanager
def answers_frame(spark, data: str | Path, fmt: str) -> Iterator[Any]:
    """The answers as a Spark DataFrame (learner, skills, score, t, src, pos), checked; a LogFormatError names the first bad row."""
    text = str(data)
    if fmt == "events" and ("://" in text or is_dataset(data) or Path(data).suffix.lower() in (".parquet", ".pq")):
        paths = [text] if "://" in text else [str(f) for f in (parquet_files(data) if is_dataset(data) else [Path(data)])]
        if "://" not in text and not Path(paths[0]).exists():
            raise LogFormatError(data, None, "file not found")
        yield _checked(_from_events(spark.read.parquet(*paths)), text)
        return
    log = read_log(data, fmt)  # one file: checked by the in-process reader, then given to Spark
    with tempfile.TemporaryDirectory(prefix="tutor-spark-") as tmp:
        path = Path(tmp) / "answers.parquet"
        _write_canonical(log, path)
        yield spark.read.parquet(str(path))


def _write_canonical(log: ResponseLog, path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    learners = np.asarray(log.learner_ids, dtype=object)[log.learner]
    skills = pa.ListArray.from_arrays(pa.array(log.skill_ptr, pa.int32()), pa.array(np.asarray(log.skill_ids, dtype=object)[log.skill_idx], pa.string()))
    table = pa.table({"learner": pa.array(learners, pa.string()), "skills": skills, "score": log.score, "t": log.order,
                      "src": pa.array([""] * len(log), pa.string()), "pos": np.arange(len(log), dtype=np.int64)})
    pq.write_table(table, path)


def _from_events(df):
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    types = {f.name: f.dataType for f in df.schema.fields}
    missing = [name for name, ok in (("learner_id", "learner_id" in types), ("skill_ids (or skill_id)", "skill_ids" in types or "skill_id" in types),
                                     ("correct (or score)", "correct" in types or "score" in types)) if not ok]
    if missing:
        raise Invalid(f"missing column(s) {', '.join(missing)}; found {', '.join(sorted(types))}")
    sk = "skill_ids" if "skill_ids" in types else "skill_id"
    if isinstance(types[sk], T.ArrayType):
        skills = F.transform(F.col(sk), lambda x: F.trim(x.cast("string")))
    else:
        skills = F.transform(F.split(F.col(sk).cast("string"), ";"), lambda x: F.trim(x))
    score = F.lit(None).cast("double")
    if "correct" in types:
        c = F.col("correct")
        if isinstance(types["correct"], T.StringType):
            low = F.lower(F.trim(c))
            score = F.when(low.isin(*_TRUE), 1.0).when(low.isin(*_FALSE), 0.0)
        else:
            score = F.when(c.cast("double").isin(0.0, 1.0), c.cast("double"))
    if "score" in types:
        score = F.coalesce(F.col("score").cast("double"), score)
    t = F.lit(None).cast("double")
    if "timestamp" in types:
        ts = F.col("timestamp")
        if isinstance(types["timestamp"], (T.TimestampType, T.TimestampNTZType)):
            t = F.unix_micros(ts.cast("timestamp")) / 1e6
        elif isinstance(types["timestamp"], T.StringType):
            t = F.coalesce(ts.cast("double"), F.unix_micros(F.trim(ts).cast("timestamp")) / 1e6)
        else:
            t = ts.cast("double")
    elif "order" in types:
        t = F.col("order").cast("double")
    learner = F.col("learner_id").cast("string")
    if isinstance(types["learner_id"], (T.FloatType, T.DoubleType)):
        learner = F.when(F.col("learner_id") == F.floor("learner_id"), F.col("learner_id").cast("long").cast("string")).otherwise(learner)
    return df.select(F.trim(learner).alias("learner"), skills.alias("skills"), score.alias("score"), t.alias("t"),
                     F.col("_metadata.file_path").alias("src"), F.col("_metadata.row_index").alias("pos"))


def _checked(df, source: str):
    """The rows as they are, after one pass that finds the first row breaking each rule (as the in-process reader would)."""
    from pyspark.sql import functions as F

    rules = {
        "learner_id is missing or empty": F.col("learner").isNull() | (F.col("learner") == ""),
        "skill_ids (or skill_id) is missing or has an empty skill id": F.col("skills").isNull() | (F.size("skills") == 0)
        | F.exists("skills", lambda x: x == ""),
        "neither correct (0/1) nor score (a number in [0, 1]) is given": F.col("score").isNull() | (F.col("score") < 0) | (F.col("score") > 1)
        | F.isnan("score"),
    }
    place = F.struct("src", "pos")
    aggs = [F.min(F.when(rule, place)).alias(f"r{i}") for i, rule in enumerate(rules.values())]
    aggs += [F.count("*").alias("n"), F.count("t").alias("n_t"), F.min(F.when(F.col("t").isNull(), place)).alias("no_t")]
    row = df.agg(*aggs).first()
    if row is None or row["n"] == 0:
        raise LogFormatError(source, None, "no events in the data set")
    for i, problem in enumerate(rules):
        if row[f"r{i}"] is not None:
            raise LogFormatError(row[f"r{i}"]["src"], row[f"r{i}"]["pos"] + 1, problem, unit="row")
    if 0 < row["n_t"] < row["n"]:
        raise LogFormatError(row["no_t"]["src"], row["no_t"]["pos"] + 1,
                             "timestamp/order is missing here but given on other rows (give it on every row or none)", unit="row")
    return df


def summary(df) -> dict[str, Any]:
    """`ResponseLog.summary` of the data set, computed by Spark."""
    from pyspark.sql import functions as F

    row = df.agg(F.count("*").alias("n"), F.countDistinct("learner").alias("learners"), F.sum((F.size("skills") > 1).cast("long")).alias("multi"),
                 F.avg("score").alias("mean")).first()
    skills = df.select(F.explode("skills").alias("s")).distinct().count()
    return {"n_rows": int(row["n"]), "n_learners": int(row["learners"]), "n_skills": int(skills), "n_multi_skill_rows": int(row["multi"] or 0),
            "n_dropped": 0, "mean_score": float(row["mean"]) if row["mean"] is not None else None}


def _partitions(n: int, per: int, spark) -> int:
    """At least one partition per core of the cluster, and no more than ``per`` observations in one."""
    try:
        cores = int(spark.sparkContext.defaultParallelism)
    except Exception:  # Spark Connect has no SparkContext; size for this machine's cores
        cores = os.cpu_count() or 2
    return max(cores, math.ceil(n / per))


def _ordered(df):
    from pyspark.sql import functions as F

    return [F.col("t").asc_nulls_first(), "src", "pos"]


# =============================================================================================
# BKT on Spark
# =============================================================================================
BLOCK_SCHEMA = "n long, chain_len binary, chain_skill binary, obs binary"


def _blocks_of(batches):
    """Cut a partition sorted by (learner, skill, time) into blocks of whole chains, as arrays in bytes."""
    import pyarrow as pa
    import pyarrow.compute as pc

    parts = list(batches)
    if not parts:
        return
    table = pa.Table.from_batches(parts).combine_chunks()
    n = table.num_rows
    if n == 0:
        return
    learner, si = table.column("learner"), table.column("si")
    obs = table.column("score").to_numpy().astype(np.float64)
    skill = si.to_numpy().astype(np.int64)
    new = np.ones(n, dtype=bool)
    if n > 1:
        diff_l = pc.not_equal(learner.slice(1), learner.slice(0, n - 1)).to_numpy(zero_copy_only=False)
        new[1:] = diff_l | (skill[1:] != skill[:-1])
    starts = np.flatnonzero(new)
    lens = np.diff(np.r_[starts, n])
    c = 0
    while c < len(starts):
        ends = np.cumsum(lens[c:])
        k = max(1, int(np.searchsorted(ends, BLOCK_OBSERVATIONS, side="right")))
        a, b = starts[c], starts[c] + int(ends[k - 1])
        yield pa.RecordBatch.from_pydict({
            "n": [int(b - a)], "chain_len": [lens[c : c + k].astype(np.int64).tobytes()],
            "chain_skill": [skill[starts[c : c + k]].tobytes()], "obs": [obs[a:b].tobytes()],
        })
        c += k


def _e_step_of(prm: dict[str, np.ndarray], active: np.ndarray, S: int, R: int, forget_in_e_step: bool):
    """The function Spark maps over blocks: the E-step's exact sums of every active slot on the block's chains, added per task."""
    n_slots = R * S

    def run(batches):
        import pyarrow as pa

        total = np.zeros((2, em.N_SUMS, n_slots), dtype=np.int64)
        for batch in batches:
            cols = batch.to_pydict()
            for cl, cs, ob in zip(cols["chain_len"], cols["chain_skill"], cols["obs"]):
                chain_len = np.frombuffer(cl, dtype=np.int64)
                chain_skill = np.frombuffer(cs, dtype=np.int64)
                obs = np.frombuffer(ob, dtype=np.float64)
                chain_start = np.cumsum(chain_len) - chain_len
                slots = (np.arange(R)[:, None] * S + chain_skill[None, :]).ravel()
                keep = active[slots]
                if not keep.any():
                    continue
                v_len = np.tile(chain_len, R)[keep]
                v_start = np.tile(chain_start, R)[keep]
                pk = em.pack(v_len, v_start, slots[keep], obs, n_slots)
                total = em.add_sums(total, em.e_step_sums(pk, prm, forget_in_e_step))
        yield pa.RecordBatch.from_pydict({"sums": [total.tobytes()]})

    return run


def _spark_e_step(blocks, S: int, R: int, forget_in_e_step: bool) -> em.EStep:
    """`tutor.tracing.em.EStep` on Spark: the kernel mapped over the cached blocks, the per-task exact sums added on the driver."""
    n_slots = R * S

    def expected(prm: dict[str, np.ndarray], active: np.ndarray) -> dict[str, np.ndarray]:
        parts = blocks.mapInArrow(_e_step_of(prm, active, S, R, forget_in_e_step), "sums binary").collect()
        total = np.zeros((2, em.N_SUMS, n_slots), dtype=np.int64)
        for r in parts:
            total = em.add_sums(total, np.frombuffer(r["sums"], dtype=np.int64).reshape(2, em.N_SUMS, n_slots))
        return em.counts_of(total, forget_in_e_step)

    return expected


def skill_stats(obs) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Skills in order of first appearance (as the in-process reader interns them), each with its answers, learners and summed score.

    ``obs`` has one row per (answer, skill): learner, k (place in the answer), skill, score, src, pos.
    """
    from pyspark.sql import functions as F

    stats = obs.groupBy("skill").agg(F.count("*").alias("n"), F.countDistinct("learner").alias("n_seq"), F.sum("score").alias("score"),
                                     F.min(F.struct("src", "pos", "k")).alias("first")).collect()
    if not stats:
        raise Invalid("cannot fit on an empty log")
    stats.sort(key=lambda r: (r["first"]["src"], r["first"]["pos"], r["first"]["k"]))
    return ([r["skill"] for r in stats], np.array([r["n"] for r in stats], dtype=np.int64), np.array([r["n_seq"] for r in stats], dtype=np.int64),
            np.array([r["score"] for r in stats], dtype=np.float64))


def fit_bkt(spark, df, est: BKT, progress: bool = False) -> BKT:
    """Fit ``est`` (its hyper-parameters and seed) on the answers in Spark; the estimator ends as fitted as by ``est.fit``."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    if est.max_guess + est.max_slip >= 1.0:
        raise Invalid("max_guess + max_slip must be < 1, or a correct answer need not mean mastery")
    t0 = time.perf_counter()
    obs = df.select("learner", F.posexplode("skills").alias("k", "skill"), "score", "t", "src", "pos")
    skill_ids, n_resp, n_seq, _ = skill_stats(obs)
    S, R = len(skill_ids), est.n_restarts
    default = est.default_skill_params
    fit_skill = n_resp >= max(est.min_responses, 1)
    limits = em.bounds(est.max_guess, est.max_slip)
    index = spark.createDataFrame([(s, i) for i, s in enumerate(skill_ids)], "skill string, si int")
    chained = (obs.join(F.broadcast(index), "skill").select("learner", "si", "score", "t", "src", "pos")
               .repartition(_partitions(int(n_resp.sum()), PARTITION_OBSERVATIONS, spark), "learner")
               .sortWithinPartitions("learner", "si", *_ordered(df)))
    blocks = chained.mapInArrow(_blocks_of, BLOCK_SCHEMA).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        n_blocks = blocks.count()
        t_em = time.perf_counter()
        run = em.run_em(_spark_e_step(blocks, S, R, est.forget_in_e_step), em.slots_to_fit(fit_skill, R), est._starting_points(default, S, limits),
                        limits, max_iter=est.max_iter, tol=est.tol, fit_forget=est.fit_forget, progress=progress, desc="BKT EM (Spark)")
        t_em = time.perf_counter() - t_em
    finally:
        blocks.unpersist()
    est.adopt_em_run(run, skill_ids, n_resp, n_seq, fit_skill)
    est.spark_timings_ = {"chains_seconds": time.perf_counter() - t0 - t_em, "em_seconds": t_em, "em_iterations": int(run.n_iter.max(initial=0)),
                          "observations": int(n_resp.sum()), "blocks": int(n_blocks)}
    est.n_rows_ = int(df.count())
    est.fit_seconds_ = time.perf_counter() - t0
    return est


# =============================================================================================
# Evaluation on Spark
# =============================================================================================
HIST_SCHEMA = "bin long, decile int, n long, pos long, score double, p double, sq double, nll double, right long"


def by_learner(spark, df, n_rows: int, *cols: str):
    """The answers repartitioned so that each partition holds whole learners, each learner's answers in time order."""
    return (df.repartition(_partitions(n_rows, PARTITION_OBSERVATIONS // 2, spark), "learner")
            .sortWithinPartitions("learner", *_ordered(df)).select("learner", "skills", "score", *cols))


def partition_log(table) -> ResponseLog:
    """The answers of one partition of `by_learner` (a pyarrow Table) as a ResponseLog, rows in their order."""
    n = table.num_rows
    learners, learner = np.unique(table.column("learner").to_numpy(zero_copy_only=False), return_inverse=True)
    skills = table.column("skills").combine_chunks()
    skill_ids, skill_idx = np.unique(skills.values.to_numpy(zero_copy_only=False), return_inverse=True)
    return ResponseLog(learner=learner, learner_ids=[str(x) for x in learners], skill_ptr=skills.offsets.to_numpy().astype(np.int64),
                       skill_idx=skill_idx, skill_ids=[str(x) for x in skill_ids], score=table.column("score").to_numpy().astype(np.float64),
                       order=np.arange(n, dtype=np.float64))  # rows come sorted by learner and time


def _predict_of(model):
    """The function Spark maps over partitions of whole learners: predictions, folded into histogram rows."""

    def run(batches):
        import pyarrow as pa

        parts = list(batches)
        if not parts:
            return
        table = pa.Table.from_batches(parts).combine_chunks()
        if table.num_rows == 0:
            return
        log = partition_log(table)
        p = model.predict_proba(log)[:, 1]
        y = log.score
        label = y >= 0.5
        pcl = np.clip(p, 1e-12, 1 - 1e-12)
        bins = np.rint(p * HISTOGRAM_BINS).astype(np.int64)
        decile = np.clip(np.digitize(p, np.linspace(0, 1, 11)[1:-1]), 0, 9)
        key = bins * 10 + decile
        uniq, inv = np.unique(key, return_inverse=True)

        def per(w):
            return np.bincount(inv, weights=w, minlength=len(uniq))

        yield pa.RecordBatch.from_pydict({
            "bin": uniq // 10, "decile": (uniq % 10).astype(np.int32), "n": np.bincount(inv, minlength=len(uniq)),
            "pos": per(label.astype(float)).astype(np.int64), "score": per(y), "p": per(p), "sq": per((p - y) ** 2),
            "nll": per(-(y * np.log(pcl) + (1 - y) * np.log(1 - pcl))), "right": per(((p >= 0.5) == label).astype(float)).astype(np.int64),
        })

    return run


def evaluate(spark, df, model) -> tuple[dict[str, Any], tuple[np.ndarray, np.ndarray] | None, list[dict[str, Any]]]:
    """Metrics (as `tutor.research.reports.metrics`), the ROC curve and the reliability table of a fitted model on the answers."""
    from pyspark.sql import functions as F

    n_rows = int(df.count())
    hist = by_learner(spark, df, n_rows).mapInArrow(_predict_of(model), HIST_SCHEMA).groupBy("bin", "decile").agg(
        *[F.sum(c).alias(c) for c in ("n", "pos", "score", "p", "sq", "nll", "right")]).toArrow()
    h = {c: hist.column(c).to_numpy() for c in hist.column_names}
    n = int(h["n"].sum())
    bins, inv = np.unique(h["bin"], return_inverse=True)  # sorted
    pos = np.bincount(inv, weights=h["pos"], minlength=len(bins))
    neg = np.bincount(inv, weights=h["n"], minlength=len(bins)) - pos
    P, N = pos.sum(), neg.sum()
    auc = roc = None
    if P > 0 and N > 0:
        neg_below = np.cumsum(neg) - neg  # negatives in lower bins
        auc = float((pos * (neg_below + 0.5 * neg)).sum() / (P * N))
        tp = np.r_[0.0, np.cumsum(pos[::-1])] / P
        fp = np.r_[0.0, np.cumsum(neg[::-1])] / N
        roc = (fp, tp)
    result = {
        "auc": auc, "rmse": float(np.sqrt(h["sq"].sum() / n)), "accuracy": float(h["right"].sum() / n),
        "log_loss": float(h["nll"].sum() / n), "n": n, "mean_prediction": float(h["p"].sum() / n),
        "mean_outcome": float(h["score"].sum() / n),
    }
    edges = np.linspace(0, 1, 11)
    table = []
    for d in range(10):
        m = h["decile"] == d
        if m.any():
            k = h["n"][m].sum()
            table.append({"bin": f"{edges[d]:.1f}-{edges[d + 1]:.1f}", "n": int(k), "mean_predicted": float(h["p"][m].sum() / k),
                          "observed": float(h["score"][m].sum() / k)})
    return result, roc, table

