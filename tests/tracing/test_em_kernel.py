"""The compiled E-step kernel against the numpy E-step it replaced, kept here as the oracle.

The oracle is the previous `tutor.tracing.em.e_step`: chains packed time-major (longest first) and
a loop over time steps, each step a few numpy operations over the chains still running. The kernel
must give the same expected counts (to 1e-9) and, through the whole EM, the same fitted parameters.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest

from tutor.tracing import em
from tutor.tracing.bkt import BKT, best_restart
from tutor.tracing.equations import SkillParams
from tutor.tracing.responses import ResponseLog


def oracle_e_step(pk: em.Packed, prm: dict[str, np.ndarray], n_slots: int, fit_forget: bool) -> dict[str, np.ndarray]:
    """The numpy E-step of the previous version, on the same chains (packed time-major here)."""
    lens, starts, slots = pk.chain_len, pk.chain_start, pk.chain_slot
    rank = np.argsort(-lens, kind="stable")
    lens = lens[rank]
    n_chains = len(lens)
    T = int(lens[0]) if n_chains else 0
    batch = n_chains - np.cumsum(np.bincount(lens, minlength=T + 1))[:T]  # chains longer than t
    off = np.zeros(T + 1, dtype=np.int64)
    np.cumsum(batch, out=off[1:])
    total = int(off[-1])
    pos = np.arange(total) - np.repeat(np.cumsum(lens) - lens, lens)
    packed = off[pos] + np.repeat(np.arange(n_chains), lens)
    src = np.empty(total, dtype=np.int64)
    src[packed] = np.repeat(starts[rank], lens) + pos
    vs = np.empty(total, dtype=np.int64)
    vs[packed] = np.repeat(slots[rank], lens)
    first = slice(0, int(batch[0]) if T else 0)
    last = off[lens - 1] + np.arange(n_chains)
    obs = pk.obs[src]

    g, s = prm["guess"][vs], prm["slip"][vs]
    e1 = obs * (1.0 - s) + (1.0 - obs) * s
    ratio = (obs * g + (1.0 - obs) * (1.0 - g)) / e1
    learn = prm["learn"][vs]
    fg = prm["forget"][vs]
    keep = 1.0 - fg - learn if fit_forget else 1.0 - learn
    P, F, D = np.empty(total), np.empty(total), np.empty(total)
    P[first] = prm["prior"][vs[first]]
    for t in range(T):
        a, n = off[t], batch[t]
        D[a : a + n] = P[a : a + n] * (1.0 - ratio[a : a + n]) + ratio[a : a + n]
        F[a : a + n] = P[a : a + n] / D[a : a + n]
        if t + 1 < T:
            b, m = off[t + 1], batch[t + 1]
            P[b : b + m] = learn[b : b + m] + F[a : a + m] * keep[b : b + m]
    G, Q, Q0 = F.copy(), np.zeros(total), np.zeros(total)
    for t in range(T - 2, -1, -1):
        a, b, m = off[t], off[t + 1], batch[t + 1]
        Q[a : a + m] = G[b : b + m] / P[b : b + m]
        if fit_forget:
            Q0[a : a + m] = (1.0 - G[b : b + m]) / np.maximum(1.0 - P[b : b + m], 1e-300)
            G[a : a + m] = F[a : a + m] * ((1.0 - fg[b : b + m]) * Q[a : a + m] + fg[b : b + m] * Q0[a : a + m])
        else:
            G[a : a + m] = F[a : a + m] * Q[a : a + m]

    def per_slot(values: np.ndarray, where=slice(None)) -> np.ndarray:
        return np.bincount(vs[where], weights=values, minlength=n_slots)

    n_resp, n_seq = per_slot(np.ones(total)), per_slot(np.ones(n_chains), first)
    sum_g, sum_g_obs, sum_g_last = per_slot(G), per_slot(G * obs), per_slot(G[last], last)
    zero = np.zeros(n_slots)
    return {
        "n_sequences": n_seq,
        "n_responses": n_resp,
        "prior_num": per_slot(G[first], first),
        "learn_num": per_slot((1.0 - F) * learn * Q),
        "learn_den": (n_resp - n_seq) - (sum_g - sum_g_last),
        "forget_num": per_slot(F * fg * Q0) if fit_forget else zero,
        "forget_den": sum_g - sum_g_last if fit_forget else zero,
        "guess_num": per_slot(obs) - sum_g_obs,
        "guess_den": n_resp - sum_g,
        "slip_num": sum_g - sum_g_obs,
        "slip_den": sum_g,
        "log_likelihood": per_slot(np.log(e1) + np.log(D)),
    }


def random_chains(seed: int, n_chains: int, n_slots: int, partial: bool, max_len: int = 60):
    """Chains of random lengths (1 to max_len) over one observation array, with random per-slot parameters."""
    rng = np.random.default_rng(seed)
    lens = rng.integers(1, max_len + 1, n_chains)
    obs = (rng.random(int(lens.sum())) < 0.6).astype(float)
    if partial:
        some = rng.random(len(obs)) < 0.2
        obs[some] = rng.random(int(some.sum()))
    starts = np.cumsum(lens) - lens
    slots = rng.integers(0, n_slots, n_chains)
    prm = {
        "prior": rng.uniform(0.05, 0.95, n_slots),
        "learn": rng.uniform(0.01, 0.4, n_slots),
        "forget": rng.uniform(0.0, 0.1, n_slots),
        "guess": rng.uniform(1e-6, 0.3, n_slots),
        "slip": rng.uniform(1e-6, 0.3, n_slots),
    }
    return lens, starts, slots, obs, prm


@pytest.mark.parametrize("partial", [False, True], ids=["binary", "partial-scores"])
@pytest.mark.parametrize("fit_forget", [False, True], ids=["no-forget", "forget"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kernel_counts_equal_the_numpy_oracle(seed, fit_forget, partial):
    lens, starts, slots, obs, prm = random_chains(seed, n_chains=400 + 300 * seed, n_slots=7, partial=partial)
    pk = em.pack(lens, starts, slots, obs, 7)
    got, want = em.e_step(pk, prm, 7, fit_forget), oracle_e_step(pk, prm, 7, fit_forget)
    assert set(got) == set(em.COUNT_FIELDS) == set(want)
    for k in em.COUNT_FIELDS:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-9, atol=1e-9, err_msg=k)
    assert np.all(np.isfinite(got["log_likelihood"])) and np.all(got["log_likelihood"] < 0)


def test_chains_sharing_observations_and_very_long_chains():
    """Restarts share one chain's answers; a 5,000-answer chain's likelihood underflows a plain product."""
    rng = np.random.default_rng(3)
    obs = (rng.random(5_000) < 0.7).astype(float)
    lens = np.array([5_000, 5_000, 1, 2_500])
    starts = np.array([0, 0, 4_999, 1_000])
    slots = np.array([0, 1, 1, 2])
    prm = {"prior": np.array([0.2, 0.6, 0.4]), "learn": np.array([0.05, 0.2, 0.1]), "forget": np.array([0.01, 0.0, 0.02]),
           "guess": np.array([0.1, 0.25, 1e-6]), "slip": np.array([0.05, 1e-6, 0.3])}
    pk = em.pack(lens, starts, slots, obs, 3)
    for fit_forget in (False, True):
        got, want = em.e_step(pk, prm, 3, fit_forget), oracle_e_step(pk, prm, 3, fit_forget)
        for k in em.COUNT_FIELDS:
            np.testing.assert_allclose(got[k], want[k], rtol=1e-9, atol=1e-9, err_msg=k)
        assert got["log_likelihood"][0] < -1000  # far below what one float product could hold


def test_empty_and_single_answer_chains():
    pk = em.pack(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0), 2)
    prm = {n: np.full(2, 0.2) for n in ("prior", "learn", "forget", "guess", "slip")}
    assert all(np.all(v == 0) for v in em.e_step(pk, prm, 2, True).values())
    pk = em.pack(np.array([1, 1]), np.array([0, 1]), np.array([1, 1]), np.array([1.0, 0.0]), 2)
    got, want = em.e_step(pk, prm, 2, True), oracle_e_step(pk, prm, 2, True)
    for k in em.COUNT_FIELDS:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-12, atol=1e-12, err_msg=k)


def small_log(seed: int, partial: bool = False, multi: bool = False) -> ResponseLog:
    rng = np.random.default_rng(seed)
    true = {"a": (0.3, 0.2, 0.15, 0.08), "b": (0.55, 0.1, 0.25, 0.12), "c": (0.15, 0.3, 0.1, 0.05)}
    seqs = []
    for _ in range(150):
        skills, scores = [], []
        for sid, (prior, learn, guess, slip) in true.items():
            known = rng.random() < prior
            for _t in range(int(rng.integers(2, 25))):
                skills.append([sid, "c"] if multi and sid != "c" and rng.random() < 0.15 else sid)
                ok = rng.random() < ((1 - slip) if known else guess)
                scores.append(float(rng.random()) if partial and rng.random() < 0.1 else float(ok))
                known = known or rng.random() < learn
        seqs.append((skills, scores))
    return ResponseLog.from_sequences(seqs)


@pytest.mark.parametrize(
    "case",
    [{}, {"fit_forget": True}, {"partial": True}, {"multi": True, "fit_forget": True}, {"default_forget": True}],
    ids=["plain", "forget", "partial-scores", "multi-skill-forget", "fixed-forget"],
)
def test_fit_gives_the_parameters_of_the_numpy_e_step(monkeypatch, case):
    log = small_log(11, partial=case.get("partial", False), multi=case.get("multi", False))
    default = SkillParams(forget=0.03) if case.get("default_forget") else None
    kw = dict(n_restarts=3, random_state=5, tol=1e-6, max_iter=150, fit_forget=case.get("fit_forget", False), default_params=default)
    fast = BKT(**kw).fit(log)
    monkeypatch.setattr(em, "e_step", oracle_e_step)
    slow = BKT(**kw).fit(log)
    assert fast.params_.keys() == slow.params_.keys() == {"a", "b", "c"}
    for sid, p in slow.params_.items():
        for name, v in p.as_dict().items():
            assert getattr(fast.params_[sid], name) == pytest.approx(v, abs=1e-6), (sid, name)
        assert fast.diagnostics_[sid]["n_iter"] == slow.diagnostics_[sid]["n_iter"]
        assert fast.diagnostics_[sid]["log_likelihood"] == pytest.approx(slow.diagnostics_[sid]["log_likelihood"], rel=1e-9)
    np.testing.assert_allclose(fast.predict_proba(log), slow.predict_proba(log), rtol=0, atol=1e-6)


def test_counts_do_not_depend_on_the_number_of_threads():
    """Each slot's sums are taken over its chains in one fixed order, whatever thread ran which chain."""
    lens, starts, slots, obs, prm = random_chains(4, n_chains=3000, n_slots=5, partial=True)
    pk = em.pack(lens, starts, slots, obs, 5)
    before = numba.get_num_threads()
    try:
        runs = []
        for threads in sorted({1, numba.config.NUMBA_NUM_THREADS}):
            numba.set_num_threads(threads)
            runs.append(em.e_step(pk, prm, 5, True))
    finally:
        numba.set_num_threads(before)
    for k in em.COUNT_FIELDS:
        np.testing.assert_array_equal(runs[0][k], runs[-1][k], err_msg=k)


def test_sums_do_not_depend_on_how_the_chains_are_split():
    """Spark sums the E-step of each block of chains: any split, in any order, must give the counts of one pack, bit for bit."""
    lens, starts, slots, obs, prm = random_chains(6, n_chains=2000, n_slots=5, partial=True, max_len=200)
    whole = em.e_step_sums(em.pack(lens, starts, slots, obs, 5), prm, True)
    rng = np.random.default_rng(1)
    for _ in range(3):
        order = rng.permutation(len(lens))
        parts = [em.e_step_sums(em.pack(lens[i], starts[i], slots[i], obs, 5), prm, True) for i in np.array_split(order, 7)]
        total = parts[0]
        for part in parts[1:]:
            total = em.add_sums(total, part)
        np.testing.assert_array_equal(total, whole)
    counts = em.counts_of(whole, True)
    np.testing.assert_array_equal(counts["n_responses"], np.bincount(slots, weights=lens, minlength=5))
    np.testing.assert_array_equal(counts["n_sequences"], np.bincount(slots, minlength=5))
    want = oracle_e_step(em.pack(lens, starts, slots, obs, 5), prm, 5, True)
    for k in em.COUNT_FIELDS:
        np.testing.assert_allclose(counts[k], want[k], rtol=1e-9, atol=1e-9, err_msg=k)


def test_tied_restarts_resolve_to_the_first():
    ll = np.array([
        [-62.05983132153922, -10.0, -np.inf, -5.0],
        [-62.059788409130704, -12.0, -np.inf, -5.0],
        [-62.05978840913068, -9.0, -np.inf, -5.0 + 1e-3],
    ])
    # column 0: restarts 1 and 2 differ in the last digits only; 2: nothing fitted; 3: a real difference wins
    assert best_restart(ll).tolist() == [1, 2, 0, 2]
