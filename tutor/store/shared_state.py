"""Revisions of what every worker follows (the active model, added lessons, the catalog).

A change writes its key's row in the same transaction; each worker compares revisions on refresh
and reloads only what moved.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from tutor.store.tables import ServiceState


def bump(session: Session, key: str, value: str) -> None:
    """Record a change under `key` (the row is locked until the caller commits)."""
    row = session.get(ServiceState, key, with_for_update=True)
    if row is None:
        session.add(ServiceState(key=key, value=value, revision=1))
    else:
        row.value, row.revision = value, row.revision + 1
