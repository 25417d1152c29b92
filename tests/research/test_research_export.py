"""The researcher export streams pseudonymised answers that `tutor train` reads back."""

from __future__ import annotations

import json

import pytest

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


def test_parquet_export_is_partitioned_by_day_and_read_back_by_the_trainer(client, keys, runtime, tmp_path, monkeypatch):
    from tutor.research import export

    monkeypatch.setattr(export, "ROW_GROUP", 2)  # several row groups, parts and writer evictions on a small log
    monkeypatch.setattr(export, "MAX_OPEN_FILES", 1)
    events = [{"event_id": f"p{i}", "learner_id": f"VNeID-{i % 3}", "item_id": "test-scams-1", "correct": i % 2 == 0,
               "timestamp": f"2026-11-2{i % 3}T08:0{i}:00Z"} for i in range(9)]
    assert client.post("/v1/events", json={"events": events}, headers=auth(keys["platform"])).status_code == 200
    out = tmp_path / "lake"
    summary = export.export_parquet(runtime.session, runtime.settings.pseudonym_key, out, chunk=4)
    assert summary["rows"] == 9 and summary["days"] == 3 and summary["files"] >= 3
    assert sorted(p.name for p in out.iterdir()) == ["day=2026-11-20", "day=2026-11-21", "day=2026-11-22"]
    lines = [json.loads(x) for x in client.get("/v1/research/events", headers=auth(keys["researcher"])).text.splitlines()]
    log = read_log(out, "events")
    assert len(log) == 9 and sorted(log.learner_ids) == sorted({row["learner_id"] for row in lines})
    assert not any("VNeID" in p.read_bytes().decode("latin-1") for p in out.rglob("*.parquet"))
    assert sorted(log.score.tolist()) == sorted(row["score"] for row in lines)
    with pytest.raises(ValueError, match="not an empty folder"):
        export.export_parquet(runtime.session, runtime.settings.pseudonym_key, out)


def test_research_export_command_writes_a_folder_and_refuses_a_bad_moment(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from tutor.cli import app

    monkeypatch.setenv("TUTOR_DATABASE_URL", f"sqlite:///{tmp_path / 'tutor.db'}")
    runner = CliRunner()
    bad = runner.invoke(app, ["research", "export", "--out", str(tmp_path / "lake"), "--since", "last tuesday"])
    assert bad.exit_code == 2 and "--since 'last tuesday' is not an ISO 8601" in bad.output
    ok = runner.invoke(app, ["research", "export", "--out", str(tmp_path / "lake"), "--since", "2026-11-20"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["rows"] == 0 and (tmp_path / "lake").is_dir()
