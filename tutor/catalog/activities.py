"""The platform's activities as the service stores them, and how a statement's object finds one.

An activity's id is derived from (platform, identifier), so importing the course again, or a
statement about it arriving before the course was imported, lands on the same row, and the answers
that name it (events.item_id) stay attached:

>>> activity_id("openedx", "block-v1:Org+C1+2026+type@problem+block@q1")
'act-a9eb85557148082e87cfdf9b'
>>> keys_of("http://localhost:18000/xblock/block-v1:edX+DemoX+Demo_Course+type@problem+block@3fc5")[-1]
'block-v1:edX+DemoX+Demo_Course+type@problem+block@3fc5'
>>> keys_of("https://moodle.example.vn/cc/i_quiz/q_mc")
('https://moodle.example.vn/cc/i_quiz/q_mc', 'cc/i_quiz/q_mc', 'i_quiz/q_mc', 'q_mc')

Open edX puts the usage key at the end of the activity's LMS URL; SCORM and Common Cartridge
platforms use an IRI of their own, so a statement's object is looked up by its whole IRI and by the
end of its path (the last one to three segments, the longest match first).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tutor.clock import utcnow
from tutor.store.tables import CatalogActivity

STATEMENT_PLATFORM = "xapi"
OPENEDX_KEY_PREFIX = "block-v1:"
KEY_CHARS = 500


def activity_id(platform: str, key: str) -> str:
    """The service's id for a platform's activity: stable, short enough for events.item_id."""
    return "act-" + hashlib.sha256(f"{platform}\n{key}".encode()).hexdigest()[:24]


UNPLACED = 2**62  # the course order of an activity no course holds (registered from a statement): after every course's


def course_order(course_id: int | None, position: int) -> int:
    """One sortable number for the platform's order: course, then place in it.

    >>> course_order(2, 7) > course_order(1, 999_999) and course_order(None, 0) > course_order(10**6, 0)
    True
    """
    return UNPLACED if course_id is None else course_id * 1_000_000 + position


def keys_of(iri: str) -> tuple[str, ...]:
    """The identifiers a statement's object id may be stored under: the IRI, then its last one to three
    path segments, longest first (a Common Cartridge question's key is `ITEM/QUESTION`)."""
    parts = [p for p in iri.rstrip("/").split("/") if p]
    suffixes = ["/".join(parts[-n:]) for n in (3, 2, 1) if len(parts) > n]
    return tuple(dict.fromkeys([iri, *suffixes]))


@dataclass(frozen=True)
class Known:
    """What the intake needs of an activity: its id, what it is, and its accepted skills ([] = awaiting alignment)."""

    id: str
    kind: str
    skills: tuple[str, ...]


def resolve(session: Session, iris: Iterable[str]) -> dict[str, Known]:
    """The stored activity each statement object id names (one query for a batch); unknown ids are absent."""
    wanted = {iri: keys_of(iri) for iri in set(iris)}
    keys = {k for ks in wanted.values() for k in ks}
    if not keys:
        return {}
    rows = session.execute(select(CatalogActivity.key, CatalogActivity.id, CatalogActivity.kind, CatalogActivity.skills).where(CatalogActivity.key.in_(keys)))
    by_key = {key: Known(id_, kind, tuple(skills or ())) for key, id_, kind, skills in rows}
    out: dict[str, Known] = {}
    for iri, candidates in wanted.items():
        for k in candidates:
            if k in by_key:
                out[iri] = by_key[k]
                break
    return out


def _language_map_text(value: Any) -> str:
    """The first text of an xAPI language map ({"en-US": "…"}), or ''."""
    if isinstance(value, dict):
        for text in value.values():
            if isinstance(text, str) and text.strip():
                return text.strip()
    return ""


def statement_activity(session: Session, iri: str, definition: Mapping[str, Any] | None) -> tuple[CatalogActivity, bool]:
    """The activity a graded statement names but no import has brought, kept so it can be aligned
    later; with True when this call made it.

    An Open edX usage key is stored under the "openedx" platform, so importing that course later
    finds this row (and its pending answers); any other IRI is kept whole under "xapi".
    """
    last = keys_of(iri)[-1]
    platform, key = ("openedx", last) if last.startswith(OPENEDX_KEY_PREFIX) else (STATEMENT_PLATFORM, iri)
    found = session.get(CatalogActivity, activity_id(platform, key))
    if found is not None:
        return found, False
    definition = dict(definition or {})
    name = _language_map_text(definition.get("name"))
    description = _language_map_text(definition.get("description"))
    body = {"name": name, "description": description, "type": str(definition.get("type") or "")[:500], "interactionType": str(definition.get("interactionType") or "")[:100]}
    row = CatalogActivity(
        id=activity_id(platform, key), platform=platform, key=key[:KEY_CHARS], course_id=None, position=0, kind="item", origin="statement",
        title=name or last[:200], body=body, content_hash=hashlib.sha256(repr(sorted(body.items())).encode()).hexdigest(),
        skills=[], alignment="review", updated_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row, True
