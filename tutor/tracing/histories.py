"""Each learner's next-answer history as the store keeps it: read, or rebuilt from the stored answers.

Intake folds new answers into it (tutor.events.intake); the recommender reads it (tutor.recommend.policy),
so it lives here, below both.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tutor.clock import as_utc
from tutor.store.tables import AnswerHistory, Event
from tutor.tracing.next_answer import LearnerHistory, NextAnswerModel


def stored_history(session: Session, learner: str, na: NextAnswerModel) -> LearnerHistory:
    """The learner's next-answer history as stored; rebuilt in memory (nothing written) when another model built it,
    until the learner's next answer stores the new one."""
    row = session.get(AnswerHistory, learner)
    key = na.state_key()
    if row is not None and row.model_key == key:
        return LearnerHistory.from_json(row.state, max(na.n_previous_answers, 1))
    return history_from(na, key, row, stored_answers(session, [learner]).get(learner, []))[0]


def stored_answers(session: Session, learners: list[str]) -> dict[str, list[tuple[list, float, datetime]]]:
    """Each learner's stored graded answers but placement ones, in time order: (skills, score, time)."""
    out: dict[str, list[tuple[list, float, datetime]]] = defaultdict(list)
    if not learners:
        return out
    for learner, skills, score, occurred in session.execute(
        select(Event.learner_id, Event.skills, Event.score, Event.occurred_at)
        .where(Event.learner_id.in_(learners), Event.kind == "answer", Event.source != "placement")
        .order_by(Event.learner_id, Event.occurred_at, Event.id)
    ):
        out[learner].append((skills, score, as_utc(occurred)))
    return out


def history_from(na: NextAnswerModel, key: str, row: AnswerHistory | None, answers: list[tuple[list, float, datetime]]) -> tuple[LearnerHistory, int, datetime | None]:
    """A history rebuilt from stored answers, from the retention base when the same model built it; with its count and last time."""
    until = as_utc(row.base_until) if row is not None else None
    base = row.base_state if row is not None and row.base_key == key else None
    todo = [(s, y) for s, y, t in answers if until is None or t > until]
    start = None if base is None else LearnerHistory.from_json(base, max(na.n_previous_answers, 1))
    history = na.history_of(todo, start)
    n = len(todo) + ((row.base_n or 0) if row is not None and base is not None else 0)
    last = next((t for _, _, t in reversed(answers) if until is None or t > until), until)
    return history, n, last
