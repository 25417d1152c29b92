"""Lessons added at run time are used at once, by this worker and by others."""

from __future__ import annotations

from tests.conftest import auth
from tests.conftest import make_lesson as bare_lesson
from tutor.runtime import Runtime

METADATA = {
    "licence": "CC-BY-4.0", "authors": ["Tổ biên soạn"], "last_reviewed": "2026-11-30",
    "sources": [{"title": "Cổng Dịch vụ công quốc gia", "url": "https://dichvucong.gov.vn", "publisher": "Văn phòng Chính phủ", "accessed": "2026-11-30"}],
}


def make_lesson(lesson_id: str, skill: str) -> dict:
    """A new lesson carries its licence, authors, review date and sources."""
    return {**bare_lesson(lesson_id, skill), **METADATA}


def test_new_lessons_need_their_metadata(client, keys):
    r = client.post("/v1/content/lessons", json=bare_lesson("no-metadata", "4.2-basic"), headers=auth(keys["admin"]))
    assert r.status_code == 422
    assert {e["msg"].split(":")[0] for e in r.json()["detail"]} == {"licence", "authors", "last_reviewed", "sources"}
    assert client.get("/v1/lessons/no-metadata", headers=auth(keys["platform"])).status_code == 404


def test_admin_adds_a_lesson_used_at_once(client, keys, runtime, settings):
    lesson = make_lesson("platform-qr-payments", "4.2-intermediate")
    r = client.post("/v1/content/lessons", json=lesson, headers=auth(keys["admin"]))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "added"
    assert client.get("/v1/lessons/platform-qr-payments", headers=auth(keys["platform"])).json()["title"]["en"] == "Lesson platform-qr-payments (en)"
    skills = client.get("/v1/skills", headers=auth(keys["platform"])).json()
    assert "platform-qr-payments" in next(s for s in skills if s["skill_id"] == "4.2-intermediate")["lessons"]
    event = {"event_id": "n1", "learner_id": "l1", "item_id": "platform-qr-payments-1", "correct": True, "timestamp": "2026-11-20T08:00:00Z"}
    assert client.post("/v1/events", json={"events": [event]}, headers=auth(keys["platform"])).status_code == 200
    mastery = client.get("/v1/learners/l1/mastery", headers=auth(keys["platform"])).json()
    assert {s["skill_id"]: s["n_observations"] for s in mastery["skills"]}["4.2-intermediate"] == 1
    search = make_lesson("platform-search-more", "1.1-basic")
    assert client.post("/v1/content/lessons", json=search, headers=auth(keys["admin"])).status_code == 200
    steps = client.get("/v1/learners/l1/next?goal=1.1-basic&n=5", headers=auth(keys["platform"]))
    assert steps.status_code == 200, steps.text
    assert "platform-search-more" in [r["lesson_id"] for r in steps.json()["recommendations"]]
    other_worker = Runtime(settings, migrate=False)
    assert "platform-qr-payments" in other_worker.library.lessons
    other_worker.engine.dispose()
    lesson["title"]["en"] = "QR payments"
    r = client.post("/v1/content/lessons", json=lesson, headers=auth(keys["admin"]))
    assert r.json()["status"] == "replaced"
    assert client.get("/v1/lessons/platform-qr-payments", headers=auth(keys["platform"])).json()["title"]["en"] == "QR payments"


def test_invalid_lessons_are_refused_with_locations(client, keys):
    lesson = make_lesson("bad-lesson", "4.2-intermediate")
    lesson["items"][1]["skills"] = ["8.8-basic"]
    r = client.post("/v1/content/lessons", json=lesson, headers=auth(keys["admin"]))
    assert r.status_code == 422
    assert {"loc": ["body", "items", 1, "skills", 0], "msg": "items.1.skills.0: unknown skill '8.8-basic'"}.items() <= r.json()["detail"][0].items()
    clash = make_lesson("clash", "4.2-intermediate")
    clash["items"][0]["id"] = "test-scams-1"
    r = client.post("/v1/content/lessons", json=clash, headers=auth(keys["admin"]))
    assert r.status_code == 422 and "already belongs to another lesson" in r.text
    del lesson["title"]["vi"]
    r = client.post("/v1/content/lessons", json=lesson, headers=auth(keys["admin"]))
    assert r.status_code == 422 and ["body", "title", "vi"] in [e["loc"] for e in r.json()["detail"]]
    assert client.get("/v1/lessons/bad-lesson", headers=auth(keys["platform"])).status_code == 404


def test_only_admins_add_lessons(client, keys):
    r = client.post("/v1/content/lessons", json=make_lesson("x", "4.2-basic"), headers=auth(keys["platform"]))
    assert r.status_code == 403


def test_content_import_command_reaches_running_workers(runtime, settings, monkeypatch, tmp_path):
    import yaml
    from typer.testing import CliRunner

    from tutor.cli import app

    folder = tmp_path / "new-lessons"
    folder.mkdir()
    (folder / "imported.yaml").write_text(yaml.safe_dump(make_lesson("imported", "5.1-basic"), allow_unicode=True))
    for name, value in {
        "TUTOR_DATABASE_URL": settings.database_url, "TUTOR_CONTENT_DIR": str(settings.content.content_dir),
        "TUTOR_VAR_DIR": str(settings.service.var_dir), "TUTOR_PSEUDONYM_SECRET": settings.pseudonym_key.decode(),
    }.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(app, ["content", "import", str(folder)])
    assert result.exit_code == 0, result.output
    assert "imported" not in runtime.library.lessons
    runtime.refresh(force=True)
    assert "imported" in runtime.library.lessons
    bad = make_lesson("broken", "5.1-basic")
    bad["items"][0]["correct"] = 9
    (folder / "imported.yaml").unlink()
    (folder / "broken.yaml").write_text(yaml.safe_dump(bad))
    result = CliRunner().invoke(app, ["content", "import", str(folder)])
    assert result.exit_code == 1 and "broken.yaml" in result.output and "correct = 9" in result.output
