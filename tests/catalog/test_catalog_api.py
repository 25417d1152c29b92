"""The platform's own course, end to end through HTTP: upload the Open edX demo course, send a graded
Open edX statement about one of its problems, review its alignment, and see mastery move once;
re-import in place; broken packages; statements about activities nobody imported."""

from __future__ import annotations

import copy
import io
import json
import tarfile
import uuid

import pytest
from sqlalchemy import func, select

from tests.catalog.test_cartridge import FILES_13
from tests.catalog.test_olx import DEMO, XAPI
from tests.catalog.test_scorm import write_zip
from tests.conftest import make_settings, with_settings
from tutor.catalog.olx import read_olx
from tutor.content import case
from tutor.store.tables import CatalogActivity, Event

XAPI_HEADERS = {"X-Experience-API-Version": "1.0.3"}


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def settings(database_url, content_dir, tmp_path):
    """The conftest store, with automatic acceptance off: every lesson and item waits for review."""
    return with_settings(make_settings(database_url, content_dir, tmp_path / "var"), catalog={"accept_confidence": 1.0})


@pytest.fixture(scope="module")
def demo_bytes() -> bytes:
    if not DEMO.is_file():
        pytest.skip(f"the Open edX demo course export is not at {DEMO} (../shared/data/olx/)")
    return DEMO.read_bytes()


@pytest.fixture(scope="module")
def demo_problem() -> str:
    """The usage key of the demo course's first graded item."""
    if not DEMO.is_file():
        pytest.skip(f"the Open edX demo course export is not at {DEMO}")
    return read_olx(DEMO).of_kind("item")[0].key


def upload(client, keys, body: bytes, filename: str = "openedx-demo-course.tar.gz") -> dict:
    r = client.post("/v1/admin/catalog/imports", params={"filename": filename}, content=body,
                    headers={**auth(keys["admin"]), "Content-Type": "application/octet-stream"})
    assert r.status_code == 202, r.text
    job = client.get(f"/v1/admin/catalog/imports/{r.json()['job_id']}", headers=auth(keys["admin"]))
    assert job.status_code == 200, job.text
    return job.json()


def statement(usage_key: str, learner: str, success: bool, when: str) -> dict:
    """A graded Open edX statement shaped like the real problem_check(server) example, about `usage_key`."""
    example_path = XAPI / "problem_check(server).json"
    if not example_path.is_file():
        pytest.skip(f"the Open edX xAPI examples are not at {XAPI}")
    s = copy.deepcopy(json.loads(example_path.read_text()))
    s["id"] = str(uuid.uuid4())
    s["object"]["id"] = f"http://localhost:18000/xblock/{usage_key}"
    s["actor"]["account"]["name"] = learner
    s["result"]["success"] = success
    s["result"]["score"].update(raw=int(success), scaled=float(success))
    s["timestamp"] = when
    return s


def mastery_of(client, keys, learner: str, skill: str) -> dict:
    r = client.get(f"/v1/learners/{learner}/mastery", headers=auth(keys["platform"]))
    assert r.status_code == 200, r.text
    return next(s for s in r.json()["skills"] if s["skill_id"] == skill)


def test_an_open_edx_answer_counts_once_its_alignment_is_accepted(client, keys, runtime, demo_bytes, demo_problem):
    job = upload(client, keys, demo_bytes)
    assert job["state"] == "done", job
    report = job["report"]
    assert report["items"] == 20 and report["lessons"] == 209 and report["activities"] == 318 and report["added"] == 318
    assert report["review"] + report["aligned"] == report["lessons"] + report["items"]

    r = client.post("/v1/xapi/statements", json=[statement(demo_problem, "edx-learner-1", True, "2026-11-30T08:00:00Z")],
                    headers={**auth(keys["platform"]), **XAPI_HEADERS})
    assert r.status_code == 200, r.text
    with runtime.session() as s:
        activity = s.scalar(select(CatalogActivity).where(CatalogActivity.key == demo_problem))
        kinds = [e.kind for e in s.scalars(select(Event).where(Event.item_id == activity.id))]
    assert activity.alignment == "review" and kinds == ["pending"]
    before = mastery_of(client, keys, "edx-learner-1", "4.2-basic")
    assert before["n_observations"] == 0, "a pending answer does not move mastery"

    queue = client.get("/v1/admin/catalog/alignments", params={"limit": 500}, headers=auth(keys["admin"])).json()
    waiting = next(a for a in queue["activities"] if a["activity_id"] == activity.id)
    assert waiting["pending_answers"] == 1 and waiting["key"] == demo_problem and waiting["course"] == "course-v1:OpenedX+DemoX+DemoCourse"

    decided = client.post(f"/v1/admin/catalog/alignments/{activity.id}", json={"skills": ["4.2-basic"]}, headers=auth(keys["admin"]))
    assert decided.status_code == 200, decided.text
    assert decided.json() == {"activity_id": activity.id, "alignment": "accepted", "skills": ["4.2-basic"], "answers_counted": 1,
                              "case_ids": [case.identifier("skill:4.2-basic")]}
    assert client.get(f"/ims/case/v1p0/CFItems/{case.identifier('skill:4.2-basic')}", headers=auth(keys["platform"])).status_code == 200
    after = mastery_of(client, keys, "edx-learner-1", "4.2-basic")
    assert after["p_mastered"] > before["p_mastered"]

    again = client.post(f"/v1/admin/catalog/alignments/{activity.id}", json={"skills": ["4.2-basic"]}, headers=auth(keys["admin"]))
    assert again.status_code == 409
    assert mastery_of(client, keys, "edx-learner-1", "4.2-basic") == after, "a decision counts the waiting answers once"

    later = client.post("/v1/xapi/statements", json=[statement(demo_problem, "edx-learner-1", False, "2026-11-30T09:00:00Z")],
                        headers={**auth(keys["platform"]), **XAPI_HEADERS})
    assert later.status_code == 200
    assert mastery_of(client, keys, "edx-learner-1", "4.2-basic")["p_mastered"] < after["p_mastered"], "once aligned, answers count at once"


def test_re_importing_keeps_ids_alignments_and_answers(client, keys, runtime, demo_bytes, demo_problem):
    upload(client, keys, demo_bytes)
    client.post("/v1/xapi/statements", json=[statement(demo_problem, "edx-learner-2", True, "2026-11-30T08:00:00Z")],
                headers={**auth(keys["platform"]), **XAPI_HEADERS})
    with runtime.session() as s:
        ids = set(s.scalars(select(CatalogActivity.id)))
    second = upload(client, keys, demo_bytes)["report"]
    assert (second["added"], second["updated"], second["removed"], second["unchanged"]) == (0, 0, 0, 318)
    with runtime.session() as s:
        assert set(s.scalars(select(CatalogActivity.id))) == ids
        assert s.scalar(select(func.count()).select_from(Event).where(Event.kind.in_(("pending", "answer")))) == 1


def test_a_changed_course_is_updated_in_place(client, keys, runtime, tmp_path, demo_bytes):
    """Edit one html unit and drop one problem: one updated, one removed, the rest unchanged."""
    folder = tmp_path / "course"
    with tarfile.open(fileobj=io.BytesIO(demo_bytes)) as tar:
        tar.extractall(folder, filter="data")
    upload(client, keys, demo_bytes)
    course = read_olx(folder)
    html_files = sorted((folder / "course" / "html").glob("*.html"))
    edited = html_files[0]
    edited.write_text(edited.read_text() + "<p>Một đoạn mới.</p>")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(folder / "course", arcname="course")
    report = upload(client, keys, buffer.getvalue(), "changed.tar.gz")["report"]
    assert report["updated"] == 1 and report["added"] == 0 and report["unchanged"] == len(course.activities) - 1


def test_a_broken_package_fails_its_job_naming_the_file_and_stores_nothing(client, keys, runtime):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        data = b'<course org="Org" course="C1" url_name="run"/>'
        info = tarfile.TarInfo("course/course.xml")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        broken = b"<course><chapter url_name='ch'"
        info = tarfile.TarInfo("course/course/run.xml")
        info.size = len(broken)
        tar.addfile(info, io.BytesIO(broken))
    job = upload(client, keys, buffer.getvalue(), "broken.tar.gz")
    assert job["state"] == "failed" and "course/course/run.xml" in job["error"], job
    with runtime.session() as s:
        assert s.scalar(select(func.count()).select_from(CatalogActivity)) == 0


def test_uploads_are_refused_clearly(client, keys):
    empty = client.post("/v1/admin/catalog/imports", params={"filename": "x.tar.gz"}, content=b"", headers=auth(keys["admin"]))
    assert empty.status_code == 422 and "empty" in empty.json()["detail"]
    assert client.post("/v1/admin/catalog/imports", params={"filename": "x.tar.gz"}, content=b"x", headers=auth(keys["platform"])).status_code == 403
    assert client.post("/v1/admin/catalog/imports", params={"filename": "../x"}, content=b"x", headers=auth(keys["admin"])).status_code == 422
    assert client.get("/v1/admin/catalog/imports/nope", headers=auth(keys["admin"])).status_code == 404


def test_an_answer_about_an_activity_nobody_imported_is_kept_for_alignment(client, keys, runtime):
    s = {
        "id": str(uuid.uuid4()), "actor": {"account": {"homePage": "https://lms.example.vn", "name": "learner-9"}},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/answered"},
        "object": {"id": "https://lms.example.vn/mod/quiz/q/17", "definition": {
            "name": {"vi-VN": "Nhận biết tin nhắn lừa đảo"}, "description": {"vi-VN": "Tin nhắn nào là lừa đảo?"},
            "type": "http://adlnet.gov/expapi/activities/cmi.interaction"}},
        "result": {"success": True}, "timestamp": "2026-11-30T08:00:00Z",
    }
    assert client.post("/v1/xapi/statements", json=s, headers={**auth(keys["platform"]), **XAPI_HEADERS}).status_code == 200
    with runtime.session() as db:
        row = db.scalar(select(CatalogActivity).where(CatalogActivity.key == "https://lms.example.vn/mod/quiz/q/17"))
        assert row.origin == "statement" and row.title == "Nhận biết tin nhắn lừa đảo"
        event = db.scalar(select(Event).where(Event.item_id == row.id))
        assert row.alignment == "review" and event.kind == "pending"
    r = client.post(f"/v1/admin/catalog/alignments/{row.id}", json={"skills": []}, headers=auth(keys["admin"]))
    assert r.json()["alignment"] == "none" and r.json()["answers_counted"] == 1
    with runtime.session() as db:
        assert db.scalar(select(Event.kind).where(Event.item_id == row.id)) == "skipped"


def test_decisions_are_checked(client, keys, runtime, demo_bytes):
    upload(client, keys, demo_bytes)
    queue = client.get("/v1/admin/catalog/alignments", headers=auth(keys["admin"])).json()
    assert queue["waiting"] == 229 and len(queue["activities"]) == 50 and queue["next_after"]
    first = queue["activities"][0]["activity_id"]
    unknown = client.post(f"/v1/admin/catalog/alignments/{first}", json={"skills": ["9.9-basic"]}, headers=auth(keys["admin"]))
    assert unknown.status_code == 422 and "9.9-basic" in unknown.json()["detail"]
    assert client.post("/v1/admin/catalog/alignments/act-none", json={"skills": []}, headers=auth(keys["admin"])).status_code == 404
    assert client.post(f"/v1/admin/catalog/alignments/{first}", json={"skills": []}, headers=auth(keys["researcher"])).status_code == 403
    assert client.get("/v1/admin/catalog/alignments", headers=auth(keys["platform"])).status_code == 403


def test_a_common_cartridge_uploads_and_its_quiz_question_counts(client, keys, runtime, tmp_path):
    """A Moodle/Canvas-style cartridge (built in tests/catalog/test_cartridge.py from the specification) through the same route."""
    body = write_zip(tmp_path / "email.imscc", FILES_13).read_bytes()
    job = upload(client, keys, body, "email.imscc")
    assert job["state"] == "done", job
    report = job["report"]
    assert (report["platform"], report["source"], report["lessons"], report["items"]) == ("cc", "email.imscc", 1, 4)
    assert report["notes"][0] == "IMS Common Cartridge 1.3"
    question = {
        "id": str(uuid.uuid4()), "actor": {"account": {"homePage": "https://moodle.example.vn", "name": "cc-learner"}},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/answered"}, "object": {"id": "https://moodle.example.vn/cc/i_quiz/q_mc"},
        "result": {"success": True}, "timestamp": "2026-11-30T08:00:00Z",
    }
    assert client.post("/v1/xapi/statements", json=question, headers={**auth(keys["platform"]), **XAPI_HEADERS}).status_code == 200
    with runtime.session() as s:
        activity = s.scalar(select(CatalogActivity).where(CatalogActivity.key == "i_quiz/q_mc"))
        assert s.scalar(select(Event.kind).where(Event.item_id == activity.id)) == "pending"
