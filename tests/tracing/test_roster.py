"""The Roster: every learner's online state under one fitted model, which itself stays free of learners."""

from __future__ import annotations

import pytest
from sklearn.exceptions import NotFittedError

from tutor.errors import Invalid
from tutor.tracing.bkt import BKT
from tutor.tracing.equations import update
from tutor.tracing.next_answer import NextAnswerModel
from tutor.tracing.responses import ResponseLog
from tutor.tracing.roster import Roster

LOG = ResponseLog.from_sequences(
    [(["fractions", "decimals", ["fractions", "decimals"]] * 8, [0, 1, 1] * 8), (["decimals", "fractions"] * 12, [1, 0, 0, 1] * 6)]
)


@pytest.fixture(scope="module")
def bkt() -> BKT:
    return BKT(n_restarts=1, min_responses=1, random_state=0).fit(LOG)


def test_a_new_learner_starts_at_the_prior_and_is_not_added_by_questions(bkt):
    roster = Roster(bkt)
    prior = bkt.params_["fractions"].prior
    assert roster.p_mastered("ana", "fractions") == prior
    roster.p_correct("ana", "fractions")
    roster.p_correct_items("ana", ["fractions"])
    roster.update("binh", "decimals", 1)
    assert roster.p_mastered("ana", "fractions") == prior  # questions about ana stored nothing for her
    assert roster.p_mastered("binh", "decimals") == update(bkt.params_["decimals"].prior, 1.0, bkt.params_["decimals"])


def test_skills_as_a_list_or_a_separated_string_are_the_same_answer(bkt):
    a, b = Roster(bkt), Roster(bkt)
    a.update("ana", "fractions;decimals", 0.5)
    b.update("ana", ["fractions", "decimals"], 0.5)
    for sid in ("fractions", "decimals"):
        assert a.p_mastered("ana", sid) == b.p_mastered("ana", sid)
    assert a.p_correct("ana", " fractions ; decimals ") == b.p_correct("ana", ["fractions", "decimals"])


def test_rosters_of_one_model_do_not_share_learners(bkt):
    a, b = Roster(bkt), Roster(bkt)
    for _ in range(5):
        a.update("ana", "fractions", 1)
    assert a.p_mastered("ana", "fractions") > b.p_mastered("ana", "fractions") == bkt.params_["fractions"].prior
    assert all(k in bkt.get_params() or k.endswith("_") for k in vars(bkt))  # parameters and fitted attributes only


def test_scores_outside_0_1_and_unfitted_models_are_refused(bkt):
    with pytest.raises(Invalid, match="not in"):
        Roster(bkt).update("ana", "fractions", 2)
    with pytest.raises(NotFittedError):
        Roster(NextAnswerModel())


def test_next_answer_roster_tracks_the_embedded_bkt_mastery():
    model = NextAnswerModel(epochs=1, hidden=(8, 4), embed_dim=2, bkt_restarts=1, random_state=0).fit(LOG)
    roster = Roster(model)
    params = model.bkt_.skill_params("fractions")
    assert roster.p_mastered("ana", "fractions") == params.prior
    roster.update("ana", "fractions", 1)
    assert roster.p_mastered("ana", "fractions") == update(params.prior, 1.0, params)
    assert 0.0 < roster.p_correct("ana", "fractions") < 1.0
