"""Questions answered from an imported course: the demo course's lessons are indexed beside the
bundled ones, quoted, and cited with where the platform shows them (a jump_to link into the LMS)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.catalog.test_catalog_api import auth, upload
from tests.catalog.test_olx import DEMO
from tests.conftest import make_settings, with_settings
from tutor.store.tables import CatalogActivity

LMS = "https://lms.example.vn"


@pytest.fixture
def settings(database_url, content_dir, tmp_path):
    """Words-only question index (fast), the LMS address set, and no automatic alignment."""
    return with_settings(make_settings(database_url, content_dir, tmp_path / "var"), answering={"encoder": "bm25"},
                         catalog={"lms_url": LMS, "accept_confidence": 1.0})


@pytest.fixture
def demo_bytes() -> bytes:
    if not DEMO.is_file():
        pytest.skip(f"the Open edX demo course export is not at {DEMO} (../shared/data/olx/)")
    return DEMO.read_bytes()


def ask(client, keys, question: str) -> dict:
    r = client.post("/v1/ask", json={"question": question, "lang": "en"}, headers=auth(keys["platform"]))
    assert r.status_code == 200, r.text
    return r.json()


def test_an_imported_lesson_answers_and_is_cited_on_the_platform(client, keys, runtime, demo_bytes):
    question = "What does the learner progress page display?"
    before = ask(client, keys, question)  # builds the index before the import: the import must reach it
    assert all(not p["lesson_id"].startswith("act-") for p in before["passages"])
    upload(client, keys, demo_bytes)
    after = ask(client, keys, question)
    assert after["answered"], after
    source = after["source"]
    with runtime.session() as s:
        row = s.get(CatalogActivity, source["lesson_id"])
    assert row is not None and row.title == "Learner Progress Page"
    assert "progress" in after["answer"].lower()
    assert source["on_platform"] == {
        "platform": "openedx", "key": row.key, "course": "course-v1:OpenedX+DemoX+DemoCourse",
        "url": f"{LMS}/courses/course-v1:OpenedX+DemoX+DemoCourse/jump_to/{row.key}",
    }


def test_a_new_worker_indexes_what_was_imported_before_it_started(client, keys, runtime, demo_bytes, settings):
    upload(client, keys, demo_bytes)
    with runtime.session() as s:
        lessons = s.scalars(select(CatalogActivity.id).where(CatalogActivity.kind == "lesson")).all()
    desk = type(runtime)(settings).help_desk()
    assert set(lessons) <= set(desk.index.lessons)
