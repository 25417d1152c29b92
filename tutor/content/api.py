"""The framework and the lessons: list the skills (GET /v1/skills), read a lesson, or (admin) add or
replace one; every worker sees a change within seconds. The framework is also published as CASE 1.0
under /ims/case/v1p0 (CFDocuments, CFPackages, CFItems, CFAssociations), as CASE's REST binding names it."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field

from tutor.content import case
from tutor.content.library import LANGUAGES, Lesson, Text, new_lesson_problems
from tutor.deps import Caller, RuntimeDep, SessionDep, require_scopes
from tutor.errors import NotFound
from tutor.privacy import audit
from tutor.profiles.profile import example_audience

router = APIRouter(tags=["content"])
skills_router = APIRouter(prefix="/v1/skills", tags=["framework"])


class LessonSaved(BaseModel):
    lesson_id: str
    status: Literal["added", "replaced"]
    words: dict[str, int]


@router.post("/v1/content/lessons", response_model=LessonSaved, summary="Add or replace a lesson")
def put_lesson(lesson: Lesson, runtime: RuntimeDep, session: SessionDep, caller: Annotated[Caller, Depends(require_scopes("admin"))]) -> LessonSaved:
    """Checked like the bundled library (known skills, translations, at least 4 items, 300 words per
    language, item ids unique) and, as a new lesson, must carry its licence, authors, review date and
    sources; the question index and the recommender use it at once."""
    existed = lesson.id in runtime.library.lessons
    problems = new_lesson_problems(lesson, f"lesson {lesson.id}") or runtime.add_lesson(lesson)
    if problems:
        raise RequestValidationError([{"type": "content", "loc": ("body", *p.loc), "msg": p.message, "input": None} for p in problems])
    audit.record(session, caller.label, "lesson.replace" if existed else "lesson.add", lesson.id)
    session.commit()
    return LessonSaved(lesson_id=lesson.id, status="replaced" if existed else "added", words={lang: lesson.words(lang) for lang in LANGUAGES})


class LessonExample(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"audience": "workers", "text": {
        "vi": "Một tin nhắn mời **việc nhẹ lương cao** đòi bạn chuyển tiền đặt cọc trước: đó là dấu hiệu lừa đảo.",
        "en": "A message offering **light work, high pay** asks you to transfer a deposit first: that is a sign of a scam.",
    }}]})

    audience: str = Field(description="The audience it is written for (content/audiences.yaml).")
    text: Text = Field(description="One to three sentences, Markdown, in both languages.")


class LessonRead(Lesson):
    """A lesson as a reader gets it: the lesson, with the example for the reader's audience."""

    example: LessonExample | None = Field(None, description="The example for the audience asked for (`audience=`), else for the learner's "
                                                            "own (GET/PUT .../profile); null when there is none or the lesson has none for it.")


@router.get("/v1/lessons/{lesson_id}", response_model=LessonRead, summary="One lesson in both languages")
def get_lesson(
    lesson_id: Annotated[str, Path(max_length=80)],
    runtime: RuntimeDep,
    session: SessionDep,
    caller: Annotated[Caller, Depends(require_scopes("platform", "learner", "admin"))],
    audience: Annotated[str | None, Query(max_length=32, description="An audience whose example to include; a learner key gets its "
                                                                      "learner's own audience without it.")] = None,
) -> LessonRead:
    lesson = runtime.library.lessons.get(lesson_id)
    if lesson is None:
        raise NotFound(f"No lesson {lesson_id!r}; GET /v1/skills lists the lessons of each skill.")
    whose = example_audience(session, runtime.library, audience, caller.learner)
    text = lesson.example_for(whose)
    return LessonRead.model_validate({**dict(lesson), "example": LessonExample(audience=whose, text=text) if whose and text else None})


class SkillOut(BaseModel):
    skill_id: str
    competence: str
    competence_name: str
    band: str
    prerequisites: list[str]
    lessons: list[str]


@skills_router.get("", response_model=list[SkillOut], summary="Every skill with its prerequisites and lessons")
def list_skills(
    runtime: RuntimeDep,
    caller: Annotated[Caller, Depends(require_scopes("platform", "learner", "researcher", "admin"))],
    lang: Literal["vi", "en"] = "vi",
) -> list[SkillOut]:
    lib = runtime.library
    return [
        SkillOut(
            skill_id=s.id, competence=s.competence, competence_name=lib.competences[s.competence].name.get(lang), band=s.band,
            prerequisites=s.prerequisites, lessons=[lesson.id for lesson in lib.lessons_for_skill(s.id)],
        )
        for s in lib.framework.skills
    ]


AnyKey = Annotated[Caller, Depends(require_scopes("platform", "learner", "researcher", "admin"))]
SourcedId = Annotated[str, Path(alias="sourcedId", max_length=64, description="The object's CASE identifier (a UUID).")]


def _published(runtime: RuntimeDep, request: Request) -> case.Publication:
    """The framework as CASE, its URIs on this server, dated by the framework's `revised` date."""
    changed = case.framework_changed_at(runtime.library.framework)
    return case.publish(runtime.library.framework, str(request.base_url), changed)


@router.get(f"{case.BASE_PATH}/CFDocuments", response_model=dict[str, Any], tags=["CASE"], summary="The framework's CFDocument (CASE getAllCFDocuments)")
def case_documents(
    runtime: RuntimeDep, request: Request, response: Response, caller: AnyKey,
    limit: Annotated[int, Query(ge=1)] = 100, offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """`{"CFDocuments": [...]}`: the one document this service publishes; its `identifier` names its
    package at `/ims/case/v1p0/CFPackages/{identifier}`. `X-Total-Count` gives the number of documents;
    `sort`, `orderBy`, `filter` and `fields` are not supported."""
    documents = [_published(runtime, request).document]
    response.headers["X-Total-Count"] = str(len(documents))
    return {"CFDocuments": documents[offset:offset + limit]}


@router.get(f"{case.BASE_PATH}/CFDocuments/{{sourcedId}}", response_model=dict[str, Any], tags=["CASE"], summary="One CFDocument (CASE getCFDocument)")
def case_document(sourced_id: SourcedId, runtime: RuntimeDep, request: Request, caller: AnyKey) -> dict[str, Any]:
    return _published(runtime, request).get_document(sourced_id)


@router.get(f"{case.BASE_PATH}/CFPackages/{{sourcedId}}", response_model=dict[str, Any], tags=["CASE"], summary="The framework as a CASE CFPackage (CASE getCFPackage)")
def case_package(sourced_id: SourcedId, runtime: RuntimeDep, request: Request, caller: AnyKey) -> dict[str, Any]:
    """The CFDocument with every CFItem (domains, competences, bands, levels, skills) and CFAssociation
    (isChildOf, hasSkillLevel, precedes from the skills' prerequisites); identifiers never change."""
    return _published(runtime, request).get_package(sourced_id)


@router.get(f"{case.BASE_PATH}/CFItems/{{sourcedId}}", response_model=dict[str, Any], tags=["CASE"], summary="One CFItem (CASE getCFItem)")
def case_item(sourced_id: SourcedId, runtime: RuntimeDep, request: Request, caller: AnyKey) -> dict[str, Any]:
    return _published(runtime, request).get_item(sourced_id)


@router.get(f"{case.BASE_PATH}/CFAssociations/{{sourcedId}}", response_model=dict[str, Any], tags=["CASE"], summary="One CFAssociation (CASE getCFAssociation)")
def case_association(sourced_id: SourcedId, runtime: RuntimeDep, request: Request, caller: AnyKey) -> dict[str, Any]:
    return _published(runtime, request).get_association(sourced_id)
