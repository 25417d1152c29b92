"""/metrics (Prometheus) with the operations scope and no learner id in it; the request id in headers and
log lines; the workers' metrics added up in multiprocess mode; a scrape that answers during an outage."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import auth, with_settings
from tutor.app import create_app
from tutor.operations import metrics, request_ids
from tutor.privacy.credentials import create_key
from tutor.runtime import Runtime
from tutor.settings import PROJECT_ROOT
from tutor.store.outage_relay import OutageRelay

EVENT = {"event_id": "m1", "learner_id": "learner-secret-77", "item_id": "test-scams-1", "correct": True, "timestamp": "2026-11-20T08:00:00Z"}


def samples(body: str) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for f in text_string_to_metric_families(body) for s in f.samples}


@pytest.fixture
def operations_key(runtime) -> str:
    with runtime.session() as s, s.begin():
        return create_key(s, "prometheus", ["operations"])[1]


def test_metrics_need_the_operations_scope(client, keys, operations_key):
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=auth(keys["platform"])).status_code == 403
    r = client.get("/metrics", headers=auth(operations_key))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert client.get("/metrics", headers=auth(keys["admin"])).status_code == 200


def test_requests_events_model_and_pool_are_counted_without_learner_ids(client, keys, operations_key, runtime):
    h = auth(keys["platform"])
    before = samples(client.get("/metrics", headers=auth(operations_key)).text)
    assert client.post("/v1/events", json={"events": [EVENT, {**EVENT, "event_id": "m2"}]}, headers=h).json()["stored"] == 2
    assert client.post("/v1/events", json={"events": [EVENT]}, headers=h).json()["duplicates"] == 1
    statement = {"actor": {"account": {"homePage": "https://p.vn", "name": "learner-secret-77"}},
                 "verb": {"id": "http://adlnet.gov/expapi/verbs/launched"}, "object": {"id": "https://p.vn/courses/x"}}
    assert client.post("/v1/xapi/statements", json=statement, headers={**h, "X-Experience-API-Version": "1.0.3"}).status_code == 200
    client.get("/v1/learners/learner-secret-77/mastery", headers=h)
    body = client.get("/metrics", headers=auth(operations_key)).text
    after = samples(body)

    def grew(name: str, **labels) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert grew("tutor_events_total", source="events", kind="answer", outcome="stored") == 2
    assert grew("tutor_events_total", source="events", kind="answer", outcome="duplicate") == 1
    assert grew("tutor_events_skipped_total", reason="untracked_verb") == 1
    assert grew("tutor_http_requests_total", method="POST", route="/v1/events", status="200") == 2
    assert grew("tutor_http_requests_total", method="GET", route="/v1/learners/{learner_id}/mastery", status="200") == 1
    assert grew("tutor_http_request_duration_seconds_count", method="GET", route="/v1/learners/{learner_id}/mastery") == 1
    assert after[("tutor_model_info", (("version", runtime.model.version),))] == 1
    if runtime.engine.dialect.name == "postgresql":
        assert after[("tutor_db_pool_size", ())] == runtime.engine.pool.size()
        assert ("tutor_db_pool_connections", (("state", "checked_out"),)) in after
    assert "learner-secret-77" not in body and runtime.pseudonym("learner-secret-77") not in body and "m1" not in body


def test_every_response_and_log_line_carries_the_request_id(client, keys, caplog):
    handler_filter = request_ids.RequestIdFilter()
    caplog.handler.addFilter(handler_filter)
    try:
        with caplog.at_level(logging.INFO, logger="tutor"):
            sent = client.get("/v1/learners/l1/mastery", headers={**auth(keys["platform"]), "X-Request-ID": "trace-0123456789abcdef"})
            made = client.get("/health", headers={"X-Request-ID": "not sane; DROP \"learner-1\""})
            failed = client.post("/v1/events", content=b"{", headers={**auth(keys["platform"]), "Content-Type": "application/json"})
    finally:
        caplog.handler.removeFilter(handler_filter)
    assert sent.headers["X-Request-ID"] == "trace-0123456789abcdef"
    assert len(made.headers["X-Request-ID"]) == 32 and made.headers["X-Request-ID"] != "not sane"
    assert failed.status_code in (400, 422) and failed.headers["X-Request-ID"]
    access = {r.getMessage().split()[1]: r.request_id for r in caplog.records if r.name == "tutor.access"}
    assert access["/v1/learners/{learner_id}/mastery"] == "trace-0123456789abcdef"
    assert access["/health"] == made.headers["X-Request-ID"] and access["/v1/events"] == failed.headers["X-Request-ID"]
    assert request_ids.current.get() == "-", "the id does not leak past its request"


WORKER = """
from tutor.operations import metrics
for _ in range({n}):
    metrics.observe_request("POST", "/v1/events", 200, 0.01)
metrics.count_events([("events", "answer", "stored", None)] * {n})
"""


def test_workers_metrics_are_added_up_in_multiprocess_mode(tmp_path):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PYTHONPATH": str(PROJECT_ROOT)}
    for n in (3, 4):
        subprocess.run([sys.executable, "-c", WORKER.format(n=n)], env=env, check=True, cwd=PROJECT_ROOT)
    got = samples(metrics.exposition(tmp_path).decode())
    assert got[("tutor_http_requests_total", (("method", "POST"), ("route", "/v1/events"), ("status", "200")))] == 7
    assert got[("tutor_events_total", (("kind", "answer"), ("outcome", "stored"), ("source", "events")))] == 7


def test_a_recently_verified_key_scrapes_through_a_database_outage(settings, keys, runtime, operations_key):
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("the outage is staged on the PostgreSQL store, reached through a relay the test can cut")
    proxy = OutageRelay()
    through_proxy = Runtime(with_settings(settings, store={"database_url": settings.database_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")}), migrate=False)
    with TestClient(create_app(runtime=through_proxy)) as c:
        assert c.get("/metrics", headers=auth(operations_key)).status_code == 200
        proxy.cut()
        r = c.post("/v1/events", json={"events": [EVENT]}, headers=auth(keys["platform"]))
        assert r.status_code == 503
        scrape = c.get("/metrics", headers=auth(operations_key))
        assert scrape.status_code == 200 and 'route="/v1/events",status="503"' in scrape.text
        assert c.get("/metrics", headers=auth(keys["admin"])).status_code == 503, "a key not verified before the outage is not taken on trust"
        proxy.restore()
    through_proxy.engine.dispose()
    proxy.close()
