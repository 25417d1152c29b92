"""Per-audience examples: checked against content/audiences.yaml, and served with the learner's audience."""

from __future__ import annotations

import shutil

import yaml
from typer.testing import CliRunner

from tests.conftest import auth, make_lesson
from tests.content.test_lessons_api import METADATA
from tutor.cli import app
from tutor.content.library import Lesson, load_library
from tutor.settings import PROJECT_ROOT

WORKERS = {"vi": "Chị công nhân kiểm tra tin tuyển dụng trước khi nộp hồ sơ.", "en": "A factory worker checks a job offer before applying."}
CITIZENS = {"vi": "Bác nông dân quét mã QR ở chợ và xem tên người nhận.", "en": "An older farmer scans the QR code at the market and reads the payee's name."}


def lesson_with_examples(lesson_id: str, examples: dict) -> dict:
    return {**make_lesson(lesson_id, "4.2-basic"), **METADATA, "examples": examples}


def write_content(tmp_path, examples: dict):
    root = tmp_path / "content"
    (root / "lessons").mkdir(parents=True)
    for name in ("framework.yaml", "audiences.yaml"):
        shutil.copy(PROJECT_ROOT / "content" / name, root / name)
    (root / "lessons" / "scam-examples.yaml").write_text(yaml.safe_dump(lesson_with_examples("scam-examples", examples), allow_unicode=True, sort_keys=False))
    return root


def check(root, lang: str) -> str:
    return CliRunner().invoke(app, ["content", "check", "--dir", str(root), "--lang", lang]).output


def test_an_example_for_an_unknown_audience_is_an_error_at_its_line(tmp_path):
    root = write_content(tmp_path, {"workers": WORKERS, "farmers": CITIZENS})
    text = (root / "lessons" / "scam-examples.yaml").read_text().splitlines()
    line = next(i for i, row in enumerate(text, start=1) if row.startswith("  farmers:"))
    en, vi = check(root, "en"), check(root, "vi")
    assert f"content/lessons/scam-examples.yaml:{line}: examples.farmers: unknown audience 'farmers'; the audiences are officials, students, workers, citizens" in en
    assert f"content/lessons/scam-examples.yaml:{line}: examples.farmers: không có nhóm đối tượng 'farmers'" in vi
    assert "1 problem(s) found" in en  # the workers example is fine


def test_an_example_missing_a_language_is_a_missing_translation(tmp_path):
    root = write_content(tmp_path, {"workers": {"vi": WORKERS["vi"]}})
    out = check(root, "en")
    assert "scam-examples.yaml" in out and "examples.workers.en: missing translation (en)" in out


def test_known_examples_pass_and_each_audience_has_examples_in_the_library(tmp_path):
    assert load_library(write_content(tmp_path, {"workers": WORKERS, "citizens": CITIZENS})).lessons["scam-examples"].example_for("workers").en == WORKERS["en"]
    library = load_library(PROJECT_ROOT / "content")
    per_audience = {a: [lesson.id for lesson in library.lessons.values() if a in lesson.examples] for a in library.audiences}
    assert all(len(ids) >= 6 for ids in per_audience.values()), per_audience
    assert sum(1 for lesson in library.lessons.values() if lesson.examples) >= 16


def test_the_lesson_api_gives_the_learners_audience_example(client, keys, runtime):
    lesson = lesson_with_examples("job-offer-examples", {"workers": WORKERS, "citizens": CITIZENS})
    assert client.post("/v1/content/lessons", json=lesson, headers=auth(keys["admin"])).status_code == 200
    learner = auth(keys["learner"])
    url = "/v1/lessons/job-offer-examples"
    assert client.get(url, headers=learner).json()["example"] is None  # no audience yet
    assert client.put("/v1/learners/learner-1/profile", json={"audience": "workers"}, headers=learner).status_code == 200
    body = client.get(url, headers=learner).json()
    assert body["example"] == {"audience": "workers", "text": WORKERS} and body["examples"]["citizens"] == CITIZENS
    assert client.put("/v1/learners/learner-1/profile", json={"audience": "students"}, headers=learner).status_code == 200
    assert client.get(url, headers=learner).json()["example"] is None  # no example for students in this lesson
    platform = auth(keys["platform"])
    assert client.get(url, headers=platform).json()["example"] is None
    assert client.get(url + "?audience=citizens", headers=platform).json()["example"] == {"audience": "citizens", "text": CITIZENS}
    bad = client.get(url + "?audience=farmers", headers=platform)
    assert bad.status_code == 422 and "officials, students, workers, citizens" in bad.text


def test_a_lesson_without_examples_still_reads_as_a_lesson():
    lesson = Lesson.model_validate(make_lesson("plain", "4.2-basic"))
    assert lesson.examples == {} and lesson.example_for("workers") is None and lesson.example_for(None) is None
