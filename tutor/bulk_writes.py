"""Set-based writes for event batches: one statement per table per batch on either store.

PostgreSQL gets each column as one array (`unnest`), so a 500-event batch is a handful of
statements with a handful of parameters; SQLite, in-process, takes plain executemany.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import bindparam, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.types import DateTime, Float, Integer, String

from tutor.store import Event, Learner, Mastery

EVENT_COLUMNS = (
    ("event_id", String), ("learner_id", String), ("kind", String), ("item_id", String), ("lesson_id", String),
    ("skills", String), ("score", Float), ("occurred_at", DateTime(timezone=True)), ("duration_seconds", Float),
    ("attempt", Integer), ("source", String), ("verb", String), ("skip_reason", String), ("received_at", DateTime(timezone=True)),
)


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _arrays(sql: str, columns) -> text:
    return text(sql).bindparams(*(bindparam(name, type_=ARRAY(kind)) for name, kind in columns))


def insert_learners(session: Session, ids: list[str], now: datetime) -> None:
    """Create the learners not seen before; on PostgreSQL, then lock them in a fixed order."""
    if _postgres(session):
        session.execute(
            _arrays("INSERT INTO learners (id, created_at) SELECT unnest(:ids), :now ON CONFLICT DO NOTHING", [("ids", String)]),
            {"ids": ids, "now": now},
        )
        session.execute(_arrays("SELECT id FROM learners WHERE id = ANY(:ids) ORDER BY id FOR UPDATE", [("ids", String)]), {"ids": ids})
    else:
        session.execute(sqlite.insert(Learner.__table__).on_conflict_do_nothing(index_elements=["id"]), [{"id": i, "created_at": now} for i in ids])


def insert_events(session: Session, rows: list[dict]) -> set[str]:
    """Insert events whose id is new; return the ids actually inserted."""
    if _postgres(session):
        names = [n for n, _ in EVENT_COLUMNS]
        sql = (
            f"INSERT INTO events ({', '.join(names)}) "
            f"SELECT {', '.join('skills::json' if n == 'skills' else n for n in names)} FROM unnest({', '.join(':' + n for n in names)}) AS t({', '.join(names)}) "
            "ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
        )
        params = {n: [json.dumps(r[n]) if n == "skills" else r[n] for r in rows] for n in names}
        return set(session.scalars(_arrays(sql, EVENT_COLUMNS), params))
    stmt = sqlite.insert(Event.__table__).on_conflict_do_nothing(index_elements=["event_id"]).returning(Event.__table__.c.event_id)
    return set(session.scalars(stmt, rows))


def upsert_mastery(session: Session, rows: list[dict]) -> None:
    """Write new mastery values (learner_id, skill_id, p_mastered, n_observations, updated_at, last_event_at)."""
    if _postgres(session):
        cols = [
            ("learner_id", String), ("skill_id", String), ("p_mastered", Float), ("n_observations", Integer),
            ("updated_at", DateTime(timezone=True)), ("last_event_at", DateTime(timezone=True)),
        ]
        names = [n for n, _ in cols]
        sql = (
            f"INSERT INTO mastery ({', '.join(names)}) SELECT * FROM unnest({', '.join(':' + n for n in names)}) "
            "ON CONFLICT (learner_id, skill_id) DO UPDATE SET p_mastered = excluded.p_mastered, "
            "n_observations = excluded.n_observations, updated_at = excluded.updated_at, last_event_at = excluded.last_event_at"
        )
        session.execute(_arrays(sql, cols), {n: [r[n] for r in rows] for n in names})
        return
    stmt = sqlite.insert(Mastery.__table__)
    stmt = stmt.on_conflict_do_update(
        index_elements=["learner_id", "skill_id"],
        set_={name: stmt.excluded[name] for name in ("p_mastered", "n_observations", "updated_at", "last_event_at")},
    )
    session.execute(stmt, rows)


