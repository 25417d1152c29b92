"""The platform's own lessons and items for the skills a learner should work on next.

The recommender ranks skills (and the bundled lessons); for each recommended skill, in its rank,
this lists the imported activities whose accepted alignment names it, in the platform's course
order (course, then position in it), so the learner is sent to the platform's own material the
way its course runs. With `allowed` (the activities the platform lets the learner open now, by
activity id or by the platform's identifier), nothing outside it is listed.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from tutor.store.tables import Alignment, CatalogActivity, CatalogCourse


@dataclass(frozen=True)
class PlatformStep:
    skill: str
    activity_id: str
    platform: str
    key: str
    course: str | None
    kind: str
    title: str


def platform_steps(session: Session, skills: Sequence[str], kind: str, allowed: Collection[str] | None = None, per_skill: int = 3) -> list[PlatformStep]:
    """Up to `per_skill` imported activities of `kind` ("lesson" or "item") per skill, skills in the order given.

    One query per skill on the alignments' (skill, status, kind, course order) index, stopping at
    `per_skill`: a skill may have thousands of aligned activities on a national platform, and only the
    first few are shown."""
    steps: list[PlatformStep] = []
    for skill in dict.fromkeys(skills):
        query = (
            select(CatalogActivity.id, CatalogActivity.platform, CatalogActivity.key, CatalogCourse.key, CatalogActivity.title)
            .select_from(Alignment)
            .join(CatalogActivity, CatalogActivity.id == Alignment.activity_id)
            .outerjoin(CatalogCourse, CatalogCourse.id == CatalogActivity.course_id)
            .where(Alignment.skill == skill, Alignment.status == "accepted", Alignment.kind == kind)
            .order_by(Alignment.course_order, Alignment.activity_id)
            .limit(per_skill)
        )
        if allowed is not None:
            wanted = list(allowed)
            query = query.where(CatalogActivity.id.in_(wanted) | CatalogActivity.key.in_(wanted))
        steps += [PlatformStep(skill, aid, platform, key, course, kind, title) for aid, platform, key, course, title in session.execute(query)]
    return steps


def known_activities(session: Session, ids: Collection[str]) -> set[str]:
    """Those of `ids` that name an imported activity (by activity id or platform identifier)."""
    wanted = list(ids)
    if not wanted:
        return set()
    found = set()
    for aid, key in session.execute(select(CatalogActivity.id, CatalogActivity.key).where(CatalogActivity.id.in_(wanted) | CatalogActivity.key.in_(wanted))):
        found.update({aid, key})
    return found & set(wanted)
