"""A course from a learning platform, said the same way whatever package it came in.

An importer (Open edX OLX, SCORM, Common Cartridge, a folder of pages) reads a package into a `Course`:
its `Activity` entries in course order, each under the platform's own identifier (for Open edX the
usage key that its xAPI statements carry), with what the tutor can use of it: the readable text of
a lesson, the question and answer key of a graded item, or the reason an activity is neither.

Every model is frozen. `Activity.content_hash` is computed from the activity's content (not from
where it sits in the course), so a re-import can tell unchanged activities from edited ones:

>>> part = Part(problem_type="multiplechoiceresponse", options=("Lion", "Tiger"), correct=(0,))
>>> place = Place(chapter=Node(key="c", title="Week 1"))
>>> a = Activity(key="k", block_type="problem", kind="item", title="Rome", place=place,
...              question="Which animal stood for Rome?", parts=(part,), problem_type="multiplechoiceresponse")
>>> moved = a.model_copy(update={"place": Place(chapter=Node(key="c2", title="Week 2"))})
>>> Activity.model_validate(moved.model_dump()).content_hash == a.content_hash
True
>>> edited = Activity.model_validate({**a.model_dump(exclude={"content_hash"}), "title": "Ancient Rome"})
>>> edited.content_hash == a.content_hash
False
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

ActivityKind = Literal["lesson", "item", "ungraded"]

# What the content hash covers: the activity's content, not its key, place or visibility.
HASHED_FIELDS = ("block_type", "kind", "title", "text", "language", "question", "parts", "problem_type", "explanation", "reason")


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Node(Frozen):
    """A block of the course outline: its platform identifier and its title."""

    key: str = Field(min_length=1)
    title: str


class Place(Frozen):
    """Where an activity sits: chapter (section) › sequential (subsection) › vertical (unit).

    `container` is a block between the unit and the activity that decides who sees it (a randomised
    library_content, a conditional, a split_test); None when the activity sits in the unit itself.
    A package without subsections or units (old hand-written OLX) leaves those None.
    """

    chapter: Node
    sequential: Node | None = None
    vertical: Node | None = None
    container: Node | None = None


class Part(Frozen):
    """One response of a graded question; a capa problem may hold several (a table of dropdowns).

    `correct` indexes `options` from 0 (several for a checkbox question); `answers` holds the
    accepted typed answers (text, a number, a numeric range, or a regular expression when `regexp`).
    """

    problem_type: str = Field(min_length=1)
    prompt: str = ""
    options: tuple[str, ...] = ()
    correct: tuple[int, ...] = ()
    answers: tuple[str, ...] = ()
    tolerance: str | None = None
    case_sensitive: bool = True
    regexp: bool = False

    @model_validator(mode="after")
    def key_is_usable(self) -> Part:
        if any(not 0 <= i < len(self.options) for i in self.correct):
            raise ValueError(f"correct = {list(self.correct)} but there are {len(self.options)} options (counted from 0)")
        if len(set(self.correct)) != len(self.correct):
            raise ValueError("an option is marked correct twice")
        if not self.options and not self.answers:
            raise ValueError("a part needs options or accepted answers")
        return self


class Activity(Frozen):
    """One thing a learner meets in the course, in course order.

    * `lesson`: something to read; `text` is its plain text (paragraphs split by a blank line), a
      video's transcript included.
    * `item`: a graded question whose answer key the package holds: `question` (the problem's text
      without its answer widgets), `parts`, `problem_type` (the response type, or the types joined
      by "+" in order when a problem mixes them), `explanation` (the worked solution, if any).
    * `ungraded`: anything else; `reason` says why (a problem graded by server code, a video
      without transcript, a forum). A problem keeps its `question` text here too.

    `restricted`: only some learners see it (staff only, or a content group). `key_inferred`: the
    package gave the block no identifier, so `key` is the importer's own and may not be the one the
    platform's statements carry.
    """

    key: str = Field(min_length=1)
    block_type: str = Field(min_length=1)
    kind: ActivityKind
    title: str
    place: Place
    text: str = ""
    language: str | None = None
    question: str = ""
    parts: tuple[Part, ...] = ()
    problem_type: str | None = None
    explanation: str = ""
    reason: str | None = None
    restricted: bool = False
    key_inferred: bool = False
    content_hash: str = Field(pattern=r"^[0-9a-f]{64}$")

    @model_validator(mode="before")
    @classmethod
    def fill_hash(cls, data: Any) -> Any:
        if isinstance(data, dict) and "content_hash" not in data:
            data = {**data, "content_hash": "0" * 64}  # replaced once the fields are checked
        return data

    @model_validator(mode="after")
    def fits_its_kind(self) -> Activity:
        if self.kind == "lesson" and (not self.text.strip() or self.parts or self.reason):
            raise ValueError("a lesson has text, and no parts or reason")
        if self.kind == "item" and (not self.parts or not self.problem_type or self.reason):
            raise ValueError("an item has parts and a problem type, and no reason")
        if self.kind == "ungraded" and (not self.reason or self.parts):
            raise ValueError("an ungraded activity has a reason and no parts")
        digest = activity_hash(self)
        if self.content_hash == "0" * 64:
            object.__setattr__(self, "content_hash", digest)
        elif self.content_hash != digest:
            raise ValueError("content_hash does not match the content: recompute it (leave it out)")
        return self

    @property
    def options(self) -> tuple[str, ...]:
        """The options of a one-part choice question (empty otherwise)."""
        return self.parts[0].options if len(self.parts) == 1 else ()

    @property
    def correct(self) -> tuple[int, ...]:
        """The correct option indices of a one-part choice question (empty otherwise)."""
        return self.parts[0].correct if len(self.parts) == 1 else ()


def activity_hash(activity: Activity) -> str:
    """SHA-256 of the activity's content fields, as canonical JSON."""
    content = activity.model_dump(include=set(HASHED_FIELDS), mode="json")
    blob = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class Course(Frozen):
    """A course as one platform knows it: its key, title, language and activities in course order.

    `notes` are what the importer tells the person importing about the package as a whole (its
    SCORM version, that its text sits in an authoring tool's scripts, resources it left out).
    """

    platform: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    key: str = Field(min_length=1)
    title: str
    language: str | None = None
    source: str
    activities: tuple[Activity, ...] = ()
    notes: tuple[str, ...] = ()

    @model_validator(mode="after")
    def keys_are_unique(self) -> Course:
        seen: set[str] = set()
        for a in self.activities:
            if a.key in seen:
                raise ValueError(f"activity {a.key} appears twice")
            seen.add(a.key)
        return self

    def activity(self, key: str) -> Activity:
        """The activity with this platform identifier (KeyError if none)."""
        for a in self.activities:
            if a.key == key:
                return a
        raise KeyError(key)

    def of_kind(self, kind: ActivityKind) -> list[Activity]:
        return [a for a in self.activities if a.kind == kind]

    def counts(self) -> dict[str, int]:
        """How many activities of each kind: {"lesson": …, "item": …, "ungraded": …}."""
        out = {"lesson": 0, "item": 0, "ungraded": 0}
        for a in self.activities:
            out[a.kind] += 1
        return out
