"""The answer log as researchers get it, with research pseudonyms: JSON lines (the `events` format) or a
Parquet data lake partitioned by day.

The research pseudonym is a second keyed hash of the store's pseudonym, so an exported data set
cannot be joined back to the live store by id. Both exports read the store in keyset-paginated
chunks (``id > last id``, ``LIMIT``), so memory stays flat however large the log is, on
PostgreSQL and SQLite alike.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tutor.clock import as_utc
from tutor.errors import Invalid
from tutor.store.tables import Event

CHUNK = 5_000
PARQUET_CHUNK = 20_000
ROW_GROUP = 50_000  # rows buffered per day before they are written as one Parquet row group
MAX_BUFFERED = 400_000  # rows buffered over all days; beyond it the largest buffer is written out
MAX_OPEN_FILES = 64  # day files open at once; the least recently used is closed, a later row opens a new part


def research_pseudonym(secret: bytes, learner: str) -> str:
    return hmac.new(secret, b"research:" + learner.encode(), hashlib.sha256).hexdigest()[:20]


def _answer_chunks(sessions: Callable[[], Session], since: datetime | None, until: datetime | None, chunk: int) -> Iterator[Sequence[Any]]:
    """Every graded answer, oldest stored first, CHUNK rows at a time (keyset pagination on the primary key)."""
    query = select(Event.id, Event.learner_id, Event.skills, Event.score, Event.occurred_at, Event.item_id).where(Event.kind == "answer")
    if since is not None:
        query = query.where(Event.occurred_at >= since)
    if until is not None:
        query = query.where(Event.occurred_at < until)
    last_id = 0
    with sessions() as session:
        while True:
            rows = session.execute(query.where(Event.id > last_id).order_by(Event.id).limit(chunk)).all()
            if not rows:
                return
            yield rows
            last_id = rows[-1].id


def answer_lines(sessions: Callable[[], Session], secret: bytes, since: datetime | None, until: datetime | None) -> Iterator[bytes]:
    """Every graded answer as one JSON line, oldest stored first, read in chunks so memory stays flat."""
    for rows in _answer_chunks(sessions, since, until, CHUNK):
        yield b"".join(
            json.dumps(
                {"learner_id": research_pseudonym(secret, r.learner_id), "skill_ids": r.skills, "score": r.score,
                 "timestamp": as_utc(r.occurred_at).isoformat(), "item_id": r.item_id},
                ensure_ascii=False,
            ).encode() + b"\n"
            for r in rows
        )


@dataclass
class _DayFiles:
    """Open Parquet writers and row buffers per day; bounded in rows buffered and files open."""

    root: Path
    schema: Any
    buffers: dict[str, dict[str, list]] = field(default_factory=dict)
    writers: OrderedDict = field(default_factory=OrderedDict)
    parts: dict[str, int] = field(default_factory=dict)
    buffered: int = 0
    files: int = 0

    def add(self, day: str, rows: list[tuple]) -> None:
        """Buffer rows of one day (a chunk's worth, column by column); write them out when a buffer is full."""
        buf = self.buffers.get(day)
        if buf is None:
            buf = self.buffers[day] = {name: [] for name in self.schema.names}
        for name, column in zip(self.schema.names, zip(*rows)):
            buf[name].extend(column)
        self.buffered += len(rows)
        if len(buf["learner_id"]) >= ROW_GROUP:
            self.flush(day)
        while self.buffered >= MAX_BUFFERED:
            self.flush(max(self.buffers, key=lambda d: len(self.buffers[d]["learner_id"])))

    def flush(self, day: str) -> None:
        import pyarrow as pa  # imported here: pyarrow is slow to import and only the Parquet export needs it
        import pyarrow.parquet as pq

        buf = self.buffers.pop(day, None)
        if not buf or not buf["learner_id"]:
            return
        self.buffered -= len(buf["learner_id"])
        writer = self.writers.pop(day, None)
        if writer is None:
            part = self.parts.get(day, 0)
            self.parts[day] = part + 1
            folder = self.root / f"day={day}"
            folder.mkdir(parents=True, exist_ok=True)
            writer = pq.ParquetWriter(folder / f"part-{part:05d}.parquet", self.schema, compression="zstd")
            self.files += 1
            while len(self.writers) >= MAX_OPEN_FILES:
                self.writers.popitem(last=False)[1].close()
        self.writers[day] = writer  # most recently used last
        writer.write_table(pa.table(buf, schema=self.schema))

    def close(self) -> None:
        for day in list(self.buffers):
            self.flush(day)
        while self.writers:
            self.writers.popitem(last=False)[1].close()


def export_parquet(
    sessions: Callable[[], Session], secret: bytes, out: Path, since: datetime | None = None, until: datetime | None = None,
    chunk: int = PARQUET_CHUNK,
) -> dict[str, Any]:
    """Write every graded answer as Parquet under ``out/day=YYYY-MM-DD/part-NNNNN.parquet`` (UTC days).

    Columns are the `events` format's (learner_id, skill_ids as ``;``-joined text, score,
    timestamp in UTC, item_id), so `tutor train --data out` reads the folder as it is, and Spark
    reads ``day`` as a partition column. The files are written into a sibling folder and moved to
    ``out`` at the end, so an interrupted export leaves no partial data set behind.
    """
    import pyarrow as pa  # see _DayFiles.flush

    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise Invalid(f"{out}: exists and is not an empty folder; export into a new folder")
    schema = pa.schema([("learner_id", pa.string()), ("skill_ids", pa.string()), ("score", pa.float64()),
                        ("timestamp", pa.timestamp("us", tz="UTC")), ("item_id", pa.string())])
    partial = out.with_name(f".{out.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    days = _DayFiles(partial, schema)
    t0 = time.perf_counter()
    n = 0
    try:
        for rows in _answer_chunks(sessions, since, until, chunk):
            names: dict[str, str] = {}  # one HMAC per learner per chunk
            by_day: dict[str, list[tuple]] = {}
            for r in rows:
                lid = names.get(r.learner_id)
                if lid is None:
                    lid = names[r.learner_id] = research_pseudonym(secret, r.learner_id)
                at = as_utc(r.occurred_at)
                by_day.setdefault(at.date().isoformat(), []).append((lid, ";".join(r.skills), r.score, at, r.item_id))
            for day, day_rows in by_day.items():
                days.add(day, day_rows)
            n += len(rows)
        days.close()
    except BaseException:
        days.close()
        shutil.rmtree(partial, ignore_errors=True)
        raise
    if out.exists():
        out.rmdir()
    partial.rename(out)
    return {"out": str(out), "rows": n, "days": len(days.parts), "files": days.files, "seconds": round(time.perf_counter() - t0, 3)}
