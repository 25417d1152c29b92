"""Set-based writes for event batches: one statement per table per batch on either store.

PostgreSQL gets a whole batch as one JSON document (`json_to_recordset`), so a 500-event batch
is a handful of statements with one parameter each, serialised by orjson (datetimes natively: `json.dumps`
with a Python `default` hook was a batch's largest single cost); SQLite, in-process, takes plain executemany.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import cast

import orjson
from sqlalchemy import Table, TextClause, bindparam, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.types import String

from tutor.store.partitions import ensure_partitions
from tutor.store.tables import Event, Learner, Mastery, XapiStatement

EVENT_COLUMNS = (
    ("event_id", "text"), ("learner_id", "text"), ("kind", "text"), ("item_id", "text"), ("lesson_id", "text"),
    ("skills", "json"), ("score", "float8"), ("occurred_at", "timestamptz"), ("duration_seconds", "float8"),
    ("attempt", "int"), ("source", "text"), ("verb", "text"), ("skip_reason", "text"), ("received_at", "timestamptz"),
)
STATEMENT_COLUMNS = (
    ("statement_id", "text"), ("learner_id", "text"), ("body", "json"), ("digest", "text"), ("voids", "text"), ("voided_by", "text"),
    ("occurred_at", "timestamptz"), ("stored_at", "timestamptz"),
)
MASTERY_COLUMNS = (
    ("learner_id", "text"), ("skill_id", "text"), ("p_mastered", "float8"), ("n_observations", "int"),
    ("updated_at", "timestamptz"), ("last_event_at", "timestamptz"), ("mark_at", "timestamptz"), ("mark_p", "float8"), ("mark_n", "int"),
)


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _table(model: type[Event] | type[Learner] | type[Mastery] | type[XapiStatement]) -> Table:
    """The mapped class's table (declarative classes are mapped to a Table)."""
    return cast(Table, model.__table__)


def _ids(sql: str) -> TextClause:
    return text(sql).bindparams(bindparam("ids", type_=ARRAY(String)))


def _from_json(table: str, columns, tail: str) -> TextClause:
    """INSERT INTO table SELECT the columns of a JSON array of objects, then `tail` (ON CONFLICT ...)."""
    names = ", ".join(n for n, _ in columns)
    record = ", ".join(f"{n} {kind}" for n, kind in columns)
    return text(f"INSERT INTO {table} ({names}) SELECT {names} FROM json_to_recordset(CAST(:rows AS json)) AS t({record}) {tail}")


def _json(rows: list[dict]) -> str:
    """The rows as one JSON array; numpy numbers (a model's outputs) as plain numbers, datetimes in ISO 8601.

    >>> from datetime import UTC
    >>> import numpy as np
    >>> _json([{"p": np.float64(0.25), "at": datetime(2026, 12, 7, 9, 30, tzinfo=UTC), "skills": ["4.2-basic"]}])
    '[{"p":0.25,"at":"2026-12-07T09:30:00+00:00","skills":["4.2-basic"]}]'
    """
    return orjson.dumps(rows, option=orjson.OPT_SERIALIZE_NUMPY).decode()


def insert_learners(session: Session, ids: list[str], now: datetime) -> None:
    """Create the learners not seen before; on PostgreSQL, then lock them in a fixed order."""
    if _postgres(session):
        session.execute(
            _ids("INSERT INTO learners (id, created_at) SELECT unnest(:ids), :now ON CONFLICT DO NOTHING"),
            {"ids": ids, "now": now},
        )
        session.execute(_ids("SELECT id FROM learners WHERE id = ANY(:ids) ORDER BY id FOR UPDATE"), {"ids": ids})
    else:
        session.execute(sqlite.insert(_table(Learner)).on_conflict_do_nothing(index_elements=["id"]), [{"id": i, "created_at": now} for i in ids])


def _new_events() -> TextClause:
    """One statement: claim each id in event_ids (the id's first writer wins, a concurrent one waits for it), then
    insert into the partitioned events only the rows whose id was claimed here."""
    names = ", ".join(n for n, _ in EVENT_COLUMNS)
    record = ", ".join(f"{n} {kind}" for n, kind in EVENT_COLUMNS)
    return text(
        f"WITH batch AS (SELECT * FROM json_to_recordset(CAST(:rows AS json)) AS t({record})), "
        "claimed AS (INSERT INTO event_ids (event_id, occurred_at) SELECT event_id, occurred_at FROM batch ON CONFLICT (event_id) DO NOTHING RETURNING event_id) "
        f"INSERT INTO events ({names}) SELECT {names} FROM batch JOIN claimed USING (event_id) RETURNING event_id"
    )


def insert_events(session: Session, rows: list[dict]) -> set[str]:
    """Insert events whose id is new; return the ids actually inserted. Of one id given twice, the first row counts.

    On PostgreSQL the month partitions the rows need are made first (tutor.store.partitions).
    """
    first: dict[str, dict] = {}
    for row in rows:
        first.setdefault(row["event_id"], row)
    rows = list(first.values())
    if _postgres(session):
        ensure_partitions(session, [row["occurred_at"] for row in rows])
        return set(session.scalars(_new_events(), {"rows": _json(rows)}))
    return _sqlite_insert_new(session, _table(Event), "event_id", rows)


def insert_statements(session: Session, rows: list[dict]) -> set[str]:
    """Insert xAPI statements whose id is new; return the ids inserted.

    A statement's body is any JSON the sender chose (an extension may hold an integer orjson cannot write), so
    it is written by the standard library, as the JSON column would, and placed in the batch document whole."""
    if _postgres(session):
        doc = [{**row, "body": orjson.Fragment(json.dumps(row["body"]))} for row in rows]
        return set(session.scalars(_from_json("xapi_statements", STATEMENT_COLUMNS, "ON CONFLICT (statement_id) DO NOTHING RETURNING statement_id"),
                                   {"rows": _json(doc)}))
    return _sqlite_insert_new(session, _table(XapiStatement), "statement_id", rows)


def _sqlite_insert_new(session: Session, table: Table, key: str, rows: list[dict]) -> set[str]:
    """SQLite: insert the rows whose `key` is not stored yet; return the keys inserted."""
    stmt = sqlite.insert(table).on_conflict_do_nothing(index_elements=[key]).returning(table.c[key])
    return set(session.scalars(stmt, rows))


def upsert_mastery(session: Session, rows: list[dict]) -> None:
    """Write new mastery values (learner_id, skill_id, p_mastered, n_observations, updated_at, last_event_at and the day mark)."""
    if _postgres(session):
        tail = "ON CONFLICT (learner_id, skill_id) DO UPDATE SET " + ", ".join(
            f"{n} = excluded.{n}" for n, _ in MASTERY_COLUMNS if n not in ("learner_id", "skill_id")
        )
        session.execute(_from_json("mastery", MASTERY_COLUMNS, tail), {"rows": _json(rows)})
        return
    stmt = sqlite.insert(_table(Mastery))
    stmt = stmt.on_conflict_do_update(
        index_elements=["learner_id", "skill_id"],
        set_={name: stmt.excluded[name] for name, _ in MASTERY_COLUMNS if name not in ("learner_id", "skill_id")},
    )
    session.execute(stmt, rows)


