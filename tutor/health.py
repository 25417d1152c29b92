"""Liveness and readiness for the orchestrator."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    database: bool
    model_version: str | None
    lessons: int


@router.get("/health", response_model=Health, summary="The process is alive")
def health() -> Health:
    return Health(status="ok")


@router.get("/ready", response_model=Readiness, responses={503: {"model": Readiness}}, summary="Database reachable, model and content loaded")
def ready(request: Request):
    runtime = request.app.state.runtime
    database = runtime.database_ok()
    body = Readiness(status="ready" if database else "unavailable", database=database, model_version=runtime.model.version, lessons=len(runtime.library.lessons))
    return body if database else JSONResponse(body.model_dump(), status_code=503)
