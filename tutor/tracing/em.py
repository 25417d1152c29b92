"""EM for BKT over all learners' answers at once, vectorised with numpy.

Every (learner, skill) pair is one hidden-Markov chain with the skill's five parameters; an answer
that lists several skills is an observation of each of those skills' chains. All chains of all
skills (and of all random restarts) are fitted at once: they are `pack`-ed time-major, sorted by
length (longest first), as PyTorch packs sequences, so that at time step t the chains still
running are a prefix of the step's slice. The forward filter and the backward smoother then loop
over time steps only (the longest chain, 290 steps on ASSIST2009), each step being a few numpy
operations over all running chains; the rest of the E-step and the whole M-step are single
vectorised passes (np.bincount per parameter slot; a slot is a skill, or a skill in one restart).

`expected_counts` is the E-step as per-skill sufficient statistics (`BKTCounts`) that add up
across learners, so a distributed job can run it per shard of learners and reduce by ``+``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from tutor.tracing.equations import PARAM_NAMES, SkillParams
from tutor.tracing.responses import ResponseLog, as_response_log, expanded_order

EPS = 1e-6
COUNT_FIELDS = (
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

Bounds = dict[str, tuple[float, float]]


class Packed:
    """Chains packed time-major; element (t, r) of the r-th longest chain lives at offsets[t] + r."""

    def __init__(self, batch, offsets, obs, vskill, src, first, last, n_slots):
        self.batch = batch  # (T,) chains still running at step t
        self.offsets = offsets  # (T + 1,)
        self.obs = obs  # (total,) score of each element
        self.vskill = vskill  # (total,) parameter slot of each element's chain
        self.src = src  # (total,) index of the element in the caller's observation array
        self.first = first  # slice: the elements at t = 0, one per chain
        self.last = last  # (n_chains,) packed index of each chain's last element
        self.n_resp = np.bincount(vskill, minlength=n_slots).astype(float)
        self.n_seq = np.bincount(vskill[first], minlength=n_slots).astype(float)
        self.sum_obs = np.bincount(vskill, weights=obs, minlength=n_slots)
        binary = bool(np.all((obs == 0.0) | (obs == 1.0)))
        if binary:  # per-element code = 2 * slot + answer, and how often each code occurs
            self.code = vskill * 2 + obs.astype(np.int64)
            cnt = np.bincount(self.code, minlength=2 * n_slots)
            self.code_uniq = np.flatnonzero(cnt)
            self.code_count = cnt[self.code_uniq].astype(float)
            self.code_slot = self.code_uniq // 2
        else:
            self.code = None
        self._buf = None

    @property
    def total(self) -> int:
        return int(self.offsets[-1])

    def buffers(self):
        """Four work arrays of the packed size, allocated once and reused by every E-step on these chains."""
        if self._buf is None:
            self._buf = tuple(np.empty(self.total) for _ in range(4))
        return self._buf


def pack(chain_len: np.ndarray, chain_start: np.ndarray, chain_vskill: np.ndarray, obs: np.ndarray, n_slots: int) -> Packed:
    """Pack chains whose observations are obs[chain_start[c] : chain_start[c] + chain_len[c]] (time order)."""
    rank = np.argsort(-chain_len, kind="stable")
    lens = chain_len[rank]
    n_chains = len(lens)
    T = int(lens[0]) if n_chains else 0
    # batch[t] = number of chains longer than t
    ends = np.bincount(lens, minlength=T + 1)
    batch = n_chains - np.cumsum(ends)[:T]
    offsets = np.zeros(T + 1, dtype=np.int64)
    np.cumsum(batch, out=offsets[1:])
    total = int(offsets[-1])
    rr = np.repeat(np.arange(n_chains, dtype=np.int64), lens)
    first_of_chain = np.cumsum(lens) - lens
    pos = np.arange(total, dtype=np.int64) - np.repeat(first_of_chain, lens)
    packed = offsets[pos] + rr
    src = np.empty(total, dtype=np.int64)
    src[packed] = np.repeat(chain_start[rank], lens) + pos
    vsk = np.empty(total, dtype=np.int64)
    vsk[packed] = np.repeat(chain_vskill[rank], lens)
    last = offsets[lens - 1] + np.arange(n_chains, dtype=np.int64)
    return Packed(batch, offsets, obs[src], vsk, src, slice(0, int(batch[0]) if T else 0), last, n_slots)


@dataclass
class Chains:
    """The (learner, skill) chains of a log, grouped by chain, each in time order."""

    row: np.ndarray  # (n_obs,) log row of each observation, grouped by chain
    skill: np.ndarray  # (n_obs,) model skill index of each observation
    obs: np.ndarray  # (n_obs,) score
    chain_start: np.ndarray
    chain_len: np.ndarray
    chain_skill: np.ndarray
    exp_index: np.ndarray  # (n_obs,) position of each observation in `expanded_order(log)`


def chains(log: ResponseLog, skill_map: np.ndarray) -> Chains:
    """Split a ResponseLog into chains; skill_map maps log skill index -> model skill index."""
    rows, log_skill = expanded_order(log)
    key = log.learner[rows] * max(log.n_skills, 1) + log_skill
    order = np.argsort(key, kind="stable")  # group by chain, keep time order inside
    rows, log_skill, key = rows[order], log_skill[order], key[order]
    n = len(rows)
    if n == 0:
        z = np.zeros(0, dtype=np.int64)
        return Chains(z, z, np.zeros(0), z, z, z, z)
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    lens = np.diff(np.r_[starts, n])
    skill = skill_map[log_skill]
    return Chains(rows, skill, log.score[rows], starts, lens, skill[starts], order)


def bounds(max_guess: float, max_slip: float) -> Bounds:
    """The range each parameter is clipped to; guess and slip stay low enough to keep mastery identifiable."""
    return {
        "prior": (EPS, 1 - EPS),
        "learn": (EPS, 1 - EPS),
        "forget": (0.0, 1 - EPS),
        "guess": (EPS, max_guess),
        "slip": (EPS, max_slip),
    }


def param_arrays(skill_ids: list[str], params: Mapping[str, SkillParams], default: SkillParams) -> dict[str, np.ndarray]:
    """Each parameter as an array over skill_ids; a skill missing from params has the default."""
    return {n: np.array([getattr(params.get(s, default), n) for s in skill_ids], dtype=float) for n in PARAM_NAMES}


def e_step(pk: Packed, prm: dict[str, np.ndarray], n_slots: int, fit_forget: bool) -> dict[str, np.ndarray]:
    """Expected counts per parameter slot (skill, or skill x restart) for the packed chains.

    Forward: P = P(mastered) before each answer, F = after it (filtered). Backward:
    G = P(mastered | the whole chain). With r = P(obs | not mastered) / P(obs | mastered),
    F = P / (P (1 - r) + r) and log P(obs | earlier) = log P(obs | mastered) + log(P (1 - r) + r).
    """
    vs = pk.vskill
    obs = pk.obs
    g_slot, s_slot = prm["guess"], prm["slip"]
    if pk.code is not None:  # binary answers: look the per-answer constants up by (slot, answer)
        e1_tab = np.empty(2 * n_slots)
        e0_tab = np.empty(2 * n_slots)
        e1_tab[0::2], e1_tab[1::2] = s_slot, 1.0 - s_slot
        e0_tab[0::2], e0_tab[1::2] = 1.0 - g_slot, g_slot
        ratio = (e0_tab / e1_tab)[pk.code]
        ll_e1 = np.bincount(pk.code_slot, weights=pk.code_count * np.log(e1_tab[pk.code_uniq]), minlength=n_slots)
    else:  # partial scores: "virtual evidence" likelihoods, element-wise
        g, s = g_slot[vs], s_slot[vs]
        e1 = obs * (1.0 - s) + (1.0 - obs) * s
        e0 = obs * g + (1.0 - obs) * (1.0 - g)
        ratio = e0 / e1
        ll_e1 = np.bincount(vs, weights=np.log(e1), minlength=n_slots)
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
        np.multiply(p, one_m_ratio[a : a + n], out=d)
        d += ratio[a : a + n]
        f = F[a : a + n]
        np.divide(p, d, out=f)
        if t + 1 < T:
            b, m = off[t + 1], batch[t + 1]
            nxt = P[b : b + m]
            np.multiply(f[:m], keep[b : b + m], out=nxt)
            nxt += learn[b : b + m]
    # backward smoother: G = P(mastered | whole chain); Q = G_next / P_next (0 at a chain's end)
    G = F.copy()
    Q[:] = 0.0
    if fit_forget:
        Q0 = np.zeros(pk.total)  # (1 - G_next) / (1 - P_next)
        for t in range(T - 2, -1, -1):
            a, b, m = off[t], off[t + 1], batch[t + 1]
            g1, pn, fgn = G[b : b + m], P[b : b + m], fg[b : b + m]
            q1 = g1 / pn
            q0 = (1.0 - g1) / np.maximum(1.0 - pn, 1e-300)
            Q[a : a + m] = q1
            Q0[a : a + m] = q0
            G[a : a + m] = F[a : a + m] * ((1.0 - fgn) * q1 + fgn * q0)
    else:
        for t in range(T - 2, -1, -1):
            a, b, m = off[t], off[t + 1], batch[t + 1]
            q = Q[a : a + m]
            np.divide(G[b : b + m], P[b : b + m], out=q)
            np.multiply(F[a : a + m], q, out=G[a : a + m])
    # counts; Q is 0 where a chain ends, so the transition counts need no mask.
    # learn uses the parameters of the *next* element; they are the chain's own (the same skill).
    sum_g = np.bincount(vs, weights=G, minlength=n_slots)
    sum_g_obs = np.bincount(vs, weights=G * obs, minlength=n_slots)
    sum_g_last = np.bincount(vs[pk.last], weights=G[pk.last], minlength=n_slots)
    n_resp, n_seq, sum_obs = pk.n_resp, pk.n_seq, pk.sum_obs
    out = {
        "n_sequences": n_seq.copy(),
        "n_responses": n_resp.copy(),
        "prior_num": np.bincount(vs[pk.first], weights=G[pk.first], minlength=n_slots),
        "learn_num": np.bincount(vs, weights=(1.0 - F) * learn * Q, minlength=n_slots),
        "learn_den": (n_resp - n_seq) - (sum_g - sum_g_last),
        "guess_num": sum_obs - sum_g_obs,
        "guess_den": n_resp - sum_g,
        "slip_num": sum_g - sum_g_obs,
        "slip_den": sum_g,
        "log_likelihood": ll_e1 + np.bincount(vs, weights=np.log(D), minlength=n_slots),
    }
    if fit_forget:
        out["forget_num"] = np.bincount(vs, weights=F * fg * Q0, minlength=n_slots)
        out["forget_den"] = sum_g - sum_g_last
    else:
        out["forget_num"] = np.zeros(n_slots)
        out["forget_den"] = np.zeros(n_slots)
    return out


def m_step(counts: Mapping[str, np.ndarray], current: dict[str, np.ndarray], limits: Bounds, fit_forget: bool) -> dict[str, np.ndarray]:
    """New parameters from summed expected counts; a parameter with no data keeps its value."""

    def ratio(num: str, den: str, name: str) -> np.ndarray:
        d = counts[den]
        with np.errstate(invalid="ignore", divide="ignore"):
            x = np.where(d > 1e-12, counts[num] / np.where(d > 1e-12, d, 1.0), current[name])
        lo, hi = limits[name]
        return np.clip(x, lo, hi)

    return {
        "prior": ratio("prior_num", "n_sequences", "prior"),
        "learn": ratio("learn_num", "learn_den", "learn"),
        "guess": ratio("guess_num", "guess_den", "guess"),
        "slip": ratio("slip_num", "slip_den", "slip"),
        "forget": ratio("forget_num", "forget_den", "forget") if fit_forget else current["forget"].copy(),
    }


@dataclass
class EMRun:
    """Where EM ended for every parameter slot: the parameters, the last log-likelihood, iterations, convergence."""

    params: dict[str, np.ndarray]
    log_likelihood: np.ndarray
    n_iter: np.ndarray
    converged: np.ndarray


def run_em(
    ch: Chains,
    n_skills: int,
    n_restarts: int,
    fit_skill: np.ndarray,
    start: dict[str, np.ndarray],
    limits: Bounds,
    *,
    max_iter: int,
    tol: float,
    fit_forget: bool,
    forget_in_e_step: bool,
    progress: bool = False,
) -> EMRun:
    """Iterate E- and M-steps on every restart of every skill at once; slot r * n_skills + s is skill s in restart r.

    ``start`` holds each parameter's starting point per slot; only skills with ``fit_skill`` are
    fitted. A slot stops when its log-likelihood changes by less than ``tol``; once the stopped
    slots hold a good part of the data, the running ones are packed again without them.
    """
    S, R = n_skills, n_restarts
    n_slots = R * S
    prm = {n: v.copy() for n, v in start.items()}
    n_resp = np.bincount(ch.skill, minlength=S)

    # virtual chains: every chain of a fitted skill, once per restart
    sel = np.flatnonzero(fit_skill[ch.chain_skill])
    v_len = np.tile(ch.chain_len[sel], R)
    v_start = np.tile(ch.chain_start[sel], R)
    v_slot = (np.arange(R)[:, None] * S + ch.chain_skill[sel][None, :]).ravel()

    active = np.zeros(n_slots, dtype=bool)
    active[(np.arange(R)[:, None] * S + np.flatnonzero(fit_skill)[None, :]).ravel()] = True
    slot_resp = np.tile(n_resp, R).astype(float)
    ll = np.full(n_slots, -np.inf)
    prev_ll = np.full(n_slots, np.nan)
    n_iter = np.zeros(n_slots, dtype=np.int64)
    converged = np.zeros(n_slots, dtype=bool)

    pk = pack(v_len, v_start, v_slot, ch.obs, n_slots) if len(v_len) else None
    packed_resp = slot_resp[active].sum()
    with tqdm(total=max_iter, desc="BKT EM", unit="iter", leave=False, disable=not progress) as bar:
        for it in range(max_iter):
            if pk is None or not active.any():
                break
            counts = e_step(pk, prm, n_slots, forget_in_e_step)
            new_ll = counts["log_likelihood"]
            ll[active] = new_ll[active]
            n_iter[active] = it + 1
            done = active & (np.abs(new_ll - prev_ll) < tol)
            converged |= done
            prev_ll[active] = new_ll[active]
            upd = active & ~done
            if it + 1 < max_iter:
                new = m_step(counts, prm, limits, fit_forget)
                for n in PARAM_NAMES:
                    prm[n] = np.where(upd, new[n], prm[n])
            active = upd
            bar.update(1)
            bar.set_postfix(active_fits=int(active.sum()))
            # drop finished slots from the packed data once they are a good part of it
            remaining = slot_resp[active].sum()
            if active.any() and remaining < 0.6 * packed_resp:
                keep = active[v_slot]
                v_len, v_start, v_slot = v_len[keep], v_start[keep], v_slot[keep]
                pk = pack(v_len, v_start, v_slot, ch.obs, n_slots)
                packed_resp = remaining
    return EMRun(prm, ll, n_iter, converged)


@dataclass
class BKTCounts:
    """Expected sufficient statistics of BKT's E-step, per skill; they add up across learners.

    A distributed EM computes ``expected_counts`` on each shard of learners with the current
    parameters, sums the results with ``+`` and calls ``maximize`` for the next parameters.
    """

    skill_ids: list[str]
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    def __add__(self, other: BKTCounts) -> BKTCounts:
        if not isinstance(other, BKTCounts):
            return NotImplemented
        ids = list(self.skill_ids) + [s for s in other.skill_ids if s not in set(self.skill_ids)]
        pos = {s: i for i, s in enumerate(ids)}
        out = {k: np.zeros(len(ids)) for k in COUNT_FIELDS}
        for part in (self, other):
            idx = np.array([pos[s] for s in part.skill_ids], dtype=np.int64)
            for k in COUNT_FIELDS:
                np.add.at(out[k], idx, part.arrays[k])
        return BKTCounts(ids, out)

    def __radd__(self, other):  # so that sum([...]) works
        if other == 0:
            return self
        return self.__add__(other)

    def as_dict(self) -> dict[str, dict[str, float]]:
        return {s: {k: float(self.arrays[k][i]) for k in COUNT_FIELDS} for i, s in enumerate(self.skill_ids)}

    def maximize(
        self,
        current: Mapping[str, SkillParams],
        default: SkillParams | None = None,
        max_guess: float = 0.3,
        max_slip: float = 0.3,
        fit_forget: bool = False,
    ) -> dict[str, SkillParams]:
        """The M-step: new per-skill parameters from these counts (within the identifiability bounds)."""
        default = default or SkillParams()
        cur = param_arrays(self.skill_ids, current, default)
        new = m_step(self.arrays, cur, bounds(max_guess, max_slip), fit_forget)
        return {s: SkillParams(**{n: float(new[n][i]) for n in PARAM_NAMES}) for i, s in enumerate(self.skill_ids)}


def expected_counts(X, params: Mapping[str, SkillParams], default: SkillParams | None = None) -> BKTCounts:
    """E-step on the learners in X (a ResponseLog or anything `as_response_log` accepts).

    Returns per-skill expected counts under ``params`` (skills not in ``params`` use ``default``).
    Counts of disjoint sets of learners add up to the counts of their union, so the E-step can be
    run per shard of learners and summed (``sum(counts_list)``) before ``BKTCounts.maximize``.
    """
    log = as_response_log(X)
    default = default or SkillParams()
    skill_ids = list(log.skill_ids)
    ch = chains(log, np.arange(len(skill_ids)))
    if len(ch.row) == 0:
        return BKTCounts(skill_ids, {k: np.zeros(len(skill_ids)) for k in COUNT_FIELDS})
    pk = pack(ch.chain_len, ch.chain_start, ch.chain_skill, ch.obs, len(skill_ids))
    prm = param_arrays(skill_ids, params, default)
    out = e_step(pk, prm, len(skill_ids), fit_forget=True)
    return BKTCounts(skill_ids, out)
