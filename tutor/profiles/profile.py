"""A learner's audience, stored on the learner row; set by the learner, the platform, or an LTI launch.

An LTI launch only fills an empty profile: what a learner or platform chose is never overwritten by
a role. The audience names content/audiences.yaml; `/next` turns it into the goal `audience:<id>`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy.orm import Session

from tutor.content.library import Library
from tutor.errors import Invalid, NotFound
from tutor.store.bulk_writes import insert_learners
from tutor.store.tables import Learner

SetBy = Literal["learner", "platform", "lti"]


@dataclass(frozen=True)
class Profile:
    audience: str | None
    set_by: str | None
    set_at: datetime | None


def read(session: Session, learner: str) -> Profile:
    row = session.get(Learner, learner)
    if row is None:
        raise NotFound("No profile: this learner is not known yet; set one with PUT, or send events to POST /v1/events.")
    return Profile(row.audience, row.audience_set_by, row.audience_set_at)


def audience_of(session: Session, learner: str) -> str | None:
    row = session.get(Learner, learner)
    return row.audience if row is not None else None


def example_audience(session: Session, library: Library, asked: str | None, learner: str | None) -> str | None:
    """Whose example a lesson shows: the audience asked for (it must exist), else the learner's own."""
    if asked is not None:
        if asked not in library.audiences:
            raise Invalid(f"audience: unknown audience {asked!r}; choose one of {', '.join(library.audiences)}, or leave it out")
        return asked
    return audience_of(session, learner) if learner else None


def check_audience(library: Library, audience: str | None) -> None:
    if audience is not None and audience not in library.audiences:
        raise Invalid(f"unknown audience {audience!r}; choose one of {', '.join(library.audiences)} (or null to clear it)")


def write(session: Session, library: Library, learner: str, audience: str | None, set_by: SetBy, now: datetime) -> Profile:
    """Set (or, with None, clear) the audience; the learner row is created if the platform sets it first."""
    check_audience(library, audience)
    insert_learners(session, [learner], now)
    row = session.get(Learner, learner, populate_existing=True)
    assert row is not None  # just inserted
    row.audience, row.audience_set_by, row.audience_set_at = audience, (set_by if audience else None), (now if audience else None)
    return Profile(row.audience, row.audience_set_by, row.audience_set_at)


def fill_from_roles(session: Session, library: Library, learner: str, roles: list[str], now: datetime) -> str | None:
    """At an LTI launch: the audience its roles map to, stored only if the learner has none yet."""
    audience = library.audience_for_roles(roles)
    if audience is None:
        return None
    row = session.get(Learner, learner)
    if row is None or row.audience is not None:
        return None
    row.audience, row.audience_set_by, row.audience_set_at = audience, "lti", now
    return audience
