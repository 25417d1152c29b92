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
    current_lesson: CleanText | None = Field(
        None, max_length=80, description="The lesson the learner is on: breaks ties, and a question that is one of its quiz items gets a hint, not the key."
    )
    placement: bool = Field(False, description="The learner is taking the placement quiz: a question that is one of its items gets a hint, not the key.")

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
    link: str = Field("", description="The whole section on the learner pages.", examples=["/learn/lessons/vneid-basics#section-3"])
    on_platform: OnPlatform | None = None


class Channel(BaseModel):
    """Where the closest lesson says to ask (quoted from it), for a question the lessons do not answer."""

    text: str = Field(examples=["Nếu gặp khó khăn, hãy nhờ con cháu hoặc hỏi trực tiếp cán bộ công an xã, phường."])
    lesson_id: str
    section: int
    lang: Literal["vi", "en"]
    link: str


class LessonToStudy(BaseModel):
    lesson_id: str
    title: str
    lang: Literal["vi", "en"]
    score: float
    skills: list[str]
    on_platform: OnPlatform | None = None


class AnswerOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "answered": True, "mode": "answer", "question_kind": "how",
        "answer": "Cách làm thường như sau:\n1. Trên trang dịch vụ công, bấm Đăng nhập ...\n2. ...\n3. ...",
        "answer_lang": "vi", "hint": None, "official_channel": None, "question_lang": "vi", "question_form": "vi_nodiac",
    }]})

    answered: bool = Field(description="False when the lessons do not clearly answer it; then `answer` is null and `lessons` are the closest.")
    mode: Literal["answer", "hint", "not_in_lessons"] = Field(
        description="answer: a quote; hint: the question is a quiz item the learner is being tested on, so `hint` says where to look, not the key; "
        "not_in_lessons: the closest `lessons` and, where a lesson names one, the `official_channel`."
    )
    question_kind: Literal["how", "what", "why", "where", "whether", "todo", "fact"] = Field(description="What the question asks for; decides the unit quoted.")
    answer: str | None = Field(description="A whole unit quoted from the lesson section (a list of steps, a definition and its example...), never generated, "
                               "about 80 words at most (a list of steps is never cut); `source.link` opens the whole section.")
    hint: str | None = Field(None, description="For a quiz question: the section to re-read and why; never the key.")
    quiz_item: str | None = Field(None, description="The quiz item the question matched (mode hint).")
    official_channel: Channel | None = Field(None, description="When not answered: where the closest lesson says to ask.")
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
    answer = runtime.help_desk().ask(body.question, lang=body.lang, current_lesson=body.current_lesson, weak_skills=weak, placement=body.placement)
    data = answer.to_dict()
    for internal in ("question", "timings_ms", "support"):
        data.pop(internal)
    cited = [p for p in (data.get("source"), *data["passages"], *data["lessons"]) if p]
    shown = where_shown(session, [p["lesson_id"] for p in cited], runtime.settings.catalog.lms_url)
    for p in cited:
        if p["lesson_id"] in shown:
            p["on_platform"] = vars(shown[p["lesson_id"]])
    return AnswerOut(**data)
