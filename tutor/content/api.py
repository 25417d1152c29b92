"""The framework and the lessons: list the skills (GET /v1/skills), read a lesson, or (admin) add or
replace one; every worker sees a change within seconds."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel

from tutor.content.library import LANGUAGES, Lesson
from tutor.deps import Caller, RuntimeDep, SessionDep, require_scopes
from tutor.errors import NotFound
from tutor.privacy import audit

router = APIRouter(tags=["content"])
skills_router = APIRouter(prefix="/v1/skills", tags=["framework"])


class LessonSaved(BaseModel):
    lesson_id: str
    status: Literal["added", "replaced"]
    words: dict[str, int]


@router.post("/v1/content/lessons", response_model=LessonSaved, summary="Add or replace a lesson")
def put_lesson(lesson: Lesson, runtime: RuntimeDep, session: SessionDep, caller: Annotated[Caller, Depends(require_scopes("admin"))]) -> LessonSaved:
    """Checked like the bundled library (known skills, translations, at least 4 items, 300 words per
    language, item ids unique); the question index and the recommender use it at once."""
    existed = lesson.id in runtime.library.lessons
    problems = runtime.add_lesson(lesson)
    if problems:
        raise RequestValidationError([{"type": "content", "loc": ("body", *p.loc), "msg": p.message, "input": None} for p in problems])
    audit.record(session, caller.label, "lesson.replace" if existed else "lesson.add", lesson.id)
    session.commit()
    return LessonSaved(lesson_id=lesson.id, status="replaced" if existed else "added", words={lang: lesson.words(lang) for lang in LANGUAGES})


@router.get("/v1/lessons/{lesson_id}", response_model=Lesson, summary="One lesson in both languages")
def get_lesson(
    lesson_id: Annotated[str, Path(max_length=80)],
    runtime: RuntimeDep,
    caller: Annotated[Caller, Depends(require_scopes("platform", "learner", "admin"))],
) -> Lesson:
    lesson = runtime.library.lessons.get(lesson_id)
    if lesson is None:
        raise NotFound(f"No lesson {lesson_id!r}; GET /v1/skills lists the lessons of each skill.")
    return lesson


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
