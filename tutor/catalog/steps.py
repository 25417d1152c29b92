"""The platform's own lessons and items for the skills a learner should work on next.

* `PlatformCandidates`: what the recommender ranks beside the bundled lessons. For each candidate
  skill, the imported activities of the kind asked for whose accepted alignment names it, in the
  platform's course order (course, then position in it); of each course only the first one not done
  recently, so the platform's order is kept (unit 3 is never proposed before unit 2 of the same
  course); at most `per_skill` courses per skill. An item is predicted from its difficulty
  (`tutor.catalog.difficulty`); a lesson from one stand-in item at its band's prior difficulty.
  `PlatformCandidates.first_steps`: for each recommended skill, the first few in course order: what
  more the platform has on it.
* `placement_items`: the imported items the placement quiz may draw, with their difficulty.

With `allowed` (the activity ids the platform lets the learner open now), nothing outside it is
proposed or listed.

`/next` runs on every page a learner opens, so a worker keeps what `first_aligned` read for each skill
(`AlignedRows`) until the catalog's revision moves (an import, a reviewer's decision, an activity a
statement brought and the aligner accepted); the platform's `allowed` lists are read each time, in one
statement whatever the number of skills, and the steps listed reuse the candidates' rows.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import Select, bindparam, func, select, union_all
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


def _aligned(skill_filter: Any) -> Select:
    """Accepted alignments of one kind (bound as `kind`) with their activity and course."""
    return (
        select(Alignment.skill, Alignment.course_order, CatalogActivity.id, CatalogActivity.platform, CatalogActivity.key,
               CatalogCourse.key.label("course"), CatalogActivity.title, CatalogActivity.skills, CatalogActivity.course_id)
        .select_from(Alignment)
        .join(CatalogActivity, CatalogActivity.id == Alignment.activity_id)
        .outerjoin(CatalogCourse, CatalogCourse.id == CatalogActivity.course_id)
        .where(skill_filter, Alignment.status == "accepted", Alignment.kind == bindparam("kind"))
    )


@lru_cache(maxsize=128)
def _first_per_skill(n_skills: int, limit: int) -> Any:
    """One LIMITed select per skill (each served by the (skill, status, kind, course_order) index), joined by
    UNION ALL; built once per shape, the skills bound as `skill_0` … ."""
    parts = [_aligned(Alignment.skill == bindparam(f"skill_{i}")).order_by(Alignment.course_order, Alignment.activity_id).limit(limit).subquery().select()
             for i in range(n_skills)]
    return parts[0] if n_skills == 1 else union_all(*parts)


def first_aligned(session: Session, skills: Sequence[str], kind: str, limit: int, allowed: Collection[str] | None = None) -> dict[str, list[Any]]:
    """Per skill, its first `limit` accepted activities of `kind` in course order (rows with `id`, `platform`,
    `key`, `course`, `title`, `skills`, `course_id`), in one statement. With `allowed` (activity ids), only
    those: the statement is then bounded by the allowed list instead of a limit per skill."""
    wanted = list(dict.fromkeys(skills))
    out: dict[str, list[Any]] = {s: [] for s in wanted}
    if not wanted:
        return out
    if allowed is None:
        statement = _first_per_skill(len(wanted), limit)
        params: dict[str, Any] = {f"skill_{i}": s for i, s in enumerate(wanted)}
    else:
        statement = _aligned(Alignment.skill.in_(wanted)).where(Alignment.activity_id.in_(list(allowed)))
        params = {}
    for row in session.connection().execute(statement, params | {"kind": kind}):
        out[row.skill].append(row)
    for rows in out.values():
        rows.sort(key=lambda r: (r.course_order, r.id))
        del rows[limit:]
    return out


class AlignedRows:
    """A worker's copy of `first_aligned` without `allowed`, per (skill, kind, limit), until `forget`
    (`Runtime.refresh` calls it when the catalog's revision moves). A read that began before a `forget`
    is not kept, so a decision is never hidden behind rows read before it."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, str, int], list[Any]] = {}
        self._generation = 0
        self._lock = threading.Lock()

    def forget(self) -> None:
        with self._lock:
            self._rows, self._generation = {}, self._generation + 1

    def get(self, session: Session, skills: Sequence[str], kind: str, limit: int) -> dict[str, list[Any]]:
        wanted = list(dict.fromkeys(skills))
        with self._lock:
            rows, generation = self._rows, self._generation
        missing = [s for s in wanted if (s, kind, limit) not in rows]
        found = first_aligned(session, missing, kind, limit) if missing else {}
        if found:
            with self._lock:
                if generation == self._generation:
                    self._rows = rows = self._rows | {(s, kind, limit): r for s, r in found.items()}
        return {s: found[s] if s in found else rows[(s, kind, limit)] for s in wanted}


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
    keeps what it returned (`steps`) so the response can say where each is on the platform, and the rows it
    read, so `first_steps` lists the platform's next activities without reading them again."""

    def __init__(self, session: Session, library: Library, kind: str, allowed: Collection[str] | None = None, per_skill: int = 3, scan: int = 30,
                 kept: AlignedRows | None = None):
        self.session, self.library, self.kind, self.allowed = session, library, kind, allowed
        self.per_skill, self.scan, self.kept = per_skill, scan, kept
        self.steps: dict[str, PlatformStep] = {}
        self._read: dict[str, list[Any]] = {}

    def _step(self, skill: str, row: Any) -> PlatformStep:
        return PlatformStep(skill, row.id, row.platform, row.key, row.course, self.kind, row.title)

    def _first(self, skills: Sequence[str], limit: int) -> dict[str, list[Any]]:
        if self.kept is not None and self.allowed is None:
            return self.kept.get(self.session, skills, self.kind, limit)
        return first_aligned(self.session, skills, self.kind, limit, self.allowed)

    def __call__(self, skills: Sequence[str], done: Collection[str]) -> list[PlatformLesson]:
        self._read |= self._first(skills, self.scan)
        chosen: dict[str, tuple[PlatformStep, list[str]]] = {}
        for skill in dict.fromkeys(skills):
            courses: set[object] = set()
            for row in self._read[skill]:
                if row.course_id in courses or len(courses) >= self.per_skill:
                    continue
                if row.id in done or row.key in done:
                    continue  # done recently: the course's next one is the candidate
                courses.add(row.course_id if row.course_id is not None else row.id)
                chosen.setdefault(row.id, (self._step(skill, row), list(row.skills or [skill])))
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

    def first_steps(self, skills: Sequence[str], per_skill: int = 3) -> list[PlatformStep]:
        """Up to `per_skill` activities per skill in course order, skills in the order given: a skill may have
        thousands of aligned activities on a national platform, and only the first few are shown."""
        wanted = list(dict.fromkeys(skills))
        missing = [s for s in wanted if s not in self._read]
        if missing:
            self._read |= self._first(missing, max(per_skill, self.scan))
        return [self._step(skill, row) for skill in wanted for row in self._read[skill][:per_skill]]
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
