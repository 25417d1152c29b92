"""Load benchmark: mixed traffic against the real service (two worker processes, PostgreSQL).

60 s at a fixed arrival rate (open loop, loopback only): 70% event batches, 20% next-step
requests, 10% questions. Reports p50/p99 per route, the error count, and checks that the number of
events in the database equals the number the service acknowledged. Writes bench/results/load.json
and load.md.

    .venv/bin/python bench/load.py --seconds 60 --rate 40
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from collections import defaultdict
from pathlib import Path

import httpx
import numpy as np
import psycopg
from service_under_test import running_service

from tutor.content.library import load_library

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
QUESTIONS = [
    "Làm sao để nhận biết tin nhắn lừa đảo?", "lam sao tao mat khau manh", "How do I back up my photos?",
    "VNeID mức 2 là gì?", "cach kiem tra tin gia tren mang", "What is two-factor sign-in?",
    "Làm thế nào để dùng trợ lý AI an toàn?", "dien thoai bi day bo nho phai lam sao",
]


async def run(args) -> dict:
    library = load_library(ROOT / "content")
    items = sorted(library.items)
    rng = random.Random(args.seed)
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    acknowledged = 0
    counter = 0
    with running_service("postgresql", args.port, args.workers, "load") as service:
        async with httpx.AsyncClient(base_url=service.base_url, headers={"Authorization": f"Bearer {service.key}"}, timeout=30) as http:
            learners = [f"load-learner-{i}" for i in range(args.learners)]

            def batch() -> dict:
                nonlocal counter
                events = []
                for _ in range(args.batch):
                    counter += 1
                    events.append({"event_id": f"load-{counter}", "learner_id": rng.choice(learners), "item_id": rng.choice(items),
                                   "correct": rng.random() < 0.65, "timestamp": "2026-11-20T08:00:00Z"})
                return {"events": events}

            warm = await http.post("/v1/events", json={"events": [dict(e, event_id=f"warm-{i}") for i, e in enumerate(batch()["events"])]})
            acknowledged += warm.json()["stored"]

            async def one(kind: str) -> None:
                nonlocal acknowledged
                t0 = time.perf_counter()
                try:
                    if kind == "events":
                        r = await http.post("/v1/events", json=batch())
                        if r.status_code == 200:
                            acknowledged += r.json()["stored"]
                    elif kind == "next":
                        r = await http.get(f"/v1/learners/{rng.choice(learners[:args.batch])}/next", params={"n": 5})
                    else:
                        r = await http.post("/v1/ask", json={"question": rng.choice(QUESTIONS)})
                    ok = r.status_code in (200, 404) if kind == "next" else r.status_code == 200
                except httpx.HTTPError:
                    ok = False
                latencies[kind].append((time.perf_counter() - t0) * 1000)
                if not ok:
                    errors[kind] += 1

            tasks = []
            started = time.perf_counter()
            interval = 1.0 / args.rate
            n = int(args.seconds * args.rate)
            for i in range(n):
                await asyncio.sleep(max(0.0, started + i * interval - time.perf_counter()))
                kind = rng.choices(["events", "next", "ask"], weights=[70, 20, 10])[0]
                tasks.append(asyncio.create_task(one(kind)))
            await asyncio.gather(*tasks)
            elapsed = time.perf_counter() - started
        with psycopg.connect(service.postgres_dsn) as c:
            stored = c.execute("SELECT count(*) FROM events").fetchone()[0]
    routes = {
        kind: {"requests": len(v), "p50_ms": round(float(np.percentile(v, 50)), 1), "p99_ms": round(float(np.percentile(v, 99)), 1), "errors": errors[kind]}
        for kind, v in sorted(latencies.items())
    }
    return {"seconds": round(elapsed, 1), "rate_per_s": args.rate, "workers": args.workers, "batch": args.batch, "routes": routes,
            "errors": sum(errors.values()), "events_acknowledged": acknowledged, "events_in_database": stored}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--rate", type=float, default=40, help="requests per second (all routes)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--batch", type=int, default=20, help="events per event request")
    p.add_argument("--learners", type=int, default=2000)
    p.add_argument("--port", type=int, default=8766)
    p.add_argument("--seed", type=int, default=11)
    result = asyncio.run(run(p.parse_args()))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "load.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = [f"{result['seconds']} s at {result['rate_per_s']} requests/s, {result['workers']} service workers on PostgreSQL, "
             f"{result['batch']} events per event request.", "", "| route | requests | p50 ms | p99 ms | errors |", "|---|---|---|---|---|"]
    names = {"events": "POST /v1/events", "next": "GET /v1/learners/{id}/next", "ask": "POST /v1/ask"}
    for kind, r in result["routes"].items():
        lines.append(f"| {names[kind]} | {r['requests']} | {r['p50_ms']} | {r['p99_ms']} | {r['errors']} |")
    lines += ["", f"Events acknowledged: {result['events_acknowledged']:,}; events in the database: {result['events_in_database']:,}."]
    (RESULTS / "load.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
