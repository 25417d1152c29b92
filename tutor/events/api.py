"""How answers arrive: POST /v1/events (batches of graded answers) and POST /v1/xapi/statements (the
learning-record-store door for platforms that speak xAPI)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, model_validator

from tutor.catalog.activities import resolve
from tutor.catalog.imports import register_from_statement
from tutor.clock import Moment, utcnow
from tutor.content.library import Library
from tutor.deps import Caller, RuntimeDep, SessionDep, require_scopes
from tutor.events.intake import LearnerEvent, record_events
from tutor.events.xapi import Statements, in_library, is_graded, to_event
from tutor.text import CleanText, JsonBool, LearnerIdText, checked_text

router = APIRouter(prefix="/v1/events", tags=["events"])
xapi_router = APIRouter(prefix="/v1/xapi", tags=["xapi"])
XAPI_VERSION = "1.0.3"


SkillId = Annotated[str, Field(min_length=1, max_length=64), checked_text()]


class AnswerEvent(BaseModel):
    """One graded answer. Give `item_id` (skills come from the item) or `skill_ids`, and `correct` or `score`."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"event_id": "evt-0001", "learner_id": "learner-42", "item_id": "spotting-scams-1", "correct": True, "timestamp": "2026-11-23T08:00:00Z"}
            ]
        },
    )

    event_id: CleanText = Field(min_length=1, max_length=128, description="Client-chosen id; sending it again is acknowledged and not applied twice.")
    learner_id: LearnerIdText
    item_id: CleanText | None = Field(None, min_length=1, max_length=128, description="An assessment item of the library.")
    skill_ids: list[SkillId] | None = Field(None, min_length=1, max_length=20, description="Skills measured, when the item is not in the library.")
    correct: JsonBool | None = Field(None, description="Whether the answer was right: true or false (a JSON boolean; strings and numbers are refused).")
    score: float | None = Field(None, ge=0.0, le=1.0, allow_inf_nan=False, description="Partial credit in [0, 1], instead of `correct`.")
    timestamp: Moment = Field(description="When the learner answered: an ISO 8601 string (UTC when no zone is given; numbers are refused), "
                                          "from 2000-01-01T00:00:00Z to a day past the server's clock.")
    duration_seconds: float | None = Field(None, ge=0.0, le=86_400.0, allow_inf_nan=False)
    attempt: int | None = Field(None, ge=1, le=1_000)

    @model_validator(mode="after")
    def one_grade_and_a_target(self) -> AnswerEvent:
        if (self.correct is None) == (self.score is None):
            raise ValueError("give exactly one of `correct` (true/false) or `score` (0 to 1)")
        if self.item_id is None and self.skill_ids is None:
            raise ValueError("give `item_id` or `skill_ids` so the answer can be tied to skills")
        return self

    def grade(self) -> float:
        if self.score is not None:
            return self.score
        if self.correct is None:  # one_grade_and_a_target makes sure one of the two is given
            raise TypeError("an answer needs `correct` or `score`")
        return float(self.correct)


class EventBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[AnswerEvent] = Field(min_length=1, max_length=1000, description="1 to 1,000 answers.")


class EventResult(BaseModel):
    event_id: str
    status: Literal["stored", "duplicate"]


class EventBatchResult(BaseModel):
    stored: int = Field(description="Events stored and applied to mastery now.")
    duplicates: int = Field(description="Events whose id was already stored; acknowledged, not applied again.")
    results: list[EventResult]


def retention_horizon(runtime) -> datetime | None:
    """Answers at or before this time are refused: their raw events would already have been folded and deleted."""
    days = runtime.settings.privacy.retention_days
    return None if days is None else utcnow() - timedelta(days=days)


def skills_of(event: AnswerEvent, index: int, library: Library, errors: list[dict]) -> tuple[str, ...]:
    """The event's skills, after checking every id against the library; problems go to errors."""
    loc = ("body", "events", index)
    if event.skill_ids is not None:
        unknown = [s for s in event.skill_ids if s not in library.skills]
        if unknown:
            errors.append({"type": "unknown_skill", "loc": (*loc, "skill_ids"), "msg": f"unknown skill id(s) {', '.join(unknown)}; see GET /v1/skills", "input": event.skill_ids})
        return tuple(dict.fromkeys(event.skill_ids))
    found = library.items.get(event.item_id) if event.item_id is not None else None
    if found is None:
        errors.append({"type": "unknown_item", "loc": (*loc, "item_id"), "input": event.item_id,
                       "msg": f"unknown item {event.item_id!r}; give `skill_ids` for items outside the library"})
        return ()
    return tuple(found[1].skills)


@router.post("", response_model=EventBatchResult, summary="Send a batch of graded answers")
def post_events(
    batch: EventBatch,
    runtime: RuntimeDep,
    session: SessionDep,
    caller: Annotated[Caller, Depends(require_scopes("platform"))],
) -> EventBatchResult:
    """Stores the answers and updates each learner's mastery in one transaction.

    A batch with any invalid record is rejected whole (422, naming each record's index and field)
    and nothing of it is stored.
    """
    errors: list[dict] = []
    library = runtime.library
    prepared = []
    horizon = retention_horizon(runtime)
    for i, e in enumerate(batch.events):
        skills = skills_of(e, i, library, errors)
        if horizon is not None and e.timestamp <= horizon:
            errors.append({"type": "too_old", "loc": ("body", "events", i, "timestamp"), "input": e.timestamp.isoformat(),
                           "msg": f"older than the retention period ({runtime.settings.privacy.retention_days} days): "
                                  "raw events that old are no longer kept, so it cannot be applied"})
        prepared.append(
            LearnerEvent(
                event_id=e.event_id, learner=runtime.pseudonym(e.learner_id), kind="answer", occurred_at=e.timestamp,
                source="events", skills=skills, score=e.grade(), item_id=e.item_id,
                lesson_id=library.items[e.item_id][0].id if e.item_id in library.items else None,
                duration_seconds=e.duration_seconds, attempt=e.attempt,
            )
        )
    if errors:
        raise RequestValidationError(errors)
    outcome = record_events(session, prepared, runtime.model)
    session.commit()
    return EventBatchResult(
        stored=outcome.stored,
        duplicates=outcome.duplicates,
        results=[EventResult(event_id=e.event_id, status=st) for e, st in zip(batch.events, outcome.statuses)],
    )


@xapi_router.post("/statements", response_model=list[str], summary="Store xAPI statements (one or an array)")
def post_statements(
    statements: Statements,
    response: Response,
    runtime: RuntimeDep,
    session: SessionDep,
    caller: Annotated[Caller, Depends(require_scopes("platform"))],
    x_experience_api_version: Annotated[str | None, Header(description="xAPI version, 1.0.x")] = None,
) -> list[str]:
    """Returns the statement ids, as a learning record store does. A statement whose id was stored
    before is acknowledged and not applied again; untracked verbs and activities are kept as skipped.
    A body with an invalid statement is rejected whole (422, naming its index and field)."""
    if not x_experience_api_version or not x_experience_api_version.startswith("1.0"):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "Send the header X-Experience-API-Version: 1.0.3 (any 1.0.x is accepted).")
    if not 1 <= len(statements) <= 1000:
        raise HTTPException(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE if statements else status.HTTP_422_UNPROCESSABLE_CONTENT,
                            "Send between 1 and 1,000 statements per request.")
    received = utcnow()
    for s in statements:
        s.id = s.id or uuid.uuid4()
    library = runtime.library
    outside = [s for s in statements if not in_library(s, library)]
    catalog = resolve(session, [s.object.id for s in outside])
    for s in outside:
        if is_graded(s) and s.object.id not in catalog:
            definition = s.object.definition.model_dump(exclude_none=True) if s.object.definition else None
            catalog[s.object.id] = register_from_statement(session, s.object.id, definition, runtime.aligner_if_ready(), runtime.accept_confidence())
    events = [to_event(s, runtime.pseudonym(s.actor.account.name), library, received, catalog) for s in statements]
    record_events(session, events, runtime.model)
    session.commit()
    response.headers["X-Experience-API-Version"] = XAPI_VERSION
    return [str(s.id) for s in statements]
