"""The pages in a real browser (Playwright driving Debian's Chromium): the learner's and the researcher's
main flows, by mouse and by keyboard alone, and axe-core on every page. Skipped, with the reason, when
the browser is absent (tests/pages/prepare.sh installs it)."""

from __future__ import annotations

import html
import json
from urllib.parse import urlencode

import httpx
import pytest

from tests.lti.platform import LmsPlatform
from tests.pages import browser as rig

pytestmark = pytest.mark.skipif(rig.missing() is not None, reason=rig.missing() or "")
LESSON = "spotting-scams"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    app = rig.serve(tmp_path_factory.mktemp("served"))
    yield app
    app.stop()


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = rig.launch(p)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport={"width": 360, "height": 640}, accept_downloads=True)
    yield context.new_page()
    context.close()


def sign_in(page, served, key: str) -> None:
    page.goto(served.url + "/signin")
    page.fill("#key", served.keys[key])
    with page.expect_navigation():
        page.click("main button[type=submit]")


def serious_violations(page) -> list[str]:
    page.add_script_tag(path=str(rig.AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


def tab_to(page, selector: str, limit: int = 120) -> None:
    """Press Tab until the element matching selector has the focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement && document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


def test_a_learner_answers_a_lesson_and_sees_mastery_and_next_steps_move(page, served):
    sign_in(page, served, "learner")
    assert page.url.endswith("/learn")
    assert page.locator("details.competence").count() == 24
    page.goto(served.url + "/learn/next")
    assert "placement" in page.content()
    page.goto(served.url + f"/learn/lessons/{LESSON}")
    lesson = served.runtime.library.lessons[LESSON]
    for item in lesson.items:
        page.check(f"input[name='item-{item.id}'][value='{item.correct}']")
    page.click("form.quiz button[type=submit]")
    assert page.locator("li.right").count() == len(lesson.items)
    assert "▲" in page.locator("td.after").first.inner_text()
    page.goto(served.url + "/learn")
    summary = page.locator("details.competence", has_text="4.2").first
    summary.locator("summary").click()
    assert f"{len(lesson.items)} câu trả lời" in summary.inner_text()
    page.goto(served.url + "/learn/next")
    assert page.locator("ol.steps li").count() >= 1
    page.locator("ol.steps li a").first.click()
    assert "/learn/lessons/" in page.url


def test_a_question_without_diacritics_gets_a_cited_answer(page, served):
    sign_in(page, served, "learner")
    page.goto(served.url + "/learn/ask")
    page.fill("#question", "lam sao nhan biet tin nhan lua dao")
    page.click("main form button[type=submit]")
    cite = page.locator("a.cite")
    assert cite.count() == 1, page.locator("main").inner_text()
    assert "/learn/lessons/" in cite.get_attribute("href")
    assert page.locator("blockquote").inner_text().strip()


def test_a_new_learner_takes_the_placement_quiz_and_downloads_the_export(page, served):
    sign_in(page, served, "newcomer")
    page.goto(served.url + "/learn/placement")
    for _ in range(served.runtime.settings.placement.max_items):
        if page.locator("input[name=choice]").count() == 0:
            break
        page.locator("input[name=choice]").first.check()
        page.click("form.quiz button[type=submit]")
    assert "Xong!" in page.content()
    page.goto(served.url + "/learn/data")
    with page.expect_download() as download:
        page.click("a[download]")
    exported = json.loads(open(download.value.path(), encoding="utf-8").read())
    assert exported["events"] and all(e["source"] == "placement" or e["kind"] for e in exported["events"])


def test_a_researcher_signs_in_and_activates_a_model(page, served):
    sign_in(page, served, "admin")
    assert page.url.endswith("/desk")
    page.click("text=bkt-synthetic-v1")
    page.click("button:has-text('Kích hoạt')")
    assert "Có, kích hoạt" in page.content() and served.runtime.model_name == "bkt-default"
    page.click("button:has-text('Có, kích hoạt')")
    assert "Đã kích hoạt bkt-synthetic-v1" in page.content()
    assert served.runtime.model_name == "bkt-synthetic-v1"
    served.runtime.activate_model("bkt-default")


def test_a_form_without_its_csrf_token_is_refused_with_a_page_saying_why(page, served):
    sign_in(page, served, "learner")
    page.goto(served.url + "/learn/ask")
    page.evaluate("document.querySelector('main input[name=csrf]').remove()")
    page.fill("#question", "mat khau manh")
    with page.expect_navigation():
        page.click("form.card button[type=submit]")
    assert "CSRF" in page.content() and page.locator("h1").inner_text().strip().startswith("Không thể mở trang")


def test_the_main_flows_work_by_keyboard_alone(page, served):
    page.goto(served.url + "/signin")
    tab_to(page, "#key")
    page.keyboard.type(served.keys["learner"])
    page.keyboard.press("Enter")
    page.wait_for_url("**/learn")
    tab_to(page, "a[href='/learn/ask']")
    page.keyboard.press("Enter")
    page.wait_for_url("**/learn/ask")
    tab_to(page, "#question")
    page.keyboard.type("mat khau manh la gi")
    tab_to(page, "form.card button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_selector("section.reply")
    page.goto(served.url + f"/learn/lessons/{LESSON}")
    tab_to(page, "form.quiz input[type=radio]")
    page.keyboard.press("Space")
    tab_to(page, "form.quiz button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_selector("ol.marked")
    page.goto(served.url + "/learn")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    tab_to(page, "details.competence summary")
    page.keyboard.press("Enter")
    assert page.locator("details.competence[open]").count() == 1


PAGES = {
    "learner": ["/learn", "/learn/next", f"/learn/lessons/{LESSON}", "/learn/ask", "/learn/placement", "/learn/data"],
    "admin": ["/desk", "/desk/models/bkt-synthetic-v1", "/desk/data", "/desk/alignments", "/desk/keys", "/desk/audit"],
}


@pytest.mark.skipif(not rig.AXE.exists(), reason="axe-core is not in .cache/axe-core; run tests/pages/prepare.sh")
@pytest.mark.parametrize("who", sorted(PAGES))
def test_axe_finds_no_serious_or_critical_violation(page, served, who):
    page.goto(served.url + "/signin")
    assert serious_violations(page) == [], "/signin"
    sign_in(page, served, who)
    found = {}
    for path in PAGES[who] + ["/learn/nothing" if who == "learner" else "/desk/models/none"]:
        page.goto(served.url + path)
        problems = serious_violations(page)
        if problems:
            found[path] = problems
    assert found == {}


def test_an_lti_launch_lands_on_my_skills(page, served):
    """The LTI helper's test platform plays the LMS: the browser starts the login (its state cookie kept), the
    platform answers the tool's redirect with the form_post a real platform makes, and the browser posts it."""
    lms = LmsPlatform(login_url=served.url + "/test-lms/auth")
    with httpx.Client(base_url=served.url) as client:
        lms.register(client, served.keys["admin"])
    login = page.request.get(served.url + "/lti/login?" + urlencode(lms.login_params(target_link_uri=served.url + "/lti/launch")), max_redirects=0)
    fields = "".join(f'<input type="hidden" name="{k}" value="{html.escape(v)}">' for k, v in lms.authorize(login.headers["location"]).items())
    page.set_content(f'<form method="post" action="{served.url}/lti/launch">{fields}</form>')
    with page.expect_navigation(url="**/learn"):
        page.evaluate("document.forms[0].submit()")
    assert page.locator("details.competence").count() == 24
