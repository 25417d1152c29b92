"""Recording learner events and folding graded answers into mastery, in one transaction.

Idempotency lives in the database: an event id that is already stored is not inserted again, and
only events actually inserted move mastery, so a retried batch (or two workers racing on the same
batch) can never count an answer twice. A learner's rows are locked for the transaction, so two
workers writing for one learner are serialised; answers are folded in time order, and a late
answer makes the skills it touches be replayed (see README, "Event order"), from the skill's day mark when the
answer falls on or after it, so the replay reads that day's answers and not the learner's whole history. When the active artefact
ships a next-answer model, each learner's history for it is kept in step in the same transaction,
under the same locks and the same replay rule (`fold_answer_histories`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, bindparam, func, select, tuple_, update
from sqlalchemy.dialects.postgresql import ARRAY
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


@dataclass(frozen=True)
class SkillState:
    """One skill's mastery as folded so far, with the day mark: `mark_p`/`mark_n` fold every answer before `mark_at`,
    the start (UTC) of the latest day with an answer, so a late answer of that day replays from there."""

    p: float
    n: int
    last: datetime | None
    mark_at: datetime | None = None
    mark_p: float | None = None
    mark_n: int | None = None

    def fold(self, score: float, occurred: datetime, params) -> SkillState:
        """The state after one more answer, in time order (none folded is later than `occurred`)."""
        day = day_start(occurred)
        mark = (day, self.p, self.n) if self.last is None or day > self.last else (self.mark_at, self.mark_p, self.mark_n)
        return SkillState(bkt_update(self.p, score, params), self.n + 1, max(filter(None, (self.last, occurred))), *mark)


def day_start(moment: datetime) -> datetime:
    """The start of the moment's day in UTC: where mastery marks are kept."""
    moment = moment.astimezone(UTC)
    return datetime(moment.year, moment.month, moment.day, tzinfo=UTC)


def _replay(session: Session, learner: str, skill: str, model: MasteryModel, row, since: datetime | None = None) -> SkillState:
    """Mastery of one skill recomputed from the stored answers in time order.

    With `since` (the earliest answer that changed) at or after the row's day mark, from the mark: only the answers
    of that day and later are read, whatever the learner's history. Otherwise from the retention base (what
    retention folded is not read again, and on PostgreSQL its months are not scanned), or from the prior."""
    base_until = as_utc(row.base_until) if row is not None else None
    mark_at = as_utc(row.mark_at) if row is not None else None
    if since is not None and mark_at is not None and mark_at <= since and (base_until is None or mark_at > base_until):
        state = _fold_stored(session, learner, skill, model, SkillState(row.mark_p, row.mark_n, None), Event.occurred_at >= mark_at)
        if state.n > row.mark_n:
            return state
    prior = model.params(skill).prior
    if base_until is not None:
        base = SkillState(row.base_p if row.base_p is not None else prior, row.base_n or 0, base_until)
        return _fold_stored(session, learner, skill, model, base, Event.occurred_at > base_until)
    return _fold_stored(session, learner, skill, model, SkillState(prior, 0, None), None)


def _fold_stored(session: Session, learner: str, skill: str, model: MasteryModel, state: SkillState, after) -> SkillState:
    query = select(Event.skills, Event.score, Event.occurred_at).where(Event.learner_id == learner, Event.kind == "answer")
    if after is not None:
        query = query.where(after)
    params = model.params(skill)
    for skills, score, occurred in session.execute(query.order_by(Event.occurred_at, Event.id)):
        if skill in skills:
            state = state.fold(score, as_utc(occurred), params)
    return state


def _mastery_row(learner: str, skill: str, state: SkillState, now: datetime) -> dict:
    return {"learner_id": learner, "skill_id": skill, "p_mastered": state.p, "n_observations": state.n, "updated_at": now,
            "last_event_at": state.last, "mark_at": state.mark_at, "mark_p": state.mark_p, "mark_n": state.mark_n}


MASTERY_READ = (Mastery.learner_id, Mastery.skill_id, Mastery.p_mastered, Mastery.n_observations, Mastery.last_event_at,
                Mastery.base_p, Mastery.base_n, Mastery.base_until, Mastery.mark_at, Mastery.mark_p, Mastery.mark_n)


def _rows_of(session: Session, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Any]:
    """The stored mastery rows of these (learner, skill) pairs only: a learner's other skills are not read, however many."""
    if not keys:
        return {}
    if session.get_bind().dialect.name == "postgresql":
        pairs = func.unnest(bindparam("l", type_=ARRAY(String)), bindparam("s", type_=ARRAY(String))).table_valued("l", "s").render_derived(name="pairs")
        query = select(*MASTERY_READ).join(pairs, (Mastery.learner_id == pairs.c.l) & (Mastery.skill_id == pairs.c.s))
        found = list(session.execute(query, {"l": [k[0] for k in keys], "s": [k[1] for k in keys]}))
    else:  # in chunks under SQLite's limit on bound variables
        found = [row for a in range(0, len(keys), 4000)
                 for row in session.execute(select(*MASTERY_READ).where(tuple_(Mastery.learner_id, Mastery.skill_id).in_(keys[a:a + 4000])))]
    return {(row.learner_id, row.skill_id): row for row in found}


def apply_answers(session: Session, answers: list[LearnerEvent], model: MasteryModel, now: datetime) -> None:
    """Fold graded answers into the stored mastery rows with the BKT update.

    Answers are applied in time order. One that is older than the latest answer already folded into
    a skill (a late arrival) makes that skill be replayed from the stored answers, from the day mark
    when the answer falls on or after it, so the result is the same as if every answer had arrived in
    time order.
    """
    if not answers:
        return
    by_learner: dict[str, list[LearnerEvent]] = defaultdict(list)
    for e in answers:
        by_learner[e.learner].append(e)
    current = _rows_of(session, sorted({(e.learner, skill) for e in answers for skill in e.skills}))
    changed: dict[tuple[str, str], SkillState] = {}
    replayed: set[tuple[str, str]] = set()
    for learner, evs in by_learner.items():
        for e in sorted(evs, key=lambda e: e.occurred_at):
            for skill in e.skills:
                key = (learner, skill)
                if key in replayed:
                    continue
                row = current.get(key)
                if key not in changed and row is not None and row.last_event_at is not None and e.occurred_at < as_utc(row.last_event_at):
                    changed[key] = _replay(session, learner, skill, model, row, since=e.occurred_at)
                    replayed.add(key)
                    continue
                if e.score is None:  # events of kind "answer" are always made with a grade
                    raise TypeError(f"answer event {e.event_id!r} has no score")
                state = changed.get(key) or (
                    SkillState(row.p_mastered, row.n_observations, as_utc(row.last_event_at), as_utc(row.mark_at), row.mark_p, row.mark_n)
                    if row else SkillState(model.params(skill).prior, 0, None)
                )
                changed[key] = state.fold(e.score, e.occurred_at, model.params(skill))
    upsert_mastery(session, [_mastery_row(lid, sid, state, now) for (lid, sid), state in changed.items()])
    fold_answer_histories(session, answers, model, now)


def release_pending(session: Session, activity: str, skills: list[str], model: MasteryModel) -> int:
    """Count the answers that waited for an activity's alignment, once and in time order; returns how many.

    With skills, each pending answer becomes an answer of those skills and the skills they touch are
    replayed from the stored answers for each learner, so an answer older than others already folded
    in lands in its place in time. Without skills (the reviewer found none), they are kept as skipped.
    """
    pending = session.execute(
        select(Event.id, Event.learner_id, Event.occurred_at).where(Event.item_id == activity, Event.kind == "pending").with_for_update()
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
    since: dict[tuple[str, str], datetime] = {}
    for row in pending:
        for skill in skills if row.learner_id is not None else ():
            key = (row.learner_id, skill)
            since[key] = min(since.get(key, as_utc(row.occurred_at)), as_utc(row.occurred_at))
    _replay_and_store(session, sorted(since), model, since)
    return len(ids)


def _replay_and_store(session: Session, pairs: list[tuple[str, str]], model: MasteryModel, since: Mapping[tuple[str, str], datetime] | None = None) -> None:
    """Replay each (learner, skill) from its stored answers (from the day mark when `since`, the earliest answer changed,
    falls on or after it; else from the retention base), write the mastery, and rebuild those learners' next-answer
    histories: what an answer released or taken back changes."""
    learners = sorted({learner for learner, _ in pairs})
    rows = _rows_of(session, pairs)
    now = utcnow()
    upsert_mastery(session, [
        _mastery_row(learner, skill, _replay(session, learner, skill, model, rows.get((learner, skill)), (since or {}).get((learner, skill))), now)
        for learner, skill in pairs
    ])
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
        select(Event.id, Event.event_id, Event.learner_id, Event.kind, Event.skills, Event.occurred_at)
        .where(Event.event_id.in_(list(voided)), Event.kind != "skipped").with_for_update()
    ).all()
    if not rows:
        return 0
    for row in rows:
        session.execute(update(Event).where(Event.id == row.id).values(kind="skipped", skip_reason=voided[row.event_id][:200]),
                        execution_options={"synchronize_session": False})
    since: dict[tuple[str, str], datetime] = {}
    for row in rows:
        for skill in row.skills if row.kind == "answer" and row.learner_id is not None else ():
            key = (row.learner_id, skill)
            since[key] = min(since.get(key, as_utc(row.occurred_at)), as_utc(row.occurred_at))
    if since:
        _replay_and_store(session, sorted(since), model, since)
    return len(rows)
