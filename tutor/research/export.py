"""The answer log as researchers get it: JSON lines in the `events` format, with research pseudonyms.

The research pseudonym is a second keyed hash of the store's pseudonym, so an exported data set
cannot be joined back to the live store by id.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tutor.clock import as_utc
from tutor.store.tables import Event

CHUNK = 5_000


def research_pseudonym(secret: bytes, learner: str) -> str:
    return hmac.new(secret, b"research:" + learner.encode(), hashlib.sha256).hexdigest()[:20]


def answer_lines(sessions: Callable[[], Session], secret: bytes, since: datetime | None, until: datetime | None) -> Iterator[bytes]:
    """Every graded answer, oldest stored first, read in chunks so memory stays flat."""
    query = select(Event.id, Event.learner_id, Event.skills, Event.score, Event.occurred_at, Event.item_id).where(Event.kind == "answer")
    if since is not None:
        query = query.where(Event.occurred_at >= since)
    if until is not None:
        query = query.where(Event.occurred_at < until)
    last_id = 0
    with sessions() as session:
        while True:
            rows = session.execute(query.where(Event.id > last_id).order_by(Event.id).limit(CHUNK)).all()
            if not rows:
                return
            yield b"".join(
                json.dumps(
                    {"learner_id": research_pseudonym(secret, r.learner_id), "skill_ids": r.skills, "score": r.score,
                     "timestamp": as_utc(r.occurred_at).isoformat(), "item_id": r.item_id},
                    ensure_ascii=False,
                ).encode() + b"\n"
                for r in rows
            )
            last_id = rows[-1].id
