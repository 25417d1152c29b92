"""Lesson retrieval and question answering on a tiny hand-made library (real e5-small encoder, offline).

The lessons are ``Page`` documents: a real ``Lesson`` needs objectives, items and 300 words, and
cannot be written in English alone (tests/answering/test_questions_api.py indexes real ones).
"""

import json
from dataclasses import replace
from pathlib import Path

import pytest
import typer
from pydantic import TypeAdapter
from typer.testing import CliRunner

from tutor.answering.answer import Answer, HelpDesk
from tutor.answering.calibration import Calibration
from tutor.answering.cli import register
from tutor.answering.encoders import get_encoder
from tutor.answering.index import IndexSettings, LessonIndex
from tutor.answering.library import Page, PageSection, load_squad
from tutor.answering.passages import chunk_text, split_lesson

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def pair(vi, en):
    return {"vi": vi, "en": en}


def lesson(lesson_id, title, sections, skills=("4.1-basic",)):
    """A bilingual page; a language whose title and bodies are all empty is not written."""
    sections = tuple(PageSection(pair(*h), pair(*b)) for h, b in sections)
    return Page(id=lesson_id, title=pair(*title), sections=sections, skills=tuple(skills))


PASSWORDS = lesson(
    "strong-passwords",
    ("Mật khẩu mạnh", "Strong passwords"),
    [
        (
            ("Mật khẩu mạnh là gì", "What a strong password is"),
            (
                "Mật khẩu mạnh dài ít nhất 12 ký tự. Nên ghép ba bốn từ dễ nhớ thành một câu. "
                "Không dùng ngày sinh hay số điện thoại làm mật khẩu.",
                "A strong password has at least 12 characters. Join three or four easy words into a phrase. "
                "Never use your birthday or phone number as a password.",
            ),
        ),
        (
            ("Xác thực hai lớp", "Two-step sign-in"),
            (
                "Bật xác thực hai lớp: ngoài mật khẩu, ứng dụng gửi thêm một mã qua tin nhắn. "
                "Không đọc mã này cho bất kỳ ai.",
                "Turn on two-step sign-in: besides the password, the app sends a code by text message. "
                "Never read this code to anyone.",
            ),
        ),
    ],
    skills=("4.1-intermediate",),
)

SCAMS = lesson(
    "spotting-scams",
    ("Nhận biết lừa đảo qua tin nhắn", "Spotting text-message scams"),
    [
        (
            ("Dấu hiệu tin nhắn lừa đảo", "Signs of a scam message"),
            (
                "Tin nhắn giả danh ngân hàng thường hối thúc bạn bấm vào một đường link lạ để khoá tài khoản. "
                "Ngân hàng không bao giờ yêu cầu bạn gửi mã OTP.",
                "Messages pretending to be your bank push you to tap a strange link or your account will be locked. "
                "Banks never ask you to send your OTP code.",
            ),
        ),
        (
            ("Khi đã lỡ bấm", "If you already tapped"),
            (
                "Gọi ngay số tổng đài in trên thẻ ngân hàng để khoá thẻ. Đổi mật khẩu ứng dụng ngân hàng.",
                "Call the hotline printed on your bank card at once to block the card. Change your banking app password.",
            ),
        ),
    ],
    skills=("4.1-basic",),
)

VIDEO_CALLS = lesson(
    "video-calls",
    ("Gọi video cho người thân", "Video calls with family"),
    [
        (
            ("Bắt đầu cuộc gọi", "Starting a call"),
            (
                "Mở Zalo, chọn tên người thân rồi bấm biểu tượng máy quay để gọi video.",
                "Open Zalo, choose your relative's name and tap the camera icon to start a video call.",
            ),
        ),
        (
            ("Kết thúc cuộc gọi", "Ending a call"),
            ("Bấm nút đỏ để kết thúc cuộc gọi.", "Tap the red button to end the call."),
        ),
    ],
    skills=("2.1-basic",),
)

# Thresholds for this tiny library, set by hand in the tests (the shipped calibration.json is
# measured on the real library; see test_shipped_calibration_abstains_on_unrelated_question).
TEST_CAL = Calibration(encoder="e5-small-q4", w_dense={"*": 0.6}, threshold={"*": 0.55, "cross:*": 0.80})


@pytest.fixture(scope="module")
def encoder():
    return get_encoder("e5-small")


@pytest.fixture(scope="module")
def desk(encoder, tmp_path_factory):
    cache = tmp_path_factory.mktemp("index-cache")
    index = LessonIndex.build([PASSWORDS, SCAMS, VIDEO_CALLS], encoder, cache_dir=cache)
    return HelpDesk(index)


def test_passages_stay_within_sections_and_are_bounded():
    ps = split_lesson(PASSWORDS, max_words=10, overlap_words=4)
    assert {p.lang for p in ps} == {"vi", "en"}
    assert all(len(p.text.split()) <= 10 for p in ps)
    assert {p.section for p in ps} == {0, 1}
    pieces = chunk_text("One two three four five. Six seven eight nine ten. Eleven twelve.", max_words=10, overlap_words=5)
    assert pieces[0].startswith("One") and pieces[1].startswith("Six")  # overlap by a whole sentence


@pytest.mark.parametrize(
    "question, expected",
    [
        ("Mật khẩu mạnh cần bao nhiêu ký tự?", "strong-passwords"),
        ("mat khau manh can bao nhieu ky tu", "strong-passwords"),
        ("How long should a strong password be?", "strong-passwords"),
        ("tin nhan ngan hang bao bam link co phai lua dao khong", "spotting-scams"),
        ("Làm sao để gọi video cho con qua Zalo?", "video-calls"),
    ],
)
def test_finds_the_lesson_that_answers(desk, question, expected):
    a = desk.ask(question)
    assert a.lessons[0].lesson_id == expected
    assert a.passages[0].lesson_id == expected


def test_answer_is_extracted_sentence_in_learners_language(desk):
    a = desk.ask("Mật khẩu mạnh cần bao nhiêu ký tự?")
    assert a.answered
    assert a.question_form == "vi" and a.answer_lang == "vi"
    assert "12 ký tự" in a.answer
    assert a.answer in a.source.text  # quoted, not generated
    e = desk.ask("How many characters should a strong password have?")
    assert e.answer_lang == "en" and "12 characters" in e.answer


def test_result_is_pydantic_and_json_friendly(desk):
    a = desk.ask("lam sao goi video")
    d = a.to_dict()
    json.dumps(d, ensure_ascii=False)
    again = TypeAdapter(Answer).validate_python(d)
    assert again.question == a.question and again.lessons[0].lesson_id == a.lessons[0].lesson_id


def test_current_lesson_and_weak_skills_break_ties(encoder, tmp_path):
    twin = replace(SCAMS, id="spotting-scams-copy", skills=("4.2-basic",))
    index = LessonIndex.build([SCAMS, twin, PASSWORDS], encoder, cache_dir=tmp_path)
    desk = HelpDesk(index)
    q = "tin nhắn giả danh ngân hàng"
    assert desk.ask(q, current_lesson="spotting-scams-copy").lessons[0].lesson_id == "spotting-scams-copy"
    assert desk.ask(q, current_lesson="spotting-scams").lessons[0].lesson_id == "spotting-scams"
    assert desk.ask(q, weak_skills=["4.2-basic"]).lessons[0].lesson_id == "spotting-scams-copy"
    # a bonus never lifts an unrelated lesson over a clear match
    assert desk.ask(q, current_lesson="strong-passwords").lessons[0].lesson_id != "strong-passwords"


def test_lesson_added_at_run_time_is_found_at_once(desk):
    q = "Làm sao để hẹn lịch khám bệnh trực tuyến ở bệnh viện?"
    before = desk.ask(q)
    assert before.lessons[0].lesson_id != "booking-appointments"
    new = lesson(
        "booking-appointments",
        ("Đặt lịch khám bệnh trực tuyến", "Booking a hospital appointment online"),
        [
            (
                ("Đặt lịch khám", "Booking"),
                (
                    "Để hẹn lịch khám bệnh trực tuyến, mở trang web hoặc ứng dụng chính thức của bệnh viện, chọn khoa, ngày và giờ khám.",
                    "To book a hospital appointment online, open the hospital's official website or app and choose the department, day and time.",
                ),
            ),
            (("Mang theo", "What to bring"), ("Mang theo căn cước công dân.", "Bring your citizen ID card.")),
        ],
    )
    stats = desk.add_or_replace_lesson(new)
    assert stats["embedded"] > 0
    after = desk.ask(q)
    assert after.lessons[0].lesson_id == "booking-appointments"
    assert after.answered and "hẹn lịch khám" in after.answer
    # replacing it: the old text is gone, the new one is found
    renamed = replace(new, title=pair("Đặt lịch tiêm chủng", "Booking a vaccination"))
    desk.add_or_replace_lesson(renamed)
    ids = [p.lesson_id for p in desk.index.passages]
    assert ids.count("booking-appointments") == len(split_lesson(renamed))
    assert desk.index.lessons["booking-appointments"]["titles"]["vi"] == "Đặt lịch tiêm chủng"


def test_english_passage_answers_when_no_vietnamese_one_does(encoder, tmp_path):
    english_only = lesson(
        "printer-setup",
        ("", "Connecting a printer"),
        [
            (("", "Wi-Fi printers"), ("", "To print from your phone, connect the printer and the phone to the same Wi-Fi network, then choose Print in the share menu.")),
            (("", "Paper jams"), ("", "Open the cover gently and pull the jammed paper out slowly.")),
        ],
    )
    assert {p.lang for p in split_lesson(english_only)} == {"en"}
    index = LessonIndex.build([PASSWORDS, VIDEO_CALLS, english_only], encoder, cache_dir=tmp_path, calibration=TEST_CAL)
    a = HelpDesk(index).ask("Làm sao để in tài liệu từ điện thoại qua máy in wifi?", lang="vi")
    assert a.question_lang == "vi"
    assert a.answered and a.source.lesson_id == "printer-setup"
    assert a.answer_lang == "en" and a.source.lang == "en"


def test_abstains_on_unrelated_question_with_closest_lessons(desk):
    a = desk.ask("Giá vàng SJC hôm nay bao nhiêu một lượng?")
    assert not a.answered
    assert a.answer is None and a.source is None
    assert a.lessons and a.evidence < a.threshold
    b = desk.ask("What is the boiling point of mercury in kelvin?")
    assert not b.answered and b.lessons


def test_index_cache_is_reused(encoder, tmp_path):
    first = LessonIndex.build([PASSWORDS, SCAMS], encoder, cache_dir=tmp_path)
    assert first.build_stats["embedded"] > 0
    again = LessonIndex.build([PASSWORDS, SCAMS], encoder, cache_dir=tmp_path)
    assert again.build_stats["embedded"] == 0 and again.build_stats["cache_hit"]
    assert again.content_hash == first.content_hash
    # one lesson edited: only its passages are embedded again
    edited = replace(SCAMS, title=pair("Lừa đảo qua tin nhắn", "Text-message scams"))
    third = LessonIndex.build([PASSWORDS, edited], encoder, cache_dir=tmp_path)
    assert 0 < third.build_stats["embedded"] < first.build_stats["embedded"]
    assert third.content_hash != first.content_hash


def test_squad_eval_command_on_a_tiny_file(tmp_path):
    squad = {
        "version": "1.1",
        "data": [
            {
                "title": "T",
                "paragraphs": [
                    {"context": "The Nile is the longest river in Africa.", "qas": [{"id": "q1", "question": "Which river is longest in Africa?", "answers": []}]},
                    {"context": "Mount Fuji is the highest mountain in Japan.", "qas": [{"id": "q2", "question": "What is Japan's highest mountain?", "answers": []}]},
                ],
            }
        ],
    }
    path = tmp_path / "tiny.en.json"
    path.write_text(json.dumps(squad))
    app = typer.Typer()
    register(app)  # the commands as tutor/cli.py adds them
    result = CliRunner().invoke(app, ["retrieval-eval", "--squad", str(path), "--method", "bm25", "--k", "10"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output.strip().splitlines()[-1])
    assert {"recall_at_1", "recall_at_5", "mrr_at_10", "n_questions", "p50_ms", "p95_ms"} <= set(out)
    assert out["n_questions"] == 2 and out["recall_at_1"] == 1.0


@pytest.mark.skipif(not (DATA / "xquad" / "xquad.en.json").exists(), reason=f"XQuAD not found at {DATA / 'xquad'} (../shared/data from the project root)")
def test_xquad_bm25_subset():
    ss = load_squad(DATA / "xquad" / "xquad.en.json")
    paragraphs = ss.paragraphs[:40]
    keep = {x.id for x in paragraphs}
    questions = [q for q in ss.questions if q.lessons[0] in keep]
    index = LessonIndex.build(paragraphs, None, IndexSettings(languages=(ss.lang,)), cache_dir=None)
    hits = 0
    for q in questions:
        r = index.search(q.question, lang="en", method="bm25", k=20)
        top5 = [lid for lid, _ in index.rank_lessons(r)[:5]]
        hits += q.lessons[0] in top5
    assert hits / len(questions) >= 0.95
