"""The platform's catalog, for administrators: upload a course package (imported as a job), follow the
job, and review the alignments the aligner was not sure of."""

from __future__ import annotations

import shutil
import tempfile
from datetime import datetime
from pathlib import Path as FilePath
from typing import Annotated, Literal

from fastapi import APIRouter, BackgroundTasks, Depends, HTTPException, Path, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from tutor.catalog import jobs, review
from tutor.catalog.imports import ImportReport
from tutor.clock import as_utc
from tutor.content import case
from tutor.deps import Caller, RuntimeDep, SessionDep, require_scopes
from tutor.events.intake import release_pending
from tutor.privacy import audit
from tutor.runtime import Runtime
from tutor.store.tables import CatalogActivity
from tutor.text import CleanText

router = APIRouter(prefix="/v1/admin/catalog", tags=["catalog"])
Admin = Annotated[Caller, Depends(require_scopes("admin"))]
PACKAGE_NAME = r"^[\w.+\- ]{1,200}$"


class ImportJobOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "job_id": "3f9a0c1e5b7d2468", "filename": "demo.tar.gz", "state": "aligning", "done": 120, "total": 229, "report": None, "error": None,
        "created_at": "2026-12-01T08:00:00Z", "updated_at": "2026-12-01T08:00:04Z",
    }]})

    job_id: str
    filename: str
    state: Literal["queued", "reading", "aligning", "storing", "done", "failed"]
    done: int = Field(description="Activities aligned (or stored) so far in this state.")
    total: int
    report: ImportReport | None = Field(None, description="What the import did, once done.")
    error: str | None = Field(None, description="Why it failed (a broken package names the file inside it); nothing of it was stored.")
    created_at: datetime
    updated_at: datetime


def _job_out(job) -> ImportJobOut:
    return ImportJobOut(job_id=job.id, filename=job.filename, state=job.state, done=job.done, total=job.total,
                        report=job.report, error=job.error, created_at=as_utc(job.created_at), updated_at=as_utc(job.updated_at))


@router.post("/imports", response_model=ImportJobOut, status_code=status.HTTP_202_ACCEPTED, summary="Upload a course package and import it as a job",
             openapi_extra={"requestBody": {"required": True, "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}})
async def upload_package(
    request: Request,
    background: BackgroundTasks,
    runtime: RuntimeDep,
    session: SessionDep,
    caller: Admin,
    filename: Annotated[str, Query(pattern=PACKAGE_NAME, description="The package's file name (its extension tells the format).", examples=["demo.tar.gz"])],
    platform: Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9-]{0,39}$", description="The platform's name; default: the format's own.")] = None,
) -> ImportJobOut:
    """The body is the package itself (an Open edX `.tar.gz` export, a SCORM or Common Cartridge zip),
    sent as `application/octet-stream`. Answers 202 with the job; `GET /v1/admin/catalog/imports/{job_id}` follows it."""
    limit = runtime.settings.catalog.max_package_bytes
    folder = runtime.settings.service.var_dir / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    size = 0
    path = FilePath(tempfile.mkdtemp(dir=folder)) / FilePath(filename).name  # the job names the package as it was sent
    try:
        with path.open("wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise HTTPException(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, f"Package over {limit // 1_048_576} MB (TUTOR_CATALOG_MAX_PACKAGE_BYTES).")
                out.write(chunk)
        if size == 0:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "The body is empty: send the package file itself as the request body.")
    except BaseException:
        shutil.rmtree(path.parent, ignore_errors=True)
        raise
    job = jobs.create_job(session, filename, platform)
    audit.record(session, caller.label, "catalog.import", filename)
    session.commit()
    background.add_task(jobs.run_job, runtime.session, job.id, path, runtime.aligner, runtime.accept_confidence)
    return _job_out(job)


@router.get("/imports/{job_id}", response_model=ImportJobOut, summary="How far an import job got")
def get_import(job_id: Annotated[str, Path(max_length=32)], session: SessionDep, caller: Admin) -> ImportJobOut:
    return _job_out(jobs.get_job(session, job_id))


class SuggestionOut(BaseModel):
    skill: str = Field(examples=["4.2-basic"])
    case_id: str = Field(description="The skill's CASE CFItem identifier.")
    confidence: float = Field(description="Calibrated probability that this skill is right.")
    status: Literal["suggested", "accepted", "rejected"]


class WaitingOut(BaseModel):
    activity_id: str = Field(description="The service's id of the activity (events name it in item_id).")
    key: str = Field(description="The platform's identifier.", examples=["block-v1:OpenedX+DemoX+DemoCourse+type@problem+block@a0effb954cca4759994f1ac9e9434bf4"])
    platform: str
    course: str | None
    kind: str
    origin: Literal["package", "statement"]
    title: str
    suggestions: list[SuggestionOut]
    pending_answers: int = Field(description="Answers about it kept until its skills are decided.")


class ReviewQueue(BaseModel):
    waiting: int = Field(description="Activities waiting for review in all.")
    activities: list[WaitingOut]
    next_after: str | None = Field(None, description="Pass as `after` for the next page.")


@router.get("/alignments", response_model=ReviewQueue, summary="Activities whose skills wait for review")
def pending_alignments(
    session: SessionDep, caller: Admin,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    after: Annotated[str | None, Query(max_length=40)] = None,
) -> ReviewQueue:
    page = review.queue(session, limit, after)
    return ReviewQueue(
        waiting=review.waiting_count(session),
        activities=[
            WaitingOut(activity_id=w.activity.id, key=w.activity.key, platform=w.activity.platform, course=w.course, kind=w.activity.kind,
                       origin=w.activity.origin, title=w.activity.title, pending_answers=w.pending_answers,
                       suggestions=[SuggestionOut(skill=s.skill, case_id=case.identifier(f"skill:{s.skill}"), confidence=s.confidence, status=s.status)
                                    for s in w.suggestions])
            for w in page
        ],
        next_after=page[-1].activity.id if len(page) == limit else None,
    )


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"skills": ["4.2-basic"]}, {"skills": []}]})

    skills: list[Annotated[CleanText, Field(min_length=1, max_length=64)]] = Field(max_length=10, description="The skills it teaches or measures; [] rejects it (it teaches none).")


class DecisionOut(BaseModel):
    activity_id: str
    alignment: Literal["accepted", "none"]
    skills: list[str]
    case_ids: list[str] = Field(description="The CASE CFItem identifiers of those skills.")
    answers_counted: int = Field(description="Answers that waited for this decision, now counted (or, when rejected, kept as skipped).")


def decide_and_count(runtime: Runtime, session: Session, activity_id: str, skills: list[str], reviewer: str) -> tuple[CatalogActivity, int]:
    """A reviewer's decision, the answers that waited for it counted, the audit entry, committed; the aligner learns from it.

    Shared by this route and the desk's review page."""
    row = review.decide(session, activity_id, skills, reviewer, runtime.library.skills)
    counted = release_pending(session, row.id, list(row.skills), runtime.model)
    audit.record(session, reviewer, "alignment.decide", f"{row.id} {' '.join(row.skills) or '(none)'}")
    session.commit()
    runtime.aligned_rows.forget()  # this worker at once; the others when they see the catalog's revision move
    learned = [e for skill in row.skills if (e := review.activity_exemplar(row, skill)) is not None]
    if learned:
        runtime.aligner().add_exemplars(learned)
    return row, counted


@router.post("/alignments/{activity_id}", response_model=DecisionOut, summary="Decide an activity's skills")
def decide_alignment(activity_id: Annotated[str, Path(max_length=40)], body: Decision, runtime: RuntimeDep, session: SessionDep, caller: Admin) -> DecisionOut:
    """Accepting applies the answers that waited for it to mastery, once and in time order."""
    row, counted = decide_and_count(runtime, session, activity_id, body.skills, caller.label)
    return DecisionOut(activity_id=row.id, alignment="accepted" if row.skills else "none", skills=list(row.skills),
                       case_ids=[case.identifier(f"skill:{s}") for s in row.skills], answers_counted=counted)
