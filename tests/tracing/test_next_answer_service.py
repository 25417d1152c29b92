"""The next-answer model in the service, on both stores: answers sent one by one through POST /v1/events
predict what `tutor evaluate` predicts on the same log; the recommender's predicted success comes from
it; a model switch rebuilds the history; export, erasure and retention keep it whole."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import numpy as np
import pytest
from sqlalchemy import func, select

from tests.conftest import auth, make_settings, with_settings
from tests.tracing.next_answer_artefact import START, answer_log, service_models, write_events_csv
from tutor.privacy.learner_rights import apply_retention, erase, export
from tutor.recommend.policy import LearnerState, NextAnswerSuccessPredictor, load_state, record_answer, success_predictor
from tutor.research.logs import read_log
from tutor.research.reports import metrics
from tutor.research.training import evaluate_artefact, load_model
from tutor.store.tables import AnswerHistory, Event, Mastery
from tutor.tracing.artefacts import active_model_dir
from tutor.tracing.next_answer import LearnerHistory, load_artefact


@pytest.fixture(scope="module")
def na_models(tmp_path_factory):
    return service_models(tmp_path_factory.getbasetemp())


@pytest.fixture
def settings(database_url, content_dir, tmp_path, na_models):
    return with_settings(make_settings(database_url, content_dir, tmp_path / "var"), tracing={"models_dir": na_models})


def post(client, key, rows, prefix="e"):
    events = [{"event_id": f"{prefix}-{r['learner_id']}-{r['timestamp'].isoformat()}", "learner_id": r["learner_id"], "skill_ids": r["skills"],
               "correct": bool(r["correct"]), "timestamp": r["timestamp"].isoformat()} for r in rows]
    resp = client.post("/v1/events", json={"events": events}, headers=auth(key))
    assert resp.status_code == 200, resp.text
    return resp.json()


def service_p(runtime, learner: str, skills: list[str]) -> float:
    """The recommender's predicted success for an item of these skills (difficulty 0.5), from the learner's stored state."""
    with runtime.session() as s:
        state, _ = load_state(s, runtime.pseudonym(learner), datetime.now(UTC), runtime.recommender.policy, runtime.model.next_answer)
    return NextAnswerSuccessPredictor(runtime.model.next_answer).predict(state, {}, [SimpleNamespace(skills=skills, difficulty=0.5)])[0]


def stored(runtime, learner: str) -> AnswerHistory | None:
    with runtime.session() as s:
        return s.get(AnswerHistory, runtime.pseudonym(learner))


def test_answers_sent_one_by_one_predict_what_evaluate_predicts(runtime, client, keys, tmp_path):
    assert runtime.model.next_answer is not None
    rows = answer_log(8, 18, seed=5, prefix="eval-")
    data = write_events_csv(rows, tmp_path / "test.csv")
    model_dir = runtime.settings.tracing.models_dir / "na-test" / "next-answer"
    _, est, _ = load_model(model_dir)  # what `tutor evaluate` scores, row by row
    expected = est.predict_proba(read_log(data, "events"))[:, 1]
    got = []
    for r in rows:
        got.append(service_p(runtime, r["learner_id"], r["skills"]))
        post(client, keys["platform"], [r])
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
    log = read_log(data, "events")
    ours, evaluated = metrics(log.score, log.label, np.asarray(got)), evaluate_artefact(model_dir, data, "events", report=tmp_path / "report", progress=False)
    for k in ("auc", "rmse", "log_loss", "mean_prediction"):
        assert abs(ours[k] - evaluated[k]) < 1e-6, k
    assert stored(runtime, "eval-0").n_answers == sum(r["learner_id"] == "eval-0" for r in rows)

    # the recommender's predicted success through HTTP: each lesson's items all measure one skill, difficulty 0.5
    body = client.get("/v1/learners/eval-0/next", params={"goal": "4.2-basic,1.1-basic", "n": 5}, headers=auth(keys["platform"])).json()
    assert body["recommendations"], body
    for rec in body["recommendations"]:
        assert rec["p_success"] == round(service_p(runtime, "eval-0", [rec["skill_id"]]), 4)


def test_late_and_repeated_answers_end_where_time_order_ends(runtime, client, keys):
    rows = [r for r in answer_log(1, 16, seed=9, prefix="late-")]
    ordered = [{**r, "learner_id": "ordered"} for r in rows]
    for r in ordered:
        post(client, keys["platform"], [r])
    late = [{**r, "learner_id": "shuffled"} for r in rows]
    order = [3, 0, 7, 1, 15, 2, 9, 4, 12, 5, 6, 8, 14, 10, 11, 13]
    for i in range(0, len(order), 3):
        post(client, keys["platform"], [late[j] for j in order[i:i + 3]])
    assert post(client, keys["platform"], late[:4])["duplicates"] == 4
    na = runtime.model.next_answer
    truth = na.history_of((r["skills"], float(r["correct"])) for r in rows).to_json()
    for learner in ("ordered", "shuffled"):
        row = stored(runtime, learner)
        assert row.state == truth and row.n_answers == len(rows), learner
        assert row.last_event_at is not None


def test_a_model_switch_rebuilds_the_history_from_the_stored_answers(runtime, client, keys):
    rows = answer_log(1, 12, seed=4, prefix="switch-")
    na = runtime.model.next_answer
    runtime.activate_model("bkt-only")
    assert runtime.model.next_answer is None
    post(client, keys["platform"], rows[:8])
    assert stored(runtime, "switch-0") is None
    runtime.activate_model("na-test")
    # read before the next answer: rebuilt in memory from the stored answers, nothing written
    expected = na.p_correct_for(na.history_of((r["skills"], float(r["correct"])) for r in rows[:8]), ["4.2-basic"])
    assert abs(service_p(runtime, "switch-0", ["4.2-basic"]) - expected) < 1e-12
    assert stored(runtime, "switch-0") is None
    post(client, keys["platform"], rows[8:])
    assert stored(runtime, "switch-0").state == na.history_of((r["skills"], float(r["correct"])) for r in rows).to_json()


def test_export_erase_and_retention_keep_the_history(runtime, client, keys):
    na = runtime.model.next_answer
    now = datetime.now(UTC)
    rows = [{**r, "timestamp": now - timedelta(days=40) + (r["timestamp"] - START)} for r in answer_log(1, 14, seed=6, prefix="kept-")]
    post(client, keys["platform"], rows[:7] + rows[8:])
    pseudonym = runtime.pseudonym("kept-0")
    with runtime.session() as s:
        copy = export(s, pseudonym)
    assert copy["answer_history"]["n_answers"] == 13 and copy["answer_history"]["state"] == stored(runtime, "kept-0").state
    body = client.get("/v1/learners/kept-0/export", headers=auth(keys["platform"])).json()
    assert body["answer_history"]["n_answers"] == 13 and body["answer_history"]["state"]["n"] == copy["answer_history"]["state"]["n"]

    # retention folds the older half into the base and deletes it; a late answer after the horizon then replays from the base
    horizon_days = (now - rows[5]["timestamp"]).total_seconds() / 86400 - 0.001
    with runtime.session() as s, s.begin():
        deleted = apply_retention(s, runtime.model, horizon_days, now)
    assert deleted == 6
    post(client, keys["platform"], [rows[7]])  # late: older than the latest folded answer
    row = stored(runtime, "kept-0")
    assert row.base_n == 6 and row.n_answers == 14
    assert row.state == na.history_of((r["skills"], float(r["correct"])) for r in rows).to_json()
    assert LearnerHistory.from_json(row.state, na.n_previous_answers).n == sum(len(r["skills"]) for r in rows)

    with runtime.session() as s:
        held = sum(s.scalar(select(func.count()).select_from(t).where(t.learner_id == pseudonym)) for t in (Event, Mastery, AnswerHistory))
    assert client.delete("/v1/learners/kept-0", headers=auth(keys["platform"])).json()["rows"] == held + 1  # + the learner row
    with runtime.session() as s, s.begin():
        assert erase(s, pseudonym) is None
    with runtime.session() as s:
        assert s.scalars(select(AnswerHistory).where(AnswerHistory.learner_id == pseudonym)).first() is None


def test_the_predictor_scores_a_state_once_until_its_history_changes(na_models):
    model = load_artefact(active_model_dir(na_models))
    predictor = success_predictor(model)
    assert isinstance(predictor, NextAnswerSuccessPredictor)
    na = model.next_answer
    calls = []
    original = na.p_correct_items_for
    na.p_correct_items_for = lambda h, items: calls.append(len(items)) or original(h, items)
    state = LearnerState()
    item, hard = SimpleNamespace(skills=["4.2-basic"], difficulty=0.5), SimpleNamespace(skills=["4.2-basic"], difficulty=0.9)
    a, (b, c) = predictor.predict(state, {}, [item]), predictor.predict(state, {}, [item, hard])
    assert calls == [len(na.skills_)] and a == [b] and c < b  # every known skill at once; a harder item is less likely right
    record_answer(model, state, ["4.2-basic"], 1.0)
    (d,) = predictor.predict(state, {}, [item])
    assert len(calls) == 2 and abs(d - original(state.answers, [["4.2-basic"]])[0]) < 1e-12 and d != b
