"""The FastAPI application: it only wires the capabilities' routers, the middleware and the error handlers.

Domain failures (`tutor.errors`) become statuses in one table, `ERROR_STATUSES`; a database that does
not answer is the same 503 wherever it is noticed.
"""

from __future__ import annotations

import logging
import time
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from tutor import __version__, health
from tutor.answering import api as answering
from tutor.content import api as content
from tutor.errors import Conflict, DomainError, Forbidden, Invalid, NotFound, Unavailable
from tutor.events import api as events
from tutor.privacy import api as privacy
from tutor.privacy.credentials import RateLimiter, development_key
from tutor.recommend import api as recommend
from tutor.research import api as research
from tutor.runtime import Runtime
from tutor.settings import Settings, load_settings
from tutor.tracing import api as tracing

MAX_BODY_BYTES = 8 * 1024 * 1024
DOCS_ASSETS = "/docs-assets"  # Swagger UI and ReDoc files, served from the fastapi-offline package: no CDN, nothing fetched at run time


class ErrorMessage(BaseModel):
    detail: str = Field(description="What went wrong and what to do about it.")


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorMessage, "description": "A required header is missing or wrong."},
    401: {"model": ErrorMessage, "description": "Missing, unknown, expired or revoked API key."},
    403: {"model": ErrorMessage, "description": "The key lacks the scope this route needs, or may not read this learner."},
    404: {"model": ErrorMessage, "description": "No such learner, lesson, key or artefact."},
    409: {"model": ErrorMessage, "description": "The request clashes with what is stored (for example a finished placement quiz)."},
    413: {"model": ErrorMessage, "description": "Request body too large."},
    429: {"model": ErrorMessage, "description": "Rate limit of this key reached; see the Retry-After header."},
    503: {"model": ErrorMessage, "description": "The database is unreachable; retry later."},
}
ERROR_STATUSES: dict[type[DomainError], int] = {NotFound: 404, Forbidden: 403, Conflict: 409, Invalid: 422, Unavailable: 503}
ROUTERS = (
    events.router, events.xapi_router, tracing.router, content.skills_router, content.router, answering.router,
    privacy.router, tracing.admin_router, research.router, privacy.learners_router, recommend.router, recommend.placement_router,
)
access_log = logging.getLogger("tutor.access")
log = logging.getLogger("tutor")

DESCRIPTION = """
Adaptive tutoring for the national digital competency framework (Bình dân học vụ số).

Every `/v1` route needs an API key (`Authorization: Bearer <key>`) with the right scope:
`platform` (send events, read mastery and recommendations), `learner` (ask questions, read own
mastery), `researcher` (export pseudonymised logs), `admin` (content, models, keys).
Learner ids are replaced by a keyed hash before they reach the database or the logs.
"""


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        rt = runtime or Runtime(settings or load_settings())
        if rt.settings.embedded:
            path = rt.settings.service.var_dir / "dev-key"
            with rt.session() as session, session.begin():
                key = development_key(session, path)
            if key:
                print(f"\nDevelopment API key (scopes platform, researcher, admin), also saved in {path}:\n\n    {key}\n", flush=True)
        if runtime is None:
            rt.help_desk()  # build the question index before the first question, not during it
        app.state.runtime = rt
        app.state.rate_limiter = RateLimiter()
        yield
        if runtime is None:
            rt.engine.dispose()

    # validatorUrl None: Swagger UI would otherwise send the schema to validator.swagger.io.
    app = FastAPI(
        title="Tutor", version=__version__, description=DESCRIPTION, lifespan=lifespan,
        docs_url=None, redoc_url=None, swagger_ui_parameters={"validatorUrl": None},
    )
    add_offline_docs(app)

    @app.middleware("http")
    async def limit_and_log(request: Request, call_next):
        started = time.perf_counter()
        size = request.headers.get("content-length")
        if size and size.isdigit() and int(size) > MAX_BODY_BYTES:
            return JSONResponse({"detail": f"Request body over {MAX_BODY_BYTES // 1_048_576} MB; send smaller batches."}, status_code=413)
        response = await call_next(request)
        route = request.scope.get("route")
        access_log.info("%s %s %d %.1fms", request.method, getattr(route, "path", "(unmatched)"), response.status_code, (time.perf_counter() - started) * 1000)
        return response

    @app.exception_handler(StarletteHTTPException)
    async def method_not_allowed(request: Request, exc: StarletteHTTPException):
        """Starlette's 405 lists only the first matching route's methods; list all of them."""
        if exc.status_code != 405:
            return await http_exception_handler(request, exc)
        methods = sorted({m for r in app.routes if isinstance(r, APIRoute) and r.path_regex.match(request.url.path) for m in r.methods or ()})
        return JSONResponse({"detail": f"{request.method} is not allowed here; use {', '.join(methods)}."}, status_code=405, headers={"Allow": ", ".join(methods)})

    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError):
        status = next(code for kind, code in ERROR_STATUSES.items() if isinstance(exc, kind))
        headers = {"Retry-After": "5"} if status == 503 else None
        return JSONResponse({"detail": str(exc)}, status_code=status, headers=headers)

    @app.exception_handler(DBAPIError)
    async def database_unavailable(request: Request, exc: DBAPIError):
        if not exc.connection_invalidated and not isinstance(exc, (OperationalError, InterfaceError)):
            raise exc
        log.warning("database unavailable: %s", exc.__class__.__name__)
        return await domain_error(request, Unavailable("The database is unreachable; retry shortly. Nothing of this request was stored."))

    app.include_router(health.router)
    for router in ROUTERS:
        app.include_router(router, responses=ERROR_RESPONSES)
    return app


def add_offline_docs(app: FastAPI) -> None:
    """/docs (Swagger UI) and /redoc with their files served from the installed package, so they work on a network without internet.

    FastAPI's recipe for self-hosted docs assets. Public, like /openapi.json: a browser cannot send a Bearer
    header when it loads a page, and these pages show only the schema, no learner data.
    """
    app.mount(DOCS_ASSETS, StaticFiles(packages=[("fastapi_offline", "static")]), name="docs-assets")
    redirect_url = app.swagger_ui_oauth2_redirect_url or "/docs/oauth2-redirect"

    def root(request: Request) -> str:
        return str(request.scope.get("root_path", "")).rstrip("/")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        base = root(request)
        return get_swagger_ui_html(
            openapi_url=f"{base}{app.openapi_url}", title=f"{app.title} - Swagger UI", oauth2_redirect_url=f"{base}{redirect_url}",
            swagger_js_url=f"{base}{DOCS_ASSETS}/swagger-ui-bundle.js", swagger_css_url=f"{base}{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{base}{DOCS_ASSETS}/favicon.png", swagger_ui_parameters=app.swagger_ui_parameters,
        )

    @app.get(redirect_url, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        base = root(request)
        return get_redoc_html(
            openapi_url=f"{base}{app.openapi_url}", title=f"{app.title} - ReDoc", redoc_js_url=f"{base}{DOCS_ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{base}{DOCS_ASSETS}/favicon.png", with_google_fonts=False,
        )
