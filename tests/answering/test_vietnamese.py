"""Vietnamese text handling: NFC, tone-mark placement, typing without diacritics, đ/Đ."""

import unicodedata

import pytest

from tutor.answering.index import LessonIndex
from tutor.answering.language import detect_form
from tutor.answering.lexical import analyse
from tutor.answering.library import Page, PageSection
from tutor.answering.normalise import fold, has_diacritics, normalise, words


def test_nfc_and_nfd_give_the_same_words():
    composed = "Tiếng Việt có dấu"
    decomposed = unicodedata.normalize("NFD", composed)
    assert decomposed != composed
    assert normalise(decomposed) == normalise(composed)
    assert words(decomposed) == words(composed) == ["tiếng", "việt", "có", "dấu"]


@pytest.mark.parametrize(
    "new_style, old_style",
    [("hoà", "hòa"), ("thuỷ", "thủy"), ("khoẻ", "khỏe"), ("Hoà Bình", "Hòa Bình"), ("tuỳ chọn", "tùy chọn"), ("loà", "lòa")],
)
def test_both_tone_placements_are_one_word(new_style, old_style):
    assert normalise(new_style) == normalise(old_style)
    assert analyse(new_style, "vi") == analyse(old_style, "vi")


def test_tone_placement_leaves_other_words_alone():
    text = "Người dùng giữ quyền riêng tư, quý khách hoàn toàn yên tâm."
    assert normalise(text) == text


def test_fold_removes_every_diacritic_and_maps_d_with_stroke():
    assert fold("Điện thoại đã được bảo vệ") == "Dien thoai da duoc bao ve"
    assert fold("ĐĂNG KÝ") == "DANG KY"
    assert fold("đ") == "d" and fold("Đ") == "D"
    assert not has_diacritics("lam sao doi mat khau")
    assert has_diacritics("đổi mật khẩu")


def test_question_language_and_form():
    assert detect_form("Làm sao để đổi mật khẩu Zalo?").key == "vi"
    assert detect_form("lam sao de doi mat khau zalo").key == "vi_nodiac"
    assert detect_form("How do I change my Zalo password?").key == "en"
    assert detect_form("anything", lang="vi").key == "vi_nodiac"
    assert detect_form("Zalo VNeID", hint="vi").lang == "vi"


def _lesson(lesson_id: str, title: tuple[str, str], body: tuple[str, str]) -> Page:
    return Page(
        id=lesson_id,
        title={"vi": title[0], "en": title[1]},
        sections=(PageSection({"vi": "Phần 1", "en": "Part 1"}, {"vi": body[0], "en": body[1]}),),
    )


LESSONS = [
    _lesson(
        "passwords",
        ("Mật khẩu mạnh", "Strong passwords"),
        ("Đặt mật khẩu dài ít nhất mười hai ký tự và không dùng ngày sinh.", "Use at least twelve characters and never your birthday."),
    ),
    _lesson(
        "water-bill",
        ("Thanh toán tiền nước", "Paying the water bill"),
        ("Công ty cấp nước Hoà Bình nhận thanh toán hoá đơn tiền nước qua ứng dụng ngân hàng.", "The Hoa Binh water company takes bill payments in banking apps."),
    ),
    _lesson(
        "scams",
        ("Nhận biết lừa đảo", "Spotting scams"),
        ("Tin nhắn giả danh ngân hàng thường có đường link lạ; đừng bấm vào.", "Fake bank messages often carry a strange link; do not tap it."),
    ),
]


@pytest.fixture(scope="module")
def lexical_index():
    return LessonIndex.build(LESSONS, encoder=None, cache_dir=None)


def _top_lesson(index, question, lang=None):
    r = index.search(question, lang=lang, method="bm25")
    return index.passages[r.passages[0]].lesson_id


def test_question_without_diacritics_finds_passage_with_them(lexical_index):
    assert _top_lesson(lexical_index, "lam sao dat mat khau manh") == "passwords"
    assert _top_lesson(lexical_index, "tin nhan gia danh ngan hang") == "scams"
    assert _top_lesson(lexical_index, "DONG TIEN NUOC O DAU") == "water-bill"


def test_other_tone_placement_in_question_finds_passage(lexical_index):
    # the lesson writes "Hoà Bình" and "hoá đơn" (new style); the learner types the old style
    assert _top_lesson(lexical_index, "hóa đơn nước Hòa Bình") == "water-bill"


def test_d_with_stroke_typed_as_d_matches(lexical_index):
    # "đường link" typed as "duong link", "đừng" as "dung"
    assert _top_lesson(lexical_index, "duong link la dung bam") == "scams"


def test_diacritics_are_restored_from_the_library_spelling(lexical_index):
    restorer = lexical_index.restorer
    assert restorer.restore("dat mat khau manh") == "đặt mật khẩu mạnh"
    assert restorer.restore("TIN NHAN gia danh ngan hang") == "tin nhắn giả danh ngân hàng"
    # a word the library never wrote stays as typed
    assert restorer.restore("mat khau xyzabc") == "mật khẩu xyzabc"
