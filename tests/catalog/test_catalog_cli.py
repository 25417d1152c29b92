"""`tutor catalog import`: one JSON object on stdout; a broken package exits 2 naming the file inside it."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tests.catalog.test_olx import DEMO
from tests.catalog.test_scorm import write_zip
from tutor.cli import app


@pytest.fixture
def environment(settings, monkeypatch):
    for name, value in {
        "TUTOR_DATABASE_URL": settings.database_url, "TUTOR_CONTENT_DIR": str(settings.content.content_dir),
        "TUTOR_VAR_DIR": str(settings.service.var_dir), "TUTOR_PSEUDONYM_SECRET": settings.pseudonym_key.decode(),
        "TUTOR_CATALOG_ACCEPT_CONFIDENCE": "0.99", "TUTOR_CATALOG_ALIGNER_ENCODER": "bm25",
    }.items():
        monkeypatch.setenv(name, value)


def test_importing_the_demo_course_prints_its_report(runtime, environment):
    if not DEMO.is_file():
        pytest.skip(f"the Open edX demo course export is not at {DEMO}")
    result = CliRunner().invoke(app, ["catalog", "import", str(DEMO)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["activities"], report["lessons"], report["items"], report["ungraded"]) == (318, 209, 20, 89)
    assert report["aligned"] + report["review"] == 229 and report["course"] == "course-v1:OpenedX+DemoX+DemoCourse"
    again = json.loads(CliRunner().invoke(app, ["catalog", "import", str(DEMO), "--no-align"]).stdout)
    assert (again["unchanged"], again["added"]) == (318, 0)


def test_a_broken_package_exits_2_naming_the_file(runtime, environment, tmp_path):
    package = write_zip(tmp_path / "broken.zip", {"imsmanifest.xml": "<manifest"})
    result = CliRunner().invoke(app, ["catalog", "import", str(package), "--platform", "moodle"])
    assert result.exit_code == 2 and "imsmanifest.xml" in result.output
