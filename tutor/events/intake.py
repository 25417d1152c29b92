"""Recording learner events and folding graded answers into mastery, in one transaction.

Idempotency lives in the database: an event id that is already stored is not inserted again, and
only events actually inserted move mastery, so a retried batch (or two workers racing on the same
batch) can never count an answer twice. A learner's rows are locked for the transaction, so two
workers writing for one learner are serialised; answers are folded in time order, and a late
answer makes the skills it touches be replayed (see README, "Event order"). When the active artefact
ships a next-answer model, each learner's history for it is kept in step in the same transaction,
under the same locks and the same replay rule (`fold_answer_histories`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tutor.clock import as_utc, utcnow
from tutor.operations import metrics
from tutor.store.bulk_writes import insert_events, insert_learners, upsert_mastery
from tutor.store.tables import AnswerHistory, Event, Mastery
from tutor.tracing.artefacts import MasteryModel
from tutor.tracing.equations import update as bkt_update
from tutor.tracing.histories import history_from, stored_answers
from tutor.tracing.next_answer import LearnerHistory


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
    metrics.count_events((e.source, e.kind, status, e.skip_reason) for e, status in zip(events, outcome.statuses))
    return outcome


def _replay(session: Session, learner: str, skill: str, model: MasteryModel, base: tuple) -> tuple[float, int, datetime | None]:
    """Mastery of one skill recomputed from the stored answers in time order, from the retention base."""
    base_p, base_n, base_until = base
    p, n, last = (base_p, base_n, base_until) if base_p is not None else (model.params(skill).prior, 0, None)
    query = select(Event.skills, Event.score, Event.occurred_at).where(Event.learner_id == learner, Event.kind == "answer")
    if base_until is not None:  # what retention folded is not read again (and, on PostgreSQL, its months are not scanned)
        query = query.where(Event.occurred_at > base_until)
    rows = session.execute(query.order_by(Event.occurred_at, Event.id))
    for skills, score, occurred in rows:
        occurred = as_utc(occurred)
        if skill in skills and (base_until is None or occurred > base_until):
            p, n, last = bkt_update(p, score, model.params(skill)), n + 1, occurred
    return p, n, last


def apply_answers(session: Session, answers: list[LearnerEvent], model: MasteryModel, now: datetime) -> None:
    """Fold graded answers into the stored mastery rows with the BKT update.

    Answers are applied in time order. One that is older than the latest answer already folded into
    a skill (a late arrival) makes that skill be replayed from the stored answers, so the result is
    the same as if every answer had arrived in time order.
    """
    if not answers:
        return
    by_learner: dict[str, list[LearnerEvent]] = defaultdict(list)
    for e in answers:
        by_learner[e.learner].append(e)
    current = {
        (row.learner_id, row.skill_id): row
        for row in session.execute(
            select(Mastery.learner_id, Mastery.skill_id, Mastery.p_mastered, Mastery.n_observations, Mastery.last_event_at,
                   Mastery.base_p, Mastery.base_n, Mastery.base_until)
            .where(Mastery.learner_id.in_(list(by_learner)))
        )
    }
    changed: dict[tuple[str, str], tuple[float, int, datetime | None]] = {}
    replayed: set[tuple[str, str]] = set()
    for learner, evs in by_learner.items():
        for e in sorted(evs, key=lambda e: e.occurred_at):
            for skill in e.skills:
                key = (learner, skill)
                if key in replayed:
                    continue
                row = current.get(key)
                if key not in changed and row is not None and row.last_event_at is not None and e.occurred_at < as_utc(row.last_event_at):
                    changed[key] = _replay(session, learner, skill, model, (row.base_p, row.base_n, as_utc(row.base_until)))
                    replayed.add(key)
                    continue
                if e.score is None:  # events of kind "answer" are always made with a grade
                    raise TypeError(f"answer event {e.event_id!r} has no score")
                p, n, last = changed.get(key) or ((row.p_mastered, row.n_observations, as_utc(row.last_event_at)) if row else (model.params(skill).prior, 0, None))
                changed[key] = (bkt_update(p, e.score, model.params(skill)), n + 1, max(filter(None, (last, e.occurred_at))))
    upsert_mastery(
        session,
        [
            {"learner_id": lid, "skill_id": sid, "p_mastered": p, "n_observations": n, "updated_at": now, "last_event_at": last}
            for (lid, sid), (p, n, last) in changed.items()
        ],
    )
    fold_answer_histories(session, answers, model, now)


def release_pending(session: Session, activity: str, skills: list[str], model: MasteryModel) -> int:
    """Count the answers that waited for an activity's alignment, once and in time order; returns how many.

    With skills, each pending answer becomes an answer of those skills and the skills they touch are
    replayed from the stored answers for each learner, so an answer older than others already folded
    in lands in its place in time. Without skills (the reviewer found none), they are kept as skipped.
    """
    pending = session.execute(
        select(Event.id, Event.learner_id).where(Event.item_id == activity, Event.kind == "pending").with_for_update()
    ).all()
    if not pending:
        return 0
    ids = [row.id for row in pending]
    if not skills:
        session.execute(
            update(Event).where(Event.id.in_(ids)).values(kind="skipped", skip_reason="its activity was reviewed and teaches no framework skill"),
            execution_options={"synchronize_session": False},
        )
        return len(ids)
    session.execute(update(Event).where(Event.id.in_(ids)).values(kind="answer", skills=list(skills)), execution_options={"synchronize_session": False})
    learners = sorted({row.learner_id for row in pending if row.learner_id is not None})
    _replay_and_store(session, [(learner, skill) for learner in learners for skill in skills], model)
    return len(ids)


def _replay_and_store(session: Session, pairs: list[tuple[str, str]], model: MasteryModel) -> None:
    """Replay each (learner, skill) from its stored answers and retention base, write the mastery, and rebuild
    those learners' next-answer histories: what an answer released or taken back changes."""
    learners = sorted({learner for learner, _ in pairs})
    bases = {
        (row.learner_id, row.skill_id): (row.base_p, row.base_n, as_utc(row.base_until))
        for row in session.execute(
            select(Mastery.learner_id, Mastery.skill_id, Mastery.base_p, Mastery.base_n, Mastery.base_until).where(Mastery.learner_id.in_(learners))
        )
    }
    now = utcnow()
    rows = []
    for learner, skill in pairs:
        p, n, last = _replay(session, learner, skill, model, bases.get((learner, skill), (None, None, None)))
        rows.append({"learner_id": learner, "skill_id": skill, "p_mastered": p, "n_observations": n, "updated_at": now, "last_event_at": last})
    upsert_mastery(session, rows)
    fold_answer_histories(session, [], model, now, rebuild=learners)


def fold_answer_histories(session: Session, answers: list[LearnerEvent], model: MasteryModel, now: datetime, rebuild: list[str] | None = None) -> None:
    """Keep each learner's next-answer history in step with mastery, when the active artefact ships a next-answer model.

    The caller holds the learners' locks (`insert_learners`), as for mastery. Answers at or after the
    latest one already folded are added in time order. A late answer (older than that), a history built
    by another model, no history yet, or a learner in `rebuild` makes the learner's history be rebuilt
    from the stored answers in time order (events then insertion order), from the retention base. Placement
    answers are not part of it: the quiz sets mastery by its own model, and they never pass through here.
    """
    na = model.next_answer
    learners = sorted({e.learner for e in answers} | set(rebuild or ()))
    if na is None or not learners:
        return
    key = na.state_key()
    rows = {r.learner_id: r for r in session.scalars(select(AnswerHistory).where(AnswerHistory.learner_id.in_(learners)))}
    by_learner: dict[str, list[LearnerEvent]] = defaultdict(list)
    for e in answers:
        if e.score is None:  # as in apply_answers: events of kind "answer" are always made with a grade
            raise TypeError(f"answer event {e.event_id!r} has no score")
        if e.source != "placement":
            by_learner[e.learner].append(e)
    again = set(rebuild or ())
    for learner, evs in by_learner.items():
        row = rows.get(learner)
        evs.sort(key=lambda e: e.occurred_at)
        if learner in again or row is None or row.model_key != key or (row.last_event_at is not None and evs[0].occurred_at < as_utc(row.last_event_at)):
            again.add(learner)
            continue
        history = na.history_of(((e.skills, e.score or 0.0) for e in evs), LearnerHistory.from_json(row.state, max(na.n_previous_answers, 1)))
        row.state, row.n_answers, row.updated_at = history.to_json(), row.n_answers + len(evs), now
        row.last_event_at = max(filter(None, (as_utc(row.last_event_at), evs[-1].occurred_at)))
    stored = stored_answers(session, sorted(again))
    for learner in sorted(again):
        row = rows.get(learner)
        history, n, last = history_from(na, key, row, stored.get(learner, []))
        if row is None:
            session.add(AnswerHistory(learner_id=learner, model_key=key, state=history.to_json(), n_answers=n, last_event_at=last, updated_at=now))
        else:
            row.model_key, row.state, row.n_answers, row.last_event_at, row.updated_at = key, history.to_json(), n, last, now


def void_events(session: Session, voided: Mapping[str, str], model: MasteryModel) -> int:
    """Take back stored events (event id → why): each is kept as skipped with the reason, and the skills of the
    answers among them are replayed from the remaining answers for their learners, as a late answer is.
    Returns how many events were taken back (an id not stored, or already skipped, takes back nothing)."""
    if not voided:
        return 0
    rows = session.execute(
        select(Event.id, Event.event_id, Event.learner_id, Event.kind, Event.skills)
        .where(Event.event_id.in_(list(voided)), Event.kind != "skipped").with_for_update()
    ).all()
    if not rows:
        return 0
    for row in rows:
        session.execute(update(Event).where(Event.id == row.id).values(kind="skipped", skip_reason=voided[row.event_id][:200]),
                        execution_options={"synchronize_session": False})
    touched = {(row.learner_id, skill) for row in rows if row.kind == "answer" and row.learner_id is not None for skill in row.skills}
    if touched:
        _replay_and_store(session, sorted(touched), model)
    return len(rows)
