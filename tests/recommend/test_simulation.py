"""Simulated learners: reproducible, the recommender beats course order on a small population, the CLI prints JSON."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tests.tracing.next_answer_artefact import service_models
from tutor.content.library import load_library
from tutor.recommend.policy import NextAnswerSuccessPredictor
from tutor.recommend.simulation import SimConfig, World, simulate
from tutor.settings import PROJECT_ROOT
from tutor.tracing.artefacts import active_model_dir, load_mastery_model
from tutor.tracing.next_answer import load_artefact


@pytest.fixture(scope="module")
def world_parts():
    return load_library(PROJECT_ROOT / "content"), load_mastery_model(active_model_dir(PROJECT_ROOT / "models"))


def test_same_seed_same_learners_and_outcomes(world_parts):
    library, model = world_parts
    cfg = SimConfig(learners=20, seed=11, budget=120, goal="4")
    a = simulate(library, model, "ours", cfg)
    b = simulate(library, model, "ours", cfg)
    assert {**a, "seconds": 0} == {**b, "seconds": 0}
    world = World(library, model, cfg)
    assert world.run_learner(3, "fixed") == world.run_learner(3, "fixed")
    assert a["mean_known_goal_skills_at_start"] == simulate(library, model, "fixed", cfg)["mean_known_goal_skills_at_start"]


def test_ours_needs_fewer_steps_than_course_order(world_parts):
    library, model = world_parts
    cfg = SimConfig(learners=60, seed=2, budget=150, goal="4")
    ours, fixed = (simulate(library, model, p, cfg) for p in ("ours", "fixed"))
    assert ours["share_reached"] >= fixed["share_reached"]
    assert ours["mean_steps_budget_censored"] < fixed["mean_steps_budget_censored"]
    assert ours["mean_known_lessons_shown"] < fixed["mean_known_lessons_shown"]


def test_fixed_course_follows_framework_order_and_placement_runs(world_parts):
    library, model = world_parts
    world = World(library, model, SimConfig(learners=1, goal="4.2-basic"))
    # 4.2-basic with its prerequisites 1.1, 1.2 and 4.1 (basic), in the framework's order
    assert world.course == ["web-search-basics", "spotting-fake-news", "protecting-your-phone", "finding-work-online-safely", "spotting-scams", "vietqr-payments"]
    placed = simulate(library, model, "ours", SimConfig(learners=3, seed=1, budget=60, goal="4.2-basic", placement=True))
    assert placed["policy"] == "ours+placement" and 1 <= placed["mean_placement_items"] <= 12


def test_cli_prints_the_summary():
    from tutor.cli import app

    result = CliRunner().invoke(app, ["simulate", "--policy", "random", "--learners", "5", "--seed", "3", "--budget", "40", "--goal", "4.1-basic", "--jobs", "1"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["policy"] == "random" and body["learners"] == 5 and len(body["ci95_steps_to_mastery"]) == 2
    bad = CliRunner().invoke(app, ["simulate", "--policy", "ours", "--learners", "2", "--goal", "12.3"])
    assert bad.exit_code == 2


def test_simulate_runs_with_a_next_answer_model(tmp_path_factory):
    """With the artefact's next-answer model, predicted success comes from it and each simulated learner's history grows with its answers."""
    models = service_models(tmp_path_factory.getbasetemp())
    library, model = load_library(PROJECT_ROOT / "content"), load_artefact(active_model_dir(models))
    assert model.next_answer is not None
    world = World(library, model, SimConfig(learners=4, seed=5, budget=40, goal="4.2-basic"))
    seen = []
    original = world.recommender.recommend

    def spy(*args, **kw):
        state = args[2]
        seen.append(0 if state.answers is None else state.answers.n)
        return original(*args, **kw)

    world.recommender.recommend = spy
    outcome = world.run_learner(0, "ours")
    assert isinstance(world.recommender._predictor, NextAnswerSuccessPredictor)
    assert outcome.steps > 1 and seen[0] == 0 and seen[-1] > seen[0] and seen == sorted(seen)

    from tutor.cli import app

    args = ["simulate", "--policy", "ours", "--learners", "6", "--seed", "3", "--budget", "40", "--goal", "4.2-basic", "--jobs", "2", "--models", str(models)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["policy"] == "ours" and body["learners"] == 6 and body["mean_steps_budget_censored"] > 0
