"""Ingestion benchmark: events/s and xAPI statements/s through HTTP, on an empty store and on one already
holding millions of events, side by side; mastery-read and /next latency on both.

Two services run at once (each `--workers` uvicorn processes, PostgreSQL): one on a new, empty database
and one on a database bulk-loaded with `--history` events (20 million by default: `--learners-history`
learners over the last 600 days, month partitions, event ids, mastery rows, loaded server-side with
INSERT … SELECT generate_series, then VACUUM ANALYZE). Rounds alternate between the two (empty first in odd
rounds, full first in even ones); each round sends `--events` answers in batches of `--batch` from
`--concurrency` client threads, then `--statements` xAPI statements the same way, then `--reads`
mastery reads and /next requests for learners with history. Medians over rounds are reported, with
the load average before and after. Writes bench/results/ingest.json and .md.

    .venv/bin/python bench/ingest.py                        # 20M events of history (loading takes minutes)
    .venv/bin/python bench/ingest.py --keep-history          # keep the loaded database for the next run
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import statistics
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import psycopg
from service_under_test import ADMIN_DSN, running_service
from sqlalchemy import create_engine

from tutor.content.library import load_library
from tutor.events.intake import day_start
from tutor.store import partitions
from tutor.store.database import upgrade

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
NAME = "ingest"  # the services' name: their pseudonym secret is f"{NAME}-secret"
HISTORY_DAYS = 600
ADL = "http://adlnet.gov/expapi/verbs/"


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def pseudonym(raw: str) -> str:
    return hmac.new(f"{NAME}-secret".encode(), raw.encode(), hashlib.sha256).hexdigest()


def bulk_load(dbname: str, history: int, n_learners: int, items: list[tuple[str, str]], now: datetime) -> float:
    """Fill a migrated database with `history` answers of `n_learners` learners (learner-0 … ), ending an hour ago."""
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{dbname}"
    upgrade(url)
    start, end = now - timedelta(days=HISTORY_DAYS), now - timedelta(hours=1)
    engine = create_engine(url)
    month, months = partitions.month_start(start), []
    while month <= end:
        months.append(month)
        month = partitions.next_month(month)
    partitions.ensure_partitions(engine, months)
    engine.dispose()
    t0 = time.perf_counter()
    with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={dbname}") as c:
        c.execute("CREATE TEMP TABLE hist_learners (n int PRIMARY KEY, id text)")
        with c.cursor().copy("COPY hist_learners (n, id) FROM STDIN") as copy:
            for i in range(n_learners):
                copy.write_row((i, pseudonym(f"learner-{i}")))
        with c.cursor().copy("COPY learners (id, created_at) FROM STDIN") as copy:
            for i in range(n_learners):
                copy.write_row((pseudonym(f"learner-{i}"), start))
        c.commit()
        item_ids = [i for i, _ in items]
        skills = [json.dumps([s]) for _, s in items]
        chunk = 2_000_000
        for a in range(0, history, chunk):
            b = min(history, a + chunk) - 1
            c.execute(
                "INSERT INTO events (event_id, learner_id, kind, item_id, skills, score, occurred_at, source, received_at) "
                "SELECT 'hist-' || g, l.id, 'answer', (%(items)s::text[])[1 + g %% %(ni)s], ((%(skills)s::text[])[1 + g %% %(ni)s])::json, "
                "CASE WHEN g %% 5 < 3 THEN 1.0 ELSE 0.0 END, %(start)s + (g::float8 / %(n)s) * %(span)s, 'events', %(start)s + (g::float8 / %(n)s) * %(span)s "
                "FROM generate_series(%(a)s, %(b)s) AS g JOIN hist_learners l ON l.n = g %% %(nl)s",
                {"items": item_ids, "skills": skills, "ni": len(items), "start": start, "n": history, "span": end - start, "a": a, "b": b, "nl": n_learners},
            )
            c.execute("INSERT INTO event_ids (event_id, occurred_at) SELECT 'hist-' || g, %(start)s + (g::float8 / %(n)s) * %(span)s FROM generate_series(%(a)s, %(b)s) AS g",
                      {"start": start, "n": history, "span": end - start, "a": a, "b": b})
            c.commit()
            print(f"  loaded {b + 1:,} of {history:,} events ({time.perf_counter() - t0:.0f} s, load {loadavg()})", flush=True)
        # with the day mark the intake keeps (the start of the latest day with an answer), as a store that took these answers would have
        c.execute("INSERT INTO mastery (learner_id, skill_id, p_mastered, n_observations, updated_at, last_event_at, mark_at, mark_p, mark_n) "
                  "SELECT l.id, s, 0.6, %(per)s, %(end)s, %(end)s, %(day)s, 0.6, %(per)s FROM hist_learners l CROSS JOIN unnest(%(skills)s::text[]) AS s "
                  "ON CONFLICT DO NOTHING",
                  {"per": history // n_learners // 3, "end": end, "day": day_start(end), "skills": sorted({s for _, s in items})[:3]})
        c.execute("INSERT INTO service_state (key, value, revision) VALUES ('bench_history', %s, 1)", (str(history),))
        c.commit()
        c.autocommit = True
        c.execute("VACUUM (ANALYZE)")  # as a store holding months of history would be: visibility map set, statistics current
    return time.perf_counter() - t0


def history_database(args, items: list[tuple[str, str]], now: datetime) -> tuple[str, float | None]:
    """The full store: kept from a previous run (`--keep-history`), else loaded now."""
    name = f"tutor_bench_history_{args.history}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as c:
        exists = c.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    if exists:
        with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={name}") as c:
            if c.execute("SELECT value FROM service_state WHERE key = 'bench_history'").fetchone() == (str(args.history),):
                print(f"reusing {name}", flush=True)
                return name, None
        with psycopg.connect(ADMIN_DSN, autocommit=True) as c:
            c.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    with psycopg.connect(ADMIN_DSN, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    print(f"bulk-loading {args.history:,} events into {name} (load {loadavg()})", flush=True)
    return name, bulk_load(name, args.history, args.learners_history, items, now)


def send_all(base_url: str, key: str, path: str, bodies: list[bytes], concurrency: int, headers: dict[str, str]) -> tuple[float, list[float], list[str]]:
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    queue = list(reversed(bodies))

    def worker():
        with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json", **headers}, timeout=120) as http:
            while True:
                with lock:
                    if not queue:
                        return
                    body = queue.pop()
                t0 = time.perf_counter()
                r = http.post(path, content=body)
                dt = time.perf_counter() - t0
                with lock:
                    latencies.append(dt)
                    if r.status_code != 200:
                        errors.append(f"{r.status_code} {r.text[:200]}")

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started, latencies, errors


def reads(base_url: str, key: str, paths: list[str], concurrency: int) -> tuple[list[float], int]:
    latencies: list[float] = []
    bad = 0
    lock = threading.Lock()
    queue = list(reversed(paths))

    def worker():
        nonlocal bad
        with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:
            while True:
                with lock:
                    if not queue:
                        return
                    path = queue.pop()
                t0 = time.perf_counter()
                r = http.get(path)
                with lock:
                    latencies.append(time.perf_counter() - t0)
                    bad += r.status_code != 200

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, bad


def p(values: list[float], q: float) -> float:
    return round(float(np.percentile(np.array(values) * 1000, q)), 1)


def one_round(service, label: str, round_no: int, args, items: list[str], rng: np.random.Generator) -> dict:
    run = uuid.uuid4().hex[:6]
    now = datetime.now(UTC)
    learners = rng.integers(0, args.learners, args.events)
    events = [{"event_id": f"b{run}-{i}", "learner_id": f"learner-{learners[i]}", "item_id": items[i % len(items)], "correct": bool(i % 5 < 3),
               "timestamp": (now - timedelta(seconds=(args.events - i) / 1000)).isoformat(), "duration_seconds": 20.0} for i in range(args.events)]
    bodies = [json.dumps({"events": events[i:i + args.batch]}).encode() for i in range(0, args.events, args.batch)]
    statements = [{"id": str(uuid.uuid4()), "actor": {"objectType": "Agent", "account": {"homePage": "https://vneid.gov.vn", "name": f"learner-{learners[i % args.events]}"}},
                   "verb": {"id": ADL + "answered"}, "object": {"objectType": "Activity", "id": f"https://learn.example.vn/{items[i % len(items)]}"},
                   "result": {"success": bool(i % 3)}, "timestamp": (now + timedelta(seconds=(i + 1) / 1000)).isoformat()}
                  for i in range(args.statements)]
    # statements come after every answer of the round (a statement older than its learner's last answer would be a late one, replayed)
    xbodies = [json.dumps(statements[i:i + args.batch]).encode() for i in range(0, args.statements, args.batch)]
    load_before = loadavg()
    seconds, lat, errors = send_all(service.base_url, service.key, "/v1/events", bodies, args.concurrency, {})
    xseconds, xlat, xerrors = send_all(service.base_url, service.key, "/v1/xapi/statements", xbodies, args.concurrency, {"X-Experience-API-Version": "1.0.3"})
    readers = [f"learner-{n}" for n in rng.choice(learners, args.reads)]  # learners this round wrote for: known on both stores
    mlat, mbad = reads(service.base_url, service.key, [f"/v1/learners/{r}/mastery" for r in readers], args.concurrency)
    nlat, nbad = reads(service.base_url, service.key, [f"/v1/learners/{r}/next?n=5" for r in readers], args.concurrency)
    result = {
        "store": label, "round": round_no, "events_per_s": round(args.events / seconds), "batch_p50_ms": p(lat, 50), "batch_p99_ms": p(lat, 99),
        "statements_per_s": round(args.statements / xseconds), "statement_batch_p99_ms": p(xlat, 99),
        "mastery_p50_ms": p(mlat, 50), "mastery_p99_ms": p(mlat, 99), "next_p50_ms": p(nlat, 50), "next_p99_ms": p(nlat, 99),
        "errors": len(errors) + len(xerrors) + mbad + nbad, "first_error": (errors + xerrors)[0] if errors or xerrors else None,
        "loadavg_before": load_before, "loadavg_after": loadavg(),
    }
    print(json.dumps(result), flush=True)
    return result


def run_postgresql(args) -> dict:
    library = load_library(ROOT / "content")
    items = sorted(library.items)
    item_skills = [(i, library.items[i][1].skills[0]) for i in items]
    now = datetime.now(UTC)
    rng = np.random.default_rng(args.seed)
    full_db, load_seconds = history_database(args, item_skills, now)
    rounds: list[dict] = []
    try:
        with running_service("postgresql", args.port, args.workers, NAME) as empty, \
                running_service("postgresql", args.port + 1, args.workers, NAME, database=full_db) as full:
            for r in range(1, args.rounds + 1):
                order = [("empty", empty), ("full", full)] if r % 2 else [("full", full), ("empty", empty)]
                for label, service in order:
                    rounds.append(one_round(service, label, r, args, items, rng))
    finally:
        if not args.keep_history:
            with psycopg.connect(ADMIN_DSN, autocommit=True) as c:
                c.execute(f'DROP DATABASE IF EXISTS "{full_db}" WITH (FORCE)')
    summary = {}
    for label in ("empty", "full"):
        mine = [x for x in rounds if x["store"] == label]
        summary[label] = {k: statistics.median(x[k] for x in mine) for k in
                          ("events_per_s", "statements_per_s", "batch_p99_ms", "mastery_p50_ms", "mastery_p99_ms", "next_p50_ms", "next_p99_ms")}
        summary[label]["errors"] = sum(x["errors"] for x in mine)
    summary["full_over_empty_events"] = round(summary["full"]["events_per_s"] / summary["empty"]["events_per_s"], 3)
    summary["full_over_empty_statements"] = round(summary["full"]["statements_per_s"] / summary["empty"]["statements_per_s"], 3)
    return {"settings": vars(args), "history_load_seconds": load_seconds, "rounds": rounds, "median": summary}


def write(result: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "ingest.json").write_text(json.dumps(result, indent=1, default=str) + "\n")
    s, m = result["settings"], result["median"]
    lines = [
        f"PostgreSQL, {s['workers']} service workers per store, {s['concurrency']} client threads, batches of {s['batch']}; {s['rounds']} interleaved rounds, "
        f"medians. Empty store: a new database (it holds what earlier rounds sent); full store: {s['history']:,} events of history bulk-loaded first"
        + (f" ({result['history_load_seconds']:.0f} s)." if result["history_load_seconds"] else " (kept from an earlier run)."),
        "",
        "| store | events/s | statements/s | event batch p99 ms | mastery p50 / p99 ms | /next p50 / p99 ms | errors |",
        "|---|---|---|---|---|---|---|",
    ]
    for label in ("empty", "full"):
        r = m[label]
        lines.append(f"| {label} | {r['events_per_s']:,.0f} | {r['statements_per_s']:,.0f} | {r['batch_p99_ms']} | {r['mastery_p50_ms']} / {r['mastery_p99_ms']} | "
                     f"{r['next_p50_ms']} / {r['next_p99_ms']} | {r['errors']} |")
    lines += ["", f"Full store over empty: events {m['full_over_empty_events']:.1%}, statements {m['full_over_empty_statements']:.1%}.", "",
              "| round | store | events/s | statements/s | mastery p99 ms | /next p99 ms | load average before → after |", "|---|---|---|---|---|---|---|"]
    for r in result["rounds"]:
        lines.append(f"| {r['round']} | {r['store']} | {r['events_per_s']:,} | {r['statements_per_s']:,} | {r['mastery_p99_ms']} | {r['next_p99_ms']} | "
                     f"{r['loadavg_before']} → {r['loadavg_after']} |")
    (RESULTS / "ingest.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> None:
    p_ = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p_.add_argument("--history", type=int, default=20_000_000, help="events already in the full store")
    p_.add_argument("--learners-history", type=int, default=200_000, help="learners of the history (learner-0 …)")
    p_.add_argument("--keep-history", action="store_true", help="keep the loaded database (tutor_bench_history_<n>) for the next run")
    p_.add_argument("--events", type=int, default=100_000, help="answers sent per round and store")
    p_.add_argument("--statements", type=int, default=20_000, help="xAPI statements sent per round and store")
    p_.add_argument("--reads", type=int, default=300, help="mastery reads and /next requests per round and store")
    p_.add_argument("--learners", type=int, default=10_000, help="learners the new events go to (learner-0 …, all with history)")
    p_.add_argument("--batch", type=int, default=500)
    p_.add_argument("--rounds", type=int, default=3)
    p_.add_argument("--workers", type=int, default=2, help="service worker processes per store")
    p_.add_argument("--concurrency", type=int, default=2, help="client threads")
    p_.add_argument("--port", type=int, default=8765, help="the empty store's service; the full store's is the next port")
    p_.add_argument("--seed", type=int, default=7)
    args = p_.parse_args()
    write(run_postgresql(args))


if __name__ == "__main__":
    main()
