"""Load benchmark: mixed traffic against the real service (two worker processes, PostgreSQL), with an outage.

60 s at a fixed arrival rate (open loop, loopback only): 70% event batches, 20% next-step
requests, 10% questions. The service reaches PostgreSQL through a TCP relay that the benchmark
cuts for `--outage` seconds from `--outage-at` (connections dropped, new ones refused), as a
network or database failure. Reports p50/p99 per route, statuses per phase (before, during, after
the outage), and checks that every request during the outage got 503 or succeeded, that no other
5xx came, and that the events in the database are exactly those acknowledged: after the run the
client sends again every batch that was not acknowledged (as a client retries a 503), and the
number of distinct event ids acknowledged must equal the number of events stored. Writes
bench/results/load.json and load.md.

    .venv/bin/python bench/load.py --seconds 60 --rate 40 --outage-at 20 --outage 10
    .venv/bin/python bench/load.py --outage 0          # no outage
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
from tutor.store.outage_relay import OutageRelay

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
QUESTIONS = [
    "Làm sao để nhận biết tin nhắn lừa đảo?", "lam sao tao mat khau manh", "How do I back up my photos?",
    "VNeID mức 2 là gì?", "cach kiem tra tin gia tren mang", "What is two-factor sign-in?",
    "Làm thế nào để dùng trợ lý AI an toàn?", "dien thoai bi day bo nho phai lam sao",
]


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def phase_of(t: float, args) -> str:
    if args.outage <= 0 or t < args.outage_at:
        return "before"
    return "during" if t < args.outage_at + args.outage else "after"


async def run(args) -> dict:
    library = load_library(ROOT / "content")
    items = sorted(library.items)
    rng = random.Random(args.seed)
    latencies: dict[str, list[float]] = defaultdict(list)
    statuses: dict[str, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))  # phase -> route -> status -> n
    acknowledged: set[str] = set()
    unacknowledged: list[dict] = []
    counter = 0
    relay = OutageRelay() if args.outage > 0 else None
    load_before = loadavg()
    with running_service("postgresql", args.port, args.workers, "load", db_port=relay.port if relay else 5432) as service:
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

            def acknowledge(r: httpx.Response) -> None:
                acknowledged.update(x["event_id"] for x in r.json()["results"] if x["status"] in ("stored", "duplicate"))

            warm = await http.post("/v1/events", json={"events": [dict(e, event_id=f"warm-{i}") for i, e in enumerate(batch()["events"])]})
            acknowledge(warm)
            started = time.perf_counter()

            async def one(kind: str) -> None:
                t0 = time.perf_counter()
                phase = phase_of(t0 - started, args)
                body = batch() if kind == "events" else None
                try:
                    if kind == "events":
                        r = await http.post("/v1/events", json=body)
                    elif kind == "next":
                        r = await http.get(f"/v1/learners/{rng.choice(learners[:args.batch])}/next", params={"n": 5})
                    else:
                        r = await http.post("/v1/ask", json={"question": rng.choice(QUESTIONS)})
                    status = str(r.status_code)
                except httpx.HTTPError as exc:
                    r, status = None, type(exc).__name__
                latencies[kind].append((time.perf_counter() - t0) * 1000)
                statuses[phase][kind][status] += 1
                if kind == "events":
                    if r is not None and r.status_code == 200:
                        acknowledge(r)
                    else:
                        unacknowledged.append(body)

            async def outage() -> None:
                if relay is None:
                    return
                await asyncio.sleep(args.outage_at)
                relay.cut()
                await asyncio.sleep(args.outage)
                relay.restore()

            cutter = asyncio.create_task(outage())
            tasks = []
            interval = 1.0 / args.rate
            n = int(args.seconds * args.rate)
            for i in range(n):
                await asyncio.sleep(max(0.0, started + i * interval - time.perf_counter()))
                kind = rng.choices(["events", "next", "ask"], weights=[70, 20, 10])[0]
                tasks.append(asyncio.create_task(one(kind)))
            await asyncio.gather(*tasks, cutter)
            elapsed = time.perf_counter() - started
            retried = 0
            for body in unacknowledged:  # the client sends again what was not acknowledged, as it would after a 503
                for _ in range(10):
                    r = await http.post("/v1/events", json=body)
                    if r.status_code == 200:
                        retried += 1
                        acknowledge(r)
                        break
                    await asyncio.sleep(1)
        with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={service.postgres_dsn.rsplit('=', 1)[1]}") as c:
            stored, distinct = c.execute("SELECT count(*), count(DISTINCT event_id) FROM events").fetchone()
    routes = {
        kind: {"requests": len(v), "p50_ms": round(float(np.percentile(v, 50)), 1), "p99_ms": round(float(np.percentile(v, 99)), 1)}
        for kind, v in sorted(latencies.items())
    }
    by_phase = {phase: {kind: dict(codes) for kind, codes in kinds.items()} for phase, kinds in statuses.items()}
    other_5xx = sum(n for kinds in statuses.values() for codes in kinds.values() for code, n in codes.items() if code.startswith("5") and code != "503")
    during_bad = sum(n for codes in statuses["during"].values() for code, n in codes.items() if code not in ("200", "404", "503"))
    return {"seconds": round(elapsed, 1), "rate_per_s": args.rate, "workers": args.workers, "batch": args.batch, "outage_at_s": args.outage_at,
            "outage_s": args.outage, "routes": routes, "statuses_by_phase": by_phase, "other_5xx": other_5xx, "during_outage_not_503_or_ok": during_bad,
            "batches_unacknowledged_then_retried": len(unacknowledged), "retries_acknowledged": retried,
            "events_acknowledged": len(acknowledged), "events_in_database": stored, "distinct_event_ids_in_database": distinct,
            "loadavg_before": load_before, "loadavg_after": loadavg()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--rate", type=float, default=40, help="requests per second (all routes)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--batch", type=int, default=20, help="events per event request")
    p.add_argument("--learners", type=int, default=2000)
    p.add_argument("--port", type=int, default=8766)
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--outage-at", type=float, default=20, help="seconds into the run when PostgreSQL becomes unreachable")
    p.add_argument("--outage", type=float, default=10, help="seconds PostgreSQL stays unreachable (0: no outage)")
    result = asyncio.run(run(p.parse_args()))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "load.json").write_text(json.dumps(result, indent=1) + "\n")
    names = {"events": "POST /v1/events", "next": "GET /v1/learners/{id}/next", "ask": "POST /v1/ask"}
    lines = [f"{result['seconds']} s at {result['rate_per_s']} requests/s, {result['workers']} service workers on PostgreSQL, {result['batch']} events per event request; "
             + (f"PostgreSQL unreachable (relay cut) from {result['outage_at_s']:.0f} s for {result['outage_s']:.0f} s." if result["outage_s"] else "no outage.")
             + f" Load average {result['loadavg_before']} before, {result['loadavg_after']} after.", "",
             "| route | requests | p50 ms | p99 ms | before | during the outage | after |", "|---|---|---|---|---|---|---|"]
    for kind, r in result["routes"].items():
        phases = [result["statuses_by_phase"].get(phase, {}).get(kind, {}) for phase in ("before", "during", "after")]
        shown = [", ".join(f"{code}: {n}" for code, n in sorted(codes.items())) or "-" for codes in phases]
        lines.append(f"| {names[kind]} | {r['requests']} | {r['p50_ms']} | {r['p99_ms']} | {' | '.join(shown)} |")
    lines += ["", f"5xx other than 503: {result['other_5xx']}; during the outage, answers other than 200/404/503: {result['during_outage_not_503_or_ok']}.",
              f"Event batches not acknowledged (503 or dropped), sent again after the run: {result['batches_unacknowledged_then_retried']} "
              f"({result['retries_acknowledged']} acknowledged on retry).",
              f"Events acknowledged (distinct ids): {result['events_acknowledged']:,}; events in the database: {result['events_in_database']:,} "
              f"({result['distinct_event_ids_in_database']:,} distinct ids)."]
    (RESULTS / "load.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
