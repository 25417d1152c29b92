"""POST /v1/learners/{learner_id}/placement: the adaptive placement quiz for a learner with no answers yet."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, HTTPException
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, model_validator

from tutor.deps import Caller, RuntimeDep, SessionDep, require_scopes
from tutor.tracing.api import LearnerId, learner_for
from tutor.recommend.api import recommender_for
from tutor.recommend.placement import PlacementRefused, answer
from tutor.recommend.policy import skill_name
from tutor.store.tables import utcnow

router = APIRouter(prefix="/v1/learners", tags=["placement"])

MAX_FUTURE = timedelta(days=1)


class PlacementAnswerIn(BaseModel):
    """The answer to the previous question; send no body (or `{}`) to start or resume the quiz."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"answer_id": "a-1", "item_id": "spotting-scams-3", "correct": True}]},
    )

    answer_id: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$",
                                  description="Client-chosen id of this answer; sending it again is acknowledged and not counted twice.")
    item_id: str | None = Field(None, min_length=1, max_length=128, description="The item answered (normally the `next_item` last returned).")
    correct: bool | None = None
    answered_at: datetime | None = Field(None, description="When the learner answered (UTC when no zone is given); default: now.")

    @model_validator(mode="after")
    def all_or_nothing(self) -> "PlacementAnswerIn":
        given = [self.answer_id is not None, self.item_id is not None, self.correct is not None]
        if any(given) and not all(given):
            raise ValueError("give answer_id, item_id and correct together (or none of them to start or resume the quiz)")
        return self


class PlacementItemOut(BaseModel):
    item_id: str
    lesson_id: str
    skill_id: str
    skill_name: str
    question: str
    options: list[str] = Field(description="Shown in this order; the answer is graded by the client, which has the library.")
    information_bits: float = Field(description="Expected drop of the summed entropy of the skills' mastery, in bits.")


class PlacementSkillOut(BaseModel):
    skill_id: str
    p_mastered: float
    mastered: bool


class PlacementOut(BaseModel):
    status: Literal["in_progress", "complete"]
    answered: int
    max_items: int
    duplicate: bool = Field(description="The answer id was already recorded; nothing was counted again.")
    next_item: PlacementItemOut | None
    mastery: list[PlacementSkillOut] | None = Field(
        None, description="When this call completed the quiz: the mastery written for every skill of the framework."
    )
    message: str


@router.post("/{learner_id}/placement", response_model=PlacementOut, summary="Start, resume or answer the placement quiz")
def post_placement(
    learner_id: LearnerId,
    runtime: RuntimeDep,
    session: SessionDep,
    caller: Annotated[Caller, Depends(require_scopes("platform", "learner"))],
    body: Annotated[PlacementAnswerIn | None, Body()] = None,
    lang: Literal["vi", "en"] = "vi",
) -> PlacementOut:
    """Post nothing to get the first question (or the current one), then each answer to get the next,
    until `status` is `complete` (at most `max_items` questions). The quiz's state is read from the
    stored answers on every call, so any worker can serve any call. On completion the mastery of every
    skill is initialised, in the same transaction as the last answer."""
    learner = learner_for(runtime, caller, learner_id)
    recommender, config = recommender_for(runtime)
    library = runtime.library
    now = utcnow()
    submitted = None
    if body is not None and body.answer_id is not None:
        if body.item_id not in library.items:
            raise RequestValidationError([{"type": "unknown_item", "loc": ("body", "item_id"), "msg": f"unknown item {body.item_id!r}; answer an item of the library (the quiz's next_item)", "input": body.item_id}])
        at = body.answered_at or now
        at = at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at.astimezone(timezone.utc)
        if at > now + MAX_FUTURE:
            raise RequestValidationError([{"type": "future", "loc": ("body", "answered_at"), "msg": "`answered_at` is more than a day in the future", "input": str(body.answered_at)}])
        submitted = (body.answer_id, body.item_id, body.correct, at)
    try:
        step = answer(session, learner, library, runtime.model, config, now, submitted)
    except PlacementRefused as exc:
        session.rollback()
        raise HTTPException(exc.status, str(exc)) from None
    session.commit()
    nxt = None
    if step.next_item:
        lesson, item = library.items[step.next_item]
        nxt = PlacementItemOut(
            item_id=item.id, lesson_id=lesson.id, skill_id=item.skills[0], skill_name=skill_name(library, item.skills[0], lang),
            question=item.question.get(lang), options=item.options.get(lang), information_bits=round(step.information_bits, 4),
        )
    mastery = None
    if step.completed_now and step.estimate:
        lo, hi = config.clip, 1 - config.clip
        T = recommender.policy.mastery_threshold
        mastery = [PlacementSkillOut(skill_id=s, p_mastered=round(min(hi, max(lo, p)), 4), mastered=min(hi, max(lo, p)) >= T) for s, p in step.estimate.items()]
    vi = lang == "vi"
    if step.status == "complete":
        message = ("Đã xong bài kiểm tra xếp lớp; xem bước tiếp theo tại GET /v1/learners/{learner_id}/next."
                   if vi else "The placement quiz is complete; see GET /v1/learners/{learner_id}/next for what to study.")
    else:
        message = (f"Câu {step.answered + 1} (tối đa {step.max_items})." if vi else f"Question {step.answered + 1} of at most {step.max_items}.")
    return PlacementOut(status=step.status, answered=step.answered, max_items=step.max_items, duplicate=step.duplicate, next_item=nxt, mastery=mastery, message=message)
