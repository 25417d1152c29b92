"""xAPI statements in, as a learning record store takes them."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from tests.conftest import auth
from tutor.store.tables import CatalogActivity, Event

ADL = "http://adlnet.gov/expapi/verbs/"


def statement(verb: str, target: str, result: dict | None = None, learner: str = "learner-1", sid: str | None = None) -> dict:
    s = {
        "id": sid or str(uuid.uuid4()),
        "actor": {"objectType": "Agent", "account": {"homePage": "https://vneid.gov.vn", "name": learner}},
        "verb": {"id": ADL + verb, "display": {"en-US": verb}},
        "object": {"objectType": "Activity", "id": f"https://learn.example.vn/{target}"},
        "timestamp": "2026-11-20T08:00:00Z",
    }
    if result is not None:
        s["result"] = result
    return s


def post(client, key, body, version="1.0.3"):
    headers = {**auth(key), **({"X-Experience-API-Version": version} if version else {})}
    return client.post("/v1/xapi/statements", json=body, headers=headers)


def stored(runtime) -> dict[str, Event]:
    with runtime.session() as s:
        return {e.event_id: e for e in s.scalars(select(Event))}


def test_verbs_become_answers_exposures_or_skips(client, keys, runtime):
    body = [
        statement("answered", "items/test-scams-1", {"success": True, "duration": "PT1M5S"}),
        statement("evaluated", "items/test-scams-2", {"score": {"scaled": 0.4}}),
        statement("failed", "lessons/test-scams"),
        statement("completed", "lessons/test-search"),
        statement("experienced", "items/test-search-1"),
        statement("liked", "lessons/test-scams"),
        statement("answered", "items/somewhere-else", {"success": True}),
        statement("attempted", "items/test-scams-3"),
    ]
    r = post(client, keys["platform"], body)
    assert r.status_code == 200, r.text
    assert r.json() == [s["id"] for s in body]
    assert r.headers["X-Experience-API-Version"].startswith("1.0")
    events = stored(runtime)
    kinds = [events[s["id"]].kind for s in body]
    assert kinds == ["answer", "answer", "answer", "exposure", "exposure", "skipped", "pending", "skipped"], "an unknown graded activity is kept for alignment"
    assert events[body[0]["id"]].score == 1.0 and events[body[0]["id"]].duration_seconds == 65
    assert events[body[1]["id"]].score == 0.4
    assert events[body[2]["id"]].score == 0.0 and events[body[2]["id"]].skills == ["4.2-basic"]
    assert events[body[3]["id"]].lesson_id == "test-search"
    assert "liked" in events[body[5]["id"]].skip_reason
    mastery = client.get("/v1/learners/learner-1/mastery", headers=auth(keys["platform"])).json()
    assert {s["skill_id"]: s["n_observations"] for s in mastery["skills"]}["4.2-basic"] == 3


def test_single_statement_and_idempotency_on_id(client, keys):
    s = statement("answered", "items/test-scams-1", {"success": True})
    assert post(client, keys["platform"], s).json() == [s["id"]]
    assert post(client, keys["platform"], s).status_code == 200
    mastery = client.get("/v1/learners/learner-1/mastery", headers=auth(keys["platform"])).json()
    assert {x["skill_id"]: x["n_observations"] for x in mastery["skills"]}["4.2-basic"] == 1


def test_version_header_is_required(client, keys):
    r = post(client, keys["platform"], statement("answered", "items/test-scams-1", {"success": True}), version=None)
    assert r.status_code == 400 and "X-Experience-API-Version" in r.json()["detail"]


def test_invalid_statement_rejects_the_body_naming_its_index(client, keys, runtime):
    good = statement("answered", "items/test-scams-1", {"success": True})
    bad_score = statement("answered", "items/test-scams-1", {"score": {"scaled": 3}})
    no_identifier = statement("answered", "items/test-scams-1")
    no_identifier["actor"] = {"objectType": "Agent", "name": "Someone"}
    r = post(client, keys["platform"], [good, no_identifier, bad_score])
    assert r.status_code == 400
    errors = {tuple(e["loc"]): e["msg"] for e in r.json()["detail"]}
    assert errors[("body", 1, "actor")].startswith("statement 1, actor: an Agent needs exactly one identifier"), errors
    assert errors[("body", 2, "result", "score", "scaled")].startswith("statement 2, result.score.scaled:"), errors
    assert stored(runtime) == {}


def test_long_verbs_and_activity_ids_are_kept(client, keys, runtime):
    """An untracked verb with a long IRI is acknowledged and skipped (its verb and reason shortened to fit);
    an unknown activity with a long IRI is kept whole, its answer waiting for alignment."""
    long_verb = statement("answered", "items/test-scams-1", {"success": True})
    long_verb["verb"]["id"] = "http://example.vn/verbs/" + "v" * 470
    long_object = statement("answered", "items/" + "o" * 460, {"success": True})
    r = post(client, keys["platform"], [long_verb, long_object])
    assert r.status_code == 200, r.text
    events = stored(runtime)
    skipped, pending = events[long_verb["id"]], events[long_object["id"]]
    assert (skipped.kind, pending.kind) == ("skipped", "pending")
    assert skipped.verb.startswith("vvv") and len(skipped.verb) <= 64
    assert len(skipped.skip_reason) <= 200 and "is not tracked" in skipped.skip_reason
    with runtime.session() as s:
        assert s.get(CatalogActivity, pending.item_id).key == long_object["object"]["id"]


def test_result_success_is_a_boolean(client, keys, runtime):
    r = post(client, keys["platform"], statement("answered", "items/test-scams-1", {"success": "yes"}))
    assert r.status_code == 400 and r.json()["detail"][0]["loc"] == ["body", 0, "result", "success"]
    assert stored(runtime) == {}
