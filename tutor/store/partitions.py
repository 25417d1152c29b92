"""Events partitioned by month on PostgreSQL, so the store stays as fast when it holds years of events.

`events` is range-partitioned on `occurred_at`, one partition per calendar month (UTC), named
`events_yYYYYmMM`. New events go into the current month's partition, whose indexes stay a month
big whatever the history; queries with a time bound (/next's recent window, replay after a
retention base) read only the partitions they need; retention drops whole months.

Partitions are created ahead (the service at start and every day, `tutor store partitions`) and,
for an event older or further ahead than that, just before it is written. A unique key on a
partitioned table must include the partition key, so idempotency lives in `event_ids`: one row per
stored event id, its primary key the id alone (see `tutor.store.bulk_writes.insert_events`).

SQLite stays one unpartitioned table with a unique event id; every function here is a no-op there.
"""

from __future__ import annotations

import threading
import weakref
from datetime import UTC, datetime
from typing import NamedTuple

from sqlalchemy import Connection, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

MONTHS_AHEAD = 3
"""Months after the current one that always have a partition (the intake takes answers up to a day ahead)."""
LOCK_TIMEOUT = "5s"
"""How long creating a partition waits for the lock on `events` before the request answers 503 (retry)."""
PARTITION_LOCK = 7_240_001  # pg_advisory_xact_lock key: one creator of partitions at a time, across workers


class Partition(NamedTuple):
    name: str
    start: datetime  # inclusive
    end: datetime  # exclusive


def month_start(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    return datetime(moment.year, moment.month, 1, tzinfo=UTC)


def next_month(start: datetime) -> datetime:
    return datetime(start.year + start.month // 12, start.month % 12 + 1, 1, tzinfo=UTC)


def partition_of(moment: datetime) -> Partition:
    """The month partition an event at `moment` belongs to.

    >>> partition_of(datetime(2026, 12, 31, 23, 30, tzinfo=UTC)).name
    'events_y2026m12'
    >>> partition_of(datetime(2026, 12, 31, 23, 30, tzinfo=UTC)).end
    datetime.datetime(2027, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)
    """
    start = month_start(moment)
    return Partition(f"events_y{start.year:04d}m{start.month:02d}", start, next_month(start))


def is_partitioned(bind: Engine | Connection | Session) -> bool:
    """Whether this store partitions events (PostgreSQL)."""
    engine = bind.get_bind() if isinstance(bind, Session) else bind
    return engine.dialect.name == "postgresql"


_known: weakref.WeakKeyDictionary[Engine, set[str]] = weakref.WeakKeyDictionary()
_known_lock = threading.Lock()


def _engine_of(bind: Engine | Connection | Session) -> Engine:
    found = bind.get_bind() if isinstance(bind, Session) else bind
    return found.engine if isinstance(found, Connection) else found


def existing(conn: Connection) -> list[Partition]:
    """The partitions of `events`, oldest first, read from the catalog."""
    names = conn.scalars(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass('events')"
    )).all()
    found = []
    for name in names:  # named by partition_of: events_yYYYYmMM
        start = datetime(int(name[8:12]), int(name[13:15]), 1, tzinfo=UTC)
        found.append(Partition(name, start, next_month(start)))
    return sorted(found, key=lambda p: p.start)


def ensure_partitions(bind: Engine | Connection | Session, moments: list[datetime]) -> list[str]:
    """Create the month partitions these moments need and that do not exist yet; returns the names created.

    Given an engine or a connection, runs in its own short transaction (creating a partition locks
    `events` for a moment; holding that lock for a whole batch would stall every reader); given a
    session, in the session's transaction (see below). Workers remember the partitions they have seen,
    so this is a set lookup for almost every batch.
    """
    if not is_partitioned(bind):
        return []
    engine = _engine_of(bind)
    wanted = {partition_of(m) for m in moments}
    with _known_lock:
        known = _known.setdefault(engine, set())
        missing = sorted((p for p in wanted if p.name not in known), key=lambda p: p.start)
    if not missing:
        return []
    created = []
    if isinstance(bind, Session):
        # Inside the caller's transaction, which may already hold a lock on `events` (a read of earlier answers):
        # a second connection would wait for it until its lock_timeout. A missing month is rare (a backfill), so the
        # caller's transaction makes it, and the month is remembered only once it is seen committed.
        conn = bind.connection()
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PARTITION_LOCK})
        present = {p.name for p in existing(conn)}
        for p in missing:
            if p.name not in present:
                conn.execute(text(f"CREATE TABLE {p.name} PARTITION OF events FOR VALUES FROM ('{p.start.isoformat()}') TO ('{p.end.isoformat()}')"))
                created.append(p.name)
        with _known_lock:
            _known.setdefault(engine, set()).update(p.name for p in missing if p.name in present)
        return created
    with engine.connect() as conn, conn.begin():
        conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PARTITION_LOCK})
        present = {p.name for p in existing(conn)}
        for p in missing:
            if p.name not in present:
                conn.execute(text(
                    f"CREATE TABLE {p.name} PARTITION OF events FOR VALUES FROM ('{p.start.isoformat()}') TO ('{p.end.isoformat()}')"
                ))
                created.append(p.name)
    with _known_lock:
        _known.setdefault(engine, set()).update(p.name for p in missing)
    return created


def create_ahead(bind: Engine | Connection | Session, now: datetime, months: int = MONTHS_AHEAD) -> list[str]:
    """The current month's partition and the next `months` ones (at start-up, daily, and by `tutor store partitions`)."""
    moments, start = [], month_start(now)
    for _ in range(months + 1):
        moments.append(start)
        start = next_month(start)
    return ensure_partitions(bind, moments)


def forget(engine: Engine) -> None:
    """Drop what this process remembers about an engine's partitions (after they were dropped or the schema was reset)."""
    with _known_lock:
        _known.pop(engine, None)


def remove_events_until(session: Session, horizon: datetime) -> int:
    """Remove every event at or before `horizon`; returns how many went. On SQLite, a plain DELETE.

    Months wholly before the horizon are detached and dropped (no row is deleted, nothing is left to
    vacuum); only the one month that straddles the horizon has rows deleted, found by its own
    index. The ids of those events leave `event_ids`, found through its BRIN index on occurred_at.
    """
    conn = session.connection()
    if not is_partitioned(session):
        return conn.execute(text("DELETE FROM events WHERE occurred_at <= :h"), {"h": horizon}).rowcount
    removed = 0
    for p in existing(conn):
        if p.end <= horizon:
            removed += conn.execute(text(f"SELECT count(*) FROM {p.name}")).scalar_one()
            conn.execute(text(f"ALTER TABLE events DETACH PARTITION {p.name}"))
            conn.execute(text(f"DROP TABLE {p.name}"))
        elif p.start <= horizon:
            removed += conn.execute(text(f"DELETE FROM {p.name} WHERE occurred_at <= :h"), {"h": horizon}).rowcount
    conn.execute(text("DELETE FROM event_ids WHERE occurred_at <= :h"), {"h": horizon})
    forget(_engine_of(session))
    return removed


def forget_event_ids(session: Session, learner: str) -> None:
    """Erasure: the learner's event ids leave `event_ids` with their events (an id may carry the learner's own words)."""
    if is_partitioned(session):
        session.execute(text("DELETE FROM event_ids WHERE event_id IN (SELECT event_id FROM events WHERE learner_id = :l)"), {"l": learner})
