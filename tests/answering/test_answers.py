"""Answers that answer: the whole list of steps for "how", a hint instead of a quiz key, "not in the lessons"
for a near miss, and the units an answer is made of (sentences, list items, quotations).

Most tests use a small hand-made lesson and the words-only index (``bm25``: no model to load); the near
miss is asked of the real library with the shipped encoder and calibration, as a learner would."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tutor.answering.answer import Candidate, Composed, HelpDesk, answers_near_miss
from tutor.answering.calibration import Calibration
from tutor.answering.compose import FEATURES, asks_for, gives, is_cut, plain, question_kind, section_units, spans
from tutor.answering.normalise import fold
from tutor.answering.passages import is_list_item, sentences
from tutor.answering.quality import coverage, key_point_covered
from tutor.answering.spanvectors import SpanVectors
from tutor.content.library import Lesson, load_library
from tutor.settings import PROJECT_ROOT


def pair(vi: str, en: str) -> dict:
    return {"vi": vi, "en": en}


STEPS_VI = (
    "Cổng Dịch vụ công quốc gia là nơi nộp hồ sơ trực tuyến. Ví dụ: đăng ký khai sinh cho con.\n\n"
    "Cách đăng nhập bằng VNeID:\n\n"
    "1. Mở dichvucong.gov.vn, bấm Đăng nhập.\n"
    "2. Chọn đăng nhập bằng tài khoản định danh điện tử VNeID.\n"
    "3. Nhập số định danh cá nhân và mật khẩu.\n"
    "4. Xác nhận trên ứng dụng VNeID.\n\n"
    'Kẻ gian hay nhắn: "Hồ sơ của bạn bị lỗi. Bấm link để sửa." Đó là lừa đảo, đừng bấm.'
)
STEPS_EN = (
    "The National Public Service Portal is where you apply online. For example, registering a birth.\n\n"
    "How to sign in with VNeID:\n\n"
    "1. Open dichvucong.gov.vn and tap Sign in.\n"
    "2. Choose to sign in with a VNeID electronic identification account.\n"
    "3. Enter your personal identification number and password.\n"
    "4. Confirm in the VNeID app.\n\n"
    'Criminals often write: "Your application has an error. Tap the link to fix it." That is a scam, do not tap.'
)
KEY_VI = "Tên chủ tài khoản hiện trên ứng dụng ngân hàng"
KEY_EN = "The account holder's name shown in the banking app"


def portal_lesson() -> Lesson:
    words = " ".join(["chữ"] * 300)
    item = {
        "skills": ["2.3-basic"], "difficulty": 0.4, "explanation": pair("Vì tên người nhận cho biết tiền đi đâu.", "Because the name shows where the money goes."),
    }
    return Lesson.model_validate({
        "id": "portal", "skills": ["2.3-basic"], "duration_minutes": 10, "title": pair("Dịch vụ công trực tuyến", "Online public services"),
        "objectives": pair(["Đăng nhập cổng dịch vụ công"], ["Sign in to the public service portal"]),
        "sections": [
            {"heading": pair("Đăng nhập", "Signing in"), "body": pair(STEPS_VI, STEPS_EN)},
            {"heading": pair("Trả phí bằng mã QR", "Paying by QR code"), "body": pair(
                "Khi trả phí bằng mã QR, ứng dụng ngân hàng hiện tên chủ tài khoản. Hãy đọc kỹ tên đó trước khi xác nhận. " + words,
                "When you pay a fee by QR code, the banking app shows the account holder's name. Read it carefully before you confirm. " + words)},
        ],
        "items": [
            dict(item, id="portal-1", correct=1,
                 question=pair("Trước khi xác nhận trả phí bằng mã QR, bạn cần kiểm tra điều gì?", "Before confirming a QR payment, what should you check?"),
                 options={"vi": ["Màu của mã QR", KEY_VI, "Giờ trong ngày"], "en": ["The colour of the QR code", KEY_EN, "The time of day"]}),
            *[dict(item, id=f"portal-{k}", correct=0, question=pair(f"Câu hỏi số {k} về cổng?", f"Question number {k} about the portal?"),
                   options=pair(["Có", "Không"], ["Yes", "No"])) for k in (2, 3, 4)],
        ],
    })


@pytest.fixture(scope="module")
def desk() -> HelpDesk:
    d = HelpDesk.build([portal_lesson()], encoder="bm25")
    d.index.calibration = Calibration(encoder="bm25", threshold={"*": 0.0})  # one lesson: every question is about it
    return d


def test_a_numbered_step_is_one_unit_with_its_number():
    assert sentences("Cách làm:\n1. Mở ứng dụng. Chọn Cài đặt.\n2. Bấm Lưu.") == ["Cách làm:", "1. Mở ứng dụng. Chọn Cài đặt.", "2. Bấm Lưu."]
    assert sentences("Trước đó:\n10) Mục mười.\n- Gạch đầu dòng.") == ["Trước đó:", "10) Mục mười.", "- Gạch đầu dòng."]
    assert is_list_item("1. Mở ứng dụng") and is_list_item("- a") and is_list_item("12) b")
    assert not is_list_item("1.5 triệu đồng") and not is_list_item("2025 là năm")


def test_a_quotation_is_never_split():
    assert sentences('Kẻ gian nói: "Tài khoản bị khóa. Bấm link ngay." Đó là lừa đảo.') == [
        'Kẻ gian nói: "Tài khoản bị khóa. Bấm link ngay."', "Đó là lừa đảo."]
    assert sentences("Họ viết “Trúng thưởng! Nộp phí.” rồi chờ.") == ["Họ viết “Trúng thưởng! Nộp phí.” rồi chờ."]


@pytest.mark.parametrize("question, kind", [
    ("Làm sao đăng nhập dịch vụ công bằng VNeID?", "how"), ("lam the nao de dang nhap dich vu cong", "how"), ("How do I sign in?", "how"),
    ("Dấu chân số là gì?", "what"), ("dau chan so la gi", "what"), ("What is a digital footprint?", "what"),
    ("Tại sao phải bật xác thực hai lớp?", "why"), ("vi sao phai bat xac thuc hai lop", "why"), ("Why turn on two-factor sign-in?", "why"),
    ("Tải VNeID ở đâu?", "where"), ("tai vneid o dau", "where"), ("Where do I download VNeID?", "where"),
    ("Có nên chia sẻ mật khẩu không?", "whether"), ("co nen chia se mat khau khong", "whether"), ("Should I share my password?", "whether"),
    ("Lỡ bấm link lạ thì phải làm gì?", "todo"), ("lo bam link la thi phai lam gi", "todo"), ("I tapped a strange link, what should I do?", "todo"),
])
def test_question_kinds_in_each_language_and_form(question, kind):
    assert question_kind(question) == kind


def test_expected_answer_types():
    assert asks_for("Lệ phí cấp phiếu lý lịch tư pháp là bao nhiêu?") == "amount"
    assert asks_for("so tong dai ho tro vneid la so may") == "phone"
    assert asks_for("I forgot my VNeID password, how do I reset it?") == "recovery"
    assert asks_for("How long does a birth registration take?") == "duration"
    assert asks_for("Làm sao đăng nhập VNeID?") is None


def test_a_how_question_gets_the_whole_list_of_steps(desk):
    steps_vi = [ln for ln in STEPS_VI.split("\n") if ln[:1].isdigit()]
    for question in ("Làm sao đăng nhập cổng dịch vụ công bằng VNeID?", "lam sao dang nhap cong dich vu cong bang vneid"):
        a = desk.ask(question)
        assert a.answered and a.mode == "answer" and a.question_kind == "how", question
        assert a.answer.startswith("Cách đăng nhập bằng VNeID:") and all(step in a.answer for step in steps_vi), a.answer
        assert not is_cut(a.answer) and a.source.link == "/learn/lessons/portal#section-0"
    e = desk.ask("How do I sign in to the public service portal with VNeID?")
    assert e.answer_lang == "en" and e.answer.count("\n") == 4 and "4. Confirm in the VNeID app." in e.answer


def test_a_what_question_gets_the_definition_and_its_example(desk):
    a = desk.ask("Cổng Dịch vụ công quốc gia là gì?")
    assert a.question_kind == "what" and a.answer.startswith("Cổng Dịch vụ công quốc gia là nơi nộp hồ sơ trực tuyến.")
    assert "Ví dụ" in a.answer and not is_cut(a.answer)


def test_units_never_cut_a_list_a_sentence_or_a_quotation():
    units = section_units(STEPS_VI)
    for span in spans(units):
        assert not is_cut(span.text), span.text
        numbered = [u for u in span.units if units[u].numbered]
        assert not numbered or len(numbered) == 4  # a list of steps is only ever taken whole
    assert is_cut("Cách làm:") and is_cut("1. Mở.\n3. Bấm.") and is_cut('Họ nói: "Bấm link') and is_cut("Mở ứng dụng rồi")


def test_a_sentence_ending_in_a_colon_never_ends_an_answer():
    """The cut answer of the 74-lesson library: "..., ví dụ:" quoted without the example it announces."""
    body = ('Tệp tên "final2.docx" gây lẫn lộn. Hãy thống nhất một quy tắc đặt tên, ví dụ:\n\n2026-03-15_BaoCao_v02.docx\n\n'
            "- Ngày viết theo kiểu năm-tháng-ngày.\n- Số phiên bản có hai chữ số.\n\nGhi chú mỗi lần sửa lớn.")
    texts = [sp.text for sp in spans(section_units(body))]
    assert texts and not any(is_cut(t) for t in texts)
    assert not any(t.rstrip().endswith(":") for t in texts)
    assert "Hãy thống nhất một quy tắc đặt tên, ví dụ:\n2026-03-15_BaoCao_v02.docx" in texts  # the example comes with it
    assert is_cut("Ví dụ:") and not is_cut("Ví dụ:\nbaocao_v02.docx") and is_cut("Xem tệp baocao_v02.docx")


def test_a_question_asking_a_number_wants_a_span_that_holds_one():
    assert asks_for("mat khau dai bao nhieu ky tu") == "quantity" and asks_for("Dung lượng miễn phí của Zalo Cloud là bao nhiêu?") == "quantity"
    assert gives("quantity", plain("Mật khẩu mạnh dài ít nhất 12 ký tự.")) and not gives("quantity", plain("1. Mở ứng dụng.\n2. Bấm Lưu."))
    # folded "dong" is also "đóng" (close) and "động": not a sum of money
    assert gives("amount", plain("Lệ phí 20.000 đồng.")) and gives("amount", plain("Hoàn toàn miễn phí."))
    assert not gives("amount", plain("Bấm nút đóng để tự động lưu."))
    # "chưa quen" (not used to) is not "quên" (forgot): no way to recover a password
    assert not gives("recovery", plain("Cha mẹ, ông bà chưa quen có thể nhờ con cháu hướng dẫn.")) and gives("recovery", plain("Bấm Quên mật khẩu để đặt lại."))
    # a year or a decree's number is not a phone number; a hotline is
    assert not gives("phone", plain("Theo Nghị định 69/2024/NĐ-CP, từ ngày 1/7/2024 trẻ em có tài khoản riêng."))
    assert gives("phone", plain("Gọi tổng đài 156.")) and gives("phone", plain("Nhắn tin tới 5656.")) and gives("phone", plain("Gọi 1900 9068."))


def test_a_span_without_the_fact_asked_is_never_an_answer_whatever_the_model_says():
    sure = Calibration(encoder="e5", answerable={"intercept": 10.0})  # a model that would answer anything
    span = Composed("Đăng ký tài khoản mức 2 tại công an xã.", "vneid", 0, "vi", "sentence", 0.9, 1.0, [0.9] * len(FEATURES), 9)
    assert answers_near_miss(sure, span, 0.1)
    span.lacks_type = True  # e.g. the question asked the fee and the span gives none
    assert not answers_near_miss(sure, span, 0.1)
    doubtful = Calibration(encoder="e5", answerable={"intercept": -1.0, "cosine": 1.0})
    span.lacks_type, span.cosine = False, 0.5
    assert not answers_near_miss(doubtful, span, 0.1)
    span.cosine = 1.5
    assert answers_near_miss(doubtful, span, 0.1)


class _Letters:
    """A toy encoder: a text's vector counts its letters a-z (so "similar" means "spelled alike")."""

    name, dim = "letters", 26

    def _vec(self, text: str) -> np.ndarray:
        v = np.zeros(26, np.float32)
        for ch in fold(text).lower():
            if "a" <= ch <= "z":
                v[ord(ch) - 97] += 1
        return v / max(float(np.linalg.norm(v)), 1e-9)

    def queries(self, texts):
        return np.stack([self._vec(t) for t in texts])

    def passages(self, texts, batch_size=16, progress=None):
        if progress:
            progress(len(texts))
        return np.stack([self._vec(t) for t in texts])


def test_span_vectors_are_cached_and_a_span_without_one_gets_its_passage_cosine(tmp_path):
    enc = _Letters()
    first = SpanVectors.build(["Bấm nút đỏ.", "Mở Zalo."], enc, tmp_path)
    assert len(first) == 2 and list((tmp_path / "letters").glob("spans-*.npz"))
    again = SpanVectors.build(["Bấm nút đỏ.", "Một câu mới."], enc, tmp_path, embed=False)  # from the cache only
    assert again.get("Bấm nút đỏ.") is not None and again.get("Một câu mới.") is None
    np.testing.assert_allclose(again.get("Bấm nút đỏ."), enc.passages(["Bấm nút đỏ."])[0])
    desk = HelpDesk.build([portal_lesson()], encoder="bm25")
    composer = desk.composer
    composer.span_vectors = SpanVectors.build(composer.all_spans()[:3], enc, None)  # the other spans have no vector
    q = enc.queries(["đăng nhập"])[0]
    cos = composer.span_cosines("portal", 0, "vi", q, fallback=-0.5)
    n = len(composer.spans_of("portal", 0, "vi"))
    assert len(cos) == n and (cos[:3] > 0).all() and (cos[3:] == -0.5).all()


def test_the_span_closest_in_meaning_wins_when_words_tie(desk):
    """With weight on the span cosine alone, the span the encoder finds closest to the question is chosen."""
    enc = _Letters()
    composer = desk.composer
    saved = composer.span_vectors
    try:
        composer.span_vectors = SpanVectors.build(composer.all_spans(), enc, None)
        passage = next(i for i, p in enumerate(desk.index.passages) if p.lang == "vi" and p.section == 0)
        question = "Kẻ gian hay nhắn hồ sơ bị lỗi"
        out = composer.compose(question, "vi", "fact", [Candidate(passage, 1.0, 0.5)], {"span_cosine": 1.0}, enc.queries([question])[0])
        best = max(out, key=lambda c: c.cosine)
        assert out[0].text == best.text and out[0].features[FEATURES.index("span_cosine")] == 0.0
        assert all(c.features[FEATURES.index("span_cosine")] <= 0.0 for c in out)
    finally:
        composer.span_vectors = saved


def test_a_quiz_question_of_the_current_lesson_gets_a_hint_not_the_key(desk):
    for question in ("Trước khi xác nhận trả phí bằng mã QR, bạn cần kiểm tra điều gì?", "truoc khi xac nhan tra phi bang ma qr can kiem tra gi"):
        a = desk.ask(question, current_lesson="portal")
        assert a.mode == "hint" and a.quiz_item == "portal-1" and a.answer is None, question
        assert "Trả phí bằng mã QR" in a.hint and a.source.section == 1 and a.source.link.endswith("#section-1")
        shown = json.dumps(a.to_dict(), ensure_ascii=False).lower()
        assert KEY_VI.lower() not in shown and "tên chủ tài khoản" not in shown and "vì tên người nhận" not in shown
    e = desk.ask("Before confirming a QR payment, what should you check?", placement=True)
    assert e.mode == "hint" and KEY_EN.lower() not in json.dumps(e.to_dict()).lower() and "account holder" not in e.to_dict()["hint"]
    # outside a test the same question is simply answered
    free = desk.ask("Trước khi xác nhận trả phí bằng mã QR, bạn cần kiểm tra điều gì?")
    assert free.mode == "answer" and "tên chủ tài khoản" in free.answer


def test_key_points_are_matched_on_words_without_diacritics():
    assert key_point_covered("Hãy gõ site:gov.vn vào ô tìm kiếm.", "site:gov.vn", "vi")
    assert key_point_covered("Mat khau manh dai it nhat 12 ky tu.", "dài ít nhất 12 ký tự", "vi")
    assert not key_point_covered("Mật khẩu mạnh.", "dài ít nhất 12 ký tự", "vi")
    assert coverage(None, ["a"], "en") == 0.0 and coverage("Turn off the flash.", ["Turn the flash off", "tap to focus"], "en") == 0.5


@pytest.fixture(scope="module")
def library_desk(tmp_path_factory) -> HelpDesk:
    """The shipped library, encoder and calibration; the shipped vectors (and a developer's own, from
    `tutor index build`: vectors are keyed by their text) make this seconds, not minutes."""
    cache = tmp_path_factory.mktemp("index-cache")
    for kept in (PROJECT_ROOT / "models" / "index-cache", PROJECT_ROOT / "var" / "index-cache"):
        if kept.is_dir():
            shutil.copytree(kept, cache, dirs_exist_ok=True)
    library = load_library(PROJECT_ROOT / "content")
    return HelpDesk.build(library.lessons.values(), "e5-small", cache_dir=Path(cache))


@pytest.mark.parametrize("question", ["Quên mật khẩu VNeID thì lấy lại thế nào?", "phi dang ky tai khoan dinh danh muc 2 la bao nhieu",
                                      "What is the phone number of the VNeID support hotline?"])
def test_a_near_miss_is_not_in_the_lessons(library_desk, question):
    a = library_desk.ask(question)
    assert not a.answered and a.mode == "not_in_lessons" and a.answer is None, (question, a.answer)
    assert "vneid-basics" in [lesson.lesson_id for lesson in a.lessons]


def test_a_near_miss_names_where_the_lesson_says_to_ask(library_desk):
    a = library_desk.ask("Quên mật khẩu VNeID thì lấy lại thế nào?")
    # vneid-basics and residence-notification-vneid both send the learner to the commune police
    assert a.official_channel is not None and a.official_channel.lesson_id in ("vneid-basics", "residence-notification-vneid")
    assert "công an" in a.official_channel.text


def test_the_real_library_answers_a_how_question_with_its_steps(library_desk):
    a = library_desk.ask("lam sao dang nhap dich vu cong bang tai khoan vneid")
    assert a.answered and a.question_kind == "how" and not is_cut(a.answer)
    assert a.answer.count("\n") >= 2 and "1. " in a.answer and "3. " in a.answer
