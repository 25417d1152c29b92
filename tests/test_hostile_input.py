"""Hostile and odd input on every door, on both stores: always a 4xx that names the field, nothing stored
by a refused request, and nothing of a question or a raw learner id in any log line.

Covers: non-finite JSON numbers (NaN, Infinity) and the 422 echo of what was sent; lone surrogates and
NUL characters in text; moments at the edge of the calendar; bodies over the limit however they are
sent; learner ids the learner routes must be able to address; the 405 message; 500s that leave an
access-log line and no data.
"""

from __future__ import annotations

import asyncio
import json
import logging
from urllib.parse import quote, unquote

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.conftest import auth, make_lesson
from tutor.app import MAX_BODY_BYTES
from tutor.store.tables import Base

T = "2026-11-20T08:00:00Z"
XAPI = {"X-Experience-API-Version": "1.0.3"}
RAW_ID = "VNeID-7b3f-SECRET"  # a raw learner id that must never reach a log line
QUESTION = "QUESTION-SECRET how do I know a bank message is a scam"


def rows(runtime) -> dict[str, int]:
    """The row count of every table of the store."""
    with runtime.session() as s:
        return {t.name: s.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables}


def event(**fields) -> dict:
    return {"event_id": "h-1", "learner_id": "learner-h", "item_id": "test-scams-1", "correct": True, "timestamp": T, **fields}


def statement(**fields) -> dict:
    s = {
        "id": "0b4f7f38-5d4e-4e4b-9c21-3c1a6a4c6d10",
        "actor": {"objectType": "Agent", "account": {"homePage": "https://vneid.gov.vn", "name": "learner-h"}},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/answered"},
        "object": {"id": "https://learn.example.vn/items/test-scams-1"},
        "result": {"success": True},
        "timestamp": T,
    }
    return {**s, **fields}


def post_text(client, path: str, text: str, key: str, headers: dict | None = None):
    """POST a body exactly as given (Python's json writes NaN and Infinity, and lone surrogates as escapes)."""
    return client.post(path, content=text.encode(), headers={**auth(key), "Content-Type": "application/json", **(headers or {})})


def service_log(caplog) -> str:
    """Every log line of the service, formatted with its traceback if any (httpx is the test's own client)."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return "\n".join(formatter.format(r) for r in caplog.records if not r.name.startswith("httpx"))


def error_at(response, *loc) -> dict:
    """The 422's error whose location ends with loc (a 400 on the xAPI routes, as an LRS answers)."""
    assert response.status_code == (400 if "/v1/xapi/" in str(response.request.url) else 422), response.text
    details = response.json()["detail"]
    found = [d for d in details if tuple(d["loc"][-len(loc):]) == loc]
    assert found, f"no error at {loc}: {details}"
    return found[0]


# --- 1. NaN, Infinity and -Infinity as JSON numbers; what a 422 echoes -------------------------------------------------

NON_FINITE = [
    ("/v1/events", {"events": [{**event(), "correct": None, "score": "@NaN"}]}, ("score",), {}),
    ("/v1/events", {"events": [event(correct="@Infinity")]}, ("correct",), {}),
    ("/v1/events", {"events": [event(timestamp="@-Infinity")]}, ("timestamp",), {}),
    ("/v1/events", {"events": [event(duration_seconds="@NaN")]}, ("duration_seconds",), {}),
    ("/v1/xapi/statements", statement(result={"score": {"scaled": "@NaN"}}), ("result", "score", "scaled"), XAPI),
    ("/v1/xapi/statements", statement(result={"success": "@Infinity"}), ("result", "success"), XAPI),
    ("/v1/xapi/statements", statement(timestamp="@Infinity"), ("timestamp",), XAPI),
    ("/v1/learners/learner-h/placement", {"answer_id": "a-1", "item_id": "test-scams-1", "correct": "@NaN"}, ("correct",), {}),
    ("/v1/learners/learner-h/placement", {"answer_id": "a-1", "item_id": "test-scams-1", "correct": True, "answered_at": "@NaN"}, ("answered_at",), {}),
    ("/v1/learners/learner-h/next", {"n": "@Infinity"}, ("n",), {}),
    ("/v1/admin/keys", {"name": "k", "scopes": ["platform"], "rate_per_minute": "@NaN"}, ("rate_per_minute",), {}),
    ("/v1/admin/keys", {"name": "@-Infinity", "scopes": ["platform"]}, ("name",), {}),
    ("/v1/admin/keys/abcdef12/rotate", {"grace_hours": "@Infinity"}, ("grace_hours",), {}),
]


def non_finite_json(body: dict) -> str:
    """The body as JSON text, with "@NaN"-style strings turned into bare NaN / Infinity / -Infinity numbers."""
    text = json.dumps(body)
    for word in ("-Infinity", "Infinity", "NaN"):
        text = text.replace(f'"@{word}"', word)
    return text


@pytest.mark.parametrize(("path", "body", "loc", "headers"), NON_FINITE, ids=[f"{p}:{'.'.join(loc)}" for p, _, loc, _ in NON_FINITE])
def test_non_finite_numbers_get_a_422_naming_the_field(client, keys, runtime, path, body, loc, headers):
    key = keys["admin"] if path.startswith("/v1/admin") else keys["platform"]
    before = rows(runtime)
    r = post_text(client, path, non_finite_json(body), key, headers)
    error = error_at(r, *loc)
    assert error["input"] in ("NaN", "Infinity", "-Infinity"), error
    assert rows(runtime) == before


def test_non_finite_numbers_are_refused_with_a_clear_message(client, keys):
    r = post_text(client, "/v1/events", non_finite_json({"events": [{**event(), "correct": None, "score": "@NaN"}]}), keys["platform"])
    assert "finite" in error_at(r, "events", 0, "score")["msg"]
    r = post_text(client, "/v1/events", non_finite_json({"events": [event(timestamp="@Infinity")]}), keys["platform"])
    assert "ISO 8601" in error_at(r, "events", 0, "timestamp")["msg"] and "`timestamp`" in error_at(r, "events", 0, "timestamp")["msg"]


def test_a_422_never_echoes_a_whole_large_input(client, keys, runtime):
    before = rows(runtime)
    huge = "x" * 100_000
    body = {"events": [event(item_id=huge), event(event_id="h-2", colour={"nested": [list(range(1000))] * 50, "text": huge})]}
    r = client.post("/v1/events", json=body, headers=auth(keys["platform"]))
    assert r.status_code == 422
    assert len(r.content) < 5_000, len(r.content)
    shown = error_at(r, "events", 0, "item_id")["input"]
    assert shown.startswith("xxx") and len(shown) < 260 and "100000" in shown
    extra = error_at(r, "events", 1, "colour")["input"]
    assert isinstance(extra, dict) and len(json.dumps(extra)) < 600
    many = client.post("/v1/events", json={"events": [event(event_id=f"m{i}") for i in range(1001)]}, headers=auth(keys["platform"]))
    assert many.status_code == 422 and len(many.content) < 5_000
    assert rows(runtime) == before


def test_a_body_that_is_not_json_is_echoed_safely(client, keys, runtime):
    before = rows(runtime)
    r = client.post("/v1/events", content=b"\xff\xfe not utf-8 \xc3", headers={**auth(keys["platform"]), "Content-Type": "text/plain"})
    assert r.status_code == 422, r.text
    assert isinstance(r.json()["detail"][0]["input"], str)
    r = client.post("/v1/events", content=b'{"events": [\xff]}', headers={**auth(keys["platform"]), "Content-Type": "application/json"})
    assert r.status_code == 400 and "UTF-8" in r.json()["detail"], r.text
    assert rows(runtime) == before


# --- 2 and 4. Lone surrogates and NUL characters in text ---------------------------------------------------------------------

def lesson_with(text: str) -> dict:
    lesson = make_lesson("hostile-lesson", "4.2-basic")
    lesson["sections"][1]["body"]["en"] = f"Part {text} two."
    return lesson


BAD_TEXT = [
    ("/v1/events", lambda t: {"events": [event(learner_id=RAW_ID + t)]}, ("events", 0, "learner_id"), {}),
    ("/v1/events", lambda t: {"events": [event(event_id="h" + t)]}, ("events", 0, "event_id"), {}),
    ("/v1/events", lambda t: {"events": [event(item_id="own" + t, skill_ids=["1.1-basic"])]}, ("events", 0, "item_id"), {}),
    ("/v1/events", lambda t: {"events": [{**event(), "item_id": None, "skill_ids": ["1.1-basic" + t]}]}, ("events", 0, "skill_ids", 0), {}),
    ("/v1/xapi/statements", lambda t: statement(actor={"account": {"homePage": "https://vneid.gov.vn", "name": RAW_ID + t}}), ("actor", "account", "name"), XAPI),
    ("/v1/xapi/statements", lambda t: statement(actor={"name": RAW_ID + t, "account": {"homePage": "https://vneid.gov.vn", "name": "l"}}), ("actor", "name"), XAPI),
    ("/v1/xapi/statements", lambda t: statement(verb={"id": "http://adlnet.gov/expapi/verbs/answ" + t}), ("verb", "id"), XAPI),
    ("/v1/xapi/statements", lambda t: statement(object={"id": "https://learn.example.vn/items/x" + t}), ("object", "id"), XAPI),
    ("/v1/ask", lambda t: {"question": QUESTION + t}, ("question",), {}),
    ("/v1/ask", lambda t: {"question": QUESTION, "learner_id": RAW_ID + t}, ("learner_id",), {}),
    ("/v1/ask", lambda t: {"question": QUESTION, "current_lesson": "test-scams" + t}, ("current_lesson",), {}),
    ("/v1/learners/learner-h/next", lambda t: {"goal": "4.2" + t}, ("goal",), {}),
    ("/v1/learners/learner-h/next", lambda t: {"allowed": ["test-scams" + t]}, ("allowed", 0), {}),
    ("/v1/learners/learner-h/placement", lambda t: {"answer_id": "a-1", "item_id": "test-scams-1" + t, "correct": True}, ("item_id",), {}),
    ("/v1/admin/keys", lambda t: {"name": "key" + t, "scopes": ["platform"]}, ("name",), {}),
    ("/v1/admin/keys", lambda t: {"name": "key", "scopes": ["learner"], "learner_id": RAW_ID + t}, ("learner_id",), {}),
    ("/v1/admin/models/activate", lambda t: {"artefact": "bkt" + t}, ("artefact",), {}),
    ("/v1/content/lessons", lambda t: lesson_with(t), ("sections", 1, "body", "en"), {}),
]


@pytest.mark.parametrize("bad", ["\ud800", "\udfff", "\x00"], ids=["high-surrogate", "low-surrogate", "nul"])
@pytest.mark.parametrize(("path", "make", "loc", "headers"), BAD_TEXT, ids=[f"{p}:{'.'.join(map(str, loc))}" for p, _, loc, _ in BAD_TEXT])
def test_text_that_is_not_unicode_or_holds_nul_is_refused(client, keys, runtime, caplog, path, make, loc, headers, bad):
    caplog.set_level(logging.DEBUG)
    key = keys["admin"] if path.startswith(("/v1/admin", "/v1/content")) else keys["platform"]
    before = rows(runtime)
    r = post_text(client, path, json.dumps(make(bad)), key, headers)
    error = error_at(r, *loc)
    field = next(str(part) for part in reversed(loc) if isinstance(part, str))
    assert f"`{field}`" in error["msg"], error
    assert ("not valid Unicode text" if bad != "\x00" else "NUL") in error["msg"], error
    assert rows(runtime) == before
    logged = service_log(caplog)
    assert RAW_ID not in logged and "QUESTION-SECRET" not in logged


def asgi_call(app, method: str, path: str, key: str) -> tuple[int, dict]:
    """A request sent straight to the ASGI app, its path decoded once from the raw path as uvicorn does.

    Starlette's TestClient decodes a path twice (`%252F` arrives as `/`), and no HTTP client sends a lone
    surrogate; this helper does both right. `path` is the raw path (percent-encoded) unless it holds a surrogate.
    """
    messages: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        messages.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http", "path": unquote(path),
        "raw_path": path.encode("utf-8", "surrogatepass"), "root_path": "", "query_string": b"", "client": ("127.0.0.1", 1),
        "server": ("testserver", 80), "headers": [(b"host", b"testserver"), (b"authorization", f"Bearer {key}".encode())],
    }
    asyncio.run(app(scope, receive, send))
    status = next(m["status"] for m in messages if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return status, json.loads(body) if body else {}


@pytest.mark.parametrize("route", ["mastery", "export", "next"])
def test_a_learner_id_path_parameter_that_is_not_unicode_is_refused(client, keys, caplog, route):
    caplog.set_level(logging.DEBUG)
    status, body = asgi_call(client.app, "GET", f"/v1/learners/{RAW_ID}\ud800/{route}", keys["platform"])
    assert status == 422, body
    error = body["detail"][0]
    assert error["loc"] == ["path", "learner_id"] and "`learner_id`" in error["msg"] and "not valid Unicode text" in error["msg"]
    assert RAW_ID not in service_log(caplog)


def test_nul_in_path_parameters_is_refused(client, keys, runtime):
    before = rows(runtime)
    r = client.get("/v1/learners/a%00b/mastery", headers=auth(keys["platform"]))
    assert r.status_code == 422 and "`learner_id`" in error_at(r, "path", "learner_id")["msg"]
    for method, path in (("DELETE", "/v1/admin/keys/ab%00cd"), ("POST", "/v1/admin/keys/ab%00cd/rotate")):
        r = client.request(method, path, headers=auth(keys["admin"]), json={} if method == "POST" else None)
        assert r.status_code == 422 and "`prefix`" in error_at(r, "path", "prefix")["msg"], r.text
    assert rows(runtime) == before


def test_questions_and_raw_learner_ids_never_reach_the_logs(client, keys, caplog):
    """The accepted requests, the refused ones, and every log line in between."""
    caplog.set_level(logging.DEBUG)
    h = auth(keys["platform"])
    assert client.post("/v1/events", json={"events": [event(learner_id=RAW_ID)]}, headers=h).status_code == 200
    assert client.post("/v1/ask", json={"question": QUESTION, "learner_id": RAW_ID}, headers=h).status_code == 200
    assert client.get(f"/v1/learners/{RAW_ID}/mastery", headers=h).status_code == 200
    assert post_text(client, "/v1/ask", json.dumps({"question": QUESTION + "\ud800"}), keys["platform"]).status_code == 422
    assert post_text(client, "/v1/events", json.dumps({"events": [event(learner_id=RAW_ID + "\udc00")]}), keys["platform"]).status_code == 422
    logged = service_log(caplog)
    assert RAW_ID not in logged and "QUESTION-SECRET" not in logged
    assert "POST /v1/ask 200" in logged and "GET /v1/learners/{learner_id}/mastery 200" in logged


# --- 3. Moments at the edge of the calendar ------------------------------------------------------------------------------------

EDGES = ["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+01:00", "1999-12-31T23:59:59Z", "2999-01-01T00:00:00Z"]
NEEDLES = {EDGES[0]: "UTC", EDGES[1]: "UTC", EDGES[2]: "2000-01-01", EDGES[3]: "more than a day in the future"}


@pytest.mark.parametrize("moment", EDGES)
@pytest.mark.parametrize("door", ["events", "xapi", "placement"])
def test_moments_at_the_edge_of_the_calendar_are_refused_naming_the_field(client, keys, runtime, door, moment):
    before = rows(runtime)
    if door == "events":
        r = client.post("/v1/events", json={"events": [event(timestamp=moment)]}, headers=auth(keys["platform"]))
        loc: tuple = ("events", 0, "timestamp")
    elif door == "xapi":
        r = client.post("/v1/xapi/statements", json=statement(timestamp=moment), headers={**auth(keys["platform"]), **XAPI})
        loc = ("timestamp",)
    else:
        body = {"answer_id": "a-1", "item_id": "test-scams-1", "correct": True, "answered_at": moment}
        r = client.post("/v1/learners/learner-h/placement", json=body, headers=auth(keys["platform"]))
        loc = ("answered_at",)
    error = error_at(r, *loc)
    assert f"`{loc[-1]}`" in error["msg"] and NEEDLES[moment] in error["msg"], error
    assert rows(runtime) == before


def test_the_first_moment_accepted_is_the_start_of_2000(client, keys):
    r = client.post("/v1/events", json={"events": [event(timestamp="2000-01-01T00:00:00Z")]}, headers=auth(keys["platform"]))
    assert r.status_code == 200, r.text
    r = client.post("/v1/events", json={"events": [event(event_id="h-2", timestamp="2000-01-01T06:59:59+07:00")]}, headers=auth(keys["platform"]))
    assert "2000-01-01" in error_at(r, "events", 0, "timestamp")["msg"]


@pytest.mark.parametrize("field", ["since", "until"])
@pytest.mark.parametrize("moment", ["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+01:00", "1763625600", "yesterday"])
def test_research_export_filters_must_be_moments_in_utc(client, keys, field, moment):
    r = client.get("/v1/research/events", params={field: moment}, headers=auth(keys["researcher"]))
    error = error_at(r, "query", field)
    assert f"`{field}`" in error["msg"], error


def test_research_export_filters_far_from_now_still_work(client, keys):
    client.post("/v1/events", json={"events": [event()]}, headers=auth(keys["platform"]))
    h = auth(keys["researcher"])
    assert len(client.get("/v1/research/events", params={"since": "1970-01-01T00:00:00Z"}, headers=h).text.splitlines()) == 1
    assert client.get("/v1/research/events", params={"since": "9999-12-31T00:00:00Z"}, headers=h).text == ""
    assert len(client.get("/v1/research/events", params={"until": "2026-11-20T15:00:01+07:00"}, headers=h).text.splitlines()) == 1
    assert client.get("/v1/research/events", params={"until": "2026-11-20T15:00:00+07:00"}, headers=h).text == ""


# --- 5. Bodies over the limit, whatever the headers say ----------------------------------------------------------------------

def test_a_chunked_body_over_the_limit_is_refused_while_it_is_read(client, keys, runtime):
    before = rows(runtime)
    chunk = b" " * 65_536

    def body():
        yield b'{"question": "'
        for _ in range(MAX_BODY_BYTES // len(chunk) + 2):
            yield chunk
        yield b'"}'

    r = client.post("/v1/ask", content=body(), headers={**auth(keys["platform"]), "Content-Type": "application/json"})
    assert r.status_code == 413, r.text[:300]
    assert "MB" in r.json()["detail"]
    assert rows(runtime) == before


def test_the_limit_stops_reading_an_endless_body(client, keys, runtime):
    """Sent chunk by chunk to the ASGI app (httpx's ASGI transport reads the body lazily): reading stops at the limit."""
    before = rows(runtime)
    sent = 0
    chunk = b"[" * 1_048_576

    async def endless():
        nonlocal sent
        while sent < 100:
            sent += 1
            yield chunk

    async def call():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=client.app), base_url="http://testserver") as c:
            return await c.post("/v1/events", content=endless(), headers={**auth(keys["platform"]), "Content-Type": "application/json"})

    r = asyncio.run(call())
    assert r.status_code == 413 and "MB" in r.json()["detail"]
    assert sent <= MAX_BODY_BYTES // len(chunk) + 2, sent
    assert rows(runtime) == before


def test_a_declared_length_over_the_limit_is_refused_before_reading(client, keys):
    r = client.post("/v1/events", content=b"{}", headers={**auth(keys["platform"]), "Content-Type": "application/json", "Content-Length": str(MAX_BODY_BYTES + 1)})
    assert r.status_code == 413


# --- 6. Learner ids: whatever the intake accepts, the learner routes can address -----------------------------------------------

ODD_IDS = [
    "a b", " padded ", "a?b=c&d", "a#b", "100%", "a%2Fb", "a\\b", "a;b,c", "+84 912 345 678", "user@example.vn", "~x", "...", ".a", "a.",
    "Nguyễn Văn A", "学生-42", "🎓-1", "tab\there", "line\nbreak", "\x7f", "\ufffd", "é" * 256,
]


@pytest.mark.parametrize("learner_id", ODD_IDS, ids=[ascii(i)[:30] for i in ODD_IDS])
def test_every_learner_id_the_intake_accepts_can_be_read_exported_and_erased(client, keys, runtime, learner_id):
    h = auth(keys["platform"])
    r = client.post("/v1/events", json={"events": [event(learner_id=learner_id)]}, headers=h)
    assert r.status_code == 200, r.text
    segment = quote(learner_id, safe="")  # the learner id as one percent-encoded path segment
    status, mastery = asgi_call(client.app, "GET", f"/v1/learners/{segment}/mastery", keys["platform"])
    assert status == 200, mastery
    assert next(s for s in mastery["skills"] if s["skill_id"] == "4.2-basic")["n_observations"] == 1
    status, exported = asgi_call(client.app, "GET", f"/v1/learners/{segment}/export", keys["platform"])
    assert status == 200 and exported["learner_id"] == learner_id and len(exported["events"]) == 1
    status, erased = asgi_call(client.app, "DELETE", f"/v1/learners/{segment}", keys["platform"])
    assert status == 200 and erased["erased"], erased
    assert asgi_call(client.app, "GET", f"/v1/learners/{segment}/mastery", keys["platform"])[0] == 404
    assert rows(runtime)["events"] == 0 and rows(runtime)["learners"] == 0


UNADDRESSABLE = ["a/b", "/", "learner/", ".", ".."]


@pytest.mark.parametrize("learner_id", UNADDRESSABLE)
def test_learner_ids_the_routes_could_not_address_are_refused_at_intake(client, keys, runtime, learner_id):
    before = rows(runtime)
    h = auth(keys["platform"])
    r = client.post("/v1/events", json={"events": [event(learner_id=learner_id)]}, headers=h)
    msg = error_at(r, "events", 0, "learner_id")["msg"]
    assert "`learner_id`" in msg and "/v1/learners/" in msg, msg
    r = client.post("/v1/xapi/statements", json=statement(actor={"account": {"homePage": "https://vneid.gov.vn", "name": learner_id}}), headers={**h, **XAPI})
    assert "/v1/learners/" in error_at(r, "actor", "account", "name")["msg"]
    r = client.post("/v1/admin/keys", json={"name": "k", "scopes": ["learner"], "learner_id": learner_id}, headers=auth(keys["admin"]))
    assert "/v1/learners/" in error_at(r, "learner_id")["msg"]
    assert rows(runtime) == before


def test_the_learner_id_rule_is_documented(client):
    schema = client.get("/openapi.json").json()["components"]["schemas"]
    assert "'/'" in schema["AnswerEvent"]["properties"]["learner_id"]["description"]


# --- 8. The 405 message -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("PUT", "/v1/events", "POST"),
    ("POST", "/health", "GET"),
    ("POST", "/docs-assets/swagger-ui.css", "GET, HEAD"),
    ("DELETE", "/v1/learners/x/mastery", "GET"),
    ("PUT", "/v1/learners/x/next", "GET, POST"),
    ("POST", "/openapi.json", "GET, HEAD"),
])
def test_405_names_the_methods_allowed(client, keys, method, path, allowed):
    r = client.request(method, path, headers=auth(keys["platform"]))
    assert r.status_code == 405
    assert r.json()["detail"] == f"{method} is not allowed here; use {allowed}.", r.json()
    assert r.headers["Allow"] == allowed


# --- 9. Unhandled errors: a 500 with an access-log line, and no data in any log ------------------------------------------------

def test_an_unhandled_error_is_a_500_logged_by_route_without_data(client, keys, runtime, caplog, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError(f"boom for {RAW_ID} asking {QUESTION}")

    monkeypatch.setattr("tutor.events.api.record_events", broken)
    monkeypatch.setattr(runtime, "help_desk", broken)
    caplog.set_level(logging.DEBUG)
    before = rows(runtime)
    with TestClient(client.app, raise_server_exceptions=True) as strict:  # nothing escapes the app for a server to log
        r = strict.post("/v1/events", json={"events": [event(learner_id=RAW_ID)]}, headers=auth(keys["platform"]))
        assert r.status_code == 500 and r.json()["detail"]
        r = strict.post("/v1/ask", json={"question": QUESTION, "learner_id": RAW_ID}, headers=auth(keys["platform"]))
        assert r.status_code == 500
        r = strict.get(f"/v1/learners/{RAW_ID}/next", headers=auth(keys["platform"]))
        assert r.status_code == 404
    logged = service_log(caplog)
    assert "POST /v1/events 500" in logged and "POST /v1/ask 500" in logged, logged
    assert "RuntimeError" in logged  # the kind of failure and where it happened, not its message
    assert RAW_ID not in logged and "QUESTION-SECRET" not in logged and "boom" not in logged
    assert rows(runtime) == before


def test_an_error_after_a_streamed_response_started_is_logged_without_data(client, keys, caplog, monkeypatch):
    def lines(*args, **kwargs):
        yield b'{"learner_id": "x"}\n'
        raise RuntimeError(f"boom for {RAW_ID}")

    monkeypatch.setattr("tutor.research.api.answer_lines", lines)
    caplog.set_level(logging.DEBUG)
    with TestClient(client.app, raise_server_exceptions=True) as strict:
        try:
            strict.get("/v1/research/events", headers=auth(keys["researcher"]))
        except Exception:  # the client may see the stream cut short; the server must not raise
            pass
    logged = service_log(caplog)
    assert "GET /v1/research/events 500" in logged and RAW_ID not in logged and "boom" not in logged
