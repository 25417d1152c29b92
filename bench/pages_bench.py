"""Page weight and render time of each learner page on DevTools' slow-3G profile, in Debian's Chromium.

Each page is opened in a fresh browser context (cold cache: the worst case, a first visit) with the
network throttled through CDP `Network.emulateNetworkConditions` to DevTools' "Slow 3G" preset (named
"3G" in current DevTools; `Slow3GConditions` in its NetworkManager): 500*1000/8*0.8 bytes/s = 400 kbit/s
down and up, 400*5 = 2000 ms latency. Bytes are what went over the wire (CDP `encodedDataLength`: gzip
bodies plus headers) for the page and every asset it loads; for the lesson reader the compressed size of
the lesson's own text is also subtracted ("before the lesson text"), since that grows with the lesson.
Render time is the navigation's load event (`loadEventEnd`) and first contentful paint.

Writes bench/results/pages.json and bench/results/pages.md.

    tests/pages/prepare.sh && .venv/bin/python bench/pages_bench.py
"""

from __future__ import annotations

import gzip
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.pages import browser as rig  # noqa: E402
from tutor.pages.views import lesson_html  # noqa: E402

RESULTS = ROOT / "bench" / "results"
SLOW_3G = {"offline": False, "latency": 400 * 5, "downloadThroughput": 500 * 1000 / 8 * 0.8, "uploadThroughput": 500 * 1000 / 8 * 0.8}
LESSON = "spotting-scams"
BUDGET = 100_000
PAGES = [
    ("My skills", "/learn"), ("Next steps", "/learn/next"), ("Lesson reader", f"/learn/lessons/{LESSON}"), ("Ask", "/learn/ask"),
    ("Placement quiz", "/learn/placement"), ("My data", "/learn/data"),
]


def lesson_text_bytes(served: rig.Served) -> int:
    """The compressed size of the lesson's own text (title, objectives, sections, items) as the page carries it."""
    lesson = served.runtime.library.lessons[LESSON]
    parts = [lesson.title.vi, *lesson.objectives.vi]
    for section in lesson.sections:
        parts += [section.heading.vi, str(lesson_html(section.body.vi))]
    for item in lesson.items:
        parts += [item.question.vi, *item.options.vi]
    return len(gzip.compress("\n".join(parts).encode()))


def measure(chromium, served: rig.Served, path: str, cookies: list) -> dict:
    context = chromium.new_context(viewport={"width": 360, "height": 640})
    context.add_cookies(cookies)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", SLOW_3G)
    sizes: dict[str, float] = {}
    cdp.on("Network.loadingFinished", lambda e: sizes.__setitem__(e["requestId"], e["encodedDataLength"]))
    page.goto(served.url + path, wait_until="load")
    page.wait_for_timeout(300)
    timing = page.evaluate("""() => {
        const n = performance.getEntriesByType('navigation')[0];
        const p = performance.getEntriesByName('first-contentful-paint')[0];
        return {load_ms: n.loadEventEnd, fcp_ms: p ? p.startTime : null, requests: performance.getEntriesByType('resource').length + 1};
    }""")
    context.close()
    return {"bytes": int(sum(sizes.values())), **timing}


def main() -> None:
    reason = rig.missing()
    if reason:
        sys.exit(f"pages_bench: {reason}")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        served = rig.serve(Path(tmp))
        try:
            with sync_playwright() as p:
                chromium = rig.launch(p)
                browser_version = chromium.version
                context = chromium.new_context()
                page = context.new_page()
                page.goto(served.url + "/signin")
                page.fill("#key", served.keys["learner"])
                with page.expect_navigation():
                    page.click("main button[type=submit]")
                page.goto(served.url + f"/learn/lessons/{LESSON}")  # some answers, so every page has content
                for item in served.runtime.library.lessons[LESSON].items[:2]:
                    page.check(f"input[name='item-{item.id}'][value='{item.correct}']")
                with page.expect_navigation():
                    page.click("form.quiz button[type=submit]")
                cookies = context.cookies()
                context.close()
                text = lesson_text_bytes(served)
                rows = []
                for name, path in PAGES:
                    m = measure(chromium, served, path, cookies)
                    before_text = m["bytes"] - (text if path.endswith(LESSON) else 0)
                    rows.append({"page": name, "path": path, **m, "bytes_before_lesson_text": before_text, "within_budget": before_text <= BUDGET})
                chromium.close()
        finally:
            served.stop()
    result = {"profile": {"name": "DevTools Slow 3G (now '3G')", **SLOW_3G}, "viewport": "360x640", "cache": "cold, one fresh context per page",
              "budget_bytes": BUDGET, "lesson_text_compressed_bytes": text, "browser": browser_version, "pages": rows}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "pages.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = [
        "# Learner pages on slow 3G", "",
        "DevTools' Slow 3G preset through CDP (400 kbit/s down and up, 2000 ms latency), Debian's Chromium, 360×640, cold cache,",
        f"one fresh context per page. Bytes: everything transferred for the page (gzip bodies and headers). Budget: {BUDGET:,} bytes",
        f"before the lesson text (the lesson's own text is {text:,} bytes compressed, subtracted on the lesson reader).", "",
        "| page | path | requests | bytes transferred | bytes before lesson text | within budget | first paint (ms) | load (ms) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        fcp = "—" if r["fcp_ms"] is None else f"{r['fcp_ms']:.0f}"
        lines.append(f"| {r['page']} | `{r['path']}` | {r['requests']} | {r['bytes']:,} | {r['bytes_before_lesson_text']:,} | "
                     f"{'yes' if r['within_budget'] else 'NO'} | {fcp} | {r['load_ms']:.0f} |")
    (RESULTS / "pages.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
