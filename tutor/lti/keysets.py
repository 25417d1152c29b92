"""Keys: the platforms' public key sets (to check launches) and the tool's own RSA key (published at /lti/jwks).

A platform's JWKS URL is fetched at most once per `ttl` seconds per worker and refetched once when a
launch names a key id the cached set lacks (a platform rotating its key), but not more often than
`refetch_seconds`, so forged key ids cannot make us hammer the platform. Pasted key sets are used as given.

The tool's key lives in the database, so every worker signs with the same one.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tutor.lti.platforms import Registration
from tutor.lti.refusals import Refused
from tutor.store.tables import LtiToolKey

MAX_JWKS_BYTES = 256 * 1024


def fetch_jwks(url: str) -> dict:
    """The key set at a platform's JWKS URL (5 s timeout, 256 KB at most, no redirects followed)."""
    try:
        response = httpx.get(url, timeout=5.0, follow_redirects=False)
        response.raise_for_status()
        if len(response.content) > MAX_JWKS_BYTES:
            raise Refused("keys_unavailable", "the key set is too large")
        data = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise Refused("keys_unavailable", f"{type(exc).__name__} fetching the key set") from None
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise Refused("keys_unavailable", "the key set URL did not answer a JSON key set")
    return data


class KeySets:
    """The platforms' key sets as this worker last fetched them."""

    def __init__(self, fetch: Callable[[str], dict] = fetch_jwks, ttl: float = 3600.0, refetch_seconds: float = 10.0) -> None:
        self.fetch, self.ttl, self.refetch_seconds = fetch, ttl, refetch_seconds
        self._cache: dict[str, tuple[float, dict]] = {}
        self._forced: dict[str, float] = {}
        self._lock = threading.Lock()

    def _get(self, url: str, *, force: bool) -> tuple[dict, bool]:
        """The key set at url, and whether it was fetched just now; `force` refetches, unless it did so in the last refetch_seconds."""
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(url)
            if force and now - self._forced.get(url, -self.refetch_seconds) < self.refetch_seconds:
                force = False
            elif force:
                self._forced[url] = now
        if cached and now - cached[0] < self.ttl and not force:
            return cached[1], False
        jwks = self.fetch(url)
        with self._lock:
            self._cache[url] = (time.monotonic(), jwks)
        return jwks, True

    def key(self, platform: Registration, kid: str | None) -> Any:
        """The platform's public key with this key id (the only key when the token names none)."""
        if platform.jwks is not None:
            found = pick(platform.jwks, kid)
        else:
            assert platform.jwks_url is not None
            jwks, fresh = self._get(platform.jwks_url, force=False)
            found = pick(jwks, kid)
            if found is None and not fresh:
                found = pick(self._get(platform.jwks_url, force=True)[0], kid)
        if found is None:
            raise Refused("forged", "the token's key id is not in the platform's key set")
        try:
            return jwt.PyJWK(found, algorithm="RS256").key
        except jwt.PyJWKError:
            raise Refused("forged", "the platform's key for this key id cannot be read") from None

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()
            self._forced.clear()


def pick(jwks: dict, kid: str | None) -> dict | None:
    """The RSA signing key with this kid; without a kid, the set's only RSA key.

    >>> pick({"keys": [{"kty": "RSA", "kid": "a"}, {"kty": "RSA", "kid": "b"}]}, "b")
    {'kty': 'RSA', 'kid': 'b'}
    >>> pick({"keys": [{"kty": "RSA", "kid": "a"}, {"kty": "RSA", "kid": "b"}]}, None) is None
    True
    """
    keys = [k for k in jwks.get("keys", []) if isinstance(k, dict) and k.get("kty") == "RSA" and k.get("use", "sig") == "sig"]
    if kid is None:
        return keys[0] if len(keys) == 1 else None
    return next((k for k in keys if k.get("kid") == kid), None)


key_sets = KeySets()
"""This worker's cache of the platforms' key sets."""


def tool_key(session: Session) -> tuple[str, rsa.RSAPrivateKey]:
    """The tool's RSA key (kid, key): the oldest stored one, made on first use.

    Two workers making one at once both store theirs; both then use the oldest, so they agree."""
    row = session.scalars(select(LtiToolKey).order_by(LtiToolKey.created_at, LtiToolKey.kid).limit(1)).first()
    if row is None:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
        try:
            with session.begin_nested():
                session.add(LtiToolKey(kid=thumbprint(public_jwk(private)), private_pem=pem))
        except IntegrityError:
            pass
        row = session.scalars(select(LtiToolKey).order_by(LtiToolKey.created_at, LtiToolKey.kid).limit(1)).one()
    key = serialization.load_pem_private_key(row.private_pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return row.kid, key


def thumbprint(jwk: dict) -> str:
    """The RFC 7638 thumbprint of an RSA public key, used as its key id.

    >>> thumbprint({"kty": "RSA", "n": "AQAB", "e": "AQAB"})
    'fFSIqACAdZT1hI1UKd3RlrMVpjTald1WwlJtBezXa88'
    """
    canonical = json.dumps({k: jwk[k] for k in ("e", "kty", "n")}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).decode().rstrip("=")


def public_jwk(private: rsa.RSAPrivateKey) -> dict:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    return {"kty": "RSA", "n": jwk["n"], "e": jwk["e"]}


def tool_jwks(session: Session) -> dict:
    """The tool's public key set, as platforms fetch it."""
    kid, private = tool_key(session)
    return {"keys": [{**public_jwk(private), "kid": kid, "alg": "RS256", "use": "sig"}]}
