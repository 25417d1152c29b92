"""Events partitioned by month on PostgreSQL: idempotency through event_ids, partitions made on write,
retention by dropping months, erasure, hot queries that read one partition, and the migration both ways."""

from __future__ import annotations

import re
import threading
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from alembic import command
from sqlalchemy import create_engine, text

from tests.conftest import PG_SERVER, auth
from tutor.clock import utcnow
from tutor.events.intake import LearnerEvent, record_events
from tutor.privacy.learner_rights import apply_retention, erase
from tutor.store import partitions
from tutor.store.database import alembic_config

NOW = utcnow()


def answer(event_id: str, learner: str, when: datetime) -> LearnerEvent:
    return LearnerEvent(event_id, learner, "answer", when, "events", ("4.2-basic",), 1.0)


def count(runtime, sql: str) -> int:
    with runtime.engine.connect() as conn:
        return conn.execute(text(sql)).scalar_one()


@pytest.fixture
def pg(runtime):
    if not partitions.is_partitioned(runtime.engine):
        pytest.skip("events are partitioned on PostgreSQL only; SQLite keeps one table with a unique event id")
    return runtime


def test_an_id_is_stored_once_even_with_another_time_in_another_month(pg):
    with pg.session() as s, s.begin():
        first = record_events(s, [answer("same", "l1", NOW), answer("same", "l1", NOW - timedelta(days=400))], pg.model)
    with pg.session() as s, s.begin():
        again = record_events(s, [answer("same", "l1", datetime(2003, 5, 2, tzinfo=UTC))], pg.model)
    assert first.statuses == ["stored", "duplicate"] and again.statuses == ["duplicate"]
    assert count(pg, "SELECT count(*) FROM events") == 1 and count(pg, "SELECT count(*) FROM event_ids") == 1


def test_a_month_without_a_partition_gets_one_on_write(pg):
    old = datetime(2004, 2, 29, 12, tzinfo=UTC)
    with pg.session() as s, s.begin():
        assert record_events(s, [answer("old", "l1", old)], pg.model).stored == 1
    with pg.engine.connect() as conn:
        assert conn.execute(text("SELECT tableoid::regclass::text FROM events WHERE event_id = 'old'")).scalar_one() == "events_y2004m02"
        months = [p.name for p in partitions.existing(conn)]
    ahead = partitions.partition_of(NOW).start
    for _ in range(partitions.MONTHS_AHEAD):
        ahead = partitions.next_month(ahead)
    assert partitions.partition_of(NOW).name in months and partitions.partition_of(ahead).name in months, "the service makes months ahead at start"


def test_two_workers_racing_on_one_batch_store_it_once(pg, client, keys):
    batch = {"events": [{"event_id": f"race-{i}", "learner_id": f"l{i % 5}", "item_id": "test-scams-1", "correct": True,
                         "timestamp": (NOW - timedelta(days=45 * (i % 3))).isoformat()} for i in range(200)]}
    results: list[dict] = []

    def send():
        results.append(client.post("/v1/events", json=batch, headers=auth(keys["platform"])).json())

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r["stored"] for r in results) == 200 and sum(r["duplicates"] for r in results) == 600
    assert count(pg, "SELECT count(*) FROM events") == 200 == count(pg, "SELECT count(DISTINCT event_id) FROM events")
    mastery = client.get("/v1/learners/l0/mastery", headers=auth(keys["platform"])).json()
    assert next(m for m in mastery["skills"] if m["skill_id"] == "4.2-basic")["n_observations"] == 40


def test_retention_drops_whole_months_and_deletes_only_in_the_straddling_one(pg):
    horizon = NOW - timedelta(days=30)
    times = [horizon - timedelta(days=120), horizon - timedelta(days=70), horizon - timedelta(seconds=1), horizon + timedelta(seconds=1), NOW]
    with pg.session() as s, s.begin():
        record_events(s, [answer(f"r{i}", "l1", t) for i, t in enumerate(times)], pg.model)
    old_months = {partitions.partition_of(t).name for t in times[:2]} - {partitions.partition_of(horizon).name}
    with pg.session() as s, s.begin():
        assert apply_retention(s, pg.model, days=30, now=NOW) == 3
    with pg.engine.connect() as conn:
        left = {p.name for p in partitions.existing(conn)}
        assert conn.execute(text("SELECT array_agg(event_id ORDER BY event_id) FROM events")).scalar_one() == ["r3", "r4"]
        assert conn.execute(text("SELECT array_agg(event_id ORDER BY event_id) FROM event_ids")).scalar_one() == ["r3", "r4"]
    assert old_months and not old_months & left, "months wholly past the horizon are dropped, not emptied"
    with pg.session() as s, s.begin():  # a month dropped in this process is made again if an answer for it comes
        assert record_events(s, [answer("back", "l2", times[0])], pg.model).stored == 1


def test_erasure_takes_the_event_ids_too(pg):
    with pg.session() as s, s.begin():
        record_events(s, [answer("alice-own-words", pg.pseudonym("alice"), NOW), answer("b1", pg.pseudonym("bob"), NOW)], pg.model)
    with pg.session() as s, s.begin():
        erase(s, pg.pseudonym("alice"))
    with pg.engine.connect() as conn:
        assert conn.execute(text("SELECT array_agg(event_id) FROM event_ids")).scalar_one() == ["b1"]


def plan(runtime, sql: str, **params) -> str:
    with runtime.engine.connect() as conn:
        conn.execute(text("SET enable_seqscan = off"))  # tiny test tables: ask which plans exist, not which is cheapest here
        return "\n".join(conn.execute(text("EXPLAIN " + sql), params).scalars())


def scanned(explained: str) -> set[str]:
    return set(re.findall(r" on (events_y\d{4}m\d{2})", explained))


def test_hot_queries_read_one_partition_or_one_index(pg):
    with pg.session() as s, s.begin():
        record_events(s, [answer(f"h{i}", "l1", NOW - timedelta(days=40 * i)) for i in range(12)], pg.model)
    recent = plan(pg, "SELECT lesson_id, max(occurred_at) FROM events WHERE learner_id = :l AND occurred_at >= :cut GROUP BY lesson_id",
                  l="l1", cut=NOW - timedelta(minutes=30))
    past = {partitions.partition_of(NOW - timedelta(days=40 * i)).name for i in range(1, 12)} - {partitions.partition_of(NOW).name}
    assert not scanned(recent) & past and "Seq Scan" not in recent, recent  # /next's recent window: this month (and the empty ones ahead)
    replay = plan(pg, "SELECT skills FROM events WHERE learner_id = :l AND kind = 'answer' AND occurred_at > :base ORDER BY occurred_at",
                  l="l1", base=NOW - timedelta(days=60))
    assert len(scanned(replay) & past) <= 2 and "Seq Scan" not in replay, replay  # a replay after a retention base: the months since
    claim = plan(pg, "SELECT 1 FROM event_ids WHERE event_id = :e", e="h1")
    assert "event_ids_pkey" in claim and "events_y" not in claim, claim  # intake's idempotency: one index, whatever the history


def test_migration_0011_moves_rows_into_months_and_back(tmp_path):
    name = f"tutor_mig_{uuid.uuid4().hex[:8]}"
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    url = f"{PG_SERVER}/{name}"
    try:
        cfg = alembic_config(url)
        command.upgrade(cfg, "0010")
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO learners VALUES ('a', now())"))
            conn.execute(text("INSERT INTO events (event_id, learner_id, kind, skills, occurred_at, source, received_at) VALUES "
                              "('e1', 'a', 'answer', '[]', '2024-03-04', 'events', now()), ('e2', 'a', 'answer', '[]', now(), 'events', now())"))
        command.upgrade(cfg, "0011")
        with engine.begin() as conn:
            placed = dict(conn.execute(text("SELECT event_id, tableoid::regclass::text FROM events")).all())
            assert placed["e1"] == "events_y2024m03" and placed["e2"] == partitions.partition_of(utcnow()).name
            assert conn.execute(text("SELECT count(*) FROM event_ids")).scalar_one() == 2
            new_id = conn.execute(text("INSERT INTO events (event_id, learner_id, kind, skills, occurred_at, source, received_at) "
                                       "VALUES ('e3', 'a', 'answer', '[]', now(), 'events', now()) RETURNING id")).scalar_one()
            assert new_id == 3, "the id sequence carries on"
        command.downgrade(cfg, "0010")
        with engine.begin() as conn:
            assert conn.execute(text("SELECT array_agg(event_id ORDER BY id) FROM events")).scalar_one() == ["e1", "e2", "e3"]
            assert conn.execute(text("SELECT relkind FROM pg_class WHERE relname = 'events'")).scalar_one() == "r"
        engine.dispose()
    finally:
        with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
