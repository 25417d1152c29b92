"""Property-based fuzzing of the OpenAPI schema (schemathesis) on both stores: no 5xx, no schema violation.

The same run against a live server: see README, "Fuzzing the API".
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.conftest import _reset_postgres, make_settings
from tutor.app import create_app
from tutor.privacy.credentials import RateLimiter, create_key
from tutor.runtime import Runtime
from tutor.settings import PROJECT_ROOT

_SCRATCH = Path(tempfile.mkdtemp(prefix="tutor-fuzz-"))
app = create_app(make_settings(f"sqlite:///{_SCRATCH / 'schema.db'}", PROJECT_ROOT / "content", _SCRATCH, b"fuzz"))
schema = schemathesis.openapi.from_asgi("/openapi.json", app)
EXAMPLES = int(os.environ.get("TUTOR_FUZZ_EXAMPLES", "15"))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def fuzz_key(request, tmp_path_factory, content_dir):
    var = tmp_path_factory.mktemp("fuzz")
    if request.param == "sqlite":
        url = f"sqlite:///{var / 'fuzz.db'}"
    else:
        url = request.getfixturevalue("pg_database")
        _reset_postgres(url)
    runtime = Runtime(make_settings(url, content_dir, var, b"fuzz"))
    with runtime.session() as s, s.begin():
        _, key = create_key(s, "fuzz", ["platform", "researcher", "admin"])
    app.state.runtime, app.state.rate_limiter = runtime, RateLimiter()
    yield key
    runtime.engine.dispose()


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_never_fails_and_keeps_its_schema(case, fuzz_key):
    # The key, and the version header every xAPI client sends (its absence is a 400 the xAPI tests check).
    protocol = {"X-Experience-API-Version": "1.0.3"} if case.path.startswith("/v1/xapi") else {}
    case.call_and_validate(headers={**(case.headers or {}), **protocol, "Authorization": f"Bearer {fuzz_key}"})
