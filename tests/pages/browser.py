"""A served app and Debian's Chromium for the browser tests and the page benchmarks.

The service runs under uvicorn in a thread on 127.0.0.1 and a free port, on an SQLite file in a temporary
folder, with the bundled lessons and copies of the shipped models (so activating one changes nothing here).
Chromium is /usr/bin/chromium (tests/pages/prepare.sh installs it); `playwright install` is never used.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from tests.conftest import make_settings, with_settings
from tutor.app import create_app
from tutor.privacy.credentials import create_key
from tutor.runtime import Runtime
from tutor.settings import PROJECT_ROOT

CHROMIUM = Path("/usr/bin/chromium")
AXE = PROJECT_ROOT / ".cache" / "axe-core" / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
LEARNER = "learner-browser"


def missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install playwright; never `playwright install`)"
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is absent; run tests/pages/prepare.sh"
    return None


@dataclass
class Served:
    url: str
    runtime: Runtime
    keys: dict[str, str]
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.runtime.engine.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(tmp: Path) -> Served:
    models = tmp / "models"
    for name in ("bkt-default", "bkt-synthetic-v1"):
        shutil.copytree(PROJECT_ROOT / "models" / name, models / name)
    shutil.copytree(PROJECT_ROOT / "models" / "index-cache", models / "index-cache")
    (models / "active").write_text("bkt-default\n")
    settings = make_settings(f"sqlite:///{tmp / 'tutor.db'}", PROJECT_ROOT / "content", tmp / "var")
    settings = with_settings(settings, answering={"encoder": "bm25"}, tracing={"models_dir": models})
    settings.service.var_dir.mkdir(parents=True, exist_ok=True)
    runtime = Runtime(settings)
    keys = {}
    with runtime.session() as s, s.begin():
        keys["admin"] = create_key(s, "desk", ["admin", "researcher"])[1]
        keys["learner"] = create_key(s, "browser learner", ["learner"], runtime.pseudonym(LEARNER))[1]
        keys["newcomer"] = create_key(s, "new learner", ["learner"], runtime.pseudonym("learner-new"))[1]
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(runtime=runtime), host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    return Served(f"http://127.0.0.1:{port}", runtime, keys, server, thread)


def launch(playwright):
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
