"""Ingestion benchmark: 100,000 answer events for 10,000 learners through the HTTP API in batches of 500.

Starts the real service (uvicorn) on a throw-away SQLite file or PostgreSQL database, sends the
batches from `--concurrency` client threads, and writes events/s and batch latency percentiles to
bench/results/ingest.json and .md.

    .venv/bin/python bench/ingest.py --store sqlite --store postgresql
"""

from __future__ import annotations

import argparse
import json
import random
import threading
import time
from pathlib import Path

import httpx
import numpy as np
from service_under_test import running_service

from tutor.content.library import load_library

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


def make_batches(n_events: int, n_learners: int, batch: int, items: list[str], seed: int) -> list[dict]:
    rng = random.Random(seed)
    events = [
        {
            "event_id": f"bench-{i}", "learner_id": f"learner-{rng.randrange(n_learners)}", "item_id": rng.choice(items),
            "correct": rng.random() < 0.6, "timestamp": "2026-11-20T08:00:00Z", "duration_seconds": 20.0,
        }
        for i in range(n_events)
    ]
    return [{"events": events[i:i + batch]} for i in range(0, n_events, batch)]


def run_store(store: str, args) -> dict:
    with running_service(store, args.port, args.workers, "ingest") as service:
        items = sorted(load_library(ROOT / "content").items)
        batches = make_batches(args.events, args.learners, args.batch, items, args.seed)
        latencies: list[float] = []
        errors: list[str] = []
        lock = threading.Lock()
        queue = list(reversed(batches))

        def worker():
            with httpx.Client(base_url=service.base_url, headers={"Authorization": f"Bearer {service.key}"}, timeout=120) as http:
                while True:
                    with lock:
                        if not queue:
                            return
                        body = queue.pop()
                    t0 = time.perf_counter()
                    r = http.post("/v1/events", json=body)
                    dt = time.perf_counter() - t0
                    with lock:
                        latencies.append(dt)
                        if r.status_code != 200:
                            errors.append(f"{r.status_code} {r.text[:200]}")

        started = time.perf_counter()
        threads = [threading.Thread(target=worker) for _ in range(args.concurrency)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
    lat = np.array(latencies) * 1000
    return {
        "store": store, "events": args.events, "learners": args.learners, "batch": args.batch, "workers": args.workers,
        "concurrency": args.concurrency, "seconds": round(elapsed, 2), "events_per_s": round(args.events / elapsed),
        "batch_p50_ms": round(float(np.percentile(lat, 50)), 1), "batch_p99_ms": round(float(np.percentile(lat, 99)), 1),
        "errors": len(errors), "first_error": errors[0] if errors else None,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--store", action="append", choices=["sqlite", "postgresql"], help="repeatable; default both")
    p.add_argument("--events", type=int, default=100_000)
    p.add_argument("--learners", type=int, default=10_000)
    p.add_argument("--batch", type=int, default=500)
    p.add_argument("--workers", type=int, default=2, help="service worker processes")
    p.add_argument("--concurrency", type=int, default=2, help="client threads sending batches")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args()
    results = [run_store(store, args) for store in args.store or ["sqlite", "postgresql"]]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "ingest.json").write_text(json.dumps(results, indent=1) + "\n")
    lines = ["| store | events | learners | batch | service workers | client threads | events/s | batch p50 ms | batch p99 ms | errors |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['store']} | {r['events']:,} | {r['learners']:,} | {r['batch']} | {r['workers']} | {r['concurrency']} | {r['events_per_s']:,} | {r['batch_p50_ms']} | {r['batch_p99_ms']} | {r['errors']} |")
    (RESULTS / "ingest.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
