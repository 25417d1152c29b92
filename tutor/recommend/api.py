"""What a learner should study next, and the placement quiz for a learner with no answers yet.

GET/POST /v1/learners/{learner_id}/next and POST /v1/learners/{learner_id}/placement.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, Query
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.orm import Session

from tutor.catalog.steps import PlatformCandidates, PlatformStep, activity_ids, known_activities
from tutor.clock import Moment, utcnow
from tutor.deps import Caller, LearnerId, RuntimeDep, SessionDep, learner_for, require_scopes
from tutor.errors import NotFound
from tutor.profiles.profile import audience_of
from tutor.recommend.placement import answer, quiz_progress_for_next
from tutor.recommend.policy import GoalError, Reason, Recommendation, explain, load_state, skill_name
from tutor.runtime import Runtime
from tutor.text import CleanText, JsonBool, checked_text

router = APIRouter(prefix="/v1/learners", tags=["recommendations"])
placement_router = APIRouter(prefix="/v1/learners", tags=["placement"])

MAX_ALLOWED = 2000
LessonId = Annotated[str, Field(max_length=200), checked_text()]


class PlatformStepOut(BaseModel):
    """One of the platform's own lessons or items for a recommended skill, in the platform's course order."""

    skill_id: str = Field(examples=["4.2-basic"])
    activity_id: str = Field(description="The service's id of the imported activity (answers about it name it).")
    platform: str = Field(examples=["openedx"])
    key: str = Field(description="The platform's identifier, to open it there.", examples=["block-v1:OpenedX+DemoX+DemoCourse+type@html+block@030e35c4756a4ddc8d40b95fbbfff4d4"])
    course: str | None
    kind: Literal["lesson", "item"]
    title: str


class RecommendationOut(BaseModel):
    rank: int = Field(description="1 = the best next step.")
    kind: Literal["lesson", "item", "placement"] = Field(description="A lesson to study, an item to practise, or the placement quiz's next question.")
    lesson_id: str | None = Field(description="The bundled lesson, or the imported lesson's activity id (see on_platform).")
    item_id: str | None = Field(description="For kind item and placement (an imported item: its activity id).")
    title: str | None = Field(description="The lesson's title in the requested language (an imported activity: its own title).")
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
    on_platform: PlatformStepOut | None = Field(None, description="For the platform's own (imported) lessons and items, ranked like the bundled ones: where the platform shows it.")


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
    on_platform: list[PlatformStepOut] = Field(
        default_factory=list,
        description="More of the platform's own lessons (or items) on the recommended skills, then on `no_lesson`'s, the first few of each skill in course order; "
                    "within `allowed` when given. (The best of them are ranked in `recommendations` too.)",
    )


class NextRequest(BaseModel):
    """The POST variant, for an `allowed` set too long for a query string."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"goal": "4", "n": 3, "lang": "en", "allowed": ["spotting-scams", "protecting-your-phone"]}]})

    goal: CleanText | None = Field(None, max_length=2000, description="Competence (4.2), domain (4), band (basic) or comma-separated skill ids.")
    n: int = Field(5, ge=1, le=50)
    lang: Literal["vi", "en"] = "vi"
    kind: Literal["lesson", "item"] = "lesson"
    allowed: list[LessonId] | None = Field(
        None, max_length=MAX_ALLOWED, description="Lesson ids, or imported activities (activity ids or platform identifiers), the platform currently allows; answers stay inside."
    )


def _step_out(p: PlatformStep) -> PlatformStepOut:
    return PlatformStepOut(skill_id=p.skill, activity_id=p.activity_id, platform=p.platform, key=p.key, course=p.course, kind=p.kind, title=p.title)


def _out(rec: Recommendation, rank: int, runtime: Runtime, lang: str, max_items: int, answered: int,
         imported: dict[str, PlatformStep] | None = None) -> RecommendationOut:
    lib = runtime.library
    lesson = lib.lessons.get(rec.lesson_id) if rec.lesson_id else None
    step = (imported or {}).get(rec.item_id or rec.lesson_id or "") if rec.on_platform else None
    title = lesson.title.get(lang) if lesson else (step.title if step else None)
    return RecommendationOut(
        rank=rank, kind=rec.kind, lesson_id=rec.lesson_id, item_id=rec.item_id, title=title, on_platform=_step_out(step) if step else None,
        skill_id=rec.skill_id, skill_name=skill_name(lib, rec.skill_id, lang), p_mastered=round(rec.p_mastered, 4),
        p_success=round(rec.p_success, 4), in_zpd=rec.in_zpd, reason=rec.reason, message=explain(rec, lib, lang, max_items, answered),
        expected_gain=round(rec.expected_gain, 4), score=round(rec.score, 4),
        days_since_practice=None if rec.days_since_practice is None else round(rec.days_since_practice, 2),
    )


def next_steps(
    runtime: Runtime, session: Session, caller: Caller, learner_id: str, goal: str | None, n: int, lang: str, kind: Literal["lesson", "item"],
    allowed: list[str] | None, where: str,
) -> NextOut:
    learner = learner_for(runtime, caller, learner_id)
    recommender, placement_cfg = runtime.recommender, runtime.settings.placement
    library, model = runtime.library, runtime.model
    if goal is None and (audience := audience_of(session, learner)) in library.audiences:
        goal = f"audience:{audience}"  # the learner's audience sets the default goal (GET/PUT .../profile)
    errors: list[dict[str, object]] = []
    try:
        goal_obj = recommender.goal(library, model, goal)
    except GoalError as exc:
        errors.append({"type": "invalid_goal", "loc": (where, "goal"), "msg": str(exc), "input": goal})
    policy_allowed: list[str] | None = None
    platform_allowed: set[str] | None = None
    platform_ids: set[str] | None = None
    if allowed is not None:
        allowed = [a.strip() for a in allowed if a.strip()]
        platform_allowed = known_activities(session, [a for a in allowed if a not in library.lessons])
        platform_ids = activity_ids(session, platform_allowed)
        policy_allowed = [a for a in allowed if a in library.lessons] + sorted(platform_ids)
        unknown = [a for a in allowed if a not in library.lessons and a not in platform_allowed]
        if not allowed:
            errors.append({"type": "empty_allowed", "loc": (where, "allowed"), "msg": "allowed is empty; give at least one lesson id, or leave it out", "input": allowed})
        elif unknown:
            shown = ", ".join(unknown[:10]) + (f" and {len(unknown) - 10} more" if len(unknown) > 10 else "")
            errors.append({"type": "unknown_lesson", "loc": (where, "allowed"), "input": unknown[:10],
                           "msg": f"unknown lesson id(s) {shown}; see GET /v1/skills for each skill's lessons (imported activities: their activity id or platform identifier)"})
    if errors:
        raise RequestValidationError(errors)
    now = utcnow()
    state, known = load_state(session, learner, now, recommender.policy, model.next_answer)
    if not known:
        raise NotFound(
            "No events have been received for this learner yet; send some to POST /v1/events, or start the placement quiz "
            "with POST /v1/learners/{learner_id}/placement.",
        )
    if not state.has_evidence and recommender.policy.suggest_placement:
        state.placement = quiz_progress_for_next(session, learner, runtime.placement_model(), platform=True)
    candidates = PlatformCandidates(session, library, kind, platform_ids, kept=runtime.aligned_rows)
    result = recommender.recommend(library, model, state, goal_obj, now, n=n, kind=kind, allowed=policy_allowed, platform=candidates)
    skills_next = list(dict.fromkeys([r.skill_id for r in result.recommendations if r.kind != "placement"] + list(result.no_lesson)))
    steps = candidates.first_steps(skills_next)
    answered = state.placement.answered if state.placement else 0
    outside = _out(result.outside_allowed, 0, runtime, lang, placement_cfg.max_items, 0, candidates.steps) if result.outside_allowed else None
    note = None
    if outside is not None:
        title = outside.title or outside.lesson_id
        note = (f"Bước tốt nhất tiếp theo, bài “{title}”, hiện không nằm trong các bài được phép; đây là lựa chọn tốt nhất trong số đó."
                if lang == "vi" else f"The best next step, “{title}”, is not among the lessons allowed now; these are the best of those allowed.")
    return NextOut(
        model_version=model.version, generated_at=now, goal=goal_obj.query, goal_skills=list(goal_obj.skills),
        goal_mastered=result.goal_mastered, kind=kind,
        recommendations=[_out(r, i + 1, runtime, lang, placement_cfg.max_items, answered, candidates.steps) for i, r in enumerate(result.recommendations)],
        outside_allowed=outside, allowed_note=note, recently_done=result.recently_done, no_lesson=result.no_lesson,
        on_platform=[_step_out(p) for p in steps],
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


class PlacementAnswerIn(BaseModel):
    """The answer to the previous question; send no body (or `{}`) to start or resume the quiz."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"answer_id": "a-1", "item_id": "spotting-scams-3", "correct": True}]},
    )

    answer_id: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$",
                                  description="Client-chosen id of this answer; sending it again is acknowledged and not counted twice.")
    item_id: CleanText | None = Field(None, min_length=1, max_length=128, description="The item answered (normally the `next_item` last returned).")
    correct: JsonBool | None = Field(None, description="Whether the answer was right: true or false (a JSON boolean).")
    answered_at: Moment | None = Field(None, description="When the learner answered: ISO 8601 (UTC when no zone is given), from 2000-01-01T00:00:00Z "
                                                         "to a day past the server's clock; default: now.")

    @model_validator(mode="after")
    def all_or_nothing(self) -> PlacementAnswerIn:
        given = [self.answer_id is not None, self.item_id is not None, self.correct is not None]
        if any(given) and not all(given):
            raise ValueError("give answer_id, item_id and correct together (or none of them to start or resume the quiz)")
        return self


class PlacementItemOut(BaseModel):
    item_id: str = Field(description="A library item, or an imported item's activity id (see on_platform).")
    lesson_id: str | None = Field(description="The library lesson of the item (none for an imported item).")
    skill_id: str
    skill_name: str
    question: str
    options: list[str] = Field(description="Shown in this order; the answer is graded by the client, which has the library (or, for an imported item, the platform).")
    information_bits: float = Field(description="Expected drop of the summed entropy of the skills' mastery, in bits.")
    on_platform: PlatformStepOut | None = Field(None, description="For one of the platform's own (imported) items: where the platform shows it.")


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


@placement_router.post("/{learner_id}/placement", response_model=PlacementOut, summary="Start, resume or answer the placement quiz")
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
    recommender, config = runtime.recommender, runtime.settings.placement
    library = runtime.library
    pm = runtime.placement_model()
    now = utcnow()
    submitted = None
    if body is not None and body.answer_id is not None:
        if body.item_id not in library.items and body.item_id not in pm.platform:
            raise RequestValidationError([{"type": "unknown_item", "loc": ("body", "item_id"), "input": body.item_id,
                                           "msg": f"unknown item {body.item_id!r}; answer an item of the library or an aligned imported item (the quiz's next_item)"}])
        at = body.answered_at or now  # a Moment: already in UTC and checked as it arrives
        assert body.correct is not None  # all_or_nothing: given together with answer_id
        submitted = (body.answer_id, body.item_id, body.correct, at)
    step = answer(session, learner, library, pm, now, submitted, platform=True)
    session.commit()
    nxt = None
    imported = pm.platform.get(step.next_item or "")
    if imported is not None:
        nxt = PlacementItemOut(
            item_id=imported.id, lesson_id=None, skill_id=imported.skills[0], skill_name=skill_name(library, imported.skills[0], lang), question=imported.question,
            options=list(imported.options), information_bits=round(step.information_bits, 4),
            on_platform=PlatformStepOut(skill_id=imported.skills[0], activity_id=imported.id, platform=imported.platform, key=imported.key,
                                        course=imported.course, kind="item", title=imported.question[:200]),
        )
    elif step.next_item:
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
