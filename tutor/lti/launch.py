"""The LTI 1.3 launch: the OIDC login the platform starts, then the id_token it posts back, checked in full.

Workers keep no state between the two steps: the login puts the state and nonce in a short-lived
cookie signed with a key derived from the pages' session secret (the same in every worker); the launch
checks the token against that cookie and records the nonce, hashed, so a token is accepted once.

>>> learner_id("https://lms.example.vn", "12345")
'lti:ffe524ac71aa:12345'
>>> learner_id("https://lms.example.vn", "a/b")
'lti:ffe524ac71aa:a%2Fb'
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import jwt
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tutor.lti import platforms
from tutor.lti.keysets import KeySets
from tutor.lti.platforms import Registration
from tutor.lti.refusals import Refused
from tutor.store.bulk_writes import insert_learners
from tutor.store.tables import LtiNonce

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
STATE_SECONDS = 600
"""How long a learner has between the platform's login request and its launch."""
LEEWAY_SECONDS = 60
"""Clock difference allowed with the platform for exp, iat and nbf."""
COOKIE_PREFIX = "lti_state_"
STATE_PATTERN = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class LoginRedirect:
    """Where to send the browser (the platform's auth URL) and the state cookie to set on the way."""

    url: str
    cookie_name: str
    cookie_value: str
    max_age: int = STATE_SECONDS


@dataclass(frozen=True)
class Launched:
    """A launch accepted: the platform learner id derived from (issuer, sub), to be pseudonymised, and where from."""

    learner_id: str
    platform_id: int
    deployment_id: str
    roles: tuple[str, ...] = ()  # the launch's LTI roles (full URIs), which may set the learner's audience


def state_key(session_secret: bytes) -> bytes:
    """The key that signs state cookies: derived, so it signs nothing the pages' cookies would accept."""
    return hmac.new(session_secret, b"tutor lti state cookie", hashlib.sha256).digest()


def learner_id(issuer: str, sub: str) -> str:
    """The platform learner id of an LTI user: their sub under a short hash of the issuer, with '%' and '/'
    percent-encoded so the id obeys tutor.text's learner id rule; a longer one is hashed whole."""
    escaped = sub.replace("%", "%25").replace("/", "%2F")
    head = f"lti:{hashlib.sha256(issuer.encode()).hexdigest()[:12]}:"
    if len(head) + len(escaped) > 256:
        escaped = "sha256-" + hashlib.sha256(sub.encode()).hexdigest()
    return head + escaped


def _usable(value: str | None) -> bool:
    """Whether a value is present and storable text (no NUL, no lone surrogate)."""
    return bool(value) and "\x00" not in (value or "") and not re.search("[\ud800-\udfff]", value or "")


def login(session: Session, params: dict[str, str], redirect_uri: str, session_secret: bytes, now: datetime) -> LoginRedirect:
    """Answer the platform's third-party-initiated login: the registered platform's auth URL with a new state and nonce."""
    for name in ("iss", "login_hint", "target_link_uri"):
        if not _usable(params.get(name)):
            raise Refused("missing", f"the login request lacks `{name}`")
    platform = platforms.find(session, params["iss"], params.get("client_id"))
    if platform is None:
        raise Refused("unknown_platform", "register it with `tutor lti add-platform` (or several share this issuer: send client_id)")
    deployment = params.get("lti_deployment_id")
    if deployment is not None and deployment not in platform.deployments:
        raise Refused("unknown_deployment")
    state, nonce = secrets.token_hex(16), secrets.token_urlsafe(24)
    cookie = jwt.encode(
        {"state": state, "nonce": nonce, "iss": platform.issuer, "aud": platform.client_id, "exp": int(now.timestamp()) + STATE_SECONDS},
        state_key(session_secret), algorithm="HS256",
    )
    query = {
        "scope": "openid", "response_type": "id_token", "response_mode": "form_post", "prompt": "none",
        "client_id": platform.client_id, "redirect_uri": redirect_uri, "login_hint": params["login_hint"], "state": state, "nonce": nonce,
    }
    if params.get("lti_message_hint"):
        query["lti_message_hint"] = params["lti_message_hint"]
    separator = "&" if "?" in platform.login_url else "?"
    return LoginRedirect(f"{platform.login_url}{separator}{urlencode(query)}", COOKIE_PREFIX + state, cookie)


def _state(form: dict[str, str], cookies: dict[str, str], session_secret: bytes, now: datetime) -> dict:
    state = form.get("state") or ""
    if not STATE_PATTERN.fullmatch(state):
        raise Refused("missing_state", "the launch carries no state from a login here")
    cookie = cookies.get(COOKIE_PREFIX + state)
    if not cookie:
        raise Refused("missing_state", "no state cookie for this launch")
    try:
        data = jwt.decode(cookie, state_key(session_secret), algorithms=["HS256"], options={"verify_aud": False, "require": ["exp"]},
                          leeway=0)
    except jwt.ExpiredSignatureError:
        raise Refused("missing_state", "the sign-in took longer than 10 minutes") from None
    except jwt.InvalidTokenError:
        raise Refused("bad_state", "the state cookie's signature is wrong") from None
    if not hmac.compare_digest(str(data.get("state", "")).encode(), state.encode()):
        raise Refused("bad_state")
    return data


def _platform(session: Session, token: str, state: dict) -> tuple[Registration, dict]:
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        raise Refused("malformed") from None
    if header.get("alg") != "RS256":
        raise Refused("forged", f"the token is signed with {str(header.get('alg'))[:20]}, LTI 1.3 requires RS256")
    if unverified.get("iss") != state["iss"]:
        raise Refused("wrong_issuer")
    aud = unverified.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if state["aud"] not in audiences or (len(audiences) > 1 and unverified.get("azp") != state["aud"]):
        raise Refused("wrong_audience")
    platform = platforms.find(session, state["iss"], state["aud"])
    if platform is None:
        raise Refused("unknown_platform", "it was removed during the sign-in")
    return platform, header


def verify(token: str, key: Any, platform: Registration, nonce: str) -> dict:
    """The token's claims if it is signed by the platform, for this tool, in date, with this nonce, and an LTI 1.3 resource link launch."""
    try:
        claims = jwt.decode(
            token, key, algorithms=["RS256"], audience=platform.client_id, issuer=platform.issuer, leeway=LEEWAY_SECONDS,
            options={"require": ["iss", "aud", "exp", "iat", "sub", "nonce"]},
        )
    except jwt.InvalidSignatureError:
        raise Refused("forged") from None
    except (jwt.ExpiredSignatureError, jwt.ImmatureSignatureError, jwt.InvalidIssuedAtError):
        raise Refused("expired") from None
    except jwt.InvalidAudienceError:
        raise Refused("wrong_audience") from None
    except jwt.InvalidIssuerError:
        raise Refused("wrong_issuer") from None
    except jwt.MissingRequiredClaimError as exc:
        raise Refused("missing", f"the token lacks the `{exc.claim}` claim") from None
    except jwt.InvalidTokenError:
        raise Refused("malformed") from None
    if claims.get("azp") not in (None, platform.client_id):
        raise Refused("wrong_audience", "azp names another tool")
    if not isinstance(claims.get("nonce"), str) or not hmac.compare_digest(claims["nonce"].encode("utf-8", "replace"), nonce.encode()):
        raise Refused("replayed", "the token's nonce is not the one this sign-in asked for")
    if claims.get(CLAIM + "deployment_id") not in platform.deployments:
        raise Refused("unknown_deployment")
    if claims.get(CLAIM + "message_type") != "LtiResourceLinkRequest" or claims.get(CLAIM + "version") != "1.3.0":
        raise Refused("wrong_message")
    link = claims.get(CLAIM + "resource_link")
    if not isinstance(link, dict) or not link.get("id"):
        raise Refused("missing", "the token lacks the resource_link claim")
    if not isinstance(claims.get("sub"), str) or not _usable(claims["sub"]) or len(claims["sub"]) > 255:
        raise Refused("bad_user")
    return claims


def use_nonce(session: Session, nonce: str, until: datetime, now: datetime) -> None:
    """Record a nonce as used (its SHA-256, until it could no longer be valid); a second use is a replay.
    Nonces past their time are purged on the way."""
    session.execute(delete(LtiNonce).where(LtiNonce.expires_at < now))
    try:
        with session.begin_nested():
            session.add(LtiNonce(digest=hashlib.sha256(nonce.encode()).hexdigest(), expires_at=until))
    except IntegrityError:
        raise Refused("replayed") from None


def launch(session: Session, form: dict[str, str], cookies: dict[str, str], session_secret: bytes, key_sets: KeySets, now: datetime) -> Launched:
    """Check a launch (the id_token and state the platform posted) in full; on success the nonce is spent.

    The caller commits: the nonce and the learner are stored together."""
    state = _state(form, cookies, session_secret, now)
    token = form.get("id_token")
    if not token:
        raise Refused("missing", "the launch lacks `id_token`")
    platform, header = _platform(session, token, state)
    claims = verify(token, key_sets.key(platform, header.get("kid")), platform, state["nonce"])
    use_nonce(session, state["nonce"], now + timedelta(seconds=STATE_SECONDS + LEEWAY_SECONDS), now)
    roles = claims.get(CLAIM + "roles")
    roles = tuple(r for r in roles if isinstance(r, str))[:50] if isinstance(roles, list) else ()
    return Launched(learner_id(platform.issuer, claims["sub"]), platform.id, claims[CLAIM + "deployment_id"], roles)


def enrol(session: Session, pseudonym: str, now: datetime) -> None:
    """Make sure the learner exists (a pseudonym, as every learner)."""
    insert_learners(session, [pseudonym], now)
