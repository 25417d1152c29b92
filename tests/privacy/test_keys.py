"""Keys (rotation, revocation, rate limits), the audit log, and the retention period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from tests.conftest import auth, with_settings
from tutor.app import create_app
from tutor.privacy.credentials import RateLimiter, development_key, find_client

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


def test_the_window_admits_the_rate_then_says_how_long_to_wait():
    limiter = RateLimiter()
    assert [limiter.wait_seconds("k1", 60) for _ in range(60)] == [0.0] * 60
    assert 0 < limiter.wait_seconds("k1", 60) <= 60
    assert limiter.wait_seconds("k2", 60) == 0.0, "each key has its own window"


def test_events_older_than_retention_are_refused(runtime, keys):
    runtime.settings = with_settings(runtime.settings, privacy={"retention_days": 30})
    with TestClient(create_app(runtime=runtime)) as c:
        old = {**EVENT, "timestamp": (datetime.now(UTC) - timedelta(days=31)).isoformat()}
        r = c.post("/v1/events", json={"events": [EVENT | {"timestamp": datetime.now(UTC).isoformat()}, old]}, headers=auth(keys["platform"]))
        assert r.status_code == 422
        assert r.json()["detail"][0]["loc"] == ["body", "events", 1, "timestamp"] and "retention" in r.json()["detail"][0]["msg"]


def test_development_key_only_on_an_empty_store(runtime, tmp_path):
    path = tmp_path / "dev-key"
    with runtime.session() as s, s.begin():
        key = development_key(s, path)
    assert key and path.read_text().strip() == key and path.stat().st_mode & 0o777 == 0o600
    with runtime.session() as s, s.begin():
        assert development_key(s, tmp_path / "again") is None
        assert set(find_client(s, key).scopes.split()) == {"platform", "researcher", "admin"}
    assert not (tmp_path / "again").exists()
