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
