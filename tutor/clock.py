"""Time as the service keeps it: every stored moment is UTC.

>>> from datetime import datetime, timedelta, timezone
>>> as_utc(datetime(2026, 11, 23, 8, 0))          # SQLite hands back naive datetimes
datetime.datetime(2026, 11, 23, 8, 0, tzinfo=datetime.timezone.utc)
>>> as_utc(datetime(2026, 11, 23, 15, 0, tzinfo=timezone(timedelta(hours=7))))
datetime.datetime(2026, 11, 23, 8, 0, tzinfo=datetime.timezone.utc)

Moments in requests are ISO 8601 strings (a number is refused, not read as a Unix time), brought to UTC
where they arrive. One that becomes a stored moment (`Moment`: when an answer was given) must lie between
EARLIEST and a day past the server's clock; a filter (`any_moment`) only has to exist in UTC.

>>> from pydantic import BaseModel
>>> class Answer(BaseModel):
...     timestamp: Moment
>>> Answer(timestamp="2026-11-23T15:00:00+07:00").timestamp
datetime.datetime(2026, 11, 23, 8, 0, tzinfo=datetime.timezone.utc)
>>> for bad in (1763625600, "0001-01-01T00:00:00+01:00", "1999-12-31T23:59:59Z", "2999-01-01T00:00:00Z"):
...     try:
...         Answer(timestamp=bad)
...     except ValueError as exc:
...         print(exc.errors()[0]["msg"][:60])
`timestamp` must be an ISO 8601 date and time in a string, s
`timestamp` cannot be brought to UTC (it falls before year 1
`timestamp` lies before 2000-01-01T00:00:00Z, the earliest m
`timestamp` is more than a day in the future (the server's c
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, overload

from pydantic import BeforeValidator, TypeAdapter, ValidationError, ValidationInfo
from pydantic_core import PydanticCustomError

from tutor.text import kind_of

MAX_FUTURE = timedelta(days=1)
"""How far ahead of the server's clock a reported moment may lie (clock skew), before it is refused."""
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
"""The earliest moment an answer may carry: older ones are a client's mistake (a zero Unix time, year 1), not learning."""
EXAMPLE = "2026-11-23T08:00:00Z or 2026-11-23T15:00:00+07:00"
_DATETIME = TypeAdapter(datetime)
_CALENDAR_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def utcnow() -> datetime:
    return datetime.now(UTC)


@overload
def as_utc(moment: datetime) -> datetime: ...
@overload
def as_utc(moment: None) -> None: ...
def as_utc(moment: datetime | None) -> datetime | None:
    """A moment in UTC; one without a zone is taken as UTC already."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_moment(value: Any, name: str) -> datetime:
    """An ISO 8601 string as a moment in UTC (none given: UTC); anything else is refused with a message naming `name`."""
    if not isinstance(value, str):
        raise PydanticCustomError("datetime_type", f"`{name}` must be an ISO 8601 date and time in a string, such as {EXAMPLE} (got {kind_of(value)})")
    try:
        if not _CALENDAR_DATE.match(value):
            raise ValueError(value)
        moment = _DATETIME.validate_python(value)
    except (ValueError, ValidationError):
        raise PydanticCustomError("datetime_format", f"`{name}` is not an ISO 8601 date and time such as {EXAMPLE}") from None
    try:
        return as_utc(moment)
    except OverflowError:
        raise PydanticCustomError(
            "datetime_range", f"`{name}` cannot be brought to UTC (it falls before year 1 or after year 9999 there); send a moment in UTC or with its offset",
        ) from None


def check_stored(moment: datetime, name: str, now: datetime | None = None) -> datetime:
    """The moment, if an answer may carry it: not before EARLIEST, not more than MAX_FUTURE ahead of the clock."""
    if moment < EARLIEST:
        raise PydanticCustomError("datetime_too_early", f"`{name}` lies before 2000-01-01T00:00:00Z, the earliest moment accepted for an answer")
    if moment > (now or utcnow()) + MAX_FUTURE:
        raise PydanticCustomError("datetime_future", f"`{name}` is more than a day in the future (the server's clock allows a day of skew)")
    return moment


def stored_moment(field: str | None = None) -> BeforeValidator:
    """A validator for a moment that is stored: an ISO 8601 string, in UTC, from EARLIEST to a day ahead."""

    def check(value: Any, info: ValidationInfo) -> datetime:
        name = field or info.field_name or "timestamp"
        return check_stored(parse_moment(value, name), name)

    return BeforeValidator(check)


def any_moment(field: str | None = None) -> BeforeValidator:
    """A validator for a moment that only filters (since, until): an ISO 8601 string that exists in UTC."""

    def check(value: Any, info: ValidationInfo) -> datetime:
        return parse_moment(value, field or info.field_name or "moment")

    return BeforeValidator(check)


Moment = Annotated[datetime, stored_moment()]
"""When something happened, as a request reports it (see the module's docstring)."""
