"""A course read from its package, stored in the catalog: added, updated in place, aligned.

Importing the same course again (same platform and course key) updates it in place: an activity
whose content hash is unchanged keeps its row, its alignment and the answers that name it; an
edited one gets its new content and is aligned again, unless a reviewer had decided its skills (a
person's decision stands); one the package no longer holds is removed from the catalog (its answers
stay in the log). The whole import is one transaction, so a failure leaves nothing half imported.

Alignment: lessons and items get ranked skill suggestions from the aligner; the top one is accepted
when its calibrated confidence reaches `accept_confidence`, otherwise all wait for review.
Ungraded activities are not aligned (nothing to teach or measure from them).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from tutor.catalog.activities import Known, activity_id, course_order, statement_activity
from tutor.catalog.course import Activity, Course
from tutor.clock import utcnow
from tutor.store.shared_state import bump
from tutor.store.tables import Alignment, CatalogActivity, CatalogCourse

CATALOG_REVISION = "catalog_revision"
"""The shared-state key every import bumps, so each worker indexes the imported lessons that changed."""


class Suggested(Protocol):
    """What the catalog reads of an aligner's suggestion."""

    @property
    def skill(self) -> str: ...

    @property
    def confidence(self) -> float: ...


class Aligns(Protocol):
    """Ranks framework skills for a text (see tutor.catalog.alignment.Aligner)."""

    def suggest(self, title: str, text: str, language: str | None = None, k: int = 3, kind: Literal["lesson", "item"] | None = None) -> Sequence[Suggested]: ...


class ImportReport(BaseModel):
    """What an import did, as `tutor catalog import` prints it and the import job reports it."""

    platform: str = Field(examples=["openedx"])
    course: str = Field(examples=["course-v1:OpenedX+DemoX+DemoCourse"])
    title: str
    source: str = Field(description="The package it was read from (its file name).", examples=["openedx-demo-course.tar.gz"])
    activities: int = Field(description="Activities in the package.")
    lessons: int
    items: int
    ungraded: int
    added: int = Field(description="Activities new to the catalog.")
    updated: int = Field(description="Activities whose content changed since the last import.")
    unchanged: int
    removed: int = Field(description="Activities the earlier import had and this package no longer holds.")
    aligned: int = Field(description="Lessons and items whose top suggestion was accepted automatically (or kept from before).")
    review: int = Field(description="Lessons and items waiting for a person to decide their skills.")
    notes: list[str] = Field(default_factory=list, description="What the reader said about the package (ungraded reasons are per activity).")


def align_text(activity: Activity) -> tuple[str, str]:
    """The title and text an aligner reads: a lesson's text; an item's question, options and explanation."""
    if activity.kind == "lesson":
        return activity.title, activity.text
    options = [o for part in activity.parts for o in part.options]
    return activity.title, "\n".join(t for t in (activity.question, *options, activity.explanation) if t)


Ranking = list[tuple[str, float]]
"""An activity's suggested skills with their calibrated confidence, best first."""


def rank(aligner: Aligns | None, title: str, text: str, language: str | None, kind: Literal["lesson", "item"] | None = None) -> Ranking:
    if aligner is None or not (title.strip() or text.strip()):
        return []
    return [(s.skill, float(s.confidence)) for s in aligner.suggest(title, text, language, kind=kind)]


def rank_course(course: Course, aligner: Aligns | None, known_hashes: Collection[str] = (), progress: Callable[[int, int], None] | None = None) -> dict[str, Ranking]:
    """Suggestions for the course's lessons and items whose content is not already stored (`known_hashes`).

    The slow part of an import (the encoder), done before the import's transaction so that the
    transaction is short and progress can be written meanwhile."""
    wanted = [a for a in course.activities if a.kind != "ungraded" and a.content_hash not in known_hashes]
    out: dict[str, Ranking] = {}
    for done, activity in enumerate(wanted, 1):
        out[activity.key] = rank(aligner, *align_text(activity), activity.language, "lesson" if activity.kind == "lesson" else "item")
        if progress is not None:
            progress(done, len(wanted))
    return out


def stored_hashes(session: Session, course: Course) -> set[str]:
    """Content hashes the catalog already holds for this course's activities (unchanged ones need no new suggestions)."""
    ids = [activity_id(course.platform, a.key) for a in course.activities]
    return set(session.scalars(select(CatalogActivity.content_hash).where(CatalogActivity.id.in_(ids), CatalogActivity.origin == "package")))


def _decide(ranking: Ranking, accept_confidence: float) -> tuple[list[Alignment], list[str], str]:
    """Alignment rows for a ranking, the accepted skills, and the activity's alignment state."""
    rows = [Alignment(skill=skill, rank=n, confidence=confidence, status="suggested") for n, (skill, confidence) in enumerate(ranking, 1)]
    if rows and rows[0].confidence >= accept_confidence:
        rows[0].status, rows[0].decided_by, rows[0].decided_at = "accepted", "auto", utcnow()
        return rows, [rows[0].skill], "accepted"
    return rows, [], "review"


def store_course(session: Session, course: Course, rankings: dict[str, Ranking], accept_confidence: float) -> ImportReport:
    """Add or update the course and its activities in the caller's transaction; the caller commits.

    `rankings` (from `rank_course`) holds the suggestions of every lesson and item that is new or changed."""
    now = utcnow()
    row = session.scalar(select(CatalogCourse).where(CatalogCourse.platform == course.platform, CatalogCourse.key == course.key))
    if row is None:
        row = CatalogCourse(platform=course.platform, key=course.key, title=course.title, language=course.language, source=course.source, imported_at=now, imports=1)
        session.add(row)
        session.flush()
    else:
        row.title, row.language, row.source, row.imported_at, row.imports = course.title, course.language, course.source, now, row.imports + 1
    ids = {activity_id(course.platform, a.key): a for a in course.activities}
    stored = {a.id: a for a in session.scalars(select(CatalogActivity).where(CatalogActivity.id.in_(list(ids))))}
    earlier = set(session.scalars(select(CatalogActivity.id).where(CatalogActivity.course_id == row.id)))
    gone = earlier - set(ids)
    if gone:
        session.execute(delete(CatalogActivity).where(CatalogActivity.id.in_(list(gone))))
    counts = {"added": 0, "updated": 0, "unchanged": 0, "aligned": 0, "review": 0}
    new_alignments: list[Alignment] = []
    moved: dict[str, int] = {}  # activities kept whose place changed: their alignments follow
    for position, (aid, activity) in enumerate(ids.items()):
        old = stored.get(aid)
        if old is not None and old.origin == "package" and old.content_hash == activity.content_hash:
            if (old.position, old.course_id) != (position, row.id):
                moved[aid] = course_order(row.id, position)
            old.position, old.course_id, old.title = position, row.id, activity.title
            old.body = activity.model_dump(mode="json")
            counts["unchanged"] += 1
        else:
            reviewed = old is not None and old.alignment == "accepted" and _decided_by_person(session, aid)
            alignments, skills, state = ([], [], "none") if activity.kind == "ungraded" else _decide(rankings.get(activity.key, []), accept_confidence)
            if old is None:
                old = CatalogActivity(id=aid, platform=course.platform, key=activity.key)
                session.add(old)
                counts["added"] += 1
            else:
                counts["updated"] += 1
                if not reviewed:
                    session.execute(delete(Alignment).where(Alignment.activity_id == aid))
            old.course_id, old.position, old.kind, old.origin, old.title = row.id, position, activity.kind, "package", activity.title
            old.body, old.content_hash, old.updated_at = activity.model_dump(mode="json"), activity.content_hash, now
            if not reviewed:
                old.skills, old.alignment = skills, state
                for a in alignments:
                    a.activity_id, a.kind, a.course_order = aid, activity.kind, course_order(row.id, position)
                new_alignments += alignments
            else:
                moved[aid] = course_order(row.id, position)
        if old.alignment in ("accepted", "tagged"):
            counts["aligned"] += 1
        elif old.alignment == "review":
            counts["review"] += 1
    session.flush()  # the activities before their alignments (no ORM relationship orders the inserts)
    session.add_all(new_alignments)
    for aid, order in moved.items():
        session.execute(update(Alignment).where(Alignment.activity_id == aid).values(course_order=order), execution_options={"synchronize_session": False})
    bump(session, CATALOG_REVISION, course.key[:200])
    session.flush()
    kinds = course.counts()
    return ImportReport(
        platform=course.platform, course=course.key, title=course.title, source=course.source, activities=len(ids),
        lessons=kinds["lesson"], items=kinds["item"], ungraded=kinds["ungraded"], removed=len(gone), notes=list(course.notes), **counts,
    )


def _decided_by_person(session: Session, aid: str) -> bool:
    return session.scalar(select(Alignment.id).where(Alignment.activity_id == aid, Alignment.status == "accepted", Alignment.decided_by != "auto")) is not None


def register_from_statement(session: Session, iri: str, definition: Mapping[str, Any] | None, aligner: Aligns | None, accept_confidence: float) -> Known:
    """Keep an activity a graded statement names but no import has brought, aligned from what the
    statement's definition says of it (name, description) when the aligner is sure, else for review."""
    row, made = statement_activity(session, iri, definition)
    if made:
        body = row.body or {}
        alignments, skills, state = _decide(rank(aligner, body.get("name", ""), body.get("description", ""), None), accept_confidence)
        row.skills, row.alignment = skills, state
        for a in alignments:
            a.activity_id, a.kind, a.course_order = row.id, row.kind, course_order(None, 0)
            session.add(a)
        if state == "accepted":
            bump(session, CATALOG_REVISION, row.id[:200])
        session.flush()
    return Known(row.id, row.kind, tuple(row.skills or ()))
