"""A database that goes away: 503 with Retry-After while it is gone, and recovery without a restart."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.conftest import auth, with_settings
from tutor.app import create_app
from tutor.runtime import Runtime
from tutor.store.outage_relay import OutageRelay

EVENT = {"event_id": "o1", "learner_id": "l1", "item_id": "test-scams-1", "correct": True, "timestamp": "2026-11-20T08:00:00Z"}


def test_database_outage_gives_503_and_the_service_recovers(settings, keys, runtime):
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("the outage is staged on the PostgreSQL store, reached through a relay the test can cut")
    pg_database = settings.database_url
    relay = OutageRelay()
    url = pg_database.replace("127.0.0.1:5432", f"127.0.0.1:{relay.port}")
    through_relay = Runtime(with_settings(settings, store={"database_url": url}), migrate=False)
    with TestClient(create_app(runtime=through_relay)) as c:
        h = auth(keys["platform"])
        assert c.post("/v1/events", json={"events": [EVENT]}, headers=h).status_code == 200
        relay.cut()
        assert c.get("/ready").status_code == 503
        r = c.post("/v1/events", json={"events": [{**EVENT, "event_id": "o2"}]}, headers=h)
        assert r.status_code == 503 and "database" in r.json()["detail"]
        relay.restore()
        assert c.get("/ready").status_code == 200
        assert c.post("/v1/events", json={"events": [{**EVENT, "event_id": "o2"}]}, headers=h).status_code == 200
        body = c.get("/v1/learners/l1/mastery", headers=h).json()
        assert next(s for s in body["skills"] if s["skill_id"] == "4.2-basic")["n_observations"] == 2
    through_relay.engine.dispose()
    relay.close()
