"""The xAPI door as a learning record store: strict 1.0.3 validation (400 naming the statement and field), ids
(409 on reuse with other content, 400 when repeated in a batch), voiding with its effect on mastery, GET and PUT
by statementId, HTTP Basic credentials, and learners' identifiers never kept raw."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import uuid

import pytest
from sqlalchemy import select, text

from tests.conftest import auth
from tests.events.test_xapi_api import ADL, statement, stored
from tutor.store.tables import XapiStatement

XAPI = {"X-Experience-API-Version": "1.0.3"}


def post(client, key, body, headers=None):
    return client.post("/v1/xapi/statements", json=body, headers={**auth(key), **XAPI, **(headers or {})})


def get(client, key, **params):
    return client.get("/v1/xapi/statements", params=params, headers={**auth(key), **XAPI})


def basic(user: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def mastery(client, key, learner: str) -> dict[str, tuple[float, int]]:
    r = client.get(f"/v1/learners/{learner}/mastery", headers=auth(key))
    return {} if r.status_code == 404 else {s["skill_id"]: (round(s["p_mastered"], 9), s["n_observations"]) for s in r.json()["skills"] if s["n_observations"]}


def answer(learner: str, item: str, success: bool, when: str, sid: str | None = None) -> dict:
    s = statement("answered", f"items/{item}", {"success": success}, learner=learner, sid=sid)
    s["timestamp"] = when
    return s


def voiding(target: str, learner: str = "learner-1") -> dict:
    s = statement("voided", "unused", learner=learner)
    s["object"] = {"objectType": "StatementRef", "id": target}
    return s


# --- validation: each refusal is a 400 naming the statement's index and the field ------------------------------------------------


def variant(change) -> dict:
    s = statement("answered", "items/test-scams-1", {"success": True})
    change(s)
    return s


INVALID = [
    ("two identifiers", lambda s: s["actor"].update(mbox="mailto:a@example.vn"), ("actor",), "exactly one identifier"),
    ("no identifier", lambda s: s.update(actor={"objectType": "Agent", "name": "A"}), ("actor",), "found none"),
    ("mbox without mailto", lambda s: s.update(actor={"mbox": "a@example.vn"}), ("actor", "mbox"), "mailto:"),
    ("sha1 not hex", lambda s: s.update(actor={"mbox_sha1sum": "xyz"}), ("actor", "mbox_sha1sum"), "SHA-1"),
    ("account without homePage", lambda s: s.update(actor={"account": {"name": "x"}}), ("actor", "account", "homePage"), "required"),
    ("anonymous group without members", lambda s: s.update(actor={"objectType": "Group", "name": "team"}), ("actor",), "member"),
    ("group as a member", lambda s: s.update(actor={"objectType": "Group", "member": [{"objectType": "Group", "mbox": "mailto:t@example.vn"}]}),
     ("actor", "member", 0, "objectType"), "Agent"),
    ("unknown objectType", lambda s: s["actor"].update(objectType="Person"), ("actor",), "objectType must be one of Agent, Group"),
    ("verb id without scheme", lambda s: s["verb"].update(id="answered"), ("verb", "id"), "IRI"),
    ("bad language tag", lambda s: s["verb"].update(display={"not a tag": "x"}), ("verb", "display", "not a tag", "[key]"), "language tag"),
    ("activity id with spaces", lambda s: s["object"].update(id="https://example.vn/a b"), ("object", "id"), "IRI"),
    ("scaled above 1", lambda s: s.update(result={"score": {"scaled": 1.5}}), ("result", "score", "scaled"), "less than or equal to 1"),
    ("raw above max", lambda s: s.update(result={"score": {"raw": 11, "min": 0, "max": 10}}), ("result", "score"), "above `max`"),
    ("min above max", lambda s: s.update(result={"score": {"min": 5, "max": 1}}), ("result", "score"), "less than `max`"),
    ("score as a string", lambda s: s.update(result={"score": {"raw": "5"}}), ("result", "score", "raw"), "number"),
    ("weeks with days", lambda s: s.update(result={"duration": "P4W1D"}), ("result", "duration"), "ISO 8601 duration"),
    ("duration without a number", lambda s: s.update(result={"duration": "PT"}), ("result", "duration"), "ISO 8601 duration"),
    ("timestamp -00:00", lambda s: s.update(timestamp="2026-11-20T08:00:00-00:00"), ("timestamp",), "-00:00"),
    ("timestamp not ISO 8601", lambda s: s.update(timestamp="20 Nov 2026"), ("timestamp",), "ISO 8601"),
    ("unknown property", lambda s: s.update(colour="blue"), ("colour",), "unknown property `colour`"),
    ("unknown property in result", lambda s: s["result"].update(grade="A"), ("result", "grade"), "unknown property `grade`"),
    ("null property", lambda s: s.update(context=None), (), "`context` set to null"),
    ("sub-statement in a sub-statement", lambda s: s.update(object={
        "objectType": "SubStatement", "actor": {"mbox": "mailto:a@example.vn"}, "verb": {"id": ADL + "answered"},
        "object": {"objectType": "SubStatement", "actor": {"mbox": "mailto:a@example.vn"}, "verb": {"id": ADL + "answered"}, "object": {"id": "https://e.vn/x"}}}),
     ("object", "object"), "cannot hold another"),
    ("id in a sub-statement", lambda s: s.update(object={
        "objectType": "SubStatement", "id": str(uuid.uuid4()), "actor": {"mbox": "mailto:a@example.vn"}, "verb": {"id": ADL + "answered"}, "object": {"id": "https://e.vn/x"}}),
     ("object", "id"), "unknown property `id`"),
    ("StatementRef id not a UUID", lambda s: s.update(object={"objectType": "StatementRef", "id": "12"}), ("object", "id"), "UUID"),
    ("voided verb on an activity", lambda s: s["verb"].update(id=ADL + "voided"), (), "StatementRef"),
    ("context revision about an agent", lambda s: s.update(object={"mbox": "mailto:b@example.vn", "objectType": "Agent"}, context={"revision": "2"}),
     (), "revision"),
    ("interaction without its type", lambda s: s["object"].update(definition={"choices": [{"id": "a"}]}), ("object", "definition"), "interactionType"),
    ("statement id not a UUID", lambda s: s.update(id="statement-1"), ("id",), "UUID"),
    ("version 2.0", lambda s: s.update(version="2.0.0"), ("version",), "1.0"),
    ("attachment without fileUrl", lambda s: s.update(attachments=[{"usageType": "https://e.vn/u", "display": {"en": "x"}, "contentType": "text/plain",
                                                                    "length": 1, "sha2": "ab"}]), (), "fileUrl"),
    ("authority group of three", lambda s: s.update(authority={"objectType": "Group", "member": [{"mbox": f"mailto:{i}@e.vn"} for i in range(3)]}), (), "two member"),
    ("NaN in an extension", lambda s: s["result"].update(extensions={"https://e.vn/x": float("nan")}), ("result", "extensions", "https://e.vn/x"), "finite"),
]


@pytest.mark.parametrize(("change", "loc", "needle"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_invalid_statements_are_refused_with_400_naming_index_and_field(client, keys, runtime, change, loc, needle):
    good = statement("answered", "items/test-scams-1", {"success": True})
    r = client.post("/v1/xapi/statements", content=json.dumps([good, variant(change)]),
                    headers={**auth(keys["platform"]), **XAPI, "Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.headers["X-Experience-API-Version"] == "1.0.3"
    errors = r.json()["detail"]
    found = [e for e in errors if tuple(e["loc"]) == ("body", 1, *loc)]
    assert found, errors
    assert found[0]["msg"].startswith("statement 1, ") and needle in found[0]["msg"], found[0]
    assert stored(runtime) == {}


VALID = [
    ("mbox", lambda s: s.update(actor={"mbox": "mailto:Learner@Example.vn", "name": "Nguyễn Văn A"})),
    ("mbox_sha1sum", lambda s: s.update(actor={"mbox_sha1sum": "a" * 40})),
    ("openid", lambda s: s.update(actor={"openid": "https://id.example.vn/learner-9"})),
    ("identified group", lambda s: s.update(actor={"objectType": "Group", "account": {"homePage": "https://p.vn", "name": "team-1"}})),
    ("anonymous group", lambda s: s.update(actor={"objectType": "Group", "member": [{"mbox": "mailto:a@e.vn"}, {"account": {"homePage": "https://p.vn", "name": "b"}}]})),
    ("full result", lambda s: s.update(result={"score": {"scaled": -0.5, "raw": 0, "min": -10, "max": 10}, "success": False, "completion": True,
                                               "response": "b", "duration": "P1Y2M3DT4H5M6.5S", "extensions": {"https://e.vn/x": {"any": [1, None]}}})),
    ("weeks", lambda s: s.update(result={"duration": "P2W"})),
    ("context", lambda s: s.update(context={"registration": str(uuid.uuid4()), "instructor": {"mbox": "mailto:t@e.vn"}, "language": "vi-VN", "platform": "Moodle",
                                            "contextActivities": {"parent": {"id": "https://e.vn/course"}, "grouping": [{"id": "https://e.vn/g"}]},
                                            "statement": {"objectType": "StatementRef", "id": str(uuid.uuid4())}})),
    ("sub-statement", lambda s: s.update(object={"objectType": "SubStatement", "actor": {"mbox": "mailto:a@e.vn"}, "verb": {"id": ADL + "answered"},
                                                 "object": {"id": "https://e.vn/x"}, "timestamp": "2026-11-20T08:00:00+07:00"})),
    ("agent as object", lambda s: s.update(object={"objectType": "Agent", "mbox": "mailto:b@e.vn"})),
    ("interaction", lambda s: s["object"].update(definition={"interactionType": "choice", "choices": [{"id": "a", "description": {"en-US": "A"}}],
                                                             "correctResponsesPattern": ["a"], "type": "http://adlnet.gov/expapi/activities/cmi.interaction"})),
    ("version and offset", lambda s: s.update(version="1.0.3", timestamp="2026-11-20T15:00:00.123+07:00")),
    ("attachment by fileUrl", lambda s: s.update(attachments=[{"usageType": "https://e.vn/u", "display": {"en": "x"}, "contentType": "text/plain",
                                                               "length": 1, "sha2": "ab", "fileUrl": "https://e.vn/f.txt"}])),
]


@pytest.mark.parametrize("change", [c[1] for c in VALID], ids=[c[0] for c in VALID])
def test_valid_statements_are_accepted_and_returned_by_id(client, keys, change):
    s = variant(change)
    r = post(client, keys["platform"], s)
    assert r.status_code == 200, r.text
    back = get(client, keys["platform"], statementId=s["id"])
    assert back.status_code == 200, back.text
    kept = back.json()
    for field in ("verb", "result", "timestamp", "version", "attachments"):
        if field in s:
            assert kept[field] == s[field], field
    if s["object"].get("objectType", "Activity") == "Activity":
        assert kept["object"] == s["object"]


def test_a_batch_keeps_each_body_as_sent_whatever_json_its_extensions_hold(client, keys):
    """A batch goes to PostgreSQL as one JSON document; a body may hold what that document's encoder cannot
    write itself (an integer beyond 64 bits), so every statement must come back by id exactly as sent."""
    batch = [answer(f"learner-{k}", f"test-scams-{1 + k % 4}", k % 2 == 0, f"2026-11-20T08:{k:02d}:00Z") for k in range(30)]
    batch[7]["result"]["extensions"] = {"https://learn.example.vn/x/big": 10**30, "https://learn.example.vn/x/note": "Bước 1: mở “VNeID”",
                                        "https://learn.example.vn/x/list": [1.5, None, {"a": [True]}]}
    r = post(client, keys["platform"], batch)
    assert r.status_code == 200 and r.json() == [s["id"] for s in batch], r.text
    for s in (batch[0], batch[7], batch[29]):
        back = get(client, keys["platform"], statementId=s["id"])
        assert back.status_code == 200 and back.json()["result"] == s["result"], back.text


# --- ids: 409 on reuse with other content, 400 when repeated in one batch ---------------------------------------------------


def test_an_id_reused_with_other_content_is_a_conflict_and_the_same_content_a_no_op(client, keys, runtime):
    first = answer("learner-1", "test-scams-1", True, "2026-11-20T08:00:00Z")
    assert post(client, keys["platform"], first).status_code == 200
    again = copy.deepcopy(first)
    again["verb"]["display"] = {"en-US": "answered"}  # same content, keys in another order
    again = dict(reversed(list(again.items())))
    assert post(client, keys["platform"], again).status_code == 200
    other = {**first, "result": {"success": False}}
    fresh = answer("learner-1", "test-scams-2", True, "2026-11-20T09:00:00Z")
    r = post(client, keys["platform"], [fresh, other])
    assert r.status_code == 409 and f"statement 1: the id {first['id']}" in r.json()["detail"], r.text
    assert r.headers["X-Experience-API-Version"] == "1.0.3"
    assert set(stored(runtime)) == {first["id"]}, "nothing of a refused batch is stored"
    assert mastery(client, keys["platform"], "learner-1")["4.2-basic"][1] == 1
    assert get(client, keys["platform"], statementId=first["id"]).json()["result"] == {"success": True}


def test_ids_repeated_in_a_batch_are_refused(client, keys, runtime):
    a = answer("learner-1", "test-scams-1", True, "2026-11-20T08:00:00Z")
    b = answer("learner-1", "test-scams-2", False, "2026-11-20T09:00:00Z", sid=a["id"].upper())
    r = post(client, keys["platform"], [a, b])
    assert r.status_code == 400 and "statements 0 and 1 share the id" in r.json()["detail"], r.text
    assert stored(runtime) == {}


def test_put_stores_under_the_id_given(client, keys, runtime):
    s = answer("learner-1", "test-scams-1", True, "2026-11-20T08:00:00Z")
    sid = s.pop("id")
    h = {**auth(keys["platform"]), **XAPI}
    r = client.put("/v1/xapi/statements", params={"statementId": sid}, json=s, headers=h)
    assert r.status_code == 204 and r.headers["X-Experience-API-Version"] == "1.0.3", r.text
    assert client.put("/v1/xapi/statements", params={"statementId": sid}, json=s, headers=h).status_code == 204
    assert client.put("/v1/xapi/statements", params={"statementId": sid}, json={**s, "result": {"success": False}}, headers=h).status_code == 409
    assert client.put("/v1/xapi/statements", params={"statementId": sid}, json={**s, "id": str(uuid.uuid4())}, headers=h).status_code == 400
    assert client.put("/v1/xapi/statements", json=s, headers=h).status_code == 400
    assert get(client, keys["platform"], statementId=sid.upper()).json()["id"] == sid
    assert mastery(client, keys["platform"], "learner-1")["4.2-basic"][1] == 1


# --- voiding -------------------------------------------------------------------------------------------------------------------


def test_voiding_takes_the_answer_back_as_if_it_had_never_come(client, keys, runtime):
    """learner-1 sends three answers and voids the middle one; learner-2 sends only the other two: same mastery."""
    times = ["2026-11-20T08:00:00Z", "2026-11-20T09:00:00Z", "2026-11-20T10:00:00Z"]
    mine = [answer("learner-1", f"test-scams-{i + 1}", ok, t) for i, (ok, t) in enumerate(zip([True, False, True], times))]
    theirs = [answer("learner-2", m["object"]["id"].rsplit("/", 1)[-1], m["result"]["success"], m["timestamp"]) for m in (mine[0], mine[2])]
    assert post(client, keys["platform"], mine + theirs).status_code == 200
    assert mastery(client, keys["platform"], "learner-1") != mastery(client, keys["platform"], "learner-2")
    void = voiding(mine[1]["id"])
    assert post(client, keys["platform"], void).status_code == 200
    assert mastery(client, keys["platform"], "learner-1") == mastery(client, keys["platform"], "learner-2")
    events = stored(runtime)
    assert events[mine[1]["id"]].kind == "skipped" and void["id"] in events[mine[1]["id"]].skip_reason
    assert get(client, keys["platform"], statementId=mine[1]["id"]).status_code == 404
    assert get(client, keys["platform"], voidedStatementId=mine[1]["id"]).json()["id"] == mine[1]["id"]
    assert get(client, keys["platform"], voidedStatementId=mine[0]["id"]).status_code == 404
    assert get(client, keys["platform"], statementId=void["id"]).json()["object"] == {"objectType": "StatementRef", "id": mine[1]["id"]}
    assert post(client, keys["platform"], voiding(mine[1]["id"])).status_code == 200, "voiding again changes nothing"
    assert mastery(client, keys["platform"], "learner-1") == mastery(client, keys["platform"], "learner-2")


def test_a_voiding_statement_cannot_be_voided(client, keys, runtime):
    target = answer("learner-1", "test-scams-1", True, "2026-11-20T08:00:00Z")
    void = voiding(target["id"])
    assert post(client, keys["platform"], [target, void]).status_code == 200
    before = mastery(client, keys["platform"], "learner-1")
    r = post(client, keys["platform"], voiding(void["id"]))
    assert r.status_code == 400 and "cannot be voided" in r.json()["detail"], r.text
    in_batch = voiding(str(uuid.uuid4()))
    r = post(client, keys["platform"], [in_batch, voiding(in_batch["id"])])
    assert r.status_code == 400 and "statement 1" in r.json()["detail"]
    assert mastery(client, keys["platform"], "learner-1") == before == {}


def test_a_statement_voided_before_it_arrives_is_kept_voided(client, keys, runtime):
    late = answer("learner-1", "test-scams-1", True, "2026-11-20T08:00:00Z")
    assert post(client, keys["platform"], voiding(late["id"])).status_code == 200
    assert post(client, keys["platform"], late).status_code == 200
    assert stored(runtime)[late["id"]].kind == "skipped"
    assert mastery(client, keys["platform"], "learner-1") == {}
    assert get(client, keys["platform"], statementId=late["id"]).status_code == 404
    assert get(client, keys["platform"], voidedStatementId=late["id"]).status_code == 200


# --- GET by id, headers, Basic credentials ---------------------------------------------------------------------------------------


def test_get_returns_the_statement_as_an_lrs_does(client, keys):
    s = answer("learner-1", "test-scams-1", True, "2026-11-20T15:00:00.123456+07:00")
    s["context"] = {"instructor": {"mbox": "mailto:teacher@example.vn", "name": "Cô Lan"}}
    post(client, keys["platform"], s)
    r = get(client, keys["platform"], statementId=s["id"])
    assert r.status_code == 200 and r.headers["X-Experience-API-Version"] == "1.0.3"
    assert "T" in r.headers["X-Experience-API-Consistent-Through"] and r.headers["X-Experience-API-Consistent-Through"].endswith("Z")
    kept = r.json()
    assert kept["timestamp"] == s["timestamp"] and kept["version"] == "1.0.0"
    assert kept["stored"].endswith("Z") and len(kept["stored"]) == len("2026-11-20T08:00:00.000Z")
    assert kept["authority"]["objectType"] == "Agent" and kept["authority"]["account"]["name"] in keys["platform"]
    assert kept["actor"]["account"]["homePage"] == "https://tutor.invalid/pseudonyms" and "name" not in kept["actor"]
    assert kept["context"]["instructor"]["account"]["name"] != kept["actor"]["account"]["name"]
    missing = get(client, keys["platform"], statementId=str(uuid.uuid4()))
    assert missing.status_code == 404 and "X-Experience-API-Consistent-Through" in missing.headers
    assert get(client, keys["platform"], statementId=s["id"], voidedStatementId=s["id"]).status_code == 400
    assert get(client, keys["platform"], statementId=s["id"], verb=ADL + "answered").status_code == 400
    assert get(client, keys["platform"], statementId=s["id"], format="exact").status_code == 200
    assert get(client, keys["platform"], statementId="nope").status_code == 400
    assert client.get("/v1/xapi/statements", params={"statementId": s["id"]}, headers=auth(keys["platform"])).status_code == 400, "version header"


def test_raw_identifiers_and_names_are_never_stored(client, keys, runtime):
    s = variant(lambda x: x.update(actor={"mbox": "mailto:secret.learner@example.vn", "name": "Trần Thị Bí Mật"}))
    s["context"] = {"team": {"objectType": "Group", "member": [{"account": {"homePage": "https://p.vn", "name": "secret-account-7"}}]}}
    assert post(client, keys["platform"], s).status_code == 200
    with runtime.engine.connect() as conn:
        dump = str(conn.execute(text("SELECT * FROM xapi_statements")).all()) + str(conn.execute(text("SELECT * FROM learners")).all())
    for raw in ("secret.learner", "Bí Mật", "secret-account-7"):
        assert raw not in dump
    with runtime.session() as session:
        row = session.scalars(select(XapiStatement)).one()
    assert row.learner_id == runtime.pseudonym("mailto:secret.learner@example.vn") == row.body["actor"]["account"]["name"]
    assert mastery(client, keys["platform"], "mailto:secret.learner@example.vn")["4.2-basic"][1] == 1, "an mbox learner is read by its mbox IRI"


def test_an_openid_learner_can_be_read_exported_and_erased_by_the_sha1_of_the_openid(client, keys):
    openid = "https://id.example.vn/learner-9"
    assert post(client, keys["platform"], variant(lambda x: x.update(actor={"openid": openid}))).status_code == 200
    learner = "openid:" + hashlib.sha1(openid.encode()).hexdigest()
    assert mastery(client, keys["platform"], learner)["4.2-basic"][1] == 1
    exported = client.get(f"/v1/learners/{learner}/export", headers=auth(keys["platform"]))
    assert exported.status_code == 200 and exported.json()["events"] and openid not in exported.text
    assert client.delete(f"/v1/learners/{learner}", headers=auth(keys["platform"])).status_code == 200
    assert mastery(client, keys["platform"], learner) == {}


def test_http_basic_credentials_on_the_xapi_routes_only(client, keys, runtime):
    s = answer("learner-1", "test-scams-1", True, "2026-11-20T08:00:00Z")
    assert client.post("/v1/xapi/statements", json=s, headers={**basic("moodle", keys["platform"]), **XAPI}).status_code == 200
    assert client.get("/v1/xapi/statements", params={"statementId": s["id"]}, headers={**basic(keys["platform"], ""), **XAPI}).status_code == 200
    wrong = client.get("/v1/xapi/statements", params={"statementId": s["id"]}, headers={**basic("moodle", "tk_wrong"), **XAPI})
    assert wrong.status_code == 401 and wrong.headers["X-Experience-API-Version"] == "1.0.3"
    none = client.get("/v1/xapi/statements", params={"statementId": s["id"]}, headers=XAPI)
    assert none.status_code == 401 and "Basic" in none.headers["WWW-Authenticate"]
    assert client.post("/v1/xapi/statements", json=s, headers={**basic("x", keys["learner"]), **XAPI}).status_code == 403, "same scopes as Bearer"
    other = client.get("/v1/learners/learner-1/mastery", headers=basic("moodle", keys["platform"]))
    assert other.status_code == 401, ("Basic is for LRS clients", other.text)


def test_about_is_public_and_names_the_versions(client):
    r = client.get("/v1/xapi/about")
    assert r.status_code == 200 and "1.0.3" in r.json()["version"] and r.headers["X-Experience-API-Version"] == "1.0.3"


def test_canonical_format_keeps_the_language_asked(client, keys):
    s = variant(lambda x: x["verb"].update(display={"en-US": "answered", "vi": "đã trả lời", "en-GB": "answered (GB)"}))
    s["object"]["definition"] = {"name": {"en-US": "Scams", "vi": "Lừa đảo"}, "extensions": {"https://e.vn/x": {"name": {"en-US": "kept"}}}}
    post(client, keys["platform"], s)
    h = {**auth(keys["platform"]), **XAPI, "Accept-Language": "vi;q=0.9, fr"}
    kept = client.get("/v1/xapi/statements", params={"statementId": s["id"], "format": "canonical"}, headers=h).json()
    assert kept["verb"]["display"] == {"vi": "đã trả lời"} and kept["object"]["definition"]["name"] == {"vi": "Lừa đảo"}
    assert kept["object"]["definition"]["extensions"] == s["object"]["definition"]["extensions"]
    exact = client.get("/v1/xapi/statements", params={"statementId": s["id"]}, headers=h).json()
    assert exact["verb"]["display"] == s["verb"]["display"]
    ids = client.get("/v1/xapi/statements", params={"statementId": s["id"], "format": "ids"}, headers=h).json()
    assert ids["verb"] == {"id": s["verb"]["id"]} and ids["object"] == {"objectType": "Activity", "id": s["object"]["id"]}
    assert client.get("/v1/xapi/statements", params={"statementId": s["id"], "format": "pretty"}, headers=h).status_code == 400
