"""GET /v1/skills: the skills of the framework, so platforms can map their items to them."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from tutor.deps import Caller, RuntimeDep, require_scopes

router = APIRouter(prefix="/v1/skills", tags=["framework"])


class SkillOut(BaseModel):
    skill_id: str
    competence: str
    competence_name: str
    band: str
    prerequisites: list[str]
    lessons: list[str]


@router.get("", response_model=list[SkillOut], summary="Every skill with its prerequisites and lessons")
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
