"""BKT: the service's update equations, EM fitting, batch = online, summable E-step, artefacts."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import InvalidParameterError

from tutor.tracing.artefacts import load_mastery_model
from tutor.tracing.bkt import BKT
from tutor.tracing.em import BKTCounts, expected_counts
from tutor.tracing.equations import SkillParams, logit, p_correct, posterior, sigmoid, update
from tutor.tracing.responses import ResponseLog
from tutor.tracing.roster import Roster

TRUE = {
    "fractions": SkillParams(prior=0.30, learn=0.20, guess=0.15, slip=0.08),
    "passwords": SkillParams(prior=0.55, learn=0.10, guess=0.25, slip=0.12),
    "search": SkillParams(prior=0.15, learn=0.30, guess=0.10, slip=0.05),
}


def simulate(params: dict[str, SkillParams], learners: int, seed: int, lengths=(8, 30), multi_every: int = 0):
    """BKT-generated sequences: every learner practises every skill for a random number of answers."""
    rng = np.random.default_rng(seed)
    seqs = []
    for _ in range(learners):
        skills, scores = [], []
        for sid, p in params.items():
            known = rng.random() < p.prior
            for _t in range(int(rng.integers(*lengths))):
                ok = rng.random() < ((1 - p.slip) if known else p.guess)
                skills.append(sid)
                scores.append(float(ok))
                if not known:
                    known = rng.random() < p.learn
        if multi_every:
            for t in range(0, len(skills), multi_every):  # some answers measure two skills
                other = next(s for s in params if s != skills[t])
                skills[t] = [skills[t], other]
        seqs.append((skills, scores))
    return ResponseLog.from_sequences(seqs)


def test_update_equations_are_unchanged():
    p = SkillParams(prior=0.2, learn=0.15, guess=0.2, slip=0.1, forget=0.0)
    assert p_correct(0.2, p) == pytest.approx(0.2 * 0.9 + 0.8 * 0.2)
    assert posterior(0.2, True, p) == pytest.approx(0.18 / (0.18 + 0.16))
    post = 0.5 * posterior(0.4, True, p) + 0.5 * posterior(0.4, False, p)
    assert update(0.4, 0.5, p) == pytest.approx(post + (1 - post) * 0.15)


def test_logit_and_sigmoid_on_numbers_and_arrays():
    assert isinstance(logit(0.8), float) and logit(0.8) == pytest.approx(math.log(4.0))
    assert logit(0.0) == pytest.approx(math.log(1e-6 / (1 - 1e-6))) and logit(1.0, eps=0.01) == pytest.approx(math.log(99.0))
    assert isinstance(sigmoid(0.3), float) and sigmoid(logit(0.3)) == pytest.approx(0.3)
    p = np.array([0.0, 0.25, 0.5, 1.0])
    z = logit(p)
    assert isinstance(z, np.ndarray) and z.shape == (4,) and z[2] == 0.0 and np.all(np.isfinite(z))
    np.testing.assert_allclose(sigmoid(z), np.clip(p, 1e-6, 1 - 1e-6), rtol=1e-9)
    np.testing.assert_array_equal(logit(p[1:3]), [logit(0.25), logit(0.5)])


def test_em_recovers_known_parameters_within_0_05():
    log = simulate(TRUE, learners=1500, seed=1)
    model = BKT(n_restarts=3, random_state=0, tol=1e-4, max_iter=200).fit(log)
    for sid, true in TRUE.items():
        est = model.params_[sid]
        for name in ("prior", "learn", "guess", "slip"):
            assert abs(getattr(est, name) - getattr(true, name)) < 0.05, (sid, name, est, true)
        d = model.diagnostics_[sid]
        assert d["fitted"] and d["converged"] and d["mastery_informative"]
        assert d["n_responses"] > 0 and d["n_sequences"] == 1500 and math.isfinite(d["log_likelihood"])
        assert len(d["restart_log_likelihoods"]) == 3


def test_em_recovers_forgetting_when_asked():
    true = SkillParams(prior=0.3, learn=0.2, guess=0.15, slip=0.1, forget=0.05)
    rng = np.random.default_rng(7)
    seqs = []
    for _ in range(1500):
        known, ys = rng.random() < true.prior, []
        for _t in range(30):
            ys.append(float(rng.random() < ((1 - true.slip) if known else true.guess)))
            known = (rng.random() > true.forget) if known else (rng.random() < true.learn)
        seqs.append((["a"] * 30, ys))
    log = ResponseLog.from_sequences(seqs)
    est = BKT(fit_forget=True, n_restarts=2, random_state=0, tol=1e-5, max_iter=300).fit(log).params_["a"]
    for name in ("prior", "learn", "guess", "slip", "forget"):
        assert abs(getattr(est, name) - getattr(true, name)) < 0.05, (name, est)
    assert BKT(random_state=0, n_restarts=1).fit(log).params_["a"].forget == 0.0  # fixed at 0 by default


def test_batch_predict_proba_equals_online_sequence():
    log = simulate(TRUE, learners=60, seed=2, multi_every=7)
    # partial credit on some answers
    score = log.score.copy()
    score[::11] = 0.5
    log = ResponseLog(log.learner, log.learner_ids, log.skill_ptr, log.skill_idx, log.skill_ids, score, log.order)
    model = BKT(n_restarts=2, random_state=0).fit(log)
    for how in ("mean", "min", "product"):
        model.set_params(multi_skill=how)
        batch = model.predict_proba(log)
        assert batch.shape == (len(log), 2) and np.allclose(batch.sum(axis=1), 1.0)
        roster = Roster(model)
        online = np.empty(len(log))
        for ev in log.events():
            online[ev["row"]] = roster.p_correct(ev["learner_id"], ev["skill_ids"])
            roster.update(ev["learner_id"], ev["skill_ids"], ev["score"])
        np.testing.assert_allclose(batch[:, 1], online, rtol=0, atol=1e-12)


def test_unknown_skill_and_new_learner_use_default_and_prior():
    model = BKT(n_restarts=1, random_state=0).fit(simulate(TRUE, learners=100, seed=3))
    roster = Roster(model)
    assert roster.p_correct("new", ["never-seen"]) == pytest.approx(p_correct(SkillParams().prior, SkillParams()))
    p = model.params_["fractions"]
    assert roster.p_correct("new", "fractions") == pytest.approx(p_correct(p.prior, p))
    roster.update("new", "fractions", 1)
    assert roster.p_mastered("new", "fractions") == pytest.approx(update(p.prior, 1.0, p))


def test_sufficient_statistics_add_up_across_learners():
    log = simulate(TRUE, learners=90, seed=4)
    params = {k: SkillParams(prior=0.4, learn=0.2, guess=0.2, slip=0.1) for k in TRUE}
    whole = expected_counts(log, params)
    shards = [log.take(np.flatnonzero(log.learner % 3 == k)) for k in range(3)]
    total = sum(expected_counts(s, params) for s in shards)
    assert isinstance(total, BKTCounts)
    for sid in TRUE:
        a, b = whole.as_dict()[sid], total.as_dict()[sid]
        for k in a:
            assert a[k] == pytest.approx(b[k], rel=1e-9, abs=1e-9), (sid, k)
    # one EM step from the summed counts raises the log-likelihood
    new = total.maximize(params)
    assert sum(expected_counts(log, new).arrays["log_likelihood"]) > sum(whole.arrays["log_likelihood"])


def test_bounds_min_data_and_diagnostics():
    rng = np.random.default_rng(5)
    # a skill whose answers carry no signal pushes guess/slip up: the bounds must hold
    noisy = [(["noise"] * 20, list(rng.integers(0, 2, 20).astype(float))) for _ in range(200)]
    rare = [(["rare"] * 3, [1.0, 0.0, 1.0]) for _ in range(2)]
    log = ResponseLog.from_sequences(noisy + rare)
    model = BKT(n_restarts=2, random_state=0, max_guess=0.25, max_slip=0.2, min_responses=10).fit(log)
    p = model.params_["noise"]
    assert p.guess <= 0.25 + 1e-12 and p.slip <= 0.2 + 1e-12
    assert model.diagnostics_["noise"]["mastery_informative"]
    assert model.params_["rare"] == SkillParams()
    assert model.diagnostics_["rare"]["fitted"] is False and "min_responses" in model.diagnostics_["rare"]["reason"]


def test_get_set_params_and_sklearn_clone():
    m = BKT(n_restarts=7, max_guess=0.25)
    assert m.get_params()["n_restarts"] == 7
    m.set_params(tol=1e-5)
    c = clone(m)
    assert c.get_params() == m.get_params() and c is not m
    assert repr(m) == "BKT(max_guess=0.25, n_restarts=7, tol=1e-05)"
    with pytest.raises(ValueError):
        m.set_params(nope=1)
    with pytest.raises(ValueError):
        BKT(max_guess=0.6, max_slip=0.5).fit(simulate(TRUE, 5, 0))
    for bad in ({"n_restarts": 0}, {"multi_skill": "median"}, {"max_slip": 1.0}, {"default_params": {"prior": 0.5}}):
        with pytest.raises(InvalidParameterError):
            BKT(**bad).fit(simulate(TRUE, 5, 0))
    with pytest.raises(NotFittedError):
        BKT().predict_proba(simulate(TRUE, 5, 0))
    with pytest.raises(NotFittedError):
        Roster(BKT())


def test_save_load_round_trip_through_the_service_loader(tmp_path):
    log = simulate(TRUE, learners=200, seed=6)
    model = BKT(n_restarts=2, random_state=0).fit(log)
    model.save(tmp_path / "m", {"version": "test-1"})
    served = load_mastery_model(tmp_path / "m")  # the service's loader
    assert served.version == "test-1" and set(served.skills) == set(TRUE)
    assert served.params("fractions") == model.params_["fractions"]
    again = BKT.load(tmp_path / "m")
    np.testing.assert_allclose(again.predict_proba(log), model.predict_proba(log), atol=1e-15)
    assert again.get_params()["n_restarts"] == 2
    assert json.loads((tmp_path / "m" / "diagnostics.json").read_text())["fractions"]["fitted"]
    assert not list(tmp_path.glob("m/*.pkl"))


def test_fit_accepts_event_dicts_and_y():
    events = [{"learner_id": "a", "skill_ids": "s1;s2", "correct": 1}, {"learner_id": "a", "skill_ids": "s1", "correct": 0}]
    m = BKT(n_restarts=1, min_responses=1, random_state=0).fit(events * 5, y=np.ones(10))
    assert set(m.params_) == {"s1", "s2"}
    assert m.predict_proba(events).shape == (2, 2)
    with pytest.raises(ValueError, match=r"scores in \[0, 1\]"):
        BKT(n_restarts=1, min_responses=1).fit(events, y=[1.0, 2.0])
    with pytest.raises(ValueError, match="one score per answer"):
        BKT(n_restarts=1, min_responses=1).fit(events, y=[1.0])
