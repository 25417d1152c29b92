"""Fixtures of the LTI tests: an https client (so the Secure cookies travel) and a registered test platform."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.lti.platform import LmsPlatform
from tutor.app import create_app
from tutor.lti.keysets import key_sets


@pytest.fixture
def browser(runtime):
    """A browser inside the LMS's frame: https, cookies kept, redirects not followed."""
    key_sets.clear()
    with TestClient(create_app(runtime=runtime), base_url="https://testserver", follow_redirects=False) as c:
        yield c
    key_sets.clear()


@pytest.fixture
def lms(browser, keys):
    """A platform registered with its key set pasted."""
    platform = LmsPlatform()
    platform.register(browser, keys["admin"])
    yield platform
    platform.close()
