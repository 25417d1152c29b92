"""An answer for a period that retention already dropped: refused with a message, never a 500, on both stores.

`tutor retention --days N` may run with fewer days than the service's TUTOR_RETENTION_DAYS; the months it
dropped are gone for every worker, so the service refuses answers up to the horizon retention applied, as
it refuses those older than its own retention period."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from fastapi.testclient import TestClient

from tests.conftest import auth, with_settings
from tutor.app import create_app
from tutor.clock import utcnow
from tutor.privacy.learner_rights import apply_retention
from tutor.runtime import Runtime
from tutor.store.partitions import month_start

NOW = utcnow()
XAPI = {"X-Experience-API-Version": "1.0.3"}


DROPPED_MONTH = month_start(NOW - timedelta(days=90))  # wholly past a 30-day horizon


def answer(event_id: str, learner: str, days_ago: float | None = None, when: datetime | None = None) -> dict:
    moment = when if when is not None else NOW - timedelta(days=days_ago or 0)
    return {"event_id": event_id, "learner_id": learner, "item_id": "test-scams-1", "correct": True, "timestamp": moment.isoformat()}


def statement(learner: str, days_ago: float) -> dict:
    return {"id": str(uuid.uuid4()), "actor": {"objectType": "Agent", "account": {"homePage": "https://lms.example.vn", "name": learner}},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/answered"},
            "object": {"objectType": "Activity", "id": "https://lms.example.vn/items/test-scams-1"},
            "result": {"success": True}, "timestamp": (NOW - timedelta(days=days_ago)).isoformat()}


def observations(c: TestClient, h: dict, learner: str) -> int:
    body = c.get(f"/v1/learners/{learner}/mastery", headers=h).json()
    return next(s for s in body["skills"] if s["skill_id"] == "4.2-basic")["n_observations"]


def stored_events(runtime: Runtime) -> int:
    from sqlalchemy import func, select

    from tutor.store.tables import Event
    with runtime.session() as s:
        return s.scalar(select(func.count()).select_from(Event)) or 0


def test_an_answer_in_a_period_retention_dropped_is_refused_and_mastery_stays_a_replay(settings, keys):
    service = Runtime(with_settings(settings, privacy={"retention_days": 365}))
    h = auth(keys["platform"])
    with TestClient(create_app(runtime=service)) as c:
        sent = [answer("e-old", "l1", when=DROPPED_MONTH + timedelta(days=5)), answer("e-mid", "l1", 20), answer("e-new", "l1", 1)]
        assert c.post("/v1/events", json={"events": sent}, headers=h).status_code == 200
        again = [answer("e-old-2", "l1", when=DROPPED_MONTH + timedelta(days=6))]
        assert c.post("/v1/events", json={"events": again}, headers=h).status_code == 200  # the service now knows that month's partition
        assert c.post("/v1/xapi/statements", json=statement("l1", 2), headers={**h, **XAPI}).status_code == 200

        cli = Runtime(settings, migrate=False)  # `tutor retention --days 30`, another process: its own engine
        with cli.session() as s, s.begin():
            assert apply_retention(s, cli.model, days=30) == 2
        cli.engine.dispose()
        before = stored_events(service)

        late = c.post("/v1/events", json={"events": [answer("e-late", "l1", when=DROPPED_MONTH + timedelta(days=10)), answer("e-fresh", "l2", 60)]}, headers=h)
        assert late.status_code == 422, late.text
        problems = late.json()["detail"]
        assert [p["loc"] for p in problems] == [["body", "events", 0, "timestamp"], ["body", "events", 1, "timestamp"]]
        assert all("retention" in p["msg"] for p in problems)
        xlate = c.post("/v1/xapi/statements", json=statement("l1", 60), headers={**h, **XAPI})
        assert xlate.status_code == 400 and "retention" in str(xlate.json()["detail"]), xlate.text
        assert stored_events(service) == before, "nothing of a refused request is stored"

        in_time = c.post("/v1/events", json={"events": [answer("e-29", "l1", 29)]}, headers=h)  # after the horizon, before the latest answer
        assert in_time.status_code == 200 and in_time.json()["stored"] == 1
        assert observations(c, h, "l1") == 6, "the two folded answers, e-mid, e-29 (replayed in place), e-new and the statement"
        assert c.post("/v1/xapi/statements", json=statement("l2", 10), headers={**h, **XAPI}).status_code == 200
        assert observations(c, h, "l2") == 1
    service.engine.dispose()


def test_statements_older_than_the_retention_period_are_refused_like_answers(settings, keys):
    service = Runtime(with_settings(settings, privacy={"retention_days": 30}))
    h = {**auth(keys["platform"]), **XAPI}
    with TestClient(create_app(runtime=service)) as c:
        r = c.post("/v1/xapi/statements", json=[statement("l1", 1), statement("l1", 31)], headers=h)
        assert r.status_code == 400 and "retention" in str(r.json()["detail"]) and "statement 1" in str(r.json()["detail"]), r.text
        assert stored_events(service) == 0
    service.engine.dispose()
