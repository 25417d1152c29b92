"""Admin routes: API keys (create, rotate, revoke), the active model, and the audit log."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, status
from pydantic import BaseModel, Field
from sqlalchemy import select

from tutor.privacy import audit
from tutor.deps import Caller, RuntimeDep, SessionDep, require_scopes
from tutor.tracing.artefacts import ArtefactError
from tutor.privacy.credentials import SCOPES, create_key, revoke, rotate
from tutor.store.tables import ApiClient, AuditEntry

router = APIRouter(prefix="/v1/admin", tags=["admin"])
Admin = Annotated[Caller, Depends(require_scopes("admin"))]


class KeyRequest(BaseModel):
    name: str = Field(min_length=1, max_length=120, examples=["Nền tảng học tập tỉnh A"])
    scopes: list[str] = Field(min_length=1, examples=[["platform"]], description=f"Any of: {', '.join(SCOPES)}.")
    learner_id: str | None = Field(None, max_length=256, description="For learner-scope keys: the learner it belongs to.")
    rate_per_minute: int | None = Field(None, ge=1, le=1_000_000, description="Requests a minute per worker; none = no limit.")


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
    grace_hours: float = Field(24.0, ge=0, le=24 * 90, description="How long the old key keeps working.")


class ActivateRequest(BaseModel):
    artefact: str = Field(min_length=1, max_length=200, examples=["bkt-synthetic-v1"], description="A directory under models/.")


class ActiveModel(BaseModel):
    artefact: str
    version: str
    skills_with_fitted_parameters: int


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
    try:
        client, key = create_key(session, body.name, body.scopes, runtime.pseudonym(body.learner_id) if body.learner_id else None, body.rate_per_minute)
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    audit.record(session, caller.label, "key.create", f"{client.key_prefix} scopes={client.scopes}")
    session.commit()
    return NewKey(key=key, **_info(client))


@router.get("/keys", response_model=list[KeyInfo], summary="List API keys (never the keys themselves)")
def list_keys(session: SessionDep, caller: Admin) -> list[KeyInfo]:
    return [KeyInfo(**_info(c)) for c in session.scalars(select(ApiClient).order_by(ApiClient.id))]


@router.post("/keys/{prefix}/rotate", response_model=NewKey, summary="Rotate a key: a new one now, the old one until the grace period ends")
def rotate_key(prefix: str, body: RotateRequest, session: SessionDep, caller: Admin) -> NewKey:
    try:
        client, key = rotate(session, prefix, timedelta(hours=body.grace_hours))
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"{exc}; GET /v1/admin/keys lists them.") from None
    audit.record(session, caller.label, "key.rotate", f"{prefix} -> {client.key_prefix} grace={body.grace_hours}h")
    session.commit()
    return NewKey(key=key, **_info(client))


@router.delete("/keys/{prefix}", response_model=KeyInfo, summary="Revoke a key; refused from the next request on")
def revoke_key(prefix: str, session: SessionDep, caller: Admin) -> KeyInfo:
    if not revoke(session, prefix):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"No active key with prefix {prefix!r}.")
    audit.record(session, caller.label, "key.revoke", prefix)
    session.commit()
    return KeyInfo(**_info(session.scalar(select(ApiClient).where(ApiClient.key_prefix == prefix))))


@router.get("/models", response_model=ActiveModel, summary="The active mastery model")
def active_model(runtime: RuntimeDep, caller: Admin) -> ActiveModel:
    return ActiveModel(artefact=runtime.model_name, version=runtime.model.version, skills_with_fitted_parameters=len(runtime.model.skills))


@router.post("/models/activate", response_model=ActiveModel, summary="Switch the mastery model without a restart")
def activate(body: ActivateRequest, runtime: RuntimeDep, session: SessionDep, caller: Admin) -> ActiveModel:
    """The artefact is loaded and checked first; a broken one is refused with the reason and the
    active model stays. Requests in flight finish on the model they started with."""
    try:
        model = runtime.activate_model(body.artefact)
    except FileNotFoundError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except ArtefactError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"Artefact refused, the active model is unchanged: {exc}") from None
    audit.record(session, caller.label, "model.activate", f"{body.artefact} version={model.version}")
    session.commit()
    return ActiveModel(artefact=body.artefact, version=model.version, skills_with_fitted_parameters=len(model.skills))


@router.get("/audit", response_model=list[AuditOut], summary="Recent admin actions, newest first")
def audit_log(session: SessionDep, caller: Admin, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[AuditOut]:
    rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit))
    return [AuditOut(at=r.at, actor=r.actor, action=r.action, target=r.target) for r in rows]
