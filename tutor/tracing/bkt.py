"""Bayesian Knowledge Tracing: the interpretable mastery model of the service.

Each skill has pyBKT's five readable parameters. The online update below is the one the service
applies to every answer; the same equations are used when fitting, so batch and online agree.

Fitting: `BKT` (scikit-learn style ``fit`` / ``predict_proba`` / ``get_params``, river style
``learn_one`` / ``predict_proba_one``) estimates the parameters of every skill by EM over all
learners' answers, vectorised with numpy; `expected_counts` is its E-step as summable per-skill
counts (`BKTCounts`), so the E-step can be split over shards of learners. Artefacts are written
and read with `tutor.tracing.artefacts` (JSON, never pickle).

    from tutor.tracing.bkt import BKT
    from tutor.research.logs import read_log
    model = BKT(n_restarts=5, random_state=0).fit(read_log("answers.jsonl", "events"))
    model.params_["4.2-basic"], model.diagnostics_["4.2-basic"]
    model.learn_one({"learner_id": "u1", "skill_ids": ["4.2-basic"]}, 1)
    model.predict_proba_one({"learner_id": "u1", "skill_ids": ["4.2-basic"]})[True]
    model.save("models/bkt-2026-11", {"version": "bkt-2026-11"})
"""

from __future__ import annotations

import math as _math
from collections.abc import Mapping as _Mapping
from dataclasses import asdict, dataclass
from dataclasses import dataclass as _dataclass
from dataclasses import field as _field
from typing import Any as _Any

import numpy as _np


@dataclass(frozen=True)
class SkillParams:
    """P(known before any practice), P(learn per step), P(correct | not known), P(wrong | known), P(forget per step)."""

    prior: float = 0.2
    learn: float = 0.15
    guess: float = 0.2
    slip: float = 0.1
    forget: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def p_correct(p_mastered: float, params: SkillParams) -> float:
    """Chance of a correct answer given the current mastery estimate."""
    return p_mastered * (1.0 - params.slip) + (1.0 - p_mastered) * params.guess


def posterior(p_mastered: float, correct: bool, params: SkillParams) -> float:
    """P(mastered | this answer), before the learning/forgetting transition."""
    if correct:
        known = p_mastered * (1.0 - params.slip)
        unknown = (1.0 - p_mastered) * params.guess
    else:
        known = p_mastered * params.slip
        unknown = (1.0 - p_mastered) * (1.0 - params.guess)
    return known / (known + unknown)


def update(p_mastered: float, score: float, params: SkillParams) -> float:
    """Mastery after one graded answer; a partial score in [0, 1] weighs the two posteriors."""
    if score >= 1.0:
        post = posterior(p_mastered, True, params)
    elif score <= 0.0:
        post = posterior(p_mastered, False, params)
    else:
        post = score * posterior(p_mastered, True, params) + (1.0 - score) * posterior(p_mastered, False, params)
    return post * (1.0 - params.forget) + (1.0 - post) * params.learn


# =============================================================================================
# Fitting: EM over all learners' sequences, vectorised with numpy.
# =============================================================================================
#
# Every (learner, skill) pair is one hidden-Markov chain with the skill's five parameters; an
# answer that lists several skills is an observation of each of those skills' chains. All chains
# of all skills (and of all random restarts) are fitted at once: they are "packed" time-major,
# sorted by length (longest first), as PyTorch packs sequences, so that at time step t the
# chains still running are a prefix of the step's slice. The forward filter and the backward
# smoother then loop over time steps only (the longest chain, 290 steps on ASSIST2009), each
# step being a few numpy operations over all running chains; the rest of the E-step and the
# whole M-step are single vectorised passes (np.bincount per skill).

_EPS = 1e-6
_COUNT_FIELDS = (
    "n_sequences",
    "n_responses",
    "prior_num",
    "learn_num",
    "learn_den",
    "forget_num",
    "forget_den",
    "guess_num",
    "guess_den",
    "slip_num",
    "slip_den",
    "log_likelihood",
)


class _Packed:
    """Chains packed time-major; element (t, r) of the r-th longest chain lives at offsets[t] + r."""

    def __init__(self, batch, offsets, obs, vskill, src, first, last, n_slots):
        self.batch = batch  # (T,) chains still running at step t
        self.offsets = offsets  # (T + 1,)
        self.obs = obs  # (total,) score of each element
        self.vskill = vskill  # (total,) parameter slot of each element's chain
        self.src = src  # (total,) index of the element in the caller's observation array
        self.first = first  # slice: the elements at t = 0, one per chain
        self.last = last  # (n_chains,) packed index of each chain's last element
        self.n_resp = _np.bincount(vskill, minlength=n_slots).astype(float)
        self.n_seq = _np.bincount(vskill[first], minlength=n_slots).astype(float)
        self.sum_obs = _np.bincount(vskill, weights=obs, minlength=n_slots)
        binary = bool(_np.all((obs == 0.0) | (obs == 1.0)))
        if binary:  # per-element code = 2 * slot + answer, and how often each code occurs
            self.code = vskill * 2 + obs.astype(_np.int64)
            cnt = _np.bincount(self.code, minlength=2 * n_slots)
            self.code_uniq = _np.flatnonzero(cnt)
            self.code_count = cnt[self.code_uniq].astype(float)
            self.code_slot = self.code_uniq // 2
        else:
            self.code = None
        self._buf = None

    @property
    def total(self) -> int:
        return int(self.offsets[-1])

    def buffers(self):
        if self._buf is None:
            self._buf = tuple(_np.empty(self.total) for _ in range(4))
        return self._buf


def _pack(
    chain_len: _np.ndarray, chain_start: _np.ndarray, chain_vskill: _np.ndarray, obs: _np.ndarray, n_slots: int
) -> _Packed:
    """Pack chains whose observations are obs[chain_start[c] : chain_start[c] + chain_len[c]] (time order)."""
    rank = _np.argsort(-chain_len, kind="stable")
    lens = chain_len[rank]
    n_chains = len(lens)
    T = int(lens[0]) if n_chains else 0
    # batch[t] = number of chains longer than t
    ends = _np.bincount(lens, minlength=T + 1)
    batch = n_chains - _np.cumsum(ends)[:T]
    offsets = _np.zeros(T + 1, dtype=_np.int64)
    _np.cumsum(batch, out=offsets[1:])
    total = int(offsets[-1])
    rr = _np.repeat(_np.arange(n_chains, dtype=_np.int64), lens)
    first_of_chain = _np.cumsum(lens) - lens
    pos = _np.arange(total, dtype=_np.int64) - _np.repeat(first_of_chain, lens)
    packed = offsets[pos] + rr
    src = _np.empty(total, dtype=_np.int64)
    src[packed] = _np.repeat(chain_start[rank], lens) + pos
    vsk = _np.empty(total, dtype=_np.int64)
    vsk[packed] = _np.repeat(chain_vskill[rank], lens)
    last = offsets[lens - 1] + _np.arange(n_chains, dtype=_np.int64)
    return _Packed(batch, offsets, obs[src], vsk, src, slice(0, int(batch[0]) if T else 0), last, n_slots)


@_dataclass
class _Chains:
    """The (learner, skill) chains of a log, grouped by chain, each in time order."""

    row: _np.ndarray  # (n_obs,) log row of each observation, grouped by chain
    skill: _np.ndarray  # (n_obs,) model skill index of each observation
    obs: _np.ndarray  # (n_obs,) score
    chain_start: _np.ndarray
    chain_len: _np.ndarray
    chain_skill: _np.ndarray
    exp_index: _np.ndarray  # (n_obs,) position of each observation in `expanded_order(log)`


def expanded_order(log) -> tuple[_np.ndarray, _np.ndarray]:
    """(row, log skill index) of every observation, rows in sequence order, skills in row order.

    An answer that lists k skills gives k observations; this is the order the next-answer
    model's features use as well.
    """
    seq = log.sequence_order()
    counts = log.n_skills_per_row[seq]
    rows = _np.repeat(seq, counts)
    within = _np.arange(len(rows)) - _np.repeat(_np.cumsum(counts) - counts, counts)
    return rows, log.skill_idx[log.skill_ptr[rows] + within]


def _chains(log, skill_map: _np.ndarray) -> _Chains:
    """Split a ResponseLog into chains; skill_map maps log skill index -> model skill index."""
    rows, log_skill = expanded_order(log)
    key = log.learner[rows] * max(log.n_skills, 1) + log_skill
    order = _np.argsort(key, kind="stable")  # group by chain, keep time order inside
    rows, log_skill, key = rows[order], log_skill[order], key[order]
    n = len(rows)
    if n == 0:
        z = _np.zeros(0, dtype=_np.int64)
        return _Chains(z, z, _np.zeros(0), z, z, z, z)
    starts = _np.flatnonzero(_np.r_[True, key[1:] != key[:-1]])
    lens = _np.diff(_np.r_[starts, n])
    skill = skill_map[log_skill]
    return _Chains(rows, skill, log.score[rows], starts, lens, skill[starts], order)


def _bounds(max_guess: float, max_slip: float) -> dict[str, tuple[float, float]]:
    return {
        "prior": (_EPS, 1 - _EPS),
        "learn": (_EPS, 1 - _EPS),
        "forget": (0.0, 1 - _EPS),
        "guess": (_EPS, max_guess),
        "slip": (_EPS, max_slip),
    }


def _e_step(pk: _Packed, prm: dict[str, _np.ndarray], n_slots: int, fit_forget: bool) -> dict[str, _np.ndarray]:
    """Expected counts per parameter slot (skill, or skill x restart) for the packed chains.

    Forward: P = P(mastered) before each answer, F = after it (filtered). Backward:
    G = P(mastered | the whole chain). With r = P(obs | not mastered) / P(obs | mastered),
    F = P / (P (1 - r) + r) and log P(obs | earlier) = log P(obs | mastered) + log(P (1 - r) + r).
    """
    vs = pk.vskill
    obs = pk.obs
    g_slot, s_slot = prm["guess"], prm["slip"]
    if pk.code is not None:  # binary answers: look the per-answer constants up by (slot, answer)
        e1_tab = _np.empty(2 * n_slots)
        e0_tab = _np.empty(2 * n_slots)
        e1_tab[0::2], e1_tab[1::2] = s_slot, 1.0 - s_slot
        e0_tab[0::2], e0_tab[1::2] = 1.0 - g_slot, g_slot
        ratio = (e0_tab / e1_tab)[pk.code]
        ll_e1 = _np.bincount(pk.code_slot, weights=pk.code_count * _np.log(e1_tab[pk.code_uniq]), minlength=n_slots)
    else:  # partial scores: "virtual evidence" likelihoods, element-wise
        g, s = g_slot[vs], s_slot[vs]
        e1 = obs * (1.0 - s) + (1.0 - obs) * s
        e0 = obs * g + (1.0 - obs) * (1.0 - g)
        ratio = e0 / e1
        ll_e1 = _np.bincount(vs, weights=_np.log(e1), minlength=n_slots)
    one_m_ratio = 1.0 - ratio
    learn = prm["learn"][vs]
    if fit_forget:
        fg = prm["forget"][vs]
        keep = 1.0 - fg - learn  # next P = learn + F * keep
    else:
        keep = 1.0 - learn
    P, F, D, Q = pk.buffers()
    off, batch = pk.offsets, pk.batch
    T = len(batch)
    P[pk.first] = prm["prior"][vs[pk.first]]
    for t in range(T):
        a, n = off[t], batch[t]
        p = P[a : a + n]
        d = D[a : a + n]
        _np.multiply(p, one_m_ratio[a : a + n], out=d)
        d += ratio[a : a + n]
        f = F[a : a + n]
        _np.divide(p, d, out=f)
        if t + 1 < T:
            b, m = off[t + 1], batch[t + 1]
            nxt = P[b : b + m]
            _np.multiply(f[:m], keep[b : b + m], out=nxt)
            nxt += learn[b : b + m]
    # backward smoother: G = P(mastered | whole chain); Q = G_next / P_next (0 at a chain's end)
    G = F.copy()
    Q[:] = 0.0
    if fit_forget:
        Q0 = _np.zeros(pk.total)  # (1 - G_next) / (1 - P_next)
        for t in range(T - 2, -1, -1):
            a, b, m = off[t], off[t + 1], batch[t + 1]
            g1, pn, fgn = G[b : b + m], P[b : b + m], fg[b : b + m]
            q1 = g1 / pn
            q0 = (1.0 - g1) / _np.maximum(1.0 - pn, 1e-300)
            Q[a : a + m] = q1
            Q0[a : a + m] = q0
            G[a : a + m] = F[a : a + m] * ((1.0 - fgn) * q1 + fgn * q0)
    else:
        for t in range(T - 2, -1, -1):
            a, b, m = off[t], off[t + 1], batch[t + 1]
            q = Q[a : a + m]
            _np.divide(G[b : b + m], P[b : b + m], out=q)
            _np.multiply(F[a : a + m], q, out=G[a : a + m])
    # counts; Q is 0 where a chain ends, so the transition counts need no mask.
    # learn uses the parameters of the *next* element; they are the chain's own (the same skill).
    sum_g = _np.bincount(vs, weights=G, minlength=n_slots)
    sum_g_obs = _np.bincount(vs, weights=G * obs, minlength=n_slots)
    sum_g_last = _np.bincount(vs[pk.last], weights=G[pk.last], minlength=n_slots)
    n_resp, n_seq, sum_obs = pk.n_resp, pk.n_seq, pk.sum_obs
    out = {
        "n_sequences": n_seq.copy(),
        "n_responses": n_resp.copy(),
        "prior_num": _np.bincount(vs[pk.first], weights=G[pk.first], minlength=n_slots),
        "learn_num": _np.bincount(vs, weights=(1.0 - F) * learn * Q, minlength=n_slots),
        "learn_den": (n_resp - n_seq) - (sum_g - sum_g_last),
        "guess_num": sum_obs - sum_g_obs,
        "guess_den": n_resp - sum_g,
        "slip_num": sum_g - sum_g_obs,
        "slip_den": sum_g,
        "log_likelihood": ll_e1 + _np.bincount(vs, weights=_np.log(D), minlength=n_slots),
    }
    if fit_forget:
        out["forget_num"] = _np.bincount(vs, weights=F * fg * Q0, minlength=n_slots)
        out["forget_den"] = sum_g - sum_g_last
    else:
        out["forget_num"] = _np.zeros(n_slots)
        out["forget_den"] = _np.zeros(n_slots)
    return out


def _m_step(
    counts: _Mapping[str, _np.ndarray], current: dict[str, _np.ndarray], bounds: dict, fit_forget: bool
) -> dict[str, _np.ndarray]:
    """New parameters from summed expected counts; a parameter with no data keeps its value."""

    def ratio(num: str, den: str, name: str) -> _np.ndarray:
        d = counts[den]
        with _np.errstate(invalid="ignore", divide="ignore"):
            x = _np.where(d > 1e-12, counts[num] / _np.where(d > 1e-12, d, 1.0), current[name])
        lo, hi = bounds[name]
        return _np.clip(x, lo, hi)

    new = {
        "prior": ratio("prior_num", "n_sequences", "prior"),
        "learn": ratio("learn_num", "learn_den", "learn"),
        "guess": ratio("guess_num", "guess_den", "guess"),
        "slip": ratio("slip_num", "slip_den", "slip"),
        "forget": ratio("forget_num", "forget_den", "forget") if fit_forget else current["forget"].copy(),
    }
    return new


@_dataclass
class BKTCounts:
    """Expected sufficient statistics of BKT's E-step, per skill; they add up across learners.

    A distributed EM computes ``expected_counts`` on each shard of learners with the current
    parameters, sums the results with ``+`` and calls ``maximize`` for the next parameters.
    """

    skill_ids: list[str]
    arrays: dict[str, _np.ndarray] = _field(default_factory=dict)

    def __add__(self, other: "BKTCounts") -> "BKTCounts":
        if not isinstance(other, BKTCounts):
            return NotImplemented
        ids = list(self.skill_ids) + [s for s in other.skill_ids if s not in set(self.skill_ids)]
        pos = {s: i for i, s in enumerate(ids)}
        out = {k: _np.zeros(len(ids)) for k in _COUNT_FIELDS}
        for part in (self, other):
            idx = _np.array([pos[s] for s in part.skill_ids], dtype=_np.int64)
            for k in _COUNT_FIELDS:
                _np.add.at(out[k], idx, part.arrays[k])
        return BKTCounts(ids, out)

    def __radd__(self, other):  # so that sum([...]) works
        if other == 0:
            return self
        return self.__add__(other)

    def as_dict(self) -> dict[str, dict[str, float]]:
        return {s: {k: float(self.arrays[k][i]) for k in _COUNT_FIELDS} for i, s in enumerate(self.skill_ids)}

    def maximize(
        self,
        current: _Mapping[str, SkillParams],
        default: SkillParams | None = None,
        max_guess: float = 0.3,
        max_slip: float = 0.3,
        fit_forget: bool = False,
    ) -> dict[str, SkillParams]:
        """The M-step: new per-skill parameters from these counts (within the identifiability bounds)."""
        default = default or SkillParams()
        cur = {n: _np.array([getattr(current.get(s, default), n) for s in self.skill_ids]) for n in _PARAM_NAMES}
        new = _m_step(self.arrays, cur, _bounds(max_guess, max_slip), fit_forget)
        return {s: SkillParams(**{n: float(new[n][i]) for n in _PARAM_NAMES}) for i, s in enumerate(self.skill_ids)}


_PARAM_NAMES = ("prior", "learn", "guess", "slip", "forget")


def _param_arrays(skill_ids: list[str], params: _Mapping[str, SkillParams], default: SkillParams) -> dict[str, _np.ndarray]:
    return {n: _np.array([getattr(params.get(s, default), n) for s in skill_ids], dtype=float) for n in _PARAM_NAMES}


def expected_counts(X, params: _Mapping[str, SkillParams], default: SkillParams | None = None) -> BKTCounts:
    """E-step on the learners in X (a ResponseLog or anything `as_response_log` accepts).

    Returns per-skill expected counts under ``params`` (skills not in ``params`` use ``default``).
    Counts of disjoint sets of learners add up to the counts of their union, so the E-step can be
    run per shard of learners and summed (``sum(counts_list)``) before ``BKTCounts.maximize``.
    """
    from tutor.research.logs import as_response_log

    log = as_response_log(X)
    default = default or SkillParams()
    skill_ids = list(log.skill_ids)
    ch = _chains(log, _np.arange(len(skill_ids)))
    if len(ch.row) == 0:
        return BKTCounts(skill_ids, {k: _np.zeros(len(skill_ids)) for k in _COUNT_FIELDS})
    pk = _pack(ch.chain_len, ch.chain_start, ch.chain_skill, ch.obs, len(skill_ids))
    prm = _param_arrays(skill_ids, params, default)
    out = _e_step(pk, prm, len(skill_ids), fit_forget=True)
    return BKTCounts(skill_ids, out)


# =============================================================================================
# The estimator
# =============================================================================================
_COMBINE = ("mean", "min", "product")


class BKT:
    """Bayesian Knowledge Tracing with one set of five parameters per skill.

    scikit-learn style: ``fit(X)``, ``predict_proba(X)``, ``get_params``/``set_params``, fitted
    attributes ending in ``_``. river style online use: ``learn_one(x, y)`` and
    ``predict_proba_one(x)``, with ``x = {"learner_id": ..., "skill_ids": [...]}`` and the update
    equations of this module (``update``), so batch and online predictions agree exactly.

    ``X`` is a `tutor.research.logs.ResponseLog` (or a list of event dicts / a mapping of columns with the
    `events` column names). ``predict_proba(X)[:, 1]`` is P(correct) of each row *before* the
    answer is seen, given the same learner's earlier rows; each learner starts at the prior.

    Parameters
    ----------
    n_restarts : EM runs from different starting points per skill (the first from
        ``default_params``, the others random); the best log-likelihood wins.
    max_iter, tol : EM stops for a skill when its log-likelihood changes by less than ``tol``
        (absolute, as pyBKT) or after ``max_iter`` iterations.
    max_guess, max_slip : upper bounds that keep the model identifiable (a correct answer must
        mean more mastery, not less); 0.3 by default, as is usual for BKT.
    fit_forget : also fit P(forget); by default forgetting is fixed at 0 (pyBKT's default).
    min_responses : skills with fewer responses than this keep ``default_params``.
    default_params : the parameters of skills with too little data and of unknown skills.
    multi_skill : how the P(correct) of an answer that lists several skills is combined from the
        skills' own predictions: ``"mean"``, ``"min"`` or ``"product"`` (all skills needed).
    random_state : seed of the random restarts.
    """

    _classes = _np.array([0, 1])

    def __init__(
        self,
        n_restarts: int = 5,
        max_iter: int = 100,
        tol: float = 1e-3,
        max_guess: float = 0.3,
        max_slip: float = 0.3,
        fit_forget: bool = False,
        min_responses: int = 20,
        default_params: SkillParams | None = None,
        multi_skill: str = "mean",
        random_state: int | None = None,
    ):
        self.n_restarts = n_restarts
        self.max_iter = max_iter
        self.tol = tol
        self.max_guess = max_guess
        self.max_slip = max_slip
        self.fit_forget = fit_forget
        self.min_responses = min_responses
        self.default_params = default_params
        self.multi_skill = multi_skill
        self.random_state = random_state
        self._state: dict[tuple[str, str], float] = {}

    # ------------------------------------------------------------------ sklearn plumbing
    _PARAM_KEYS = (
        "n_restarts",
        "max_iter",
        "tol",
        "max_guess",
        "max_slip",
        "fit_forget",
        "min_responses",
        "default_params",
        "multi_skill",
        "random_state",
    )

    def get_params(self, deep: bool = True) -> dict[str, _Any]:
        return {k: getattr(self, k) for k in self._PARAM_KEYS}

    def set_params(self, **params: _Any) -> "BKT":
        for k, v in params.items():
            if k not in self._PARAM_KEYS:
                raise ValueError(f"invalid parameter {k!r} for BKT; valid: {', '.join(self._PARAM_KEYS)}")
            setattr(self, k, v)
        return self

    def __repr__(self) -> str:
        ref = BKT.__new__(BKT)
        BKT.__init__(ref)
        changed = [f"{k}={getattr(self, k)!r}" for k in self._PARAM_KEYS if getattr(self, k) != getattr(ref, k)]
        return f"BKT({', '.join(changed)})"

    @property
    def classes_(self) -> _np.ndarray:
        return self._classes

    def _default(self) -> SkillParams:
        return self.default_params if self.default_params is not None else SkillParams()

    def _check_hyper(self) -> None:
        if not (isinstance(self.n_restarts, int) and self.n_restarts >= 1):
            raise ValueError(f"n_restarts must be an integer >= 1, got {self.n_restarts!r}")
        if not (isinstance(self.max_iter, int) and self.max_iter >= 1):
            raise ValueError(f"max_iter must be an integer >= 1, got {self.max_iter!r}")
        for name in ("max_guess", "max_slip"):
            v = getattr(self, name)
            if not 0.0 < v < 1.0:
                raise ValueError(f"{name} must be in (0, 1), got {v!r}")
        if self.max_guess + self.max_slip >= 1.0:
            raise ValueError("max_guess + max_slip must be < 1, or a correct answer need not mean mastery")
        if self.multi_skill not in _COMBINE:
            raise ValueError(f"multi_skill must be one of {', '.join(_COMBINE)}, got {self.multi_skill!r}")
        if self.min_responses < 0:
            raise ValueError("min_responses must be >= 0")

    def _check_fitted(self) -> None:
        if not hasattr(self, "params_"):
            raise RuntimeError("this BKT is not fitted yet; call fit() or load() first")

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y=None, progress: bool = False) -> "BKT":
        """Fit every skill's parameters by EM (vectorised over chains, skills and restarts)."""
        import time

        from tutor.research.logs import as_response_log

        self._check_hyper()
        t0 = time.perf_counter()
        log = as_response_log(X)
        if y is not None:
            y = _np.asarray(y, dtype=float)
            if y.shape != (len(log),):
                raise ValueError(f"y has shape {y.shape}, expected ({len(log)},)")
            log = _replace_scores(log, y)
        if len(log) == 0:
            raise ValueError("cannot fit BKT on an empty log")
        default = self._default()
        skill_ids = list(log.skill_ids)
        S, R = len(skill_ids), self.n_restarts
        ch = _chains(log, _np.arange(S))
        n_resp = _np.bincount(ch.skill, minlength=S)
        n_seq = _np.bincount(ch.chain_skill, minlength=S)
        fit_skill = n_resp >= max(self.min_responses, 1)
        bounds = _bounds(self.max_guess, self.max_slip)

        # starting points, slot = r * S + s
        rng = _np.random.default_rng(self.random_state)
        init = {n: _np.empty((R, S)) for n in _PARAM_NAMES}
        for n in _PARAM_NAMES:
            init[n][0] = getattr(default, n)
        if R > 1:
            shape = (R - 1, S)
            init["prior"][1:] = rng.uniform(0.05, 0.95, shape)
            init["learn"][1:] = rng.uniform(0.01, 0.4, shape)
            init["guess"][1:] = rng.uniform(0.02, self.max_guess, shape)
            init["slip"][1:] = rng.uniform(0.02, self.max_slip, shape)
            init["forget"][1:] = rng.uniform(0.0, 0.1, shape) if self.fit_forget else default.forget
        prm = {n: _np.clip(init[n].ravel(), *bounds[n]) for n in _PARAM_NAMES}
        if not self.fit_forget:
            prm["forget"] = _np.full(R * S, float(default.forget))
        n_slots = R * S

        # virtual chains: every chain of a fitted skill, once per restart
        sel = _np.flatnonzero(fit_skill[ch.chain_skill])
        v_len = _np.tile(ch.chain_len[sel], R)
        v_start = _np.tile(ch.chain_start[sel], R)
        v_slot = (_np.arange(R)[:, None] * S + ch.chain_skill[sel][None, :]).ravel()

        active = _np.zeros(n_slots, dtype=bool)
        active[(_np.arange(R)[:, None] * S + _np.flatnonzero(fit_skill)[None, :]).ravel()] = True
        slot_resp = _np.tile(n_resp, R).astype(float)
        ll = _np.full(n_slots, -_np.inf)
        prev_ll = _np.full(n_slots, _np.nan)
        n_iter = _np.zeros(n_slots, dtype=_np.int64)
        converged = _np.zeros(n_slots, dtype=bool)

        pk = _pack(v_len, v_start, v_slot, ch.obs, n_slots) if len(v_len) else None
        packed_resp = slot_resp[active].sum()
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=self.max_iter, desc="BKT EM", unit="iter", leave=False)
        for it in range(self.max_iter):
            if pk is None or not active.any():
                break
            counts = _e_step(pk, prm, n_slots, self.fit_forget or default.forget > 0)
            new_ll = counts["log_likelihood"]
            ll[active] = new_ll[active]
            n_iter[active] = it + 1
            done = active & (_np.abs(new_ll - prev_ll) < self.tol)
            converged |= done
            prev_ll[active] = new_ll[active]
            upd = active & ~done
            if it + 1 < self.max_iter:
                new = _m_step(counts, prm, bounds, self.fit_forget)
                for n in _PARAM_NAMES:
                    prm[n] = _np.where(upd, new[n], prm[n])
            active = upd
            if bar is not None:
                bar.update(1)
                bar.set_postfix(active_fits=int(active.sum()))
            # drop finished slots from the packed data once they are a good part of it
            remaining = slot_resp[active].sum()
            if active.any() and remaining < 0.6 * packed_resp:
                keep = active[v_slot]
                v_len, v_start, v_slot = v_len[keep], v_start[keep], v_slot[keep]
                pk = _pack(v_len, v_start, v_slot, ch.obs, n_slots)
                packed_resp = remaining
        if bar is not None:
            bar.close()

        # best restart per skill
        ll_rs = ll.reshape(R, S)
        best = _np.argmax(_np.where(_np.isfinite(ll_rs), ll_rs, -_np.inf), axis=0)
        cols = _np.arange(S)
        pick = best * S + cols
        params: dict[str, SkillParams] = {}
        diagnostics: dict[str, dict[str, _Any]] = {}
        for s, sid in enumerate(skill_ids):
            d: dict[str, _Any] = {"n_responses": int(n_resp[s]), "n_sequences": int(n_seq[s])}
            if fit_skill[s]:
                k = pick[s]
                p = SkillParams(**{n: float(prm[n][k]) for n in _PARAM_NAMES})
                at_bound = [
                    n
                    for n in ("guess", "slip")
                    if _math.isclose(getattr(p, n), bounds[n][1], rel_tol=0, abs_tol=1e-9)
                ]
                d.update(
                    fitted=True,
                    log_likelihood=float(ll[k]),
                    n_iter=int(n_iter[k]),
                    converged=bool(converged[k]),
                    restart=int(best[s]),
                    restart_log_likelihoods=[float(x) for x in ll_rs[:, s]],
                    mastery_informative=bool(1.0 - p.slip > p.guess),
                    at_upper_bound=at_bound,
                )
            else:
                p = default
                d.update(
                    fitted=False,
                    reason=f"{int(n_resp[s])} responses < min_responses={self.min_responses}; keeps the default parameters",
                    mastery_informative=bool(1.0 - p.slip > p.guess),
                )
            params[sid] = p
            diagnostics[sid] = d
        self.params_ = params
        self.diagnostics_ = diagnostics
        self.skills_ = skill_ids
        self.n_iter_ = int(n_iter.max()) if len(n_iter) else 0
        self.log_likelihood_ = float(sum(d.get("log_likelihood", 0.0) for d in diagnostics.values()))
        self.n_rows_ = int(len(log))
        self.fit_seconds_ = time.perf_counter() - t0
        self._state = {}
        return self

    def expected_counts(self, X) -> BKTCounts:
        """The E-step of one EM iteration on X under the fitted parameters (summable across learners)."""
        self._check_fitted()
        return expected_counts(X, self.params_, self._default())

    # ------------------------------------------------------------------ batch prediction
    def skill_params(self, skill_id: str) -> SkillParams:
        self._check_fitted()
        return self.params_.get(skill_id, self._default())

    def _forward(self, log) -> tuple[_np.ndarray, _np.ndarray]:
        """Per-row P(correct) before each answer, and per observation (in `expanded_order`)."""
        self._check_fitted()
        default = self._default()
        known = {s: i for i, s in enumerate(self.skills_)}
        ids = list(self.skills_) + [s for s in log.skill_ids if s not in known]
        pos = {s: i for i, s in enumerate(ids)}
        skill_map = _np.array([pos[s] for s in log.skill_ids], dtype=_np.int64)
        prm = _param_arrays(ids, self.params_, default)
        ch = _chains(log, skill_map)
        n = len(log)
        if len(ch.row) == 0:
            return _np.zeros(n), _np.zeros(0)
        pk = _pack(ch.chain_len, ch.chain_start, ch.chain_skill, ch.obs, len(ids))
        vs = pk.vskill
        g, s = prm["guess"][vs], prm["slip"][vs]
        learn, forget = prm["learn"][vs], prm["forget"][vs]
        obs = pk.obs
        P = _np.empty(pk.total)
        P[pk.first] = prm["prior"][vs[pk.first]]
        off, batch = pk.offsets, pk.batch
        T = len(batch)
        partial = bool(_np.any((obs > 0.0) & (obs < 1.0)))
        for t in range(T):
            a, m_ = off[t], batch[t]
            sl = slice(a, a + m_)
            p = P[sl]
            o = obs[sl]
            gs, ss = g[sl], s[sl]
            # the same arithmetic as posterior() and update(), element-wise
            known_c = p * (1.0 - ss)
            unknown_c = (1.0 - p) * gs
            known_w = p * ss
            unknown_w = (1.0 - p) * (1.0 - gs)
            post_c = known_c / (known_c + unknown_c)
            post_w = known_w / (known_w + unknown_w)
            if partial:
                post = _np.where(o >= 1.0, post_c, _np.where(o <= 0.0, post_w, o * post_c + (1.0 - o) * post_w))
            else:
                post = _np.where(o >= 1.0, post_c, post_w)
            if t + 1 < T:
                b, mm = off[t + 1], batch[t + 1]
                nsl = slice(b, b + mm)
                # each chain keeps its own parameters, so the transition uses this step's values
                P[nsl] = post[:mm] * (1.0 - forget[sl][:mm]) + (1.0 - post[:mm]) * learn[sl][:mm]
        pc = P * (1.0 - s) + (1.0 - P) * g
        rows = ch.row[pk.src]
        out = _combine(rows, pc, n, self.multi_skill)
        per_obs = _np.empty(len(pc))
        per_obs[ch.exp_index[pk.src]] = pc
        return out, per_obs

    def predict_proba_observations(self, X) -> _np.ndarray:
        """P(correct) per (row, skill) observation, in `expanded_order(X)` (one value per skill of a row)."""
        from tutor.research.logs import as_response_log

        return self._forward(as_response_log(X))[1]

    def predict_proba(self, X) -> _np.ndarray:
        """(n, 2) array: column 1 is P(correct) of each row before it is answered."""
        from tutor.research.logs import as_response_log

        p = self._forward(as_response_log(X))[0]
        return _np.column_stack([1.0 - p, p])

    def predict(self, X) -> _np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(_np.int64)

    def mastery(self, X) -> dict[tuple[str, str], float]:
        """P(mastered) of every (learner_id, skill_id) of X after all of X's answers."""
        from tutor.research.logs import as_response_log

        log = as_response_log(X)
        m = BKT(**self.get_params())
        m.params_, m.skills_ = self.params_, self.skills_
        for ev in log.events():
            m.learn_one(ev, ev["score"])
        return dict(m._state)

    # ------------------------------------------------------------------ online (river style)
    @staticmethod
    def _skills_of(x: _Mapping[str, _Any]) -> list[str]:
        sk = x.get("skill_ids", x.get("skill_id"))
        if sk is None:
            raise KeyError("x needs 'skill_ids' (a list or ';'-separated string) or 'skill_id'")
        if isinstance(sk, str):
            return [t.strip() for t in sk.split(";") if t.strip()]
        return [str(t) for t in sk]

    def p_mastered(self, learner_id: str, skill_id: str) -> float:
        """Current P(mastered) of a learner's skill (the prior if the learner has no answer yet)."""
        v = self._state.get((str(learner_id), skill_id))
        return self.skill_params(skill_id).prior if v is None else v

    def p_correct_one(self, x: _Mapping[str, _Any]) -> float:
        """P(correct) of the learner on an item measuring x's skills, from the current state."""
        lid = str(x["learner_id"])
        ps = [p_correct(self.p_mastered(lid, sk), self.skill_params(sk)) for sk in self._skills_of(x)]
        if len(ps) == 1:
            return ps[0]
        if self.multi_skill == "mean":
            return sum(ps) / len(ps)
        if self.multi_skill == "min":
            return min(ps)
        return _math.exp(sum(_math.log(v) for v in ps))

    def predict_proba_one(self, x: _Mapping[str, _Any]) -> dict[bool, float]:
        """river style: {False: P(wrong), True: P(correct)}."""
        p = self.p_correct_one(x)
        return {False: 1.0 - p, True: p}

    def learn_one(self, x: _Mapping[str, _Any], y: float | bool) -> "BKT":
        """Update the learner's mastery of each of x's skills with one graded answer (1/0 or a score)."""
        self._check_fitted()
        lid = str(x["learner_id"])
        score = float(y)
        state = self._state
        for sk in self._skills_of(x):
            params = self.params_.get(sk) or self._default()
            key = (lid, sk)
            p = state.get(key)
            state[key] = update(params.prior if p is None else p, score, params)
        return self

    def reset_state(self, learner_id: str | None = None) -> None:
        """Forget the online state of one learner (or of all learners)."""
        if learner_id is None:
            self._state = {}
        else:
            lid = str(learner_id)
            self._state = {k: v for k, v in self._state.items() if k[0] != lid}

    # ------------------------------------------------------------------ artefacts
    def to_mastery_model(self, version: str = "unversioned", metadata: dict | None = None):
        from tutor.tracing.artefacts import MasteryModel

        self._check_fitted()
        return MasteryModel(version=version, default=self._default(), skills=dict(self.params_), metadata=metadata or {})

    @classmethod
    def from_mastery_model(cls, model, **hyper: _Any) -> "BKT":
        """A fitted BKT from a MasteryModel (as returned by tutor.tracing.artefacts.load_mastery_model)."""
        meta_hyper = dict(model.metadata.get("hyperparameters", {})) if model.metadata else {}
        meta_hyper.pop("default_params", None)
        kw = {k: v for k, v in meta_hyper.items() if k in cls._PARAM_KEYS}
        kw.update(hyper)
        est = cls(**kw, default_params=model.default)
        est.params_ = dict(model.skills)
        est.skills_ = list(model.skills)
        diag = model.metadata.get("diagnostics") if model.metadata else None
        est.diagnostics_ = diag if isinstance(diag, dict) else {}
        return est

    def save(self, directory, metadata: dict | None = None) -> None:
        """Write model.json + metadata.json (+ diagnostics.json) with tutor.tracing.artefacts; never pickle."""
        import json
        from pathlib import Path

        from tutor.tracing.artefacts import save_mastery_model

        self._check_fitted()
        meta = dict(metadata or {})
        meta.setdefault("version", "unversioned")
        hyper = self.get_params()
        hyper["default_params"] = self._default().as_dict()
        meta.setdefault("hyperparameters", hyper)
        save_mastery_model(Path(directory), self._default(), dict(self.params_), meta)
        (Path(directory) / "diagnostics.json").write_text(
            json.dumps(getattr(self, "diagnostics_", {}), indent=1, sort_keys=True) + "\n", encoding="utf-8"
        )

    @classmethod
    def load(cls, directory) -> "BKT":
        import json
        from pathlib import Path

        from tutor.tracing.artefacts import load_mastery_model

        est = cls.from_mastery_model(load_mastery_model(Path(directory)))
        diag = Path(directory) / "diagnostics.json"
        if diag.exists():
            est.diagnostics_ = json.loads(diag.read_text(encoding="utf-8"))
        return est


def _combine(rows: _np.ndarray, values: _np.ndarray, n: int, how: str) -> _np.ndarray:
    counts = _np.bincount(rows, minlength=n)
    if how == "mean" or _np.all(counts <= 1):
        return _np.bincount(rows, weights=values, minlength=n) / _np.maximum(counts, 1)
    if how == "min":
        out = _np.full(n, _np.inf)
        _np.minimum.at(out, rows, values)
        return _np.where(counts > 0, out, 0.0)
    return _np.exp(_np.bincount(rows, weights=_np.log(values), minlength=n))


def _replace_scores(log, y: _np.ndarray):
    from dataclasses import replace

    if _np.any((y < 0) | (y > 1)) or not _np.all(_np.isfinite(y)):
        raise ValueError("y must hold scores in [0, 1]")
    return replace(log, score=y, _seq=None)
