"""The next-answer model: beats the majority baseline, batch = online, artefact round trip without pickle."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import roc_auc_score
from sklearn.utils._param_validation import InvalidParameterError

from tutor.tracing.next_answer import ModelFileError, NextAnswerModel
from tutor.tracing.responses import ResponseLog
from tutor.tracing.roster import Roster

SMALL = {"epochs": 2, "hidden": (32, 16), "embed_dim": 8, "bkt_restarts": 1, "random_state": 0}


def generated(learners: int, seed: int, skills: int = 12, length: int = 40, multi: bool = False) -> ResponseLog:
    """Learners with an ability, skills with a difficulty, success rising with practice."""
    rng = np.random.default_rng(seed)
    diff = rng.normal(0, 1, skills)
    seqs = []
    for _ in range(learners):
        theta = rng.normal(0.3, 1.0)
        practice = np.zeros(skills)
        sk, ys = [], []
        for t in range(length):
            s = int(rng.integers(skills)) if t % 5 == 0 or not sk else (sk[-1] if isinstance(sk[-1], int) else sk[-1][0])
            z = theta - diff[s] + 0.5 * np.log1p(practice[s])
            ok = float(rng.random() < 1 / (1 + np.exp(-z)))
            practice[s] += 1
            item = [s, (s + 1) % skills] if multi and t % 9 == 4 else s
            sk.append(item)
            ys.append(ok)
        seqs.append(([[f"k{x}" for x in i] if isinstance(i, list) else f"k{i}" for i in sk], ys))
    return ResponseLog.from_sequences(seqs, learner_ids=[f"{seed}-{i}" for i in range(learners)])


@pytest.fixture(scope="module")
def fitted():
    train = generated(300, seed=1, multi=True)
    return NextAnswerModel(**SMALL).fit(train)


def test_beats_the_majority_baseline(fitted):
    test = generated(120, seed=2)
    p = fitted.predict_proba(test)[:, 1]
    y = test.label
    majority = max(y.mean(), 1 - y.mean())
    base_rate = np.clip(fitted.global_rate_, 1e-6, 1 - 1e-6)
    ll = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    ll_base = -np.mean(y * np.log(base_rate) + (1 - y) * np.log(1 - base_rate))
    assert roc_auc_score(y, p) > 0.7
    assert np.mean((p >= 0.5) == y) > majority + 0.02
    assert ll < ll_base - 0.05


def test_batch_equals_online_with_multi_skill_and_unknown_skills(fitted):
    test = generated(6, seed=3, multi=True)
    events = list(test.events())
    # an unknown skill in the test data
    extra = ResponseLog.from_sequences([(["k1", "never-seen", ["k2", "never-seen"], "k1"], [1, 0, 1, 1])], learner_ids=["z"])
    for log in (test, extra):
        batch = fitted.predict_proba(log)[:, 1]
        roster = Roster(fitted)
        online = np.empty(len(log))
        for ev in log.events():
            online[ev["row"]] = roster.p_correct(ev["learner_id"], ev["skill_ids"])
            roster.update(ev["learner_id"], ev["skill_ids"], ev["score"])
        np.testing.assert_allclose(batch, online, rtol=0, atol=1e-9)
    assert len(events) == len(test)
    # many candidate items in one call = one call per item
    roster = Roster(fitted)
    for ev in events[:15]:
        roster.update(ev["learner_id"], ev["skill_ids"], ev["score"])
    lid = events[0]["learner_id"]
    items = ["k1", "k2;k3", ["k4", "k5"], "never-seen"]
    many = roster.p_correct_items(lid, items)
    one = [roster.p_correct(lid, it) for it in items]
    np.testing.assert_allclose(many, one, atol=1e-12)


def test_round_trip_npz_json_no_pickle(fitted, tmp_path):
    fitted.save(tmp_path / "m", {"version": "t1"})
    files = sorted(p.name for p in (tmp_path / "m").iterdir())
    assert files == ["metadata.json", "model.json", "weights.npz"]
    with np.load(tmp_path / "m" / "weights.npz", allow_pickle=False) as z:
        assert "lr.dense" in z.files and "mlp.l1.weight" in z.files
    again = NextAnswerModel.load(tmp_path / "m")
    test = generated(20, seed=4)
    np.testing.assert_allclose(again.predict_proba(test), fitted.predict_proba(test), atol=1e-12)
    meta = json.loads((tmp_path / "m" / "metadata.json").read_text())
    assert meta["kind"] == "next-answer" and meta["version"] == "t1"
    model = json.loads((tmp_path / "m" / "model.json").read_text())
    model["kind"] = "bkt"
    (tmp_path / "m" / "model.json").write_text(json.dumps(model))
    with pytest.raises(ModelFileError, match="kind must be 'next-answer'"):
        NextAnswerModel.load(tmp_path / "m")


def test_logistic_regression_only_and_params():
    m = NextAnswerModel(**{**SMALL, "blend": 0.0})
    assert m.get_params()["blend"] == 0.0
    with pytest.raises(NotFittedError):
        m.predict_proba(generated(5, seed=6))
    m.fit(generated(80, seed=5))
    assert m.mlp_ == {} and m.history_ == []
    assert m.predict_proba(generated(5, seed=6)).shape == (200, 2)
    with pytest.raises(ValueError):
        m.set_params(unknown=1)
    assert clone(m).get_params() == m.get_params()
    for bad in ({"blend": 1.5}, {"n_lags": -1}, {"epochs": 0}, {"hidden": [8, 4]}):
        with pytest.raises(InvalidParameterError):
            NextAnswerModel(**{**SMALL, **bad}).fit(generated(5, seed=6))


def test_refit_forgets_the_skills_of_the_earlier_fit():
    """Regression: a skill index cached on the first online prediction survived refit ('z' read as old position 2)."""
    first = ResponseLog.from_sequences([(["a", "b", "c"] * 10, [1, 0, 1] * 10), (["c", "b", "a"] * 10, [0, 1, 1] * 10)])
    m = NextAnswerModel(**SMALL).fit(first)
    Roster(m).p_correct("1", "c")
    m.fit(ResponseLog.from_sequences([(["z", "c"] * 15, [1, 0] * 15), (["c", "z"] * 15, [1, 1, 0] * 10)]))
    assert m.skills_ == ["z", "c"] and m.skill_index_ == {"z": 0, "c": 1}
    probe = ResponseLog.from_sequences([(["z", "c", "z", "z"], [1, 0, 1, 1])], learner_ids=["new"])
    roster = Roster(m)
    online = []
    for ev in probe.events():
        online.append(roster.p_correct(ev["learner_id"], ev["skill_ids"]))
        roster.update(ev["learner_id"], ev["skill_ids"], ev["score"])
    np.testing.assert_allclose(m.predict_proba(probe)[:, 1], online, rtol=0, atol=1e-9)
