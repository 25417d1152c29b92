"""GET /v1/learners/{learner_id}/mastery: what the tracer believes a learner has mastered."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, status
from pydantic import BaseModel, Field
from sqlalchemy import select

from tutor.deps import Caller, RuntimeDep, SessionDep, require_scopes
from tutor.privacy.learner_rights import erase, export
from tutor.tracing.mastery import mastery_report
from tutor.runtime import Runtime
from tutor.store.tables import Learner, Mastery

router = APIRouter(prefix="/v1/learners", tags=["learners"])

LearnerId = Annotated[str, Path(min_length=1, max_length=256, description="The platform's learner id (pseudonymised before any lookup).")]


class SkillMasteryOut(BaseModel):
    skill_id: str = Field(examples=["4.2-basic"])
    competence: str
    band: str
    p_mastered: float = Field(description="P(mastered) from Bayesian Knowledge Tracing.")
    mastered: bool = Field(description="p_mastered at or above the mastery threshold.")
    n_observations: int
    updated_at: datetime | None


class CompetenceMasteryOut(BaseModel):
    code: str = Field(examples=["4.2"])
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


def learner_for(runtime: Runtime, caller: Caller, learner_id: str) -> str:
    """The pseudonym of a learner the caller may read; learner keys read only their own learner."""
    learner = runtime.pseudonym(learner_id)
    if not caller.scopes & {"platform", "admin"} and caller.learner != learner:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "A learner key can read only its own learner's data.")
    return learner


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
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No events have been received for this learner yet; send some to POST /v1/events.")
    rows = {m.skill_id: (m.p_mastered, m.n_observations, m.updated_at) for m in session.scalars(select(Mastery).where(Mastery.learner_id == learner))}
    library = runtime.library
    report = mastery_report(library, runtime.model, rows, runtime.settings.mastery_threshold)
    return MasteryOut(
        model_version=runtime.model.version,
        mastery_threshold=runtime.settings.mastery_threshold,
        skills=[SkillMasteryOut(**vars(s)) for s in report.skills],
        competences=[CompetenceMasteryOut(**vars(c), name=library.competences[c.code].name.get(lang)) for c in report.competences],
        domains=[DomainMasteryOut(**vars(d), name=library.domains[d.code].name.get(lang)) for d in report.domains],
    )


class ExportedEvent(BaseModel):
    event_id: str
    kind: str
    item_id: str | None
    lesson_id: str | None
    skills: list[str]
    score: float | None
    occurred_at: datetime
    duration_seconds: float | None
    attempt: int | None
    source: str
    verb: str | None
    skip_reason: str | None
    received_at: datetime


class ExportedMastery(BaseModel):
    skill_id: str
    p_mastered: float
    n_observations: int
    updated_at: datetime
    last_event_at: datetime | None


class ExportedKey(BaseModel):
    key_prefix: str
    scopes: str
    created_at: datetime
    revoked_at: datetime | None


class LearnerExport(BaseModel):
    """Everything the service holds about one learner (Decree 13/2023/ND-CP, right of access)."""

    learner_id: str
    first_seen: datetime
    events: list[ExportedEvent]
    mastery: list[ExportedMastery]
    learner_keys: list[ExportedKey]
    questions: list[str] = Field(description="Questions are not stored with the learner, so this is always empty.")


class Erased(BaseModel):
    erased: bool
    rows: int


@router.get("/{learner_id}/export", response_model=LearnerExport, summary="Everything held about a learner")
def export_learner(
    learner_id: LearnerId, runtime: RuntimeDep, session: SessionDep, caller: Annotated[Caller, Depends(require_scopes("platform"))]
) -> LearnerExport:
    data = export(session, runtime.pseudonym(learner_id))
    if data is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Nothing is held about this learner.")
    return LearnerExport(learner_id=learner_id, **data)


@router.delete("/{learner_id}", response_model=Erased, summary="Erase everything held about a learner")
def erase_learner(
    learner_id: LearnerId, runtime: RuntimeDep, session: SessionDep, caller: Annotated[Caller, Depends(require_scopes("platform"))]
) -> Erased:
    """Deletes the learner's events, mastery and learner keys in one transaction and records only
    that an erasure happened (no identifier). Erasing twice answers 404 the second time."""
    rows = erase(session, runtime.pseudonym(learner_id))
    if rows is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Nothing is held about this learner (already erased, or never seen).")
    session.commit()
    return Erased(erased=True, rows=rows)
