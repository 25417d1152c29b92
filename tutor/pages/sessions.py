"""Who is signed in to the pages: a signed cookie, so any worker can read it and none keeps state.

The cookie holds the person's scopes, label, the learner pseudonym (learner sessions), the prefix of the
API key they signed in with, a CSRF token and when the session ends. It is an HMAC-SHA256-signed JSON
object (`PageSessions` reads and writes it), `HttpOnly; Secure; SameSite=None` because the pages live in
the platform's iframe. A key revoked after sign-in ends the session at the next page (`current`).

>>> value = seal({"scopes": ["learner"], "until": 4102444800}, b"k")
>>> opened(value, b"k", now=0)["scopes"]
['learner']
>>> opened(value, b"other", now=0) is None, opened(value, b"k", now=4102444801) is None
(True, True)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from tutor.clock import as_utc, utcnow
from tutor.store.tables import ApiClient

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

LEARNER_HOME = "/learn"
"""Where a signed-in learner lands (My skills)."""
DESK_HOME = "/desk"
COOKIE = "tutor_session"
MAX_COOKIE_BYTES = 3800  # below the 4 KB browsers keep per cookie


@dataclass(frozen=True)
class PageUser:
    """The person a page is for: a learner (their pseudonym) or a researcher/administrator (learner None)."""

    scopes: frozenset[str]
    label: str
    learner: str | None
    key_prefix: str | None
    csrf: str

    @property
    def at_desk(self) -> bool:
        return bool(self.scopes & {"researcher", "admin"})

    @property
    def admin(self) -> bool:
        return "admin" in self.scopes


def sign_in(request: Request, *, learner: str | None, scopes: Iterable[str], label: str, key_prefix: str | None = None) -> None:
    """Start a fresh session for this person (new CSRF token; any earlier session's data dropped).
    learner: the learner's pseudonym (runtime.pseudonym(platform_id)) for learner sessions, else None."""
    hours = request.app.state.runtime.settings.pages.session_hours
    request.session.clear()
    request.session.update({
        "scopes": sorted(set(scopes)), "label": label, "learner": learner, "key_prefix": key_prefix,
        "csrf": secrets.token_urlsafe(24), "until": int(time.time() + hours * 3600),
    })


def sign_out(request: Request) -> None:
    request.session.clear()


def current(request: Request) -> PageUser | None:
    """Who is signed in, or None (no session, an ended one, or one whose API key was revoked since)."""
    data = request.session
    if not data.get("scopes") or not data.get("csrf"):
        return None
    prefix = data.get("key_prefix")
    if prefix is not None and not key_still_valid(request.app.state.runtime, prefix):
        request.session.clear()
        return None
    return PageUser(frozenset(data["scopes"]), str(data.get("label", "")), data.get("learner"), prefix, str(data["csrf"]))


def key_still_valid(runtime: Any, prefix: str) -> bool:
    with runtime.session() as session:
        client = session.scalar(select(ApiClient).where(ApiClient.key_prefix == prefix))
    if client is None or client.revoked_at is not None:
        return False
    return client.expires_at is None or as_utc(client.expires_at) > utcnow()


def csrf_matches(user: PageUser, sent: str | None) -> bool:
    return bool(sent) and hmac.compare_digest(user.csrf, sent or "")


def seal(data: dict, key: bytes) -> str:
    body = base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")
    return f"{body}.{hmac.new(key, body.encode(), hashlib.sha256).hexdigest()}"


def opened(value: str, key: bytes, now: float | None = None) -> dict | None:
    """The session a cookie holds, or None when its signature is wrong or it has ended."""
    body, _, signature = value.partition(".")
    if not hmac.compare_digest(hmac.new(key, body.encode(), hashlib.sha256).hexdigest(), signature):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("until"), int) or data["until"] <= (time.time() if now is None else now):
        return None
    return data


class PageSessions:
    """ASGI middleware: puts the cookie's session in `scope["session"]` and writes it back when a page changed it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        settings = scope["app"].state.runtime.settings
        key = settings.session_key
        raw = SimpleCookie()
        for name, value in scope["headers"]:
            if name == b"cookie":
                raw.load(value.decode("latin-1"))
        data = opened(raw[COOKIE].value, key) if COOKIE in raw else None
        before = json.dumps(data, sort_keys=True) if data else None
        scope["session"] = dict(data or {})

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                now = dict(scope["session"])
                after = json.dumps(now, sort_keys=True) if now else None
                if after != before:
                    headers = list(message.get("headers", []))
                    headers.append((b"set-cookie", cookie_header(now, key).encode("latin-1")))
                    message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def cookie_header(data: dict, key: bytes) -> str:
    """Set-Cookie for a session (an empty one clears the cookie)."""
    flags = "Path=/; HttpOnly; Secure; SameSite=None"
    if not data:
        return f"{COOKIE}=; Max-Age=0; {flags}"
    value = seal(data, key)
    if len(value) > MAX_COOKIE_BYTES:
        raise ValueError("a page session grew past what a cookie holds")
    return f"{COOKIE}={value}; Max-Age={max(0, data['until'] - int(time.time()))}; {flags}"
