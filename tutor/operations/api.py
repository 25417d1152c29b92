"""GET /metrics: the Prometheus text format, for a key with the `operations` scope.

The scrape is what shows an outage, so it must answer during one: a key this worker verified in
the last ten minutes is still accepted while the database is unreachable (it cannot be revoked
meanwhile anyway); any other key then gets the usual 503.
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy.exc import InterfaceError, OperationalError

from tutor.deps import bearer
from tutor.errors import Unavailable
from tutor.operations import metrics
from tutor.privacy.credentials import find_client, hash_key

router = APIRouter(tags=["operations"])
SCOPES = {"operations", "admin"}
REMEMBERED_SECONDS = 600.0


def metrics_reader(request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> None:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Missing API key: send `Authorization: Bearer <key>` (a key with the operations scope).",
                            headers={"WWW-Authenticate": "Bearer"})
    runtime = request.app.state.runtime
    remembered: dict[str, float] = request.app.state.metrics_readers  # key digest -> until when it is accepted without the database
    digest = hash_key(credentials.credentials)
    try:
        with runtime.session() as session:
            client = find_client(session, credentials.credentials)
    except (OperationalError, InterfaceError):
        if remembered.get(digest, 0.0) > time.monotonic():
            return
        raise Unavailable("The database is unreachable and this key was not verified recently; retry shortly.") from None
    if client is None:
        remembered.pop(digest, None)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Unknown, expired or revoked API key.", headers={"WWW-Authenticate": "Bearer"})
    if not set(client.scopes.split()) & SCOPES:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"This key has scope(s) {client.scopes}; /metrics needs one of: operations, admin.")
    remembered[digest] = time.monotonic() + REMEMBERED_SECONDS


@router.get(
    "/metrics", summary="Prometheus metrics", response_class=Response, dependencies=[Depends(metrics_reader)],
    responses={200: {"content": {"text/plain": {"example": 'tutor_http_requests_total{method="POST",route="/v1/events",status="200"} 42.0\n'}},
                     "description": "The Prometheus text exposition format 0.0.4."}},
)
def get_metrics(request: Request) -> Response:
    """Requests and latency by route template, events stored and skipped by reason, the model version, the
    database pool. Never a learner id: every label is a closed set. Scrape with `authorization: {credentials: <key>}`."""
    runtime = request.app.state.runtime
    metrics.observe_pool(runtime.engine)
    request.app.state.model_version.show(runtime.model.version)
    return Response(metrics.exposition(request.app.state.metrics_dir), media_type=metrics.CONTENT_TYPE)
