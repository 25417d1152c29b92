"""The platform's own lessons and items for the skills a learner should work on next.

* `platform_candidates`: what the recommender ranks beside the bundled lessons. For each candidate
  skill, the imported activities of the kind asked for whose accepted alignment names it, in the
  platform's course order (course, then position in it); of each course only the first one not done
  recently, so the platform's order is kept (unit 3 is never proposed before unit 2 of the same
  course); at most `per_skill` courses per skill. An item is predicted from its difficulty
  (`tutor.catalog.difficulty`); a lesson from one stand-in item at its band's prior difficulty.
* `placement_items`: the imported items the placement quiz may draw, with their difficulty.
* `platform_steps`: for each recommended skill, the first few in course order: what more the
  platform has on it.

With `allowed` (the activities the platform lets the learner open now, by activity id or by the
platform's identifier), nothing outside it is proposed or listed.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tutor.catalog.difficulty import band_priors, difficulties, prior_difficulty
from tutor.content.library import Library
from tutor.recommend.placement import PlatformItem, stand_in_item
from tutor.recommend.policy import PlatformLesson
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


def activity_ids(session: Session, ids: Collection[str]) -> set[str]:
    """The activity ids of those of `ids` that name an imported activity (by activity id or platform identifier)."""
    wanted = list(ids)
    if not wanted:
        return set()
    return set(session.scalars(select(CatalogActivity.id).where(CatalogActivity.id.in_(wanted) | CatalogActivity.key.in_(wanted))))


def known_activities(session: Session, ids: Collection[str]) -> set[str]:
    """Those of `ids` that name an imported activity (by activity id or platform identifier)."""
    wanted = list(ids)
    if not wanted:
        return set()
    found = set()
    for aid, key in session.execute(select(CatalogActivity.id, CatalogActivity.key).where(CatalogActivity.id.in_(wanted) | CatalogActivity.key.in_(wanted))):
        found.update({aid, key})
    return found & set(wanted)


class PlatformCandidates:
    """The recommender's source of imported candidates for one request (`tutor.recommend.policy.PlatformSource`);
    keeps what it returned (`steps`) so the response can say where each is on the platform."""

    def __init__(self, session: Session, library: Library, kind: str, allowed: Collection[str] | None = None, per_skill: int = 3, scan: int = 30):
        self.session, self.library, self.kind, self.allowed = session, library, kind, allowed
        self.per_skill, self.scan = per_skill, scan
        self.steps: dict[str, PlatformStep] = {}

    def __call__(self, skills: Sequence[str], done: Collection[str]) -> list[PlatformLesson]:
        chosen: dict[str, tuple[PlatformStep, list[str]]] = {}
        for skill in dict.fromkeys(skills):
            query = (
                select(CatalogActivity.id, CatalogActivity.platform, CatalogActivity.key, CatalogCourse.key, CatalogActivity.title, CatalogActivity.skills,
                       CatalogActivity.course_id)
                .select_from(Alignment)
                .join(CatalogActivity, CatalogActivity.id == Alignment.activity_id)
                .outerjoin(CatalogCourse, CatalogCourse.id == CatalogActivity.course_id)
                .where(Alignment.skill == skill, Alignment.status == "accepted", Alignment.kind == self.kind)
                .order_by(Alignment.course_order, Alignment.activity_id)
                .limit(self.scan)
            )
            if self.allowed is not None:
                wanted = list(self.allowed)
                query = query.where(CatalogActivity.id.in_(wanted) | CatalogActivity.key.in_(wanted))
            courses: set[object] = set()
            for aid, platform, key, course, title, accepted, course_id in self.session.execute(query):
                if course_id in courses or len(courses) >= self.per_skill:
                    continue
                if aid in done or key in done:
                    continue  # done recently: the course's next one is the candidate
                courses.add(course_id if course_id is not None else aid)
                chosen.setdefault(aid, (PlatformStep(skill, aid, platform, key, course, self.kind, title), list(accepted or [skill])))
        if not chosen:
            return []
        skills_of = {aid: skills for aid, (_, skills) in chosen.items()}
        if self.kind == "item":
            hardness = difficulties(self.session, self.library, skills_of)
        else:
            priors = band_priors(self.library)
            hardness = {aid: prior_difficulty(s, self.library, priors) for aid, s in skills_of.items()}
        out = []
        for aid, (step, skills) in chosen.items():
            self.steps[aid] = step
            out.append(PlatformLesson(id=aid, skills=tuple(skills), items=(stand_in_item(aid, skills, hardness[aid]),)))
        return out


def placement_stamp(session: Session) -> tuple[int, object]:
    """What the placement quiz's imported items depend on: how many items are aligned, and their latest change."""
    n, latest = session.execute(
        select(func.count(), func.max(CatalogActivity.updated_at)).where(CatalogActivity.kind == "item", CatalogActivity.alignment.in_(("accepted", "tagged")))
    ).one()
    return int(n), latest


def placement_items(session: Session, library: Library, per_skill: int = 5) -> list[PlatformItem]:
    """The imported items the placement quiz may draw: those with accepted (or tagged) skills of the framework and
    options to show, the first `per_skill` of each skill in course order, each with its difficulty (`tutor.catalog.difficulty`)."""
    rows = session.execute(
        select(CatalogActivity, CatalogCourse.key)
        .outerjoin(CatalogCourse, CatalogCourse.id == CatalogActivity.course_id)
        .where(CatalogActivity.kind == "item", CatalogActivity.alignment.in_(("accepted", "tagged")))
        .order_by(CatalogActivity.course_id, CatalogActivity.position, CatalogActivity.id)
    ).all()
    taken: dict[str, int] = {}
    chosen = []
    for row, course in rows:
        skills = tuple(s for s in (row.skills or []) if s in library.skills)
        body = row.body or {}
        options = [str(o) for part in body.get("parts") or [] for o in (part.get("options") or [])]
        if not skills or len(skills) != len(row.skills or []) or not options or any(taken.get(s, 0) >= per_skill for s in skills):
            continue
        for s in skills:
            taken[s] = taken.get(s, 0) + 1
        chosen.append((row, course, skills, options))
    hardness = difficulties(session, library, {row.id: skills for row, _, skills, _ in chosen})
    return [PlatformItem(id=row.id, skills=skills, difficulty=hardness[row.id], question=str((row.body or {}).get("question") or row.title),
                         options=tuple(options), platform=row.platform, key=row.key, course=course) for row, course, skills, options in chosen]
