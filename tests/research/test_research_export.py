"""The researcher export streams pseudonymised answers that `tutor train` reads back."""

from __future__ import annotations

import json

from tests.conftest import auth
from tutor.research.logs import read_log


def test_export_streams_answers_readable_by_the_trainer(client, keys, tmp_path):
    events = [{"event_id": f"r{i}", "learner_id": f"VNeID-{i % 3}", "item_id": "test-scams-1", "correct": i % 2 == 0,
               "timestamp": f"2026-11-20T08:0{i}:00Z"} for i in range(6)]
    client.post("/v1/events", json={"events": events}, headers=auth(keys["platform"]))
    r = client.get("/v1/research/events", headers=auth(keys["researcher"]))
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
    rows = [json.loads(line) for line in r.text.splitlines()]
    assert len(rows) == 6 and all(row["skill_ids"] == ["4.2-basic"] for row in rows)
    assert "VNeID" not in r.text and len({row["learner_id"] for row in rows}) == 3
    path = tmp_path / "answers.jsonl"
    path.write_text(r.text)
    log = read_log(path, "events")
    assert len(log.learner_ids) == 3
    later = client.get("/v1/research/events?since=2026-11-20T08:03:00Z", headers=auth(keys["researcher"]))
    assert len(later.text.splitlines()) == 3
    assert client.get("/v1/research/events", headers=auth(keys["platform"])).status_code == 403
