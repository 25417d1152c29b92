"""Dependencies shared by the routers: the runtime, a database session, the caller's credential,
and the learner a caller may read."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBasic, HTTPBasicCredentials, HTTPBearer
from sqlalchemy.orm import Session

from tutor.errors import Forbidden
from tutor.privacy.credentials import find_client
from tutor.runtime import Runtime
from tutor.text import LEARNER_ID_DESCRIPTION, checked_learner_id

bearer = HTTPBearer(auto_error=False, description="An API key from `tutor keys create`, sent as `Authorization: Bearer <key>`.")
basic = HTTPBasic(auto_error=False, description="xAPI routes only, as LRS clients send it: the API key as the password (any username, "
                                                "such as the key's name), or as the username with an empty password.")


def get_runtime(request: Request) -> Runtime:
    """The process's runtime, brought up to date with what other workers changed (a database outage is a 503)."""
    runtime: Runtime = request.app.state.runtime
    runtime.refresh()
    return runtime


def get_session(runtime: Annotated[Runtime, Depends(get_runtime)]) -> Iterator[Session]:
    with runtime.session() as session:
        yield session


@dataclass(frozen=True)
class Caller:
    client_id: int
    name: str
    scopes: frozenset[str]
    learner: str | None  # pseudonym, for learner-scope keys
    key_prefix: str = ""

    @property
    def label(self) -> str:
        """How the audit log names the caller."""
        return f"{self.key_prefix} ({self.name})"


def _caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    session: Annotated[Session, Depends(get_session)],
) -> Caller:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Missing API key: send `Authorization: Bearer <key>`.", headers={"WWW-Authenticate": "Bearer"})
    client = find_client(session, credentials.credentials)
    if client is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Unknown, expired or revoked API key.", headers={"WWW-Authenticate": "Bearer"})
    if client.rate_per_minute:
        wait = request.app.state.rate_limiter.wait_seconds(client.key_prefix, client.rate_per_minute)
        if wait > 0:
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                f"This key may make {client.rate_per_minute} requests a minute; retry after {math.ceil(wait)} s.",
                headers={"Retry-After": str(math.ceil(wait))},
            )
    return Caller(client.id, client.name, frozenset(client.scopes.split()), client.learner_id, client.key_prefix)


def _bearer_or_basic_caller(
    request: Request,
    token: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    login: Annotated[HTTPBasicCredentials | None, Depends(basic)],
    session: Annotated[Session, Depends(get_session)],
) -> Caller:
    """The caller of an xAPI route: LRS clients send HTTP Basic credentials, so the key may come as its password."""
    if token is None and login is not None:
        token = HTTPAuthorizationCredentials(scheme="Bearer", credentials=login.password or login.username)
    if token is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Missing API key: send `Authorization: Bearer <key>`, or HTTP Basic with the key as the password.",
                            headers={"WWW-Authenticate": 'Basic realm="xAPI", Bearer'})
    return _caller(request, token, session)


def require_scopes(*allowed: str, allow_basic: bool = False):
    """A dependency admitting callers holding at least one of the allowed scopes; with `allow_basic`, HTTP Basic credentials too (the xAPI routes)."""
    source = Depends(_bearer_or_basic_caller if allow_basic else _caller)  # a default, not an annotation: annotations are strings here, read in the module's scope

    def check(caller: Caller = source) -> Caller:
        if not caller.scopes & set(allowed):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"This key has scope(s) {', '.join(sorted(caller.scopes))}; this route needs one of: {', '.join(allowed)}.",
            )
        return caller

    return check


def learner_for(runtime: Runtime, caller: Caller, learner_id: str) -> str:
    """The pseudonym of a learner the caller may read; learner keys read only their own learner."""
    learner = runtime.pseudonym(learner_id)
    if not caller.scopes & {"platform", "admin"} and caller.learner != learner:
        raise Forbidden("A learner key can read only its own learner's data.")
    return learner


LearnerId = Annotated[str, Path(min_length=1, max_length=256, description=LEARNER_ID_DESCRIPTION), checked_learner_id("learner_id")]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SessionDep = Annotated[Session, Depends(get_session)]
