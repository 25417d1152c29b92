"""Screenshots of every page at 360×640 (a small phone) and 1280×800 (a laptop), for the README.

The service is served as in the browser tests (tests/pages/browser.py): bundled lessons, a learner who has
answered one lesson, a new learner for the placement quiz, an admin at the desk. PNGs go to
bench/results/screenshots/<page>-<width>.png; each is the first screen, as a person sees it on opening.

    tests/pages/prepare.sh && .venv/bin/python bench/screenshots.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.pages import browser as rig  # noqa: E402

OUT = ROOT / "bench" / "results" / "screenshots"
SIZES = ((360, 640), (1280, 800))
LESSON = "spotting-scams"
PAGES = {
    "learner": [("my-skills", "/learn"), ("next-steps", "/learn/next"), ("lesson", f"/learn/lessons/{LESSON}"), ("my-data", "/learn/data")],
    "newcomer": [("placement", "/learn/placement")],
    "admin": [("desk-models", "/desk"), ("desk-model", "/desk/models/bkt-synthetic-v1"), ("desk-data", "/desk/data"), ("desk-review", "/desk/alignments"), ("desk-keys", "/desk/keys"),
              ("desk-audit", "/desk/audit")],
}


def signed_in(chromium, served: rig.Served, who: str, size: tuple[int, int]):
    context = chromium.new_context(viewport={"width": size[0], "height": size[1]})
    page = context.new_page()
    page.goto(served.url + "/signin")
    page.fill("#key", served.keys[who])
    with page.expect_navigation():
        page.click("main button[type=submit]")
    return context, page


def main() -> None:
    reason = rig.missing()
    if reason:
        sys.exit(f"screenshots: {reason}")
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        served = rig.serve(Path(tmp))
        try:
            with sync_playwright() as p:
                chromium = rig.launch(p)
                for size in SIZES:
                    context = chromium.new_context(viewport={"width": size[0], "height": size[1]})
                    page = context.new_page()
                    page.goto(served.url + "/signin")
                    page.screenshot(path=str(OUT / f"signin-{size[0]}.png"))
                    context.close()
                    for who, pages in PAGES.items():
                        context, page = signed_in(chromium, served, who, size)
                        if who == "learner":
                            page.goto(served.url + f"/learn/lessons/{LESSON}")
                            for item in served.runtime.library.lessons[LESSON].items:
                                page.check(f"input[name='item-{item.id}'][value='{item.correct if item.id[-1] != '2' else 0}']")
                            with page.expect_navigation():
                                page.click("form.quiz button[type=submit]")
                            page.screenshot(path=str(OUT / f"lesson-results-{size[0]}.png"))
                            page.goto(served.url + "/learn/ask")
                            page.fill("#question", "lam sao nhan biet tin nhan lua dao")
                            with page.expect_navigation():
                                page.click("main form button[type=submit]")
                            page.locator("section.reply").scroll_into_view_if_needed()
                            page.screenshot(path=str(OUT / f"ask-{size[0]}.png"))
                        for name, path in pages:
                            page.goto(served.url + path)
                            if name == "my-skills":
                                page.locator("details.competence summary").first.click()
                            page.screenshot(path=str(OUT / f"{name}-{size[0]}.png"))
                        context.close()
                chromium.close()
        finally:
            served.stop()
    print("\n".join(sorted(str(p.relative_to(ROOT)) for p in OUT.glob("*.png"))))


if __name__ == "__main__":
    main()
