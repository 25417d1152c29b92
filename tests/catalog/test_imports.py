"""Storing an imported course: automatic acceptance above the threshold, review below it, ungraded
activities left out, and a reviewer's decision kept when the activity is edited."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import select

from tutor.catalog.activities import activity_id
from tutor.catalog.course import Activity, Course, Node, Part, Place
from tutor.catalog.imports import rank_course, store_course, stored_hashes
from tutor.catalog.review import decide
from tutor.store.tables import Alignment, CatalogActivity

PLACE = Place(chapter=Node(key="c", title="Week 1"))


@dataclass(frozen=True)
class Suggestion:
    skill: str
    confidence: float


class KeywordAligner:
    """A stand-in aligner for these tests: sure of 'scam' texts, unsure of the rest."""

    def suggest(self, title, text, language=None, k=3, kind=None):
        if "scam" in (title + text).lower():
            return [Suggestion("4.2-basic", 0.97), Suggestion("2.1-basic", 0.02)]
        return [Suggestion("1.1-basic", 0.4), Suggestion("1.2-basic", 0.3)]


def course(scam_text: str = "How to spot a scam message.") -> Course:
    return Course(platform="openedx", key="course-v1:Org+C1+2026", title="Safety", source="olx", activities=(
        Activity(key="k-scam", block_type="html", kind="lesson", title="Scams", place=PLACE, text=scam_text),
        Activity(key="k-search", block_type="html", kind="lesson", title="Searching", place=PLACE, text="Use quotes to search."),
        Activity(key="k-q", block_type="problem", kind="item", title="Q", place=PLACE, question="Which is a scam?",
                 parts=(Part(problem_type="multiplechoiceresponse", options=("A", "B"), correct=(0,)),), problem_type="multiplechoiceresponse"),
        Activity(key="k-forum", block_type="discussion", kind="ungraded", title="Forum", place=PLACE, reason="a discussion forum"),
    ))


def store(session, c: Course, accept: float = 0.9):
    report = store_course(session, c, rank_course(c, KeywordAligner(), stored_hashes(session, c)), accept)
    session.commit()
    return report


def states(session) -> dict[str, tuple[str, list]]:
    return {a.key: (a.alignment, a.skills) for a in session.scalars(select(CatalogActivity))}


def test_sure_suggestions_are_accepted_the_rest_wait_for_review(runtime):
    with runtime.session() as s:
        report = store(s, course())
        assert (report.aligned, report.review, report.activities, report.ungraded) == (2, 1, 4, 1)
        assert states(s) == {
            "k-scam": ("accepted", ["4.2-basic"]), "k-q": ("accepted", ["4.2-basic"]),
            "k-search": ("review", []), "k-forum": ("none", []),
        }
        decided = {a.skill: (a.status, a.decided_by) for a in s.scalars(select(Alignment).where(Alignment.activity_id == activity_id("openedx", "k-scam")))}
        assert decided == {"4.2-basic": ("accepted", "auto"), "2.1-basic": ("suggested", None)}


@pytest.mark.parametrize("accept", [0.2, 0.999])
def test_the_threshold_decides(runtime, accept):
    with runtime.session() as s:
        report = store(s, course(), accept)
        assert report.aligned == (3 if accept == 0.2 else 0)


def test_a_reviewers_decision_survives_an_edit_and_an_unchanged_course_needs_no_aligner(runtime):
    with runtime.session() as s:
        store(s, course())
        decide(s, activity_id("openedx", "k-search"), ["1.1-basic"], "tk_1 (reviewer)", runtime.library.skills)
        s.commit()
        assert rank_course(course(), KeywordAligner(), stored_hashes(s, course())) == {}
        edited = course().model_copy(update={"activities": tuple(
            a if a.key != "k-search" else Activity.model_validate({**a.model_dump(exclude={"content_hash"}), "text": "Use quotes and minus signs."})
            for a in course().activities
        )})
        report = store(s, edited)
        assert (report.updated, report.unchanged) == (1, 3)
        assert states(s)["k-search"] == ("accepted", ["1.1-basic"])
