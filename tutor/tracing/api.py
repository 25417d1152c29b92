"""What the tracer believes a learner has mastered (GET /v1/learners/{learner_id}/mastery), and which model it uses."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlalchemy import select

from tutor.content import case
from tutor.deps import Caller, LearnerId, RuntimeDep, SessionDep, learner_for, require_scopes
from tutor.errors import NotFound
from tutor.privacy import audit
from tutor.store.tables import Learner, Mastery
from tutor.text import CleanText
from tutor.tracing.mastery import mastery_report

router = APIRouter(prefix="/v1/learners", tags=["learners"])
admin_router = APIRouter(prefix="/v1/admin", tags=["admin"])
Admin = Annotated[Caller, Depends(require_scopes("admin"))]


class ActivateRequest(BaseModel):
    artefact: CleanText = Field(min_length=1, max_length=200, examples=["bkt-synthetic-v1"], description="A directory under models/.")


class ActiveModel(BaseModel):
    artefact: str
    version: str
    skills_with_fitted_parameters: int


class SkillMasteryOut(BaseModel):
    skill_id: str = Field(examples=["4.2-basic"])
    case_id: str = Field(description="The skill's CASE CFItem identifier (GET /ims/case/v1p0/CFItems/{id}), for mapping to a platform's own tags.")
    competence: str
    band: str
    p_mastered: float = Field(description="P(mastered) from Bayesian Knowledge Tracing.")
    mastered: bool = Field(description="p_mastered at or above the mastery threshold.")
    n_observations: int
    updated_at: datetime | None


class CompetenceMasteryOut(BaseModel):
    code: str = Field(examples=["4.2"])
    case_id: str = Field(description="The competence's CASE CFItem identifier.")
    name: str
    domain: str
    p_mastered: float = Field(description="Mean P(mastered) over the competence's skills.")
    level: int | None = Field(description="Estimated proficiency level 1-8; null below level 1.")
    level_code: str | None = Field(description="CB1, CB2, TC1, TC2, NC1, NC2, CS1 or CS2.")


class DomainMasteryOut(BaseModel):
    code: str
    name: str
    p_mastered: float


class MasteryOut(BaseModel):
    model_version: str
    mastery_threshold: float
    skills: list[SkillMasteryOut]
    competences: list[CompetenceMasteryOut]
    domains: list[DomainMasteryOut]


@router.get("/{learner_id}/mastery", response_model=MasteryOut, summary="A learner's mastery of every skill")
def get_mastery(
    learner_id: LearnerId,
    runtime: RuntimeDep,
    session: SessionDep,
    caller: Annotated[Caller, Depends(require_scopes("platform", "learner"))],
    lang: Literal["vi", "en"] = "vi",
) -> MasteryOut:
    learner = learner_for(runtime, caller, learner_id)
    if session.get(Learner, learner) is None:
        raise NotFound("No events have been received for this learner yet; send some to POST /v1/events.")
    rows = {m.skill_id: (m.p_mastered, m.n_observations, m.updated_at) for m in session.scalars(select(Mastery).where(Mastery.learner_id == learner))}
    library = runtime.library
    report = mastery_report(library, runtime.model, rows, runtime.settings.tracing.mastery_threshold)
    return MasteryOut(
        model_version=runtime.model.version,
        mastery_threshold=runtime.settings.tracing.mastery_threshold,
        skills=[SkillMasteryOut(**vars(s), case_id=case.identifier(f"skill:{s.skill_id}")) for s in report.skills],
        competences=[
            CompetenceMasteryOut(**vars(c), name=library.competences[c.code].name.get(lang), case_id=case.identifier(f"competence:{c.code}")) for c in report.competences
        ],
        domains=[DomainMasteryOut(**vars(d), name=library.domains[d.code].name.get(lang)) for d in report.domains],
    )


@admin_router.get("/models", response_model=ActiveModel, summary="The active mastery model")
def active_model(runtime: RuntimeDep, caller: Admin) -> ActiveModel:
    return ActiveModel(artefact=runtime.model_name, version=runtime.model.version, skills_with_fitted_parameters=len(runtime.model.skills))


@admin_router.post("/models/activate", response_model=ActiveModel, summary="Switch the mastery model without a restart")
def activate(body: ActivateRequest, runtime: RuntimeDep, session: SessionDep, caller: Admin) -> ActiveModel:
    """The artefact is loaded and checked first; a broken one is refused with the reason and the
    active model stays. Requests in flight finish on the model they started with."""
    model = runtime.activate_model(body.artefact)
    audit.record(session, caller.label, "model.activate", f"{body.artefact} version={model.version}")
    session.commit()
    return ActiveModel(artefact=body.artefact, version=model.version, skills_with_fitted_parameters=len(model.skills))
