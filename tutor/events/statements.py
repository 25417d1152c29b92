"""The learning record store's own rules for a batch of statements: ids unique in a batch, an id reused with
other content is a conflict (the same content is a no-op), voiding takes an answer back, and a stored
statement is returned as it was kept.

Voiding (xAPI 1.0.3, Data 2.3.2): a statement with the verb `voided` and a StatementRef object voids the
statement it names, unless that one is itself a voiding statement (refused). The voided statement's event is
kept as skipped and the skills of its answer are replayed without it (tutor.events.intake.void_events). A
voiding statement that arrives before its target is kept; the target is voided as it arrives.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tutor.errors import Conflict, Invalid
from tutor.events.intake import LearnerEvent, record_events, void_events
from tutor.events.xapi import Statement, comparable, occurred, stored_form
from tutor.store.bulk_writes import insert_statements
from tutor.store.tables import XapiStatement
from tutor.tracing.artefacts import MasteryModel


@dataclass
class Batch:
    """A batch checked against itself and the store: `new` are the indexes of statements to keep."""

    statements: list[Statement]
    raws: list[dict[str, Any]]
    digests: list[str]
    new: list[int] = field(default_factory=list)
    ids: list[str] = field(init=False)  # taken once: read per statement, a list rebuilt on each read made a batch quadratic

    def __post_init__(self) -> None:
        self.ids = [str(s.id) for s in self.statements]


def check_batch(session: Session, statements: list[Statement], raws: list[dict[str, Any]], pseudonym: Callable[[str], str]) -> Batch:
    """Give each statement an id, then refuse the batch (Invalid: 400; Conflict: 409) for ids repeated in it,
    an id stored before with other content, or a voiding statement aimed at another voiding statement."""
    for s in statements:
        s.id = (s.id or str(uuid.uuid4())).lower()
    first: dict[str, int] = {}
    for i, s in enumerate(statements):
        if str(s.id) in first:
            raise Invalid(f"statements {first[str(s.id)]} and {i} share the id {s.id}: ids must be unique within a batch")
        first[str(s.id)] = i
    batch = Batch(statements, raws, [pseudonym(comparable(r, str(s.id))) for s, r in zip(statements, raws)])
    targets = {i: t for i, s in enumerate(statements) if (t := s.voids()) is not None}
    voiding_in_batch = {str(statements[i].id) for i in targets}
    stored_voiding = set(session.scalars(select(XapiStatement.statement_id).where(
        XapiStatement.statement_id.in_(list(targets.values())), XapiStatement.voids.is_not(None)))) if targets else set()
    for i, target in targets.items():
        if target in voiding_in_batch or target in stored_voiding:
            raise Invalid(f"statement {i} (`object.id`) voids statement {target}, which is itself a voiding statement: "
                          "a voiding statement cannot be voided (xAPI 1.0.3, Data 2.3.2)")
    known = dict(session.execute(select(XapiStatement.statement_id, XapiStatement.digest).where(XapiStatement.statement_id.in_(batch.ids))).all())
    for i, (sid, digest) in enumerate(zip(batch.ids, batch.digests)):
        if sid not in known:
            batch.new.append(i)
        elif known[sid] != digest:
            raise Conflict(f"statement {i}: the id {sid} is already stored with different content; "
                           "a statement id names one statement, so send the other one with a new id (xAPI 1.0.3: 409 Conflict)")
    return batch


def stored_time(moment: datetime) -> str:
    """How `stored` reads: UTC, milliseconds, Z."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def keep(session: Session, batch: Batch, events: Mapping[int, LearnerEvent], authority: dict[str, Any], pseudonym: Callable[[str], str],
         received: datetime, model: MasteryModel) -> None:
    """Store the batch's new statements and their events, apply the voiding they carry; the caller commits."""
    if not batch.new:
        return
    stored = stored_time(received)
    rows = [
        {
            "statement_id": batch.ids[i], "learner_id": events[i].learner, "digest": batch.digests[i], "voids": batch.statements[i].voids(),
            "body": stored_form(batch.raws[i], batch.statements[i], pseudonym, stored, authority), "voided_by": None,
            "occurred_at": occurred(batch.statements[i], received), "stored_at": received,
        }
        for i in batch.new
    ]
    ids = [batch.ids[i] for i in batch.new]
    early = {target: by for target, by in session.execute(select(XapiStatement.voids, XapiStatement.statement_id).where(XapiStatement.voids.in_(ids))) if target}
    record_events(session, [replace(events[i], kind="skipped", skip_reason=f"voided by statement {early[batch.ids[i]]}")
                            if batch.ids[i] in early else events[i] for i in batch.new], model)  # first: it creates the learners rows refer to
    inserted = insert_statements(session, rows)
    lost = [i for i in batch.new if batch.ids[i] not in inserted]  # another request stored the same id meanwhile
    if lost:
        raced = dict(session.execute(select(XapiStatement.statement_id, XapiStatement.digest).where(XapiStatement.statement_id.in_([batch.ids[i] for i in lost]))).all())
        for i in lost:
            if raced.get(batch.ids[i]) != batch.digests[i]:
                raise Conflict(f"statement {i}: the id {batch.ids[i]} was just stored with different content (xAPI 1.0.3: 409 Conflict)")
    kept = [i for i in batch.new if batch.ids[i] in inserted]
    voiding = {target: batch.ids[i] for i in kept if (target := batch.statements[i].voids()) is not None} | early
    if voiding:
        for target, by in voiding.items():
            session.execute(update(XapiStatement).where(XapiStatement.statement_id == target, XapiStatement.voided_by.is_(None)).values(voided_by=by),
                            execution_options={"synchronize_session": False})
        void_events(session, {target: f"voided by statement {by}" for target, by in voiding.items()}, model)


def find(session: Session, statement_id: str, voided: bool) -> dict[str, Any] | None:
    """The stored statement with this id: with `voided`, only if it was voided; without, only if it was not (xAPI 1.0.3, 2.1.4)."""
    row = session.get(XapiStatement, statement_id.lower())
    if row is None or (row.voided_by is not None) != voided:
        return None
    return row.body


def authority_of(name: str, key_prefix: str, homepage: str) -> dict[str, Any]:
    """The agent the LRS names as `authority`: the credential that sent the statement (its key prefix, never the key)."""
    return {"objectType": "Agent", "name": name, "account": {"homePage": homepage, "name": key_prefix}}


def is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return len(text) == 36


LANGUAGE_MAPS = frozenset({"display", "name", "description"})
FORMATS = ("exact", "ids", "canonical")


def formatted(body: dict[str, Any], fmt: str, languages: list[str]) -> dict[str, Any]:
    """A stored statement in the `format` asked (xAPI 1.0.3, 2.1.3): `exact` as stored; `canonical` with each language
    map cut to the one language the caller prefers (`languages`, from Accept-Language, else the map's first); `ids`
    with verbs and activities reduced to their ids (agents are already reduced to their pseudonymous identifier)."""
    if fmt == "canonical":
        return _one_language(body, [x.lower() for x in languages])
    if fmt == "ids":
        out = dict(body)
        out["verb"] = {"id": body["verb"]["id"]}
        if body["object"].get("objectType", "Activity") == "Activity":
            out["object"] = {"objectType": "Activity", "id": body["object"]["id"]}
        return out
    return body


def _one_language(value: Any, languages: list[str], key: str = "") -> Any:
    if isinstance(value, list):
        return [_one_language(v, languages) for v in value]
    if not isinstance(value, dict):
        return value
    if key in LANGUAGE_MAPS and value and all(isinstance(v, str) for v in value.values()):
        by_tag = {tag.lower(): tag for tag in value}
        chosen = next((by_tag[t] for t in languages if t in by_tag), None) or next(
            (tag for t in languages for tag in value if tag.lower().split("-")[0] == t.split("-")[0]), None) or next(iter(value))
        return {chosen: value[chosen]}
    return {k: v if k == "extensions" else _one_language(v, languages, k) for k, v in value.items()}


def preferred_languages(accept_language: str | None) -> list[str]:
    """The tags of an Accept-Language header, most wanted first (`q` weights honoured, `*` dropped).

    >>> preferred_languages("vi;q=0.5, en-GB, fr;q=0.8, *;q=0.1")
    ['en-GB', 'fr', 'vi']
    """
    ranked = []
    for i, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        if not tag or tag == "*":
            continue
        try:
            q = float(params.strip().removeprefix("q=")) if params.strip().startswith("q=") else 1.0
        except ValueError:
            q = 0.0
        ranked.append((-q, i, tag.strip()))
    return [tag for _, _, tag in sorted(ranked)]
