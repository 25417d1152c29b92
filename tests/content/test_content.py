"""The shipped library is valid and big enough; broken files are reported with file and line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from tests.conftest import make_lesson
from tutor.cli import app
from tutor.content.library import ContentError, load_library
from tutor.settings import PROJECT_ROOT

runner = CliRunner()


def test_shipped_library_passes_check_and_is_big_enough():
    result = runner.invoke(app, ["content", "check"])
    assert result.exit_code == 0, result.output
    stats = json.loads(runner.invoke(app, ["content", "stats", "--json"]).output)
    assert stats["domains"] == 6 and stats["competences"] == 24 and stats["skills"] >= 48
    assert stats["skills"] == 96 and stats["skills_per_band"] == {"basic": 24, "intermediate": 24, "advanced": 24, "specialised": 24}
    assert stats["skills_with_lessons"] + stats["skills_marked_no_lesson"] == stats["skills"]
    assert min(stats["lessons"].values()) >= 48 and stats["items"] >= 192
    q = stats["eval_questions"]
    assert q["vi"] + q["vi_nodiac"] + q["en"] >= 150 and min(q["vi"], q["vi_nodiac"], q["en"]) >= 50 and q["unanswerable"] >= 30


def test_every_lesson_has_enough_words_items_and_both_languages():
    library = load_library(PROJECT_ROOT / "content")
    for lesson in library.lessons.values():
        assert lesson.words("vi") >= 300 and lesson.words("en") >= 300, lesson.id
        assert len(lesson.items) >= 4, lesson.id


@pytest.fixture
def broken(tmp_path) -> Path:
    root = tmp_path / "content"
    (root / "lessons").mkdir(parents=True)
    (root / "eval").mkdir()
    shutil.copy(PROJECT_ROOT / "content" / "framework.yaml", root / "framework.yaml")
    (root / "lessons" / "good.yaml").write_text(yaml.safe_dump(make_lesson("good", "1.1-basic"), allow_unicode=True, sort_keys=False))
    return root


def write_lesson(root: Path, lesson: dict) -> Path:
    path = root / "lessons" / f"{lesson['id']}.yaml"
    path.write_text(yaml.safe_dump(lesson, allow_unicode=True, sort_keys=False))
    return path


def line_containing(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def check(root: Path) -> str:
    result = runner.invoke(app, ["content", "check", "--dir", str(root), "--lang", "en"])
    assert result.exit_code == 1, result.output
    return result.output


def test_missing_translation_names_file_and_line(broken):
    lesson = make_lesson("bad", "1.2-basic")
    del lesson["sections"][1]["heading"]["en"]
    path = write_lesson(broken, lesson)
    out = check(broken)
    assert f"content/lessons/bad.yaml:{line_containing(path, 'vi: Two (vi)') - 1}: sections.1.heading.en: missing translation (en)" in out


def test_unknown_skill_names_file_and_line(broken):
    lesson = make_lesson("bad", "1.2-basic")
    lesson["items"][2]["skills"] = ["7.7-basic"]
    path = write_lesson(broken, lesson)
    assert f"content/lessons/bad.yaml:{line_containing(path, '- 7.7-basic')}: items.2.skills.0: unknown skill '7.7-basic'" in check(broken)


def test_item_without_a_correct_option(broken):
    lesson = make_lesson("bad", "1.2-basic")
    lesson["items"][0]["correct"] = 5
    del lesson["items"][1]["correct"]
    path = write_lesson(broken, lesson)
    out = check(broken)
    assert "items.0: correct = 5 but there are only 3 options" in out
    assert f"bad.yaml:{line_containing(path, 'id: bad-2')}: items.1.correct: required field missing" in out


def test_prerequisite_cycle(broken):
    fw = broken / "framework.yaml"
    text = fw.read_text().replace("{id: 1.1-basic, competence: \"1.1\", band: basic, prerequisites: []}",
                                  "{id: 1.1-basic, competence: \"1.1\", band: basic, prerequisites: [1.2-basic]}")
    fw.write_text(text)
    out = check(broken)
    assert f"content/framework.yaml:{line_containing(fw, 'id: 1.1-basic,')}: prerequisite cycle: 1.1-basic -> 1.2-basic -> 1.1-basic" in out


def test_duplicate_lesson_and_item_ids(broken):
    twin = make_lesson("good", "1.2-basic")
    path = broken / "lessons" / "twin.yaml"
    path.write_text(yaml.safe_dump(twin, sort_keys=False))
    other = make_lesson("other", "1.2-basic")
    other["items"][0]["id"] = "good-1"
    opath = write_lesson(broken, other)
    out = check(broken)
    assert f"content/lessons/twin.yaml:{line_containing(path, 'id: good')}: duplicate lesson id 'good'" in out
    assert f"content/lessons/other.yaml:{line_containing(opath, 'id: good-1')}: items.0.id: item id 'good-1' also used in lesson 'good'" in out


def test_invalid_yaml_and_short_lessons(broken):
    (broken / "lessons" / "mangled.yaml").write_text("id: mangled\nskills: [1.1-basic\n")
    short = make_lesson("short", "1.2-basic")
    short["sections"][0]["body"]["en"] = "Too short."
    write_lesson(broken, short)
    out = check(broken)
    assert "content/lessons/mangled.yaml:" in out and "not valid YAML" in out
    assert "short.yaml" in out and "en: " in out and "at least 300 needed" in out


def test_eval_questions_are_checked(broken):
    (broken / "eval" / "q.yaml").write_text(
        "- id: q1\n  slice: vi_nodiac\n  question: \"Làm sao?\"\n  lessons: [good]\n"
        "- id: q2\n  slice: en\n  question: How?\n  lessons: [missing-lesson]\n"
    )
    out = check(broken)
    assert "content/eval/q.yaml:3: 0.question: slice vi_nodiac but the question has diacritics" in out
    assert "content/eval/q.yaml:8: 1.lessons: unknown lesson 'missing-lesson'" in out


def test_service_refuses_to_start_on_invalid_content(broken, tmp_path):
    lesson = make_lesson("bad", "1.2-basic")
    lesson["skills"] = ["nope"]
    write_lesson(broken, lesson)
    with pytest.raises(ContentError) as err:
        load_library(broken)
    assert "content/lessons/bad.yaml" in str(err.value) and "unknown skill 'nope'" in str(err.value)
