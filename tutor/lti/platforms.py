"""The LMSs registered to launch learners here: issuer, our client id there, their login URL, token URL and keys.

A platform's keys are either a JWKS URL (fetched and cached, see `keysets`) or a key set pasted at
registration. Each platform lists the deployments (deployment_id) whose launches are accepted.

>>> checked_url("https://lms.example.vn/auth", "login_url")
'https://lms.example.vn/auth'
>>> checked_url("http://127.0.0.1:8080/jwks", "jwks_url")
'http://127.0.0.1:8080/jwks'
>>> checked_url("http://lms.example.vn/auth", "login_url")
Traceback (most recent call last):
...
tutor.errors.Invalid: `login_url` must be an https URL (http only for localhost); got 'http://lms.example.vn/auth'
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from tutor.errors import Conflict, Invalid, NotFound
from tutor.store.tables import LtiDeployment, LtiPlatform

LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


@dataclass(frozen=True)
class Registration:
    """A platform as the launch needs it, detached from the database session."""

    id: int
    issuer: str
    client_id: str
    login_url: str
    token_url: str | None
    jwks_url: str | None
    jwks: dict | None
    deployments: tuple[str, ...]


def checked_url(url: str, name: str) -> str:
    """The URL, if the platform can be reached safely at it: https, or http on this machine (test platforms)."""
    parts = urlsplit(url)
    if not parts.netloc or not (parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOCAL_HOSTS)):
        raise Invalid(f"`{name}` must be an https URL (http only for localhost); got {url[:200]!r}")
    return url


def checked_jwks(jwks: object) -> dict:
    """A pasted key set with at least one RSA key, each with its modulus and exponent."""
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(keys, list) or not keys:
        raise Invalid("`jwks` must be a JSON key set: an object with a non-empty list `keys`")
    for i, key in enumerate(keys):
        if not isinstance(key, dict) or key.get("kty") != "RSA" or not isinstance(key.get("n"), str) or not isinstance(key.get("e"), str):
            raise Invalid(f"`jwks.keys[{i}]` must be an RSA public key (kty RSA, with n and e); LTI 1.3 signs with RS256")
        if "d" in key:
            raise Invalid(f"`jwks.keys[{i}]` holds a private key (d); paste only the platform's public key set")
    return {"keys": keys}


def registration(platform: LtiPlatform, deployments: list[str]) -> Registration:
    return Registration(
        platform.id, platform.issuer, platform.client_id, platform.login_url, platform.token_url, platform.jwks_url, platform.jwks, tuple(sorted(deployments)),
    )


def _deployments(session: Session, platform_id: int) -> list[str]:
    return list(session.scalars(select(LtiDeployment.deployment_id).where(LtiDeployment.platform_id == platform_id)))


def add_platform(
    session: Session, *, issuer: str, client_id: str, login_url: str, token_url: str | None,
    jwks_url: str | None, jwks: object | None, deployments: list[str],
) -> Registration:
    """Register a platform with its deployments; the same issuer and client id twice is a conflict."""
    if not issuer.strip() or not client_id.strip():
        raise Invalid("`issuer` and `client_id` must not be empty")
    if (jwks_url is None) == (jwks is None):
        raise Invalid("give the platform's keys once: either `jwks_url` or `jwks` (the pasted key set)")
    if not deployments or any(not d.strip() for d in deployments):
        raise Invalid("give at least one `deployment` id, none empty")
    if session.scalar(select(LtiPlatform.id).where(LtiPlatform.issuer == issuer, LtiPlatform.client_id == client_id)) is not None:
        raise Conflict(f"a platform with issuer {issuer[:200]!r} and client id {client_id[:200]!r} is already registered; remove it first")
    platform = LtiPlatform(
        issuer=issuer, client_id=client_id, login_url=checked_url(login_url, "login_url"),
        token_url=checked_url(token_url, "token_url") if token_url else None,
        jwks_url=checked_url(jwks_url, "jwks_url") if jwks_url else None, jwks=checked_jwks(jwks) if jwks is not None else None,
    )
    session.add(platform)
    session.flush()
    for deployment in sorted(set(deployments)):
        session.add(LtiDeployment(platform_id=platform.id, deployment_id=deployment))
    session.flush()
    return registration(platform, sorted(set(deployments)))


def platforms(session: Session) -> list[Registration]:
    return [registration(p, _deployments(session, p.id)) for p in session.scalars(select(LtiPlatform).order_by(LtiPlatform.id))]


def platform(session: Session, platform_id: int) -> Registration:
    found = session.get(LtiPlatform, platform_id)
    if found is None:
        raise NotFound(f"no LTI platform {platform_id}; GET /v1/admin/lti/platforms lists them")
    return registration(found, _deployments(session, platform_id))


def remove_platform(session: Session, platform_id: int) -> Registration:
    """Forget a platform and its deployments; its learners stay (they are pseudonyms, like any learner)."""
    gone = platform(session, platform_id)
    session.query(LtiDeployment).filter(LtiDeployment.platform_id == platform_id).delete()
    session.query(LtiPlatform).filter(LtiPlatform.id == platform_id).delete()
    return gone


def add_deployment(session: Session, platform_id: int, deployment_id: str) -> Registration:
    platform(session, platform_id)
    if not deployment_id.strip():
        raise Invalid("`deployment_id` must not be empty")
    if deployment_id in _deployments(session, platform_id):
        raise Conflict(f"deployment {deployment_id[:200]!r} is already registered on platform {platform_id}")
    session.add(LtiDeployment(platform_id=platform_id, deployment_id=deployment_id))
    session.flush()
    return platform(session, platform_id)


def remove_deployment(session: Session, platform_id: int, deployment_id: str) -> Registration:
    platform(session, platform_id)
    removed = session.query(LtiDeployment).filter(LtiDeployment.platform_id == platform_id, LtiDeployment.deployment_id == deployment_id).delete()
    if not removed:
        raise NotFound(f"platform {platform_id} has no deployment {deployment_id[:200]!r}")
    return platform(session, platform_id)


def find(session: Session, issuer: str, client_id: str | None) -> Registration | None:
    """The platform a login or launch names: by issuer, and client id when the issuer has several."""
    query = select(LtiPlatform).where(LtiPlatform.issuer == issuer)
    if client_id is not None:
        query = query.where(LtiPlatform.client_id == client_id)
    found = list(session.scalars(query.limit(2)))
    if len(found) != 1:
        return None
    return registration(found[0], _deployments(session, found[0].id))
