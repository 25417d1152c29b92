"""POST /v1/ask through the service: validation, scopes, citing a lesson, abstaining, new lessons at once."""

from __future__ import annotations

import pytest

from tests.conftest import auth, make_lesson


@pytest.fixture
def sqlite_only(database_url):
    if not database_url.startswith("sqlite"):
        pytest.skip("the question route reads no learner tables beyond mastery; one store is enough here")


def test_bad_questions_are_refused_with_a_message(sqlite_only, client, keys):
    h = auth(keys["platform"])
    for body, needle in (({"question": ""}, "at least 1"), ({"question": "   "}, "empty"), ({"question": "x" * 1001}, "at most 1000"),
                         ({"question": "ok", "lang": "fr"}, "'vi' or 'en'"), ({"question": "ok", "current_lesson": "nope"}, "not a lesson")):
        r = client.post("/v1/ask", json=body, headers=h)
        assert r.status_code == 422 and needle in r.text, (body, r.text)
    assert client.post("/v1/ask", json={"question": "hi"}, headers=auth(keys["researcher"])).status_code == 403
    r = client.post("/v1/ask", json={"question": "hi", "learner_id": "someone-else"}, headers=auth(keys["learner"]))
    assert r.status_code == 403


def test_answers_cite_a_lesson_and_new_lessons_are_found_at_once(sqlite_only, client, keys):
    lesson = make_lesson("qr-payments", "4.2-intermediate")
    lesson["sections"][1]["body"] = {
        "vi": "Trước khi chuyển tiền bằng mã QR, hãy kiểm tra tên người nhận hiện trên ứng dụng ngân hàng.",
        "en": "Before paying with a QR code, check the recipient's name that your banking app shows.",
    }
    lesson.update(licence="CC-BY-4.0", authors=["Tổ biên soạn"], last_reviewed="2026-11-30",  # a new lesson carries its metadata
                  sources=[{"title": "Ngân hàng Nhà nước", "url": "https://sbv.gov.vn", "publisher": "Ngân hàng Nhà nước Việt Nam", "accessed": "2026-11-30"}])
    assert client.post("/v1/content/lessons", json=lesson, headers=auth(keys["admin"])).status_code == 200
    r = client.post("/v1/ask", json={"question": "What should I check before paying with a QR code?", "learner_id": "learner-1"},
                    headers=auth(keys["learner"]))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["answered"] and body["source"]["lesson_id"] == "qr-payments" and "recipient" in body["answer"]
    assert body["question_form"] == "en" and body["lessons"][0]["lesson_id"] == "qr-payments"
    r = client.post("/v1/ask", json={"question": "truoc khi chuyen tien bang ma QR can kiem tra gi"}, headers=auth(keys["platform"]))
    assert r.json()["answered"] and r.json()["source"]["lesson_id"] == "qr-payments" and r.json()["answer_lang"] == "vi"
    off_topic = client.post("/v1/ask", json={"question": "Giá vàng SJC hôm nay là bao nhiêu một lượng?"}, headers=auth(keys["platform"])).json()
    assert off_topic["answered"] is False and off_topic["answer"] is None and off_topic["lessons"]
