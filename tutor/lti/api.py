"""LTI 1.3 routes: the OIDC login and the launch the platform's LMS sends the learner through, the tool's key
set, and the admin routes registering platforms and deployments.

A refused login or launch answers a page (not JSON) saying why in Vietnamese and English: the learner
sees it inside the LMS's frame.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from tutor.clock import utcnow
from tutor.deps import Caller, RuntimeDep, SessionDep, require_scopes
from tutor.lti import platforms
from tutor.lti.keysets import key_sets, tool_jwks
from tutor.lti.launch import COOKIE_PREFIX, enrol, launch, login
from tutor.lti.platforms import Registration
from tutor.lti.refusals import Refused, refusal_page
from tutor.pages.sessions import LEARNER_HOME, sign_in
from tutor.privacy import audit
from tutor.profiles.profile import fill_from_roles
from tutor.runtime import Runtime
from tutor.text import CleanText

router = APIRouter(prefix="/lti", tags=["lti"])
admin_router = APIRouter(prefix="/v1/admin/lti", tags=["admin"])
Admin = Annotated[Caller, Depends(require_scopes("admin"))]
PlatformId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The platform's id, as `GET /v1/admin/lti/platforms` lists it.")]
TEXT = {"type": "string", "minLength": 1, "pattern": "^[^\\u0000-\\u001f\\u007f]+$"}  # printable text: a control character is refused (400)
LOGIN_FIELDS = ("iss", "login_hint", "target_link_uri", "lti_message_hint", "client_id", "lti_deployment_id")
LOGIN_REQUIRED = ("iss", "login_hint", "target_link_uri")
LOGIN_QUERY = {"parameters": [{"name": k, "in": "query", "required": k in LOGIN_REQUIRED, "schema": TEXT} for k in LOGIN_FIELDS]}
LOGIN_FORM = {"requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": {
    "type": "object", "required": list(LOGIN_REQUIRED), "properties": dict.fromkeys(LOGIN_FIELDS, TEXT),
}}}}}
LAUNCH_FORM = {"requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": {
    "type": "object", "required": ["id_token", "state"], "properties": {"id_token": TEXT, "state": TEXT},
}}}}}
REFUSAL = {"content": {"text/html": {}}, "description": "Refused: a page saying why, in Vietnamese and English."}


class PlatformRequest(BaseModel):
    issuer: CleanText = Field(min_length=1, max_length=500, examples=["https://lms.binhdanhocvuso.gov.vn"])
    client_id: CleanText = Field(min_length=1, max_length=200, examples=["tutor-7f3a"], description="The id the platform gave this tool.")
    login_url: CleanText = Field(min_length=1, max_length=2000, examples=["https://lms.binhdanhocvuso.gov.vn/mod/lti/auth.php"],
                                 description="The platform's OIDC authorisation endpoint.")
    token_url: CleanText | None = Field(None, max_length=2000, examples=["https://lms.binhdanhocvuso.gov.vn/mod/lti/token.php"],
                                        description="The platform's OAuth2 token endpoint (grades); optional.")
    jwks_url: CleanText | None = Field(None, max_length=2000, examples=["https://lms.binhdanhocvuso.gov.vn/mod/lti/certs.php"],
                                       description="Where the platform publishes its key set; or paste it in `jwks`.")
    jwks: dict | None = Field(None, examples=[None], description="The platform's public key set (JWKS JSON), when it has no URL.")
    deployments: list[Annotated[CleanText, Field(min_length=1, max_length=255)]] = Field(min_length=1, max_length=1000, examples=[["1"]])


class PlatformInfo(BaseModel):
    id: int = Field(examples=[1])
    issuer: str = Field(examples=["https://lms.binhdanhocvuso.gov.vn"])
    client_id: str = Field(examples=["tutor-7f3a"])
    login_url: str = Field(examples=["https://lms.binhdanhocvuso.gov.vn/mod/lti/auth.php"])
    token_url: str | None = Field(examples=[None])
    jwks_url: str | None = Field(examples=["https://lms.binhdanhocvuso.gov.vn/mod/lti/certs.php"])
    pasted_keys: int = Field(examples=[0], description="How many keys were pasted (0 when the keys come from jwks_url).")
    deployments: list[str] = Field(examples=[["1"]])


class DeploymentRequest(BaseModel):
    deployment_id: CleanText = Field(min_length=1, max_length=255, examples=["2"])


class KeySet(BaseModel):
    keys: list[dict] = Field(examples=[[{"kty": "RSA", "kid": "fFSIqACAdZT1hI1UKd3RlrMVpjTald1WwlJtBezXa88", "alg": "RS256", "use": "sig",
                                         "n": "…", "e": "AQAB"}]])


def info(p: Registration) -> PlatformInfo:
    return PlatformInfo(
        id=p.id, issuer=p.issuer, client_id=p.client_id, login_url=p.login_url, token_url=p.token_url, jwks_url=p.jwks_url,
        pasted_keys=len(p.jwks["keys"]) if p.jwks else 0, deployments=list(p.deployments),
    )


def refused_page(refused: Refused) -> HTMLResponse:
    return HTMLResponse(refusal_page(refused), status_code=refused.status, headers={"Cache-Control": "no-store"})


async def form_of(request: Request) -> dict[str, str]:
    """The query and, for a POST, the url-encoded form (the platform's auto-submitted form_post)."""
    values = dict(request.query_params)
    if request.method == "POST":
        body = await request.body()
        try:
            values.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except (UnicodeDecodeError, ValueError):
            raise Refused("unreadable_form", "send it as UTF-8 url-encoded text") from None
    return values


LOGIN_RESPONSES: dict[int | str, dict[str, Any]] = {302: {"description": "To the platform's auth URL, with state and nonce."}, 400: REFUSAL, 403: REFUSAL}


async def start_login(request: Request, runtime: Runtime, session: Session) -> Response:
    try:
        form = await form_of(request)
        redirect = await run_in_threadpool(login, session, form, str(request.url_for("lti_launch")), runtime.settings.session_key, utcnow())
    except Refused as refused:
        return refused_page(refused)
    response = RedirectResponse(redirect.url, status_code=302, headers={"Cache-Control": "no-store"})
    response.set_cookie(redirect.cookie_name, redirect.cookie_value, max_age=redirect.max_age, path="/lti", secure=True, httponly=True, samesite="none")
    return response


@router.get("/login", response_class=RedirectResponse, status_code=302, summary="OIDC login initiation from the LMS (query)",
            openapi_extra=LOGIN_QUERY, responses=LOGIN_RESPONSES)
async def lti_login(request: Request, runtime: RuntimeDep, session: SessionDep) -> Response:
    """Third-party-initiated login: iss, login_hint, target_link_uri (and lti_message_hint, client_id, lti_deployment_id)."""
    return await start_login(request, runtime, session)


@router.post("/login", response_class=RedirectResponse, status_code=302, summary="OIDC login initiation from the LMS (form)",
             openapi_extra=LOGIN_FORM, responses=LOGIN_RESPONSES)
async def lti_login_form(request: Request, runtime: RuntimeDep, session: SessionDep) -> Response:
    """The same login, posted as a form."""
    return await start_login(request, runtime, session)


def sign_in_learner(runtime: Runtime, session: Session, form: dict[str, str], cookies: dict[str, str]) -> str:
    """Check the launch and store the learner and the spent nonce together; the learner's pseudonym. Blocking
    (the database, perhaps the platform's key set URL): run off the event loop."""
    now = utcnow()
    try:
        launched = launch(session, form, cookies, runtime.settings.session_key, key_sets, now)
        learner = runtime.pseudonym(launched.learner_id)
        enrol(session, learner, now)
        fill_from_roles(session, runtime.library, learner, list(launched.roles), now)  # an empty profile takes the audience its roles map to
        session.commit()
    except Refused:
        session.rollback()
        raise
    return learner


@router.post("/launch", response_class=RedirectResponse, status_code=303, summary="The LMS's launch (id_token form_post)",
             openapi_extra=LAUNCH_FORM, responses={303: {"description": "Signed in: to the learner's home."}, 400: REFUSAL, 403: REFUSAL})
async def lti_launch(request: Request, runtime: RuntimeDep, session: SessionDep) -> Response:
    """Check the id_token in full; the learner (a pseudonym of issuer and sub) gets a page session."""
    form: dict[str, str] = {}
    try:
        form = await form_of(request)
        learner = await run_in_threadpool(sign_in_learner, runtime, session, form, dict(request.cookies))
    except Refused as refused:
        return refused_page(refused)
    sign_in(request, learner=learner, scopes=["learner"], label="lti")
    response = RedirectResponse(LEARNER_HOME, status_code=303, headers={"Cache-Control": "no-store"})
    response.delete_cookie(COOKIE_PREFIX + form["state"], path="/lti", secure=True, httponly=True, samesite="none")
    return response


@router.get("/jwks", response_model=KeySet, summary="The tool's public key set (for the platform's grade service)")
def lti_jwks(session: SessionDep) -> KeySet:
    keys = tool_jwks(session)
    session.commit()
    return KeySet(**keys)


@admin_router.post("/platforms", response_model=PlatformInfo, status_code=201, summary="Register an LMS platform with its deployments")
def add_platform(body: PlatformRequest, session: SessionDep, caller: Admin) -> PlatformInfo:
    added = platforms.add_platform(
        session, issuer=body.issuer, client_id=body.client_id, login_url=body.login_url, token_url=body.token_url,
        jwks_url=body.jwks_url, jwks=body.jwks, deployments=body.deployments,
    )
    audit.record(session, caller.label, "lti.platform.add", f"{added.id} {added.issuer} client={added.client_id}")
    session.commit()
    return info(added)


@admin_router.get("/platforms", response_model=list[PlatformInfo], summary="The registered LMS platforms")
def list_platforms(session: SessionDep, caller: Admin) -> list[PlatformInfo]:
    return [info(p) for p in platforms.platforms(session)]


@admin_router.delete("/platforms/{platform_id}", response_model=PlatformInfo, summary="Remove a platform: its launches are refused from now on")
def remove_platform(platform_id: PlatformId, session: SessionDep, caller: Admin) -> PlatformInfo:
    gone = platforms.remove_platform(session, platform_id)
    audit.record(session, caller.label, "lti.platform.remove", f"{gone.id} {gone.issuer} client={gone.client_id}")
    session.commit()
    return info(gone)


@admin_router.post("/platforms/{platform_id}/deployments", response_model=PlatformInfo, status_code=201, summary="Accept launches from another deployment")
def add_deployment(platform_id: PlatformId, body: DeploymentRequest, session: SessionDep, caller: Admin) -> PlatformInfo:
    changed = platforms.add_deployment(session, platform_id, body.deployment_id)
    audit.record(session, caller.label, "lti.deployment.add", f"{platform_id} {body.deployment_id}")
    session.commit()
    return info(changed)


@admin_router.delete("/platforms/{platform_id}/deployments/{deployment_id}", response_model=PlatformInfo, summary="Refuse a deployment's launches from now on")
def remove_deployment(
    platform_id: PlatformId, deployment_id: Annotated[CleanText, Path(min_length=1, max_length=255)], session: SessionDep, caller: Admin,
) -> PlatformInfo:
    changed = platforms.remove_deployment(session, platform_id, deployment_id)
    audit.record(session, caller.label, "lti.deployment.remove", f"{platform_id} {deployment_id}")
    session.commit()
    return info(changed)
