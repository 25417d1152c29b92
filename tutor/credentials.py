"""API keys with scopes. Only a SHA-256 of each key is stored; the key itself is shown once."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tutor.store import ApiClient, utcnow

SCOPES = {
    "platform": "send events, read mastery and recommendations",
    "learner": "ask questions, read own mastery only",
    "researcher": "export pseudonymised logs",
    "admin": "content, models, keys",
}


def hash_key(key: str) -> str:
    """Keys are 256 random bits, so a plain SHA-256 is enough to make a stolen table useless."""
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(session: Session, name: str, scopes: list[str], learner_pseudonym: str | None = None) -> tuple[ApiClient, str]:
    """Store a new credential and return it with the key, which is never retrievable again."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise ValueError(f"unknown scope(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(SCOPES)}")
    if "learner" in scopes and not learner_pseudonym:
        raise ValueError("a learner-scope key must name the learner it belongs to")
    prefix = secrets.token_hex(4)
    key = f"tk_{prefix}_{secrets.token_urlsafe(32)}"
    client = ApiClient(name=name, key_prefix=prefix, key_hash=hash_key(key), scopes=" ".join(sorted(set(scopes))), learner_id=learner_pseudonym)
    session.add(client)
    session.flush()
    return client, key


def find_client(session: Session, key: str) -> ApiClient | None:
    """The active credential for a key, or None when unknown or revoked."""
    client = session.scalar(select(ApiClient).where(ApiClient.key_hash == hash_key(key)))
    if client is None or client.revoked_at is not None:
        return None
    return client


def revoke(session: Session, prefix: str, when: datetime | None = None) -> bool:
    client = session.scalar(select(ApiClient).where(ApiClient.key_prefix == prefix))
    if client is None or client.revoked_at is not None:
        return False
    client.revoked_at = when or utcnow()
    return True
