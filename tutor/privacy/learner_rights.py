"""Learners' rights over their data (Law on Personal Data Protection No. 91/2025/QH15, in force since 1 January 2026): a full copy, erasure, and retention.

Erasure deletes every row about the learner and records only that an erasure happened and how many
rows went. Retention removes raw events older than N days after folding them into a per-skill
mastery base (and, with a next-answer model, into the base of the learner's history for it), so
later replays (for late answers) still start from the right place.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import CursorResult, delete, func, select
from sqlalchemy.orm import Session

from tutor.clock import as_utc, utcnow
from tutor.events.intake import fold_answer_histories
from tutor.store import retention_horizon
from tutor.store.partitions import forget_event_ids, remove_events_until
from tutor.store.tables import AnswerHistory, ApiClient, Erasure, Event, Learner, Mastery, XapiStatement
from tutor.tracing.artefacts import MasteryModel
from tutor.tracing.equations import update
from tutor.tracing.next_answer import LearnerHistory, NextAnswerModel

EVENT_FIELDS = ("event_id", "kind", "item_id", "lesson_id", "skills", "score", "occurred_at", "duration_seconds", "attempt", "source", "verb", "skip_reason", "received_at")
MASTERY_FIELDS = ("skill_id", "p_mastered", "n_observations", "updated_at", "last_event_at")
HISTORY_FIELDS = ("model_key", "n_answers", "last_event_at", "updated_at", "state", "base_key", "base_n", "base_until", "base_state")


def export(session: Session, learner: str) -> dict | None:
    """Everything held about a learner, or None when nothing is."""
    row = session.get(Learner, learner)
    if row is None:
        return None
    events = session.scalars(select(Event).where(Event.learner_id == learner).order_by(Event.occurred_at, Event.id))
    mastery = session.scalars(select(Mastery).where(Mastery.learner_id == learner).order_by(Mastery.skill_id))
    keys = session.scalars(select(ApiClient).where(ApiClient.learner_id == learner))
    history = session.get(AnswerHistory, learner)
    return {
        "first_seen": row.created_at,
        "profile": {"audience": row.audience, "set_by": row.audience_set_by, "set_at": row.audience_set_at},
        "events": [{f: getattr(e, f) for f in EVENT_FIELDS} for e in events],
        "mastery": [{f: getattr(m, f) for f in MASTERY_FIELDS} for m in mastery],
        "answer_history": None if history is None else {f: getattr(history, f) for f in HISTORY_FIELDS},
        "learner_keys": [{"key_prefix": k.key_prefix, "scopes": k.scopes, "created_at": k.created_at, "revoked_at": k.revoked_at} for k in keys],
        "xapi_statements": list(session.scalars(select(XapiStatement.body).where(XapiStatement.learner_id == learner).order_by(XapiStatement.occurred_at))),
        "questions": [],
    }


def erase(session: Session, learner: str) -> int | None:
    """Delete every row about a learner; returns the number of rows, or None when nothing was held."""
    if session.get(Learner, learner, with_for_update=True) is None:
        return None
    forget_event_ids(session, learner)
    rows = 0
    tables = ((XapiStatement, XapiStatement.learner_id), (Event, Event.learner_id), (Mastery, Mastery.learner_id), (AnswerHistory, AnswerHistory.learner_id),
              (ApiClient, ApiClient.learner_id), (Learner, Learner.id))
    for table, column in tables:
        rows += cast(CursorResult, session.execute(delete(table).where(column == learner))).rowcount  # a DELETE's result is a CursorResult
    session.add(Erasure(rows=rows))
    return rows


def apply_retention(session: Session, model: MasteryModel, days: int, now: datetime | None = None) -> int:
    """Fold answers older than `days` into each skill's base, then remove those raw events; returns how many went.

    On PostgreSQL whole months past the horizon are dropped as partitions (tutor.store.partitions). The horizon is
    published first, in its own transaction, so the intake of every worker refuses answers at or before it from then
    on (tutor.store.retention_horizon); call this before the session has written anything."""
    horizon = (now or utcnow()) - timedelta(days=days)
    retention_horizon.publish(session.get_bind().engine, horizon)
    learners = session.scalars(select(Event.learner_id).where(Event.occurred_at <= horizon).distinct()).all()
    for learner in learners:
        session.get(Learner, learner, with_for_update=True)
        old = session.execute(
            select(Event.skills, Event.score, Event.occurred_at, Event.source)
            .where(Event.learner_id == learner, Event.kind == "answer", Event.occurred_at <= horizon)
            .order_by(Event.occurred_at, Event.id)
        ).all()
        by_skill: dict[str, list[float]] = defaultdict(list)
        for skills, score, _, _ in old:
            for skill in skills:
                by_skill[skill].append(score)
        for m in session.scalars(select(Mastery).where(Mastery.learner_id == learner, Mastery.skill_id.in_(list(by_skill)))):
            params = model.params(m.skill_id)
            p = m.base_p if m.base_p is not None else params.prior
            n = m.base_n or 0
            base_until = as_utc(m.base_until)
            for skills, score, occurred, _ in old:
                if m.skill_id in skills and (base_until is None or as_utc(occurred) > base_until):
                    p, n = update(p, score, params), n + 1
            m.base_p, m.base_n, m.base_until = p, n, horizon
        if model.next_answer is not None and learner is not None:
            _history_base(session, model.next_answer, learner, old, horizon)
    removed = remove_events_until(session, horizon)
    session.execute(delete(XapiStatement).where(XapiStatement.occurred_at <= horizon))
    if model.next_answer is not None:
        fold_answer_histories(session, [], model, utcnow(), rebuild=[learner for learner in learners if learner is not None])
    return removed


def _history_base(session: Session, na: NextAnswerModel, learner: str, old: Sequence, horizon: datetime) -> None:
    """Fold the answers about to be deleted into the base of the learner's next-answer history (placement answers stay out, as in intake).

    A base built by another model cannot take them: the answers before it are gone, so the new base starts after it."""
    key = na.state_key()
    row = session.get(AnswerHistory, learner)
    if row is None:
        row = AnswerHistory(learner_id=learner, model_key="", state={}, n_answers=0, updated_at=utcnow())
        session.add(row)
    same = row.base_key == key and row.base_state is not None
    until = as_utc(row.base_until)
    todo = [(skills, score) for skills, score, occurred, source in old if source != "placement" and (until is None or as_utc(occurred) > until)]
    start = LearnerHistory.from_json(row.base_state, max(na.n_previous_answers, 1)) if same and row.base_state is not None else None
    row.base_state, row.base_key, row.base_until = na.history_of(todo, start).to_json(), key, horizon
    row.base_n = len(todo) + ((row.base_n or 0) if same else 0)


def erasure_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Erasure)) or 0  # a count always has a row
