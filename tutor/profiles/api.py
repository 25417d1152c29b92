"""GET/PUT /v1/learners/{learner_id}/profile: the learner's audience and the default goal it gives `/next`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from tutor.clock import utcnow
from tutor.deps import Caller, LearnerId, RuntimeDep, SessionDep, learner_for, require_scopes
from tutor.profiles import profile
from tutor.runtime import Runtime

router = APIRouter(prefix="/v1/learners", tags=["learners"])
Reader = Annotated[Caller, Depends(require_scopes("platform", "learner"))]


class ProfileIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"audience": "citizens"}, {"audience": None}]})

    audience: str | None = Field(description="officials, students, workers or citizens (content/audiences.yaml); null clears it.")


class ProfileOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "audience": "citizens", "name": "Người dân", "description": "Mọi người dân, nghĩ trước hết đến người cao tuổi và bà con nông dân: ...",
        "goal": {"1.1": 2, "4.2": 2}, "goal_skills": ["1.1-basic", "4.2-basic"], "set_by": "platform", "set_at": "2026-12-07T08:00:00Z",
        "audiences": ["officials", "students", "workers", "citizens"],
    }]})

    audience: str | None = Field(description="null: no audience yet; /next then uses the service's default goal.")
    name: str | None
    description: str | None
    goal: dict[str, int] = Field(description="The audience's default goal: competence → target level (1-8).")
    goal_skills: list[str] = Field(description="The skills that goal stands for; GET /next without `goal` aims at them.")
    set_by: str | None = Field(description="learner, platform or lti (from the launch's roles).")
    set_at: datetime | None
    audiences: list[str] = Field(description="The audiences one can choose.")


def _out(runtime: Runtime, p: profile.Profile, lang: str) -> ProfileOut:
    library = runtime.library
    a = library.audiences.get(p.audience) if p.audience else None
    return ProfileOut(
        audience=p.audience, name=a.name.get(lang) if a else None, description=a.description.get(lang) if a else None,
        goal=dict(a.goal) if a else {}, goal_skills=list(library.audience_goal(a.id)) if a else [],
        set_by=p.set_by, set_at=p.set_at, audiences=list(library.audiences),
    )


@router.get("/{learner_id}/profile", response_model=ProfileOut, summary="The learner's audience and its default goal")
def get_profile(learner_id: LearnerId, runtime: RuntimeDep, session: SessionDep, caller: Reader, lang: Literal["vi", "en"] = "vi") -> ProfileOut:
    """404 for a learner never seen (as for mastery)."""
    return _out(runtime, profile.read(session, learner_for(runtime, caller, learner_id)), lang)


@router.put("/{learner_id}/profile", response_model=ProfileOut, summary="Set the learner's audience")
def put_profile(
    learner_id: LearnerId, body: ProfileIn, runtime: RuntimeDep, session: SessionDep, caller: Reader, lang: Literal["vi", "en"] = "vi",
) -> ProfileOut:
    """A learner key sets its own learner's audience; a platform key any learner's (creating the learner if new).
    An unknown audience is a 422 naming the ones there are."""
    learner = learner_for(runtime, caller, learner_id)
    set_by: profile.SetBy = "platform" if caller.scopes & {"platform", "admin"} else "learner"
    saved = profile.write(session, runtime.library, learner, body.audience, set_by, utcnow())
    session.commit()
    return _out(runtime, saved, lang)
