"""xAPI statements turned into learner events, as a learning record store would take them.

Graded verbs (answered, evaluated, attempted, passed, failed) become answers; completed,
experienced and progressed become lesson exposures; any other well-formed statement (an untracked
verb, or an exposure to an activity the service does not know) is acknowledged and kept as skipped,
with the reason.

An activity of the platform's own catalog (tutor.catalog) counts like a bundled one once its skills
are accepted; until then a graded answer about it is kept as `pending` and counted when the
alignment is accepted. A graded answer about an activity nobody imported registers the activity
from the statement's `object.definition` (the router does that before calling `to_event`).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, TypedDict

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from tutor.catalog.activities import Known
from tutor.clock import Moment
from tutor.content.library import Library
from tutor.events.intake import LearnerEvent
from tutor.text import CleanText, JsonBool, LearnerIdText

GRADED = {"answered", "evaluated", "attempted", "passed", "failed"}
EXPOSURE = {"completed", "experienced", "progressed"}
_DURATION = re.compile(r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$")


class Account(BaseModel):
    homePage: CleanText = Field(min_length=1, max_length=500)
    name: LearnerIdText


class Actor(BaseModel):
    model_config = ConfigDict(extra="allow")
    objectType: CleanText | None = Field(None, max_length=100)
    name: CleanText | None = Field(None, max_length=500, description="The learner's name; checked, never stored.")
    account: Account = Field(description="The learner, identified as an account {homePage, name}.")


class Verb(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: CleanText = Field(min_length=1, max_length=500, examples=["http://adlnet.gov/expapi/verbs/answered"])


LanguageMap = dict[Annotated[CleanText, Field(max_length=35)], Annotated[CleanText, Field(max_length=5000)]]


class Definition(BaseModel):
    """What the platform says of the activity; kept for an activity the service does not know yet, so it can be aligned."""

    model_config = ConfigDict(extra="allow")
    name: LanguageMap | None = None
    description: LanguageMap | None = None
    type: CleanText | None = Field(None, max_length=500)
    interactionType: CleanText | None = Field(None, max_length=100)


class Activity(BaseModel):
    model_config = ConfigDict(extra="allow")
    objectType: CleanText | None = Field(None, max_length=100)
    id: CleanText = Field(min_length=1, max_length=500, examples=["https://learn.example.vn/items/spotting-scams-1"])
    definition: Definition | None = None


class Score(BaseModel):
    model_config = ConfigDict(extra="allow")
    scaled: float | None = Field(None, ge=-1.0, le=1.0, allow_inf_nan=False)


class Result(BaseModel):
    model_config = ConfigDict(extra="allow")
    success: JsonBool | None = Field(None, description="true or false (a JSON boolean).")
    score: Score | None = None
    duration: str | None = Field(None, pattern=_DURATION.pattern)


class Statement(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "id": "6f1c2a52-3f0e-4c6b-9a43-6a7b8f0d1e21",
                    "actor": {"objectType": "Agent", "account": {"homePage": "https://vneid.gov.vn", "name": "learner-42"}},
                    "verb": {"id": "http://adlnet.gov/expapi/verbs/answered"},
                    "object": {"id": "https://learn.example.vn/items/spotting-scams-1"},
                    "result": {"success": True, "duration": "PT40S"},
                    "timestamp": "2026-11-23T08:00:00Z",
                }
            ]
        },
    )

    id: uuid.UUID | None = Field(None, description="Statement id; the idempotency key. Assigned when missing.")
    actor: Actor
    verb: Verb
    object: Activity
    result: Result | None = None
    timestamp: Moment | None = Field(None, description="ISO 8601, from 2000-01-01T00:00:00Z to a day past the server's clock; default: when it is received.")


class _EventBase(TypedDict):
    """The fields every event made from a statement shares."""

    event_id: str
    learner: str
    occurred_at: datetime
    source: str
    verb: str
    duration_seconds: float | None


Statements = Annotated[list[Statement], BeforeValidator(lambda v: [v] if isinstance(v, dict) else v)]


VERB_CHARS = 64
REASON_CHARS = 200
"""The store's room for a statement's verb and for why it was skipped (events.verb, events.skip_reason)."""


def _clip(text: str, limit: int) -> str:
    """The text cut to the store's room, marked with an ellipsis where it was cut.

    >>> _clip("a" * 70, 64)[-3:], len(_clip("a" * 70, 64)), _clip("short", 64)
    ('aa…', 64, 'short')
    """
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _last_segment(iri: str) -> str:
    return iri.rstrip("/").rsplit("/", 1)[-1].rsplit("#", 1)[-1]


def _seconds(duration: str | None) -> float | None:
    if not duration:
        return None
    m = _DURATION.match(duration)
    if m is None:  # Result.duration is validated against the same pattern
        raise ValueError(f"not an ISO 8601 duration: {duration!r}")
    parts = {k: float(v) for k, v in m.groupdict().items() if v}
    return parts.get("d", 0) * 86400 + parts.get("h", 0) * 3600 + parts.get("m", 0) * 60 + parts.get("s", 0)


def _grade(verb: str, result: Result | None) -> float | None:
    if result is not None and result.success is not None:
        return float(result.success)
    if result is not None and result.score is not None and result.score.scaled is not None:
        return max(0.0, result.score.scaled)
    return {"passed": 1.0, "failed": 0.0}.get(verb)


def is_graded(statement: Statement) -> bool:
    return _last_segment(statement.verb.id) in GRADED


def in_library(statement: Statement, library: Library) -> bool:
    """Whether the statement's object is a bundled lesson or item (named by the last segment of its IRI)."""
    target = _last_segment(statement.object.id)
    return target in library.items or target in library.lessons


def to_event(statement: Statement, learner: str, library: Library, received: datetime, catalog: Mapping[str, Known] | None = None) -> LearnerEvent:
    """The event a statement stands for; `learner` is the pseudonym of its actor, `catalog` the
    platform's activities its object may name (from tutor.catalog.activities.resolve)."""
    verb = _clip(_last_segment(statement.verb.id), VERB_CHARS)
    target = _last_segment(statement.object.id)
    when = statement.timestamp or received
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    base = _EventBase(
        event_id=str(statement.id), learner=learner, occurred_at=when, source="xapi", verb=verb,
        duration_seconds=_seconds(statement.result.duration if statement.result else None),
    )
    item = library.items.get(target)
    lesson = item[0] if item else library.lessons.get(target)
    if verb not in GRADED | EXPOSURE:
        return LearnerEvent(kind="skipped", skip_reason=_clip(f"verb {verb!r} is not tracked", REASON_CHARS), **base)
    known = (catalog or {}).get(statement.object.id) if lesson is None else None
    if known is not None:
        return _catalog_event(statement, verb, known, base)
    if lesson is None:
        reason = f"activity {_clip(statement.object.id, 120)!r} is not a lesson or item of the library"
        return LearnerEvent(kind="skipped", skip_reason=_clip(reason, REASON_CHARS), **base)
    if verb in EXPOSURE:
        return LearnerEvent(kind="exposure", lesson_id=lesson.id, item_id=target if item else None, skills=tuple(lesson.skills), **base)
    grade = _grade(verb, statement.result)
    if grade is None:
        return LearnerEvent(kind="skipped", skip_reason="no result.success or result.score.scaled to grade", lesson_id=lesson.id, **base)
    skills = tuple(item[1].skills) if item else tuple(lesson.skills)
    return LearnerEvent(kind="answer", lesson_id=lesson.id, item_id=target if item else None, skills=skills, score=grade, **base)


def _catalog_event(statement: Statement, verb: str, known: Known, base: _EventBase) -> LearnerEvent:
    """An answer or exposure about one of the platform's own activities."""
    skills = known.skills
    if verb in EXPOSURE:
        if not skills:
            return LearnerEvent(kind="skipped", skip_reason="exposure to an activity not aligned to the framework yet", lesson_id=known.id, **base)
        return LearnerEvent(kind="exposure", lesson_id=known.id, skills=skills, **base)
    grade = _grade(verb, statement.result)
    if grade is None:
        return LearnerEvent(kind="skipped", skip_reason="no result.success or result.score.scaled to grade", item_id=known.id, **base)
    return LearnerEvent(kind="answer" if skills else "pending", item_id=known.id, skills=skills, score=grade, **base)
