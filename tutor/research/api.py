"""GET /v1/research/events: the answer log for researchers, in the format `tutor train --format events` reads."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from tutor.clock import any_moment
from tutor.deps import Caller, RuntimeDep, require_scopes
from tutor.research.export import answer_lines

router = APIRouter(prefix="/v1/research", tags=["research"])
EXAMPLE_LINE = (
    '{"learner_id": "3f9a…", "skill_ids": ["4.2-basic"], "score": 1.0, "timestamp": "2026-11-20T08:00:00+00:00", "item_id": "spotting-scams-1"}\n'
)


@router.get(
    "/events",
    summary="Stream the pseudonymised answer log (JSON lines)",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {"example": EXAMPLE_LINE}}}},
)
def export_events(
    runtime: RuntimeDep,
    caller: Annotated[Caller, Depends(require_scopes("researcher"))],
    since: Annotated[Annotated[datetime, any_moment("since")] | None, Query(description="Only answers at or after this moment (ISO 8601; UTC when no zone is given).")] = None,
    until: Annotated[Annotated[datetime, any_moment("until")] | None, Query(description="Only answers before this moment (ISO 8601; UTC when no zone is given).")] = None,
) -> StreamingResponse:
    """One JSON object per graded answer, oldest stored first; learner ids are research pseudonyms.
    Save it as `answers.jsonl` and train with `tutor train --format events --data answers.jsonl`."""
    return StreamingResponse(answer_lines(runtime.session, runtime.settings.pseudonym_key, since, until), media_type="application/x-ndjson",
                             headers={"Content-Disposition": 'attachment; filename="answers.jsonl"'})
