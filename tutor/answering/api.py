"""POST /v1/ask: a learner's question answered from the lessons (bundled or imported from the platform),
quoted and cited, or honestly not."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select

from tutor.catalog.documents import where_shown
from tutor.deps import Caller, RuntimeDep, SessionDep, learner_for, require_scopes
from tutor.errors import Invalid
from tutor.store.tables import Mastery
from tutor.text import CleanText, LearnerIdText

router = APIRouter(prefix="/v1", tags=["questions"])


class Question(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"question": "lam sao biet tin nhan ngan hang la lua dao", "lang": "vi", "current_lesson": "spotting-scams"}]},
    )

    question: CleanText = Field(min_length=1, max_length=1000, description="In Vietnamese (with or without diacritics) or English.")
    lang: Literal["vi", "en"] | None = Field(None, description="The learner's language; detected from the question when absent.")
    learner_id: LearnerIdText | None = Field(None, description="Lets the learner's weak skills break ties; the question is not stored with it.")
    current_lesson: CleanText | None = Field(None, max_length=80, description="The lesson the learner is on; breaks ties.")

    @field_validator("question")
    @classmethod
    def not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("the question is empty")
        return v


class OnPlatform(BaseModel):
    """Where the platform shows an imported lesson (absent for the bundled library's lessons)."""

    platform: str = Field(examples=["openedx"])
    key: str = Field(description="The platform's identifier of the activity.", examples=["block-v1:OpenedX+DemoX+DemoCourse+type@html+block@030e35c4756a4ddc8d40b95fbbfff4d4"])
    course: str | None = Field(examples=["course-v1:OpenedX+DemoX+DemoCourse"])
    url: str | None = Field(description="A link to it on the platform, when TUTOR_CATALOG_LMS_URL is set (Open edX).")


class Passage(BaseModel):
    lesson_id: str
    lesson_title: str
    section: int = Field(description="Index of the section in the lesson; -1 for the lesson's objectives.")
    heading: str
    lang: Literal["vi", "en"]
    text: str
    score: float
    on_platform: OnPlatform | None = None


class LessonToStudy(BaseModel):
    lesson_id: str
    title: str
    lang: Literal["vi", "en"]
    score: float
    skills: list[str]
    on_platform: OnPlatform | None = None


class AnswerOut(BaseModel):
    answered: bool = Field(description="False when the lessons do not clearly answer it; then `answer` is null and `lessons` are the closest.")
    answer: str | None = Field(description="Sentences quoted from the best passage, never generated.")
    answer_lang: Literal["vi", "en"] | None = Field(description="Language of the quote; may differ from the question's when only the other language answers.")
    source: Passage | None = Field(description="Where the quote comes from.")
    passages: list[Passage]
    lessons: list[LessonToStudy]
    question_lang: Literal["vi", "en"]
    question_form: Literal["vi", "vi_nodiac", "en"]
    evidence: float
    threshold: float = Field(description="Evidence below this abstains (calibrated on content/eval; see README).")


@router.post("/ask", response_model=AnswerOut, summary="Answer a learner's question from the lessons")
def ask(
    body: Question,
    runtime: RuntimeDep,
    session: SessionDep,
    caller: Annotated[Caller, Depends(require_scopes("learner", "platform"))],
) -> AnswerOut:
    if body.current_lesson is not None and body.current_lesson not in runtime.library.lessons:
        raise Invalid(f"current_lesson {body.current_lesson!r} is not a lesson of the library.")
    weak: list[str] = []
    if body.learner_id is not None:
        learner = learner_for(runtime, caller, body.learner_id)
        threshold = runtime.settings.tracing.mastery_threshold
        weak = list(session.scalars(select(Mastery.skill_id).where(Mastery.learner_id == learner, Mastery.p_mastered < threshold)))
    answer = runtime.help_desk().ask(body.question, lang=body.lang, current_lesson=body.current_lesson, weak_skills=weak)
    data = answer.to_dict()
    data.pop("question")
    data.pop("timings_ms")
    cited = [p for p in (data.get("source"), *data["passages"], *data["lessons"]) if p]
    shown = where_shown(session, [p["lesson_id"] for p in cited], runtime.settings.catalog.lms_url)
    for p in cited:
        if p["lesson_id"] in shown:
            p["on_platform"] = vars(shown[p["lesson_id"]])
    return AnswerOut(**data)
