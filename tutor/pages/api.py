"""The pages people use: the learner's tutor under /learn, the researchers' desk under /desk, and /signin.

Rendered on the server from Jinja2 templates, with no script needed; each page reads the domain through
the runtime, as the JSON routers do. Every form carries the session's CSRF token, and a POST without it
(or with a wrong one) is refused with a page that says why. A refused page request renders a page in the
page's language (the JSON API keeps its JSON errors: see `is_page`).
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select

from tutor.catalog import review
from tutor.catalog.api import decide_and_count
from tutor.clock import utcnow
from tutor.deps import RuntimeDep, SessionDep
from tutor.errors import Conflict, Invalid, NotFound
from tutor.pages import assets, views
from tutor.pages.sessions import DESK_HOME, LEARNER_HOME, PageSessions, PageUser, csrf_matches, current, sign_in, sign_out
from tutor.pages.words import pick_lang, words
from tutor.privacy import audit
from tutor.privacy.api import LearnerExport
from tutor.privacy.credentials import SCOPES, create_key, find_client, revoke
from tutor.privacy.learner_rights import erase, export
from tutor.profiles.profile import audience_of
from tutor.recommend.placement import answer as placement_answer
from tutor.recommend.policy import skill_name
from tutor.runtime import Runtime
from tutor.store.tables import ApiClient, AuditEntry

HERE = Path(__file__).parent
PAGE_PREFIXES = ("/learn", "/desk", "/signin", "/signout")
LANG_COOKIE = "tutor_lang"
SIGN_IN_FORM_SECONDS = 3600  # how long a sign-in form stays usable
router = APIRouter(include_in_schema=False)
templates = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
templates.globals["level_marks"] = views.level_marks
templates.globals["lesson_html"] = views.lesson_html
templates.globals["bar_chart"] = views.bar_chart
templates.globals.update(style_sheet=assets.STYLE_SHEET, icon_sprite=assets.ICON_SPRITE, favicon=assets.FAVICON)


class PageRefused(Exception):
    """A page request refused: status, the words saying why and what to do, and any detail to show."""

    def __init__(self, status: int, why: str | None = None, todo: str | None = None, detail: str | None = None) -> None:
        super().__init__(why or f"e{status}")
        self.status, self.why, self.todo, self.detail = status, why or f"e{status}", todo or f"e{status}_do", detail


def is_page(request: Request) -> bool:
    path = request.url.path
    return any(path == p or path.startswith(p + "/") for p in PAGE_PREFIXES)


def lang_of(request: Request) -> str:
    return pick_lang(request.query_params.get("lang"), request.cookies.get(LANG_COOKIE))


def render(request: Request, template: str, status: int = 200, user: PageUser | None = None, **context: object) -> HTMLResponse:
    lang = lang_of(request)
    other = "en" if lang == "vi" else "vi"
    here = request.url.path if request.method == "GET" else (LEARNER_HOME if user and user.learner else DESK_HOME if user else "/signin")
    html = templates.get_template(template).render(
        request=request, user=user, lang=lang, t=words(lang), csrf=user.csrf if user else request.session.get("csrf", ""),
        switch_url=f"{here}?lang={other}", path=request.url.path, **context,
    )
    response = HTMLResponse(html, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    if request.query_params.get("lang") in ("vi", "en"):
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, secure=True, httponly=True, samesite="none")
    return response


def error_page(request: Request, status: int, why: str | None = None, todo: str | None = None, detail: str | None = None) -> HTMLResponse:
    """The page a refused request gets: why, and what to do, in the page's language."""
    t = words(lang_of(request))
    why = why if why in t else f"e{status}" if f"e{status}" in t else "error"
    todo = todo if todo in t else f"{why}_do" if f"{why}_do" in t else f"e{status}_do" if f"e{status}_do" in t else "e404_do"
    user = None if status == 401 else current(request)
    return render(request, "error.html", status=status, user=user, why=t[why], todo=t[todo], detail=detail, code=status)


class Form:
    """A posted urlencoded form (read here, so form pages need no multipart library)."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.pairs = pairs

    def get(self, name: str, default: str = "") -> str:
        return next((v for k, v in self.pairs if k == name), default)

    def getall(self, name: str) -> list[str]:
        return [v for k, v in self.pairs if k == name]


async def read_form(request: Request) -> Form:
    body = (await request.body()).decode("utf-8", errors="replace")
    return Form(parse_qsl(body, keep_blank_values=True, max_num_fields=200))


def signed_in(request: Request) -> PageUser:
    user = current(request)
    if user is None:
        raise PageRefused(401)
    return user


def learner_user(request: Request) -> PageUser:
    user = signed_in(request)
    if user.learner is None:
        raise PageRefused(403, "learners_only")
    return user


def desk_user(request: Request) -> PageUser:
    user = signed_in(request)
    if not user.at_desk:
        raise PageRefused(403, "desk_only")
    return user


def checked(user: PageUser, form: Form) -> PageUser:
    if not csrf_matches(user, form.get("csrf")):
        raise PageRefused(403, "e403_csrf", "e403_csrf_do")
    return user


def posting_learner(request: Request, form: Annotated[Form, Depends(read_form)]) -> PageUser:
    return checked(learner_user(request), form)


def posting_desk(request: Request, form: Annotated[Form, Depends(read_form)]) -> PageUser:
    return checked(desk_user(request), form)


def posting_admin(request: Request, form: Annotated[Form, Depends(read_form)]) -> PageUser:
    user = posting_desk(request, form)
    if not user.admin:
        raise PageRefused(403, "admin_needed")
    return user


Learner = Annotated[PageUser, Depends(learner_user)]
Desk = Annotated[PageUser, Depends(desk_user)]
PostedForm = Annotated[Form, Depends(read_form)]


# Sign-in and out


@router.get("/signin")
def signin_form(request: Request) -> HTMLResponse:
    user = current(request)
    if user is None and not request.session.get("csrf"):
        request.session.update({"csrf": uuid.uuid4().hex, "until": int(time.time()) + SIGN_IN_FORM_SECONDS})  # the sign-in form's CSRF token
    return render(request, "signin.html", user=user)


@router.post("/signin")
def signin(request: Request, form: PostedForm, runtime: RuntimeDep, session: SessionDep) -> Response:
    expected = request.session.get("csrf")
    if not expected or not form.get("csrf") or form.get("csrf") != expected:
        raise PageRefused(403, "e403_csrf", "e403_csrf_do")
    client = find_client(session, form.get("key").strip())
    if client is None:
        return render(request, "signin.html", status=401, problem=words(lang_of(request))["bad_key"])
    scopes = set(client.scopes.split())
    if not scopes & {"learner", "researcher", "admin"}:
        return render(request, "signin.html", status=403, problem=words(lang_of(request))["platform_key"])
    desk = bool(scopes & {"researcher", "admin"})
    sign_in(request, learner=None if desk else client.learner_id, scopes=scopes, label=f"{client.key_prefix} ({client.name})", key_prefix=client.key_prefix)
    if desk:
        audit.record(session, f"{client.key_prefix} ({client.name})", "pages.signin")
        session.commit()
    return RedirectResponse(DESK_HOME if desk else LEARNER_HOME, status_code=303)


@router.post("/signout")
def signout(request: Request, form: PostedForm) -> Response:
    checked(signed_in(request), form)
    sign_out(request)
    return RedirectResponse("/signin", status_code=303)


# The learner's pages


@router.get(LEARNER_HOME)
def my_skills(request: Request, user: Learner, runtime: RuntimeDep, session: SessionDep) -> HTMLResponse:
    assert user.learner is not None  # learner_user admits learner sessions only
    lang = lang_of(request)
    domains = views.my_skills(session, runtime.library, runtime.model, user.learner, runtime.settings.tracing.mastery_threshold, lang)
    return render(request, "learn/skills.html", user=user, domains=domains, started=views.held_about(session, user.learner) is not None)


@router.get(LEARNER_HOME + "/next")
def next_steps(request: Request, user: Learner, runtime: RuntimeDep, session: SessionDep) -> HTMLResponse:
    assert user.learner is not None
    steps = views.next_steps(session, runtime.library, runtime.model, runtime.recommender, user.learner, lang_of(request))
    return render(request, "learn/next.html", user=user, steps=steps)


def lesson_of(runtime: Runtime, lesson_id: str):
    lesson = runtime.library.lessons.get(lesson_id)
    if lesson is None:
        raise PageRefused(404)
    return lesson


def show_lesson(request: Request, user: PageUser, runtime: Runtime, session, lesson, status: int = 200, **context: object) -> HTMLResponse:
    """The lesson page: its sections with the example for the learner's audience, and its items."""
    lang = lang_of(request)
    example = views.lesson_example(runtime.library, lesson, audience_of(session, user.learner or ""), lang)
    return render(request, "learn/lesson.html", status=status, user=user, lesson=lesson, example=example,
                  skill_names=[skill_name(runtime.library, s, lang) for s in lesson.skills], **context)


@router.get(LEARNER_HOME + "/lessons/{lesson_id}")
def lesson_page(request: Request, lesson_id: str, user: Learner, runtime: RuntimeDep, session: SessionDep) -> HTMLResponse:
    return show_lesson(request, user, runtime, session, lesson_of(runtime, lesson_id))


@router.post(LEARNER_HOME + "/lessons/{lesson_id}/answers")
def lesson_answers(request: Request, lesson_id: str, form: PostedForm, user: Annotated[PageUser, Depends(posting_learner)],
                   runtime: RuntimeDep, session: SessionDep) -> HTMLResponse:
    assert user.learner is not None
    lesson = lesson_of(runtime, lesson_id)
    lang = lang_of(request)
    choices: dict[str, int] = {}
    for item in lesson.items:
        raw = form.get(f"item-{item.id}")
        if raw.isdigit() and int(raw) < len(item.options.vi):
            choices[item.id] = int(raw)
    if not choices:
        return show_lesson(request, user, runtime, session, lesson, status=422, problem=words(lang)["pick_one"])
    result = views.answer_lesson(session, runtime.library, runtime.model, user.learner, lesson, choices, lang)
    session.commit()
    names = {s: skill_name(runtime.library, s, lang) for s in result.before}
    return render(request, "learn/results.html", user=user, lesson=lesson, result=result, names=names)


@router.get(LEARNER_HOME + "/ask")
def ask_form(request: Request, user: Learner) -> HTMLResponse:
    return render(request, "learn/ask.html", user=user, question="", reply=None)


@router.post(LEARNER_HOME + "/ask")
def ask(request: Request, form: PostedForm, user: Annotated[PageUser, Depends(posting_learner)], runtime: RuntimeDep, session: SessionDep) -> HTMLResponse:
    question = form.get("question").strip()[:1000]
    if not question:
        return render(request, "learn/ask.html", status=422, user=user, question="", reply=None, problem=words(lang_of(request))["e422_do"])
    threshold = runtime.settings.tracing.mastery_threshold
    rows = views.mastery_rows(session, user.learner or "")
    weak = [s for s, (p, _, _) in rows.items() if p < threshold]
    reply = runtime.help_desk().ask(question, lang=None, weak_skills=weak)
    return render(request, "learn/ask.html", user=user, question=question, reply=reply)


def placement_step(request: Request, user: PageUser, runtime: Runtime, session, submitted) -> HTMLResponse:
    assert user.learner is not None
    library = runtime.library
    try:
        step = placement_answer(session, user.learner, library, runtime.placement_model(), utcnow(), submitted)
    except Conflict:
        session.rollback()
        return render(request, "learn/placement.html", user=user, taken=True, step=None, item=None)
    session.commit()
    item = library.items[step.next_item][1] if step.next_item else None
    return render(request, "learn/placement.html", user=user, taken=False, step=step, item=item, answer_id=uuid.uuid4().hex)


@router.get(LEARNER_HOME + "/placement")
def placement(request: Request, user: Learner, runtime: RuntimeDep, session: SessionDep) -> HTMLResponse:
    return placement_step(request, user, runtime, session, None)


@router.post(LEARNER_HOME + "/placement")
def placement_answered(request: Request, form: PostedForm, user: Annotated[PageUser, Depends(posting_learner)], runtime: RuntimeDep, session: SessionDep) -> HTMLResponse:
    item_id, choice, answer_id = form.get("item_id"), form.get("choice"), form.get("answer_id")
    found = runtime.library.items.get(item_id)
    if found is None or not choice.isdigit() or not answer_id.isalnum() or len(answer_id) > 64:
        return placement_step(request, user, runtime, session, None)
    submitted = (answer_id, item_id, int(choice) == found[1].correct, utcnow())
    return placement_step(request, user, runtime, session, submitted)


@router.get(LEARNER_HOME + "/data")
def my_data(request: Request, user: Learner, session: SessionDep) -> HTMLResponse:
    return render(request, "learn/data.html", user=user, held=views.held_about(session, user.learner or ""))


@router.get(LEARNER_HOME + "/data/export.json")
def my_data_export(user: Learner, session: SessionDep) -> Response:
    data = export(session, user.learner or "")
    if data is None:
        raise PageRefused(404)
    body = LearnerExport(learner_id=user.learner or "", **data).model_dump_json(indent=1)
    return Response(body, media_type="application/json", headers={"Content-Disposition": 'attachment; filename="my-tutor-data.json"', "Cache-Control": "no-store"})


@router.post(LEARNER_HOME + "/data/erase")
def erase_ask(request: Request, user: Annotated[PageUser, Depends(posting_learner)]) -> HTMLResponse:
    return render(request, "learn/erase.html", user=user)


@router.post(LEARNER_HOME + "/data/erase/confirm")
def erase_confirmed(request: Request, form: PostedForm, user: Annotated[PageUser, Depends(posting_learner)], session: SessionDep) -> HTMLResponse:
    if form.get("confirm") != "yes":
        return render(request, "learn/erase.html", status=422, user=user)
    rows = erase(session, user.learner or "")
    session.commit()
    sign_out(request)
    return render(request, "learn/erased.html", rows=rows or 0)


# The researchers' desk


@router.get(DESK_HOME)
def desk_models(request: Request, user: Desk, runtime: RuntimeDep) -> HTMLResponse:
    return render(request, "desk/models.html", user=user, artefacts=views.artefacts(runtime.settings.tracing.models_dir, runtime.model_name))


def known_artefact(runtime: Runtime, name: str) -> views.Artefact:
    if name not in views.artefact_names(runtime.settings.tracing.models_dir):
        raise PageRefused(404)
    return views.artefact(runtime.settings.tracing.models_dir, name, runtime.model_name)


@router.get(DESK_HOME + "/models/{name}")
def desk_model(request: Request, name: str, user: Desk, runtime: RuntimeDep) -> HTMLResponse:
    return render(request, "desk/model.html", user=user, artefact=known_artefact(runtime, name))


@router.get(DESK_HOME + "/models/{name}/reports/{report}/{image}")
def desk_report_image(name: str, report: str, image: str, user: Desk, runtime: RuntimeDep) -> FileResponse:
    found = known_artefact(runtime, name)
    if image not in views.REPORT_IMAGES or not any(r.name == report and image in r.images for r in found.reports):
        raise PageRefused(404)
    return FileResponse(runtime.settings.tracing.models_dir / name / "evaluation" / report / image, media_type="image/png")


@router.post(DESK_HOME + "/models/{name}/activate")
def activate_ask(request: Request, name: str, user: Annotated[PageUser, Depends(posting_admin)], runtime: RuntimeDep) -> HTMLResponse:
    return render(request, "desk/activate.html", user=user, artefact=known_artefact(runtime, name))


@router.post(DESK_HOME + "/models/{name}/activate/confirm")
def activate_confirmed(request: Request, name: str, form: PostedForm, user: Annotated[PageUser, Depends(posting_admin)],
                       runtime: RuntimeDep, session: SessionDep) -> HTMLResponse:
    artefact = known_artefact(runtime, name)
    if form.get("confirm") != "yes":
        return render(request, "desk/activate.html", status=422, user=user, artefact=artefact)
    try:
        model = runtime.activate_model(name)
    except Invalid as exc:
        raise PageRefused(422, detail=str(exc)) from None
    audit.record(session, user.label, "model.activate", f"{name} version={model.version}")
    session.commit()
    done = words(lang_of(request))["activated"].format(name=name, version=model.version)
    return render(request, "desk/model.html", user=user, artefact=views.artefact(runtime.settings.tracing.models_dir, name, runtime.model_name), notice=done)


@router.get(DESK_HOME + "/data")
def desk_data(request: Request, user: Desk, session: SessionDep) -> HTMLResponse:
    return render(request, "desk/data.html", user=user, overview=views.data_overview(session))


def admin_user(request: Request) -> PageUser:
    user = desk_user(request)
    if not user.admin:
        raise PageRefused(403, "admin_needed")
    return user


def keys_page(request: Request, user: PageUser, session, status: int = 200, **context: object) -> HTMLResponse:
    clients = list(session.scalars(select(ApiClient).order_by(ApiClient.id)))
    return render(request, "desk/keys.html", status=status, user=user, clients=clients, scopes=SCOPES, **context)


@router.get(DESK_HOME + "/keys")
def desk_keys(request: Request, user: Annotated[PageUser, Depends(admin_user)], session: SessionDep) -> HTMLResponse:
    return keys_page(request, user, session)


@router.post(DESK_HOME + "/keys")
def desk_create_key(request: Request, form: PostedForm, user: Annotated[PageUser, Depends(posting_admin)], runtime: RuntimeDep, session: SessionDep) -> HTMLResponse:
    name, scopes, learner_id = form.get("name").strip()[:120], form.getall("scopes"), form.get("learner_id").strip()
    try:
        if not name:
            raise Invalid("name: give the key a name that says who uses it")
        client, key = create_key(session, name, scopes, runtime.pseudonym(learner_id) if learner_id else None)
    except Invalid as exc:
        session.rollback()
        return keys_page(request, user, session, status=422, problem=str(exc))
    audit.record(session, user.label, "key.create", f"{client.key_prefix} scopes={client.scopes}")
    session.commit()
    return keys_page(request, user, session, new_key=key)


@router.post(DESK_HOME + "/keys/{prefix}/revoke")
def desk_revoke_key(request: Request, prefix: str, user: Annotated[PageUser, Depends(posting_admin)], session: SessionDep) -> HTMLResponse:
    if not revoke(session, prefix):
        raise PageRefused(404)
    audit.record(session, user.label, "key.revoke", prefix)
    session.commit()
    return keys_page(request, user, session, notice=words(lang_of(request))["key_revoked"].format(prefix=prefix))


@router.get(DESK_HOME + "/audit")
def desk_audit(request: Request, user: Annotated[PageUser, Depends(admin_user)], session: SessionDep) -> HTMLResponse:
    entries = list(session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(200)))
    return render(request, "desk/audit.html", user=user, entries=entries)


def review_page(request: Request, user: PageUser, runtime: Runtime, session, status: int = 200, **context: object) -> HTMLResponse:
    lang = lang_of(request)
    names = {s.id: skill_name(runtime.library, s.id, lang) for s in runtime.library.framework.skills}
    return render(request, "desk/alignments.html", status=status, user=user, queue=review.queue(session, 20), waiting=review.waiting_count(session),
                  skill_names=names, **context)


@router.get(DESK_HOME + "/alignments")
def desk_alignments(request: Request, user: Annotated[PageUser, Depends(admin_user)], runtime: RuntimeDep, session: SessionDep) -> HTMLResponse:
    return review_page(request, user, runtime, session)


@router.post(DESK_HOME + "/alignments/{activity_id}")
def desk_decide(request: Request, activity_id: str, form: PostedForm, user: Annotated[PageUser, Depends(posting_admin)],
                runtime: RuntimeDep, session: SessionDep) -> HTMLResponse:
    t = words(lang_of(request))
    choice = form.get("skill")
    if choice not in {s.id for s in runtime.library.framework.skills} | {"other", "none"}:
        return review_page(request, user, runtime, session, status=422, problem=t["choose_one"])
    skills = [] if choice == "none" else [form.get("other") if choice == "other" else choice]
    try:
        row, counted = decide_and_count(runtime, session, activity_id, skills, user.label)
    except (Invalid, Conflict) as exc:
        session.rollback()
        return review_page(request, user, runtime, session, status=409 if isinstance(exc, Conflict) else 422, problem=str(exc))
    except NotFound:
        raise PageRefused(404) from None
    notice = t["decided"].format(title=row.title, skills=", ".join(row.skills) or t["no_skill"], n=counted)
    return review_page(request, user, runtime, session, notice=notice)


def install(app: FastAPI) -> None:
    """The pages' session cookies and error pages (the router itself is in app.ROUTERS; styles and icons are inlined)."""
    app.add_middleware(PageSessions)

    @app.exception_handler(PageRefused)
    async def refused(request: Request, exc: PageRefused) -> HTMLResponse:
        return error_page(request, exc.status, exc.why, exc.todo, exc.detail)

