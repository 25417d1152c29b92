"""The next-answer predictor: P(correct) of a learner on an item, stronger than BKT.

Design (chosen after measuring on ASSIST2009 and Statics2011; see README "Knowledge tracing"):
two models over the same hand-made features of the learner's history, averaged in logit space.

* a logistic regression in the style of Best-LR / PFA (Gervet et al., 2020): skill one-hot,
  skill-specific slopes on the learner's successes/failures on the skill, the learner's overall
  counts (log), recent-window correctness, a difficulty-adjusted ability, the BKT prediction, and
  (previous skill, current skill) pair indicators times the previous answer for the last three
  answers (on ASSIST2009, answers to a multi-skill problem are consecutive rows with the same
  correctness; the pair terms learn which skill pairs are such duplicates);
* a small multilayer perceptron (torch for training, numpy for prediction) over the same dense
  features, a skill embedding and embeddings of the last ``n_lags`` (skill, correct) answers.

An answer that lists several skills is one observation per skill (features see only earlier
answers, never another skill of the same answer); its P(correct) is the mean over its skills.
One learner at a time, a `tutor.tracing.roster.Roster` keeps each learner's `LearnerHistory`
(counts, windows, last answers, BKT mastery), updated in O(skills of the answer); batch and online
predictions agree to 1e-9.

Artefact directory: ``model.json`` (kind "next-answer", hyper-parameters, skill vocabulary, the
embedded BKT parameters), ``weights.npz`` (every array, loaded with ``allow_pickle=False``) and
``metadata.json``. Never pickle.

In the service: a service artefact (BKT, see tutor.tracing.artefacts) may ship a next-answer
artefact in its ``next-answer/`` folder (`load_artefact`); then the recommender's predicted success
comes from this model, each learner's `LearnerHistory` is kept in the store as JSON (`to_json`),
tagged with `NextAnswerModel.state_key`, and BKT stays the mastery learners see.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
import zipfile
import zlib
from collections import deque
from collections.abc import Iterable
from dataclasses import replace
from numbers import Integral, Real
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.linear_model import LogisticRegression
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import ThreadpoolController, threadpool_limits
from tqdm import tqdm

from tutor.errors import Invalid
from tutor.tracing.artefacts import ArtefactError, MasteryModel, load_mastery_model, read_json_object
from tutor.tracing.bkt import BKT
from tutor.tracing.equations import SkillParams, logit, p_correct, sigmoid, update
from tutor.tracing.responses import ResponseLog, as_response_log, expanded_order

MODEL_KIND = "next-answer"
FORMAT_VERSION = 1
WINDOWS = (1, 2, 3, 5, 10, 20, 50)
ABILITY_WINDOWS = (10, 30)
ABILITY_SHRINK = 5.0
SKILL_LAST = 3
SERVICE_SUBDIR = "next-answer"  # inside a service artefact: the next-answer model behind predicted success

FEATURE_NAMES = (
    [
        "skill_successes_log",
        "skill_failures_log",
        "skill_success_rate",
        "skill_first_attempt",
        "skill_last_correct",
        f"skill_last{SKILL_LAST}_mean",
        "skill_gap_log",
        "successes_log",
        "failures_log",
        "success_rate",
    ]
    + [f"window{w}_mean" for w in WINDOWS]
    + [
        "first_answer",
        "previous_same_skill",
        "previous_correct_same_skill",
        "previous_correct_other_skill",
        "ability",
    ]
    + [f"ability_window{w}" for w in ABILITY_WINDOWS]
    + ["bkt_logit", "skill_difficulty_logit"]
)
N_DENSE = len(FEATURE_NAMES)
_PC = (FEATURE_NAMES.index("skill_successes_log"), FEATURE_NAMES.index("skill_failures_log"),
       FEATURE_NAMES.index("skill_success_rate"))
_LOGIT_FEATURES = slice(N_DENSE - 2, N_DENSE)  # bkt_logit, skill_difficulty_logit


class ModelFileError(ArtefactError):
    """A next-answer artefact that cannot be used; names the file and the problem."""


# =============================================================================================
# Batch features
# =============================================================================================
class Batch:
    """Features of every observation of a log, in `expanded_order`."""

    def __init__(self, dense, skill, lag_skill, lag_y, rows, y):
        self.dense = dense  # (N, N_DENSE)
        self.skill = skill  # (N,) model skill index, S = unknown skill
        self.lag_skill = lag_skill  # (N, K) skill of the l-th previous observation, -1 = none
        self.lag_y = lag_y  # (N, K) its score
        self.rows = rows  # (N,) log row of each observation
        self.y = y  # (N,) score


def _window_mean(c: np.ndarray, end: np.ndarray, lo: np.ndarray, w: int, empty: float) -> np.ndarray:
    """Mean of values[max(end - w, lo) : end] from prefix sums c (c[0] = 0); `empty` if none."""
    a = np.maximum(end - w, lo)
    n = end - a
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (c[end] - c[a]) / np.maximum(n, 1), empty)


def batch_features(model: NextAnswerModel, log: ResponseLog) -> Batch:
    S = len(model.skills_)
    log_to_model = np.array([model.skill_index_.get(s, S) for s in log.skill_ids], dtype=np.int64)
    rows, log_skill = expanded_order(log)
    N = len(rows)
    skill = log_to_model[log_skill] if N else np.zeros(0, dtype=np.int64)
    y = log.score[rows]
    learner = log.learner[rows]
    idx = np.arange(N)
    new_learner = np.r_[True, learner[1:] != learner[:-1]] if N else np.zeros(0, bool)
    new_row = np.r_[True, rows[1:] != rows[:-1]] if N else np.zeros(0, bool)
    l_start = np.maximum.accumulate(np.where(new_learner, idx, 0)) if N else idx
    r_start = np.maximum.accumulate(np.where(new_row, idx, 0)) if N else idx
    h = r_start - l_start  # visible history length (earlier answers of the learner)

    diff = model.skill_rate_
    d_obs = np.where(skill < S, diff[np.minimum(skill, S - 1)], model.global_rate_) if S else np.full(N, model.global_rate_)
    resid = y - d_obs
    cy = np.r_[0.0, np.cumsum(y)]
    cr = np.r_[0.0, np.cumsum(resid)]

    F = np.empty((N, N_DENSE))
    succ = cy[r_start] - cy[l_start]
    fail = h - succ
    # per (learner, skill) chains: within a chain every element is from an earlier answer
    key = learner * max(log.n_skills, 1) + log_skill  # log skill ids: unknown skills stay apart
    order = np.argsort(key, kind="stable")
    ks = key[order]
    c_first = np.r_[True, ks[1:] != ks[:-1]] if N else np.zeros(0, bool)
    c_start = np.maximum.accumulate(np.where(c_first, np.arange(N), 0)) if N else np.zeros(0, np.int64)
    c_pos_sorted = np.arange(N) - c_start
    ys = y[order]
    cys = np.r_[0.0, np.cumsum(ys)]
    s_succ_sorted = cys[np.arange(N)] - cys[c_start]
    s_n = np.empty(N)
    s_n[order] = c_pos_sorted
    s_succ = np.empty(N)
    s_succ[order] = s_succ_sorted
    last1_sorted = np.where(c_pos_sorted > 0, ys[np.maximum(np.arange(N) - 1, 0)], 0.5)
    last3_sorted = _window_mean(cys, np.arange(N), c_start, SKILL_LAST, 0.5)
    prev_global_sorted = np.where(c_pos_sorted > 0, order[np.maximum(np.arange(N) - 1, 0)], -1)
    last1 = np.empty(N)
    last1[order] = last1_sorted
    last3 = np.empty(N)
    last3[order] = last3_sorted
    prev_global = np.empty(N, dtype=np.int64)
    prev_global[order] = prev_global_sorted
    gap = np.where(prev_global >= 0, r_start - prev_global - 1, 0)

    F[:, 0] = np.log1p(s_succ)
    F[:, 1] = np.log1p(s_n - s_succ)
    F[:, 2] = (s_succ + 1.0) / (s_n + 2.0)
    F[:, 3] = (s_n == 0).astype(float)
    F[:, 4] = last1
    F[:, 5] = last3
    F[:, 6] = np.log1p(gap)
    F[:, 7] = np.log1p(succ)
    F[:, 8] = np.log1p(fail)
    F[:, 9] = (succ + 1.0) / (h + 2.0)
    col = 10
    for w in WINDOWS:
        F[:, col] = _window_mean(cy, r_start, l_start, w, 0.5)
        col += 1
    has_prev = h > 0
    prev = np.maximum(r_start - 1, 0)
    same = has_prev & (log_skill[prev] == log_skill) if N else has_prev
    pc = np.where(has_prev, 2.0 * y[prev] - 1.0, 0.0) if N else np.zeros(0)
    F[:, col] = (h == 0).astype(float)
    F[:, col + 1] = same.astype(float)
    F[:, col + 2] = pc * same
    F[:, col + 3] = pc * (has_prev & ~same)
    F[:, col + 4] = (cr[r_start] - cr[l_start]) / (h + ABILITY_SHRINK)
    col += 5
    for w in ABILITY_WINDOWS:
        F[:, col] = _window_mean(cr, r_start, l_start, w, 0.0)
        col += 1
    F[:, col] = logit(model.bkt_.predict_proba_observations(log)) if N else 0.0
    F[:, col + 1] = logit(d_obs)

    K = model.n_previous_answers
    lag_skill = np.full((N, K), -1, dtype=np.int64)
    lag_y = np.zeros((N, K))
    for lag in range(1, K + 1):
        j = r_start - lag
        ok = j >= l_start
        jj = np.maximum(j, 0)
        lag_skill[:, lag - 1] = np.where(ok, skill[jj] if N else 0, -1)
        lag_y[:, lag - 1] = np.where(ok, y[jj] if N else 0.0, 0.0)
    return Batch(F, skill, lag_skill, lag_y, rows, y)


def pair_keys(b: Batch, S: int, pair_lags: int) -> list[np.ndarray]:
    """Per lag, the (previous skill, skill) pairs seen (``previous * S + skill``, sorted): the pair terms' columns."""
    known = b.skill < S
    out = []
    for lag in range(pair_lags):
        ps = b.lag_skill[:, lag]
        ok = (ps >= 0) & (ps < S) & known
        out.append(np.unique(ps[ok] * S + b.skill[ok]))
    return out


def lr_design(Z: np.ndarray, b: Batch, S: int, pairs: list[np.ndarray]) -> sp.csr_matrix:
    """The logistic regression's design: standardised features, skill one-hot, per-skill slopes, pair terms (columns of ``pairs``)."""
    N = len(Z)
    blocks = [sp.csr_matrix(Z)]
    kr = np.flatnonzero(b.skill < S)
    blocks.append(sp.csr_matrix((np.ones(len(kr)), (kr, b.skill[kr])), shape=(N, S)))
    for j in _PC:
        blocks.append(sp.csr_matrix((Z[kr, j], (kr, b.skill[kr])), shape=(N, S)))
    for lag, keys in enumerate(pairs):
        ps = b.lag_skill[:, lag]
        ok = (ps >= 0) & (ps < S) & (b.skill < S)
        r = np.flatnonzero(ok)
        pid = np.searchsorted(keys, ps[r] * S + b.skill[r])
        blocks.append(sp.csr_matrix((np.ones(len(r)), (r, pid)), shape=(N, len(keys))))
        blocks.append(sp.csr_matrix((2.0 * b.lag_y[r, lag] - 1.0, (r, pid)), shape=(N, len(keys))))
    return sp.hstack(blocks, format="csr")


# =============================================================================================
# One learner's history, the state a Roster keeps per learner
# =============================================================================================
class LearnerHistory:
    """What the model remembers of one learner's answers: counts, recent windows, the last answers, BKT mastery."""

    __slots__ = ("hist", "lags", "mastery", "n", "resid", "resid_sum", "skills", "succ")

    def __init__(self, k_lags: int):
        self.n = 0
        self.succ = 0.0
        self.hist: deque = deque(maxlen=max(WINDOWS))
        self.resid_sum = 0.0
        self.resid: deque = deque(maxlen=max(ABILITY_WINDOWS))
        self.lags: deque = deque(maxlen=k_lags)  # (skill index, score, skill id), newest last
        self.skills: dict[str, list] = {}  # skill id -> [successes, attempts, deque(last 3), last position]
        self.mastery: dict[str, float] = {}


    def to_json(self) -> dict:
        """The history as plain JSON (floats round-trip exactly), to keep in the store between answers."""
        return {
            "n": self.n, "succ": self.succ, "hist": list(self.hist), "resid_sum": self.resid_sum, "resid": list(self.resid),
            "lags": [list(x) for x in self.lags], "skills": {sid: [r[0], r[1], list(r[2]), r[3]] for sid, r in self.skills.items()},
            "mastery": self.mastery,
        }

    @classmethod
    def from_json(cls, data: dict, k_lags: int) -> LearnerHistory:
        """The inverse of `to_json` for a model with this many previous answers."""
        h = cls(k_lags)
        h.n, h.succ, h.resid_sum = int(data["n"]), float(data["succ"]), float(data["resid_sum"])
        h.hist.extend(data["hist"])
        h.resid.extend(data["resid"])
        h.lags.extend((int(s), float(y), str(sid)) for s, y, sid in data["lags"])
        h.skills = {sid: [float(r[0]), int(r[1]), deque(r[2], maxlen=SKILL_LAST), int(r[3])] for sid, r in data["skills"].items()}
        h.mastery = {sid: float(p) for sid, p in data["mastery"].items()}
        return h


def _tail_mean(d: deque, w: int, empty: float) -> float:
    n = min(w, len(d))
    if n == 0:
        return empty
    total = 0.0
    for i in range(len(d) - n, len(d)):
        total += d[i]
    return total / n


# =============================================================================================
# The model
# =============================================================================================
class NextAnswerModel(ClassifierMixin, BaseEstimator):
    """Best-LR-style logistic regression + small MLP, averaged in logit space.

    scikit-learn estimator: ``fit(X)``, ``predict_proba(X)``, ``get_params`` / ``set_params``, on
    the same ``X`` as `tutor.tracing.bkt.BKT`; a `tutor.tracing.roster.Roster` predicts one learner
    at a time.

    Parameters
    ----------
    C : inverse L2 strength of the logistic regression.
    epochs, batch_size, learning_rate, hidden, embed_dim, dropout : the MLP's training.
    n_lags : previous answers embedded by the MLP; pair_lags : previous answers whose
        (skill, current skill) pair gets logistic-regression weights.
    blend : weight of the MLP in the logit average (0 = logistic regression only, 1 = MLP only).
    bkt_restarts : EM restarts of the BKT whose prediction is a feature.
    max_lr_iter : iterations of the logistic regression's solver.
    random_state : seeds the BKT restarts, the MLP's initialisation and its shuffling.

    Two learners alternate fractions and decimals; a tiny, fast fit (one epoch of a small MLP):

    >>> from tutor.tracing.responses import ResponseLog
    >>> log = ResponseLog.from_sequences(
    ...     [(["fractions", "decimals"] * 4, [0, 1, 0, 1, 1, 1, 1, 1]), (["decimals", "fractions"] * 4, [1, 0, 1, 0, 1, 1, 0, 1])],
    ...     learner_ids=["ana", "binh"],
    ... )
    >>> model = NextAnswerModel(epochs=1, hidden=(8, 4), embed_dim=2, bkt_restarts=1, random_state=0).fit(log)
    >>> p = model.predict_proba(log)
    >>> p.shape, bool(((0 < p) & (p < 1)).all())
    ((16, 2), True)
    """

    _parameter_constraints: ClassVar[dict[str, list]] = {
        "C": [Interval(Real, 0, None, closed="neither")],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "hidden": [tuple],
        "embed_dim": [Interval(Integral, 1, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "n_lags": [Interval(Integral, 0, None, closed="left")],
        "pair_lags": [Interval(Integral, 0, None, closed="left")],
        "blend": [Interval(Real, 0, 1, closed="both")],
        "bkt_restarts": [Interval(Integral, 1, None, closed="left")],
        "max_lr_iter": [Interval(Integral, 1, None, closed="left")],
        "random_state": [Interval(Integral, 0, None, closed="left"), None],
    }

    def __init__(
        self,
        C: float = 0.3,
        epochs: int = 8,
        batch_size: int = 512,
        learning_rate: float = 1e-3,
        hidden: tuple[int, int] = (256, 64),
        embed_dim: int = 32,
        dropout: float = 0.3,
        n_lags: int = 5,
        pair_lags: int = 3,
        blend: float = 0.5,
        bkt_restarts: int = 5,
        max_lr_iter: int = 1000,
        random_state: int | None = None,
    ):
        self.C = C
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.hidden = hidden
        self.embed_dim = embed_dim
        self.dropout = dropout
        self.n_lags = n_lags
        self.pair_lags = pair_lags
        self.blend = blend
        self.bkt_restarts = bkt_restarts
        self.max_lr_iter = max_lr_iter
        self.random_state = random_state

    @property
    def n_previous_answers(self) -> int:
        """How many of the learner's previous answers the features look at (MLP lags and LR pairs)."""
        return max(self.n_lags, self.pair_lags)

    # ------------------------------------------------------------------ fitting
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, progress: bool = False) -> NextAnswerModel:
        """Fit the BKT feature, the logistic regression and the MLP on X; y, if given, regrades X."""
        t0 = time.perf_counter()
        self.__dict__.pop("_state_key", None)  # a refit may change what histories depend on
        log = as_response_log(X)
        if y is not None:
            log = log.with_scores(y)
        if len(log) == 0:
            raise Invalid("cannot fit on an empty log")
        timings: dict[str, float] = {}

        # skill vocabulary and difficulty (smoothed success rate per skill)
        rows, log_skill = expanded_order(log)
        used = np.unique(log_skill)
        self.classes_ = np.array([0, 1])
        self.skills_ = [log.skill_ids[i] for i in used]
        self.skill_index_ = {s: i for i, s in enumerate(self.skills_)}
        S = len(self.skills_)
        remap = np.full(log.n_skills, -1, dtype=np.int64)
        remap[used] = np.arange(S)
        sk = remap[log_skill]
        yy = log.score[rows]
        self.global_rate_ = float(yy.mean())
        cnt = np.bincount(sk, minlength=S)
        suc = np.bincount(sk, weights=yy, minlength=S)
        self.skill_rate_ = (suc + 5.0 * self.global_rate_) / (cnt + 5.0)

        t = time.perf_counter()
        self.bkt_ = BKT(n_restarts=self.bkt_restarts, random_state=self.random_state).fit(log)
        timings["bkt"] = time.perf_counter() - t

        t = time.perf_counter()
        b = batch_features(self, log)
        timings["features"] = time.perf_counter() - t
        self.mean_ = b.dense.mean(axis=0)
        self.scale_ = b.dense.std(axis=0) + 1e-9
        Z = (b.dense - self.mean_) / self.scale_
        label = (b.y >= 0.5).astype(np.int64)

        # ---- logistic regression
        t = time.perf_counter()
        self.pairs_ = pair_keys(b, S, self.pair_lags)
        design = lr_design(Z, b, S, self.pairs_)
        if len(np.unique(label)) < 2:
            raise Invalid("the training data has only one class of answers (all correct or all wrong)")
        lr = LogisticRegression(C=self.C, max_iter=self.max_lr_iter)
        with threadpool_limits(1):  # see _train_mlp: one thread is faster on a busy 2-core machine
            lr.fit(design, label)
        self.set_logistic(lr.coef_.ravel(), float(lr.intercept_[0]), int(np.max(lr.n_iter_)))
        timings["logistic_regression"] = time.perf_counter() - t

        # ---- MLP
        t = time.perf_counter()
        self.mlp_, self.history_ = self._train_mlp(Z, b, S, progress) if self.blend > 0 else ({}, [])
        timings["mlp"] = time.perf_counter() - t
        self.timings_ = timings
        self.n_rows_ = len(log)
        self.fit_seconds_ = time.perf_counter() - t0
        return self

    def set_logistic(self, coef: np.ndarray, intercept: float, n_iter: int) -> None:
        """The logistic regression's weights from its coefficients over `lr_design`'s columns (in process or on Spark)."""
        S = len(self.skills_)
        self.lr_ = {"intercept": np.array([intercept]), "dense": coef[:N_DENSE]}
        o = N_DENSE
        self.lr_["skill"] = coef[o : o + S]
        o += S
        self.lr_["skill_slopes"] = np.column_stack([coef[o + i * S : o + (i + 1) * S] for i in range(len(_PC))])
        o += len(_PC) * S
        for lag, keys in enumerate(self.pairs_):
            self.lr_[f"pair{lag + 1}_bias"] = coef[o : o + len(keys)]
            o += len(keys)
            self.lr_[f"pair{lag + 1}_prev"] = coef[o : o + len(keys)]
            o += len(keys)
        self.lr_n_iter_ = n_iter

    def _lag_codes(self, lag_skill: np.ndarray, lag_y: np.ndarray) -> np.ndarray:
        """Embedding index of each of the last n_lags answers: 0 = none, else 2 * (skill + 1) + correct."""
        ls = lag_skill[:, : self.n_lags]
        return np.where(ls >= 0, 2 * (ls + 1) + (lag_y[:, : self.n_lags] >= 0.5), 0)

    def _train_mlp(self, Z: np.ndarray, b: Batch, S: int, progress: bool) -> tuple[dict[str, np.ndarray], list[float]]:
        """The MLP's weights as numpy arrays, and its mean training loss per epoch."""
        import torch  # imported here: torch takes seconds to import and only training needs it
        from torch import nn

        seed = 0 if self.random_state is None else int(self.random_state)
        gen = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        D, (H1, H2), K = self.embed_dim, self.hidden, self.n_lags

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.q = nn.Embedding(S + 1, D)
                self.x = nn.Embedding(2 * (S + 2), D)
                self.qb = nn.Embedding(S + 1, 1)
                self.lin = nn.Linear(N_DENSE, 1)
                self.l1 = nn.Linear(N_DENSE + D + K * D, H1)
                self.l2 = nn.Linear(H1, H2)
                self.l3 = nn.Linear(H2, 1)
                self.drop = nn.Dropout(self_dropout)
                nn.init.zeros_(self.qb.weight)

            def forward(self, z, q, lg):
                h = torch.cat([z, self.q(q), self.x(lg).flatten(1)], 1)
                h = self.drop(torch.relu(self.l1(h)))
                h = torch.relu(self.l2(h))
                return (self.l3(h) + self.lin(z) + self.qb(q)).squeeze(-1)

        self_dropout = self.dropout
        # Small batches: one intra-op thread is as fast as two on an idle 2-core machine and
        # 50x faster when other processes compete for the cores (measured: 1.8 s vs 90 s/epoch).
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return self._train_loop(Net(), b, Z, S, progress, gen)
        finally:
            torch.set_num_threads(threads)

    def _train_loop(self, net, b: Batch, Z: np.ndarray, S: int, progress: bool, gen) -> tuple[dict[str, np.ndarray], list[float]]:
        import torch  # see _train_mlp
        from torch import nn

        opt = torch.optim.Adam(net.parameters(), lr=self.learning_rate)
        z = torch.tensor(Z, dtype=torch.float32)
        q = torch.tensor(b.skill, dtype=torch.long)
        lg = torch.tensor(self._lag_codes(b.lag_skill, b.lag_y), dtype=torch.long)
        target = torch.tensor(b.y, dtype=torch.float32)
        n = len(target)
        history: list[float] = []
        with tqdm(total=self.epochs, desc="next-answer MLP", unit="epoch", leave=False, disable=not progress) as bar:
            for _ in range(self.epochs):
                net.train()
                perm = torch.randperm(n, generator=gen)
                total = 0.0
                for i in range(0, n, self.batch_size):
                    idx = perm[i : i + self.batch_size]
                    loss = nn.functional.binary_cross_entropy_with_logits(net(z[idx], q[idx], lg[idx]), target[idx])
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    total += loss.item() * len(idx)
                history.append(total / n)
                bar.update(1)
                bar.set_postfix(loss=f"{total / n:.4f}")
        w = {k: v.detach().numpy().astype(np.float64).copy() for k, v in net.state_dict().items()}
        # unknown skills (index S, lag codes 2(S+1)+y) were never trained: use the average of known ones
        w["q.weight"][S] = w["q.weight"][:S].mean(axis=0)
        w["qb.weight"][S] = w["qb.weight"][:S].mean(axis=0)
        for c in (0, 1):
            w["x.weight"][2 * (S + 1) + c] = w["x.weight"][2 + c : 2 * (S + 1) : 2].mean(axis=0)
        return w, history

    # ------------------------------------------------------------------ scoring
    def _lr_logit(self, Z: np.ndarray, skill: np.ndarray, lag_skill: np.ndarray, lag_y: np.ndarray) -> np.ndarray:
        S = len(self.skills_)
        lr = self.lr_
        out = lr["intercept"][0] + Z @ lr["dense"]
        known = skill < S
        sk = np.minimum(skill, max(S - 1, 0))
        out = out + np.where(known, lr["skill"][sk] + np.sum(lr["skill_slopes"][sk] * Z[:, list(_PC)], axis=1), 0.0)
        for lag, keys in enumerate(self.pairs_):
            ps = lag_skill[:, lag]
            ok = (ps >= 0) & (ps < S) & known
            key = np.where(ok, ps * S + skill, -1)
            pid = np.searchsorted(keys, key)
            pid_c = np.minimum(pid, max(len(keys) - 1, 0))
            hit = ok & (len(keys) > 0) & (keys[pid_c] == key if len(keys) else False)
            if len(keys):
                out = out + np.where(
                    hit, lr[f"pair{lag + 1}_bias"][pid_c] + lr[f"pair{lag + 1}_prev"][pid_c] * (2.0 * lag_y[:, lag] - 1.0), 0.0
                )
        return out

    def _mlp_logit(self, Z: np.ndarray, skill: np.ndarray, codes: np.ndarray) -> np.ndarray:
        w = self.mlp_
        n = len(skill)
        out = np.empty(n)
        step = 8192
        for a in range(0, n, step):
            z, q, c = Z[a : a + step], skill[a : a + step], codes[a : a + step]
            h = np.concatenate([z, w["q.weight"][q], w["x.weight"][c].reshape(len(q), -1)], axis=1)
            h = np.maximum(h @ w["l1.weight"].T + w["l1.bias"], 0.0)
            h = np.maximum(h @ w["l2.weight"].T + w["l2.bias"], 0.0)
            out[a : a + step] = (
                (h @ w["l3.weight"].T).ravel() + w["l3.bias"][0] + z @ w["lin.weight"].ravel() + w["lin.bias"][0]
                + w["qb.weight"][q, 0]
            )
        return out

    def _logit_obs(self, dense: np.ndarray, skill: np.ndarray, lag_skill: np.ndarray, lag_y: np.ndarray) -> np.ndarray:
        Z = (dense - self.mean_) / self.scale_
        z = self._lr_logit(Z, skill, lag_skill, lag_y)
        if self.blend > 0 and self.mlp_:
            zm = self._mlp_logit(Z, skill, self._lag_codes(lag_skill, lag_y))
            z = (1.0 - self.blend) * z + self.blend * zm
        return z

    def predict_proba(self, X) -> np.ndarray:
        """(n, 2) array; column 1 is P(correct) of each row given the learner's earlier rows."""
        check_is_fitted(self)
        log = as_response_log(X)
        b = batch_features(self, log)
        p_obs = sigmoid(self._logit_obs(b.dense, b.skill, b.lag_skill, b.lag_y))
        n = len(log)
        counts = np.bincount(b.rows, minlength=n)
        p = np.bincount(b.rows, weights=p_obs, minlength=n) / np.maximum(counts, 1)
        return np.column_stack([1.0 - p, p])

    def predict(self, X) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(np.int64)

    # ------------------------------------------------------------------ one learner at a time (for a Roster)
    def _features(self, st: LearnerHistory, skills: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """The batch features of one observation per skill from the learner's history (the last two still as
        probabilities); what does not depend on the skill is computed once."""
        S = len(self.skills_)
        n = len(skills)
        h = st.n
        common = np.empty(N_DENSE)
        common[7] = math.log1p(st.succ)
        common[8] = math.log1p(h - st.succ)
        common[9] = (st.succ + 1.0) / (h + 2.0)
        col = 10
        for w in WINDOWS:
            common[col] = _tail_mean(st.hist, w, 0.5)
            col += 1
        common[col] = float(h == 0)
        common[col + 4] = st.resid_sum / (h + ABILITY_SHRINK)
        for j, w in enumerate(ABILITY_WINDOWS):
            common[col + 5 + j] = _tail_mean(st.resid, w, 0.0)
        sk = np.empty(n, dtype=np.int64)
        if st.lags:
            _, py, psid = st.lags[-1]
            pc = 2.0 * py - 1.0
        else:
            psid, pc = None, 0.0
        bkt_col = col + 5 + len(ABILITY_WINDOWS)
        params_of, default = self.bkt_.params_, self.bkt_.default_skill_params
        per_skill = []  # the skill's own columns, as Python floats: one numpy write per column, not per value
        for i, skill_id in enumerate(skills):
            s = sk[i] = self.skill_index_.get(skill_id, S)
            rec = st.skills.get(skill_id)
            if rec is None:
                s_succ, s_n, last1, last3, gap = 0.0, 0, 0.5, 0.5, 0
            else:
                s_succ, s_n, dq, last_pos = rec
                last1 = dq[-1]
                last3 = _tail_mean(dq, SKILL_LAST, 0.5)
                gap = h - last_pos - 1
            same = psid is not None and psid == skill_id
            params = params_of.get(skill_id, default)
            per_skill.append((
                math.log1p(s_succ), math.log1p(s_n - s_succ), (s_succ + 1.0) / (s_n + 2.0), float(s_n == 0), last1, last3, math.log1p(gap),
                float(same), pc if same else 0.0, 0.0 if same else pc,
                p_correct(st.mastery.get(skill_id, params.prior), params), self.skill_rate_[s] if s < S else self.global_rate_,
            ))
        own = np.array(per_skill, dtype=np.float64).reshape(n, 12)
        f = np.empty((n, N_DENSE))
        f[:] = common
        f[:, 0:7] = own[:, 0:7]
        f[:, col + 1 : col + 4] = own[:, 7:10]
        f[:, bkt_col : bkt_col + 2] = own[:, 10:12]
        return f, sk

    def __getstate__(self) -> dict:
        state = dict(super().__getstate__())  # a copy: the estimator keeps its own
        state.pop("_blas", None)  # handles to loaded libraries: made again where the model is unpickled
        return state

    def _one_blas_thread(self) -> Any:
        """One learner's products are small: BLAS threads cost far more than they save, and on a busy 2-core
        machine they made a 48-skill call take 100 ms instead of 1 (measured at load average 20)."""
        controller = self.__dict__.get("_blas")
        if controller is None:
            controller = self.__dict__["_blas"] = ThreadpoolController()
        return controller.limit(limits=1, user_api="blas")

    def _obs_logits(self, st: LearnerHistory, skills: list[str]) -> np.ndarray:
        with self._one_blas_thread():
            return self._obs_logits_unlimited(st, skills)

    def _obs_logits_unlimited(self, st: LearnerHistory, skills: list[str]) -> np.ndarray:
        K = self.n_previous_answers
        dense, sk = self._features(st, skills)
        lag_skill = np.full((len(skills), K), -1, dtype=np.int64)
        lag_y = np.zeros((len(skills), K))
        recent = list(st.lags)[::-1][:K]
        for lag, (ps, py, _) in enumerate(recent):
            lag_skill[:, lag] = ps
            lag_y[:, lag] = py
        dense[:, _LOGIT_FEATURES] = logit(dense[:, _LOGIT_FEATURES])
        return self._logit_obs(dense, sk, lag_skill, lag_y)

    def new_learner(self) -> LearnerHistory:
        """A learner without answers yet."""
        return LearnerHistory(max(self.n_previous_answers, 1))

    def record_answer(self, learner: LearnerHistory, skills: list[str], score: float) -> None:
        """Add one graded answer (1/0 or a score in [0, 1]) to the learner's history, one observation per skill."""
        S = len(self.skills_)
        default = self.bkt_.default_skill_params
        for sid in skills:
            s = self.skill_index_.get(sid, S)
            params = self.bkt_.params_.get(sid, default)
            learner.mastery[sid] = update(learner.mastery.get(sid, params.prior), score, params)
            rec = learner.skills.get(sid)
            if rec is None:
                rec = learner.skills[sid] = [0.0, 0, deque(maxlen=SKILL_LAST), -1]
            rec[0] += score
            rec[1] += 1
            rec[2].append(score)
            rec[3] = learner.n
            d = self.skill_rate_[s] if s < S else self.global_rate_
            learner.n += 1
            learner.succ += score
            learner.hist.append(score)
            learner.resid_sum += score - d
            learner.resid.append(score - d)
            learner.lags.append((s, score, sid))

    def state_key(self) -> str:
        """A fingerprint of what a stored `LearnerHistory` depends on (skills, difficulties, the embedded BKT, lags):
        a history kept under another key was built by another model and is rebuilt from the learner's answers."""
        check_is_fitted(self)
        cached = getattr(self, "_state_key", None)
        if cached is not None:
            return cached
        h = hashlib.sha256()
        h.update(json.dumps([self.skills_, self.global_rate_, self.n_previous_answers, self.bkt_.default_skill_params.as_dict(),
                             {k: v.as_dict() for k, v in sorted(self.bkt_.params_.items())}]).encode())
        h.update(np.ascontiguousarray(self.skill_rate_, dtype=np.float64).tobytes())
        self._state_key: str = h.hexdigest()[:32]
        return self._state_key

    def history_of(self, answers: Iterable[tuple[Iterable[str], float]], start: LearnerHistory | None = None) -> LearnerHistory:
        """A learner's history after these graded answers (skills, score), in time order, from `start` or from nothing."""
        learner = start if start is not None else self.new_learner()
        for skills, score in answers:
            self.record_answer(learner, list(skills), float(score))
        return learner

    def p_mastered_for(self, learner: LearnerHistory, skill_id: str) -> float:
        """P(mastered) by the embedded BKT, which the model keeps up to date as a feature."""
        return learner.mastery.get(skill_id, self.bkt_.params_.get(skill_id, self.bkt_.default_skill_params).prior)

    def p_correct_for(self, learner: LearnerHistory, skills: list[str]) -> float:
        """P(correct) on an item measuring these skills (mean over its skills)."""
        return float(np.mean(sigmoid(self._obs_logits(learner, skills))))

    def p_correct_items_for(self, learner: LearnerHistory, items: list[list[str]]) -> np.ndarray:
        """P(correct) on many candidate items in one model call, e.g. for the recommender."""
        skills: list[str] = []
        owner: list[int] = []
        for i, item in enumerate(items):
            skills += item
            owner += [i] * len(item)
        if not skills:
            return np.zeros(len(items))
        p = sigmoid(self._obs_logits(learner, skills))
        own = np.asarray(owner)
        return np.bincount(own, weights=p, minlength=len(items)) / np.bincount(own, minlength=len(items))

    # ------------------------------------------------------------------ artefacts
    def save(self, directory: str | Path, metadata: dict | None = None) -> None:
        """Write model.json, weights.npz and metadata.json (no pickle anywhere)."""
        check_is_fitted(self)
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        params = self.get_params()
        hyper = {k: params[k] for k in self._parameter_constraints}  # the constructor's order, as artefacts always had it
        hyper["hidden"] = list(self.hidden)
        model = {
            "kind": MODEL_KIND,
            "format_version": FORMAT_VERSION,
            "hyperparameters": hyper,
            "skills": list(self.skills_),
            "global_rate": self.global_rate_,
            "feature_names": FEATURE_NAMES,
            "bkt": {
                "default": self.bkt_.default_skill_params.as_dict(),
                "skills": {k: v.as_dict() for k, v in sorted(self.bkt_.params_.items())},
            },
        }
        arrays = {"skill_rate": self.skill_rate_, "mean": self.mean_, "scale": self.scale_}
        arrays.update({f"lr.{k}": v for k, v in self.lr_.items()})
        arrays.update({f"pairs.{lag + 1}": k for lag, k in enumerate(self.pairs_)})
        arrays.update({f"mlp.{k}": v for k, v in self.mlp_.items()})
        np.savez_compressed(directory / "weights.npz", **arrays)
        (directory / "model.json").write_text(json.dumps(model, indent=1) + "\n", encoding="utf-8")
        meta = {"kind": MODEL_KIND, "version": "unversioned", **(metadata or {})}
        (directory / "metadata.json").write_text(
            json.dumps(meta, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8"
        )

    @classmethod
    def load(cls, directory: str | Path) -> NextAnswerModel:
        """A fitted model from an artefact directory; a ModelFileError names the file and what is wrong with it."""
        directory = Path(directory)
        mpath, wpath = directory / "model.json", directory / "weights.npz"
        model = read_json_object(mpath)
        if model.get("kind") != MODEL_KIND:
            raise ModelFileError(f"{mpath}: kind must be {MODEL_KIND!r}, got {model.get('kind')!r}")
        if model.get("format_version") != FORMAT_VERSION:
            raise ModelFileError(f"{mpath}: format_version {model.get('format_version')!r} is not {FORMAT_VERSION}")
        if model.get("feature_names") != FEATURE_NAMES:
            raise ModelFileError(f"{mpath}: written with other features than this code computes")
        try:
            with np.load(wpath, allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
        except FileNotFoundError:
            raise ModelFileError(f"{wpath}: file missing") from None
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
            raise ModelFileError(f"{wpath}: not a readable npz file ({exc})") from None
        hyper = dict(model["hyperparameters"])
        hyper["hidden"] = tuple(hyper["hidden"])
        est = cls(**{k: v for k, v in hyper.items() if k in cls._parameter_constraints})
        est.classes_ = np.array([0, 1])
        est.skills_ = list(model["skills"])
        est.skill_index_ = {s: i for i, s in enumerate(est.skills_)}
        est.global_rate_ = float(model["global_rate"])
        try:
            est.skill_rate_ = arrays["skill_rate"]
            est.mean_, est.scale_ = arrays["mean"], arrays["scale"]
            est.lr_ = {k[3:]: v for k, v in arrays.items() if k.startswith("lr.")}
            est.pairs_ = [arrays[f"pairs.{lag + 1}"] for lag in range(est.pair_lags)]
            est.mlp_ = {k[4:]: v for k, v in arrays.items() if k.startswith("mlp.")}
        except KeyError as exc:
            raise ModelFileError(f"{wpath}: missing array {exc}") from None
        if len(est.skill_rate_) != len(est.skills_):
            raise ModelFileError(f"{wpath}: skill_rate has {len(est.skill_rate_)} entries for {len(est.skills_)} skills")
        embedded = MasteryModel(
            version="embedded",
            default=SkillParams(**model["bkt"]["default"]),
            skills={k: SkillParams(**v) for k, v in model["bkt"]["skills"].items()},
        )
        est.bkt_ = BKT.from_mastery_model(embedded, n_restarts=est.bkt_restarts)
        return est


def load_artefact(directory: str | Path) -> MasteryModel:
    """The service's model from an artefact directory: BKT mastery (what learners see), plus, when the artefact
    ships one in ``next-answer/``, the next-answer model that the recommender's predicted success comes from."""
    model = load_mastery_model(Path(directory))
    sub = Path(directory) / SERVICE_SUBDIR
    if not sub.is_dir():
        return model
    return replace(model, next_answer=NextAnswerModel.load(sub))
