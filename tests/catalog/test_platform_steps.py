"""/next sends the learner to the platform's own lessons too: imported lessons aligned to the
recommended skills, in the platform's course order, and only those the platform allows."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.catalog.test_catalog_api import auth, upload
from tests.catalog.test_imported_answers import demo_bytes  # noqa: F401 - a fixture
from tests.conftest import make_settings, with_settings
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

    out = client.get("/v1/learners/learner-1/next", params={"goal": "1.1"}, headers=auth(keys["platform"])).json()
    assert [r["lesson_id"] for r in out["recommendations"]] == ["test-search"]
    assert [(p["activity_id"], p["skill_id"], p["key"], p["title"]) for p in out["on_platform"]] == [(a, "1.1-basic", k, t) for a, k, t in chosen[:3]]

    only = client.post("/v1/learners/learner-1/next", json={"goal": "1.1", "allowed": [chosen[4][1], chosen[3][0]]}, headers=auth(keys["platform"])).json()
    assert only["recommendations"] == [] and [p["activity_id"] for p in only["on_platform"]] == [chosen[3][0], chosen[4][0]]

    unknown = client.post("/v1/learners/learner-1/next", json={"allowed": ["no-such-thing"]}, headers=auth(keys["platform"]))
    assert unknown.status_code == 422 and "no-such-thing" in unknown.text
