"""The alignment review queue: activities whose skills a person has to decide.

A reviewer accepts one of the suggested skills (or any framework skill), or rejects the activity
(it teaches none of the framework). The decision is stored with who made it; the caller then counts
the answers that waited for it (tutor.events.intake.release_pending) in the same transaction.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tutor.answering.language import detect_form
from tutor.catalog.activities import course_order
from tutor.catalog.alignment import Exemplar
from tutor.catalog.course import Activity
from tutor.catalog.imports import CATALOG_REVISION, align_text
from tutor.clock import utcnow
from tutor.errors import Conflict, Invalid, NotFound
from tutor.store.shared_state import bump
from tutor.store.tables import Alignment, CatalogActivity, CatalogCourse, Event


@dataclass(frozen=True)
class Waiting:
    """One activity in the queue, with its suggestions (best first) and how many answers wait for it."""

    activity: CatalogActivity
    course: str | None
    suggestions: list[Alignment]
    pending_answers: int


def queue(session: Session, limit: int = 50, after: str | None = None) -> list[Waiting]:
    """Activities waiting for review, in id order (pass the last id as `after` for the next page)."""
    query = select(CatalogActivity, CatalogCourse.key).outerjoin(CatalogCourse, CatalogCourse.id == CatalogActivity.course_id).where(CatalogActivity.alignment == "review")
    if after is not None:
        query = query.where(CatalogActivity.id > after)
    rows = session.execute(query.order_by(CatalogActivity.id).limit(limit)).all()
    ids = [a.id for a, _ in rows]
    suggestions: dict[str, list[Alignment]] = {i: [] for i in ids}
    for s in session.scalars(select(Alignment).where(Alignment.activity_id.in_(ids)).order_by(Alignment.rank)):
        suggestions[s.activity_id].append(s)
    waiting = dict(
        session.execute(select(Event.item_id, func.count()).where(Event.item_id.in_(ids), Event.kind == "pending").group_by(Event.item_id)).all()
    )
    return [Waiting(a, course, suggestions[a.id], int(waiting.get(a.id, 0))) for a, course in rows]


def reviewed_exemplars(session: Session, limit: int = 5000) -> list[Exemplar]:
    """Imported lessons and items whose skills a person decided, as exemplars for the aligner (newest first)."""
    rows = session.execute(
        select(CatalogActivity, Alignment.skill)
        .join(Alignment, Alignment.activity_id == CatalogActivity.id)
        .where(Alignment.status == "accepted", Alignment.decided_by != "auto", CatalogActivity.origin == "package")
        .order_by(Alignment.decided_at.desc())
        .limit(limit)
    ).all()
    return [exemplar for row, skill in rows if (exemplar := activity_exemplar(row, skill)) is not None]


def activity_exemplar(row: CatalogActivity, skill: str) -> Exemplar | None:
    """An accepted imported activity as an aligner exemplar (None when it has no words to learn from)."""
    if row.origin != "package":
        return None
    activity = Activity.model_validate(row.body)
    title, text = align_text(activity)
    whole = "\n".join(t for t in (title, text) if t.strip())
    if not whole.strip():
        return None
    return Exemplar(whole, skill, detect_form(whole[:2000]).lang if activity.language is None else activity.language[:2], f"catalog:{row.id}")


def waiting_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(CatalogActivity).where(CatalogActivity.alignment == "review")) or 0)


def decide(session: Session, activity: str, skills: list[str] | None, reviewer: str, known_skills: Collection[str]) -> CatalogActivity:
    """Accept `skills` for the activity (None or [] rejects it); returns the updated row. The caller commits."""
    row = session.get(CatalogActivity, activity, with_for_update=True)
    if row is None:
        raise NotFound(f"No catalog activity {activity!r}; GET /v1/admin/catalog/alignments lists those waiting for review.")
    if row.alignment != "review":
        raise Conflict(f"Activity {activity!r} is not waiting for review (its alignment is {row.alignment!r}); its skills are {row.skills or 'none'}.")
    chosen = list(dict.fromkeys(skills or []))
    unknown = [s for s in chosen if s not in known_skills]
    if unknown:
        raise Invalid(f"unknown skill id(s) {', '.join(unknown)}; GET /v1/skills lists them")
    now = utcnow()
    existing = {a.skill: a for a in session.scalars(select(Alignment).where(Alignment.activity_id == activity))}
    for a in existing.values():
        a.status, a.decided_by, a.decided_at = ("accepted" if a.skill in chosen else "rejected"), reviewer[:120], now
    for skill in chosen:
        if skill not in existing:
            session.add(Alignment(activity_id=activity, skill=skill, rank=0, confidence=1.0, status="accepted", decided_by=reviewer[:120], decided_at=now,
                                  kind=row.kind, course_order=course_order(row.course_id, row.position)))
    row.skills, row.alignment, row.updated_at = chosen, ("accepted" if chosen else "none"), now
    bump(session, CATALOG_REVISION, activity[:200])  # every worker's `/next` reads the accepted alignments again
    session.flush()
    return row
