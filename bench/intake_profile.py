"""Where the intake spends its time, on an empty store and on a full one: in-process, no HTTP.

Calls `record_events` directly with batches shaped like bench/ingest.py's (answers of `--learners` learners
who all have history in the full store, in time order), on a new PostgreSQL database and on a bulk-loaded
one (`tutor_bench_history_<n>`, made by `bench/ingest.py --history N --keep-history`), alternating rounds.
Every second pair of batches is written out of order (the later batch first), as two workers racing do:
the earlier batch's answers for learners in both are then late and replay mastery. Reports events/s, the
SQL statements by kind (count and time) and the time in the replay, per store. Writes
bench/results/intake_profile.md and .json.

    .venv/bin/python bench/intake_profile.py --history 3000000
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import re
import statistics
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import psycopg
from ingest import ADMIN_DSN, loadavg, pseudonym
from sqlalchemy import create_engine, event
from sqlalchemy.orm import sessionmaker

from tutor.content.library import load_library
from tutor.events.intake import LearnerEvent, record_events
from tutor.store.database import upgrade
from tutor.tracing.next_answer import load_artefact

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


def kind_of(sql: str) -> str:
    """A statement's kind: its verb and first table, enough to tell the intake's statements apart."""
    flat = re.sub(r"\s+", " ", sql).strip()
    if flat.startswith("WITH batch"):
        return "insert events + event_ids"
    match = re.match(r"(SELECT|INSERT INTO|UPDATE|DELETE FROM)\s.*?(?:FROM\s+)?([a-z_]+)", flat)
    if flat.startswith("SELECT events.skills"):
        return ("replay from the day mark" if "occurred_at >=" in flat else "replay from the retention base" if "occurred_at >" in flat
                else "replay of the whole history")
    return f"{match.group(1)} {match.group(2)}" if match else flat[:40]


class Counter:
    def __init__(self, engine) -> None:
        self.time: dict[str, float] = defaultdict(float)
        self.count: dict[str, int] = defaultdict(int)
        event.listen(engine, "before_cursor_execute", self.before)
        event.listen(engine, "after_cursor_execute", self.after)

    def before(self, conn, cursor, statement, parameters, context, executemany):
        conn.info["t0"] = time.perf_counter()

    def after(self, conn, cursor, statement, parameters, context, executemany):
        k = kind_of(statement)
        self.time[k] += time.perf_counter() - conn.info.pop("t0")
        self.count[k] += 1


def batches(args, items: list[tuple[str, tuple[str, ...]]], rng: np.random.Generator) -> list[list[LearnerEvent]]:
    run, now = uuid.uuid4().hex[:6], datetime.now(UTC)
    learners = rng.integers(0, args.learners, args.events)
    out = []
    for a in range(0, args.events, args.batch):
        out.append([
            LearnerEvent(f"p{run}-{i}", pseudonym(f"learner-{learners[i]}"), "answer", now - timedelta(seconds=(args.events - i) / 1000), "events",
                         items[i % len(items)][1], float(i % 5 < 3), items[i % len(items)][0])
            for i in range(a, min(args.events, a + args.batch))
        ])
    for k in range(0, len(out) - 1, 4):  # every second pair arrives out of order
        out[k], out[k + 1] = out[k + 1], out[k]
    return out


def one_round(label: str, url: str, args, model, items, rng) -> dict:
    engine = create_engine(url, pool_size=2)
    counter = Counter(engine)
    sessions = sessionmaker(engine)
    work = batches(args, items, rng)
    profile = cProfile.Profile()
    before = loadavg()
    started = time.perf_counter()
    for events in work:
        with sessions() as s, s.begin():
            profile.enable()
            record_events(s, events, model)
            profile.disable()
    seconds = time.perf_counter() - started
    engine.dispose()
    stats = pstats.Stats(profile)
    replay = sum(v[3] for k, v in stats.stats.items() if k[2] in ("_replay", "_replay_from") and "intake" in k[0])  # type: ignore[attr-defined]
    return {"store": label, "events_per_s": round(args.events / seconds), "seconds": round(seconds, 2), "replay_s": round(replay, 2),
            "sql": {k: {"n": counter.count[k], "s": round(counter.time[k], 3)} for k in sorted(counter.time, key=counter.time.get, reverse=True)},
            "loadavg_before": before, "loadavg_after": loadavg()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--history", type=int, default=3_000_000, help="the full store: tutor_bench_history_<n> (bench/ingest.py --keep-history)")
    p.add_argument("--events", type=int, default=20_000)
    p.add_argument("--batch", type=int, default=500)
    p.add_argument("--learners", type=int, default=10_000)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--out", default="intake_profile")
    args = p.parse_args()
    library = load_library(ROOT / "content")
    items = [(i, tuple(library.items[i][1].skills)) for i in sorted(library.items)]
    model = load_artefact(ROOT / "models" / (ROOT / "models" / "active").read_text().strip())
    empty = f"tutor_profile_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{empty}"')
    stores = {"empty": f"postgresql+psycopg://postgres@127.0.0.1:5432/{empty}",
              "full": f"postgresql+psycopg://postgres@127.0.0.1:5432/tutor_bench_history_{args.history}"}
    upgrade(stores["empty"])
    upgrade(stores["full"])
    rng = np.random.default_rng(args.seed)
    rounds = []
    try:
        for r in range(args.rounds):
            for label in (("empty", "full") if r % 2 == 0 else ("full", "empty")):
                rounds.append(one_round(label, stores[label], args, model, items, rng))
                print(json.dumps(rounds[-1]), flush=True)
    finally:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{empty}" WITH (FORCE)')
    median = {label: statistics.median(x["events_per_s"] for x in rounds if x["store"] == label) for label in ("empty", "full")}
    result = {"settings": vars(args), "rounds": rounds, "median_events_per_s": median, "full_over_empty": round(median["full"] / median["empty"], 3)}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.out}.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = [f"In-process intake (record_events), PostgreSQL, batches of {args.batch}, {args.events:,} answers per round and store, every second pair of "
             f"batches out of order; full store: {args.history:,} events of history. Medians: empty {median['empty']:,} events/s, full {median['full']:,} "
             f"events/s ({result['full_over_empty']:.1%}).", "",
             "| round | store | events/s | replay s | top statements (count, s) | load average before → after |", "|---|---|---|---|---|---|"]
    for i, x in enumerate(rounds):
        top = "; ".join(f"{k} ({v['n']}, {v['s']})" for k, v in list(x["sql"].items())[:4])
        lines.append(f"| {i // 2 + 1} | {x['store']} | {x['events_per_s']:,} | {x['replay_s']} | {top} | {x['loadavg_before']} → {x['loadavg_after']} |")
    (RESULTS / f"{args.out}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
