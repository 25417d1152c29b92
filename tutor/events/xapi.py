"""xAPI 1.0.3 statements: what a learning record store must refuse, how a statement is kept without the
learner's identifiers, and which learner event it stands for.

Validation is strict, as the specification's "MUST" rules ask: unknown properties, an agent with no or two
identifiers (mbox, mbox_sha1sum, openid, account), IRIs without a scheme, scores out of range, durations and
timestamps that are not ISO 8601, a sub-statement inside a sub-statement, a `voided` verb whose object is
not a StatementRef, context revision/platform on a statement about an agent... each is refused with the
field's location.

Graded verbs (answered, evaluated, attempted, passed, failed) become answers; completed, experienced and
progressed become lesson exposures; any other well-formed statement (an untracked verb, an object that is
not an activity, a group acting, an exposure to an activity the service does not know) is acknowledged
and kept as skipped, with the reason.

An activity of the platform's own catalog (tutor.catalog) counts like a bundled one once its skills are
accepted; until then a graded answer about it is kept as `pending` and counted when the alignment is
accepted. A graded answer about an activity nobody imported registers the activity from the statement's
`object.definition` (the router does that before calling `to_event`).

Privacy: every agent a statement names (actor, object, instructor, team, group members, in sub-statements
too) is kept as `{"objectType": "Agent", "account": {"homePage": PSEUDONYM_HOMEPAGE, "name": <pseudonym>}}`;
names are dropped. The pseudonym is the one the rest of the service uses for the agent's learner id.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypedDict

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, Tag, model_validator
from pydantic_core import PydanticCustomError

from tutor.catalog.activities import Known
from tutor.clock import check_stored, parse_moment
from tutor.content.library import Library
from tutor.events.intake import LearnerEvent
from tutor.text import CleanText, JsonBool, LearnerIdText, check_text

VERSION = "1.0.3"
VOIDED = "http://adlnet.gov/expapi/verbs/voided"
PSEUDONYM_HOMEPAGE = "https://tutor.invalid/pseudonyms"
"""The homePage of the accounts that stand for pseudonymised agents in stored statements (`.invalid`: no real site)."""
GRADED = {"answered", "evaluated", "attempted", "passed", "failed"}
EXPOSURE = {"completed", "experienced", "progressed"}
UNIT_SECONDS = {"Y": 365 * 86400, "M": 30 * 86400, "W": 7 * 86400, "D": 86400}
_DURATION = re.compile(  # P[nY][nM][nD][T[nH][nM][nS]], or PnW alone (ISO 8601:2004, 4.4.3.2)
    r"^P(?:(?P<W>\d+(?:\.\d+)?)W$|(?=\d|T\d)(?:(?P<Y>\d+(?:\.\d+)?)Y)?(?:(?P<M>\d+(?:\.\d+)?)M)?(?:(?P<D>\d+(?:\.\d+)?)D)?"
    r"(?:T(?=\d)(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$)"
)
_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`]+$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_LANGUAGE = re.compile(r"^[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*$")
_MBOX = re.compile(r"^mailto:[^@\s:/]+@[^@\s/]+\.[^@\s/]+$")
_SHA1 = re.compile(r"^[0-9a-fA-F]{40}$")
_NEGATIVE_ZERO = re.compile(r"-00(?::?00)?$")
_VERSION = re.compile(r"^1\.0(?:\.\d+)?$")
MAX_DEPTH = 32
"""How deeply extension values may nest."""


def _pattern(kind: str, regex: re.Pattern[str], rule: str) -> AfterValidator:
    def check(value: str) -> str:
        if not regex.match(value):
            raise PydanticCustomError(kind, f"{rule}; got {value[:80]!r}")
        return value

    return AfterValidator(check)


Iri = Annotated[CleanText, Field(min_length=1, max_length=2048), _pattern("iri", _IRI, "must be an absolute IRI with a scheme, such as https://example.vn/x")]
ShortIri = Annotated[CleanText, Field(min_length=1, max_length=500), _pattern("iri", _IRI, "must be an absolute IRI with a scheme, such as https://example.vn/x")]
Uuid = Annotated[str, _pattern("uuid", _UUID, "must be a UUID such as 6f1c2a52-3f0e-4c6b-9a43-6a7b8f0d1e21")]
LanguageTag = Annotated[CleanText, Field(max_length=35), _pattern("language_tag", _LANGUAGE, "must be an RFC 5646 language tag such as vi or en-US")]
LanguageMap = dict[LanguageTag, Annotated[CleanText, Field(max_length=5000)]]
Text = Annotated[CleanText, Field(max_length=5000)]


def _json_value(value: Any, depth: int = 0) -> Any:
    """Any JSON value that both stores can keep: finite numbers, text without NUL or lone surrogates, bounded nesting."""
    if depth > MAX_DEPTH:
        raise PydanticCustomError("json_depth", f"nests more than {MAX_DEPTH} levels deep")
    if isinstance(value, float) and not math.isfinite(value):
        raise PydanticCustomError("finite_number", "must be a finite number (NaN and Infinity are not JSON)")
    if isinstance(value, str):
        check_text(value, "value")
    elif isinstance(value, dict):
        for k, v in value.items():
            check_text(k, "key")
            _json_value(v, depth + 1)
    elif isinstance(value, list):
        for v in value:
            _json_value(v, depth + 1)
    return value


JsonValue = Annotated[Any, AfterValidator(_json_value)]
Extensions = dict[Iri, JsonValue]


def _timestamp(value: Any) -> str:
    """An ISO 8601 timestamp, kept as sent (the LRS returns it as it came); "-00:00" is refused as the spec asks."""
    check_stored(parse_moment(value, "timestamp"), "timestamp")
    if _NEGATIVE_ZERO.search(value):
        raise PydanticCustomError("timestamp_offset", "`timestamp` may not use the offset -00:00 (xAPI 1.0.3, Data 4.5); write Z or +00:00")
    return value


Timestamp = Annotated[str, BeforeValidator(_timestamp)]
Number = Annotated[float, Field(allow_inf_nan=False)]


class Strict(BaseModel):
    """xAPI objects: unknown properties are refused, values are not coerced ("1" is not 1), and a property is
    left out rather than set to null (null is allowed only inside extensions)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    @model_validator(mode="before")
    @classmethod
    def no_nulls(cls, data: Any) -> Any:
        if isinstance(data, dict):
            nulls = [k for k, v in data.items() if v is None]
            if nulls:
                raise ValueError(f"{', '.join(f'`{k}`' for k in nulls)} set to null: leave a property out instead (xAPI 1.0.3, Data 2.2)")
        return data


class Account(Strict):
    homePage: Iri
    name: LearnerIdText


class Agent(Strict):
    """An agent, identified by exactly one of mbox, mbox_sha1sum, openid or account."""

    objectType: Literal["Agent"] | None = None
    name: Text | None = Field(None, description="A person's name; checked, never stored.")
    mbox: Annotated[CleanText, Field(max_length=320), _pattern("mbox", _MBOX, "must be a mailto: IRI such as mailto:learner@example.vn")] | None = None
    mbox_sha1sum: Annotated[str, _pattern("mbox_sha1sum", _SHA1, "must be the 40 hex digits of a SHA-1")] | None = None
    openid: Iri | None = None
    account: Account | None = Field(None, description="The learner as an account {homePage, name}; `name` is the learner id the service's learner routes use.")

    @model_validator(mode="after")
    def one_identifier(self) -> Agent:
        found = identifiers(self)
        if len(found) != 1:
            raise ValueError(f"an Agent needs exactly one identifier of mbox, mbox_sha1sum, openid, account (found {', '.join(found) or 'none'})")
        return self


class Group(Strict):
    """A group: identified (one identifier, members optional) or anonymous (no identifier, members required)."""

    objectType: Literal["Group"]
    name: Text | None = None
    mbox: Annotated[CleanText, Field(max_length=320), _pattern("mbox", _MBOX, "must be a mailto: IRI such as mailto:team@example.vn")] | None = None
    mbox_sha1sum: Annotated[str, _pattern("mbox_sha1sum", _SHA1, "must be the 40 hex digits of a SHA-1")] | None = None
    openid: Iri | None = None
    account: Account | None = None
    member: list[Agent] | None = Field(None, max_length=1000)

    @model_validator(mode="after")
    def identified_or_listed(self) -> Group:
        found = identifiers(self)
        if len(found) > 1:
            raise ValueError(f"a Group has at most one identifier (found {', '.join(found)})")
        if not found and not self.member:
            raise ValueError("an anonymous Group (no mbox, mbox_sha1sum, openid or account) must list its `member` agents")
        return self


def identifiers(who: Agent | Group) -> list[str]:
    return [f for f in ("mbox", "mbox_sha1sum", "openid", "account") if getattr(who, f) is not None]


def _tag(default: str) -> Callable[[Any], str | None]:
    def tag(value: Any) -> str | None:
        if isinstance(value, dict):
            kind = value.get("objectType", default)
            return kind if isinstance(kind, str) else None
        return getattr(value, "objectType", None) or default

    return tag


def _choice(default: str, kinds: str) -> Discriminator:
    return Discriminator(_tag(default), custom_error_type="object_type", custom_error_message=f"objectType must be one of {kinds}")


Actor = Annotated[Annotated[Agent, Tag("Agent")] | Annotated[Group, Tag("Group")], _choice("Agent", "Agent, Group")]


class Verb(Strict):
    id: Annotated[CleanText, Field(min_length=1, max_length=500, examples=["http://adlnet.gov/expapi/verbs/answered"]),
                  _pattern("iri", _IRI, "must be an absolute IRI with a scheme, such as http://adlnet.gov/expapi/verbs/answered")]
    display: LanguageMap | None = None


class InteractionComponent(Strict):
    id: Annotated[CleanText, Field(min_length=1, max_length=500)]
    description: LanguageMap | None = None


INTERACTION_FIELDS = ("correctResponsesPattern", "choices", "scale", "source", "target", "steps")


class Definition(Strict):
    """What the platform says of the activity; kept for an activity the service does not know yet, so it can be aligned."""

    name: LanguageMap | None = None
    description: LanguageMap | None = None
    type: Iri | None = None
    moreInfo: Iri | None = None
    extensions: Extensions | None = None
    interactionType: Literal["true-false", "choice", "fill-in", "long-fill-in", "matching", "performance", "sequencing", "likert", "numeric", "other"] | None = None
    correctResponsesPattern: list[Text] | None = None
    choices: list[InteractionComponent] | None = None
    scale: list[InteractionComponent] | None = None
    source: list[InteractionComponent] | None = None
    target: list[InteractionComponent] | None = None
    steps: list[InteractionComponent] | None = None

    @model_validator(mode="after")
    def typed_interaction(self) -> Definition:
        used = [f for f in INTERACTION_FIELDS if getattr(self, f) is not None]
        if used and self.interactionType is None:
            raise ValueError(f"{', '.join(used)} describe an interaction: give its `interactionType` too (xAPI 1.0.3, Data 2.4.4.1)")
        return self


class Activity(Strict):
    objectType: Literal["Activity"] | None = None
    id: ShortIri = Field(examples=["https://learn.example.vn/items/spotting-scams-1"])
    definition: Definition | None = None


class StatementRef(Strict):
    objectType: Literal["StatementRef"]
    id: Uuid


class Score(Strict):
    scaled: Number | None = Field(None, ge=-1.0, le=1.0)
    raw: Number | None = None
    min: Number | None = None
    max: Number | None = None

    @model_validator(mode="after")
    def in_order(self) -> Score:
        if self.min is not None and self.max is not None and self.min >= self.max:
            raise ValueError(f"`min` ({self.min}) must be less than `max` ({self.max})")
        if self.raw is not None and self.min is not None and self.raw < self.min:
            raise ValueError(f"`raw` ({self.raw}) is below `min` ({self.min})")
        if self.raw is not None and self.max is not None and self.raw > self.max:
            raise ValueError(f"`raw` ({self.raw}) is above `max` ({self.max})")
        return self


class Result(Strict):
    score: Score | None = None
    success: JsonBool | None = Field(None, description="true or false (a JSON boolean).")
    completion: JsonBool | None = None
    response: Annotated[CleanText, Field(max_length=20_000)] | None = None
    duration: Annotated[str, _pattern("duration", _DURATION, "must be an ISO 8601 duration such as PT1M30S or P1DT2H")] | None = None
    extensions: Extensions | None = None


ContextActivityList = Annotated[list[Activity], BeforeValidator(lambda v: [v] if isinstance(v, dict) else v)]


class ContextActivities(Strict):
    parent: ContextActivityList | None = None
    grouping: ContextActivityList | None = None
    category: ContextActivityList | None = None
    other: ContextActivityList | None = None


class Context(Strict):
    registration: Uuid | None = None
    instructor: Actor | None = None
    team: Group | None = None
    contextActivities: ContextActivities | None = None
    revision: Text | None = None
    platform: Text | None = None
    language: LanguageTag | None = None
    statement: StatementRef | None = None
    extensions: Extensions | None = None


class Attachment(Strict):
    usageType: Iri
    display: LanguageMap
    description: LanguageMap | None = None
    contentType: Annotated[CleanText, Field(min_length=1, max_length=255)]
    length: int = Field(ge=0)
    sha2: Annotated[CleanText, Field(min_length=1, max_length=128)]
    fileUrl: Iri | None = None


def _context_fits(obj: Any, context: Context | None) -> None:
    if context is not None and not isinstance(obj, Activity) and (context.revision is not None or context.platform is not None):
        raise ValueError("context `revision` and `platform` may only be given when the object is an Activity")


def _voiding_fits(verb: Verb, obj: Any) -> None:
    if verb.id == VOIDED and not isinstance(obj, StatementRef):
        raise ValueError(f"a statement with the verb {VOIDED} voids another one: its object must be a StatementRef to that statement's id")


class SubStatement(Strict):
    """A statement inside a statement; it has no id, stored, version or authority, and holds no sub-statement."""

    objectType: Literal["SubStatement"]
    actor: Actor
    verb: Verb
    object: Annotated[
        Annotated[Activity, Tag("Activity")] | Annotated[Agent, Tag("Agent")] | Annotated[Group, Tag("Group")] | Annotated[StatementRef, Tag("StatementRef")],
        _choice("Activity", "Activity, Agent, Group, StatementRef (a SubStatement cannot hold another)"),
    ]
    result: Result | None = None
    context: Context | None = None
    timestamp: Timestamp | None = None
    attachments: list[Attachment] | None = None

    @model_validator(mode="after")
    def consistent(self) -> SubStatement:
        _context_fits(self.object, self.context)
        _voiding_fits(self.verb, self.object)
        return self


StatementObject = Annotated[
    Annotated[Activity, Tag("Activity")] | Annotated[Agent, Tag("Agent")] | Annotated[Group, Tag("Group")]
    | Annotated[StatementRef, Tag("StatementRef")] | Annotated[SubStatement, Tag("SubStatement")],
    _choice("Activity", "Activity, Agent, Group, StatementRef, SubStatement"),
]
OBJECT_TAGS = frozenset({"Activity", "Agent", "Group", "StatementRef", "SubStatement"})
"""Names pydantic puts in an error's location for the branch of a union; the router leaves them out."""


class Statement(Strict):
    model_config = ConfigDict(
        extra="forbid", strict=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "6f1c2a52-3f0e-4c6b-9a43-6a7b8f0d1e21",
                    "actor": {"objectType": "Agent", "account": {"homePage": "https://vneid.gov.vn", "name": "learner-42"}},
                    "verb": {"id": "http://adlnet.gov/expapi/verbs/answered"},
                    "object": {"id": "https://learn.example.vn/items/spotting-scams-1"},
                    "result": {"success": True, "duration": "PT40S"},
                    "timestamp": "2026-11-23T08:00:00Z",
                }
            ]
        },
    )

    id: Uuid | None = Field(None, description="Statement id; the idempotency key. Assigned when missing.")
    actor: Actor
    verb: Verb
    object: StatementObject
    result: Result | None = None
    context: Context | None = None
    timestamp: Timestamp | None = Field(None, description="ISO 8601, from 2000-01-01T00:00:00Z to a day past the server's clock; default: when it is stored.")
    stored: JsonValue | None = Field(None, description="Set by the service; a value sent is replaced.")
    authority: Actor | None = Field(None, description="Set by the service from the credential; a value sent is replaced.")
    version: Annotated[str, _pattern("version", _VERSION, "must be 1.0.0 or another 1.0.x version")] | None = None
    attachments: list[Attachment] | None = Field(None, description="Only attachments given by `fileUrl`: multipart/mixed bodies are not taken.")

    @model_validator(mode="after")
    def consistent(self) -> Statement:
        if isinstance(self.authority, Group) and (identifiers(self.authority) or len(self.authority.member or ()) != 2):
            raise ValueError("an `authority` that is a Group must be anonymous with exactly two member agents (an OAuth consumer and user); "
                             "or send an Agent (the service replaces it with the credential anyway)")
        _context_fits(self.object, self.context)
        _voiding_fits(self.verb, self.object)
        missing = [i for i, a in enumerate(self.attachments or ()) if a.fileUrl is None]
        if missing:
            raise ValueError(f"attachment(s) {', '.join(map(str, missing))} have no `fileUrl`: this service takes attachments by fileUrl only, "
                             "not as multipart/mixed parts")
        return self

    def voids(self) -> str | None:
        """The id of the statement this one voids, if it is a voiding statement."""
        return self.object.id.lower() if self.verb.id == VOIDED and isinstance(self.object, StatementRef) else None


Statements = Annotated[list[Statement], BeforeValidator(lambda v: [v] if isinstance(v, dict) else v)]


# --- who the statement is about, and how it is kept --------------------------------------------------------------------------


def learner_id(agent: Agent | Group) -> str:
    """The learner id the service knows an agent by: the account name (what platforms address the learner routes
    with), else the mbox IRI, the mbox_sha1sum, or `openid:` and the SHA-1 of the openid (an openid is a URL, and a
    learner id with `/` could not be named in the learner routes' paths to export or erase it); a group by its
    identifier or its members.

    >>> learner_id(Agent(openid="https://id.example.vn/learner-9"))
    'openid:678aa502f02610ac926afa914f02bbc83b498259'
    """
    if agent.account is not None:
        return agent.account.name
    if agent.openid is not None and agent.mbox is None and agent.mbox_sha1sum is None:
        return "openid:" + hashlib.sha1(str(agent.openid).encode()).hexdigest()
    value = agent.mbox or agent.mbox_sha1sum
    if value is not None:
        return value.lower() if agent.mbox_sha1sum is not None and value == agent.mbox_sha1sum else value
    members = sorted(learner_id(m) for m in (agent.member or [])) if isinstance(agent, Group) else []
    return "group:" + json.dumps(members, ensure_ascii=False)


def _stored_agent(raw: Mapping[str, Any], model: Agent | Group, pseudonym: Callable[[str], str]) -> dict[str, Any]:
    """An agent or group as kept: its identifier replaced by a pseudonymous account, its name dropped."""
    if isinstance(model, Agent):
        return {"objectType": "Agent", "account": {"homePage": PSEUDONYM_HOMEPAGE, "name": pseudonym(learner_id(model))}}
    out: dict[str, Any] = {"objectType": "Group"}
    if identifiers(model):
        out["account"] = {"homePage": PSEUDONYM_HOMEPAGE, "name": pseudonym(learner_id(model))}
    if model.member:
        out["member"] = [_stored_agent(r, m, pseudonym) for r, m in zip(raw.get("member", []), model.member)]
    return out


def _stored_parts(raw: dict[str, Any], model: Statement | SubStatement, pseudonym: Callable[[str], str]) -> None:
    raw["actor"] = _stored_agent(raw["actor"], model.actor, pseudonym)
    if isinstance(model.object, (Agent, Group)):
        raw["object"] = _stored_agent(raw["object"], model.object, pseudonym)
    elif isinstance(model.object, SubStatement):
        _stored_parts(raw["object"], model.object, pseudonym)
    if model.context is not None:
        context = raw["context"]
        if model.context.instructor is not None:
            context["instructor"] = _stored_agent(context["instructor"], model.context.instructor, pseudonym)
        if model.context.team is not None:
            context["team"] = _stored_agent(context["team"], model.context.team, pseudonym)


def stored_form(raw: Mapping[str, Any], model: Statement, pseudonym: Callable[[str], str], stored: str, authority: dict[str, Any]) -> dict[str, Any]:
    """The statement as the LRS keeps and returns it: as sent, with every agent pseudonymised, its id,
    `stored`, `authority` (the credential), `version` (1.0.0 when not given) and `timestamp` (= stored when not given)."""
    out = copy.deepcopy(dict(raw))
    _stored_parts(out, model, pseudonym)
    out["id"] = str(model.id).lower()
    out["stored"] = stored
    out["authority"] = authority
    out.setdefault("version", "1.0.0")
    out.setdefault("timestamp", stored)
    return out


def comparable(raw: Mapping[str, Any], statement_id: str) -> str:
    """The statement as compared with one stored under the same id: the properties the LRS sets (stored,
    authority, version) left out, the id in lower case, keys in a fixed order (xAPI 1.0.3, Statement Comparison)."""
    kept = {k: v for k, v in raw.items() if k not in ("stored", "authority", "version", "id")}
    return json.dumps({**kept, "id": statement_id.lower()}, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


# --- the learner event a statement stands for ---------------------------------------------------------------------------------


class _EventBase(TypedDict):
    """The fields every event made from a statement shares."""

    event_id: str
    learner: str
    occurred_at: datetime
    source: str
    verb: str
    duration_seconds: float | None


VERB_CHARS = 64
REASON_CHARS = 200
"""The store's room for a statement's verb and for why it was skipped (events.verb, events.skip_reason)."""


def _clip(text: str, limit: int) -> str:
    """The text cut to the store's room, marked with an ellipsis where it was cut.

    >>> _clip("a" * 70, 64)[-3:], len(_clip("a" * 70, 64)), _clip("short", 64)
    ('aa…', 64, 'short')
    """
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _last_segment(iri: str) -> str:
    return iri.rstrip("/").rsplit("/", 1)[-1].rsplit("#", 1)[-1]


def seconds(duration: str | None) -> float | None:
    """An ISO 8601 duration in seconds (a year taken as 365 days, a month as 30).

    >>> seconds("PT1M5S"), seconds("P1DT1H"), seconds("P1W"), seconds(None)
    (65.0, 90000.0, 604800.0, None)
    """
    if not duration:
        return None
    m = _DURATION.match(duration)
    if m is None:  # Result.duration is validated against the same pattern
        raise ValueError(f"not an ISO 8601 duration: {duration!r}")
    parts = {k: float(v) for k, v in m.groupdict().items() if v}
    return sum(parts.get(unit, 0.0) * factor for unit, factor in UNIT_SECONDS.items()) + parts.get("h", 0) * 3600 + parts.get("m", 0) * 60 + parts.get("s", 0)


def _grade(verb: str, result: Result | None) -> float | None:
    if result is not None and result.success is not None:
        return float(result.success)
    if result is not None and result.score is not None and result.score.scaled is not None:
        return max(0.0, result.score.scaled)
    return {"passed": 1.0, "failed": 0.0}.get(verb)


def activity_of(statement: Statement) -> Activity | None:
    return statement.object if isinstance(statement.object, Activity) else None


def is_graded(statement: Statement) -> bool:
    return isinstance(statement.object, Activity) and _last_segment(statement.verb.id) in GRADED


def in_library(statement: Statement, library: Library) -> bool:
    """Whether the statement's object is a bundled lesson or item (named by the last segment of its IRI)."""
    if not isinstance(statement.object, Activity):
        return False
    target = _last_segment(statement.object.id)
    return target in library.items or target in library.lessons


def occurred(statement: Statement, received: datetime) -> datetime:
    return parse_moment(statement.timestamp, "timestamp") if statement.timestamp else received.astimezone(UTC)


def to_event(statement: Statement, learner: str, library: Library, received: datetime, catalog: Mapping[str, Known] | None = None) -> LearnerEvent:
    """The event a statement stands for; `learner` is the pseudonym of its actor, `catalog` the
    platform's activities its object may name (from tutor.catalog.activities.resolve)."""
    verb = _clip(_last_segment(statement.verb.id), VERB_CHARS)
    base = _EventBase(
        event_id=str(statement.id).lower(), learner=learner, occurred_at=occurred(statement, received), source="xapi", verb=verb,
        duration_seconds=seconds(statement.result.duration if statement.result else None),
    )
    target_id = statement.voids()
    if target_id is not None:
        return LearnerEvent(kind="skipped", skip_reason=f"voids statement {target_id}", **base)
    if isinstance(statement.actor, Group):
        return LearnerEvent(kind="skipped", skip_reason="the actor is a group: mastery is kept per learner", **base)
    if not isinstance(statement.object, Activity):
        return LearnerEvent(kind="skipped", skip_reason=f"the object is a {type(statement.object).__name__}, not an activity", **base)
    if verb not in GRADED | EXPOSURE:
        return LearnerEvent(kind="skipped", skip_reason=_clip(f"verb {verb!r} is not tracked", REASON_CHARS), **base)
    target = _last_segment(statement.object.id)
    item = library.items.get(target)
    lesson = item[0] if item else library.lessons.get(target)
    known = (catalog or {}).get(statement.object.id) if lesson is None else None
    if known is not None:
        return _catalog_event(statement, verb, known, base)
    if lesson is None:
        reason = f"activity {_clip(statement.object.id, 120)!r} is not a lesson or item of the library"
        return LearnerEvent(kind="skipped", skip_reason=_clip(reason, REASON_CHARS), **base)
    if verb in EXPOSURE:
        return LearnerEvent(kind="exposure", lesson_id=lesson.id, item_id=target if item else None, skills=tuple(lesson.skills), **base)
    grade = _grade(verb, statement.result)
    if grade is None:
        return LearnerEvent(kind="skipped", skip_reason="no result.success or result.score.scaled to grade", lesson_id=lesson.id, **base)
    skills = tuple(item[1].skills) if item else tuple(lesson.skills)
    return LearnerEvent(kind="answer", lesson_id=lesson.id, item_id=target if item else None, skills=skills, score=grade, **base)


def _catalog_event(statement: Statement, verb: str, known: Known, base: _EventBase) -> LearnerEvent:
    """An answer or exposure about one of the platform's own activities."""
    skills = known.skills
    if verb in EXPOSURE:
        if not skills:
            return LearnerEvent(kind="skipped", skip_reason="exposure to an activity not aligned to the framework yet", lesson_id=known.id, **base)
        return LearnerEvent(kind="exposure", lesson_id=known.id, skills=skills, **base)
    grade = _grade(verb, statement.result)
    if grade is None:
        return LearnerEvent(kind="skipped", skip_reason="no result.success or result.score.scaled to grade", item_id=known.id, **base)
    return LearnerEvent(kind="answer" if skills else "pending", item_id=known.id, skills=skills, score=grade, **base)
