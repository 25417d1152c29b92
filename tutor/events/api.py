"""How answers arrive: POST /v1/events (batches of graded answers) and POST /v1/xapi/statements (the
learning-record-store door for platforms that speak xAPI)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, model_validator

from tutor.catalog.activities import resolve
from tutor.catalog.imports import register_from_statement
from tutor.clock import Moment, utcnow
from tutor.content.library import Library
from tutor.deps import Caller, RuntimeDep, SessionDep, require_scopes
from tutor.errors import Conflict, Invalid, NotFound
from tutor.events import statements as lrs
from tutor.events.intake import LearnerEvent, record_events
from tutor.events.xapi import OBJECT_TAGS, VERSION, Statement, Statements, activity_of, in_library, is_graded, learner_id, occurred, to_event
from tutor.store.retention_horizon import applied as retention_horizon_applied
from tutor.text import CleanText, JsonBool, LearnerIdText, checked_text, echo_error

router = APIRouter(prefix="/v1/events", tags=["events"])


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


def retention_horizon(runtime, session) -> tuple[datetime | None, str]:
    """Answers at or before this time are refused, and why: their raw events are folded into mastery and deleted
    (by the service's retention period, or by a `tutor retention` run with fewer days), so they could not be replayed in place."""
    days = runtime.settings.privacy.retention_days
    configured = None if days is None else utcnow() - timedelta(days=days)
    applied = retention_horizon_applied(session)
    if applied is not None and (configured is None or applied > configured):
        return applied, (f"at or before {applied.isoformat(timespec='seconds')}, a period retention already folded into mastery and deleted: "
                         "raw events that old are no longer kept, so it cannot be applied")
    return configured, (f"older than the retention period ({days} days): raw events that old are no longer kept, so it cannot be applied")


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
    horizon, why = retention_horizon(runtime, session)
    for i, e in enumerate(batch.events):
        skills = skills_of(e, i, library, errors)
        if horizon is not None and e.timestamp <= horizon:
            errors.append({"type": "too_old", "loc": ("body", "events", i, "timestamp"), "input": e.timestamp.isoformat(), "msg": why})
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


# --- xAPI: the learning record store's statement resource --------------------------------------------------------------------

AUTHORITY_HOMEPAGE = "https://tutor.invalid/keys"
"""The homePage of the `authority` account: the API key (by its prefix) that sent a statement."""
XAPI_VERSIONS = ["1.0.3", "1.0.2", "1.0.1", "1.0.0"]
CONSISTENT = "X-Experience-API-Consistent-Through"
BY_ID_PARAMS = {"statementId", "voidedStatementId", "attachments", "format"}


def _xapi_error(error: dict[str, Any]) -> dict[str, Any]:
    """A validation error as the LRS says it: the union branch pydantic adds to the location left out, and the
    message prefixed with the statement's index and the field's path."""
    loc = [p for p in error.get("loc", ()) if p not in OBJECT_TAGS]
    msg = str(error.get("msg", "")).removeprefix("Value error, ")
    if error.get("type") == "extra_forbidden":
        msg = f"unknown property `{loc[-1]}`: xAPI 1.0.3 does not define it here"
    where = [p for p in loc[1:] if p != "body"]
    index = f"statement {where[0]}, " if where and isinstance(where[0], int) else ""
    path = ".".join(str(p) for p in (where[1:] if index else where)) or "body"
    return echo_error({**error, "loc": loc, "msg": f"{index}{path}: {msg}"})


class XapiRoute(APIRoute):
    """The xAPI routes answer as an LRS does: a refused statement is a 400 (not 422) naming the statement's index
    and field, every response carries X-Experience-API-Version, every GET of statements the consistency header, and a
    request without X-Experience-API-Version 1.0.x is refused (except /about, which says which versions are spoken)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                response = await self._checked(request, handler)
            except RequestValidationError as exc:
                response = JSONResponse({"detail": [_xapi_error(e) for e in exc.errors()]}, status_code=400)
            except HTTPException as exc:
                response = JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
            except (Invalid, Conflict, NotFound) as exc:
                code = 409 if isinstance(exc, Conflict) else 404 if isinstance(exc, NotFound) else 400
                response = JSONResponse({"detail": str(exc)}, status_code=code)
            response.headers["X-Experience-API-Version"] = VERSION
            if request.method in ("GET", "HEAD") and request.url.path.endswith("/statements"):
                response.headers[CONSISTENT] = lrs.stored_time(utcnow())
            return response

        return answer

    @staticmethod
    async def _checked(request: Request, handler: Callable[[Request], Coroutine[Any, Any, Response]]) -> Response:
        if not request.url.path.endswith("/about"):
            version = request.headers.get("X-Experience-API-Version", "")
            if not version.startswith("1.0"):
                raise HTTPException(status.HTTP_400_BAD_REQUEST, "Send the header X-Experience-API-Version: 1.0.3 (any 1.0.x is accepted).")
        if request.headers.get("content-type", "").startswith("multipart/"):
            raise HTTPException(status.HTTP_400_BAD_REQUEST, "multipart/mixed bodies (attachments with their data) are not taken: "
                                                             "send the statements as application/json, attachments by `fileUrl`.")
        return await handler(request)


class XapiProblem(BaseModel):
    """How the LRS refuses a request: a message, or for invalid statements one entry per problem."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"detail": [
        {"type": "value_error", "loc": ["body", 1, "actor"], "msg": "statement 1, actor: an Agent needs exactly one identifier of mbox, mbox_sha1sum, openid, account (found none)"}
    ]}]})

    detail: str | list[dict[str, Any]] = Field(description="What is wrong; for invalid statements, each problem with its location (`body`, the statement's index, the field).")


XAPI_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": XapiProblem, "description": "An invalid statement (naming its index and field), ids repeated in a batch, a missing version header, a bad query."},
    409: {"model": XapiProblem, "description": "A statement id already stored with other content."},
}
xapi_router = APIRouter(prefix="/v1/xapi", tags=["xapi"], route_class=XapiRoute, responses=XAPI_RESPONSES)
XapiCaller = Annotated[Caller, Depends(require_scopes("platform", allow_basic=True))]


def _store(statements: list[Statement], raws: list[dict[str, Any]], runtime, session, caller: Caller) -> list[str]:
    """Check the batch against the store, turn its new statements into events, keep them; returns the ids."""
    batch = lrs.check_batch(session, statements, raws, runtime.pseudonym)
    received = utcnow()
    horizon, why = retention_horizon(runtime, session)
    for i in batch.new:
        if horizon is not None and occurred(statements[i], received) <= horizon:
            raise Invalid(f"statement {i}, timestamp: {why}")
    fresh = [statements[i] for i in batch.new]
    library = runtime.library
    outside = [a for s in fresh if (a := activity_of(s)) is not None and not in_library(s, library) and is_graded(s)]
    catalog = resolve(session, [a.id for a in outside])
    for a in outside:
        if a.id not in catalog:
            definition = a.definition.model_dump(exclude_none=True) if a.definition else None
            catalog[a.id] = register_from_statement(session, a.id, definition, runtime.aligner_if_ready(), runtime.accept_confidence())
    events = {i: to_event(statements[i], runtime.pseudonym(learner_id(statements[i].actor)), library, received, catalog) for i in batch.new}
    authority = lrs.authority_of(caller.name, caller.key_prefix, AUTHORITY_HOMEPAGE)
    lrs.keep(session, batch, events, authority, runtime.pseudonym, received, runtime.model)
    session.commit()
    return batch.ids


def _raws(statements: list[Statement]) -> list[dict[str, Any]]:
    """The statements as sent: pydantic keeps every value as given (timestamps stay strings), so the set fields are the JSON."""
    return [s.model_dump(mode="json", exclude_unset=True) for s in statements]


@xapi_router.post("/statements", response_model=list[str], summary="Store xAPI statements (one or an array)")
def post_statements(statements: Statements, runtime: RuntimeDep, session: SessionDep, caller: XapiCaller) -> list[str]:
    """Returns the statement ids, as a learning record store does. A statement whose id was stored before with
    the same content is acknowledged and not applied again; with other content the batch is refused (409).
    Untracked verbs and activities are kept as skipped. A body with an invalid statement, or with one id twice, is
    refused whole (400, naming the statement's index and field). Credentials: `Authorization: Bearer <key>`, or
    HTTP Basic with the key as the password."""
    if not 1 <= len(statements) <= 1000:
        raise HTTPException(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE if statements else status.HTTP_400_BAD_REQUEST,
                            "Send between 1 and 1,000 statements per request.")
    return _store(statements, _raws(statements), runtime, session, caller)


@xapi_router.put("/statements", status_code=204, response_class=Response, summary="Store one xAPI statement under the id given")
def put_statement(
    statement: Annotated[Statement, Body()],
    runtime: RuntimeDep,
    session: SessionDep,
    caller: XapiCaller,
    statement_id: Annotated[str, Query(alias="statementId", description="The statement's UUID.", max_length=64)],
) -> Response:
    """204 once stored (or when the same statement was stored before); 409 if the id holds another statement."""
    if not lrs.is_uuid(statement_id):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "statementId must be a UUID such as 6f1c2a52-3f0e-4c6b-9a43-6a7b8f0d1e21.")
    if statement.id is not None and statement.id.lower() != statement_id.lower():
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"The statement's id ({statement.id}) differs from statementId ({statement_id}).")
    raws = _raws([statement])
    statement.id = statement_id.lower()
    _store([statement], raws, runtime, session, caller)
    return Response(status_code=204)


@xapi_router.get("/statements", summary="One stored xAPI statement, by statementId or voidedStatementId")
def get_statement(
    request: Request,
    session: SessionDep,
    caller: XapiCaller,
    statement_id: Annotated[str | None, Query(alias="statementId", max_length=64)] = None,
    voided_statement_id: Annotated[str | None, Query(alias="voidedStatementId", max_length=64)] = None,
    format: Annotated[Literal["exact", "ids", "canonical"], Query(description="canonical: one language per language map, as Accept-Language asks")] = "exact",
) -> dict[str, Any]:
    """The statement as stored: as sent, with `stored`, `authority` (the key that sent it) and every agent replaced by
    a pseudonymous account (homePage https://tutor.invalid/pseudonyms, name = the learner's pseudonym). A voided
    statement is returned only by `voidedStatementId`. Queries for many statements (agent, verb, since...) are not served."""
    given = [p for p in (statement_id, voided_statement_id) if p is not None]
    if len(given) != 1:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "Give exactly one of statementId or voidedStatementId: this LRS returns statements by id; "
                                                         "queries for many statements (agent, verb, activity, since...) are not served.")
    extra = sorted(set(request.query_params) - BY_ID_PARAMS)
    if extra:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"With statementId or voidedStatementId only `attachments` and `format` may be given, not {', '.join(extra)}.")
    if not lrs.is_uuid(given[0]):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "The statement id must be a UUID such as 6f1c2a52-3f0e-4c6b-9a43-6a7b8f0d1e21.")
    found = lrs.find(session, given[0], voided=voided_statement_id is not None)
    if found is None:
        what = "voided statement" if voided_statement_id is not None else "statement (or it was voided: ask by voidedStatementId)"
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"No {what} with this id.")
    return lrs.formatted(found, format, lrs.preferred_languages(request.headers.get("Accept-Language")))


xapi_router.add_api_route("/statements", get_statement, methods=["HEAD"], include_in_schema=False)


class About(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"version": ["1.0.3", "1.0.2", "1.0.1", "1.0.0"], "extensions": {}}]})

    version: list[str] = Field(description="The xAPI versions this LRS speaks.")
    extensions: dict[str, Any] = Field(default_factory=dict)


@xapi_router.get("/about", response_model=About, summary="The xAPI versions spoken")
def about() -> About:
    """Public, like /health: xAPI clients ask it before they send a version header or credentials (Communication 2.8),
    and it says nothing but the versions spoken."""
    return About(version=XAPI_VERSIONS)
