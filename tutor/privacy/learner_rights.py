"""Learners' rights over their data (Decree 13/2023/ND-CP): a full copy, erasure, and retention.

Erasure deletes every row about the learner and records only that an erasure happened and how many
rows went. Retention removes raw events older than N days after folding them into a per-skill
mastery base, so later replays (for late answers) still start from the right place.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import CursorResult, delete, func, select
from sqlalchemy.orm import Session

from tutor.clock import as_utc, utcnow
from tutor.store.partitions import forget_event_ids, remove_events_until
from tutor.store.tables import ApiClient, Erasure, Event, Learner, Mastery
from tutor.tracing.artefacts import MasteryModel
from tutor.tracing.equations import update

EVENT_FIELDS = ("event_id", "kind", "item_id", "lesson_id", "skills", "score", "occurred_at", "duration_seconds", "attempt", "source", "verb", "skip_reason", "received_at")
MASTERY_FIELDS = ("skill_id", "p_mastered", "n_observations", "updated_at", "last_event_at")


def export(session: Session, learner: str) -> dict | None:
    """Everything held about a learner, or None when nothing is."""
    row = session.get(Learner, learner)
    if row is None:
        return None
    events = session.scalars(select(Event).where(Event.learner_id == learner).order_by(Event.occurred_at, Event.id))
    mastery = session.scalars(select(Mastery).where(Mastery.learner_id == learner).order_by(Mastery.skill_id))
    keys = session.scalars(select(ApiClient).where(ApiClient.learner_id == learner))
    return {
        "first_seen": row.created_at,
        "events": [{f: getattr(e, f) for f in EVENT_FIELDS} for e in events],
        "mastery": [{f: getattr(m, f) for f in MASTERY_FIELDS} for m in mastery],
        "learner_keys": [{"key_prefix": k.key_prefix, "scopes": k.scopes, "created_at": k.created_at, "revoked_at": k.revoked_at} for k in keys],
        "questions": [],
    }


def erase(session: Session, learner: str) -> int | None:
    """Delete every row about a learner; returns the number of rows, or None when nothing was held."""
    if session.get(Learner, learner, with_for_update=True) is None:
        return None
    forget_event_ids(session, learner)
    rows = 0
    for table, column in ((Event, Event.learner_id), (Mastery, Mastery.learner_id), (ApiClient, ApiClient.learner_id), (Learner, Learner.id)):
        rows += cast(CursorResult, session.execute(delete(table).where(column == learner))).rowcount  # a DELETE's result is a CursorResult
    session.add(Erasure(rows=rows))
    return rows


def apply_retention(session: Session, model: MasteryModel, days: int, now: datetime | None = None) -> int:
    """Fold answers older than `days` into each skill's base, then remove those raw events; returns how many went.

    On PostgreSQL whole months past the horizon are dropped as partitions (tutor.store.partitions)."""
    horizon = (now or utcnow()) - timedelta(days=days)
    learners = session.scalars(select(Event.learner_id).where(Event.occurred_at <= horizon).distinct()).all()
    for learner in learners:
        session.get(Learner, learner, with_for_update=True)
        old = session.execute(
            select(Event.skills, Event.score, Event.occurred_at)
            .where(Event.learner_id == learner, Event.kind == "answer", Event.occurred_at <= horizon)
            .order_by(Event.occurred_at, Event.id)
        ).all()
        by_skill: dict[str, list[float]] = defaultdict(list)
        for skills, score, _ in old:
            for skill in skills:
                by_skill[skill].append(score)
        for m in session.scalars(select(Mastery).where(Mastery.learner_id == learner, Mastery.skill_id.in_(list(by_skill)))):
            params = model.params(m.skill_id)
            p = m.base_p if m.base_p is not None else params.prior
            n = m.base_n or 0
            base_until = as_utc(m.base_until)
            for skills, score, occurred in old:
                if m.skill_id in skills and (base_until is None or as_utc(occurred) > base_until):
                    p, n = update(p, score, params), n + 1
            m.base_p, m.base_n, m.base_until = p, n, horizon
    return remove_events_until(session, horizon)


def erasure_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Erasure)) or 0  # a count always has a row
