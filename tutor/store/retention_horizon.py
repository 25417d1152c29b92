"""The horizon retention last applied, shared by every worker: answers at or before it are refused.

`tutor retention --days N` may run with fewer days than the service's TUTOR_RETENTION_DAYS. Every answer up
to its horizon is then folded into each skill's base and its month dropped, for every worker: an answer for
that period could neither be stored (its partition is gone) nor replayed in its place (the answers around it
are gone). So retention publishes its horizon, committed, before it folds or drops anything, and the intake
refuses answers at or before it, as it refuses those older than its own retention period.

On PostgreSQL the intake reads the horizon under a shared advisory lock held to its commit, and publishing
ends with the exclusive lock taken once: a barrier that waits for every batch that read the earlier horizon,
so none of them writes into a period while retention folds or drops it. SQLite serialises writers instead.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from tutor.clock import as_utc
from tutor.store.tables import ServiceState

KEY = "retention_horizon"
LOCK = 7_240_002  # pg_advisory lock key: intake shares it from reading the horizon to its commit


def _postgres(bind: Engine | Session) -> bool:
    engine = bind.get_bind() if isinstance(bind, Session) else bind
    return engine.dialect.name == "postgresql"


def applied(session: Session) -> datetime | None:
    """The latest horizon retention applied (None: it never ran); on PostgreSQL, read under the shared lock."""
    if _postgres(session):
        session.execute(text("SELECT pg_advisory_xact_lock_shared(:k)"), {"k": LOCK})
    value = session.scalar(select(ServiceState.value).where(ServiceState.key == KEY))
    return as_utc(datetime.fromisoformat(value)) if value else None


def publish(engine: Engine, horizon: datetime) -> None:
    """Make `horizon` (if later than the one published) the limit every worker's intake refuses from, committed
    before retention touches an event; then wait until no batch that read the earlier horizon is in flight."""
    with Session(engine) as s, s.begin():
        row = s.get(ServiceState, KEY, with_for_update=True)
        if row is None:
            s.add(ServiceState(key=KEY, value=horizon.isoformat(), revision=1))
        elif as_utc(datetime.fromisoformat(row.value)) < horizon:
            row.value, row.revision = horizon.isoformat(), row.revision + 1
    if _postgres(engine):
        with engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK})
