"""The service's Bayesian Knowledge Tracing equations: what one answer does to a learner's mastery.

Each skill has pyBKT's five readable parameters (`SkillParams`). The service applies `update` to
every graded answer; fitting (`tutor.tracing.em`) and batch prediction (`tutor.tracing.bkt`) use
the same arithmetic, so a fitted model predicts in batch exactly what the service would online.

>>> fractions = SkillParams(prior=0.3, learn=0.2, guess=0.15, slip=0.1)
>>> round(p_correct(fractions.prior, fractions), 3)
0.375
>>> round(update(fractions.prior, 1.0, fractions), 3)  # a right answer, then a chance to learn
0.776

`logit` and `sigmoid` are the project's one copy of the two link functions.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import overload

import numpy as np


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


PARAM_NAMES = ("prior", "learn", "guess", "slip", "forget")


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
    """Mastery after one graded answer, forgetting and learning included; a partial score in [0, 1] weighs the two posteriors."""
    if score >= 1.0:
        post = posterior(p_mastered, True, params)
    elif score <= 0.0:
        post = posterior(p_mastered, False, params)
    else:
        post = score * posterior(p_mastered, True, params) + (1.0 - score) * posterior(p_mastered, False, params)
    return post * (1.0 - params.forget) + (1.0 - post) * params.learn


@overload
def logit(p: float, eps: float = 1e-6) -> float: ...
@overload
def logit(p: np.ndarray, eps: float = 1e-6) -> np.ndarray: ...
def logit(p, eps=1e-6):
    """log(p / (1 - p)), with p clipped to [eps, 1 - eps] so that certainty stays finite.

    A Python number goes through `math` and gives a float; an array goes through numpy, element-wise.

    >>> logit(0.5), round(logit(1.0), 2)
    (0.0, 13.82)
    >>> logit(np.array([0.5, 0.5]))
    array([0., 0.])
    """
    if isinstance(p, (int, float)):
        q = min(max(p, eps), 1.0 - eps)
        return math.log(q / (1.0 - q))
    q = np.clip(p, eps, 1.0 - eps)
    return np.log(q / (1.0 - q))


@overload
def sigmoid(x: float) -> float: ...
@overload
def sigmoid(x: np.ndarray) -> np.ndarray: ...
def sigmoid(x):
    """1 / (1 + exp(-x)), the inverse of `logit`; a Python number gives a float, an array an array.

    >>> sigmoid(0.0), sigmoid(np.zeros(2))
    (0.5, array([0.5, 0.5]))
    """
    if isinstance(x, (int, float)):
        return 1.0 / (1.0 + math.exp(-x))
    return 1.0 / (1.0 + np.exp(-x))
