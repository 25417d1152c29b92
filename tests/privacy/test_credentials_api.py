"""Every /v1 route needs a key with the right scope; learner ids never reach the store or the logs."""

from __future__ import annotations

import logging

from sqlalchemy import select

from tests.conftest import auth
from tutor.privacy.credentials import revoke
from tutor.store.tables import ApiClient

EVENT = {"event_id": "a1", "learner_id": "learner-1", "item_id": "test-scams-1", "correct": True, "timestamp": "2026-11-20T08:00:00Z"}


def test_missing_or_wrong_key_is_401(client):
    for headers in ({}, {"Authorization": "Bearer tk_nope_nope"}, {"Authorization": "Basic abc"}):
        r = client.post("/v1/events", json={"events": [EVENT]}, headers=headers)
        assert r.status_code == 401, headers
        assert "key" in r.json()["detail"].lower()
    assert client.get("/v1/learners/learner-1/mastery").status_code == 401


def test_wrong_scope_is_403_naming_the_needed_scope(client, keys):
    for scope in ("researcher", "admin", "learner"):
        r = client.post("/v1/events", json={"events": [EVENT]}, headers=auth(keys[scope]))
        assert r.status_code == 403, scope
        assert "platform" in r.json()["detail"]


def test_learner_key_reads_only_its_own_mastery(client, keys):
    client.post("/v1/events", json={"events": [EVENT, {**EVENT, "event_id": "a2", "learner_id": "learner-2"}]}, headers=auth(keys["platform"]))
    assert client.get("/v1/learners/learner-1/mastery", headers=auth(keys["learner"])).status_code == 200
    r = client.get("/v1/learners/learner-2/mastery", headers=auth(keys["learner"]))
    assert r.status_code == 403 and "own" in r.json()["detail"]


def test_revoked_key_is_refused_on_the_next_request(client, keys, runtime):
    h = auth(keys["platform"])
    assert client.post("/v1/events", json={"events": [EVENT]}, headers=h).status_code == 200
    with runtime.session() as s, s.begin():
        prefix = keys["platform"].split("_")[1]
        assert revoke(s, prefix)
    assert client.post("/v1/events", json={"events": [EVENT]}, headers=h).status_code == 401


def test_keys_are_stored_hashed(client, keys, runtime):
    with runtime.session() as s:
        stored = " ".join(f"{c.key_hash} {c.key_prefix} {c.name}" for c in s.scalars(select(ApiClient)))
    for key in keys.values():
        assert key not in stored


def test_raw_learner_id_is_absent_from_database_file_and_logs(client, keys, runtime, caplog, database_url):
    raw = "VNeID-001234567890"
    caplog.set_level(logging.DEBUG)
    events = [{**EVENT, "event_id": f"p{i}", "learner_id": raw} for i in range(3)]
    assert client.post("/v1/events", json={"events": events}, headers=auth(keys["platform"])).status_code == 200
    assert client.get(f"/v1/learners/{raw}/mastery", headers=auth(keys["platform"])).status_code == 200
    statement = {
        "id": "0b4f7f38-5d4e-4e4b-9c21-3c1a6a4c6d10", "actor": {"account": {"homePage": "https://vneid.gov.vn", "name": raw}},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/answered"}, "object": {"id": "https://x.vn/items/test-scams-2"}, "result": {"success": True},
    }
    assert client.post("/v1/xapi/statements", json=statement, headers={**auth(keys["platform"]), "X-Experience-API-Version": "1.0.3"}).status_code == 200
    service_log = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("httpx"))  # httpx is the test's own client
    assert raw not in service_log
    assert "/v1/learners/{learner_id}/mastery" in service_log
    if database_url.startswith("sqlite"):
        runtime.engine.dispose()
        path = database_url.split("///", 1)[1]
        for suffix in ("", "-wal", "-shm"):
            try:
                data = open(path + suffix, "rb").read()
            except FileNotFoundError:
                continue
            assert raw.encode() not in data, suffix
            assert runtime.pseudonym(raw).encode() in data or suffix
    else:
        from sqlalchemy import text

        with runtime.engine.connect() as conn:
            for table in ("learners", "events", "mastery", "api_clients"):
                dump = " ".join(str(row) for row in conn.execute(text(f"SELECT * FROM {table}")))
                assert raw not in dump, table


def test_health_and_ready(client, runtime):
    assert client.get("/health").json() == {"status": "ok"}
    r = client.get("/ready")
    assert r.status_code == 200
    assert r.json()["database"] is True and r.json()["model_version"] == runtime.model.version
