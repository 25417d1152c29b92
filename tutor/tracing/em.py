"""EM for BKT over all learners' answers at once, the E-step a compiled kernel (numba) over chains.

Every (learner, skill) pair is one hidden-Markov chain with the skill's five parameters; an answer
that lists several skills is an observation of each of those skills' chains. All chains of all
skills (and of all random restarts) are fitted at once: `pack` lists them as (start, length, slot)
over one observation array, and the kernel runs each chain's forward filter and backward smoother
in one pass over its answers, chains in parallel on every core (numba's ``prange``), keeping only
a handful of sums per chain. The per-slot sums (a slot is a skill, or a skill in one restart) are
the E-step's expected counts; the M-step is a vectorised numpy pass over slots. The sums are
exact (fixed point, added as integers), so they do not depend on how the chains are split or in
what order the parts are added: a fit on Spark's partitions equals the in-process fit bit for bit.

The kernels compile on first use and are cached on disk (``cache=True``): next to this file when
that folder is writable, otherwise in numba's per-user cache (``NUMBA_CACHE_DIR``, by default
``~/.cache/numba``), so a read-only install compiles once per user, not once per process.

`expected_counts` is the E-step as per-skill sufficient statistics (`BKTCounts`) that add up
across learners, so a distributed job can run it per shard of learners and reduce by ``+``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numba
import numpy as np
from tqdm import tqdm

from tutor.tracing.equations import PARAM_NAMES, SkillParams
from tutor.tracing.responses import ResponseLog, as_response_log, expanded_order

if "NUMBA_THREADING_LAYER" not in os.environ:
    # numba's own thread pool, not OpenMP: OpenMP's threads spin after each E-step, and on a busy
    # machine the spinning thread takes the core from the one still working (an ASSIST2009 fit on 2
    # threads took 6.8-10.5 s with OpenMP, 1.8-2.7 s with this pool, at load average 12). The pool
    # runs one parallel call at a time: _KERNEL_LOCK sees to that.
    numba.config.THREADING_LAYER = "workqueue"  # type: ignore[attr-defined]
_KERNEL_LOCK = threading.Lock()

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
    """Chains as (start, length, slot) triples over the caller's observation array (not copied), ordered by slot.

    Chains of different parameter slots may share observations (the restarts of one chain do).
    The order by slot (stable, so the same chains always come in the same order) keeps a slot's
    parameters in cache while its chains run and lets each slot's sums be taken over one run of
    chains; ``slot_ptr[k] : slot_ptr[k + 1]`` are slot k's chains.
    """

    def __init__(self, chain_start: np.ndarray, chain_len: np.ndarray, chain_slot: np.ndarray, obs: np.ndarray, n_slots: int):
        slot = np.asarray(chain_slot, dtype=np.int64)
        if len(slot) > 1 and np.any(slot[1:] < slot[:-1]):
            order = np.argsort(slot.astype(np.uint16) if n_slots <= 1 << 16 else slot, kind="stable")  # radix sort when it can
            chain_start, chain_len, slot = np.asarray(chain_start)[order], np.asarray(chain_len)[order], slot[order]
        self.chain_start = np.ascontiguousarray(chain_start, dtype=np.int64)
        self.chain_len = np.ascontiguousarray(chain_len, dtype=np.int64)
        self.chain_slot = np.ascontiguousarray(slot)
        self.obs = np.ascontiguousarray(obs, dtype=np.float64)
        self.n_slots = n_slots
        per_slot = np.bincount(self.chain_slot, minlength=n_slots)
        self.n_seq = per_slot.astype(float)
        self.n_resp = np.bincount(self.chain_slot, weights=self.chain_len, minlength=n_slots)
        self.slot_ptr = np.zeros(n_slots + 1, dtype=np.int64)
        np.cumsum(per_slot, out=self.slot_ptr[1:])

    @property
    def total(self) -> int:
        return int(self.chain_len.sum())


def pack(chain_len: np.ndarray, chain_start: np.ndarray, chain_vskill: np.ndarray, obs: np.ndarray, n_slots: int) -> Packed:
    """Chains whose observations are obs[chain_start[c] : chain_start[c] + chain_len[c]] (time order), of slot chain_vskill[c]."""
    return Packed(chain_start, chain_len, chain_vskill, obs, n_slots)


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


# per-chain results of the kernel, summed per slot by _sum_by_slot; then each slot's chains and answers
_PRIOR_NUM, _LEARN_NUM, _FORGET_NUM, _SUM_G, _SUM_G_OBS, _SUM_G_LAST, _SUM_OBS, _LOG_LIK, _N_SEQ, _N_RESP = range(10)
_N_STATS = 8  # computed per chain by the kernel
N_SUMS = 10
_FRAC_BITS = 52  # exact sums: a value is an integer part plus a fraction in units of 2**-52 (see _sum_by_slot)
_FRAC_ONE = float(1 << _FRAC_BITS)
_FRAC_MASK = (1 << _FRAC_BITS) - 1
_TINY = 1e-100  # a likelihood is multiplied down to this, then moved into its log: a product of two stays a normal float
_BLOCK = 256  # chains per parallel task; a task's work buffer is reused chain after chain, so it stays in the core's cache


@numba.njit(parallel=True, cache=True)
def _chain_stats(start, length, slot, obs, prior, learn, forget, guess, slip, fit_forget, stats):  # pragma: no cover - compiled
    """Forward filter and backward smoother of each chain; blocks of chains run in parallel.

    With r = P(obs | not mastered) / P(obs | mastered) and P = P(mastered) before an answer:
    D = P (1 - r) + r, F = P / D (after it), P(obs | earlier answers) = P(obs | mastered) D, and
    P_next = learn + F (1 - forget - learn). The backward pass gives G = P(mastered | whole chain):
    G = F ((1 - forget) G_next / P_next + forget (1 - G_next) / (1 - P_next)). The forward pass
    stores the factors of G_next in ``work`` so that the backward recursion is one multiply-add,
    without a division in its chain of dependent operations. The chain's likelihood is kept as a
    product, moved into its log only when small.
    """
    n_chains = len(start)
    for blk in numba.prange((n_chains + _BLOCK - 1) // _BLOCK):
        lo = blk * _BLOCK
        hi = min(lo + _BLOCK, n_chains)
        longest = 1
        for c in range(lo, hi):
            longest = max(longest, length[c])
        work = np.empty((longest, 4))
        for c in range(lo, hi):
            k = slot[c]
            a = start[c]
            n = length[c]
            lrn = learn[k]
            fg = forget[k] if fit_forget else 0.0
            keep = 1.0 - fg - lrn
            g = guess[k]
            s = slip[k]
            p = prior[k]
            lik = 1.0
            ll = 0.0
            sum_obs = 0.0
            f = p
            r_wrong, r_right = (1.0 - g) / s, g / (1.0 - s)
            for t in range(n):
                o = obs[a + t]
                if o == 1.0:  # right and wrong answers need no division
                    e1, r = 1.0 - s, r_right
                elif o == 0.0:
                    e1, r = s, r_wrong
                else:  # a partial score is "virtual evidence"
                    e1 = o * (1.0 - s) + (1.0 - o) * s
                    r = (o * g + (1.0 - o) * (1.0 - g)) / e1
                d = p * (1.0 - r) + r
                f = p / d
                lik *= e1 * d
                if lik < _TINY:
                    ll += np.log(lik)
                    lik = 1.0
                sum_obs += o
                p = lrn + f * keep
                inv = 1.0 / p
                work[t, 0] = f * (1.0 - fg) * inv  # G = work[t, 0] G_next + work[t, 1] (1 - G_next)
                work[t, 2] = (1.0 - f) * inv  # learn count: (1 - F) G_next / P_next
                if fit_forget:
                    inv0 = 1.0 / max(1.0 - p, 1e-300)
                    work[t, 1] = f * fg * inv0
                    work[t, 3] = f * inv0  # forget count: F (1 - G_next) / (1 - P_next)
            gn = f  # at a chain's last answer, G = F
            g_last = gn
            sum_g = gn
            sum_g_obs = gn * obs[a + n - 1]
            learn_sum = 0.0
            forget_sum = 0.0
            if fit_forget:
                for t in range(n - 2, -1, -1):
                    learn_sum += work[t, 2] * gn
                    forget_sum += work[t, 3] * (1.0 - gn)
                    gn = work[t, 0] * gn + work[t, 1] * (1.0 - gn)
                    sum_g += gn
                    sum_g_obs += gn * obs[a + t]
            else:
                for t in range(n - 2, -1, -1):
                    learn_sum += work[t, 2] * gn
                    gn = work[t, 0] * gn
                    sum_g += gn
                    sum_g_obs += gn * obs[a + t]
            stats[c, _PRIOR_NUM] = gn
            stats[c, _LEARN_NUM] = lrn * learn_sum
            stats[c, _FORGET_NUM] = fg * forget_sum
            stats[c, _SUM_G] = sum_g
            stats[c, _SUM_G_OBS] = sum_g_obs
            stats[c, _SUM_G_LAST] = g_last
            stats[c, _SUM_OBS] = sum_obs
            stats[c, _LOG_LIK] = ll + np.log(lik)


@numba.njit(parallel=True, cache=True)
def _sum_by_slot(slot_ptr, chain_len, stats):  # pragma: no cover - compiled
    """Per-slot sums of the per-chain results, exact: (2, N_SUMS, n_slots) integers, [0] whole units, [1] 2**-52 units.

    Each value is cut into its integer part and its fraction rounded to 2**-52 (a value is
    rounded once, by at most 1.1e-16, whatever else is summed), and those are added as integers.
    Integer addition does not depend on order, so the sums are the same for any split of the
    chains: threads, Spark partitions and blocks, or one process (see `add_sums`).
    """
    n_slots = len(slot_ptr) - 1
    out = np.zeros((n_slots, 2, N_SUMS), dtype=np.int64)  # slot-major while summing: each thread writes its own rows
    for k in numba.prange(n_slots):
        for c in range(slot_ptr[k], slot_ptr[k + 1]):
            for j in range(_N_STATS):
                x = stats[c, j]
                w = np.floor(x)
                lo = out[k, 1, j] + np.int64(np.rint((x - w) * _FRAC_ONE))
                out[k, 0, j] += np.int64(w) + (lo >> _FRAC_BITS)
                out[k, 1, j] = lo & _FRAC_MASK
            out[k, 0, _N_RESP] += chain_len[c]
        out[k, 0, _N_SEQ] = slot_ptr[k + 1] - slot_ptr[k]
    return np.ascontiguousarray(out.transpose(1, 2, 0))


def add_sums(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The exact sums of two sets of chains (``e_step_sums`` of each): integer addition, the same in any order."""
    out = a + b
    out[0] += out[1] >> _FRAC_BITS
    out[1] &= _FRAC_MASK
    return out


def _f64(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float64)


def e_step_sums(pk: Packed, prm: dict[str, np.ndarray], fit_forget: bool) -> np.ndarray:
    """The E-step's exact per-slot sums for the packed chains (compiled kernel); ``add_sums`` adds them, ``counts_of`` reads them."""
    stats = np.empty((len(pk.chain_start), _N_STATS))
    with _KERNEL_LOCK:
        _chain_stats(
            pk.chain_start, pk.chain_len, pk.chain_slot, pk.obs,
            _f64(prm["prior"]), _f64(prm["learn"]), _f64(prm["forget"]), _f64(prm["guess"]), _f64(prm["slip"]), bool(fit_forget), stats,
        )
        return _sum_by_slot(pk.slot_ptr, pk.chain_len, stats)


def counts_of(sums: np.ndarray, fit_forget: bool) -> dict[str, np.ndarray]:
    """Expected counts per slot (`COUNT_FIELDS`) from exact sums; each sum is rounded to a float once, here."""
    v = sums[0].astype(np.float64) + sums[1].astype(np.float64) / _FRAC_ONE
    sum_g, sum_g_obs, sum_g_last = v[_SUM_G], v[_SUM_G_OBS], v[_SUM_G_LAST]
    n_resp, n_seq = v[_N_RESP], v[_N_SEQ]
    zero = np.zeros(sums.shape[2])
    return {
        "n_sequences": n_seq,
        "n_responses": n_resp,
        "prior_num": v[_PRIOR_NUM],
        "learn_num": v[_LEARN_NUM],
        "learn_den": (n_resp - n_seq) - (sum_g - sum_g_last),
        "forget_num": v[_FORGET_NUM] if fit_forget else zero,
        "forget_den": sum_g - sum_g_last if fit_forget else zero.copy(),
        "guess_num": v[_SUM_OBS] - sum_g_obs,
        "guess_den": n_resp - sum_g,
        "slip_num": sum_g - sum_g_obs,
        "slip_den": sum_g,
        "log_likelihood": v[_LOG_LIK],
    }


def e_step(pk: Packed, prm: dict[str, np.ndarray], n_slots: int, fit_forget: bool) -> dict[str, np.ndarray]:
    """Expected counts per parameter slot (skill, or skill x restart) for the packed chains, by the compiled kernel."""
    return counts_of(e_step_sums(pk, prm, fit_forget), fit_forget)


@numba.njit(parallel=True, cache=True)
def _p_correct_chains(start, length, slot, obs, prior, learn, forget, guess, slip, out):  # pragma: no cover - compiled
    """P(correct) before each answer of each chain, with the service's update equations (`tutor.tracing.equations`)."""
    for c in numba.prange(len(start)):
        k = slot[c]
        lrn, fg, g, s = learn[k], forget[k], guess[k], slip[k]
        p = prior[k]
        for i in range(start[c], start[c] + length[c]):
            out[i] = p * (1.0 - s) + (1.0 - p) * g
            o = obs[i]
            known_c = p * (1.0 - s)
            unknown_c = (1.0 - p) * g
            known_w = p * s
            unknown_w = (1.0 - p) * (1.0 - g)
            post_c = known_c / (known_c + unknown_c)
            post_w = known_w / (known_w + unknown_w)
            if o >= 1.0:
                post = post_c
            elif o <= 0.0:
                post = post_w
            else:
                post = o * post_c + (1.0 - o) * post_w
            p = post * (1.0 - fg) + (1.0 - post) * lrn


def p_correct_chains(ch: Chains, prm: dict[str, np.ndarray]) -> np.ndarray:
    """P(correct) before each observation of ``ch`` (in the chains' order), each chain starting at its skill's prior."""
    out = np.empty(len(ch.obs))
    with _KERNEL_LOCK:
        _p_correct_chains(
            _i64(ch.chain_start), _i64(ch.chain_len), _i64(ch.chain_skill), _f64(ch.obs),
            _f64(prm["prior"]), _f64(prm["learn"]), _f64(prm["forget"]), _f64(prm["guess"]), _f64(prm["slip"]), out,
        )
    return out


def _i64(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.int64)


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


EStep = Callable[[dict[str, np.ndarray], np.ndarray], Mapping[str, np.ndarray]]
"""An E-step over all slots: (parameters per slot, which slots are still running) -> expected counts per slot (`COUNT_FIELDS`)."""


def slots_to_fit(fit_skill: np.ndarray, n_restarts: int) -> np.ndarray:
    """Slot r * n_skills + s of every fitted skill s in every restart r: the slots EM starts with."""
    S = len(fit_skill)
    active = np.zeros(n_restarts * S, dtype=bool)
    active[(np.arange(n_restarts)[:, None] * S + np.flatnonzero(fit_skill)[None, :]).ravel()] = True
    return active


def run_em(
    expected: EStep,
    active: np.ndarray,
    start: dict[str, np.ndarray],
    limits: Bounds,
    *,
    max_iter: int,
    tol: float,
    fit_forget: bool,
    progress: bool = False,
    desc: str = "BKT EM",
) -> EMRun:
    """Iterate E- and M-steps on every running slot at once, whichever engine computes the E-step.

    ``expected(params, active)`` returns the summed expected counts of every slot (those of slots
    not in ``active`` are ignored): `ChainEStep` in this process, a map over partitions and a sum
    on Spark. ``start`` holds each parameter's starting point per slot; only ``active`` slots are
    fitted. A slot stops when its log-likelihood changes by less than ``tol``.
    """
    n_slots = len(active)
    prm = {n: v.copy() for n, v in start.items()}
    active = active.copy()
    ll = np.full(n_slots, -np.inf)
    prev_ll = np.full(n_slots, np.nan)
    n_iter = np.zeros(n_slots, dtype=np.int64)
    converged = np.zeros(n_slots, dtype=bool)
    with tqdm(total=max_iter, desc=desc, unit="iter", leave=False, disable=not progress) as bar:
        for it in range(max_iter):
            if not active.any():
                break
            counts = expected(prm, active)
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
            if progress:
                bar.update(1)
                bar.set_postfix(active_fits=int(active.sum()))
    return EMRun(prm, ll, n_iter, converged)


class ChainEStep:
    """The E-step in this process: every chain of a fitted skill, once per restart, packed and run by the compiled kernel.

    Slot r * n_skills + s is skill s in restart r. Once the stopped slots hold a tenth of the
    packed answers, the running ones are packed again without them.
    """

    def __init__(self, ch: Chains, fit_skill: np.ndarray, n_restarts: int, forget_in_e_step: bool):
        S, R = len(fit_skill), n_restarts
        self.n_slots = R * S
        self.obs = ch.obs
        self.forget_in_e_step = forget_in_e_step
        sel = np.flatnonzero(fit_skill[ch.chain_skill])
        v_len = np.tile(ch.chain_len[sel], R)
        v_start = np.tile(ch.chain_start[sel], R)
        v_slot = (np.arange(R)[:, None] * S + ch.chain_skill[sel][None, :]).ravel()
        self.pk = pack(v_len, v_start, v_slot, ch.obs, self.n_slots)
        self.slot_resp = self.pk.n_resp
        self.packed_resp = self.slot_resp[slots_to_fit(fit_skill, R)].sum()

    def __call__(self, prm: dict[str, np.ndarray], active: np.ndarray) -> dict[str, np.ndarray]:
        remaining = self.slot_resp[active].sum()
        if remaining < 0.9 * self.packed_resp:  # the finished slots' chains leave once they are a tenth
            pk = self.pk
            keep = active[pk.chain_slot]
            self.pk = pack(pk.chain_len[keep], pk.chain_start[keep], pk.chain_slot[keep], self.obs, self.n_slots)
            self.packed_resp = remaining
        return e_step(self.pk, prm, self.n_slots, self.forget_in_e_step)


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
