"""The recommendation policy in process, over the full library: prerequisites, forgetting, ZPD, goals, determinism."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tutor.content.library import load_library
from tutor.recommend.policy import (
    GoalError,
    LearnerState,
    Policy,
    Recommender,
    SkillRecord,
    decayed,
    explain,
    resolve_goal,
)
from tutor.settings import PROJECT_ROOT, SettingsError, load_settings
from tutor.tracing.artefacts import load_mastery_model

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def library():
    return load_library(PROJECT_ROOT / "content")


@pytest.fixture(scope="module")
def model():
    """The hand-set artefact: every skill has the same parameters, so the policy's rules are what differ."""
    return load_mastery_model(PROJECT_ROOT / "models" / "bkt-default")


def mastered(*skills: str, days_ago: float = 0.5, n: int = 6, p: float = 0.99) -> dict[str, SkillRecord]:
    return {s: SkillRecord(p, n, NOW - timedelta(days=days_ago)) for s in skills}


def run(library, model, state, goal=None, policy=None, **kw):
    rec = Recommender(policy or Policy())
    return rec.recommend(library, model, state, rec.goal(library, model, goal), NOW, **kw)


def test_goals_resolve_and_bad_goals_name_the_problem(library):
    assert resolve_goal(library, "4.2").skills == ("4.2-basic", "4.2-intermediate", "4.2-advanced")
    assert len(resolve_goal(library, "4").skills) == 12
    assert len(resolve_goal(library, None).skills) == 24  # default: the basic band
    assert resolve_goal(library, "1.1-basic, 4.2").skills == ("1.1-basic", "4.2-basic", "4.2-intermediate", "4.2-advanced")
    for bad, needle in (("9.9", "'9.9' is not"), ("4.2,", "empty part"), ("", "empty part"), ("basics", "'basics'")):
        with pytest.raises(GoalError, match=needle):
            resolve_goal(library, bad)


def test_only_skills_whose_prerequisites_are_mastered_are_proposed(library, model):
    result = run(library, model, LearnerState(), n=50)
    assert result.recommendations
    for r in result.recommendations:
        assert not library.skills[r.skill_id].prerequisites, r.skill_id  # nothing known: roots only
    # 4.2-basic needs 4.1-basic and 1.2-basic (which needs 1.1-basic)
    ids = lambda res: {r.skill_id for r in res.recommendations}  # noqa: E731
    state = LearnerState(skills=mastered("4.1-basic", "1.1-basic"))
    assert "4.2-basic" not in ids(run(library, model, state, "4.2-basic", n=50))
    assert "1.2-basic" in ids(run(library, model, state, "4.2-basic", n=50))
    state.skills.update(mastered("1.2-basic"))
    res = run(library, model, state, "4.2-basic", n=50)
    # 4.2-basic is taught by several lessons (spotting-scams, finding-work-online-safely, vietqr-payments): each is proposed, all as ready
    teaching = {lid for lid, lesson in library.lessons.items() if "4.2-basic" in lesson.skills}
    assert {"spotting-scams", "finding-work-online-safely"} <= teaching
    assert [r.skill_id for r in res.recommendations] == ["4.2-basic"] * len(teaching) and {r.reason for r in res.recommendations} == {"ready"}
    assert {r.lesson_id for r in res.recommendations} == teaching
    assert "prerequisites are done" in explain(res.recommendations[0], library, "en")
    assert "cần có trước đã hoàn thành" in explain(res.recommendations[0], library, "vi")


def test_prerequisites_outside_the_goal_come_as_remediation(library, model):
    res = run(library, model, LearnerState(skills=mastered("4.1-basic")), "4.2-basic", n=10)
    assert [(r.skill_id, r.reason) for r in res.recommendations] == [("1.1-basic", "remediate")]
    assert res.recommendations[0].waiting_on_it == "4.2-basic"
    assert "before 4.2 basic" in explain(res.recommendations[0], library, "en")


def test_a_mastered_skill_returns_only_once_it_has_decayed(library, model):
    fresh = LearnerState(skills=mastered("4.1-basic", "1.1-basic", "1.2-basic", "4.2-basic", days_ago=2))
    res = run(library, model, fresh, "4.2-basic")
    assert res.recommendations == [] and res.goal_mastered
    old = LearnerState(skills=mastered("4.1-basic", "1.1-basic", "1.2-basic", days_ago=2) | mastered("4.2-basic", days_ago=90))
    res = run(library, model, old, "4.2-basic")
    assert {(r.skill_id, r.reason) for r in res.recommendations} == {("4.2-basic", "review")}
    assert not res.goal_mastered
    r = res.recommendations[0]
    assert r.p_mastered < Policy().review_threshold and round(r.days_since_practice) == 90
    assert "90 days ago" in explain(r, library, "en")
    # the day it crosses the review threshold: half-life 30 d * (1 + 6/12) = 45 d, floor = prior
    prior = model.params("4.2-basic").prior
    h = Policy().half_life("4.2-basic", 6)
    assert h == 45.0
    assert decayed(0.99, prior, h, h) == pytest.approx(prior + (0.99 - prior) / 2)
    crossing = next(d for d in range(1, 200) if decayed(0.99, prior, d, h) < Policy().review_threshold)
    before = LearnerState(skills=mastered("4.1-basic", "1.1-basic", "1.2-basic") | mastered("4.2-basic", days_ago=crossing - 1))
    after = LearnerState(skills=mastered("4.1-basic", "1.1-basic", "1.2-basic") | mastered("4.2-basic", days_ago=crossing))
    assert run(library, model, before, "4.2-basic").recommendations == []
    assert run(library, model, after, "4.2-basic").recommendations[0].reason == "review"


def test_ranked_by_gain_and_zpd_not_course_order(library, model):
    # 4.3-basic and 4.4-basic have the same structure (no prerequisites, nothing basic after them);
    # 4.4-basic half learned (predicted success in the ZPD band) goes first, though 4.3 comes first in the course
    goal = "4.3-basic,4.4-basic"
    state = LearnerState(skills={"4.4-basic": SkillRecord(0.75, 4, NOW - timedelta(days=1))})
    res = run(library, model, state, goal)
    top = res.recommendations[0]
    assert [r.skill_id for r in res.recommendations] == ["4.4-basic", "4.3-basic"] and top.in_zpd
    assert Policy().zpd_low <= top.p_success <= Policy().zpd_high
    assert top.expected_gain < res.recommendations[1].expected_gain
    no_zpd = run(library, model, state, goal, policy=Policy(zpd_weight=0.0))
    assert [r.skill_id for r in no_zpd.recommendations] == ["4.3-basic", "4.4-basic"]
    # unlocking: with nothing known, a root many goal skills wait on (1.1-basic) leads
    assert run(library, model, LearnerState()).recommendations[0].skill_id == "1.1-basic"


def test_recent_lessons_are_not_repeated_and_answers_are_deterministic(library, model):
    state = LearnerState()
    first = run(library, model, state, n=3)
    again = run(library, model, state, n=3)
    assert [r.lesson_id for r in first.recommendations] == [r.lesson_id for r in again.recommendations]
    top = first.recommendations[0].lesson_id
    state.recent_lessons[top] = NOW - timedelta(minutes=10)
    res = run(library, model, state, n=3)
    assert top not in [r.lesson_id for r in res.recommendations] and res.recently_done == [top]
    state.recent_lessons[top] = NOW - timedelta(minutes=Policy().recent_minutes + 1)
    assert run(library, model, state, n=3).recommendations[0].lesson_id == top


def test_allowed_set_and_the_best_step_outside_it(library, model):
    full = run(library, model, LearnerState(), n=5)
    best, second = full.recommendations[0].lesson_id, full.recommendations[1].lesson_id
    res = run(library, model, LearnerState(), n=5, allowed=[second, "protecting-your-phone"])
    assert {r.lesson_id for r in res.recommendations} <= {second, "protecting-your-phone"}
    assert res.outside_allowed is not None and res.outside_allowed.lesson_id == best
    inside = run(library, model, LearnerState(), n=5, allowed=[best])
    assert [r.lesson_id for r in inside.recommendations] == [best] and inside.outside_allowed is None
    items = run(library, model, LearnerState(), n=4, kind="item", allowed=[second])
    assert len(items.recommendations) == 4 and all(r.item_id.startswith(second) and r.kind == "item" for r in items.recommendations)


def test_policy_from_environment_and_its_checks(monkeypatch, tmp_path):
    env = {"TUTOR_REC_ZPD_LOW": "0.5", "TUTOR_REC_HALF_LIFE_BY_SKILL": "4.2-basic=10, 1.1-basic=60", "TUTOR_MASTERY_THRESHOLD": "0.9",
           "TUTOR_REC_SUGGEST_PLACEMENT": "false", "TUTOR_VAR_DIR": str(tmp_path)}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    p = load_settings().recommend
    assert p.zpd_low == 0.5 and p.mastery_threshold == 0.9 and not p.suggest_placement
    assert p.half_life("4.2-basic", 0) == 10 and p.half_life("2.1-basic", 0) == 30
    monkeypatch.setenv("TUTOR_REC_ZPD_LOW", "0.9")
    with pytest.raises(SettingsError, match="zpd_low"):
        load_settings()
    monkeypatch.setenv("TUTOR_REC_ZPD_LOW", "0.5")
    monkeypatch.setenv("TUTOR_REC_ZPD_WEIGHT", "lots")
    with pytest.raises(SettingsError, match="TUTOR_REC_ZPD_WEIGHT: .*valid number"):
        load_settings()
