"""Bayesian Knowledge Tracing: the interpretable mastery model of the service.

Each skill has pyBKT's five readable parameters. The online update below is the one the service
applies to every answer; the same equations are used when fitting, so batch and online agree.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


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

import math as _math
from collections.abc import Mapping as _Mapping
from dataclasses import dataclass as _dataclass, field as _field
from typing import Any as _Any

import numpy as _np

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


@_dataclass
class _Packed:
    """Chains packed time-major; element (t, r) of the r-th longest chain lives at offsets[t] + r."""

    batch: _np.ndarray  # (T,) chains still running at step t
    offsets: _np.ndarray  # (T + 1,)
    obs: _np.ndarray  # (total,) score of each element
    vskill: _np.ndarray  # (total,) parameter slot of each element's chain
    src: _np.ndarray  # (total,) index of the element in the caller's observation array
    nxt: _np.ndarray  # (n_with_next,) packed index of the next element, for elements with one
    has_next: _np.ndarray  # (n_with_next,) packed indices of elements that have a next element
    first: slice  # elements at t = 0 (one per chain)

    @property
    def total(self) -> int:
        return int(self.offsets[-1])


def _pack(chain_len: _np.ndarray, chain_start: _np.ndarray, chain_vskill: _np.ndarray, obs: _np.ndarray) -> _Packed:
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
    # elements (t, r) with r < batch[t + 1] have a successor at offsets[t + 1] + r
    if T > 1:
        nb = batch[1:]
        has_next = _np.repeat(offsets[:-2], nb) + (_np.arange(int(nb.sum())) - _np.repeat(_np.cumsum(nb) - nb, nb))
        t_of = _np.repeat(_np.arange(T - 1), nb)
        nxt = offsets[t_of + 1] + (has_next - offsets[t_of])
    else:
        has_next = _np.zeros(0, dtype=_np.int64)
        nxt = _np.zeros(0, dtype=_np.int64)
    return _Packed(batch, offsets, obs[src], vsk, src, nxt, has_next, slice(0, int(batch[0]) if T else 0))


@_dataclass
class _Chains:
    """The (learner, skill) chains of a log, grouped by chain, each in time order."""

    row: _np.ndarray  # (n_obs,) log row of each observation, grouped by chain
    skill: _np.ndarray  # (n_obs,) model skill index of each observation
    obs: _np.ndarray  # (n_obs,) score
    chain_start: _np.ndarray
    chain_len: _np.ndarray
    chain_skill: _np.ndarray


def _chains(log, skill_map: _np.ndarray) -> _Chains:
    """Split a ResponseLog into chains; skill_map maps log skill index -> model skill index."""
    seq = log.sequence_order()
    counts = log.n_skills_per_row[seq]
    rows = _np.repeat(seq, counts)
    within = _np.arange(len(rows)) - _np.repeat(_np.cumsum(counts) - counts, counts)
    log_skill = log.skill_idx[log.skill_ptr[rows] + within]
    key = log.learner[rows] * max(log.n_skills, 1) + log_skill
    order = _np.argsort(key, kind="stable")  # group by chain, keep time order inside
    rows, log_skill, key = rows[order], log_skill[order], key[order]
    n = len(rows)
    if n == 0:
        z = _np.zeros(0, dtype=_np.int64)
        return _Chains(z, z, _np.zeros(0), z, z, z)
    starts = _np.flatnonzero(_np.r_[True, key[1:] != key[:-1]])
    lens = _np.diff(_np.r_[starts, n])
    skill = skill_map[log_skill]
    return _Chains(rows, skill, log.score[rows], starts, lens, skill[starts])


def _bounds(max_guess: float, max_slip: float) -> dict[str, tuple[float, float]]:
    return {
        "prior": (_EPS, 1 - _EPS),
        "learn": (_EPS, 1 - _EPS),
        "forget": (0.0, 1 - _EPS),
        "guess": (_EPS, max_guess),
        "slip": (_EPS, max_slip),
    }


def _e_step(pk: _Packed, prm: dict[str, _np.ndarray], n_slots: int, fit_forget: bool) -> dict[str, _np.ndarray]:
    """Expected counts per parameter slot (skill, or skill x restart) for the packed chains."""
    vs = pk.vskill
    obs = pk.obs
    g, s = prm["guess"][vs], prm["slip"][vs]
    e1 = obs * (1.0 - s) + (1.0 - obs) * s  # P(obs | mastered), "virtual evidence" for partial scores
    e0 = obs * g + (1.0 - obs) * (1.0 - g)  # P(obs | not mastered)
    ratio = e0 / e1
    one_m_ratio = 1.0 - ratio
    learn = prm["learn"][vs]
    keep = 1.0 - prm["forget"][vs] - learn  # next = learn + filtered * keep
    total = pk.total
    P = _np.empty(total)
    F = _np.empty(total)
    off, batch = pk.offsets, pk.batch
    T = len(batch)
    P[pk.first] = prm["prior"][vs[pk.first]]
    for t in range(T):
        a, n = off[t], batch[t]
        p = P[a : a + n]
        f = p / (p * one_m_ratio[a : a + n] + ratio[a : a + n])
        F[a : a + n] = f
        if t + 1 < T:
            b, m = off[t + 1], batch[t + 1]
            P[b : b + m] = learn[b : b + m] + f[:m] * keep[b : b + m]
    # backward smoother: G = P(mastered | whole chain)
    G = F.copy()
    if fit_forget:
        fg = prm["forget"][vs]
        for t in range(T - 2, -1, -1):
            a, b, m = off[t], off[t + 1], batch[t + 1]
            g1, pn, fgn = G[b : b + m], P[b : b + m], fg[b : b + m]
            G[a : a + m] = F[a : a + m] * ((1.0 - fgn) * g1 / pn + fgn * (1.0 - g1) / _np.maximum(1.0 - pn, 1e-300))
    else:
        for t in range(T - 2, -1, -1):
            a, b, m = off[t], off[t + 1], batch[t + 1]
            G[a : a + m] = F[a : a + m] * (G[b : b + m] / P[b : b + m])
    C = P * e1 + (1.0 - P) * e0
    G0 = 1.0 - G
    hn, nx = pk.has_next, pk.nxt
    vs_hn = vs[hn]
    xi01 = (1.0 - F[hn]) * learn[nx] * (G[nx] / P[nx])
    out = {
        "n_sequences": _np.bincount(vs[pk.first], minlength=n_slots).astype(float),
        "n_responses": _np.bincount(vs, minlength=n_slots).astype(float),
        "prior_num": _np.bincount(vs[pk.first], weights=G[pk.first], minlength=n_slots),
        "learn_num": _np.bincount(vs_hn, weights=xi01, minlength=n_slots),
        "learn_den": _np.bincount(vs_hn, weights=G0[hn], minlength=n_slots),
        "guess_num": _np.bincount(vs, weights=G0 * obs, minlength=n_slots),
        "guess_den": _np.bincount(vs, weights=G0, minlength=n_slots),
        "slip_num": _np.bincount(vs, weights=G * (1.0 - obs), minlength=n_slots),
        "slip_den": _np.bincount(vs, weights=G, minlength=n_slots),
        "log_likelihood": _np.bincount(vs, weights=_np.log(C), minlength=n_slots),
    }
    if fit_forget:
        fg = prm["forget"][vs]
        xi10 = F[hn] * fg[nx] * ((1.0 - G[nx]) / _np.maximum(1.0 - P[nx], 1e-300))
        out["forget_num"] = _np.bincount(vs_hn, weights=xi10, minlength=n_slots)
        out["forget_den"] = _np.bincount(vs_hn, weights=G[hn], minlength=n_slots)
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
    from tutor.logs import as_response_log

    log = as_response_log(X)
    default = default or SkillParams()
    skill_ids = list(log.skill_ids)
    ch = _chains(log, _np.arange(len(skill_ids)))
    if len(ch.row) == 0:
        return BKTCounts(skill_ids, {k: _np.zeros(len(skill_ids)) for k in _COUNT_FIELDS})
    pk = _pack(ch.chain_len, ch.chain_start, ch.chain_skill, ch.obs)
    prm = _param_arrays(skill_ids, params, default)
    fit_forget = bool(_np.any(prm["forget"] > 0))
    out = _e_step(pk, prm, len(skill_ids), fit_forget)
    return BKTCounts(skill_ids, out)
