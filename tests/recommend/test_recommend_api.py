"""GET/POST /v1/learners/{id}/next on both stores (test library: test-search teaches 1.1-basic, test-scams 4.2-basic)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.conftest import auth


def when(days_ago: float = 0.0) -> str:
    return (datetime.now(UTC) - timedelta(days=days_ago)).isoformat()


def master(client, key, learner, skills, days_ago=0.0, n=6):
    """Right answers by skill id (no lesson, so nothing counts as a lesson just studied)."""
    events = [
        {"event_id": f"{learner}-{s}-{i}-{days_ago}", "learner_id": learner, "skill_ids": [s], "correct": True, "timestamp": when(days_ago)}
        for s in skills for i in range(n)
    ]
    r = client.post("/v1/events", json={"events": events}, headers=auth(key))
    assert r.status_code == 200, r.text


def nxt(client, key, learner="learner-1", **params):
    r = client.get(f"/v1/learners/{learner}/next", params={"lang": "en", **params}, headers=auth(key))
    assert r.status_code == 200, r.text
    return r.json()


def test_unknown_learner_and_bad_requests_are_4xx_naming_the_problem(client, keys):
    key = keys["platform"]
    r = client.get("/v1/learners/nobody/next", headers=auth(key))
    assert r.status_code == 404 and "No events" in r.json()["detail"] and "placement" in r.json()["detail"]
    master(client, key, "learner-1", ["2.1-basic"], n=1)
    for goal, needle in (("9.9", "'9.9' is not a skill id"), ("4.2,,1", "empty part"), ("", "empty part")):
        r = client.get("/v1/learners/learner-1/next", params={"goal": goal}, headers=auth(key))
        assert r.status_code == 422, goal
        assert r.json()["detail"][0]["loc"] == ["query", "goal"] and needle in r.json()["detail"][0]["msg"]
    r = client.get("/v1/learners/learner-1/next", params={"allowed": "test-scams,ghost-lesson"}, headers=auth(key))
    assert r.status_code == 422 and "ghost-lesson" in r.json()["detail"][0]["msg"]
    r = client.post("/v1/learners/learner-1/next", json={"goal": "7"}, headers=auth(key))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "goal"]
    assert client.get("/v1/learners/learner-1/next", params={"n": 0}, headers=auth(key)).status_code == 422
    assert client.get("/v1/learners/learner-1/next", params={"kind": "video"}, headers=auth(key)).status_code == 422
    # learner keys read only their own learner
    assert client.get("/v1/learners/learner-1/next", headers=auth(keys["learner"])).status_code == 200
    assert client.get("/v1/learners/someone/next", headers=auth(keys["learner"])).status_code == 403
    assert client.get("/v1/learners/learner-1/next", headers=auth(keys["researcher"])).status_code == 403


def test_prerequisites_respected(client, keys):
    key = keys["platform"]
    master(client, key, "p", ["2.1-basic"], n=1)  # known learner, nothing of the goal mastered
    body = nxt(client, key, "p", goal="4.2-basic")
    assert body["goal_skills"] == ["4.2-basic"]
    assert [(r["lesson_id"], r["reason"]) for r in body["recommendations"]] == [("test-search", "remediate")]
    assert "4.1-basic" in body["no_lesson"]  # next in line, but the test library has no lesson for it
    master(client, key, "p", ["1.1-basic", "1.2-basic", "4.1-basic"])
    body = nxt(client, key, "p", goal="4.2-basic")
    (rec,) = body["recommendations"]
    assert (rec["lesson_id"], rec["skill_id"], rec["reason"]) == ("test-scams", "4.2-basic", "ready")
    assert "its prerequisites are done" in rec["message"] and 0 < rec["p_success"] < 1 and rec["p_mastered"] < 0.95
    assert "Bạn chưa thành thạo" in nxt(client, key, "p", goal="4.2-basic", lang="vi")["recommendations"][0]["message"]
    again = nxt(client, key, "p", goal="4.2-basic")
    assert {**again, "generated_at": None} == {**body, "generated_at": None}  # same state, same answer


def test_mastered_skill_not_recommended_until_it_decays(client, keys):
    key = keys["platform"]
    master(client, key, "fresh", ["1.1-basic", "1.2-basic", "4.1-basic", "4.2-basic"], days_ago=1)
    body = nxt(client, key, "fresh", goal="4.2-basic")
    assert body["recommendations"] == [] and body["goal_mastered"]
    master(client, key, "rusty", ["1.1-basic", "1.2-basic", "4.1-basic"], days_ago=1)
    master(client, key, "rusty", ["4.2-basic"], days_ago=120)
    body = nxt(client, key, "rusty", goal="4.2-basic")
    (rec,) = body["recommendations"]
    assert (rec["lesson_id"], rec["reason"]) == ("test-scams", "review") and not body["goal_mastered"]
    assert rec["days_since_practice"] > 119 and "120 days ago" in rec["message"]


def test_just_studied_lessons_wait_and_items_practice(client, keys):
    key = keys["platform"]
    master(client, key, "s", ["2.1-basic"], n=1)
    assert [r["lesson_id"] for r in nxt(client, key, "s", goal="1.1-basic")["recommendations"]] == ["test-search"]
    client.post("/v1/events", headers=auth(key), json={"events": [{"event_id": "s-item", "learner_id": "s", "item_id": "test-search-1", "correct": False, "timestamp": when()}]})
    body = nxt(client, key, "s", goal="1.1-basic")
    assert body["recommendations"] == [] and body["recently_done"] == ["test-search"]
    items = nxt(client, key, "s", goal="4.2-basic,1.1-basic,4.1-basic,1.2-basic", kind="item", n=3)
    assert items["kind"] == "item"
    assert all(r["kind"] == "item" and r["item_id"] for r in items["recommendations"])


def test_allowed_lessons_are_respected(client, keys):
    key = keys["platform"]
    master(client, key, "a", ["4.1-basic", "1.2-basic"])  # 4.2-basic is ready; 1.1-basic is open too
    goal = "4.2-basic,1.1-basic"
    full = nxt(client, key, "a", goal=goal)["recommendations"]
    assert {r["lesson_id"] for r in full} == {"test-scams", "test-search"}
    best, other = full[0]["lesson_id"], full[1]["lesson_id"]
    body = nxt(client, key, "a", goal=goal, allowed=other)
    assert [r["lesson_id"] for r in body["recommendations"]] == [other]
    assert body["outside_allowed"]["lesson_id"] == best and body["outside_allowed"]["title"] in body["allowed_note"]
    body = nxt(client, key, "a", goal=goal, allowed=best)
    assert [r["lesson_id"] for r in body["recommendations"]] == [best] and body["outside_allowed"] is None
    posted = client.post("/v1/learners/a/next", json={"goal": goal, "lang": "en", "allowed": [other], "kind": "item", "n": 3}, headers=auth(key))
    assert posted.status_code == 200, posted.text
    recs = posted.json()["recommendations"]
    assert len(recs) == 3 and all(r["lesson_id"] == other and r["item_id"].startswith(other) for r in recs)
    assert posted.json()["outside_allowed"]["lesson_id"] == best
