"""A worker killed in the middle of a batch leaves nothing half-stored; a client retry never double-counts."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import httpx

from tests.conftest import SECRET
from tutor.privacy.credentials import create_key
from tutor.settings import PROJECT_ROOT

WORKER = textwrap.dedent(
    """
    import sys, time, pathlib, uvicorn
    import tutor.events.intake as events
    original = events.apply_answers
    marker = pathlib.Path(sys.argv[2])

    def stalled(*args, **kwargs):
        original(*args, **kwargs)      # events and mastery written, not yet committed
        marker.write_text("in flight")
        time.sleep(60)                 # the test kills this process here

    events.apply_answers = stalled
    from tutor.app import create_app
    uvicorn.run(create_app(), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
    """
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(base: str) -> None:
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if httpx.get(base + "/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("worker did not start")


def test_killed_worker_mid_batch_stores_nothing_and_the_retry_counts_once(settings, runtime, client, tmp_path):
    with runtime.session() as s, s.begin():
        _, key = create_key(s, "faults", ["platform"])
    env = {**os.environ, "TUTOR_DATABASE_URL": settings.database_url, "TUTOR_CONTENT_DIR": str(settings.content.content_dir),
           "TUTOR_VAR_DIR": str(settings.service.var_dir), "TUTOR_PSEUDONYM_SECRET": SECRET.decode(), "PYTHONPATH": str(PROJECT_ROOT)}
    port, marker = free_port(), tmp_path / "in-flight"
    worker = subprocess.Popen([sys.executable, "-c", WORKER, str(port), str(marker)], env=env, cwd=PROJECT_ROOT)
    base = f"http://127.0.0.1:{port}"
    batch = {"events": [{"event_id": f"k{i}", "learner_id": f"learner-{i % 7}", "item_id": "test-scams-1", "correct": i % 2 == 0,
                         "timestamp": "2026-11-20T08:00:00Z"} for i in range(300)]}
    headers = {"Authorization": f"Bearer {key}"}
    try:
        wait_ready(base)
        outcome: list = []
        sender = threading.Thread(target=lambda: outcome.append(_post(base, batch, headers)))
        sender.start()
        deadline = time.time() + 30
        while not marker.exists() and time.time() < deadline:
            time.sleep(0.05)
        assert marker.exists(), "the batch never reached the database"
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        sender.join(timeout=30)
        assert outcome and isinstance(outcome[0], Exception), "the client should see the connection drop"
    finally:
        if worker.poll() is None:
            worker.kill()
    h = {"Authorization": f"Bearer {key}"}
    runtime.engine.dispose()
    assert client.get("/v1/learners/learner-0/mastery", headers=h).status_code == 404
    first = client.post("/v1/events", json=batch, headers=h).json()
    retry = client.post("/v1/events", json=batch, headers=h).json()
    assert (first["stored"], retry["stored"], retry["duplicates"]) == (300, 0, 300)
    mastery = client.get("/v1/learners/learner-0/mastery", headers=h).json()
    assert next(s for s in mastery["skills"] if s["skill_id"] == "4.2-basic")["n_observations"] == len(range(0, 300, 7))


def _post(base, batch, headers):
    try:
        return httpx.post(base + "/v1/events", json=batch, headers=headers, timeout=30)
    except httpx.HTTPError as exc:
        return exc
