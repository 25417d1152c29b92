"""Learner pseudonyms: platform ids (possibly VNeID-derived) never reach the database or the logs."""

from __future__ import annotations

import hashlib
import hmac


def pseudonym(raw_learner_id: str, secret: bytes) -> str:
    """Keyed hash of a learner id; without the secret it cannot be reversed or recomputed."""
    return hmac.new(secret, raw_learner_id.encode("utf-8"), hashlib.sha256).hexdigest()
