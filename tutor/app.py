"""The FastAPI application: it only wires the capabilities' routers, the middleware and the error handlers.

Domain failures (`tutor.errors`) become statuses in one table, `ERROR_STATUSES`; a database that does
not answer is the same 503 wherever it is noticed.
"""

from __future__ import annotations

import logging
import time
import traceback
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tutor import __version__, health
from tutor.answering import api as answering
from tutor.catalog import api as catalog
from tutor.content import api as content
from tutor.errors import Conflict, DomainError, Forbidden, Invalid, NotFound, Unavailable
from tutor.events import api as events
from tutor.lti import api as lti
from tutor.operations import api as operations
from tutor.operations import metrics, request_ids
from tutor.pages import api as pages
from tutor.privacy import api as privacy
from tutor.privacy.credentials import RateLimiter, development_key
from tutor.profiles import api as profiles
from tutor.recommend import api as recommend
from tutor.research import api as research
from tutor.runtime import Runtime
from tutor.settings import Settings, load_settings
from tutor.text import echo_error, safe_text
from tutor.tracing import api as tracing

MAX_BODY_BYTES = 8 * 1024 * 1024
"""The largest request body read, counted while it arrives (a chunked body has no Content-Length to trust)."""
PACKAGE_UPLOAD = "/v1/admin/catalog/imports"
MAX_PACKAGE_BODY_BYTES = 4 * 1024**3
"""A course package upload streams to disk; its route holds it to TUTOR_CATALOG_MAX_PACKAGE_BYTES, this is the outer bound."""
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
    catalog.router, pages.router, lti.router, lti.admin_router, profiles.router,
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
        app.state.rate_limiter = RateLimiter(rt.settings.store.redis_url)
        app.state.metrics_dir = shared_metrics_dir(rt.settings)
        app.state.metrics_readers = {}
        app.state.model_version = metrics.ModelVersion()
        yield
        if runtime is None:
            rt.engine.dispose()

    # validatorUrl None: Swagger UI would otherwise send the schema to validator.swagger.io.
    app = FastAPI(
        title="Tutor", version=__version__, description=DESCRIPTION, lifespan=lifespan,
        docs_url=None, redoc_url=None, swagger_ui_parameters={"validatorUrl": None},
    )
    add_offline_docs(app)

    pages.install(app)
    app.add_middleware(GZipMiddleware, minimum_size=500)
    app.add_middleware(Guard)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        """Starlette's 405 lists only the first matching route's methods; list all of them. A body FastAPI
        could not parse gets a 400 saying why. A page (tutor.pages) gets a page saying why."""
        if pages.is_page(request) and exc.status_code != 405:
            return pages.error_page(request, exc.status_code, detail=None if exc.status_code in (401, 403, 404) else str(exc.detail))
        if exc.status_code == 400 and exc.detail == "There was an error parsing the body":
            return JSONResponse({"detail": unparsable_body(exc.__cause__)}, status_code=400)
        if exc.status_code == 404 and exc.detail == "Not Found":
            return JSONResponse({"detail": "Nothing at this path; /docs lists the API's routes."}, status_code=404)
        if exc.status_code != 405:
            return await http_exception_handler(request, exc)
        methods = allowed_methods(app, request.scope)
        if not methods:
            return JSONResponse({"detail": "This path does not exist; /docs lists the API's routes."}, status_code=404)
        return JSONResponse({"detail": f"{request.method} is not allowed here; use {', '.join(methods)}."}, status_code=405, headers={"Allow": ", ".join(methods)})

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError):
        """Each error with its location and message; what was sent is echoed JSON-safe and short (see tutor.text.echo)."""
        if pages.is_page(request):
            return pages.error_page(request, 422, detail="; ".join(str(e.get("msg", "")) for e in exc.errors()))
        return JSONResponse({"detail": [echo_error(e) for e in exc.errors()]}, status_code=422)

    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError):
        status = next(code for kind, code in ERROR_STATUSES.items() if isinstance(exc, kind))
        if pages.is_page(request):
            return pages.error_page(request, status, detail=safe_text(str(exc)))
        headers = {"Retry-After": "5"} if status == 503 else None
        return JSONResponse({"detail": safe_text(str(exc))}, status_code=status, headers=headers)

    @app.exception_handler(DBAPIError)
    async def database_unavailable(request: Request, exc: DBAPIError):
        if not exc.connection_invalidated and not isinstance(exc, (OperationalError, InterfaceError)):
            raise exc
        log.warning("database unavailable: %s", exc.__class__.__name__)
        return await domain_error(request, Unavailable("The database is unreachable; retry shortly. Nothing of this request was stored."))

    app.include_router(health.router)
    app.include_router(operations.router, responses=ERROR_RESPONSES)
    for router in ROUTERS:
        app.include_router(router, responses=ERROR_RESPONSES)
    return app


class BodyTooLarge(StarletteHTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"Request body over {limit // 1_048_576} MB; send smaller batches.")


class Guard:
    """The outer layer of every HTTP request: bodies limited while they are read, one access-log line per
    request, and any unhandled error turned into a 500 here.

    The body limit wraps `receive`: it counts the bytes as they arrive, whatever Content-Length says
    (or whether it is sent at all), and answers 413 once they pass MAX_BODY_BYTES (a course package upload: MAX_PACKAGE_BODY_BYTES).

    The access log names the route template (`/v1/learners/{learner_id}/mastery`), never the raw path,
    which carries learner ids. An unhandled error is logged with its kind and the places it passed
    through (file, line, function), never its message or locals, which may hold a learner id, a question
    or an answer; it is not raised further, so no server logs it again with its message.

    Each request gets an id (a sane `X-Request-ID` sent, else a new one; tutor.operations.request_ids):
    it is in every log line the request causes and in the response's `X-Request-ID`. The request is
    counted and timed in the metrics under its route template, and the worker's pool and model version
    are brought up to date there.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0
        received = 0
        sent_id = next((v for k, v in scope["headers"] if k == b"x-request-id"), None)
        request_id = request_ids.accept(sent_id.decode("latin-1") if sent_id is not None else None)
        token = request_ids.current.set(request_id)
        limit = MAX_PACKAGE_BODY_BYTES if scope.get("path") == PACKAGE_UPLOAD else MAX_BODY_BYTES

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", request_id.encode())]}
            await send(message)

        try:
            size = next((v for k, v in scope["headers"] if k == b"content-length"), b"")
            if size.isdigit() and int(size) > limit:
                raise BodyTooLarge(limit)
            await self.app(scope, limited_receive, tracked_send)
        except BodyTooLarge as exc:
            if not status:
                await JSONResponse({"detail": exc.detail}, status_code=413)(scope, receive, tracked_send)
        except Exception as exc:  # the last place an error can be answered: logged here, without data
            log.error("unhandled %s in %s %s\n%s", " <- ".join(error_kinds(exc)), scope.get("method"), route_of(scope), where(exc))
            if not status:
                await JSONResponse(
                    {"detail": "The service failed on this request (an internal error, logged without the request's data). "
                               "Events and statements can be sent again safely: an id already stored is never applied twice."},
                    status_code=500,
                )(scope, receive, tracked_send)
            status = 500
        finally:
            seconds = time.perf_counter() - started
            access_log.info("%s %s %d %.1fms", scope.get("method"), route_of(scope), status or 500, seconds * 1000)
            metrics.observe_request(str(scope.get("method")), route_of(scope), status or 500, seconds)
            state = scope["app"].state if "app" in scope else None
            runtime, shown = getattr(state, "runtime", None), getattr(state, "model_version", None)
            if runtime is not None and shown is not None:  # set by the lifespan
                metrics.observe_pool(runtime.engine)
                shown.show(runtime.model.version)
            request_ids.current.reset(token)


def shared_metrics_dir(settings: Settings) -> Path | None:
    """Where the workers write their metrics when service.py runs several (prometheus multiprocess mode), else None."""
    folder = settings.service.var_dir / "metrics"
    return folder if settings.service.workers > 1 and folder.is_dir() else None


def route_of(scope: Scope) -> str:
    """The template of the route that served the request (never the raw path)."""
    return getattr(scope.get("route"), "path", "(unmatched)")


def error_kinds(exc: BaseException) -> list[str]:
    """The exception's class and those of the exceptions it came from, without their messages."""
    kinds: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        kinds.append(f"{type(current).__module__}.{type(current).__qualname__}")
        current = current.__cause__ or current.__context__
    return kinds


def where(exc: BaseException) -> str:
    """The frames an exception passed through, as file:line in function; no source text, message or locals."""
    frames = traceback.extract_tb(exc.__traceback__)
    return "\n".join(f"  {f.filename}:{f.lineno} in {f.name}" for f in frames[-30:])


def unparsable_body(cause: BaseException | None) -> str:
    """Why a body marked as JSON could not be read, said so that the sender can fix it."""
    if isinstance(cause, UnicodeError):
        why = "it is not valid UTF-8 text"
    elif isinstance(cause, RecursionError):
        why = "it is nested too deeply"
    elif isinstance(cause, ValueError):
        why = "a number in it has too many digits" if "digits" in str(cause) else "it is not valid JSON"
    else:
        why = "it could not be read"
    return f"The body could not be parsed as JSON: {why}. Send JSON text encoded as UTF-8."


def allowed_methods(app: FastAPI, scope: Scope) -> list[str]:
    """Every method some route answers at this path (static files answer GET and HEAD)."""
    found: set[str] = set()
    for method in ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"):
        probe = {**scope, "method": method, "root_path": scope.get("app_root_path", scope.get("root_path", ""))}  # as before a mount matched
        for route in app.router.routes:
            match, _ = route.matches(probe)
            if match == Match.FULL:
                if isinstance(route, Mount):
                    found.update({"GET", "HEAD"} if isinstance(route.app, StaticFiles) else ())
                else:
                    found.add(method)
                break
    return sorted(found)


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
