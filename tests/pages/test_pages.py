"""The pages through a TestClient: sign-in, scopes, CSRF, language, every learner and desk page and form."""

from __future__ import annotations

import gzip
import json
import re

from sqlalchemy import select

from tests.pages.conftest import csrf_of, sign_in_with
from tutor.pages.sessions import COOKIE
from tutor.privacy.credentials import find_client, revoke
from tutor.store.tables import AuditEntry, Event, Mastery

LESSON = "test-scams"  # a lesson of the tests' content folder (tests/conftest.py)


def test_a_page_without_a_session_says_to_sign_in_in_vietnamese_then_in_english(browser):
    page = browser.get("/learn")
    assert page.status_code == 401 and page.headers["content-type"].startswith("text/html")
    assert "Bạn chưa đăng nhập" in page.text and 'href="/signin"' in page.text and '<html lang="vi">' in page.text
    english = browser.get("/learn?lang=en")
    assert "You are not signed in" in english.text and '<html lang="en">' in english.text
    assert "tutor_lang=en" in english.headers["set-cookie"]
    assert '<html lang="en">' in browser.get("/signin").text  # the choice persists in its cookie
    assert '<html lang="vi">' in browser.get("/signin?lang=vi").text


def test_the_json_api_keeps_its_json_errors(browser):
    assert browser.get("/v1/learners/x/mastery").json()["detail"].startswith("Missing API key")
    assert browser.get("/v1/nothing-here").headers["content-type"] == "application/json"


def test_the_session_cookie_is_signed_httponly_secure_and_samesite_none(browser, page_keys):
    signed = sign_in_with(browser, page_keys["learner"])
    assert signed.status_code == 303 and signed.headers["location"] == "/learn"
    cookie = signed.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "Secure" in cookie and "SameSite=None" in cookie and "Max-Age=28" in cookie
    value = browser.cookies[COOKIE]
    browser.cookies.clear()
    browser.cookies.set(COOKIE, value[:-2] + ("00" if not value.endswith("00") else "11"))
    assert browser.get("/learn").status_code == 401  # a tampered cookie is no session


def test_sign_in_refuses_bad_keys_platform_keys_and_a_missing_csrf_token(browser, page_keys):
    assert sign_in_with(browser, "tk_nope").status_code == 401
    platform = sign_in_with(browser, page_keys["platform"])
    assert platform.status_code == 403 and "platform" in platform.text
    no_token = browser.post("/signin", data={"key": page_keys["learner"]})
    assert no_token.status_code == 403 and "CSRF" in no_token.text
    assert sign_in_with(browser, page_keys["researcher"]).headers["location"] == "/desk"


def test_scopes_keep_learners_out_of_the_desk_and_researchers_out_of_admin_pages(browser, page_keys):
    sign_in_with(browser, page_keys["learner"])
    assert browser.get("/desk").status_code == 403
    sign_in_with(browser, page_keys["researcher"])
    assert browser.get("/desk").status_code == 200 and browser.get("/desk/data").status_code == 200
    assert browser.get("/learn").status_code == 403
    refused = browser.get("/desk/keys")
    assert refused.status_code == 403 and "admin" in refused.text
    assert browser.get("/desk/audit").status_code == 403


def test_every_learner_page_renders_and_an_unknown_lesson_is_a_404_page(browser, page_keys):
    sign_in_with(browser, page_keys["learner"])
    skills = browser.get("/learn")
    assert skills.status_code == 200 and skills.text.count('<details class="competence">') == 24 and skills.text.count('class="domain"') == 6
    assert "Làm bài kiểm tra xếp lớp" in skills.text
    assert "Bạn chưa trả lời" in browser.get("/learn/next").text
    for path in ("/learn/ask", "/learn/placement", "/learn/data", f"/learn/lessons/{LESSON}"):
        assert browser.get(path).status_code == 200, path
    missing = browser.get("/learn/lessons/no-such-lesson")
    assert missing.status_code == 404 and "Không có trang này" in missing.text


def test_answering_a_lessons_items_moves_mastery_and_next_steps(browser, page_runtime, page_keys):
    sign_in_with(browser, page_keys["learner"])
    lesson_page = browser.get(f"/learn/lessons/{LESSON}")
    lesson = page_runtime.library.lessons[LESSON]
    answers = {f"item-{item.id}": str(item.correct) for item in lesson.items}
    answers[f"item-{lesson.items[0].id}"] = str((lesson.items[0].correct + 1) % 3)
    refused = browser.post(f"/learn/lessons/{LESSON}/answers", data=answers)
    assert refused.status_code == 403 and "CSRF" in refused.text
    with page_runtime.session() as s:
        assert s.scalar(select(Event)) is None  # refused forms store nothing
    result = browser.post(f"/learn/lessons/{LESSON}/answers", data={**answers, "csrf": csrf_of(lesson_page.text)})
    assert result.status_code == 200
    assert result.text.count("Đúng</strong>") == 3 and result.text.count("Sai</strong>") == 1 and "Đáp án đúng:" in result.text
    assert "▲" in result.text
    learner = page_runtime.pseudonym("learner-1")
    with page_runtime.session() as s:
        rows = s.scalars(select(Mastery).where(Mastery.learner_id == learner)).all()
        events = s.scalars(select(Event).where(Event.learner_id == learner)).all()
    assert [m.skill_id for m in rows] == ["4.2-basic"] and rows[0].n_observations == 4 and rows[0].p_mastered > page_runtime.model.params("4.2-basic").prior
    assert {e.source for e in events} == {"pages"} and len(events) == 4
    assert "4 câu trả lời" in browser.get("/learn").text
    steps = browser.get("/learn/next")
    assert '<ol class="steps">' in steps.text and "/learn/lessons/" in steps.text


def test_a_lesson_form_with_no_answer_chosen_asks_for_one(browser, page_keys):
    sign_in_with(browser, page_keys["learner"])
    page = browser.get(f"/learn/lessons/{LESSON}")
    empty = browser.post(f"/learn/lessons/{LESSON}/answers", data={"csrf": csrf_of(page.text)})
    assert empty.status_code == 422 and "Hãy chọn ít nhất một đáp án" in empty.text


def test_ask_answers_with_a_link_to_the_lesson_or_names_the_closest_lessons(browser, page_keys):
    sign_in_with(browser, page_keys["learner"])
    form = browser.get("/learn/ask?lang=en")
    reply = browser.post("/learn/ask", data={"csrf": csrf_of(form.text), "question": "word1 word2 word3 word4"})
    assert reply.status_code == 200
    assert 'class="cite" href="/learn/lessons/test-' in reply.text or ('class="closest"' in reply.text and "/learn/lessons/test-" in reply.text)
    off_topic = browser.post("/learn/ask", data={"csrf": csrf_of(form.text), "question": "zzqx"})
    assert "The lessons do not clearly answer this" in off_topic.text


def test_the_placement_quiz_runs_to_its_end_and_then_next_steps_exist(browser, page_runtime, page_keys):
    sign_in_with(browser, page_keys["learner"])
    page = browser.get("/learn/placement")
    for _ in range(page_runtime.settings.placement.max_items + 1):
        if 'name="item_id"' not in page.text:
            break
        item_id = page.text.split('name="item_id" value="')[1].split('"')[0]
        answer_id = page.text.split('name="answer_id" value="')[1].split('"')[0]
        page = browser.post("/learn/placement", data={"csrf": csrf_of(page.text), "item_id": item_id, "answer_id": answer_id, "choice": "0"})
        assert page.status_code == 200
    assert "Xong!" in page.text
    assert '<ol class="steps">' in browser.get("/learn/next").text
    assert "chỉ dành cho người mới" not in browser.get("/learn/placement").text  # a finished quiz says done, not refused


def test_my_data_downloads_the_export_and_erasure_needs_a_confirmation(browser, page_runtime, page_keys):
    sign_in_with(browser, page_keys["learner"])
    page = browser.get(f"/learn/lessons/{LESSON}")
    item = page_runtime.library.lessons[LESSON].items[0]
    browser.post(f"/learn/lessons/{LESSON}/answers", data={"csrf": csrf_of(page.text), f"item-{item.id}": "0"})
    data_page = browser.get("/learn/data")
    assert "1 sự kiện" in data_page.text
    download = browser.get("/learn/data/export.json")
    assert "attachment" in download.headers["content-disposition"]
    exported = json.loads(download.text)
    assert [e["item_id"] for e in exported["events"]] == [item.id] and exported["mastery"][0]["skill_id"] == "4.2-basic"
    ask = browser.post("/learn/data/erase", data={"csrf": csrf_of(data_page.text)})
    assert ask.status_code == 200 and "Không thể hoàn tác" in ask.text
    learner = page_runtime.pseudonym("learner-1")
    with page_runtime.session() as s:
        assert s.scalar(select(Event).where(Event.learner_id == learner)) is not None  # asking is not erasing
    assert browser.post("/learn/data/erase/confirm", data={"csrf": csrf_of(ask.text)}).status_code == 422  # no confirm=yes
    done = browser.post("/learn/data/erase/confirm", data={"csrf": csrf_of(ask.text), "confirm": "yes"})
    assert done.status_code == 200 and "Đã xoá" in done.text
    with page_runtime.session() as s:
        assert s.scalar(select(Event).where(Event.learner_id == learner)) is None
    assert browser.get("/learn").status_code == 401  # signed out (and the learner's key went with the data)


def test_a_key_revoked_after_sign_in_ends_the_session(browser, page_runtime, page_keys):
    sign_in_with(browser, page_keys["learner"])
    assert browser.get("/learn").status_code == 200
    with page_runtime.session() as s, s.begin():
        revoke(s, find_client(s, page_keys["learner"]).key_prefix)
    assert browser.get("/learn").status_code == 401


def test_activating_a_model_takes_a_confirmation_and_an_admin(browser, page_runtime, page_keys):
    sign_in_with(browser, page_keys["researcher"])
    models = browser.get("/desk")
    assert "bkt-synthetic-v1" in models.text and "Đang dùng" in models.text
    detail = browser.get("/desk/models/bkt-synthetic-v1")
    assert 'src="/desk/models/bkt-synthetic-v1/reports/synthetic/roc.png"' in detail.text and "Kích hoạt</button>" not in detail.text
    assert browser.get("/desk/models/bkt-synthetic-v1/reports/synthetic/roc.png").content.startswith(b"\x89PNG")
    assert browser.get("/desk/models/bkt-synthetic-v1/reports/synthetic/model.json").status_code == 404
    assert browser.post("/desk/models/bkt-synthetic-v1/activate", data={"csrf": csrf_of(detail.text)}).status_code == 403
    sign_in_with(browser, page_keys["admin"])
    detail = browser.get("/desk/models/bkt-synthetic-v1")
    ask = browser.post("/desk/models/bkt-synthetic-v1/activate", data={"csrf": csrf_of(detail.text)})
    assert ask.status_code == 200 and "Có, kích hoạt" in ask.text and page_runtime.model_name == "bkt-default"
    assert browser.post("/desk/models/bkt-synthetic-v1/activate/confirm", data={"confirm": "yes"}).status_code == 403  # no CSRF token
    done = browser.post("/desk/models/bkt-synthetic-v1/activate/confirm", data={"csrf": csrf_of(ask.text), "confirm": "yes"})
    assert done.status_code == 200 and "Đã kích hoạt bkt-synthetic-v1" in done.text and page_runtime.model_name == "bkt-synthetic-v1"
    with page_runtime.session() as s:
        assert s.scalars(select(AuditEntry.action)).all()[-1] == "model.activate"
    assert browser.get("/desk/models/../active").status_code == 404


def test_keys_are_created_and_revoked_from_the_desk_and_audited(browser, page_keys):
    sign_in_with(browser, page_keys["admin"])
    keys = browser.get("/desk/keys")
    bad = browser.post("/desk/keys", data={"csrf": csrf_of(keys.text), "name": "x", "scopes": "learner"})
    assert bad.status_code == 422 and "learner" in bad.text
    made = browser.post("/desk/keys", data={"csrf": csrf_of(keys.text), "name": "ops", "scopes": ["researcher"]})
    assert made.status_code == 200 and "tk_" in made.text
    prefix = made.text.split('<code class="key">tk_')[1].split("_")[0]
    revoked = browser.post(f"/desk/keys/{prefix}/revoke", data={"csrf": csrf_of(made.text)})
    assert revoked.status_code == 200 and f"Đã thu hồi khoá {prefix}" in revoked.text
    assert browser.post(f"/desk/keys/{prefix}/revoke", data={"csrf": csrf_of(made.text)}).status_code == 404
    audit = browser.get("/desk/audit")
    assert "key.create" in audit.text and "key.revoke" in audit.text and "pages.signin" in audit.text


def test_the_data_overview_charts_answers_learners_and_skips(browser, page_runtime, page_keys):
    sign_in_with(browser, page_keys["learner"])
    page = browser.get(f"/learn/lessons/{LESSON}")
    item = page_runtime.library.lessons[LESSON].items[0]
    browser.post(f"/learn/lessons/{LESSON}/answers", data={"csrf": csrf_of(page.text), f"item-{item.id}": "1"})
    sign_in_with(browser, page_keys["researcher"])
    overview = browser.get("/desk/data?lang=en")
    assert overview.text.count('<svg role="img"') == 2 and "4.2-basic" in overview.text and "<dd>1</dd>" in overview.text


def test_sign_out_needs_the_token_and_ends_the_session(browser, page_keys):
    sign_in_with(browser, page_keys["learner"])
    page = browser.get("/learn")
    assert browser.post("/signout").status_code == 403
    assert browser.post("/signout", data={"csrf": csrf_of(page.text)}, follow_redirects=False).status_code == 303
    assert browser.get("/learn").status_code == 401


def test_pages_are_compressed_and_small(browser, page_keys):
    sign_in_with(browser, page_keys["learner"])
    page = browser.get("/learn", headers={"Accept-Encoding": "gzip"})
    assert page.headers["content-encoding"] == "gzip"
    assert len(gzip.compress(page.content)) < 100_000


def test_a_page_is_one_request_its_style_and_every_icon_it_uses_inlined(browser, page_keys):
    sign_in_with(browser, page_keys["learner"])
    for path in ("/learn", "/learn/next", f"/learn/lessons/{LESSON}", "/learn/ask", "/learn/placement", "/learn/data", "/signin"):
        html = browser.get(path).text
        assert "<style>" in html and ".icon" in html and 'rel="stylesheet"' not in html, path
        assert not re.search(r'(?:src|href)="/static/', html), path
        used = set(re.findall(r'<use href="#([^"]+)"', html))
        defined = set(re.findall(r'<symbol id="([^"]+)"', html))
        assert used and used <= defined, (path, used - defined)
        ids = re.findall(r'\bid="([^"]+)"', html)
        assert len(ids) == len(set(ids)), (path, sorted(i for i in ids if ids.count(i) > 1))


def test_a_lesson_shows_the_example_for_the_learners_audience_after_its_first_section(browser, page_runtime, page_keys):
    from tests.conftest import make_lesson
    from tutor.clock import utcnow
    from tutor.content.library import Lesson
    from tutor.profiles import profile

    examples = {
        "workers": {"vi": "Anh **công nhân** đọc kỹ tin tuyển dụng.", "en": "A **factory worker** reads the job offer closely."},
        "students": {"vi": "Em học sinh ghi nguồn trong bài tập.", "en": "A pupil cites the source in homework."},
    }
    assert page_runtime.add_lesson(Lesson.model_validate({**make_lesson("page-examples", "4.2-basic"), "examples": examples})) == []
    sign_in_with(browser, page_keys["learner"])
    assert 'class="example"' not in browser.get("/learn/lessons/page-examples").text  # no audience yet
    with page_runtime.session() as s, s.begin():
        profile.write(s, page_runtime.library, page_runtime.pseudonym("learner-1"), "workers", "learner", utcnow())
    page = browser.get("/learn/lessons/page-examples").text
    assert '<section class="example" id="example" aria-labelledby="h-example">' in page
    assert "Ví dụ dành cho người lao động" in page and "Anh <strong>công nhân</strong> đọc kỹ tin tuyển dụng." in page
    assert page.index('id="section-0"') < page.index('id="example"') < page.index('id="section-1"')
    assert "Em học sinh" not in page and "A pupil" not in page
    english = browser.get("/learn/lessons/page-examples?lang=en").text
    assert "An example for workers" in english and "A <strong>factory worker</strong> reads the job offer closely." in english
