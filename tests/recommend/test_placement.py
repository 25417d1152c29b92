"""The placement quiz: the engine over the full library, and the route on both stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import auth
from tutor.content.library import load_library
from tutor.recommend.placement import PlacementConfig, PlacementModel, QuizState, StoredAnswer, entropy_bits, progress
from tutor.settings import PROJECT_ROOT, SettingsError, load_settings
from tutor.store.tables import Event, Mastery
from tutor.tracing.artefacts import active_model_dir, load_mastery_model
from tutor.tracing.equations import update

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def engine():
    library = load_library(PROJECT_ROOT / "content")
    model = load_mastery_model(active_model_dir(PROJECT_ROOT / "models"))
    return PlacementModel(library, model, PlacementConfig())


def take_quiz(pm, answer_of) -> tuple[QuizState, object]:
    quiz = QuizState([], [], False, False)
    while True:
        step = progress(pm, quiz)
        if step.status == "complete":
            return quiz, step
        a = StoredAnswer(f"a{len(quiz.placement)}", step.next_item, pm.item_skills[step.next_item], float(answer_of(step.next_item)), NOW, "placement")
        quiz.answers.append(a)
        quiz.placement.append(a)


def test_engine_stops_within_its_limit_and_moves_mastery_the_right_way(engine):
    prior = engine.marginals(engine.weights([]))
    strong_quiz, strong = take_quiz(engine, lambda item: True)
    weak_quiz, weak = take_quiz(engine, lambda item: False)
    assert 1 <= len(strong_quiz.placement) <= 12 and 1 <= len(weak_quiz.placement) <= 12
    assert len({a.item_id for a in strong_quiz.placement}) == len(strong_quiz.placement)  # never the same item twice
    assert all(strong.estimate[s] > prior[s] for s in prior)
    assert all(weak.estimate[s] < prior[s] for s in prior)
    assert entropy_bits(weak.estimate) < entropy_bits(prior)


def test_a_right_intermediate_answer_lifts_its_prerequisites(engine):
    prior = engine.marginals(engine.weights([]))
    from tutor.recommend.placement import Evidence

    after = engine.marginals(engine.weights([Evidence("safe-online-payments-3", ("4.2-intermediate",), 1.0)]))
    for prerequisite in ("4.2-basic", "2.6-basic", "4.1-basic", "1.2-basic", "1.1-basic"):
        assert after[prerequisite] > prior[prerequisite] + 0.05, prerequisite
    first, bits = engine.best_item(engine.weights([]), set())
    assert first is not None and bits > 0.5


def test_limit_comes_from_the_environment(engine, monkeypatch, tmp_path):
    monkeypatch.setenv("TUTOR_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("TUTOR_PLACEMENT_MAX_ITEMS", "3")
    monkeypatch.setenv("TUTOR_PLACEMENT_MIN_INFORMATION_BITS", "0.5")
    cfg = load_settings().placement
    assert (cfg.max_items, cfg.min_information_bits) == (3, 0.5)
    short = PlacementModel(load_library(PROJECT_ROOT / "content"), engine.model, cfg)
    assert len(take_quiz(short, lambda item: True)[0].placement) == 3
    monkeypatch.setenv("TUTOR_PLACEMENT_MAX_ITEMS", "twelve")
    with pytest.raises(SettingsError, match="TUTOR_PLACEMENT_MAX_ITEMS"):
        load_settings()


def test_engine_is_deterministic(engine):
    a = take_quiz(engine, lambda item: hash(item) % 2 == 0)[0]
    b = take_quiz(engine, lambda item: hash(item) % 2 == 0)[0]
    assert [x.item_id for x in a.placement] == [x.item_id for x in b.placement]


# ------------------------------------------------------------------------------ the route, both stores
def post(client, key, learner="learner-1", body=None, **params):
    return client.post(f"/v1/learners/{learner}/placement", headers=auth(key), json=body, params=params)


def mastery_of(runtime, learner) -> dict[str, tuple[float, int]]:
    with runtime.session() as s:
        rows = s.execute(select(Mastery.skill_id, Mastery.p_mastered, Mastery.n_observations).where(Mastery.learner_id == runtime.pseudonym(learner)))
        return {sid: (p, n) for sid, p, n in rows}


def finish(client, key, learner, correct: bool) -> tuple[dict, list[str]]:
    r = post(client, key, learner)
    assert r.status_code == 200, r.text
    asked = []
    while r.json()["status"] == "in_progress":
        item = r.json()["next_item"]
        assert item["question"] and len(item["options"]) >= 2
        asked.append(item["item_id"])
        r = post(client, key, learner, {"answer_id": f"a{len(asked)}", "item_id": item["item_id"], "correct": correct})
        assert r.status_code == 200, r.text
        assert len(asked) <= 12
    return r.json(), asked


def test_quiz_over_the_route_initialises_mastery_once(client, keys, runtime):
    key = keys["platform"]
    prior = {s: runtime.model.params(s).prior for s in runtime.library.skills}
    body, asked = finish(client, key, "strong", True)
    assert body["status"] == "complete" and body["answered"] == len(asked) <= 8  # the test library has 8 items
    assert body["mastery"] and len(body["mastery"]) == 72  # levels 1-6: no item measures levels 7-8 (`no_lesson`)
    rows = mastery_of(runtime, "strong")
    assert len(rows) == 72
    for s in ("4.2-basic", "1.1-basic", "4.1-basic", "1.2-basic"):  # asked, and prerequisites of what was asked
        assert rows[s][0] > prior[s], s
    assert sum(n for _, n in rows.values()) == len(asked)
    with runtime.session() as s:
        assert s.scalar(select(func.count()).select_from(Event).where(Event.source == "placement", Event.kind == "answer")) == len(asked)
    # retrying the last answer is acknowledged, not counted; a new answer after the end is refused
    again = post(client, key, "strong", {"answer_id": f"a{len(asked)}", "item_id": asked[-1], "correct": True})
    assert again.status_code == 200 and again.json()["duplicate"] and again.json()["status"] == "complete"
    assert mastery_of(runtime, "strong") == rows
    late = post(client, key, "strong", {"answer_id": "another", "item_id": asked[0], "correct": True})
    assert late.status_code == 409 and "already complete" in late.json()["detail"]
    # later answers fold onto the placement's value with the usual BKT update
    p0, n0 = rows["4.2-basic"]
    ts = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    after = {"event_id": "after-1", "learner_id": "strong", "skill_ids": ["4.2-basic"], "correct": False, "timestamp": ts}
    r = client.post("/v1/events", headers=auth(key), json={"events": [after]})
    assert r.status_code == 200, r.text
    p1, n1 = mastery_of(runtime, "strong")["4.2-basic"]
    assert n1 == n0 + 1 and p1 == pytest.approx(update(p0, 0.0, runtime.model.params("4.2-basic")))

    weak, _ = finish(client, key, "weak", False)
    rows = mastery_of(runtime, "weak")
    assert weak["status"] == "complete"
    assert rows["4.2-basic"][0] < prior["4.2-basic"] and rows["1.1-basic"][0] < prior["1.1-basic"]


def test_quiz_refusals_name_the_problem(client, keys):
    key = keys["platform"]
    first = post(client, key, "q").json()["next_item"]["item_id"]
    assert post(client, key, "q", {"answer_id": "x1", "item_id": "no-such-item", "correct": True}).status_code == 422
    assert post(client, key, "q", {"answer_id": "x1", "item_id": first}).status_code == 422  # correct missing
    ok = post(client, key, "q", {"answer_id": "x1", "item_id": first, "correct": True})
    assert ok.status_code == 200 and ok.json()["answered"] == 1 and not ok.json()["duplicate"]
    reuse = post(client, key, "q", {"answer_id": "x1", "item_id": ok.json()["next_item"]["item_id"], "correct": False})
    assert reuse.status_code == 409 and "already used" in reuse.json()["detail"]
    twice = post(client, key, "q", {"answer_id": "x2", "item_id": first, "correct": False})
    assert twice.status_code == 422 and "already answered" in twice.json()["detail"]
    # while the quiz runs, /next puts its next question first
    nxt = client.get("/v1/learners/q/next?lang=en", headers=auth(key)).json()
    assert nxt["recommendations"][0]["reason"] == "placement"
    assert nxt["recommendations"][0]["item_id"] == ok.json()["next_item"]["item_id"]
    # a learner who already has answers is not placed
    old = {"event_id": "old-1", "learner_id": "veteran", "item_id": "test-search-1", "correct": True, "timestamp": "2026-11-20T08:00:00Z"}
    client.post("/v1/events", headers=auth(key), json={"events": [old]})
    refused = post(client, key, "veteran")
    assert refused.status_code == 409 and "already has 1 answer" in refused.json()["detail"]
    # a learner key may only place its own learner
    assert post(client, keys["learner"], "learner-1").status_code == 200
    assert post(client, keys["learner"], "someone-else").status_code == 403
