"""All eight levels: the framework's 96 skills reach mastery reports, goals, recommendations and placement."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tutor.content.library import load_library
from tutor.recommend.placement import Evidence, PlacementConfig, PlacementModel
from tutor.recommend.policy import LearnerState, Policy, Recommender, SkillRecord, resolve_goal
from tutor.settings import PROJECT_ROOT
from tutor.tracing.artefacts import load_mastery_model
from tutor.tracing.mastery import mastery_report

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def library():
    return load_library(PROJECT_ROOT / "content")


@pytest.fixture(scope="module")
def model():
    return load_mastery_model(PROJECT_ROOT / "models" / "bkt-default")


def test_every_competence_has_a_skill_at_each_band_with_prerequisites_one_band_down(library):
    for code in library.competences:
        bands = {s.band: s for s in library.framework.skills if s.competence == code}
        assert list(bands) == ["basic", "intermediate", "advanced", "specialised"], code
        assert bands["advanced"].prerequisites == [f"{code}-intermediate"] and bands["specialised"].prerequisites == [f"{code}-advanced"]
        assert bands["advanced"].description is not None and bands["advanced"].no_lesson is None and library.lessons_for_skill(f"{code}-advanced")
        specialised = bands["specialised"]
        assert specialised.description is not None and specialised.no_lesson is not None and not library.lessons_for_skill(specialised.id)


@pytest.mark.parametrize(("mastered", "likely", "level", "code"), [
    (["basic", "intermediate"], None, 4, "TC2"),
    (["basic", "intermediate"], "advanced", 5, "NC1"),
    (["basic", "intermediate", "advanced"], None, 6, "NC2"),
    (["basic", "intermediate", "advanced"], "specialised", 7, "CS1"),
    (["basic", "intermediate", "advanced", "specialised"], None, 8, "CS2"),
])
def test_mastery_report_reads_levels_five_to_eight(library, model, mastered, likely, level, code):
    rows = {f"4.2-{b}": (0.99, 10, NOW) for b in mastered}
    if likely:
        rows[f"4.2-{likely}"] = (0.7, 4, NOW)
    report = mastery_report(library, model, rows, 0.95)
    comp = next(c for c in report.competences if c.code == "4.2")
    assert (comp.level, comp.level_code) == (level, code)
    assert len(report.skills) == 96


def test_goals_reach_the_advanced_band_and_say_no_lesson_teaches_the_specialised_one(library, model):
    assert len(resolve_goal(library, "advanced").skills) == 24 and len(resolve_goal(library, "specialised").skills) == 24
    # a competence or domain goal covers the bands lessons teach; a band or skill id aims past them
    assert resolve_goal(library, "4.2").skills == ("4.2-basic", "4.2-intermediate", "4.2-advanced")
    rec = Recommender(Policy())
    state = LearnerState(skills={s: SkillRecord(0.99, 8, NOW - timedelta(hours=2)) for s in library.skills if s.endswith(("-basic", "-intermediate"))})
    advanced = rec.recommend(library, model, state, rec.goal(library, model, "4.2-advanced"), NOW)
    assert not advanced.no_lesson and advanced.recommendations and advanced.recommendations[0].skill_id == "4.2-advanced"
    state.skills["4.2-advanced"] = SkillRecord(0.99, 8, NOW - timedelta(hours=2))
    result = rec.recommend(library, model, state, rec.goal(library, model, "4.2-specialised"), NOW)
    assert result.no_lesson == ["4.2-specialised"] and not result.goal_mastered


def test_placement_reaches_the_advanced_band_and_leaves_the_specialised_one_at_the_prior(library, model):
    """No item measures levels 7-8: a learner strong at levels 1-6 is not passed up to 8 unseen."""
    pm = PlacementModel(library, model, PlacementConfig(ability_points=5, profiles_per_point=16))
    assert len(pm.skills) == 72 and any(s.endswith("-advanced") for s in pm.skills) and not any(s.endswith("-specialised") for s in pm.skills)
    marginals = pm.marginals(pm.weights([Evidence(iid, tuple(item.skills), 1.0) for iid, (_, item) in library.items.items()]))
    report = mastery_report(library, model, {s: (p, 1, NOW) for s, p in marginals.items()}, 0.95)
    assert 4 < max(c.level or 0 for c in report.competences) <= 6
