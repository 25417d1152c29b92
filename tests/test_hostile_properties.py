"""Hostile input as properties (Hypothesis), on both stores: every write door's valid request, with one or more
fields (or the whole body) replaced by a hostile value, is never answered with a 5xx, and a refused request
stores nothing.

Doors: POST /v1/events, /v1/xapi/statements, /v1/ask, /v1/learners/{id}/placement, /v1/learners/{id}/next,
/v1/admin/keys and /v1/admin/catalog/alignments/{activity_id}. Hostile values: NaN, Infinity and -Infinity
written into the JSON text; lone surrogates (as \\ud800 escapes) and NUL characters; huge integers (10**400);
lists nested 5,000 deep; moments at the edge of the calendar and numbers as timestamps; 100,000-character
strings; wrong types (lists for strings, strings for booleans, objects for numbers, ...). The properties:

1. the status is never 5xx: a 2xx when the mutated request is still valid, otherwise a 4xx with a JSON `detail`;
2. a refused (4xx) request changes the row count of no table of the store.

The bounded run (profile "hostile-ci", the default: 12 examples per door and store, derandomized, so CI is
deterministic) is part of the suite. The long run draws 2,000 per door and store, randomly:

    HOSTILE_PROFILE=long .venv/bin/python -m pytest tests/test_hostile_properties.py -q

(`--hypothesis-profile=long` selects it too once tests/conftest.py registers a "long" profile: Hypothesis's pytest
plugin loads the profile before test modules are imported.) `--hypothesis-show-statistics` shows the statuses seen.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import event as observe
from hypothesis import strategies as st

from tests.conftest import auth
from tests.test_hostile_input import XAPI, event, rows, statement

HEALTH = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]  # each example makes its own ids; the fixtures' store is shared
settings.register_profile("hostile-ci", max_examples=12, derandomize=True, deadline=None, suppress_health_check=HEALTH)
settings.register_profile("long", max_examples=2000, deadline=None, suppress_health_check=HEALTH)
# Not loaded globally (that would change every other Hypothesis test of the run, schemathesis's included): applied to
# this file's property only. "long" when HOSTILE_PROFILE=long, or when the pytest plugin loaded a "long" profile.
PROFILE = settings.get_profile(os.environ.get("HOSTILE_PROFILE") or ("long" if settings.get_current_profile_name() == "long" else "hostile-ci"))

# --- Hostile values ----------------------------------------------------------------------------------------------------------


class Raw:
    """A value written into the JSON text as is: json.dumps would refuse it (5,000-deep nesting passes its recursion limit)."""

    def __init__(self, text: str, label: str) -> None:
        self.text, self.label = text, label

    def __repr__(self) -> str:
        return f"Raw({self.label})"


DEEP = 5000
NON_FINITE = [Raw("NaN", "NaN"), Raw("Infinity", "Infinity"), Raw("-Infinity", "-Infinity")]
DEEP_LIST = Raw("[" * DEEP + "]" * DEEP, f"[[...]] {DEEP} deep")
DEEP_OBJECT = Raw('{"a": ' * DEEP + "1" + "}" * DEEP, f'{{"a": ...}} {DEEP} deep')
MOMENTS = [
    "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-12:00", "0000-00-00T00:00:00Z", "2026-02-30T00:00:00Z", "2026-11-20T25:00:00Z",
    "1999-12-31T23:59:59Z", "2999-01-01T00:00:00Z", "2026-11-20T08:00:00+99:00", "yesterday", "",
]
TIMESTAMPS = [1763625600, 1763625600000, 1.7636256e9, 0, -1, -(2**63), 2**64]
HOSTILE_SCALARS: list[Any] = [
    *NON_FINITE, DEEP_LIST, DEEP_OBJECT,
    10**400, -(10**400), 2**63, -(2**63) - 1, 1e308, -0.0, 5e-324,
    "\ud800", "\udfff", "\udc00\ud800", "\x00", "a\x00b", "x" * 100_000, "é" * 100_000, "", " ", "\u202e\ufeff", "../../etc/passwd",
    *MOMENTS, *TIMESTAMPS,
    None, True, False, 0, 1, -1, 1.5, "true", "false", "yes", "1", "null", [], {}, ["a"], [1, 2], {"a": 1}, {"$gt": ""}, [None], [[[]]],
]


def wrapping(value: Any) -> st.SearchStrategy[Any]:
    """What to put where a field was: a hostile value, the old value spoiled, or a wrong type wrapping the old value."""
    spoiled: list[Any] = [[value], {"value": value}]
    if isinstance(value, str):
        spoiled += [value + "\ud800", "\udfff" + value, value + "\x00", value * 20_000 if value else "x" * 100_000, value.encode("utf-16-le").decode("latin-1")]
    return st.one_of(st.sampled_from(HOSTILE_SCALARS), st.sampled_from(spoiled), st.text(max_size=30), st.integers(), st.floats())


def paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every place in a JSON value, its root included, as a path of keys and indices."""
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += paths(v, (*prefix, i))
    return out


def get(value: Any, path: tuple) -> Any:
    for part in path:
        value = value[part]
    return value


def put(value: Any, path: tuple, new: Any) -> Any:
    """A copy of value with the place at path replaced (or, for a key that was not there, added)."""
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: put(value.get(head), rest, new)}
    copy = list(value)
    copy[head] = put(copy[head], rest, new)
    return copy


def to_json(value: Any) -> str:
    """JSON text with Raw values written in place; lone surrogates come out as escapes (ensure_ascii)."""
    raws: dict[str, Raw] = {}

    def swap(v: Any) -> Any:
        if isinstance(v, Raw):
            mark = f"@raw-{len(raws)}@"
            raws[mark] = v
            return mark
        if isinstance(v, dict):
            return {k: swap(x) for k, x in v.items()}
        if isinstance(v, list):
            return [swap(x) for x in v]
        return v

    text = json.dumps(swap(value))
    for mark, raw in raws.items():
        text = text.replace(json.dumps(mark), raw.text)
    return text


@st.composite
def mutations(draw, valid: dict) -> list[tuple[tuple, Any]]:
    """One to three (path, value) replacements in the valid body; a path may also be a new, unknown field."""
    places = paths(valid)
    chosen = draw(st.lists(st.sampled_from(places), min_size=1, max_size=3, unique=True))
    out = []
    for path in chosen:
        if path and draw(st.integers(0, 9)) == 0 and isinstance(get(valid, path[:-1]), dict):
            path = (*path[:-1], draw(st.sampled_from(["extra", "\ud800", "\x00", "x" * 1000, "__proto__"])))
        try:
            current = get(valid, path)
        except (KeyError, IndexError, TypeError):
            current = None  # a new field
        out.append((path, draw(wrapping(current))))
    return out


def mutate(valid: dict, changes: list[tuple[tuple, Any]]) -> Any:
    body: Any = valid
    for path, new in changes:
        try:
            get(body, path[:-1])  # an earlier change may have replaced a place above this one
            body = put(body, path, new)
        except (KeyError, IndexError, TypeError):
            continue
    return body


# --- The doors: each one's valid request, made fresh for every example ----------------------------------------------------------


def decidable_activity(client, keys) -> str:
    """An activity nobody imported, waiting for review: an xAPI answer about it creates it."""
    s = statement(id=str(uuid.uuid4()), object={"id": f"https://lms.example.vn/mod/quiz/q/{uuid.uuid4().hex}"})
    r = client.post("/v1/xapi/statements", json=s, headers={**auth(keys["platform"]), **XAPI})
    assert r.status_code == 200, r.text
    queue = client.get("/v1/admin/catalog/alignments", params={"limit": 500}, headers=auth(keys["admin"])).json()
    return next(a["activity_id"] for a in queue["activities"] if a["key"] == s["object"]["id"])


def door_events(client, keys, u: str) -> tuple[str, dict, str, dict]:
    return "/v1/events", {"events": [event(event_id=f"p-{u}", learner_id=f"learner-{u}"), event(event_id=f"q-{u}", score=0.5, correct=None, duration_seconds=30.0)]}, \
        keys["platform"], {}


def door_xapi(client, keys, u: str) -> tuple[str, dict, str, dict]:
    body = statement(id=str(uuid.uuid4()), actor={"objectType": "Agent", "account": {"homePage": "https://vneid.gov.vn", "name": f"learner-{u}"}},
                     result={"success": True, "score": {"scaled": 0.8}})
    return "/v1/xapi/statements", body, keys["platform"], XAPI


def door_ask(client, keys, u: str) -> tuple[str, dict, str, dict]:
    return "/v1/ask", {"question": "how do I know a bank message is a scam", "lang": "en", "learner_id": f"learner-{u}", "current_lesson": "test-scams"}, keys["platform"], {}


def door_placement(client, keys, u: str) -> tuple[str, dict, str, dict]:
    body = {"answer_id": f"a-{u}", "item_id": "test-scams-1", "correct": True, "answered_at": "2026-11-20T08:00:00Z"}
    return f"/v1/learners/learner-{u}/placement", body, keys["platform"], {}


def door_next(client, keys, u: str) -> tuple[str, dict, str, dict]:
    r = client.post("/v1/events", json={"events": [event(event_id=f"n-{u}", learner_id=f"learner-{u}")]}, headers=auth(keys["platform"]))
    assert r.status_code == 200, r.text  # /next needs a learner with answers
    return f"/v1/learners/learner-{u}/next", {"goal": "4.2", "n": 3, "lang": "en", "kind": "lesson", "allowed": ["test-scams", "test-search"]}, keys["platform"], {}


def door_keys(client, keys, u: str) -> tuple[str, dict, str, dict]:
    return "/v1/admin/keys", {"name": f"key {u}", "scopes": ["learner"], "learner_id": f"learner-{u}", "rate_per_minute": 60}, keys["admin"], {}


def door_alignment(client, keys, u: str) -> tuple[str, dict, str, dict]:
    return f"/v1/admin/catalog/alignments/{decidable_activity(client, keys)}", {"skills": ["4.2-basic"]}, keys["admin"], {}


DOORS: dict[str, Callable[..., tuple[str, dict, str, dict]]] = {
    "events": door_events, "xapi": door_xapi, "ask": door_ask, "placement": door_placement, "next": door_next, "keys": door_keys, "alignment": door_alignment,
}


# Path parameters (a learner id, an activity id), percent-encoded: NUL, a lone surrogate's UTF-8 bytes, bytes that
# are no UTF-8 at all, a slash, dot segments, an id far over any limit.
SEGMENTS = ["%00", "a%00b", "%ED%A0%80", "x%ED%BF%BFy", "%FF", "%C3%28", "a%2Fb", "..", ".", "%2E%2E", "x" * 5000, "%C3%A9" * 300, "%20", "%25"]


def spoil_path(path: str, segment: str) -> str:
    """The path with its id segment (the learner's, or the activity's) replaced."""
    parts = path.split("/")
    where = 3 if path.startswith("/v1/learners/") else len(parts) - 1
    return "/".join([*parts[:where], segment, *parts[where + 1:]])


def post(client, path: str, body: Any, key: str, headers: dict):
    return client.post(path, content=to_json(body).encode(), headers={**auth(key), "Content-Type": "application/json", **headers})


@pytest.mark.parametrize("door", list(DOORS))
def test_the_valid_request_of_each_door_is_accepted(client, keys, door):
    """The starting point of the properties: unmutated, each door's request is a 2xx."""
    path, body, key, headers = DOORS[door](client, keys, uuid.uuid4().hex[:12])
    r = post(client, path, body, key, headers)
    assert 200 <= r.status_code < 300, r.text


@pytest.mark.parametrize("door", list(DOORS))
@PROFILE
@given(data=st.data())
def test_hostile_fields_never_get_a_5xx_and_a_refusal_stores_nothing(client, keys, runtime, door, data):
    path, valid, key, headers = DOORS[door](client, keys, uuid.uuid4().hex[:12])
    changes = data.draw(mutations(valid), label="changes")
    body = mutate(valid, changes)
    if door in ("placement", "next", "alignment") and data.draw(st.integers(0, 4), label="spoil the path?") == 0:
        path = spoil_path(path, data.draw(st.sampled_from(SEGMENTS), label="segment"))
    before = rows(runtime)
    r = post(client, path, body, key, headers)
    observe(f"{r.status_code}")  # shown by --hypothesis-show-statistics
    assert r.status_code < 500, (r.status_code, r.text[:2000])
    if 200 <= r.status_code < 300:
        return
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:2000])
    assert r.json().get("detail"), r.text[:2000]
    assert rows(runtime) == before, f"refused with {r.status_code} but stored: {r.text[:500]}"
