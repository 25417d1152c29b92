"""The LTI 1.3 flow through the app: login → the platform's auth endpoint → launch → a learner's page session."""

from __future__ import annotations

import logging
from datetime import timedelta
from html import escape
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, inspect, select, text

from tests.lti.platform import LmsPlatform, new_key
from tutor.app import create_app
from tutor.clock import utcnow
from tutor.lti.keysets import KeySets
from tutor.lti.launch import learner_id, use_nonce
from tutor.lti.platforms import Registration
from tutor.lti.refusals import REASONS
from tutor.pages.sessions import COOKIE, LEARNER_HOME, opened
from tutor.runtime import Runtime
from tutor.store.tables import Learner, LtiNonce, LtiToolKey


def start(browser, lms: LmsPlatform, method: str = "GET", **params):
    args = lms.login_params(**params)
    r = browser.get("/lti/login", params=args) if method == "GET" else browser.post("/lti/login", data=args)
    assert r.status_code == 302, r.text
    return r


def refused(r, reason: str) -> None:
    status, vi, en = REASONS[reason]
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("text/html")
    assert escape(vi) in r.text and escape(en) in r.text, r.text
    assert COOKIE not in r.cookies


def every_stored_text(runtime) -> str:
    """Every value in every table, as text: what a search for a raw id would look through."""
    with runtime.engine.connect() as conn:
        names = inspect(conn).get_table_names()
        return "\n".join(str(row) for name in names for row in conn.execute(text(f'SELECT * FROM "{name}"')))


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_launch_signs_the_learner_in_as_a_pseudonym(browser, lms, runtime, method):
    r = start(browser, lms, method)
    target = urlsplit(r.headers["location"])
    query = {k: v[0] for k, v in parse_qs(target.query).items()}
    assert query["redirect_uri"] == "https://testserver/lti/launch"
    set_cookie = r.headers["set-cookie"]
    assert f"lti_state_{query['state']}=" in set_cookie
    assert all(flag in set_cookie.lower() for flag in ("httponly", "secure", "samesite=none", "max-age=600", "path=/lti"))

    r = browser.post("/lti/launch", data=lms.authorize(r.headers["location"]))
    assert r.status_code == 303, r.text
    assert r.headers["location"] == LEARNER_HOME
    session = opened(browser.cookies[COOKIE], runtime.settings.session_key)
    expected = runtime.pseudonym(learner_id(lms.issuer, "moodle-user-1234"))
    assert session and session["learner"] == expected and session["scopes"] == ["learner"] and session["label"] == "lti"
    with runtime.session() as s:
        assert s.get(Learner, expected) is not None
        assert s.scalar(select(LtiNonce.digest)) is not None
    stored = every_stored_text(runtime)
    assert "moodle-user-1234" not in stored and "Nguyễn Văn An" not in stored and "an.nguyen@example.vn" not in stored
    assert query["nonce"] not in stored


def test_the_same_learner_comes_back_to_the_same_pseudonym_and_another_platform_gets_another(browser, lms, keys, runtime):
    openedx = LmsPlatform(issuer="https://openedx.binhdan.test", login_url="https://openedx.binhdan.test/auth")
    openedx.register(browser, keys["admin"])
    pseudonyms = []
    for platform in (lms, lms, openedx):
        r = browser.post("/lti/launch", data=platform.authorize(start(browser, platform).headers["location"]))
        assert r.status_code == 303
        pseudonyms.append(opened(browser.cookies[COOKIE], runtime.settings.session_key)["learner"])
    assert pseudonyms[0] == pseudonyms[1] != pseudonyms[2]


def test_a_jwks_url_is_fetched_once_and_again_when_the_platform_rotates_its_key(browser, keys):
    lms = LmsPlatform(issuer="https://canvas.binhdan.test", login_url="https://canvas.binhdan.test/auth")
    try:
        lms.register(browser, keys["admin"], jwks_url=lms.serve_jwks())
        for _ in range(2):
            assert browser.post("/lti/launch", data=lms.authorize(start(browser, lms).headers["location"])).status_code == 303
        assert lms.jwks_requests == 1
        lms.rotate_key("lms-key-2")
        assert browser.post("/lti/launch", data=lms.authorize(start(browser, lms).headers["location"])).status_code == 303
        assert lms.jwks_requests == 2
        r = browser.post("/lti/launch", data=lms.authorize(start(browser, lms).headers["location"], kid="no-such-key"))
        refused(r, "forged")
        assert lms.jwks_requests == 2  # refetched at most once per 10 s, whatever kids forged tokens name
    finally:
        lms.close()


def test_an_unreachable_jwks_url_is_a_page_not_a_5xx(browser, keys):
    lms = LmsPlatform(issuer="https://down.binhdan.test", login_url="https://down.binhdan.test/auth")
    url = lms.serve_jwks()
    lms.close()
    lms.register(browser, keys["admin"], jwks_url=url)
    refused(browser.post("/lti/launch", data=lms.authorize(start(browser, lms).headers["location"])), "keys_unavailable")


@pytest.mark.parametrize(("token", "reason"), [
    ({"key": new_key()}, "forged"),
    ({"algorithm": "HS256"}, "forged"),
    ({"aud": "another-tool"}, "wrong_audience"),
    ({"aud": ["another-tool", "tutor-test"], "azp": "another-tool"}, "wrong_audience"),
    ({"aud": ["another-tool", "tutor-test"]}, "wrong_audience"),
    ({"iss": "https://evil.test"}, "wrong_issuer"),
    ({"https://purl.imsglobal.org/spec/lti/claim/deployment_id": "deployment-9"}, "unknown_deployment"),
    ({"exp": 1_700_000_000, "iat": 1_699_999_000}, "expired"),
    ({"nbf": 4_102_444_800}, "expired"),
    ({"nonce": "a-nonce-this-login-never-made"}, "replayed"),
    ({"nonce": "một nonce khác"}, "replayed"),
    ({"nonce": 42}, "replayed"),
    ({"https://purl.imsglobal.org/spec/lti/claim/message_type": "LtiDeepLinkingRequest"}, "wrong_message"),
    ({"https://purl.imsglobal.org/spec/lti/claim/version": "1.1"}, "wrong_message"),
    ({"sub": None}, "missing"),
    ({"sub": ""}, "bad_user"),
])
def test_a_bad_token_is_refused_with_a_page_saying_why(browser, lms, runtime, token, reason):
    r = browser.post("/lti/launch", data=lms.authorize(start(browser, lms).headers["location"], **token))
    refused(r, reason)
    with runtime.session() as s:
        assert s.scalar(select(Learner)) is None


def test_a_list_audience_with_azp_is_accepted(browser, lms):
    form = lms.authorize(start(browser, lms).headers["location"], aud=["tutor-test", "another-tool"], azp="tutor-test")
    assert browser.post("/lti/launch", data=form).status_code == 303


def test_a_token_is_accepted_once(browser, lms):
    location = start(browser, lms).headers["location"]
    form = lms.authorize(location)
    state_cookie = f"lti_state_{form['state']}"
    value = browser.cookies[state_cookie]
    assert browser.post("/lti/launch", data=form).status_code == 303
    browser.cookies.set(state_cookie, value, domain="testserver.local", path="/lti")  # the attacker kept the cookie too
    refused(browser.post("/lti/launch", data=form), "replayed")
    # the same token with a fresh login's state: that login's nonce is another one
    fresh = lms.authorize(start(browser, lms).headers["location"])
    refused(browser.post("/lti/launch", data={"id_token": form["id_token"], "state": fresh["state"]}), "replayed")


def test_a_launch_without_its_login_is_refused(browser, lms):
    form = lms.authorize(start(browser, lms).headers["location"])
    browser.cookies.clear()
    refused(browser.post("/lti/launch", data=form), "missing_state")
    refused(browser.post("/lti/launch", data={"id_token": form["id_token"]}), "missing_state")
    refused(browser.post("/lti/launch", data={"id_token": form["id_token"], "state": "../../etc"}), "missing_state")


def test_a_forged_state_cookie_or_a_missing_token_is_refused(browser, lms):
    form = lms.authorize(start(browser, lms).headers["location"])
    name = f"lti_state_{form['state']}"
    good = browser.cookies[name]
    browser.cookies.set(name, good[:-4] + "AAAA", domain="testserver.local", path="/lti")
    refused(browser.post("/lti/launch", data=form), "bad_state")
    browser.cookies.set(name, good, domain="testserver.local", path="/lti")
    refused(browser.post("/lti/launch", data={"state": form["state"]}), "missing")
    refused(browser.post("/lti/launch", data={"state": form["state"], "id_token": "not.a.jwt"}), "malformed")
    refused(browser.post("/lti/launch", content=b"id_token=\xff\xfe&state=x", headers={"content-type": "application/x-www-form-urlencoded"}), "unreadable_form")


@pytest.mark.parametrize(("params", "reason"), [
    ({"iss": "https://unknown-lms.test"}, "unknown_platform"),
    ({"client_id": "not-ours"}, "unknown_platform"),
    ({"lti_deployment_id": "deployment-9"}, "unknown_deployment"),
    ({"login_hint": None}, "missing"),
    ({"iss": None}, "missing"),
])
def test_a_login_from_an_unregistered_platform_is_refused(browser, lms, params, reason):
    refused(browser.get("/lti/login", params=lms.login_params(**params)), reason)


def test_a_login_without_client_id_finds_the_issuers_only_platform(browser, lms):
    assert start(browser, lms, client_id=None, lti_deployment_id=None).status_code == 302


def test_used_nonces_are_purged_when_past_their_time(runtime):
    now = utcnow()
    with runtime.session() as s, s.begin():
        use_nonce(s, "old", now - timedelta(seconds=1), now - timedelta(hours=1))
        use_nonce(s, "recent", now + timedelta(minutes=5), now - timedelta(hours=1))
    with runtime.session() as s, s.begin():
        use_nonce(s, "new", now + timedelta(minutes=10), now)
    with runtime.session() as s:
        assert s.scalar(select(func.count()).select_from(LtiNonce)) == 2


def test_the_tool_key_set_is_shared_by_every_worker(browser, runtime, settings):
    first = browser.get("/lti/jwks")
    assert first.status_code == 200
    (key,) = first.json()["keys"]
    assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig" and "d" not in key and key["kid"]
    other = Runtime(settings)
    try:
        with TestClient(create_app(runtime=other)) as second:
            assert second.get("/lti/jwks").json() == first.json()
    finally:
        other.engine.dispose()
    with runtime.session() as s:
        assert s.scalar(select(func.count()).select_from(LtiToolKey)) == 1


def test_a_key_set_is_fetched_again_once_its_time_to_live_is_over(lms):
    fetched = []

    def fetch(url: str) -> dict:
        fetched.append(url)
        return lms.jwks()

    registration = Registration(1, lms.issuer, lms.client_id, lms.login_url, None, "https://lms.binhdan.test/jwks", None, ("deployment-1",))
    fresh, stale = KeySets(fetch, ttl=3600), KeySets(fetch, ttl=0)
    for sets in (fresh, fresh, stale, stale):
        assert sets.key(registration, lms.kid) is not None
    assert len(fetched) == 3


def test_raw_learner_ids_never_reach_the_logs(browser, lms, caplog):
    caplog.set_level(logging.DEBUG)
    assert browser.post("/lti/launch", data=lms.authorize(start(browser, lms).headers["location"])).status_code == 303
    refused(browser.post("/lti/launch", data=lms.authorize(start(browser, lms).headers["location"], aud="x")), "wrong_audience")
    assert caplog.records and not any(word in caplog.text for word in ("moodle-user-1234", "Nguyễn Văn An", "an.nguyen@example.vn"))
