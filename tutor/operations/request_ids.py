"""The request id: taken from a sane `X-Request-ID` header or made here, sent back in the response's
`X-Request-ID`, and written in every log line the request causes (`RequestIdFilter` on the handlers).

A client's id is accepted only as a plain token (8 to 64 letters, digits, `.`, `_`, `:`, `-`), so a
header can neither forge log lines nor smuggle free text into them. Outside a request the id is `-`.
"""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar

HEADER = "X-Request-ID"
SANE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,63}")
current: ContextVar[str] = ContextVar("request_id", default="-")


def accept(sent: str | None) -> str:
    """The client's id when it is a plain token, else a new one.

    >>> accept("3f2a9c1e-77aa-4e0b-9a53-0c1d2e3f4a5b")
    '3f2a9c1e-77aa-4e0b-9a53-0c1d2e3f4a5b'
    >>> len(accept("bad id\\nFAKE LOG LINE")), len(accept(None))
    (32, 32)
    """
    if sent is not None and SANE.fullmatch(sent):
        return sent
    return uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    """Puts the current request id on every record a handler writes (format it with `%(request_id)s`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current.get()
        return True


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


def logging_config(level: str = "INFO") -> dict:
    """A logging.dictConfig for the service and uvicorn alike (uvicorn applies it in every worker process)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"plain": {"format": LOG_FORMAT}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["request_id"], "stream": "ext://sys.stderr"}},
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {**{name: {"handlers": [], "propagate": True} for name in ("uvicorn", "uvicorn.error", "uvicorn.access")},
                    "bm25s": {"level": "WARNING"}},  # it logs every index build at DEBUG
    }
