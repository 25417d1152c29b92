"""Access, erasure and retention of a learner's data."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import inspect, text

from tests.conftest import auth
from tutor.privacy.learner_rights import apply_retention
from tutor.store.tables import Base
from tutor.tracing.equations import update

NOW = datetime.now(UTC)


def events(learner: str, n: int, start: datetime) -> list[dict]:
    return [{"event_id": f"{learner}-{i}", "learner_id": learner, "item_id": "test-scams-1", "correct": i % 3 != 0,
             "timestamp": (start + timedelta(hours=i)).isoformat()} for i in range(n)]


def rows_mentioning(runtime, needle: str) -> dict[str, int]:
    """Every table of the schema, every row, searched for the needle."""
    found = {}
    with runtime.engine.connect() as conn:
        for table in inspect(runtime.engine).get_table_names():
            if re.fullmatch(r"events_y\d{4}m\d{2}", table):
                continue  # a month partition of events (PostgreSQL): its rows are read through events
            rows = [str(tuple(r)) for r in conn.execute(text(f"SELECT * FROM {table}"))]
            hits = sum(needle in r for r in rows)
            if hits:
                found[table] = hits
    return found


def test_export_has_everything_and_erase_leaves_nothing(client, keys, runtime):
    h = auth(keys["platform"])
    client.post("/v1/events", json={"events": events("alice", 5, NOW - timedelta(days=1)) + events("bob", 2, NOW - timedelta(days=1))}, headers=h)
    statement = {"id": "7d0c7f7a-0000-4000-8000-000000000001", "actor": {"account": {"homePage": "https://p.vn", "name": "alice"}},
                 "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"}, "object": {"id": "https://p.vn/lessons/test-search"}}
    client.post("/v1/xapi/statements", json=statement, headers={**h, "X-Experience-API-Version": "1.0.3"})
    with runtime.session() as s, s.begin():
        from tutor.privacy.credentials import create_key

        create_key(s, "alice's app", ["learner"], runtime.pseudonym("alice"))
    exported = client.get("/v1/learners/alice/export", headers=h).json()
    assert len(exported["events"]) == 6 and {e["kind"] for e in exported["events"]} == {"answer", "exposure"}
    assert [m["skill_id"] for m in exported["mastery"]] == ["4.2-basic"] and exported["mastery"][0]["n_observations"] == 5
    assert len(exported["learner_keys"]) == 1 and exported["questions"] == []

    alice = runtime.pseudonym("alice")
    assert len(exported["xapi_statements"]) == 1 and exported["xapi_statements"][0]["actor"]["account"]["name"] == alice
    assert set(rows_mentioning(runtime, alice)) == {"learners", "events", "mastery", "api_clients", "xapi_statements"}
    r = client.delete("/v1/learners/alice", headers=h)
    assert r.status_code == 200 and r.json()["rows"] == 1 + 6 + 1 + 1 + 1
    assert rows_mentioning(runtime, alice) == {}
    assert set(inspect(runtime.engine).get_table_names()) >= set(Base.metadata.tables)
    with runtime.engine.connect() as conn:
        assert conn.execute(text("SELECT rows FROM erasures")).scalar_one() == 10
    assert client.get("/v1/learners/alice/mastery", headers=h).status_code == 404
    assert client.get("/v1/learners/alice/export", headers=h).status_code == 404
    assert client.delete("/v1/learners/alice", headers=h).status_code == 404
    assert client.get("/v1/learners/bob/export", headers=h).json()["events"][0]["event_id"] == "bob-0"


def test_only_platform_keys_export_or_erase(client, keys):
    for scope in ("learner", "researcher", "admin"):
        assert client.get("/v1/learners/learner-1/export", headers=auth(keys[scope])).status_code == 403
        assert client.delete("/v1/learners/learner-1", headers=auth(keys[scope])).status_code == 403


def test_retention_folds_old_events_without_changing_mastery(client, keys, runtime):
    h = auth(keys["platform"])
    client.post("/v1/events", json={"events": events("carol", 10, NOW - timedelta(days=40))}, headers=h)
    before = client.get("/v1/learners/carol/mastery", headers=h).json()["skills"]
    with runtime.session() as s, s.begin():
        deleted = apply_retention(s, runtime.model, days=30)
    assert deleted == 10
    after = client.get("/v1/learners/carol/mastery", headers=h).json()["skills"]
    assert after == before
    assert client.get("/v1/learners/carol/export", headers=h).json()["events"] == []
    late = {"event_id": "carol-late", "learner_id": "carol", "item_id": "test-scams-1", "correct": False, "timestamp": (NOW - timedelta(days=1)).isoformat()}
    early = {**late, "event_id": "carol-early", "timestamp": (NOW - timedelta(days=2)).isoformat()}
    client.post("/v1/events", json={"events": [late]}, headers=h)
    client.post("/v1/events", json={"events": [early]}, headers=h)
    p = next(s for s in client.get("/v1/learners/carol/mastery", headers=h).json()["skills"] if s["skill_id"] == "4.2-basic")
    assert p["n_observations"] == 12
    params = runtime.model.params("4.2-basic")
    expected = next(s for s in before if s["skill_id"] == "4.2-basic")["p_mastered"]
    for grade in (0.0, 0.0):
        expected = update(expected, grade, params)
    assert abs(p["p_mastered"] - expected) < 1e-9
