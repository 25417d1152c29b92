"""The settings object: the only reader of the environment, documented by the README's table."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tutor.settings import ENVIRONMENT, PROJECT_ROOT, SettingsError, configuration_table, load_settings

README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
TEST_ONLY = {"TUTOR_FUZZ_EXAMPLES"}  # read by tests/test_schema_fuzz.py, not by the service


def test_readme_configuration_table_is_the_one_the_code_makes():
    assert configuration_table() in README, "README's configuration table is stale: paste `tutor settings --markdown`"


def test_every_variable_the_readme_names_exists():
    named = set(re.findall(r"TUTOR_[A-Z_]*[A-Z]", README)) - TEST_ONLY
    assert named - set(ENVIRONMENT) == set()


def test_no_module_of_tutor_reads_the_environment_but_settings():
    readers = []
    for path in sorted((PROJECT_ROOT / "tutor").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if path.name != "settings.py" and re.search(r"os\.environ\.get|os\.getenv|os\.environ\[[^\]]+\](?!\s*=)|environ\.copy", text):
            readers.append(str(path.relative_to(PROJECT_ROOT)))
    assert not readers


def test_environment_reaches_its_section_and_shared_names_reach_both(monkeypatch, tmp_path):
    monkeypatch.setenv("TUTOR_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("TUTOR_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/tutor")
    monkeypatch.setenv("TUTOR_MASTERY_THRESHOLD", "0.9")
    monkeypatch.setenv("TUTOR_REC_DIFFICULTY_SLOPE", "0.5")
    monkeypatch.setenv("TUTOR_RETENTION_DAYS", "30")
    s = load_settings()
    assert s.database_url.startswith("postgresql") and not s.embedded
    assert (s.tracing.mastery_threshold, s.recommend.mastery_threshold) == (0.9, 0.9)
    assert (s.recommend.difficulty_slope, s.placement.difficulty_slope) == (0.5, 0.5)
    assert s.privacy.retention_days == 30
    assert len(s.pseudonym_key) == 64 and (tmp_path / "pseudonym-secret").exists()
    assert load_settings().pseudonym_key == s.pseudonym_key  # kept, not redrawn


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("TUTOR_PORT", "99999", "TUTOR_PORT: Input should be less than or equal to 65535"),
        ("TUTOR_MASTERY_THRESHOLD", "high", "TUTOR_MASTERY_THRESHOLD: Input should be a valid number"),
        ("TUTOR_RETENTION_DAYS", "0", "TUTOR_RETENTION_DAYS: Input should be greater than or equal to 1"),
        ("TUTOR_REC_HALF_LIFE_BY_SKILL", "4.2-basic=soon", "TUTOR_REC_HALF_LIFE_BY_SKILL: expected skill=days pairs"),
        ("TUTOR_REC_ZPD_HIGH", "0.5", "zpd_low=0.6 must be below zpd_high=0.5"),
    ],
)
def test_a_bad_value_names_its_variable(monkeypatch, tmp_path, variable, value, says):
    monkeypatch.setenv("TUTOR_VAR_DIR", str(tmp_path))
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert says in str(caught.value)


def test_the_service_refuses_to_start_on_a_bad_value(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "TUTOR_VAR_DIR": str(tmp_path), "TUTOR_WORKERS": "many"}
    done = subprocess.run([sys.executable, "service.py"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "TUTOR_WORKERS: Input should be a valid integer" in done.stderr
    assert "Traceback" not in done.stderr


def test_settings_command_shows_values_in_force_and_hides_the_secret(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from tutor.cli import app

    monkeypatch.setenv("TUTOR_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("TUTOR_PSEUDONYM_SECRET", "do-not-print-me")
    monkeypatch.setenv("TUTOR_REC_ZPD_LOW", "0.55")
    done = CliRunner().invoke(app, ["settings"])
    assert done.exit_code == 0, done.output
    assert "TUTOR_REC_ZPD_LOW=0.55" in done.output and "TUTOR_PSEUDONYM_SECRET=********" in done.output
    assert "do-not-print-me" not in done.output
    monkeypatch.setenv("TUTOR_PORT", "port")
    bad = CliRunner().invoke(app, ["settings"])
    assert bad.exit_code == 2 and "TUTOR_PORT" in bad.output
