"""Each rule of `tutor content check`, with the bad input it catches; one pass, no follow-on noise, both languages."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from tests.conftest import make_lesson
from tutor.cli import app
from tutor.content.library import load_library
from tutor.content.rules import FOLDED_SYLLABLES, missing_diacritics
from tutor.content.translations import best_order, option_order_problems
from tutor.settings import PROJECT_ROOT

runner = CliRunner()


@pytest.fixture
def root(tmp_path) -> Path:
    root = tmp_path / "content"
    (root / "lessons").mkdir(parents=True)
    (root / "eval").mkdir()
    shutil.copy(PROJECT_ROOT / "content" / "framework.yaml", root / "framework.yaml")
    write(root, make_lesson("good", "1.1-basic"))
    return root


def write(root: Path, lesson: dict, text: str | None = None) -> Path:
    path = root / "lessons" / f"{lesson['id'] if lesson else 'raw'}.yaml"
    path.write_text(text if text is not None else yaml.safe_dump(lesson, allow_unicode=True, sort_keys=False))
    return path


def run(root: Path, *args: str, code: int | None = 1) -> str:
    result = runner.invoke(app, ["content", "check", "--dir", str(root), *args])
    if code is not None:
        assert result.exit_code == code, result.output
    return result.output


def line_with(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_english_options_in_another_order_are_caught():
    lesson = make_lesson("fake-site", "2.3-basic")
    lesson["items"][0]["options"] = {
        "vi": ["dichvucong-gov.com", "dichvucong.gov.vn", "dichvucongquocgia.net"],
        "en": ["dichvucong.gov.vn", "dichvucong-gov.com", "dichvucongquocgia.net"],
    }
    lesson["items"][0]["correct"] = 1
    root = _root_with(lesson)
    out = run(root, "--lang", "en")
    assert "fake-site.yaml" in out and "items.0.options.en: English option 1 ('dichvucong-gov.com') matches Vietnamese option 0" in out


def _root_with(lesson: dict) -> Path:
    import tempfile

    root = Path(tempfile.mkdtemp()) / "content"
    (root / "lessons").mkdir(parents=True)
    (root / "eval").mkdir()
    shutil.copy(PROJECT_ROOT / "content" / "framework.yaml", root / "framework.yaml")
    write(root, lesson)
    return root


def test_the_encoder_check_finds_options_out_of_order_by_meaning(root):
    """The pairing is exhaustive over orders; a fake encoder shows the rule without loading the model."""
    sim = np.array([[0.2, 0.9, 0.1], [0.8, 0.3, 0.2], [0.1, 0.2, 0.7]])
    assert best_order(sim) == (1, 0, 2)
    lesson = make_lesson("swapped", "1.2-basic")
    lesson["items"][0]["options"] = {"vi": ["Chó", "Mèo", "Gà"], "en": ["Cat", "Dog", "Chicken"]}
    write(root, lesson)
    words = {"Chó": 0, "Dog": 0, "Mèo": 1, "Cat": 1, "Gà": 2, "Chicken": 2, "A": 3, "B": 4, "C": 5}

    class Fake:
        def query(self, texts):
            return np.eye(6)[[words[t] for t in texts]]

    problems = option_order_problems(load_library(root), root, model=Fake())
    assert [p.rule for p in problems] == ["option-order-meaning"]
    assert problems[0].file == "content/lessons/swapped.yaml" and "vi 0 ↔ en 1" in problems[0].message


def test_an_unquoted_comma_that_splits_an_option(root):
    lesson = make_lesson("comma", "1.2-basic")
    path = write(root, lesson)
    text = path.read_text()
    block = "  options:\n    vi:\n    - A\n    - B\n    - C\n    en:\n    - A\n    - B\n    - C\n  correct: 1\n"
    assert block in text
    # Vietnamese split in two by "Có, nhưng chậm"; English quoted properly
    text = text.replace(block, '  options:\n    vi: [Có, nhưng chậm, Không]\n    en: ["Yes, but slowly", "No"]\n  correct: 1\n', 1)
    path.write_text(text)
    out = run(root, "--lang", "en")
    line = line_with(path, "vi: [Có, nhưng chậm")
    assert f"comma.yaml:{line}: items.0.options.vi.1: option 'nhưng chậm' starts in lower case after 'Có'" in out
    assert "an unquoted comma inside an entry splits it in two" in out  # the count mismatch says why, too


def test_vietnamese_typed_without_diacritics(root):
    lesson = make_lesson("nodiac", "4.1-basic")
    lesson["title"]["vi"] = "Bao ve mat khau cua ban"
    lesson["items"][1]["options"]["vi"] = ["Khong dung mat khau", "B", "C"]
    path = write(root, lesson)
    out = run(root, "--lang", "en")
    assert f"nodiac.yaml:{line_with(path, 'Bao ve mat khau')}: title.vi: Vietnamese text without diacritics" in out
    assert "items.1.options.vi.0: Vietnamese text without diacritics" in out
    assert "văn bản tiếng Việt thiếu dấu" in run(root)  # Vietnamese by default
    assert not missing_diacritics("Bảo vệ mật khẩu", FOLDED_SYLLABLES)
    assert not missing_diacritics("Zalo OTP 113", FOLDED_SYLLABLES)  # names and numbers are not Vietnamese without diacritics


def test_a_skill_tag_from_another_domain(root):
    lesson = make_lesson("crossed", "4.2-basic")
    lesson["items"][2]["skills"] = ["1.1-basic"]
    path = write(root, lesson)
    out = run(root, "--lang", "en")
    assert f"crossed.yaml:{line_with(path, '- 1.1-basic')}: items.2.skills.0: skill '1.1-basic' is from domain 1" in out


def test_a_yaml_error_is_reported_where_it_starts(root):
    text = "id: quoted\nskills: [1.1-basic]\nduration_minutes: 10\ntitle: {vi: \"Bài học, en: Lesson}\n" + "".join(f"note{i}: x\n" for i in range(40)) + 'end: "q"\n'
    (root / "lessons" / "quoted.yaml").write_text(text)
    out = run(root, "--lang", "en")
    assert "content/lessons/quoted.yaml:4: not valid YAML" in out and "the parser noticed at line 45" in out
    assert out.count("quoted.yaml") == 1


def test_one_broken_lesson_gives_one_line_not_twenty(root):
    """The broken file says so once; questions that name it, and its repeated unknown tag, add nothing more."""
    (root / "lessons" / "broken.yaml").write_text("id: broken\nskills: [1.1-basic\n")
    (root / "eval" / "q.yaml").write_text("".join(f"- id: q{i}\n  slice: en\n  question: How {i}?\n  lessons: [broken]\n" for i in range(20)))
    lesson = make_lesson("typo", "1.1-basic", n_items=8)
    for it in lesson["items"]:
        it["skills"] = ["1.1-basics"]
    write(root, lesson)
    out = run(root, "--lang", "en")
    lines = [line for line in out.splitlines() if line.startswith("content/") and "warning:" not in line]
    assert len([line for line in lines if "broken.yaml" in line]) == 1 and "q.yaml" not in out
    typo = [line for line in lines if "typo.yaml" in line]
    assert len(typo) == 1 and "unknown skill '1.1-basics'" in typo[0] and "and 7 more times" in typo[0]


def test_every_problem_in_one_pass(root):
    """A lesson missing `correct` still has its skills, options and diacritics checked in the same run."""
    lesson = make_lesson("many", "1.2-basic")
    del lesson["items"][0]["correct"]
    lesson["items"][1]["skills"] = ["9.9-basic"]
    lesson["title"]["vi"] = "Tim kiem thong tin tren mang"
    write(root, lesson)
    fw = root / "framework.yaml"
    fw.write_text(fw.read_text().replace("{id: 5.4-basic, competence: \"5.4\"", "{id: 5.4-basic, competence: \"9.9\""))
    out = run(root, "--lang", "en")
    for expected in ("items.0.correct: required field missing", "unknown skill '9.9-basic'", "title.vi: Vietnamese text without diacritics",
                     "framework.yaml", "unknown competence '9.9'"):
        assert expected in out, expected


def test_messages_in_vietnamese_by_default_and_in_english_on_request(root):
    lesson = make_lesson("bilingual", "1.2-basic")
    del lesson["title"]["en"]
    write(root, lesson)
    assert "title.en: thiếu bản tiếng Anh (en)" in run(root) and "Tìm thấy 1 lỗi" in run(root)
    assert "title.en: missing translation (en)" in run(root, "--lang", "en")
    assert runner.invoke(app, ["content", "check", "--dir", str(root), "--lang", "fr"]).exit_code == 2


def test_near_copies_across_skills_are_warned_and_strict_fails_on_them(root):
    a, b = make_lesson("first", "1.2-basic"), make_lesson("second", "4.1-basic")
    same = {"vi": "Ứng dụng đèn pin xin quyền đọc danh bạ và tin nhắn. Bạn nên làm gì?",
            "en": "A torch app asks for permission to read your contacts and messages. What should you do?"}
    a["items"][0]["question"] = b["items"][0]["question"] = same
    write(root, a), write(root, b)
    out = run(root, "--lang", "en", code=0)
    assert "warning: items.0: 'second-1' is nearly the same as item 'first-1' of another skill" in out
    run(root, "--lang", "en", "--strict", code=1)


def test_metadata_rules(root):
    lesson = make_lesson("dated", "1.2-basic")
    lesson.update(licence="CC-BY-4.0", authors=["A"], last_reviewed="2999-01-01", sources=[{"title": "T", "url": "http://x.vn", "publisher": "P", "accessed": "2026-01-01"}])
    path = write(root, lesson)
    path.write_text(path.read_text().replace("'2999-01-01'", "2999-01-01"))
    out = run(root, "--lang", "en")
    assert "last_reviewed: 2999-01-01 is in the future" in out and "sources.0.url" in out
    lesson.update(licence="all rights reserved", last_reviewed="2026-01-01", sources=[])
    write(root, lesson)
    out = run(root, "--lang", "en")
    assert "licence: Input should be 'CC-BY-4.0'" in out


def test_stats_count_longest_keys_key_positions_and_skills_per_band(root):
    lesson = make_lesson("lengths", "1.2-basic")
    lesson["items"][0]["options"] = {"vi": ["Ngắn", "Một đáp án dài hơn hẳn", "Vừa"], "en": ["Short", "A much longer answer", "Mid"]}
    lesson["items"][0]["correct"] = 1  # strictly the longest in both languages
    write(root, lesson)
    out = runner.invoke(app, ["content", "stats", "--json", "--dir", str(root)])
    stats = json.loads(out.output)
    items = [it for les in (make_lesson("good", "1.1-basic"), lesson) for it in les["items"]]
    assert stats["items"] == len(items) == 8
    # the filler options A, B, C never have a strictly longest key; one item of eight does
    assert stats["key_longest_share"] == {"vi": 0.125, "en": 0.125}
    assert stats["key_positions"] == {f"{k} of 3": sum(1 for it in items if it["correct"] == k) for k in range(3)}
    assert stats["skills_per_band"] == {"basic": 24, "intermediate": 24, "advanced": 24, "specialised": 24}
    assert stats["skills_with_lessons"] == 2 and stats["near_duplicates"]["threshold"] == 0.34


def test_stats_count_questions_that_copy_their_lesson_per_file_and_slice(root):
    lesson = make_lesson("copied", "1.2-basic")
    lesson["sections"][1]["body"] = {"vi": "Hãy bật xác thực hai lớp cho tài khoản email của bạn.", "en": "Turn on two-step verification for your email account."}
    write(root, lesson)
    (root / "eval" / "questions-old.yaml").write_text(yaml.safe_dump([
        {"id": "q1", "slice": "vi", "question": "bật xác thực hai lớp cho tài khoản thế nào", "lessons": ["copied"]},  # 6 syllables verbatim
        {"id": "q2", "slice": "vi_nodiac", "question": "bat xac thuc hai lop o dau", "lessons": ["copied"]},  # 5, without diacritics
        {"id": "q3", "slice": "en", "question": "how do I make my mail safer", "lessons": ["copied"]},
        {"id": "q4", "slice": "en", "question": "lottery numbers", "lessons": []},  # unanswerable: not counted
    ], allow_unicode=True))
    (root / "eval" / "questions-new.yaml").write_text(yaml.safe_dump([
        {"id": "q5", "slice": "vi", "question": "mail bị hack thì bảo vệ kiểu j", "lessons": ["copied"]},
    ], allow_unicode=True))
    stats = json.loads(runner.invoke(app, ["content", "stats", "--json", "--dir", str(root)]).output)["eval_overlap"]
    assert stats["heavy_run"] == 4
    assert stats["by_file"] == {"questions-new": {"questions": 1, "heavy_share": 0.0}, "questions-old": {"questions": 3, "heavy_share": 0.667}}
    assert stats["by_slice"]["vi"] == {"questions": 2, "heavy_share": 0.5} and stats["by_slice"]["en"]["heavy_share"] == 0.0
