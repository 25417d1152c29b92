"""POST /v1/xapi/statements: the learning-record-store door for platforms that speak xAPI."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Response, status

from tutor.deps import Caller, RuntimeDep, SessionDep, require_scopes
from tutor.events.intake import record_events
from tutor.store.tables import utcnow
from tutor.events.xapi import Statements, to_event

router = APIRouter(prefix="/v1/xapi", tags=["xapi"])
XAPI_VERSION = "1.0.3"


@router.post("/statements", response_model=list[str], summary="Store xAPI statements (one or an array)")
def post_statements(
    statements: Statements,
    response: Response,
    runtime: RuntimeDep,
    session: SessionDep,
    caller: Annotated[Caller, Depends(require_scopes("platform"))],
    x_experience_api_version: Annotated[str | None, Header(description="xAPI version, 1.0.x")] = None,
) -> list[str]:
    """Returns the statement ids, as a learning record store does. A statement whose id was stored
    before is acknowledged and not applied again; untracked verbs and activities are kept as skipped.
    A body with an invalid statement is rejected whole (422, naming its index and field)."""
    if not x_experience_api_version or not x_experience_api_version.startswith("1.0"):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "Send the header X-Experience-API-Version: 1.0.3 (any 1.0.x is accepted).")
    if not 1 <= len(statements) <= 1000:
        raise HTTPException(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE if statements else status.HTTP_422_UNPROCESSABLE_CONTENT,
                            "Send between 1 and 1,000 statements per request.")
    received = utcnow()
    for s in statements:
        s.id = s.id or uuid.uuid4()
    events = [to_event(s, runtime.pseudonym(s.actor.account.name), runtime.library, received) for s in statements]
    record_events(session, events, runtime.model)
    session.commit()
    response.headers["X-Experience-API-Version"] = XAPI_VERSION
    return [str(s.id) for s in statements]
