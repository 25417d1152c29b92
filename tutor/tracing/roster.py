"""A class list for online knowledge tracing: each learner's current state under one fitted model.

A fitted `tutor.tracing.bkt.BKT` or `tutor.tracing.next_answer.NextAnswerModel` knows what an
answer does to a learner but remembers no learner; a `Roster` (named after pyBKT's) does: it keeps
one state per learner id, updates it with each graded answer and answers P(correct) and
P(mastered) questions from it. Replaying a log's answers in order through a Roster predicts
exactly what the model's batch ``predict_proba`` does.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

import numpy as np
from sklearn.utils.validation import check_is_fitted

from tutor.errors import Invalid
from tutor.tracing.responses import skill_list

Skills = str | Iterable[str]


class TracingModel(Protocol):
    """What a Roster needs of a fitted model: a fresh learner state, what one answer does to it, and predictions from it."""

    def new_learner(self) -> Any: ...

    def record_answer(self, learner: Any, skills: list[str], score: float) -> None: ...

    def p_correct_for(self, learner: Any, skills: list[str]) -> float: ...

    def p_correct_items_for(self, learner: Any, items: list[list[str]]) -> np.ndarray: ...

    def p_mastered_for(self, learner: Any, skill_id: str) -> float: ...


class Roster:
    """Every learner's state under one fitted model, updated one graded answer at a time.

    ``skills`` is a list of skill ids or one string of ids separated by ';'; ``score`` is 1
    (right), 0 (wrong) or a partial score in [0, 1]. A learner the roster has not seen yet starts
    from the model's priors.

    >>> from tutor.tracing.bkt import BKT
    >>> from tutor.tracing.responses import ResponseLog
    >>> log = ResponseLog.from_sequences([(["fractions"] * 6, [0, 0, 1, 1, 1, 1]), (["fractions"] * 6, [1] * 6)])
    >>> roster = Roster(BKT(n_restarts=1, min_responses=1, random_state=0).fit(log))
    >>> before = roster.p_mastered("ana", "fractions")
    >>> roster.update("ana", "fractions", 1).update("ana", ["fractions"], 1.0).p_mastered("ana", "fractions") > before
    True
    >>> roster.p_correct("ana", "fractions") > roster.p_correct("binh", "fractions")
    True
    >>> roster.p_correct_items("ana", ["fractions", "fractions;decimals"]).shape
    (2,)
    """

    def __init__(self, model: TracingModel):
        check_is_fitted(model)
        self.model = model
        self._learners: dict[str, Any] = {}

    def _state(self, learner_id: str) -> Any:
        """The learner's state; a learner without answers gets a fresh one that is not stored."""
        state = self._learners.get(str(learner_id))
        return self.model.new_learner() if state is None else state

    def update(self, learner_id: str, skills: Skills, score: float | bool) -> Roster:
        """Record one graded answer of the learner on an item measuring these skills."""
        score = float(score)
        if not 0.0 <= score <= 1.0:
            raise Invalid(f"score {score!r} is not in [0, 1]")
        lid = str(learner_id)
        state = self._learners.get(lid)
        if state is None:
            state = self._learners[lid] = self.model.new_learner()
        self.model.record_answer(state, skill_list(skills), score)
        return self

    def p_correct(self, learner_id: str, skills: Skills) -> float:
        """P(correct) of the learner's next answer on an item measuring these skills."""
        return self.model.p_correct_for(self._state(learner_id), skill_list(skills))

    def p_correct_items(self, learner_id: str, items: Iterable[Skills]) -> np.ndarray:
        """P(correct) of the learner on each of many candidate items at once (one model call), e.g. for the recommender."""
        return self.model.p_correct_items_for(self._state(learner_id), [skill_list(item) for item in items])

    def p_mastered(self, learner_id: str, skill_id: str) -> float:
        """Current P(mastered) of the learner's skill (the skill's prior before any answer)."""
        return self.model.p_mastered_for(self._state(learner_id), skill_id)
