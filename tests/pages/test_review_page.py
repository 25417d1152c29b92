"""The desk's alignment review queue: an admin decides an imported activity's skills in a form, and the
answers that waited for it count; a researcher may not; a wrong choice or a stale decision is said so."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from tests.pages.conftest import csrf_of, sign_in_with
from tutor.store.tables import CatalogActivity, Event, Mastery


def pending_answer(browser, page_keys, page_runtime) -> CatalogActivity:
    """A graded statement about an activity nobody imported: registered, its answer pending review."""
    statement = {
        "id": str(uuid.uuid4()), "actor": {"account": {"homePage": "https://lms.example.vn", "name": "learner-7"}},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/answered"},
        "object": {"id": "https://lms.example.vn/quiz/42", "definition": {"name": {"en": "Zzyzx quiz"}}},
        "result": {"success": True}, "timestamp": "2026-11-30T08:00:00Z",
    }
    r = browser.post("/v1/xapi/statements", json=statement, headers={"Authorization": f"Bearer {page_keys['platform']}", "X-Experience-API-Version": "1.0.3"})
    assert r.status_code == 200, r.text
    with page_runtime.session() as s:
        return s.scalar(select(CatalogActivity).where(CatalogActivity.key == "https://lms.example.vn/quiz/42"))


def test_an_admin_decides_in_the_queue_and_the_waiting_answer_counts(browser, page_keys, page_runtime):
    activity = pending_answer(browser, page_keys, page_runtime)
    assert activity.alignment == "review"
    sign_in_with(browser, page_keys["admin"])
    queue = browser.get("/desk/alignments")
    assert queue.status_code == 200 and "Zzyzx quiz" in queue.text and "1 câu trả lời đang chờ" in queue.text
    token = csrf_of(queue.text)
    wrong = browser.post(f"/desk/alignments/{activity.id}", data={"csrf": token, "skill": "9.9-basic"})
    assert wrong.status_code == 422 and "Hãy chọn một kỹ năng" in wrong.text
    done = browser.post(f"/desk/alignments/{activity.id}", data={"csrf": token, "skill": "other", "other": "4.2-basic"})
    assert done.status_code == 200 and "1 câu trả lời được tính" in done.text
    with page_runtime.session() as s:
        assert s.scalar(select(Event.kind).where(Event.item_id == activity.id)) == "answer"
        assert s.scalar(select(Mastery.n_observations).where(Mastery.skill_id == "4.2-basic")) == 1
    again = browser.post(f"/desk/alignments/{activity.id}", data={"csrf": token, "skill": "none"})
    assert again.status_code == 409 and "not waiting for review" in again.text


def test_the_queue_needs_an_admin_and_a_csrf_token(browser, page_keys, page_runtime):
    activity = pending_answer(browser, page_keys, page_runtime)
    sign_in_with(browser, page_keys["researcher"])
    assert browser.get("/desk/alignments").status_code == 403
    sign_in_with(browser, page_keys["admin"])
    assert browser.post(f"/desk/alignments/{activity.id}", data={"skill": "none"}).status_code == 403
    with page_runtime.session() as s:
        assert s.scalar(select(Event.kind).where(Event.item_id == activity.id)) == "pending"
