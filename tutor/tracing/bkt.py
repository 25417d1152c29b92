"""BKT, the estimator of the service's mastery model: fits every skill's five parameters and predicts P(correct).

Fitting is EM over all learners' answers (`tutor.tracing.em`); predictions use the service's own
update equations (`tutor.tracing.equations`), so what the model predicts in batch is what the
service computes answer by answer. One learner at a time, a `tutor.tracing.roster.Roster` keeps
each learner's mastery. Artefacts are written and read with `tutor.tracing.artefacts` (JSON,
never pickle).

    model = BKT(n_restarts=5, random_state=0).fit(read_log("answers.jsonl", "events"))
    model.params_["4.2-basic"], model.diagnostics_["4.2-basic"]
    model.save("models/bkt-2026-11", {"version": "bkt-2026-11"})
"""

from __future__ import annotations

import json
import math
import time
from numbers import Integral, Real
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.utils._param_validation import Interval, InvalidParameterError, StrOptions
from sklearn.utils.validation import check_is_fitted

from tutor.errors import Invalid
from tutor.tracing import em
from tutor.tracing.artefacts import MasteryModel, load_mastery_model, save_mastery_model
from tutor.tracing.equations import PARAM_NAMES, SkillParams, p_correct, update
from tutor.tracing.responses import as_response_log

MULTI_SKILL = ("mean", "min", "product")
RESTART_TIE = 1e-9  # relative: restarts whose log-likelihoods differ by less are tied (summation order alone moves the last digits)


class BKT(ClassifierMixin, BaseEstimator):
    """Bayesian Knowledge Tracing with one set of five parameters per skill.

    scikit-learn estimator: ``fit(X)``, ``predict_proba(X)``, ``get_params`` / ``set_params``,
    fitted attributes ending in ``_`` (``params_``, ``diagnostics_``). ``X`` is a
    `tutor.tracing.responses.ResponseLog` (or a list of event dicts / a mapping of columns with the
    `events` column names). ``predict_proba(X)[:, 1]`` is P(correct) of each row *before* the
    answer is seen, given the same learner's earlier rows; each learner starts at the prior.

    Parameters
    ----------
    n_restarts : EM runs from different starting points per skill (the first from
        ``default_params``, the others random); the best log-likelihood wins (the first of
        restarts tied to within 1e-9 of it, relative: see `best_restart`).
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

    Three learners practise fractions; after a few right answers ana is more likely to be right:

    >>> from tutor.tracing.responses import ResponseLog
    >>> log = ResponseLog.from_sequences(
    ...     [(["fractions"] * 6, [0, 0, 1, 1, 1, 1]), (["fractions"] * 6, [0, 1, 0, 1, 1, 1]), (["fractions"] * 6, [1] * 6)],
    ...     learner_ids=["ana", "binh", "chi"],
    ... )
    >>> model = BKT(n_restarts=1, min_responses=1, random_state=0).fit(log)
    >>> model.diagnostics_["fractions"]["fitted"], sorted(model.params_)
    (True, ['fractions'])
    >>> p = model.predict_proba(log)[:, 1]
    >>> bool(p[5] > p[0])
    True
    """

    _parameter_constraints: ClassVar[dict[str, list]] = {
        "n_restarts": [Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "max_guess": [Interval(Real, 0, 1, closed="neither")],
        "max_slip": [Interval(Real, 0, 1, closed="neither")],
        "fit_forget": ["boolean"],
        "min_responses": [Interval(Integral, 0, None, closed="left")],
        "default_params": [SkillParams, None],
        "multi_skill": [StrOptions(set(MULTI_SKILL))],
        "random_state": [Interval(Integral, 0, None, closed="left"), None],
    }

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

    @property
    def default_skill_params(self) -> SkillParams:
        """The parameters of a skill with too little data, and of a skill the model has never seen."""
        return self.default_params if self.default_params is not None else SkillParams()

    @property
    def forget_in_e_step(self) -> bool:
        """Whether the E-step must model forgetting: when it is fitted, or fixed above 0 by the default parameters."""
        return self.fit_forget or self.default_skill_params.forget > 0

    # ------------------------------------------------------------------ fitting
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, progress: bool = False) -> BKT:
        """Fit every skill's parameters by EM (vectorised over chains, skills and restarts); y, if given, regrades X."""
        if self.max_guess + self.max_slip >= 1.0:
            raise InvalidParameterError("max_guess + max_slip must be < 1, or a correct answer need not mean mastery")
        t0 = time.perf_counter()
        log = as_response_log(X)
        if y is not None:
            log = log.with_scores(y)
        if len(log) == 0:
            raise Invalid("cannot fit BKT on an empty log")
        default = self.default_skill_params
        skill_ids = list(log.skill_ids)
        S, R = len(skill_ids), self.n_restarts
        ch = em.chains(log, np.arange(S))
        n_resp = np.bincount(ch.skill, minlength=S)
        n_seq = np.bincount(ch.chain_skill, minlength=S)
        fit_skill = n_resp >= max(self.min_responses, 1)
        limits = em.bounds(self.max_guess, self.max_slip)
        run = em.run_em(
            em.ChainEStep(ch, fit_skill, R, self.forget_in_e_step), em.slots_to_fit(fit_skill, R), self._starting_points(default, S, limits), limits,
            max_iter=self.max_iter, tol=self.tol, fit_forget=self.fit_forget, progress=progress,
        )
        self.adopt_em_run(run, skill_ids, n_resp, n_seq, fit_skill)
        self.n_rows_ = len(log)
        self.fit_seconds_ = time.perf_counter() - t0
        return self

    def adopt_em_run(self, run: em.EMRun, skill_ids: list[str], n_resp: np.ndarray, n_seq: np.ndarray, fit_skill: np.ndarray) -> None:
        """Become fitted from an EM run over all restarts (in process or on Spark): each skill's best restart, and the diagnostics."""
        default = self.default_skill_params
        limits = em.bounds(self.max_guess, self.max_slip)
        S, R = len(skill_ids), self.n_restarts
        ll_rs = run.log_likelihood.reshape(R, S)
        best = best_restart(ll_rs)
        pick = best * S + np.arange(S)
        params: dict[str, SkillParams] = {}
        diagnostics: dict[str, dict[str, Any]] = {}
        for s, sid in enumerate(skill_ids):
            d: dict[str, Any] = {"n_responses": int(n_resp[s]), "n_sequences": int(n_seq[s])}
            if fit_skill[s]:
                k = pick[s]
                p = SkillParams(**{n: float(run.params[n][k]) for n in PARAM_NAMES})
                at_bound = [n for n in ("guess", "slip") if math.isclose(getattr(p, n), limits[n][1], rel_tol=0, abs_tol=1e-9)]
                d.update(
                    fitted=True,
                    log_likelihood=float(run.log_likelihood[k]),
                    n_iter=int(run.n_iter[k]),
                    converged=bool(run.converged[k]),
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
        self.classes_ = np.array([0, 1])
        self.params_ = params
        self.diagnostics_ = diagnostics
        self.skills_ = list(skill_ids)
        self.n_iter_ = int(run.n_iter.max()) if len(run.n_iter) else 0
        self.log_likelihood_ = float(sum(d.get("log_likelihood", 0.0) for d in diagnostics.values()))

    def _starting_points(self, default: SkillParams, S: int, limits: em.Bounds) -> dict[str, np.ndarray]:
        """EM's first point per slot r * S + s: restart 0 from the default parameters, the others drawn at random."""
        R = self.n_restarts
        rng = np.random.default_rng(self.random_state)
        init = {n: np.empty((R, S)) for n in PARAM_NAMES}
        for n in PARAM_NAMES:
            init[n][0] = getattr(default, n)
        if R > 1:
            shape = (R - 1, S)
            init["prior"][1:] = rng.uniform(0.05, 0.95, shape)
            init["learn"][1:] = rng.uniform(0.01, 0.4, shape)
            init["guess"][1:] = rng.uniform(0.02, self.max_guess, shape)
            init["slip"][1:] = rng.uniform(0.02, self.max_slip, shape)
            init["forget"][1:] = rng.uniform(0.0, 0.1, shape) if self.fit_forget else default.forget
        start = {n: np.clip(init[n].ravel(), *limits[n]) for n in PARAM_NAMES}
        if not self.fit_forget:
            start["forget"] = np.full(R * S, float(default.forget))
        return start

    def expected_counts(self, X) -> em.BKTCounts:
        """The E-step of one EM iteration on X under the fitted parameters (summable across learners)."""
        check_is_fitted(self)
        return em.expected_counts(X, self.params_, self.default_skill_params)

    # ------------------------------------------------------------------ batch prediction
    def skill_params(self, skill_id: str) -> SkillParams:
        """The fitted parameters of a skill, or the default ones for a skill the model has not seen."""
        check_is_fitted(self)
        return self.params_.get(skill_id, self.default_skill_params)

    def _forward(self, X) -> tuple[np.ndarray, np.ndarray]:
        """Per-row P(correct) before each answer, and per observation (in `expanded_order`)."""
        check_is_fitted(self)
        log = as_response_log(X)
        default = self.default_skill_params
        known = {s: i for i, s in enumerate(self.skills_)}
        ids = list(self.skills_) + [s for s in log.skill_ids if s not in known]
        pos = {s: i for i, s in enumerate(ids)}
        skill_map = np.array([pos[s] for s in log.skill_ids], dtype=np.int64)
        prm = em.param_arrays(ids, self.params_, default)
        ch = em.chains(log, skill_map)
        n = len(log)
        if len(ch.row) == 0:
            return np.zeros(n), np.zeros(0)
        pc = em.p_correct_chains(ch, prm)
        out = _combine(ch.row, pc, n, self.multi_skill)
        per_obs = np.empty(len(pc))
        per_obs[ch.exp_index] = pc
        return out, per_obs

    def predict_proba_observations(self, X) -> np.ndarray:
        """P(correct) per (row, skill) observation, in `expanded_order(X)` (one value per skill of a row)."""
        return self._forward(X)[1]

    def predict_proba(self, X) -> np.ndarray:
        """(n, 2) array: column 1 is P(correct) of each row before it is answered."""
        p = self._forward(X)[0]
        return np.column_stack([1.0 - p, p])

    def predict(self, X) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(np.int64)

    # ------------------------------------------------------------------ one learner at a time (for a Roster)
    def new_learner(self) -> dict[str, float]:
        """A learner without answers: an empty map skill -> P(mastered); every skill starts at its prior."""
        return {}

    def record_answer(self, learner: dict[str, float], skills: list[str], score: float) -> None:
        """Apply the service's `update` to the learner's mastery of each of the answer's skills."""
        for sk in skills:
            params = self.params_.get(sk) or self.default_skill_params  # the default is built only when needed
            p = learner.get(sk)
            learner[sk] = update(params.prior if p is None else p, score, params)

    def p_mastered_for(self, learner: dict[str, float], skill_id: str) -> float:
        v = learner.get(skill_id)
        return (self.params_.get(skill_id) or self.default_skill_params).prior if v is None else v

    def p_correct_for(self, learner: dict[str, float], skills: list[str]) -> float:
        """P(correct) on an item measuring these skills, the skills' chances combined by ``multi_skill``."""
        ps = []
        for sk in skills:
            params = self.params_.get(sk) or self.default_skill_params
            v = learner.get(sk)
            ps.append(p_correct(params.prior if v is None else v, params))
        if len(ps) == 1:
            return ps[0]
        if self.multi_skill == "mean":
            return sum(ps) / len(ps)
        if self.multi_skill == "min":
            return min(ps)
        return math.exp(sum(math.log(v) for v in ps))

    def p_correct_items_for(self, learner: dict[str, float], items: list[list[str]]) -> np.ndarray:
        return np.array([self.p_correct_for(learner, skills) for skills in items], dtype=float)

    # ------------------------------------------------------------------ artefacts
    def to_mastery_model(self, version: str = "unversioned", metadata: dict | None = None) -> MasteryModel:
        """The fitted parameters in the form the service serves them."""
        check_is_fitted(self)
        return MasteryModel(version=version, default=self.default_skill_params, skills=dict(self.params_), metadata=metadata or {})

    @classmethod
    def from_mastery_model(cls, model: MasteryModel, **hyper: Any) -> BKT:
        """A fitted BKT from a MasteryModel (as returned by tutor.tracing.artefacts.load_mastery_model)."""
        meta_hyper = dict(model.metadata.get("hyperparameters", {})) if model.metadata else {}
        meta_hyper.pop("default_params", None)
        kw = {k: v for k, v in meta_hyper.items() if k in cls._parameter_constraints}
        kw.update(hyper)
        est = cls(**kw, default_params=model.default)
        est.classes_ = np.array([0, 1])
        est.params_ = dict(model.skills)
        est.skills_ = list(model.skills)
        diag = model.metadata.get("diagnostics") if model.metadata else None
        est.diagnostics_ = diag if isinstance(diag, dict) else {}
        return est

    def save(self, directory: str | Path, metadata: dict | None = None) -> None:
        """Write model.json + metadata.json (+ diagnostics.json) with tutor.tracing.artefacts; never pickle."""
        check_is_fitted(self)
        meta = dict(metadata or {})
        meta.setdefault("version", "unversioned")
        hyper = self.get_params()
        hyper["default_params"] = self.default_skill_params.as_dict()
        meta.setdefault("hyperparameters", hyper)
        save_mastery_model(Path(directory), self.default_skill_params, dict(self.params_), meta)
        (Path(directory) / "diagnostics.json").write_text(json.dumps(self.diagnostics_, indent=1, sort_keys=True) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, directory: str | Path) -> BKT:
        est = cls.from_mastery_model(load_mastery_model(Path(directory)))
        diag = Path(directory) / "diagnostics.json"
        if diag.exists():
            est.diagnostics_ = json.loads(diag.read_text(encoding="utf-8"))
        return est


def best_restart(ll: np.ndarray) -> np.ndarray:
    """Per skill (column), the first restart whose log-likelihood is within RESTART_TIE of the best one.

    Skills whose parameters the data cannot tell apart (every chain one answer long) end with
    restarts tied to the last digits; taking the first of them rather than the largest makes the
    choice independent of the order the E-step's sums were added in (threads, Spark partitions).
    """
    ll = np.where(np.isfinite(ll), ll, -np.inf)
    top = ll.max(axis=0)
    return np.argmax(ll >= top - RESTART_TIE * np.maximum(1.0, np.abs(top)), axis=0)


def _combine(rows: np.ndarray, values: np.ndarray, n: int, how: str) -> np.ndarray:
    """Per-row P(correct) from per-observation ones: the rows' skills combined as ``multi_skill`` says."""
    counts = np.bincount(rows, minlength=n)
    if how == "mean" or np.all(counts <= 1):
        return np.bincount(rows, weights=values, minlength=n) / np.maximum(counts, 1)
    if how == "min":
        out = np.full(n, np.inf)
        np.minimum.at(out, rows, values)
        return np.where(counts > 0, out, 0.0)
    return np.exp(np.bincount(rows, weights=np.log(values), minlength=n))
