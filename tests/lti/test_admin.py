"""Registering platforms and deployments: the admin routes (admin scope, audited) and `tutor lti`."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from tests.conftest import auth
from tests.lti.platform import LmsPlatform
from tutor.cli import app
from tutor.store.tables import AuditEntry

PLATFORMS = "/v1/admin/lti/platforms"


def test_only_admins_register_platforms(client, keys):
    body = LmsPlatform().registration()
    assert client.post(PLATFORMS, json=body).status_code == 401
    for scope in ("platform", "researcher", "learner"):
        assert client.post(PLATFORMS, json=body, headers=auth(keys[scope])).status_code == 403
        assert client.get(PLATFORMS, headers=auth(keys[scope])).status_code == 403
        assert client.delete(f"{PLATFORMS}/1", headers=auth(keys[scope])).status_code == 403
    assert client.get(PLATFORMS, headers=auth(keys["admin"])).json() == []


def test_platforms_and_deployments_are_added_listed_and_removed_with_an_audit_trail(client, keys, runtime):
    admin = auth(keys["admin"])
    lms = LmsPlatform()
    r = client.post(PLATFORMS, json=lms.registration(), headers=admin)
    assert r.status_code == 201
    added = r.json()
    assert added["issuer"] == lms.issuer and added["pasted_keys"] == 1 and added["jwks_url"] is None and added["deployments"] == ["deployment-1"]
    assert client.post(PLATFORMS, json=lms.registration(), headers=admin).status_code == 409
    pid = added["id"]
    r = client.post(f"{PLATFORMS}/{pid}/deployments", json={"deployment_id": "deployment-2"}, headers=admin)
    assert r.status_code == 201 and r.json()["deployments"] == ["deployment-1", "deployment-2"]
    assert client.post(f"{PLATFORMS}/{pid}/deployments", json={"deployment_id": "deployment-2"}, headers=admin).status_code == 409
    r = client.delete(f"{PLATFORMS}/{pid}/deployments/deployment-1", headers=admin)
    assert r.status_code == 200 and r.json()["deployments"] == ["deployment-2"]
    assert client.delete(f"{PLATFORMS}/{pid}/deployments/deployment-1", headers=admin).status_code == 404
    assert [p["id"] for p in client.get(PLATFORMS, headers=admin).json()] == [pid]
    assert client.delete(f"{PLATFORMS}/{pid}", headers=admin).status_code == 200
    assert client.delete(f"{PLATFORMS}/{pid}", headers=admin).status_code == 404
    assert client.post(f"{PLATFORMS}/{pid}/deployments", json={"deployment_id": "x"}, headers=admin).status_code == 404
    assert client.get(PLATFORMS, headers=admin).json() == []
    with runtime.session() as s:
        actions = list(s.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions == ["lti.platform.add", "lti.deployment.add", "lti.deployment.remove", "lti.platform.remove"]


@pytest.mark.parametrize(("change", "names"), [
    ({"jwks_url": "https://lms.binhdan.test/jwks"}, "jwks_url"),
    ({"jwks": None}, "jwks_url"),
    ({"login_url": "http://lms.binhdan.test/auth"}, "login_url"),
    ({"jwks": {"keys": []}}, "jwks"),
    ({"jwks": {"keys": [{"kty": "EC", "x": "1", "y": "2"}]}}, "jwks.keys[0]"),
    ({"deployments": []}, "deployments"),
])
def test_a_bad_registration_is_a_4xx_naming_what_to_fix(client, keys, change, names):
    r = client.post(PLATFORMS, json={**LmsPlatform().registration(), **change}, headers=auth(keys["admin"]))
    assert r.status_code == 422 and names in r.text, r.text


def test_a_pasted_private_key_is_refused(client, keys):
    body = LmsPlatform().registration()
    body["jwks"]["keys"][0]["d"] = "secret"
    r = client.post(PLATFORMS, json=body, headers=auth(keys["admin"]))
    assert r.status_code == 422 and "private key" in r.text


def test_the_command_line_registers_a_platform_whose_learners_then_launch(browser, runtime, settings, monkeypatch, tmp_path):
    for name, value in {
        "TUTOR_DATABASE_URL": settings.database_url, "TUTOR_CONTENT_DIR": str(settings.content.content_dir),
        "TUTOR_VAR_DIR": str(settings.service.var_dir), "TUTOR_PSEUDONYM_SECRET": settings.pseudonym_key.decode(),
    }.items():
        monkeypatch.setenv(name, value)
    lms = LmsPlatform()
    keyset = tmp_path / "jwks.json"
    keyset.write_text(json.dumps(lms.jwks()))
    runner = CliRunner()
    result = runner.invoke(app, ["lti", "platforms"])
    assert result.exit_code == 0 and "no LTI platform" in result.output
    args = ["lti", "add-platform", "--issuer", lms.issuer, "--client-id", lms.client_id, "--login-url", lms.login_url,
            "--jwks-file", str(keyset), "--deployment", lms.deployment_id, "--deployment", "deployment-2"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "deployment-1, deployment-2" in result.output
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "already registered" in result.output
    result = runner.invoke(app, ["lti", "platforms"])
    assert lms.issuer in result.output and "1 pasted key(s)" in result.output
    r = browser.get("/lti/login", params=lms.login_params())
    assert browser.post("/lti/launch", data=lms.authorize(r.headers["location"])).status_code == 303
    with runtime.session() as s:
        assert s.scalar(select(AuditEntry.actor).where(AuditEntry.action == "lti.platform.add")) == "cli"
