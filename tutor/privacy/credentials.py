"""API keys with scopes. Only a SHA-256 of each key is stored; the key itself is shown once."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tutor.clock import as_utc, utcnow
from tutor.errors import Invalid, NotFound
from tutor.store.tables import ApiClient

SCOPES = {
    "platform": "send events, read mastery and recommendations",
    "learner": "ask questions, read own mastery only",
    "researcher": "export pseudonymised logs",
    "admin": "content, models, keys",
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
    """Token buckets per key, in this worker: `rate_per_minute` requests a minute, bursts up to that many."""

    def __init__(self) -> None:
        self._buckets: dict[int, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def wait_seconds(self, client_id: int, rate_per_minute: int, now: float | None = None) -> float:
        """0 when the request may go ahead (and is counted), else how long until it may."""
        now = time.monotonic() if now is None else now
        per_second = rate_per_minute / 60.0
        with self._lock:
            tokens, last = self._buckets.get(client_id, (float(rate_per_minute), now))
            tokens = min(float(rate_per_minute), tokens + (now - last) * per_second)
            if tokens >= 1.0:
                self._buckets[client_id] = (tokens - 1.0, now)
                return 0.0
            self._buckets[client_id] = (tokens, now)
            return (1.0 - tokens) / per_second


def development_key(session: Session, path: Path) -> str | None:
    """On a store with no keys yet, make one with every service scope, keep it in `path` and return it.

    Only the embedded default calls this, so a developer can try the API at once."""
    if session.scalar(select(func.count()).select_from(ApiClient)):
        return None
    _, key = create_key(session, "development", ["platform", "researcher", "admin"])
    path.write_text(key + "\n")
    path.chmod(0o600)
    return key
