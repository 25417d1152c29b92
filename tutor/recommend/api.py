"""GET/POST /v1/learners/{learner_id}/next: what a learner should study next, and why."""

from __future__ import annotations

import threading
import weakref
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field

from tutor.deps import Caller, RuntimeDep, SessionDep, require_scopes
from tutor.tracing.api import LearnerId, learner_for
from tutor.recommend.placement import PlacementConfig, quiz_progress_for_next
from tutor.recommend.policy import GoalError, Policy, Recommendation, Recommender, explain, load_state, skill_name
from tutor.runtime import Runtime
from tutor.store.tables import utcnow

router = APIRouter(prefix="/v1/learners", tags=["recommendations"])

MAX_ALLOWED = 2000
Reason = Literal["ready", "review", "remediate", "placement"]

_recommenders: "weakref.WeakKeyDictionary[Runtime, tuple[Recommender, PlacementConfig]]" = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def recommender_for(runtime: Runtime) -> tuple[Recommender, PlacementConfig]:
    """One recommender per runtime, with the policy read from the environment once."""
    with _lock:
        found = _recommenders.get(runtime)
        if found is None:
            policy = Policy.from_env(mastery_threshold=runtime.settings.mastery_threshold)
            found = _recommenders[runtime] = (Recommender(policy), PlacementConfig.from_env())
        return found


class RecommendationOut(BaseModel):
    rank: int = Field(description="1 = the best next step.")
    kind: Literal["lesson", "item", "placement"] = Field(description="A lesson to study, an item to practise, or the placement quiz's next question.")
    lesson_id: str | None
    item_id: str | None = Field(description="For kind item and placement.")
    title: str | None = Field(description="The lesson's title in the requested language.")
    skill_id: str = Field(examples=["4.2-basic"])
    skill_name: str
    p_mastered: float = Field(description="Current P(mastered) of the skill, after forgetting since its last practice.")
    p_success: float = Field(description="Predicted chance of answering the lesson's items (or this item) correctly.")
    in_zpd: bool = Field(description="p_success lies in the policy's target band (zone of proximal development).")
    reason: Reason = Field(description="ready | review | remediate | placement")
    message: str = Field(description="Why, in a sentence the learner can read, in the requested language.")
    expected_gain: float = Field(description="Expected rise in P(known) of the skill from this step (BKT).")
    score: float = Field(description="The ranking score (higher first).")
    days_since_practice: float | None


class NextOut(BaseModel):
    model_version: str
    generated_at: datetime
    goal: str = Field(description="The goal as asked (default: the basic band of the whole framework).")
    goal_skills: list[str]
    goal_mastered: bool = Field(description="Every goal skill is mastered and none is due for review.")
    kind: Literal["lesson", "item"]
    recommendations: list[RecommendationOut]
    outside_allowed: RecommendationOut | None = Field(
        None, description="With `allowed`: the best next step overall when it is not in the allowed set (null otherwise)."
    )
    allowed_note: str | None = Field(None, description="A sentence saying the best step lies outside the allowed lessons.")
    recently_done: list[str] = Field(description="Lessons studied or answered in the recent window, so not proposed again now.")
    no_lesson: list[str] = Field(description="Skills that are next in line but that no lesson (in the allowed set) teaches.")


class NextRequest(BaseModel):
    """The POST variant, for an `allowed` set too long for a query string."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"goal": "4", "n": 3, "lang": "en", "allowed": ["spotting-scams", "protecting-your-phone"]}]})

    goal: str | None = Field(None, max_length=2000, description="Competence (4.2), domain (4), band (basic) or comma-separated skill ids.")
    n: int = Field(5, ge=1, le=50)
    lang: Literal["vi", "en"] = "vi"
    kind: Literal["lesson", "item"] = "lesson"
    allowed: list[str] | None = Field(None, max_length=MAX_ALLOWED, description="Lesson ids the platform currently allows; answers stay inside.")


def _out(rec: Recommendation, rank: int, runtime: Runtime, lang: str, max_items: int, answered: int) -> RecommendationOut:
    lib = runtime.library
    lesson = lib.lessons.get(rec.lesson_id) if rec.lesson_id else None
    return RecommendationOut(
        rank=rank, kind=rec.kind, lesson_id=rec.lesson_id, item_id=rec.item_id, title=lesson.title.get(lang) if lesson else None,
        skill_id=rec.skill_id, skill_name=skill_name(lib, rec.skill_id, lang), p_mastered=round(rec.p_mastered, 4),
        p_success=round(rec.p_success, 4), in_zpd=rec.in_zpd, reason=rec.reason, message=explain(rec, lib, lang, max_items, answered),
        expected_gain=round(rec.expected_gain, 4), score=round(rec.score, 4),
        days_since_practice=None if rec.days_since_practice is None else round(rec.days_since_practice, 2),
    )


def next_steps(
    runtime: Runtime, session, caller: Caller, learner_id: str, goal: str | None, n: int, lang: str, kind: str,
    allowed: list[str] | None, where: str,
) -> NextOut:
    learner = learner_for(runtime, caller, learner_id)
    recommender, placement_cfg = recommender_for(runtime)
    library, model = runtime.library, runtime.model
    errors = []
    try:
        goal_obj = recommender.goal(library, model, goal)
    except GoalError as exc:
        errors.append({"type": "invalid_goal", "loc": (where, "goal"), "msg": str(exc), "input": goal})
    if allowed is not None:
        allowed = [a.strip() for a in allowed if a.strip()]
        unknown = [a for a in allowed if a not in library.lessons]
        if not allowed:
            errors.append({"type": "empty_allowed", "loc": (where, "allowed"), "msg": "allowed is empty; give at least one lesson id, or leave it out", "input": allowed})
        elif unknown:
            shown = ", ".join(unknown[:10]) + (f" and {len(unknown) - 10} more" if len(unknown) > 10 else "")
            errors.append({"type": "unknown_lesson", "loc": (where, "allowed"), "msg": f"unknown lesson id(s) {shown}; see GET /v1/skills for each skill's lessons", "input": unknown[:10]})
    if errors:
        raise RequestValidationError(errors)
    now = utcnow()
    state, known = load_state(session, learner, now, recommender.policy)
    if not known:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            "No events have been received for this learner yet; send some to POST /v1/events, or start the placement quiz "
            "with POST /v1/learners/{learner_id}/placement.",
        )
    if not state.has_evidence and recommender.policy.suggest_placement:
        state.placement = quiz_progress_for_next(session, learner, library, model, placement_cfg)
    result = recommender.recommend(library, model, state, goal_obj, now, n=n, kind=kind, allowed=allowed)
    answered = state.placement.answered if state.placement else 0
    outside = _out(result.outside_allowed, 0, runtime, lang, placement_cfg.max_items, 0) if result.outside_allowed else None
    note = None
    if outside is not None:
        title = outside.title or outside.lesson_id
        note = (f"Bước tốt nhất tiếp theo, bài “{title}”, hiện không nằm trong các bài được phép; đây là lựa chọn tốt nhất trong số đó."
                if lang == "vi" else f"The best next step, “{title}”, is not among the lessons allowed now; these are the best of those allowed.")
    return NextOut(
        model_version=model.version, generated_at=now, goal=goal_obj.query, goal_skills=list(goal_obj.skills),
        goal_mastered=result.goal_mastered, kind=kind,
        recommendations=[_out(r, i + 1, runtime, lang, placement_cfg.max_items, answered) for i, r in enumerate(result.recommendations)],
        outside_allowed=outside, allowed_note=note, recently_done=result.recently_done, no_lesson=result.no_lesson,
    )


@router.get("/{learner_id}/next", response_model=NextOut, summary="What the learner should study next")
def get_next(
    learner_id: LearnerId,
    runtime: RuntimeDep,
    session: SessionDep,
    caller: Annotated[Caller, Depends(require_scopes("platform", "learner"))],
    goal: Annotated[str | None, Query(max_length=2000, description="Competence (4.2), domain (4), band (basic) or comma-separated skill ids; default: basic.")] = None,
    n: Annotated[int, Query(ge=1, le=50)] = 5,
    lang: Literal["vi", "en"] = "vi",
    kind: Literal["lesson", "item"] = "lesson",
    allowed: Annotated[str | None, Query(max_length=20_000, description="Comma-separated lesson ids the platform allows now.")] = None,
) -> NextOut:
    """A ranked list of lessons (or, with `kind=item`, practice items), each with its skill, the learner's
    current mastery, the predicted success and a reason (code and sentence).

    Learners never seen (no events, no placement) get 404, as for the mastery route."""
    return next_steps(runtime, session, caller, learner_id, goal, n, lang, kind, None if allowed is None else allowed.split(","), "query")


@router.post("/{learner_id}/next", response_model=NextOut, summary="What to study next, with the allowed lessons in the body")
def post_next(
    learner_id: LearnerId,
    body: NextRequest,
    runtime: RuntimeDep,
    session: SessionDep,
    caller: Annotated[Caller, Depends(require_scopes("platform", "learner"))],
) -> NextOut:
    """As GET, reading no state change; the POST only carries a long `allowed` list."""
    return next_steps(runtime, session, caller, learner_id, body.goal, body.n, body.lang, body.kind, body.allowed, "body")
