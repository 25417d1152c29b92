"""Text and values as requests carry them: what may be stored, which learner ids the routes can address,
booleans that are booleans, and what a 422 may echo.

JSON lets a string hold a lone surrogate (`"\\ud800"`): not a character, it cannot be written as UTF-8,
so it is refused where it arrives, with the field's name, before anything is stored, hashed or logged.
PostgreSQL text cannot hold NUL (U+0000), so NUL is refused in every field too, on both stores alike.

>>> from pydantic import BaseModel
>>> class Answer(BaseModel):
...     learner_id: LearnerIdText
...     note: CleanText = ""
>>> Answer(learner_id="Nguyễn Văn A 🎓").learner_id
'Nguyễn Văn A 🎓'
>>> for bad in ({"learner_id": "a\\ud800"}, {"learner_id": "a", "note": "x\\x00"}, {"learner_id": "a/b"}):
...     try:
...         Answer(**bad)
...     except ValueError as exc:
...         print(exc.errors()[0]["msg"][:70])
`learner_id` is not valid Unicode text: it holds a lone surrogate (U+D
`note` holds a NUL character (U+0000, at character 2), which cannot be
`learner_id` may not contain '/': the learner routes (/v1/learners/{le

What a 422 echoes back is made safe to write as JSON and short:

>>> echo(float("nan")), echo(b"\\xff ok") == "\\ufffd ok", echo("\\ud800!") == "\\ufffd!", echo("x" * 300)[-20:]
('NaN', True, True, 'xx… (300 characters)')
>>> echo({"events": [{"a": 1}], "n": 2})
{'events': '[1 item]', 'n': 2}
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, ValidationInfo
from pydantic_core import PydanticCustomError

ECHO_LIMIT = 200
"""The most characters of one value a 422 shows back."""
ECHO_ITEMS = 20
"""The most keys or items of a container a 422 shows back; the rest are counted."""
MESSAGE_LIMIT = 1000
"""The most characters of one error message."""
_SURROGATE = re.compile("[\ud800-\udfff]")

LEARNER_ID_RULE = (
    "1 to 256 characters of valid Unicode text, without '/' or NUL, and not '.' or '..', so that every learner route "
    "(/v1/learners/{learner_id}/…, with the id percent-encoded as one path segment) can address it"
)
LEARNER_ID_DESCRIPTION = f"The platform's learner id; pseudonymised before storage. Learner ids are {LEARNER_ID_RULE}."


def safe_text(text: str) -> str:
    """The text with every lone surrogate replaced by U+FFFD, so it can be written as UTF-8."""
    return _SURROGATE.sub("\ufffd", text)


def _name(field: str | None, info: ValidationInfo | None) -> str:
    return field or (info.field_name if info is not None else None) or "text"


def check_text(value: str, name: str) -> str:
    """The value, if it can be stored (valid Unicode, no NUL); otherwise an error naming `name`."""
    bad = _SURROGATE.search(value)
    if bad:
        raise PydanticCustomError(
            "text_not_unicode",
            f"`{name}` is not valid Unicode text: it holds a lone surrogate (U+D800 to U+DFFF, at character {bad.start() + 1}); "
            "send the text as UTF-8 (or JSON escapes of whole characters)",
        )
    nul = value.find("\x00")
    if nul >= 0:
        raise PydanticCustomError(
            "text_nul", f"`{name}` holds a NUL character (U+0000, at character {nul + 1}), which cannot be stored; remove it",
        )
    return value


def checked_text(field: str | None = None) -> BeforeValidator:
    """A validator refusing lone surrogates and NUL; `field` names the value where pydantic does not (path and query parameters).

    It runs before pydantic's own string check, whose message names neither the field nor the problem;
    anything but a string is left to that check."""

    def check(value: Any, info: ValidationInfo) -> Any:
        return check_text(value, _name(field, info)) if isinstance(value, str) else value

    return BeforeValidator(check)


def checked_learner_id(field: str | None = None) -> BeforeValidator:
    """A validator for learner ids: valid text that one path segment of the learner routes can carry."""

    def check(value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, str):
            return value
        name = _name(field, info)
        check_text(value, name)
        if "/" in value or value in (".", ".."):
            what = "contain '/'" if "/" in value else f"be {value!r}"
            raise PydanticCustomError("learner_id_path", f"`{name}` may not {what}: the learner routes (/v1/learners/{{learner_id}}/…) "
                                                         f"could not address it. Learner ids are {LEARNER_ID_RULE}")
        return value

    return BeforeValidator(check)


def kind_of(value: Any) -> str:
    """How a JSON value is named in a message ("a string", "a number")."""
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string", dict: "an object", list: "an array", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def strict_bool(field: str | None = None) -> BeforeValidator:
    """A validator taking only true or false: "yes", "true", 1 or 0 are refused, not read as booleans."""

    def check(value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, bool):
            return value
        raise PydanticCustomError("bool_type", f"`{_name(field, info)}` must be true or false (a JSON boolean), not {kind_of(value)}")

    return BeforeValidator(check)


CleanText = Annotated[str, checked_text()]
"""A string that can be stored on either store: valid Unicode, no NUL."""
LearnerIdText = Annotated[str, Field(min_length=1, max_length=256, description=LEARNER_ID_DESCRIPTION), checked_learner_id()]
"""A platform's learner id as the intake accepts it (see LEARNER_ID_RULE)."""
JsonBool = Annotated[bool, strict_bool()]
"""A boolean given as a JSON boolean, nothing else."""


def _short(text: str, limit: int) -> str:
    text = safe_text(text)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


def _summary(value: Any) -> str:
    n = len(value)
    if isinstance(value, dict):
        return f"{{{n} key{'s' if n != 1 else ''}}}"
    return f"[{n} item{'s' if n != 1 else ''}]"


def echo(value: Any, depth: int = 0) -> Any:
    """What a 422 may show of an input: JSON-safe (non-finite numbers as strings, bytes decoded, lone
    surrogates replaced), each value cut at ECHO_LIMIT characters, containers inside containers summarised."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else ("NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity"))
    if isinstance(value, int):
        return value if abs(value) < 10**15 else _short(str(value), ECHO_LIMIT)
    if isinstance(value, str):
        return _short(value, ECHO_LIMIT)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _short(bytes(value[: ECHO_LIMIT * 4]).decode("utf-8", "replace"), ECHO_LIMIT) + (
            f"… ({len(value)} bytes)" if len(value) > ECHO_LIMIT * 4 else "")
    if isinstance(value, dict):
        if depth:
            return _summary(value)
        shown: dict[str, Any] = {}
        for i, (k, v) in enumerate(value.items()):
            if i == ECHO_ITEMS:
                shown["…"] = f"{len(value) - ECHO_ITEMS} more keys"
                break
            shown[_short(str(k), ECHO_LIMIT)] = echo(v, depth + 1)
        return shown
    if isinstance(value, (list, tuple, set, frozenset)):
        items = list(value)
        if depth:
            return _summary(items)
        out = [echo(v, depth + 1) for v in items[:ECHO_ITEMS]]
        return out + [f"… {len(items) - ECHO_ITEMS} more items"] if len(items) > ECHO_ITEMS else out
    return _short(str(value), ECHO_LIMIT)


def echo_error(error: dict[str, Any]) -> dict[str, Any]:
    """One validation error as a 422 may show it: its location, a message cut at MESSAGE_LIMIT, and an echo of the input."""
    out: dict[str, Any] = {
        "type": _short(str(error.get("type", "invalid")), ECHO_LIMIT),
        "loc": [part if isinstance(part, int) and not isinstance(part, bool) else _short(str(part), ECHO_LIMIT) for part in error.get("loc", ())],
        "msg": _short(str(error.get("msg", "")), MESSAGE_LIMIT),
    }
    if "input" in error:
        out["input"] = echo(error["input"])
    ctx = error.get("ctx")
    if isinstance(ctx, dict):
        out["ctx"] = {_short(str(k), ECHO_LIMIT): echo(v, 1) if not isinstance(v, BaseException) else _short(str(v), ECHO_LIMIT) for k, v in ctx.items()}
    return out

