"""Recording learner events and folding graded answers into mastery, in one transaction.

Idempotency lives in the database: an event id that is already stored is not inserted again, and
only events actually inserted move mastery, so a retried batch (or two workers racing on the same
batch) can never count an answer twice. Within a batch, each learner's answers are applied in time
order; batches are applied in the order they arrive (see README, "Event order").
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tutor import bkt
from tutor.artefacts import MasteryModel
from tutor.bulk_writes import insert_events, insert_learners, upsert_mastery
from tutor.store import Mastery, utcnow


@dataclass(frozen=True)
class LearnerEvent:
    """An event ready to store; `learner` is already the pseudonym."""

    event_id: str
    learner: str
    kind: str  # answer | exposure | skipped
    occurred_at: datetime
    source: str
    skills: tuple[str, ...] = ()
    score: float | None = None
    item_id: str | None = None
    lesson_id: str | None = None
    duration_seconds: float | None = None
    attempt: int | None = None
    verb: str | None = None
    skip_reason: str | None = None


@dataclass
class Outcome:
    """Per event, in the order given: "stored" or "duplicate"."""

    statuses: list[str] = field(default_factory=list)

    @property
    def stored(self) -> int:
        return self.statuses.count("stored")

    @property
    def duplicates(self) -> int:
        return self.statuses.count("duplicate")


def record_events(session: Session, events: list[LearnerEvent], model: MasteryModel) -> Outcome:
    """Store new events and update mastery for the graded ones; the caller commits."""
    if not events:
        return Outcome()
    now = utcnow()
    insert_learners(session, sorted({e.learner for e in events}), now)
    rows = [
        {
            "event_id": e.event_id, "learner_id": e.learner, "kind": e.kind, "item_id": e.item_id, "lesson_id": e.lesson_id,
            "skills": list(e.skills), "score": e.score, "occurred_at": e.occurred_at, "duration_seconds": e.duration_seconds,
            "attempt": e.attempt, "source": e.source, "verb": e.verb, "skip_reason": e.skip_reason, "received_at": now,
        }
        for e in events
    ]
    inserted = insert_events(session, rows)
    outcome = Outcome()
    fresh: list[LearnerEvent] = []
    for e in events:
        if e.event_id in inserted:
            inserted.discard(e.event_id)
            outcome.statuses.append("stored")
            fresh.append(e)
        else:
            outcome.statuses.append("duplicate")
    apply_answers(session, [e for e in fresh if e.kind == "answer"], model, now)
    return outcome


def apply_answers(session: Session, answers: list[LearnerEvent], model: MasteryModel, now: datetime) -> None:
    """Fold graded answers into the stored mastery rows with the BKT update."""
    if not answers:
        return
    by_learner: dict[str, list[LearnerEvent]] = defaultdict(list)
    for e in answers:
        by_learner[e.learner].append(e)
    current = {
        (m.learner_id, m.skill_id): (m.p_mastered, m.n_observations)
        for m in session.execute(select(Mastery.learner_id, Mastery.skill_id, Mastery.p_mastered, Mastery.n_observations).where(Mastery.learner_id.in_(list(by_learner))))
    }
    changed: dict[tuple[str, str], tuple[float, int]] = {}
    for learner, evs in by_learner.items():
        for e in sorted(evs, key=lambda e: e.occurred_at):
            for skill in e.skills:
                params = model.params(skill)
                p, n = changed.get((learner, skill)) or current.get((learner, skill)) or (params.prior, 0)
                changed[(learner, skill)] = (bkt.update(p, e.score, params), n + 1)
    upsert_mastery(
        session,
        [{"learner_id": lid, "skill_id": sid, "p_mastered": p, "n_observations": n, "updated_at": now} for (lid, sid), (p, n) in changed.items()],
    )
