"""Switching the active mastery model without a restart, and refusing a broken artefact."""

from __future__ import annotations

import json
import shutil

from tests.conftest import auth, with_settings
from tutor.runtime import Runtime

EVENT = {"event_id": "o1", "learner_id": "l1", "item_id": "test-scams-1", "correct": True, "timestamp": "2026-11-20T08:00:00Z"}


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
