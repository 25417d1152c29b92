"""The relational store: learners (pseudonymous), events, mastery states, next-answer histories, API clients, added lessons,
the platform's imported courses with their activities and alignments.

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
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tutor.clock import utcnow


class Base(DeclarativeBase):
    pass


class Learner(Base):
    __tablename__ = "learners"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, comment="HMAC-SHA256 pseudonym of the platform's learner id")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    audience: Mapped[str | None] = mapped_column(String(32), comment="content/audiences.yaml id (officials, students, workers, citizens); /next's default goal")
    audience_set_by: Mapped[str | None] = mapped_column(String(16), comment="learner | platform | lti")
    audience_set_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Event(Base):
    """One learner event: a graded answer, a lesson exposure, or a statement acknowledged but skipped.

    On PostgreSQL (migration 0011) the table is partitioned by month of `occurred_at` (tutor.store.partitions):
    its primary key is (id, occurred_at), event ids are unique through the `event_ids` table, and it has no
    foreign key to learners (the intake writes the learner in the same transaction; erasure deletes events itself).
    """

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(128), unique=True, comment="client-chosen id or xAPI statement id; idempotency key")
    learner_id: Mapped[str | None] = mapped_column(ForeignKey("learners.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16), comment="answer | pending (a graded answer whose activity awaits alignment) | exposure | skipped")
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

    __table_args__ = (Index("ix_events_learner_time", "learner_id", "occurred_at"), Index("ix_events_item_kind", "item_id", "kind"))


class Mastery(Base):
    """The current BKT estimate of one learner's mastery of one skill.

    Beside it, the day mark: the estimate folded from every answer before the start (UTC) of the latest day with an
    answer, so a late answer of that day replays from the mark instead of from the learner's first answer."""

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
    mark_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), comment="start (UTC) of the latest day with an answer; mark_p folds every answer before it")
    mark_p: Mapped[float | None] = mapped_column(Float)
    mark_n: Mapped[int | None] = mapped_column(Integer)


class AnswerHistory(Base):
    """One learner's history as the active next-answer model sees it (counts, recent answers, its BKT), kept
    between answers so the recommender's predicted success needs no replay; updated with mastery."""

    __tablename__ = "answer_histories"

    learner_id: Mapped[str] = mapped_column(ForeignKey("learners.id", ondelete="CASCADE"), primary_key=True)
    model_key: Mapped[str] = mapped_column(String(32), comment="NextAnswerModel.state_key of the model that built it; another model rebuilds it")
    state: Mapped[dict] = mapped_column(JSON, comment="LearnerHistory.to_json()")
    n_answers: Mapped[int] = mapped_column(Integer, default=0, comment="answers folded in, base included")
    last_event_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), comment="latest answer time folded in")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    base_key: Mapped[str | None] = mapped_column(String(32), comment="model_key of base_state")
    base_state: Mapped[dict | None] = mapped_column(JSON, comment="the history folded from events removed by retention")
    base_n: Mapped[int | None] = mapped_column(Integer)
    base_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), comment="events up to this time are folded into base_state")


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


class CatalogCourse(Base):
    """A course imported from the platform's own package (OLX, SCORM, Common Cartridge, files)."""

    __tablename__ = "courses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(500), comment="the platform's course identifier")
    title: Mapped[str] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(40), comment="the package it was read from (its file name)")
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    imports: Mapped[int] = mapped_column(Integer, default=1, comment="how many times it was imported")

    __table_args__ = (UniqueConstraint("platform", "key", name="uq_courses_platform_key"),)


class CatalogActivity(Base):
    """One activity of the platform: a lesson, an item, or ungraded; from a package or a statement.

    `id` is derived from (platform, key), so a re-import or a statement finds the same row; events
    name it in item_id / lesson_id. `skills` holds the accepted alignment ([] until there is one).
    """

    __tablename__ = "catalog_activities"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    platform: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(500), comment="the platform's identifier (an OLX usage key, a SCORM or CC identifier, an activity IRI)")
    course_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(16), comment="lesson | item | ungraded")
    origin: Mapped[str] = mapped_column(String(16), comment="package | statement")
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[dict] = mapped_column(JSON, comment="the activity as read (catalog.course.Activity), or the statement's definition")
    content_hash: Mapped[str] = mapped_column(String(64))
    skills: Mapped[list] = mapped_column(JSON, default=list)
    alignment: Mapped[str] = mapped_column(String(16), comment="tagged | accepted | review | none")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (
        UniqueConstraint("platform", "key", name="uq_catalog_activities_platform_key"),
        Index("ix_catalog_activities_course", "course_id", "position"),
        Index("ix_catalog_activities_alignment", "alignment"),
    )


class Alignment(Base):
    """A suggested skill for an activity, and what became of it: suggested, accepted or rejected."""

    __tablename__ = "alignments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    activity_id: Mapped[str] = mapped_column(ForeignKey("catalog_activities.id", ondelete="CASCADE"))
    skill: Mapped[str] = mapped_column(String(64))
    rank: Mapped[int] = mapped_column(Integer)
    confidence: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), comment="suggested | accepted | rejected")
    decided_by: Mapped[str | None] = mapped_column(String(120), comment="'auto' above the threshold, else the reviewer's key prefix and name")
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    kind: Mapped[str] = mapped_column(String(16), comment="the activity's kind, copied so /next reads one index")
    course_order: Mapped[int] = mapped_column(BigInteger, comment="the activity's place in the platform's order (course id, position), copied likewise")

    __table_args__ = (Index("ix_alignments_activity", "activity_id"), Index("ix_alignments_next", "skill", "status", "kind", "course_order"))


class ImportJob(Base):
    """A course package import started through the admin route; any worker can report its progress."""

    __tablename__ = "import_jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    filename: Mapped[str] = mapped_column(String(200))
    platform: Mapped[str | None] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(16), comment="queued | reading | aligning | storing | done | failed")
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    report: Mapped[dict | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LtiPlatform(Base):
    """An LMS registered to launch learners here over LTI 1.3: its issuer, our client id there, and its keys."""

    __tablename__ = "lti_platforms"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    issuer: Mapped[str] = mapped_column(String(500), comment="the platform's iss claim")
    client_id: Mapped[str] = mapped_column(String(200), comment="the id the platform gave this tool (the aud claim)")
    login_url: Mapped[str] = mapped_column(Text, comment="the platform's OIDC authorisation endpoint")
    token_url: Mapped[str | None] = mapped_column(Text, comment="the platform's OAuth2 token endpoint (grades)")
    jwks_url: Mapped[str | None] = mapped_column(Text, comment="where the platform publishes its key set")
    jwks: Mapped[dict | None] = mapped_column(JSON, comment="the platform's key set, pasted")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (UniqueConstraint("issuer", "client_id", name="uq_lti_platforms_issuer_client"),)


class LtiDeployment(Base):
    """A deployment of this tool on a registered platform (the deployment_id claim of a launch)."""

    __tablename__ = "lti_deployments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id", ondelete="CASCADE"))
    deployment_id: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (UniqueConstraint("platform_id", "deployment_id", name="uq_lti_deployments_platform_deployment"),)


class LtiNonce(Base):
    """A launch nonce already used (SHA-256 of it), kept until the launch could no longer be valid, so a replay is refused."""

    __tablename__ = "lti_nonces"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_lti_nonces_expires_at", "expires_at"),)


class LtiToolKey(Base):
    """The tool's own RSA key: signs the login state and grade-service assertions; its public half is at /lti/jwks."""

    __tablename__ = "lti_tool_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    private_pem: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class XapiStatement(Base):
    """An xAPI statement as the learning record store returns it: the JSON as sent, every agent in it pseudonymised
    (tutor.events.xapi.stored_form), with `stored` and `authority`. Its learner event is the events row of the same id."""

    __tablename__ = "xapi_statements"

    statement_id: Mapped[str] = mapped_column(String(36), primary_key=True, comment="the statement's UUID, lower case")
    learner_id: Mapped[str | None] = mapped_column(ForeignKey("learners.id", ondelete="CASCADE"), comment="pseudonym of the actor")
    body: Mapped[dict] = mapped_column(JSON)
    digest: Mapped[str] = mapped_column(String(64), comment="keyed hash of the statement as sent, to tell a resend from a different statement")
    voids: Mapped[str | None] = mapped_column(String(36), comment="for a voiding statement: the id it voids")
    voided_by: Mapped[str | None] = mapped_column(String(36), comment="set when a voiding statement names this one")
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), comment="its timestamp; retention deletes by it")
    stored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (Index("ix_xapi_statements_voids", "voids"), Index("ix_xapi_statements_learner", "learner_id", "occurred_at"))
