"""The relational store: learners (pseudonymous), events, mastery states, API clients, added lessons.

Every learner column holds the keyed pseudonym from tutor.privacy.pseudonyms, never the platform's id.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tutor.clock import utcnow


class Base(DeclarativeBase):
    pass


class Learner(Base):
    __tablename__ = "learners"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, comment="HMAC-SHA256 pseudonym of the platform's learner id")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Event(Base):
    """One learner event: a graded answer, a lesson exposure, or a statement acknowledged but skipped."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(128), unique=True, comment="client-chosen id or xAPI statement id; idempotency key")
    learner_id: Mapped[str | None] = mapped_column(ForeignKey("learners.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16), comment="answer | exposure | skipped")
    item_id: Mapped[str | None] = mapped_column(String(128))
    lesson_id: Mapped[str | None] = mapped_column(String(128))
    skills: Mapped[list] = mapped_column(JSON, default=list)
    score: Mapped[float | None] = mapped_column(Float)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    attempt: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(16), comment="events | xapi")
    verb: Mapped[str | None] = mapped_column(String(64))
    skip_reason: Mapped[str | None] = mapped_column(String(200))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (Index("ix_events_learner_time", "learner_id", "occurred_at"),)


class Mastery(Base):
    """The current BKT estimate of one learner's mastery of one skill."""

    __tablename__ = "mastery"

    learner_id: Mapped[str] = mapped_column(ForeignKey("learners.id", ondelete="CASCADE"), primary_key=True)
    skill_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    p_mastered: Mapped[float] = mapped_column(Float)
    n_observations: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_event_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), comment="latest answer time folded in")
    base_p: Mapped[float | None] = mapped_column(Float, comment="mastery folded from events removed by retention")
    base_n: Mapped[int | None] = mapped_column(Integer)
    base_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), comment="events up to this time are folded into base_p")


class ApiClient(Base):
    """A credential: only the SHA-256 of the key is kept, with its scopes."""

    __tablename__ = "api_clients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(120))
    key_prefix: Mapped[str] = mapped_column(String(16), unique=True, comment="shown in listings to tell keys apart")
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(200), comment="space-separated")
    learner_id: Mapped[str | None] = mapped_column(String(64), comment="for learner-scope keys: the only learner it may read")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), comment="set on the old key when it is rotated")
    rate_per_minute: Mapped[int | None] = mapped_column(Integer, comment="requests per minute per worker; null = no limit")


class AddedLesson(Base):
    """A lesson a platform added or replaced at run time; bundled lessons live in content/."""

    __tablename__ = "added_lessons"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    body: Mapped[dict] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ServiceState(Base):
    """Shared settings every worker follows (active model, content revision)."""

    __tablename__ = "service_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    revision: Mapped[int] = mapped_column(Integer, default=0)


class AuditEntry(Base):
    """An admin action: who (key prefix), what, on what, when. Never a learner identifier."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(120), comment="key prefix and name, or 'cli'")
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(200))


class Erasure(Base):
    """That a learner's data was erased, and how much; deliberately without any identifier."""

    __tablename__ = "erasures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    rows: Mapped[int] = mapped_column(Integer)
