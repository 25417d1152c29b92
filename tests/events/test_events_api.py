"""Events in, mastery out, on both stores: idempotency, whole-batch rejection, BKT direction."""

from __future__ import annotations

from sqlalchemy import func, select

from tests.conftest import auth
from tutor.clock import as_utc
from tutor.store.tables import Event, Learner, Mastery

T = "2026-11-20T08:00:00Z"


def answer(i: int, learner: str = "learner-1", item: str = "test-scams-1", correct: bool = True, **extra) -> dict:
    return {"event_id": f"e-{learner}-{i}", "learner_id": learner, "item_id": item, "correct": correct, "timestamp": T, **extra}


def counts(runtime) -> tuple[int, int, int]:
    with runtime.session() as s:
        return tuple(s.scalar(select(func.count()).select_from(t)) for t in (Event, Learner, Mastery))


def skill(client, key, learner, skill_id="4.2-basic"):
    r = client.get(f"/v1/learners/{learner}/mastery", headers=auth(key))
    assert r.status_code == 200, r.text
    return next(s for s in r.json()["skills"] if s["skill_id"] == skill_id)


def test_same_batch_twice_is_applied_once(client, keys, runtime):
    batch = {"events": [answer(i) for i in range(5)]}
    first = client.post("/v1/events", json=batch, headers=auth(keys["platform"]))
    assert first.status_code == 200, first.text
    assert first.json()["stored"] == 5 and first.json()["duplicates"] == 0
    before = skill(client, keys["platform"], "learner-1")
    second = client.post("/v1/events", json=batch, headers=auth(keys["platform"]))
    assert second.json() == {"stored": 0, "duplicates": 5, "results": [{"event_id": e["event_id"], "status": "duplicate"} for e in batch["events"]]}
    after = skill(client, keys["platform"], "learner-1")
    assert after == before
    assert after["n_observations"] == 5
    assert counts(runtime)[0] == 5


def test_an_event_id_repeated_inside_one_batch_counts_once(client, keys):
    batch = {"events": [answer(1), answer(1)]}
    r = client.post("/v1/events", json=batch, headers=auth(keys["platform"]))
    assert [x["status"] for x in r.json()["results"]] == ["stored", "duplicate"]
    assert skill(client, keys["platform"], "learner-1")["n_observations"] == 1


def test_bad_batch_is_rejected_whole_naming_each_record(client, keys, runtime):
    events = [answer(i) for i in range(6)]
    events[2]["score"] = 1.5
    del events[2]["correct"]
    events[4]["item_id"] = "no-such-item"
    events[5]["skill_ids"] = ["9.9-basic"]
    del events[5]["item_id"]
    r = client.post("/v1/events", json={"events": events}, headers=auth(keys["platform"]))
    assert r.status_code == 422
    assert ["body", "events", 2, "score"] in [e["loc"] for e in r.json()["detail"]]
    r2 = client.post("/v1/events", json={"events": [answer(0), events[4], events[5]]}, headers=auth(keys["platform"]))
    assert r2.status_code == 422
    locs = {tuple(e["loc"]): e["msg"] for e in r2.json()["detail"]}
    assert "no-such-item" in locs[("body", "events", 1, "item_id")]
    assert "9.9-basic" in locs[("body", "events", 2, "skill_ids")]
    assert counts(runtime) == (0, 0, 0)


def test_record_shapes_are_checked(client, keys):
    cases = [
        ({**answer(1), "correct": None}, "exactly one of"),
        ({k: v for k, v in answer(1).items() if k != "item_id"}, "item_id"),
        ({**answer(1), "timestamp": "2999-01-01T00:00:00Z"}, "future"),
        ({**answer(1), "attempt": 0}, "greater than or equal"),
        ({**answer(1), "colour": "red"}, "Extra inputs"),
    ]
    for event, needle in cases:
        r = client.post("/v1/events", json={"events": [event]}, headers=auth(keys["platform"]))
        assert r.status_code == 422, event
        assert needle in r.text, r.text
    too_many = {"events": [answer(i) for i in range(1001)]}
    assert client.post("/v1/events", json=too_many, headers=auth(keys["platform"])).status_code == 422
    assert client.post("/v1/events", json={"events": []}, headers=auth(keys["platform"])).status_code == 422


def test_mastery_moves_as_bkt_predicts(client, keys, runtime):
    prior = runtime.model.params("4.2-basic").prior
    client.post("/v1/events", json={"events": [answer(i, "good") for i in range(3)]}, headers=auth(keys["platform"]))
    client.post("/v1/events", json={"events": [answer(i, "poor", correct=False) for i in range(3)]}, headers=auth(keys["platform"]))
    good = skill(client, keys["platform"], "good")["p_mastered"]
    poor = skill(client, keys["platform"], "poor")["p_mastered"]
    assert good > prior > poor
    ps = []
    for i in range(3, 8):
        client.post("/v1/events", json={"events": [answer(i, "good")]}, headers=auth(keys["platform"]))
        ps.append(skill(client, keys["platform"], "good")["p_mastered"])
    assert ps == sorted(ps) and ps[-1] > good
    client.post("/v1/events", json={"events": [answer(99, "good", correct=False)]}, headers=auth(keys["platform"]))
    assert skill(client, keys["platform"], "good")["p_mastered"] < ps[-1]


def test_partial_score_lands_between_right_and_wrong(client, keys):
    h = auth(keys["platform"])
    client.post("/v1/events", json={"events": [answer(1, "a", correct=True)]}, headers=h)
    client.post("/v1/events", json={"events": [answer(1, "b", correct=False)]}, headers=h)
    half = {**answer(1, "c"), "score": 0.5}
    del half["correct"]
    client.post("/v1/events", json={"events": [half]}, headers=h)
    a, b, c = (skill(client, keys["platform"], x)["p_mastered"] for x in "abc")
    assert b < c < a


def test_mastery_report_rolls_up_and_gives_levels(client, keys):
    h = auth(keys["platform"])
    client.post("/v1/events", json={"events": [answer(i) for i in range(12)]}, headers=h)
    body = client.get("/v1/learners/learner-1/mastery?lang=en", headers=h).json()
    assert len(body["skills"]) == 96 and len(body["competences"]) == 24 and len(body["domains"]) == 6
    comp = next(c for c in body["competences"] if c["code"] == "4.2")
    assert comp["level"] == 2 and comp["level_code"] == "CB2"
    assert comp["name"] == "Protecting personal data and privacy"
    untouched = next(c for c in body["competences"] if c["code"] == "3.4")
    assert untouched["level"] is None
    domain = next(d for d in body["domains"] if d["code"] == "4")
    assert 0 < domain["p_mastered"] < 1


def test_unknown_learner_is_404_with_a_message(client, keys):
    r = client.get("/v1/learners/nobody/mastery", headers=auth(keys["platform"]))
    assert r.status_code == 404
    assert "No events" in r.json()["detail"]


def test_skill_ids_for_items_outside_the_library(client, keys):
    event = {"event_id": "x1", "learner_id": "l", "item_id": "platform-own-item", "skill_ids": ["1.1-basic"], "correct": True, "timestamp": T}
    r = client.post("/v1/events", json={"events": [event]}, headers=auth(keys["platform"]))
    assert r.status_code == 200
    assert skill(client, keys["platform"], "l", "1.1-basic")["n_observations"] == 1


def test_correct_and_timestamp_are_strict(client, keys, runtime):
    """`correct` is a JSON boolean and `timestamp` an ISO 8601 string; nothing is coerced (a 422 names the field)."""
    cases = [
        ({**answer(1), "correct": "yes"}, "correct", "boolean"),
        ({**answer(1), "correct": "true"}, "correct", "boolean"),
        ({**answer(1), "correct": 1}, "correct", "boolean"),
        ({**answer(1), "correct": 0}, "correct", "boolean"),
        ({**answer(1), "timestamp": 1763625600}, "timestamp", "ISO 8601"),
        ({**answer(1), "timestamp": 1763625600.5}, "timestamp", "ISO 8601"),
        ({**answer(1), "timestamp": "1763625600"}, "timestamp", "ISO 8601"),
        ({**answer(1), "timestamp": "20 November 2026"}, "timestamp", "ISO 8601"),
        ({**answer(1), "timestamp": True}, "timestamp", "ISO 8601"),
        ({**answer(1), "timestamp": "2026-02-30T08:00:00Z"}, "timestamp", "ISO 8601"),
    ]
    for event, field, needle in cases:
        r = client.post("/v1/events", json={"events": [event]}, headers=auth(keys["platform"]))
        assert r.status_code == 422, event
        errors = {tuple(e["loc"]): e["msg"] for e in r.json()["detail"]}
        assert needle in errors[("body", "events", 0, field)], errors
    assert counts(runtime) == (0, 0, 0)
    fine = [{**answer(1), "timestamp": "2026-11-20T15:00:00+07:00"}, {**answer(2), "timestamp": "2026-11-20T08:00:00"},
            {**answer(3), "timestamp": "2026-11-20T08:00:00.123456Z"}, {**answer(4), "correct": False}]
    r = client.post("/v1/events", json={"events": fine}, headers=auth(keys["platform"]))
    assert r.status_code == 200, r.text
    with runtime.session() as s:
        stored = {e.event_id: e for e in s.scalars(select(Event))}
    assert {as_utc(e.occurred_at).isoformat() for e in stored.values()} == {"2026-11-20T08:00:00+00:00", "2026-11-20T08:00:00.123456+00:00"}
