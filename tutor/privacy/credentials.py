"""API keys with scopes. Only a SHA-256 of each key is stored; the key itself is shown once."""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from datetime import datetime, timedelta
from pathlib import Path

from limits import RateLimitItemPerMinute
from limits.errors import StorageError
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tutor.clock import as_utc, utcnow
from tutor.errors import Invalid, NotFound
from tutor.store.tables import ApiClient

log = logging.getLogger("tutor")

SCOPES = {
    "platform": "send events, read mastery and recommendations",
    "learner": "ask questions, read own mastery only",
    "researcher": "export pseudonymised logs",
    "admin": "content, models, keys",
    "operations": "read the service's metrics (/metrics); no learner data",
}


def hash_key(key: str) -> str:
    """Keys are 256 random bits, so a plain SHA-256 is enough to make a stolen table useless."""
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(
    session: Session, name: str, scopes: list[str], learner_pseudonym: str | None = None, rate_per_minute: int | None = None
) -> tuple[ApiClient, str]:
    """Store a new credential and return it with the key, which is never retrievable again."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise Invalid(f"unknown scope(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(SCOPES)}")
    if "learner" in scopes and not learner_pseudonym:
        raise Invalid("a learner-scope key must name the learner it belongs to")
    prefix = secrets.token_hex(4)
    key = f"tk_{prefix}_{secrets.token_urlsafe(32)}"
    if rate_per_minute is not None and rate_per_minute < 1:
        raise Invalid("rate_per_minute must be at least 1 (or absent for no limit)")
    client = ApiClient(
        name=name, key_prefix=prefix, key_hash=hash_key(key), scopes=" ".join(sorted(set(scopes))),
        learner_id=learner_pseudonym, rate_per_minute=rate_per_minute,
    )
    session.add(client)
    session.flush()
    return client, key


def find_client(session: Session, key: str) -> ApiClient | None:
    """The active credential for a key, or None when unknown or revoked."""
    client = session.scalar(select(ApiClient).where(ApiClient.key_hash == hash_key(key)))
    if client is None or client.revoked_at is not None:
        return None
    if client.expires_at is not None and as_utc(client.expires_at) <= utcnow():
        return None
    return client


def rotate(session: Session, prefix: str, grace: timedelta) -> tuple[ApiClient, str]:
    """A new key with the same name, scopes and limits; the old one keeps working for `grace`, then expires."""
    old = session.scalar(select(ApiClient).where(ApiClient.key_prefix == prefix, ApiClient.revoked_at.is_(None)))
    if old is None:
        raise NotFound(f"No active key with prefix {prefix!r}; GET /v1/admin/keys lists them.")
    new, key = create_key(session, old.name, old.scopes.split(), old.learner_id, old.rate_per_minute)
    old.expires_at = utcnow() + grace
    return new, key


def revoke(session: Session, prefix: str, when: datetime | None = None) -> bool:
    client = session.scalar(select(ApiClient).where(ApiClient.key_prefix == prefix))
    if client is None or client.revoked_at is not None:
        return False
    client.revoked_at = when or utcnow()
    return True


class RateLimiter:
    """Per-key limits: at most `rate_per_minute` requests in any 60 seconds (a moving window, from the `limits` library).

    With a Redis URL the counts live in Redis, so every worker and every replica shares one limit per
    key; without one, each worker counts alone. If Redis stops answering, the limiter fails open to
    the worker's own counts: requests still go through (a limiter must not take the intake down with
    it), each worker still holds the key to its own limit, a warning is logged, and Redis is tried
    again after `retry_seconds`.
    """

    def __init__(self, redis_url: str | None = None, retry_seconds: float = 5.0) -> None:
        self._local = MovingWindowRateLimiter(MemoryStorage())
        self._shared = None
        if redis_url:
            shared = storage_from_string(redis_url, key_prefix="tutor", wrap_exceptions=True, socket_connect_timeout=0.25, socket_timeout=0.25)
            self._shared = MovingWindowRateLimiter(shared)
        self.retry_seconds = retry_seconds
        self._shared_down_until = 0.0
        self.shared_failures = 0

    @property
    def shared(self) -> bool:
        """Whether the counts are shared through Redis right now."""
        return self._shared is not None and time.monotonic() >= self._shared_down_until

    def wait_seconds(self, key: str, rate_per_minute: int) -> float:
        """0 when the request may go ahead (and is counted), else how long until it may. `key` names the credential (its prefix)."""
        item = RateLimitItemPerMinute(rate_per_minute)
        if self._shared is not None and self.shared:
            try:
                return self._wait(self._shared, item, key)
            except StorageError as exc:
                self.shared_failures += 1
                self._shared_down_until = time.monotonic() + self.retry_seconds
                log.warning("rate limits: Redis unreachable (%s); counting in this worker for %.0f s", type(exc.storage_error).__name__, self.retry_seconds)
        return self._wait(self._local, item, key)

    @staticmethod
    def _wait(limiter: MovingWindowRateLimiter, item: RateLimitItemPerMinute, key: str) -> float:
        if limiter.hit(item, "key", key):
            return 0.0
        return max(limiter.get_window_stats(item, "key", key).reset_time - time.time(), 0.001)


def development_key(session: Session, path: Path) -> str | None:
    """On a store with no keys yet, make one with every service scope, keep it in `path` and return it.

    Only the embedded default calls this, so a developer can try the API at once."""
    if session.scalar(select(func.count()).select_from(ApiClient)):
        return None
    _, key = create_key(session, "development", ["platform", "researcher", "admin"])
    path.write_text(key + "\n")
    path.chmod(0o600)
    return key
