"""An LTI launch's roles set the learner's audience when the learner has none; a chosen one is kept."""

from __future__ import annotations

from tests.conftest import auth
from tests.lti.test_launch import start
from tutor.lti.launch import learner_id
from tutor.store.tables import Learner

STUDENT = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Student"
STAFF = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Staff"


def launch(browser, lms, sub: str, roles: list[str]) -> None:
    r = browser.post("/lti/launch", data=lms.authorize(start(browser, lms).headers["location"], sub=sub, **{
        "https://purl.imsglobal.org/spec/lti/claim/roles": roles}))
    assert r.status_code == 303, r.text


def audience(runtime, lms, sub: str) -> tuple[str | None, str | None]:
    with runtime.session() as s:
        row = s.get(Learner, runtime.pseudonym(learner_id(lms.issuer, sub)))
        return row.audience, row.audience_set_by


def test_roles_fill_an_empty_profile_only(browser, lms, runtime, keys):
    launch(browser, lms, "student-1", ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner", STUDENT])
    assert audience(runtime, lms, "student-1") == ("students", "lti")
    launch(browser, lms, "plain-1", ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"])
    assert audience(runtime, lms, "plain-1") == (None, None)  # a course role says nothing about who the learner is
    platform_id = learner_id(lms.issuer, "chosen-1")
    assert browser.put(f"/v1/learners/{platform_id}/profile", json={"audience": "workers"}, headers=auth(keys["platform"])).status_code == 200
    launch(browser, lms, "chosen-1", [STAFF])
    assert audience(runtime, lms, "chosen-1") == ("workers", "platform")
