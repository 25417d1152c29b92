"""Learners' rights and the keys: export and erase a learner; create, rotate and revoke API keys; the audit log."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field
from sqlalchemy import select

from tutor.deps import Caller, LearnerId, RuntimeDep, SessionDep, require_scopes
from tutor.errors import NotFound
from tutor.privacy import audit
from tutor.privacy.credentials import SCOPES, create_key, revoke, rotate
from tutor.privacy.learner_rights import erase, export
from tutor.store.tables import ApiClient, AuditEntry
from tutor.text import CleanText, LearnerIdText, checked_text

router = APIRouter(prefix="/v1/admin", tags=["admin"])
learners_router = APIRouter(prefix="/v1/learners", tags=["learners"])
Admin = Annotated[Caller, Depends(require_scopes("admin"))]
KeyPrefix = Annotated[str, Path(min_length=1, max_length=16, description="The key's prefix, as `GET /v1/admin/keys` lists it."), checked_text("prefix")]


class KeyRequest(BaseModel):
    name: CleanText = Field(min_length=1, max_length=120, examples=["Nền tảng học tập tỉnh A"])
    scopes: list[Annotated[str, Field(max_length=20), checked_text()]] = Field(min_length=1, examples=[["platform"]], description=f"Any of: {', '.join(SCOPES)}.")
    learner_id: LearnerIdText | None = Field(None, description="For learner-scope keys: the learner it belongs to.")
    rate_per_minute: int | None = Field(None, ge=1, le=1_000_000, description="Requests a minute, across workers with TUTOR_REDIS_URL (else per worker); none = no limit.")


class KeyInfo(BaseModel):
    key_prefix: str
    name: str
    scopes: list[str]
    rate_per_minute: int | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class NewKey(KeyInfo):
    key: str = Field(description="Shown once; only its hash is kept.")


class RotateRequest(BaseModel):
    grace_hours: float = Field(24.0, ge=0, le=24 * 90, allow_inf_nan=False, description="How long the old key keeps working.")


class AuditOut(BaseModel):
    at: datetime
    actor: str
    action: str
    target: str | None


def _info(c: ApiClient) -> dict:
    return {
        "key_prefix": c.key_prefix, "name": c.name, "scopes": c.scopes.split(), "rate_per_minute": c.rate_per_minute,
        "created_at": c.created_at, "expires_at": c.expires_at, "revoked_at": c.revoked_at,
    }


@router.post("/keys", response_model=NewKey, status_code=201, summary="Create an API key")
def create(body: KeyRequest, runtime: RuntimeDep, session: SessionDep, caller: Admin) -> NewKey:
    client, key = create_key(session, body.name, body.scopes, runtime.pseudonym(body.learner_id) if body.learner_id else None, body.rate_per_minute)
    audit.record(session, caller.label, "key.create", f"{client.key_prefix} scopes={client.scopes}")
    session.commit()
    return NewKey(key=key, **_info(client))


@router.get("/keys", response_model=list[KeyInfo], summary="List API keys (never the keys themselves)")
def list_keys(session: SessionDep, caller: Admin) -> list[KeyInfo]:
    return [KeyInfo(**_info(c)) for c in session.scalars(select(ApiClient).order_by(ApiClient.id))]


@router.post("/keys/{prefix}/rotate", response_model=NewKey, summary="Rotate a key: a new one now, the old one until the grace period ends")
def rotate_key(prefix: KeyPrefix, body: RotateRequest, session: SessionDep, caller: Admin) -> NewKey:
    client, key = rotate(session, prefix, timedelta(hours=body.grace_hours))
    audit.record(session, caller.label, "key.rotate", f"{prefix} -> {client.key_prefix} grace={body.grace_hours}h")
    session.commit()
    return NewKey(key=key, **_info(client))


@router.delete("/keys/{prefix}", response_model=KeyInfo, summary="Revoke a key; refused from the next request on")
def revoke_key(prefix: KeyPrefix, session: SessionDep, caller: Admin) -> KeyInfo:
    if not revoke(session, prefix):
        raise NotFound(f"No active key with prefix {prefix!r}.")
    audit.record(session, caller.label, "key.revoke", prefix)
    session.commit()
    client = session.scalar(select(ApiClient).where(ApiClient.key_prefix == prefix))
    assert client is not None  # revoke() has just found it
    return KeyInfo(**_info(client))


@router.get("/audit", response_model=list[AuditOut], summary="Recent admin actions, newest first")
def audit_log(session: SessionDep, caller: Admin, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[AuditOut]:
    rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit))
    return [AuditOut(at=r.at, actor=r.actor, action=r.action, target=r.target) for r in rows]


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


class ExportedAnswerHistory(BaseModel):
    """What the next-answer model keeps about the learner to predict success: counts, recent answers, its own BKT estimates."""

    model_key: str = Field(description="Which model built it.")
    n_answers: int
    last_event_at: datetime | None
    updated_at: datetime
    state: dict = Field(description="Counts and recent answers per skill and overall, as the model reads them.")
    base_key: str | None
    base_n: int | None = Field(description="Answers folded into the base when retention deleted their events.")
    base_until: datetime | None
    base_state: dict | None


class ExportedKey(BaseModel):
    key_prefix: str
    scopes: str
    created_at: datetime
    revoked_at: datetime | None


class ExportedProfile(BaseModel):
    audience: str | None = Field(description="officials, students, workers or citizens; null when none was set.")
    set_by: str | None = Field(description="learner, platform or lti.")
    set_at: datetime | None


class LearnerExport(BaseModel):
    """Everything the service holds about one learner (Law on Personal Data Protection No. 91/2025/QH15: the right of access)."""

    learner_id: str
    first_seen: datetime
    profile: ExportedProfile = Field(description="The learner's audience (GET/PUT /v1/learners/{learner_id}/profile).")
    events: list[ExportedEvent]
    mastery: list[ExportedMastery]
    learner_keys: list[ExportedKey]
    answer_history: ExportedAnswerHistory | None = Field(None, description="Kept only while the active model includes a next-answer model.")
    xapi_statements: list[dict[str, Any]] = Field(default_factory=list, description="The learner's xAPI statements as stored (agents pseudonymised).")
    questions: list[str] = Field(description="Questions are not stored with the learner, so this is always empty.")


class Erased(BaseModel):
    erased: bool
    rows: int


@learners_router.get("/{learner_id}/export", response_model=LearnerExport, summary="Everything held about a learner")
def export_learner(
    learner_id: LearnerId, runtime: RuntimeDep, session: SessionDep, caller: Annotated[Caller, Depends(require_scopes("platform"))]
) -> LearnerExport:
    data = export(session, runtime.pseudonym(learner_id))
    if data is None:
        raise NotFound("Nothing is held about this learner.")
    return LearnerExport(learner_id=learner_id, **data)


@learners_router.delete("/{learner_id}", response_model=Erased, summary="Erase everything held about a learner")
def erase_learner(
    learner_id: LearnerId, runtime: RuntimeDep, session: SessionDep, caller: Annotated[Caller, Depends(require_scopes("platform"))]
) -> Erased:
    """Deletes the learner's events, mastery, next-answer history and learner keys in one transaction and records only
    that an erasure happened (no identifier). Erasing twice answers 404 the second time."""
    rows = erase(session, runtime.pseudonym(learner_id))
    if rows is None:
        raise NotFound("Nothing is held about this learner (already erased, or never seen).")
    session.commit()
    return Erased(erased=True, rows=rows)
