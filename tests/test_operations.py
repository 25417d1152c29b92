"""Keys (rotation, rate limits), the audit log, model switching, and a database that goes away."""

from __future__ import annotations

import json
import shutil
import socket
import threading
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from tests.conftest import auth, with_settings
from tutor.app import create_app
from tutor.privacy.credentials import RateLimiter
from tutor.runtime import Runtime

EVENT = {"event_id": "o1", "learner_id": "l1", "item_id": "test-scams-1", "correct": True, "timestamp": "2026-11-20T08:00:00Z"}


def test_rotation_keeps_both_keys_valid_during_the_switch(client, keys):
    old = keys["platform"]
    prefix = old.split("_")[1]
    r = client.post(f"/v1/admin/keys/{prefix}/rotate", json={"grace_hours": 1}, headers=auth(keys["admin"]))
    assert r.status_code == 200, r.text
    new = r.json()["key"]
    assert r.json()["scopes"] == ["platform"]
    for key in (old, new):
        assert client.post("/v1/events", json={"events": [EVENT]}, headers=auth(key)).status_code == 200
    r = client.post(f"/v1/admin/keys/{r.json()['key_prefix']}/rotate", json={"grace_hours": 0}, headers=auth(keys["admin"]))
    newest = r.json()["key"]
    assert client.post("/v1/events", json={"events": [EVENT]}, headers=auth(new)).status_code == 401
    assert client.post("/v1/events", json={"events": [EVENT]}, headers=auth(newest)).status_code == 200
    assert client.post("/v1/admin/keys/nope/rotate", json={}, headers=auth(keys["admin"])).status_code == 404


def test_admin_key_routes_and_audit_log(client, keys):
    h = auth(keys["admin"])
    r = client.post("/v1/admin/keys", json={"name": "province A", "scopes": ["platform"], "rate_per_minute": 600}, headers=h)
    assert r.status_code == 201 and r.json()["key"].startswith("tk_")
    assert client.post("/v1/admin/keys", json={"name": "x", "scopes": ["root"]}, headers=h).status_code == 422
    prefix = r.json()["key_prefix"]
    assert client.delete(f"/v1/admin/keys/{prefix}", headers=h).json()["revoked_at"] is not None
    assert client.post("/v1/events", json={"events": [EVENT]}, headers=auth(r.json()["key"])).status_code == 401
    listed = client.get("/v1/admin/keys", headers=h).json()
    assert all("key" not in k for k in listed) and prefix in [k["key_prefix"] for k in listed]
    actions = [(e["action"], e["target"].split()[0]) for e in client.get("/v1/admin/audit", headers=h).json()]
    assert actions[:2] == [("key.revoke", prefix), ("key.create", prefix)]
    assert client.get("/v1/admin/audit", headers=auth(keys["platform"])).status_code == 403


def test_rate_limit_answers_429_with_retry_after(client, keys):
    key = client.post("/v1/admin/keys", json={"name": "slow", "scopes": ["platform"], "rate_per_minute": 3}, headers=auth(keys["admin"])).json()["key"]
    codes = [client.get("/v1/learners/l1/mastery", headers=auth(key)) for _ in range(5)]
    assert [c.status_code for c in codes[:3]] == [404, 404, 404]
    assert codes[3].status_code == 429 and int(codes[3].headers["Retry-After"]) >= 1
    assert "3 requests a minute" in codes[3].json()["detail"]
    assert client.get("/v1/learners/l1/mastery", headers=auth(keys["platform"])).status_code == 404


def test_token_bucket_refills():
    limiter = RateLimiter()
    assert [limiter.wait_seconds(1, 60, now=0.0) for _ in range(60)] == [0.0] * 60
    assert limiter.wait_seconds(1, 60, now=0.0) == pytest.approx(1.0)
    assert limiter.wait_seconds(1, 60, now=1.0) == 0.0


def test_model_switch_refuses_broken_artefacts(client, keys, runtime, tmp_path):
    models = tmp_path / "models"
    shutil.copytree(runtime.settings.tracing.models_dir, models)
    runtime.settings = with_settings(runtime.settings, tracing={"models_dir": models})
    active = runtime.model.version
    good = models / "candidate"
    shutil.copytree(models / "bkt-default", good)
    meta = json.loads((good / "metadata.json").read_text())
    (good / "metadata.json").write_text(json.dumps({**meta, "version": "candidate-2"}))
    broken = models / "broken"
    shutil.copytree(models / "bkt-default", broken)
    model = json.loads((broken / "model.json").read_text())
    model["default"]["slip"] = 1.7
    (broken / "model.json").write_text(json.dumps(model))
    h = auth(keys["admin"])
    r = client.post("/v1/admin/models/activate", json={"artefact": "broken"}, headers=h)
    assert r.status_code == 422 and "slip" in r.json()["detail"] and "unchanged" in r.json()["detail"]
    assert client.get("/ready").json()["model_version"] == active
    assert client.post("/v1/admin/models/activate", json={"artefact": "../etc"}, headers=h).status_code == 404
    r = client.post("/v1/admin/models/activate", json={"artefact": "candidate"}, headers=h)
    assert r.status_code == 200 and r.json()["version"] == "candidate-2"
    assert client.get("/ready").json()["model_version"] == "candidate-2"
    other = Runtime(runtime.settings, migrate=False)
    assert other.model.version == "candidate-2"
    other.engine.dispose()


def test_events_older_than_retention_are_refused(runtime, keys):
    runtime.settings = with_settings(runtime.settings, privacy={"retention_days": 30})
    with TestClient(create_app(runtime=runtime)) as c:
        old = {**EVENT, "timestamp": (datetime.now(timezone.utc) - timedelta(days=31)).isoformat()}
        r = c.post("/v1/events", json={"events": [EVENT | {"timestamp": datetime.now(timezone.utc).isoformat()}, old]}, headers=auth(keys["platform"]))
        assert r.status_code == 422
        assert r.json()["detail"][0]["loc"] == ["body", "events", 1, "timestamp"] and "retention" in r.json()["detail"][0]["msg"]


class Proxy:
    """A TCP relay to PostgreSQL that a test can cut and restore, as a network or database outage."""

    def __init__(self, target=("127.0.0.1", 5432)):
        self.target = target
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.listener.listen(50)
        self.up = True
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            server = socket.create_connection(self.target)
            self.conns += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a, b):
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self):
        self.up = False
        for c in self.conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.conns.clear()

    def restore(self):
        self.up = True


def test_database_outage_gives_503_and_the_service_recovers(settings, keys, runtime):
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("the outage is staged on the PostgreSQL store, reached through a relay the test can cut")
    pg_database = settings.database_url
    proxy = Proxy()
    url = pg_database.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    through_proxy = Runtime(with_settings(settings, store={"database_url": url}), migrate=False)
    with TestClient(create_app(runtime=through_proxy)) as c:
        h = auth(keys["platform"])
        assert c.post("/v1/events", json={"events": [EVENT]}, headers=h).status_code == 200
        proxy.cut()
        assert c.get("/ready").status_code == 503
        r = c.post("/v1/events", json={"events": [{**EVENT, "event_id": "o2"}]}, headers=h)
        assert r.status_code == 503 and "database" in r.json()["detail"]
        proxy.restore()
        assert c.get("/ready").status_code == 200
        assert c.post("/v1/events", json={"events": [{**EVENT, "event_id": "o2"}]}, headers=h).status_code == 200
        body = c.get("/v1/learners/l1/mastery", headers=h).json()
        assert next(s for s in body["skills"] if s["skill_id"] == "4.2-basic")["n_observations"] == 2
    through_proxy.engine.dispose()
