"""Fixtures of the page tests: a browser-like client (https, so the Secure cookie is sent) and sign-in helpers."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.conftest import with_settings
from tutor.app import create_app
from tutor.privacy.credentials import create_key
from tutor.research.reports import write_report
from tutor.runtime import Runtime
from tutor.settings import PROJECT_ROOT

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


@pytest.fixture
def models_dir(tmp_path):
    """Two artefacts (one active), the second with an evaluation report and its plots."""
    root = tmp_path / "models"
    for name in ("bkt-default", "bkt-synthetic-v1"):
        shutil.copytree(PROJECT_ROOT / "models" / name, root / name)
    (root / "active").write_text("bkt-default\n")
    rng = np.random.default_rng(1)
    p = rng.uniform(size=200)
    y = (rng.uniform(size=200) < p).astype(float)
    write_report(root / "bkt-synthetic-v1" / "evaluation" / "synthetic", p, y, y, {"auc": 0.8, "rmse": 0.4, "accuracy": 0.7, "log_loss": 0.5, "n": 200,
                 "mean_prediction": 0.5, "mean_outcome": 0.5}, {"model": "bkt-synthetic-v1", "kind": "bkt", "data": "x.csv", "format": "events",
                 "data_sha256": "0" * 64, "protocol": "holdout"})
    return root


@pytest.fixture
def page_runtime(settings, models_dir):
    """The shared test settings with the BM25 encoder (no model to load) and the artefacts above."""
    s = with_settings(settings, answering={"encoder": "bm25"}, tracing={"models_dir": models_dir})
    s.service.var_dir.mkdir(parents=True, exist_ok=True)
    rt = Runtime(s)
    yield rt
    rt.engine.dispose()


@pytest.fixture
def page_keys(page_runtime):
    out = {}
    with page_runtime.session() as s, s.begin():
        for scope in ("platform", "researcher", "admin"):
            out[scope] = create_key(s, scope, [scope])[1]
        out["learner"] = create_key(s, "learner", ["learner"], page_runtime.pseudonym("learner-1"))[1]
    return out


@pytest.fixture
def browser(page_runtime):
    with TestClient(create_app(runtime=page_runtime), base_url="https://testserver") as c:
        yield c


def sign_in_with(client: TestClient, key: str):
    form = client.get("/signin")
    return client.post("/signin", data={"csrf": csrf_of(form.text), "key": key}, follow_redirects=False)
