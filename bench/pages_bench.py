"""Page weight and render time of each learner page on a slow-3G connection, in Debian's Chromium.

Each page is opened in a fresh browser context (cold cache: the worst case, a first visit), on two models
of the same slow-3G connection (400 ms round trip, 400 kbit/s down and up):

- **packet level** (the primary measure): the browser talks to the service through a relay in this script
  that delays every byte by half a round trip each way and paces it at 400 kbit/s, and holds each new
  connection for three round trips first (DNS, TCP and a TLS 1.3 handshake, which a real first visit over
  HTTPS pays before its request leaves). This is how WebPageTest's "3G Slow" profile and packet shapers
  such as netem throttle, and how Lighthouse's throttling notes say a slow link should be modelled.
- **request level**: CDP `Network.emulateNetworkConditions` with DevTools' "Slow 3G" preset (named "3G"
  in current DevTools; `Slow3GConditions` in its NetworkManager): 400 kbit/s and 400*5 = 2000 ms added to
  every request, the five round trips standing in for a fresh connection's setup; since it adds them to
  every request, reused connection or not, no page can paint before 2000 ms on it.

Bytes are what went over the wire (CDP `encodedDataLength`: gzip bodies plus headers) for the page and
every asset it loads; for the lesson reader the compressed size of the lesson's own text is also
subtracted ("before the lesson text"), since that grows with the lesson. Render time is first contentful
paint and the navigation's load event (`loadEventEnd`), from the navigation's start.

Writes bench/results/pages.json and bench/results/pages.md.

    tests/pages/prepare.sh && .venv/bin/python bench/pages_bench.py
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.pages import browser as rig  # noqa: E402
from tutor.pages.views import lesson_html  # noqa: E402

RESULTS = ROOT / "bench" / "results"
SLOW_3G = {"offline": False, "latency": 400 * 5, "downloadThroughput": 500 * 1000 / 8 * 0.8, "uploadThroughput": 500 * 1000 / 8 * 0.8}
RTT_S = 0.400
LINK_BYTES_PER_S = 400_000 / 8
SETUP_ROUND_TRIPS = 3  # DNS, TCP, TLS 1.3
RUNS = 3
TARGET_MS = 2000
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


class SlowLink:
    """A TCP relay on loopback that behaves like a slow link: one-way delay, a paced bandwidth, connection setup.

    Each direction of each connection is its own link of LINK_BYTES_PER_S (as a phone's radio link is
    shared by the connections of one page, this flatters pages that open many connections in parallel;
    ours open one).
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.loop = asyncio.new_event_loop()
        started = threading.Event()
        self.port = 0

        async def start() -> None:
            server = await asyncio.start_server(self.connection, "127.0.0.1", 0)
            self.port = server.sockets[0].getsockname()[1]
            started.set()
            await server.serve_forever()

        threading.Thread(target=lambda: self.loop.run_until_complete(start()), daemon=True).start()
        started.wait(10)

    async def connection(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        await asyncio.sleep(SETUP_ROUND_TRIPS * RTT_S)
        server_r, server_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        await asyncio.gather(self.pipe(client_r, server_w), self.pipe(server_r, client_w), return_exceptions=True)
        for w in (client_w, server_w):
            w.close()

    @staticmethod
    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Deliver each chunk half a round trip after it has been paced through the link."""
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                at, data = await queue.get()
                if not data:
                    writer.write_eof() if writer.can_write_eof() else None
                    return
                await asyncio.sleep(max(0.0, at - time.monotonic()))
                writer.write(data)
                await writer.drain()

        delivering = asyncio.ensure_future(deliver())
        link_free = time.monotonic()
        while True:
            data = await reader.read(1460)
            now = time.monotonic()
            if not data:
                await queue.put((now, b""))
                break
            link_free = max(now, link_free) + len(data) / LINK_BYTES_PER_S
            await queue.put((link_free + RTT_S / 2, data))
        await delivering


def measure(chromium, url: str, path: str, cookies: list, request_level: bool) -> dict:
    context = chromium.new_context(viewport={"width": 360, "height": 640})
    context.add_cookies(cookies)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    if request_level:
        cdp.send("Network.emulateNetworkConditions", SLOW_3G)
    sizes: dict[str, float] = {}
    cdp.on("Network.loadingFinished", lambda e: sizes.__setitem__(e["requestId"], e["encodedDataLength"]))
    page.goto(url + path, wait_until="load")
    page.wait_for_timeout(300)
    timing = page.evaluate("""() => {
        const n = performance.getEntriesByType('navigation')[0];
        const p = performance.getEntriesByName('first-contentful-paint')[0];
        return {load_ms: n.loadEventEnd, fcp_ms: p ? p.startTime : NaN, requests: performance.getEntriesByType('resource').length + 1};
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
                link = SlowLink(int(served.url.rsplit(":", 1)[1]))
                rows = []
                for name, path in PAGES:
                    runs = {level: [measure(chromium, served.url if level == "request" else f"http://127.0.0.1:{link.port}", path, cookies, level == "request")
                                    for _ in range(RUNS)] for level in ("packet", "request")}
                    m = runs["packet"][0]
                    before_text = m["bytes"] - (text if path.endswith(LESSON) else 0)
                    rows.append({"page": name, "path": path, "requests": m["requests"], "bytes": m["bytes"], "bytes_before_lesson_text": before_text,
                                 "within_budget": before_text <= BUDGET,
                                 **{f"{level}_{k}": statistics.median(r[k] for r in runs[level]) for level in runs for k in ("fcp_ms", "load_ms")}})
                chromium.close()
        finally:
            served.stop()
    load = os.getloadavg()
    result = {"profiles": {"packet": {"rtt_ms": RTT_S * 1000, "bytes_per_s": LINK_BYTES_PER_S, "setup_round_trips": SETUP_ROUND_TRIPS},
                           "request": {"name": "DevTools Slow 3G (now '3G')", **SLOW_3G}},
              "viewport": "360x640", "cache": "cold, one fresh context per page", "runs": RUNS, "load_average": load,
              "budget_bytes": BUDGET, "target_first_paint_ms": TARGET_MS, "lesson_text_compressed_bytes": text, "browser": browser_version, "pages": rows}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "pages.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = [
        "# Learner pages on slow 3G", "",
        f"Debian's Chromium {browser_version}, 360×640, cold cache (one fresh context per page), median of {RUNS} runs; load average "
        f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}.",
        "Packet level: a relay with a 400 ms round trip and 400 kbit/s each way, three round trips of connection setup (DNS, TCP, TLS 1.3).",
        "Request level: DevTools' Slow 3G preset through CDP (400 kbit/s, 2000 ms added to every request).",
        f"Bytes: everything transferred for the page (gzip bodies and headers). Budget: {BUDGET:,} bytes before the lesson text (the lesson's",
        f"own text is {text:,} bytes compressed, subtracted on the lesson reader). Target: first paint under {TARGET_MS:,} ms.", "",
        "| page | path | requests | bytes transferred | bytes before lesson text | within budget | first paint, packet level (ms) | load, packet level (ms) "
        "| under 2 s | first paint, DevTools preset (ms) | load, DevTools preset (ms) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['page']} | `{r['path']}` | {r['requests']} | {r['bytes']:,} | {r['bytes_before_lesson_text']:,} | {'yes' if r['within_budget'] else 'NO'} | "
                     f"{r['packet_fcp_ms']:.0f} | {r['packet_load_ms']:.0f} | {'yes' if r['packet_fcp_ms'] < TARGET_MS else 'NO'} | "
                     f"{r['request_fcp_ms']:.0f} | {r['request_load_ms']:.0f} |")
    (RESULTS / "pages.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
