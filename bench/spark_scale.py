"""BKT at scale: the in-process fit beside Spark, on generated logs of 1M, 10M and 50M answers; and the Parquet export.

    # fits (each engine in its own process, timed whole and fit alone, peak memory), table in bench/results/spark_scale.md
    .venv/bin/python bench/spark_scale.py fits --answers 1000000 10000000 50000000 --master local[2]
    # export: bulk-load N answers into a fresh PostgreSQL database, time `tutor research export`
    .venv/bin/python bench/spark_scale.py export --answers 10000000

The logs are written by ``training/synthetic.py lake`` (50 answers per learner) under var/bench/.
Both engines fit the same BKT: one restart, a fixed number of EM iterations (tol 0), so that time
per answer per iteration per core is comparable across sizes; the in-process fit runs under an
address-space limit (``--memory-limit-gb``) so that running out of memory is a result, not a
crash of the machine. Results are appended as JSON lines to bench/results/spark_scale.jsonl and
the table is rewritten from them; every row has the load average at its start.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
VAR = ROOT / "var" / "bench"
PY = sys.executable


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 3)[:3].__str__()


def lake(answers: int) -> Path:
    out = VAR / f"lake-{answers}"
    if not (out / "_truth.json").exists():
        subprocess.run([PY, str(ROOT / "training" / "synthetic.py"), "lake", "--learners", str(max(1, answers // 50)), "--answers", str(answers),
                        "--out", str(out)], check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return out


def one_fit(args) -> None:
    """Child process: fit and print one JSON line."""
    from tutor.tracing.bkt import BKT

    est = BKT(n_restarts=1, max_iter=args.iterations, tol=0.0, random_state=0)
    t0 = time.perf_counter()
    out: dict = {}
    if args.engine == "local":
        from tutor.research.logs import read_log

        log = read_log(args.data, "events")
        out["read_seconds"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        est.fit(log)
        out["fit_seconds"] = time.perf_counter() - t1
        out["observations"] = int(log.skill_ptr[-1])
        out["em_iterations"] = est.n_iter_
        out["em_seconds"] = out["fit_seconds"]
        import numba

        out["cores"] = numba.get_num_threads()  # the kernel runs on numba's thread pool, one thread per core
    else:
        from tutor.research import spark_training

        spark = spark_training.spark_session(args.master)
        out["session_seconds"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        with spark_training.answers_frame(spark, args.data, "events") as df:
            spark_training.fit_bkt(spark, df, est)
        out["fit_seconds"] = time.perf_counter() - t1
        out.update(est.spark_timings_)
        out["cores"] = spark.sparkContext.defaultParallelism
        jvm = spark.sparkContext._gateway.proc.pid  # the driver JVM (in local mode it runs the executors too)
        status = Path(f"/proc/{jvm}/status").read_text()
        out["jvm_peak_rss_mb"] = int(next(x for x in status.splitlines() if x.startswith("VmHWM")).split()[1]) / 1024
        spark_training.stop_session()
    out["driver_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def fits(args) -> None:
    for answers in args.answers:
        data = lake(answers)
        for engine in args.engines:
            record = {"bench": "fit", "answers": answers, "engine": engine, "master": args.master if engine == "spark" else None,
                      "iterations": args.iterations, "loadavg": loadavg(), "at": datetime.now(UTC).isoformat(timespec="seconds")}
            cmd = [PY, __file__, "one-fit", "--engine", engine, "--data", str(data), "--iterations", str(args.iterations), "--master", args.master]

            def limit(engine: str = engine) -> None:
                if engine == "local":
                    cap = int(args.memory_limit_gb * 2**30)
                    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

            t0 = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True, preexec_fn=limit, env={**os.environ, "PYTHONPATH": str(ROOT)})
            record["process_seconds"] = round(time.perf_counter() - t0, 2)
            if proc.returncode == 0:
                record.update(json.loads(proc.stdout.strip().splitlines()[-1]))
                record["seconds_per_answer_iteration_core"] = record["em_seconds"] * record["cores"] / (record["observations"] * max(record["em_iterations"], 1))
            else:
                tail = proc.stderr.strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
                record["failed"] = "out of memory" if "MemoryError" in proc.stderr or proc.returncode in (-9, 137) else tail[0][:200]
                record["memory_limit_gb"] = args.memory_limit_gb if engine == "local" else None
            print(json.dumps(record), flush=True)
            with open(RESULTS / "spark_scale.jsonl", "a", encoding="utf-8") as fh:
                fh.write(json.dumps(record) + "\n")
    write_table()


def export(args) -> None:
    """Bulk-load answers into a fresh PostgreSQL database (COPY), then run `tutor research export` and time it."""
    import psycopg

    name = "tutor_bench_export"
    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TUTOR_DATABASE_URL": url}
    # migrate; the rows below fall in September 2026, so its month partition of `events` must exist before COPY
    subprocess.run([PY, "-c", "import sys; from datetime import UTC, datetime; from sqlalchemy import create_engine; "
                    "from tutor.store.database import upgrade; from tutor.store.partitions import ensure_partitions; "
                    "upgrade(sys.argv[1]); ensure_partitions(create_engine(sys.argv[1]), [datetime(2026, 9, 1, tzinfo=UTC)])", url],
                   check=True, env=env)
    t0 = time.perf_counter()
    learners = max(1, args.answers // 50)
    with psycopg.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={name}") as conn:
        with conn.cursor() as cur:
            with cur.copy("COPY learners (id, created_at) FROM STDIN") as cp:
                for k in range(learners):
                    cp.write_row((f"bench-{k:08d}", "2026-09-01T00:00:00Z"))
            with cur.copy("COPY events (event_id, learner_id, kind, item_id, skills, score, occurred_at, source, received_at) FROM STDIN") as cp:
                for i in range(args.answers):
                    day, sec = divmod(i, 86400 * 4)
                    at = f"2026-09-{1 + day % 28:02d}T{(sec // 3600) % 24:02d}:{(sec // 60) % 60:02d}:{sec % 60:02d}Z"
                    cp.write_row((f"e{i}", f"bench-{i % learners:08d}", "answer", "item-1", '["4.2-basic"]', float(i % 3 != 0), at, "events", at))
        conn.commit()
        # statistics, as a live store has them from autovacuum: without them, straight after COPY, the planner reads
        # the whole partition for every chunk of the export instead of walking the primary key
        conn.autocommit = True
        conn.execute("ANALYZE")
    load_seconds = time.perf_counter() - t0
    out = VAR / f"export-{args.answers}"
    subprocess.run(["rm", "-rf", str(out)], check=True)
    record = {"bench": "export", "answers": args.answers, "load_seconds": round(load_seconds, 1), "loadavg": loadavg(),
              "at": datetime.now(UTC).isoformat(timespec="seconds")}
    t0 = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "%M", PY, "-m", "tutor.cli", "research", "export", "--out", str(out)], capture_output=True, text=True, env=env)
    record["seconds"] = round(time.perf_counter() - t0, 2)
    if proc.returncode != 0:
        record["failed"] = proc.stderr.strip()[-300:]
    else:
        summary = json.loads(proc.stdout.strip().splitlines()[-1])
        record.update(rows=summary["rows"], days=summary["days"], files=summary["files"], export_seconds=summary["seconds"],
                      rows_per_second=round(summary["rows"] / summary["seconds"]), peak_rss_mb=round(int(proc.stderr.strip().splitlines()[-1]) / 1024, 1))
    print(json.dumps(record))
    with open(RESULTS / "spark_scale.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")
    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    write_table()


def write_table() -> None:
    rows = [json.loads(x) for x in (RESULTS / "spark_scale.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]
    lines = ["# BKT at scale: in-process fit beside Spark, and the Parquet export", "",
             "Written by `bench/spark_scale.py` (one row per run, newest last; the machine is shared, see the load average).", "",
             "| answers | engine | iterations | whole process s | fit s | EM s | s / (answer x iteration x core) | driver peak RSS MB | JVM peak RSS MB | load avg | note |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r["bench"] != "fit":
            continue
        per = r.get("seconds_per_answer_iteration_core")
        jvm = f"{r['jvm_peak_rss_mb']:.0f}" if r.get("jvm_peak_rss_mb") else "—"
        lines.append(
            f"| {r['answers']:,} | {r['engine']}{' ' + r['master'] if r.get('master') else ''}{' ' + r['em'] if r.get('em') else ''} | "
            f"{r['iterations']} | {r['process_seconds']} | "
            f"{r.get('fit_seconds', 0):.1f} | {r.get('em_seconds', 0):.1f} | {f'{per:.2e}' if per else '—'} | {r.get('driver_peak_rss_mb', 0):.0f} | "
            f"{jvm} | {r['loadavg']} | {r.get('failed', '')} |")
    fits_done = [r for r in rows if r["bench"] == "fit" and r.get("engine") == "spark" and "failed" not in r]
    fits_done = [r for r in fits_done if r.get("em") != "one-job"]  # one-job rows: a tried barrier-mode EM, not the code's path
    if fits_done:
        big = max(fits_done, key=lambda r: (r["answers"], r["at"]))  # the largest log, its latest run
        per = big["seconds_per_answer_iteration_core"]
        it_s = per * 1e9 / 64
        lines += ["", f"Extrapolation to 10⁹ answers on 64 cores, from the largest Spark run ({big['answers']:,} answers, load average {big['loadavg']}): "
                  f"{per:.2e} s per answer-iteration-core × 10⁹ answers ÷ 64 cores = {it_s:,.0f} s per EM iteration of one restart; "
                  f"× 100 iterations (the default cap; tol 1e-3 usually stops earlier) = {it_s * 100 / 3600:.1f} h; × 5 for the default 5 restarts "
                  f"(fitted together, each slot dropping out as it converges) = at most {it_s * 500 / 3600:.1f} h. Grouping the chains is done once "
                  f"({big['chains_seconds']:.0f} s here for {big['answers']:,} answers) and scales the same way. The fixed cost of each iteration "
                  "(one Spark job) is inside the per-answer figure, which is why it falls as the log grows."]
    exports = [r for r in rows if r["bench"] == "export"]
    if exports:
        lines += ["", "| stored answers (PostgreSQL) | rows/s | export s | peak RSS MB | days | files | load avg | note |", "|---|---|---|---|---|---|---|---|"]
        for r in exports:
            lines.append(f"| {r['answers']:,} | {r.get('rows_per_second', '—')} | {r.get('export_seconds', '—')} | {r.get('peak_rss_mb', '—')} | "
                         f"{r.get('days', '—')} | {r.get('files', '—')} | {r['loadavg']} | {r.get('failed', '')} |")
    (RESULTS / "spark_scale.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fits")
    f.add_argument("--answers", type=int, nargs="+", default=[1_000_000, 10_000_000, 50_000_000])
    f.add_argument("--engines", nargs="+", default=["local", "spark"], choices=["local", "spark"])
    f.add_argument("--master", default="local[2]")
    f.add_argument("--iterations", type=int, default=10)
    f.add_argument("--memory-limit-gb", type=float, default=12.0)
    o = sub.add_parser("one-fit")
    o.add_argument("--engine", required=True)
    o.add_argument("--data", required=True)
    o.add_argument("--iterations", type=int, default=10)
    o.add_argument("--master", default="local[2]")
    e = sub.add_parser("export")
    e.add_argument("--answers", type=int, default=10_000_000)
    args = ap.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    VAR.mkdir(parents=True, exist_ok=True)
    {"fits": fits, "one-fit": one_fit, "export": export}[args.cmd](args)


if __name__ == "__main__":
    main()
