"""Time as the service keeps it: every stored moment is UTC.

>>> from datetime import datetime, timedelta, timezone
>>> as_utc(datetime(2026, 11, 23, 8, 0))          # SQLite hands back naive datetimes
datetime.datetime(2026, 11, 23, 8, 0, tzinfo=datetime.timezone.utc)
>>> as_utc(datetime(2026, 11, 23, 15, 0, tzinfo=timezone(timedelta(hours=7))))
datetime.datetime(2026, 11, 23, 8, 0, tzinfo=datetime.timezone.utc)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import overload

MAX_FUTURE = timedelta(days=1)
"""How far ahead of the server's clock a reported moment may lie (clock skew), before it is refused."""


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
