"""Audiences: content data, stored on the learner (GET/PUT .../profile), the default goal of /next."""

from __future__ import annotations

import shutil

import pytest
from typer.testing import CliRunner

from tests.conftest import auth
from tutor.cli import app
from tutor.content.library import load_library
from tutor.recommend.policy import resolve_goal
from tutor.settings import PROJECT_ROOT

EVENT = {"event_id": "aud-1", "learner_id": "aud-learner", "item_id": "test-search-1", "correct": True, "timestamp": "2026-11-20T08:00:00Z"}


def test_the_four_audiences_and_their_goals():
    library = load_library(PROJECT_ROOT / "content")
    assert list(library.audiences) == ["officials", "students", "workers", "citizens"]
    citizens = library.audience_goal("citizens")
    assert citizens and all(s.endswith("-basic") for s in citizens) and "2.3-basic" in citizens
    assert "4.2-intermediate" in library.audience_goal("workers")  # level 4 names the intermediate band's skill
    for a in library.audiences.values():
        assert a.name.vi and a.description.en and all(1 <= lvl <= 8 for lvl in a.goal.values())
        assert all(library.lessons_for_skill(s) for s in library.audience_goal(a.id))  # every default goal can be taught
    assert library.audience_for_roles(["http://purl.imsglobal.org/vocab/lis/v2/institution/person#Staff"]) == "officials"
    assert library.audience_for_roles(["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"]) is None


def test_a_bad_audience_file_is_reported_at_its_line(tmp_path):
    root = tmp_path / "content"
    (root / "lessons").mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "content" / "framework.yaml", root / "framework.yaml")
    (root / "audiences.yaml").write_text(
        "- id: farmers\n  name: {vi: Nông dân, en: Farmers}\n  description: {vi: Bà con, en: Farmers}\n  goal: {\"9.9\": 2, \"4.2\": 9, \"1.1\": 7}\n"
    )
    out = CliRunner().invoke(app, ["content", "check", "--dir", str(root), "--lang", "en"]).output
    assert "content/audiences.yaml:4: 0.goal.9.9: unknown competence '9.9'" in out
    assert "0.goal.4.2: level 9 has no skill" in out
    assert "warning: 0.goal.1.1: level 7 has no lesson yet" in out


def test_profile_is_stored_and_sets_the_default_goal_of_next(client, keys):
    platform = auth(keys["platform"])
    assert client.get("/v1/learners/aud-learner/profile", headers=platform).status_code == 404
    assert client.post("/v1/events", json={"events": [EVENT]}, headers=platform).status_code == 200
    r = client.get("/v1/learners/aud-learner/profile?lang=en", headers=platform)
    assert r.status_code == 200 and r.json()["audience"] is None and r.json()["audiences"] == ["officials", "students", "workers", "citizens"]
    before = client.get("/v1/learners/aud-learner/next", headers=platform).json()
    assert before["goal"] == "basic"
    r = client.put("/v1/learners/aud-learner/profile?lang=en", json={"audience": "citizens"}, headers=platform)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["audience"] == "citizens" and body["set_by"] == "platform" and body["name"] == "Citizens" and "4.2-basic" in body["goal_skills"]
    after = client.get("/v1/learners/aud-learner/next", headers=platform).json()
    assert after["goal"] == "audience:citizens" and after["goal_skills"] == body["goal_skills"]
    asked = client.get("/v1/learners/aud-learner/next?goal=1.1-basic", headers=platform).json()
    assert asked["goal"] == "1.1-basic"  # a goal asked for wins over the profile
    bad = client.put("/v1/learners/aud-learner/profile", json={"audience": "farmers"}, headers=platform)
    assert bad.status_code == 422 and "officials, students, workers, citizens" in bad.text
    assert client.put("/v1/learners/aud-learner/profile", json={"audience": None}, headers=platform).json()["audience"] is None


def test_profile_routes_need_the_learner_scopes(client, keys):
    assert client.get("/v1/learners/x/profile").status_code == 401
    assert client.put("/v1/learners/x/profile", json={"audience": "workers"}, headers=auth(keys["researcher"])).status_code == 403
    # a platform may set the profile of a learner it has not sent events for yet
    r = client.put("/v1/learners/new-worker/profile", json={"audience": "workers"}, headers=auth(keys["platform"]))
    assert r.status_code == 200 and r.json()["set_by"] == "platform"


@pytest.mark.parametrize("goal", ["audience:officials", "audience:students,4.1-basic"])
def test_audience_goals_resolve(goal):
    library = load_library(PROJECT_ROOT / "content")
    skills = resolve_goal(library, goal).skills
    assert set(library.audience_goal(goal.split(",")[0].removeprefix("audience:"))) <= set(skills)


def test_the_profile_is_part_of_the_learner_export(client, keys):
    platform = auth(keys["platform"])
    assert client.put("/v1/learners/exported-1/profile", json={"audience": "students"}, headers=platform).status_code == 200
    exported = client.get("/v1/learners/exported-1/export", headers=platform)
    assert exported.status_code == 200, exported.text
    assert exported.json()["profile"]["audience"] == "students" and exported.json()["profile"]["set_by"] == "platform"
