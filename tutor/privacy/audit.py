"""The audit log of admin actions (keys, content, models): who, what, on what, when."""

from __future__ import annotations

from sqlalchemy.orm import Session

from tutor.store.tables import AuditEntry


def record(session: Session, actor: str, action: str, target: str | None = None) -> None:
    """Add an entry in the caller's transaction, so the log and the change commit together."""
    session.add(AuditEntry(actor=actor[:120], action=action, target=(target or "")[:200] or None))
