"""GET /v1/research/events: the answer log for researchers, in the format `tutor train --format events` reads."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from sqlalchemy import select

from tutor.deps import Caller, RuntimeDep, require_scopes
from tutor.events.intake import aware
from tutor.runtime import Runtime
from tutor.store.tables import Event

router = APIRouter(prefix="/v1/research", tags=["research"])
CHUNK = 5_000


def research_pseudonym(runtime: Runtime, learner: str) -> str:
    """A second keyed hash, so an exported data set cannot be joined back to the live store by id."""
    return hmac.new(runtime.settings.pseudonym_secret, b"research:" + learner.encode(), hashlib.sha256).hexdigest()[:20]


def _lines(runtime: Runtime, since: datetime | None, until: datetime | None) -> Iterator[bytes]:
    query = select(Event.id, Event.learner_id, Event.skills, Event.score, Event.occurred_at, Event.item_id).where(Event.kind == "answer")
    if since is not None:
        query = query.where(Event.occurred_at >= since)
    if until is not None:
        query = query.where(Event.occurred_at < until)
    last_id = 0
    with runtime.session() as session:
        while True:
            rows = session.execute(query.where(Event.id > last_id).order_by(Event.id).limit(CHUNK)).all()
            if not rows:
                return
            yield b"".join(
                json.dumps(
                    {"learner_id": research_pseudonym(runtime, r.learner_id), "skill_ids": r.skills, "score": r.score,
                     "timestamp": aware(r.occurred_at).isoformat(), "item_id": r.item_id},
                    ensure_ascii=False,
                ).encode() + b"\n"
                for r in rows
            )
            last_id = rows[-1].id


@router.get(
    "/events",
    summary="Stream the pseudonymised answer log (JSON lines)",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {"example": '{"learner_id": "3f9a…", "skill_ids": ["4.2-basic"], "score": 1.0, "timestamp": "2026-11-20T08:00:00+00:00", "item_id": "spotting-scams-1"}\n'}}}},
)
def export_events(
    runtime: RuntimeDep,
    caller: Annotated[Caller, Depends(require_scopes("researcher"))],
    since: Annotated[datetime | None, Query(description="Only answers at or after this time.")] = None,
    until: Annotated[datetime | None, Query(description="Only answers before this time.")] = None,
) -> StreamingResponse:
    """One JSON object per graded answer, oldest stored first; learner ids are research pseudonyms.
    Save it as `answers.jsonl` and train with `tutor train --format events --data answers.jsonl`."""
    return StreamingResponse(_lines(runtime, since, until), media_type="application/x-ndjson",
                             headers={"Content-Disposition": 'attachment; filename="answers.jsonl"'})
