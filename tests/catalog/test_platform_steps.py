"""/next sends the learner to the platform's own lessons and items too: those aligned to a candidate
skill are ranked with the bundled lessons by the same policy (one per course, the course's first, so
the platform's order is kept), only those the platform allows; more of them are listed per skill."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.catalog.test_catalog_api import auth, upload
from tests.catalog.test_imported_answers import demo_bytes  # noqa: F401 - a fixture
from tests.conftest import make_settings, with_settings
from tutor.catalog.api import decide_and_count
from tutor.runtime import Runtime
from tutor.store.tables import CatalogActivity


@pytest.fixture
def settings(database_url, content_dir, tmp_path):
    return with_settings(make_settings(database_url, content_dir, tmp_path / "var"), catalog={"accept_confidence": 1.0})


def test_next_lists_the_platforms_lessons_for_the_recommended_skills_in_course_order(client, keys, runtime, demo_bytes):  # noqa: F811
    upload(client, keys, demo_bytes)
    with runtime.session() as s:
        lessons = s.scalars(select(CatalogActivity).where(CatalogActivity.kind == "lesson").order_by(CatalogActivity.position)).all()
        chosen = [(a.id, a.key, a.title) for a in lessons[:5]]
    for aid, _, _ in reversed(chosen):  # decided in reverse: the listing follows the course, not the decisions
        r = client.post(f"/v1/admin/catalog/alignments/{aid}", json={"skills": ["1.1-basic"]}, headers=auth(keys["admin"]))
        assert r.status_code == 200, r.text
    event = {"event_id": "e-1", "learner_id": "learner-1", "item_id": "test-scams-1", "correct": True, "timestamp": "2026-11-30T08:00:00Z"}
    assert client.post("/v1/events", json={"events": [event]}, headers=auth(keys["platform"])).status_code == 200

    out = client.get("/v1/learners/learner-1/next", params={"goal": "1.1", "lang": "en"}, headers=auth(keys["platform"])).json()
    recs = out["recommendations"]
    assert [r["lesson_id"] for r in recs] == ["test-search", chosen[0][0]]  # the course's first unit only: its order is the platform's
    bundled, imported = recs
    assert bundled["on_platform"] is None and bundled["score"] > imported["score"]  # a lesson with its items offers more practice
    assert imported["on_platform"] == {"skill_id": "1.1-basic", "activity_id": chosen[0][0], "platform": "openedx", "key": chosen[0][1],
                                       "course": imported["on_platform"]["course"], "kind": "lesson", "title": chosen[0][2]}
    assert imported["title"] == chosen[0][2] and imported["skill_id"] == "1.1-basic" and imported["reason"] == "ready"
    assert "1.1" in imported["message"] and 0 < imported["p_success"] < 1 and imported["expected_gain"] > 0
    assert [(p["activity_id"], p["skill_id"], p["key"], p["title"]) for p in out["on_platform"]] == [(a, "1.1-basic", k, t) for a, k, t in chosen[:3]]

    only = client.post("/v1/learners/learner-1/next", json={"goal": "1.1", "allowed": [chosen[4][1], chosen[3][0]]}, headers=auth(keys["platform"])).json()
    assert [r["lesson_id"] for r in only["recommendations"]] == [chosen[3][0]]  # of those allowed, the first in course order
    assert only["outside_allowed"]["lesson_id"] == "test-search" and only["allowed_note"]
    assert [p["activity_id"] for p in only["on_platform"]] == [chosen[3][0], chosen[4][0]]

    mixed = client.post("/v1/learners/learner-1/next", json={"goal": "1.1", "allowed": ["test-search", chosen[4][1]]}, headers=auth(keys["platform"])).json()
    assert [r["lesson_id"] for r in mixed["recommendations"]] == ["test-search", chosen[4][0]] and mixed["outside_allowed"] is None

    unknown = client.post("/v1/learners/learner-1/next", json={"allowed": ["no-such-thing"]}, headers=auth(keys["platform"]))
    assert unknown.status_code == 422 and "no-such-thing" in unknown.text


def test_next_ranks_the_platforms_items_for_practice(client, keys, runtime, demo_bytes):  # noqa: F811
    upload(client, keys, demo_bytes)
    with runtime.session() as s:
        items = s.scalars(select(CatalogActivity).where(CatalogActivity.kind == "item").order_by(CatalogActivity.position)).all()
        first = (items[0].id, items[0].key)
    r = client.post(f"/v1/admin/catalog/alignments/{first[0]}", json={"skills": ["1.1-basic"]}, headers=auth(keys["admin"]))
    assert r.status_code == 200, r.text
    event = {"event_id": "e-1", "learner_id": "learner-2", "item_id": "test-scams-1", "correct": True, "timestamp": "2026-11-30T08:00:00Z"}
    assert client.post("/v1/events", json={"events": [event]}, headers=auth(keys["platform"])).status_code == 200
    out = client.get("/v1/learners/learner-2/next", params={"goal": "1.1", "kind": "item", "n": 50}, headers=auth(keys["platform"])).json()
    imported = [r for r in out["recommendations"] if r["on_platform"]]
    assert [(r["item_id"], r["lesson_id"], r["kind"], r["on_platform"]["key"], r["on_platform"]["kind"]) for r in imported] == [(first[0], None, "item", first[1], "item")]
    bundled = [r for r in out["recommendations"] if not r["on_platform"]]
    assert bundled and all(r["lesson_id"] == "test-search" for r in bundled)
    assert 0 < imported[0]["p_success"] < 1 and imported[0]["reason"] == "ready"


def test_a_decision_on_another_worker_reaches_next_here(client, keys, runtime, settings, demo_bytes):  # noqa: F811
    """Each worker keeps what /next read of the catalog; a reviewer's decision anywhere makes it read again."""
    upload(client, keys, demo_bytes)
    with runtime.session() as s:
        first, second = [a.id for a in s.scalars(select(CatalogActivity).where(CatalogActivity.kind == "lesson").order_by(CatalogActivity.position)).all()[:2]]
    assert client.post(f"/v1/admin/catalog/alignments/{first}", json={"skills": ["1.1-basic"]}, headers=auth(keys["admin"])).status_code == 200
    event = {"event_id": "e-1", "learner_id": "learner-1", "item_id": "test-scams-1", "correct": True, "timestamp": "2026-11-30T08:00:00Z"}
    assert client.post("/v1/events", json={"events": [event]}, headers=auth(keys["platform"])).status_code == 200
    listed = lambda: [p["activity_id"] for p in client.get("/v1/learners/learner-1/next", params={"goal": "1.1"}, headers=auth(keys["platform"])).json()["on_platform"]]  # noqa: E731
    assert listed() == [first]

    other = Runtime(settings)  # a second worker on the same database
    with other.session() as s:
        decide_and_count(other, s, second, ["1.1-basic"], "reviewer")
    assert listed() == [first, second]
