"""Learner response logs: reading them from disk into one in-memory table, `ResponseLog`.

Three on-disk formats are read; every reader returns a `ResponseLog` and raises `LogFormatError`
(a `ValueError`) naming the file, the line (or Parquet row) and the problem.

``events`` — the project's own event log, as CSV (``.csv``, comma or tab separated), JSON lines
(``.jsonl``/``.ndjson``/``.json``, one object per line) or Parquet (``.parquet``/``.pq``).
One row is one graded answer. Columns (names are exact):

=================  ===========================================================================
``learner_id``     required; any string or integer.
``skill_ids``      required (or ``skill_id``); the skills the item measures. In CSV and Parquet
                   a string, several skills separated by ``;`` (``"4.1-basic;4.2-basic"``); in
                   JSON lines a string or a list of strings.
``correct``        ``0``/``1`` (also ``true``/``false``) — or ``score``, a number in ``[0, 1]``
                   for partial credit. One of the two is required; ``score`` wins if both exist.
``timestamp``      optional; ISO 8601 (``2026-03-01T09:30:00Z``) or Unix seconds. Rows of one
                   learner are put in time order; ties keep file order.
``order``          optional, used when there is no ``timestamp``: a number that orders the rows
                   of one learner. Without either column, file order is time order.
=================  ===========================================================================

Other columns (``item_id``, ``session_id``, ...) are ignored. Empty lines in CSV/JSON lines are
skipped.

``pybkt`` — pyBKT's CSV columns ``user_id``, ``skill_name``, ``correct`` (0/1), ``order_id``
(comma or tab separated; other columns are ignored). As pyBKT does, rows whose ``skill_name`` is
empty are dropped (counted in ``ResponseLog.n_dropped``); one skill per row.

``lines`` — the three-line format of the public knowledge-tracing splits (``shared/data/kt``)::

    15
    1,1,1,7,...      # skill id of each response, in time order
    0,1,1,1,...      # 1 = correct, 0 = wrong

Lines may end with a trailing comma; blank lines between blocks are skipped. Learner ids are the
1-based block numbers (``"1"``, ``"2"``, ...), and position is time.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np

FORMATS = ("events", "pybkt", "lines")
SKILL_SEPARATOR = ";"


class LogFormatError(ValueError):
    """A log file that cannot be read; the message names the file, the line and the problem."""

    def __init__(self, path: str | Path, line: int | None, problem: str, *, unit: str = "line"):
        self.path = str(path)
        self.line = line
        self.problem = problem
        where = f"{self.path}" if line is None else f"{self.path}, {unit} {line}"
        super().__init__(f"{where}: {problem}")


@dataclass
class ResponseLog:
    """Graded answers in file order, with the skills of each answer stored as CSR arrays.

    Row ``i`` is answered by learner ``learner_ids[learner[i]]``, measures the skills
    ``skill_ids[j] for j in skill_idx[skill_ptr[i]:skill_ptr[i + 1]]``, earned ``score[i]``
    (1 = correct) and sorts by ``order[i]`` among that learner's rows.
    """

    learner: np.ndarray  # (n,) int64 index into learner_ids
    learner_ids: list[str]
    skill_ptr: np.ndarray  # (n + 1,) int64
    skill_idx: np.ndarray  # (skill_ptr[-1],) int64 index into skill_ids
    skill_ids: list[str]
    score: np.ndarray  # (n,) float64 in [0, 1]
    order: np.ndarray  # (n,) float64, time key within a learner
    source: str = ""
    n_dropped: int = 0
    _seq: np.ndarray | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.learner = np.asarray(self.learner, dtype=np.int64)
        self.skill_ptr = np.asarray(self.skill_ptr, dtype=np.int64)
        self.skill_idx = np.asarray(self.skill_idx, dtype=np.int64)
        self.score = np.asarray(self.score, dtype=np.float64)
        self.order = np.asarray(self.order, dtype=np.float64)
        n = len(self.learner)
        if not (len(self.score) == len(self.order) == n and len(self.skill_ptr) == n + 1):
            raise ValueError("ResponseLog: learner, score, order and skill_ptr lengths disagree")
        if len(self.skill_idx) != (self.skill_ptr[-1] if n else 0):
            raise ValueError("ResponseLog: skill_idx length does not match skill_ptr")

    # ----------------------------------------------------------------- basic views
    def __len__(self) -> int:
        return len(self.learner)

    @property
    def n_learners(self) -> int:
        return len(self.learner_ids)

    @property
    def n_skills(self) -> int:
        return len(self.skill_ids)

    @property
    def label(self) -> np.ndarray:
        """Binary outcome used by AUC/accuracy: score >= 0.5."""
        return (self.score >= 0.5).astype(np.int64)

    @property
    def n_skills_per_row(self) -> np.ndarray:
        return np.diff(self.skill_ptr)

    @property
    def is_single_skill(self) -> bool:
        return bool(np.all(self.n_skills_per_row == 1))

    def skills_of(self, row: int) -> list[str]:
        return [self.skill_ids[j] for j in self.skill_idx[self.skill_ptr[row] : self.skill_ptr[row + 1]]]

    def sequence_order(self) -> np.ndarray:
        """Row indices sorted by learner, then time, then file position (a stable order)."""
        if self._seq is None:
            self._seq = np.lexsort((np.arange(len(self)), self.order, self.learner))
        return self._seq

    def summary(self) -> dict[str, Any]:
        return {
            "n_rows": int(len(self)),
            "n_learners": int(len(np.unique(self.learner))) if len(self) else 0,
            "n_skills": int(len(np.unique(self.skill_idx))) if len(self) else 0,
            "n_multi_skill_rows": int(np.sum(self.n_skills_per_row > 1)),
            "n_dropped": int(self.n_dropped),
            "mean_score": float(self.score.mean()) if len(self) else None,
        }

    def events(self) -> Iterator[dict[str, Any]]:
        """The rows in sequence order as event dicts (for replaying into online models)."""
        for i in self.sequence_order():
            yield {
                "learner_id": self.learner_ids[self.learner[i]],
                "skill_ids": self.skills_of(int(i)),
                "score": float(self.score[i]),
                "row": int(i),
            }

    # ----------------------------------------------------------------- subsets
    def take(self, rows: np.ndarray) -> "ResponseLog":
        """The given rows (in the given order) as a new log; vocabularies are kept as they are."""
        rows = np.asarray(rows, dtype=np.int64)
        counts = self.n_skills_per_row[rows]
        ptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(counts, out=ptr[1:])
        starts = np.repeat(self.skill_ptr[rows], counts)
        within = np.arange(ptr[-1]) - np.repeat(ptr[:-1], counts)
        return ResponseLog(
            learner=self.learner[rows],
            learner_ids=self.learner_ids,
            skill_ptr=ptr,
            skill_idx=self.skill_idx[starts + within],
            skill_ids=self.skill_ids,
            score=self.score[rows],
            order=self.order[rows],
            source=self.source,
        )

    def learner_folds(self, k: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
        """Learner-level K-fold split: list of (train_rows, test_rows); a learner is in one test fold."""
        learners = np.unique(self.learner)
        if k < 2 or k > len(learners):
            raise ValueError(f"folds must be between 2 and the number of learners ({len(learners)}), got {k}")
        rng = np.random.default_rng(seed)
        fold_of = np.empty(self.n_learners, dtype=np.int64)
        fold_of[rng.permutation(learners)] = np.arange(len(learners)) % k
        row_fold = fold_of[self.learner]
        return [(np.flatnonzero(row_fold != f), np.flatnonzero(row_fold == f)) for f in range(k)]

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_records(
        cls, records: Iterable[Mapping[str, Any]], source: str = "<records>"
    ) -> "ResponseLog":
        """Build from event dicts with the `events` column names (see the module docstring)."""
        builder = _Builder(source)
        for n, rec in enumerate(records, start=1):
            builder.add_mapping(rec, n)
        return builder.build(unit="record")

    @classmethod
    def from_columns(cls, columns: Mapping[str, Sequence[Any]], source: str = "<columns>") -> "ResponseLog":
        """Build from a mapping of column name -> sequence (e.g. a dict of lists or a DataFrame)."""
        names = list(columns.keys())
        data = [list(columns[c]) for c in names]
        lengths = {len(d) for d in data}
        if len(lengths) > 1:
            raise ValueError(f"{source}: columns have different lengths {sorted(lengths)}")
        return cls.from_records((dict(zip(names, row)) for row in zip(*data)), source=source)

    @classmethod
    def from_sequences(
        cls,
        sequences: Sequence[tuple[Sequence[Any], Sequence[float]]],
        learner_ids: Sequence[str] | None = None,
        source: str = "<sequences>",
    ) -> "ResponseLog":
        """Build from per-learner (skills, scores) sequences; each skill entry is a skill or a list of skills."""
        builder = _Builder(source)
        for k, (skills, scores) in enumerate(sequences):
            if len(skills) != len(scores):
                raise ValueError(f"{source}: sequence {k} has {len(skills)} skills but {len(scores)} scores")
            lid = str(learner_ids[k]) if learner_ids is not None else str(k + 1)
            for t, (s, y) in enumerate(zip(skills, scores)):
                ss = [str(x) for x in s] if isinstance(s, (list, tuple)) else [str(s)]
                builder.add(lid, ss, float(y), float(t), None)
        return builder.build()


def as_response_log(data: Any) -> ResponseLog:
    """Accept a ResponseLog, a list of event dicts, or a mapping of columns."""
    if isinstance(data, ResponseLog):
        return data
    if isinstance(data, Mapping):
        return ResponseLog.from_columns(data)
    if hasattr(data, "to_dict") and hasattr(data, "columns"):  # pandas DataFrame
        return ResponseLog.from_columns({c: list(data[c]) for c in data.columns}, source="<DataFrame>")
    if isinstance(data, (list, tuple)):
        return ResponseLog.from_records(data)
    raise TypeError(f"expected a ResponseLog, a list of event dicts or a mapping of columns, got {type(data).__name__}")


# --------------------------------------------------------------------------- builder
class _Builder:
    """Accumulates rows, interning learner and skill ids."""

    def __init__(self, source: str):
        self.source = source
        self.learner_index: dict[str, int] = {}
        self.skill_index: dict[str, int] = {}
        self.learner: list[int] = []
        self.skill_idx: list[int] = []
        self.counts: list[int] = []
        self.score: list[float] = []
        self.order: list[float] = []
        self.has_order: bool | None = None
        self.n_dropped = 0

    def add(self, learner_id: str, skills: list[str], score: float, order: float | None, line: int | None) -> None:
        li = self.learner_index.setdefault(learner_id, len(self.learner_index))
        self.learner.append(li)
        for s in skills:
            self.skill_idx.append(self.skill_index.setdefault(s, len(self.skill_index)))
        self.counts.append(len(skills))
        self.score.append(score)
        self.order.append(float(len(self.order)) if order is None else order)

    def add_mapping(self, rec: Mapping[str, Any], line: int, unit: str = "record") -> None:
        def fail(problem: str) -> LogFormatError:
            return LogFormatError(self.source, line, problem, unit=unit)

        if not isinstance(rec, Mapping):
            raise fail(f"expected an object with learner_id, skill_ids and correct/score, got {type(rec).__name__}")
        learner_id = _learner_id(rec.get("learner_id"), fail)
        skills = _skills(rec["skill_ids"] if "skill_ids" in rec else rec.get("skill_id"), fail)
        score = _score(rec, fail)
        order = _order(rec, fail)
        if self.has_order is None:
            self.has_order = order is not None
        elif self.has_order != (order is not None):
            raise fail("timestamp/order is missing here but given on earlier rows (give it on every row or none)")
        self.add(learner_id, skills, score, order, line)

    def build(self, unit: str = "line") -> ResponseLog:
        ptr = np.zeros(len(self.counts) + 1, dtype=np.int64)
        np.cumsum(np.asarray(self.counts, dtype=np.int64), out=ptr[1:])
        order = np.asarray(self.order, dtype=np.float64)
        if self.has_order is False:  # no time column: file order is time order
            order = np.arange(len(order), dtype=np.float64)
        return ResponseLog(
            learner=np.asarray(self.learner, dtype=np.int64),
            learner_ids=list(self.learner_index),
            skill_ptr=ptr,
            skill_idx=np.asarray(self.skill_idx, dtype=np.int64),
            skill_ids=list(self.skill_index),
            score=np.asarray(self.score, dtype=np.float64),
            order=order,
            source=self.source,
            n_dropped=self.n_dropped,
        )


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and not v.strip())


def _learner_id(v: Any, fail) -> str:
    if _missing(v):
        raise fail("learner_id is missing or empty")
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v).strip()


def _skills(v: Any, fail) -> list[str]:
    if _missing(v):
        raise fail("skill_ids (or skill_id) is missing or empty")
    if isinstance(v, (list, tuple)) or (hasattr(v, "tolist") and not isinstance(v, (str, bytes))):
        items = [str(x).strip() for x in (v.tolist() if hasattr(v, "tolist") else v)]
    else:
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        items = [s.strip() for s in str(v).split(SKILL_SEPARATOR)]
    if not items or any(not s for s in items):
        raise fail(f"skill_ids {v!r} has an empty skill id (separate several skills with '{SKILL_SEPARATOR}')")
    if len(set(items)) != len(items):
        raise fail(f"skill_ids {v!r} names a skill twice")
    return items


_TRUE = {"1", "true", "t", "yes", "1.0"}
_FALSE = {"0", "false", "f", "no", "0.0"}


def _score(rec: Mapping[str, Any], fail) -> float:
    if "score" in rec and not _missing(rec["score"]):
        v = rec["score"]
        try:
            x = float(v)
        except (TypeError, ValueError):
            raise fail(f"score {v!r} is not a number") from None
        if isinstance(v, bool) or not math.isfinite(x) or not 0.0 <= x <= 1.0:
            raise fail(f"score {v!r} is not a number in [0, 1]")
        return x
    if "correct" in rec and not _missing(rec["correct"]):
        v = rec["correct"]
        if isinstance(v, bool):
            return float(v)
        if isinstance(v, (int, float)) and v in (0, 1):
            return float(v)
        s = str(v).strip().lower()
        if s in _TRUE:
            return 1.0
        if s in _FALSE:
            return 0.0
        raise fail(f"correct {v!r} is not 0 or 1 (use a score column for partial credit)")
    raise fail("neither correct (0/1) nor score ([0, 1]) is given")


def _order(rec: Mapping[str, Any], fail) -> float | None:
    if "timestamp" in rec and not _missing(rec["timestamp"]):
        v = rec["timestamp"]
        if isinstance(v, datetime):
            dt = v
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            return float(v)
        else:
            s = str(v).strip()
            try:
                return float(s)
            except ValueError:
                pass
            try:
                dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
            except ValueError:
                raise fail(f"timestamp {v!r} is neither ISO 8601 nor Unix seconds") from None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)
        return dt.timestamp()
    if "order" in rec and not _missing(rec["order"]):
        v = rec["order"]
        try:
            x = float(v)
        except (TypeError, ValueError):
            raise fail(f"order {v!r} is not a number") from None
        if not math.isfinite(x):
            raise fail(f"order {v!r} is not a finite number")
        return x
    return None


# --------------------------------------------------------------------------- readers
def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _open_text(path: Path):
    try:
        return open(path, encoding="utf-8-sig", newline="")
    except FileNotFoundError:
        raise LogFormatError(path, None, "file not found") from None
    except IsADirectoryError:
        raise LogFormatError(path, None, "is a directory, expected a file") from None


def _sniff_delimiter(header: str) -> str:
    return "\t" if header.count("\t") > header.count(",") else ","


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row dict) for each non-empty data row; the header is line 1."""
    with _open_text(path) as fh:
        try:
            first = fh.readline()
        except UnicodeDecodeError:
            raise LogFormatError(path, 1, "not UTF-8 text") from None
        if not first.strip():
            raise LogFormatError(path, 1, "empty file, expected a header line")
        delim = _sniff_delimiter(first)
        header = next(csv.reader([first], delimiter=delim))
        header = [h.strip() for h in header]
        reader = csv.reader(fh, delimiter=delim)
        line = 1
        try:
            for values in reader:
                line = reader.line_num + 1
                if not values or all(not v.strip() for v in values):
                    continue
                if len(values) != len(header):
                    raise LogFormatError(path, line, f"{len(values)} fields, but the header has {len(header)}")
                yield line, dict(zip(header, values))
        except UnicodeDecodeError:
            raise LogFormatError(path, line + 1, "not UTF-8 text") from None
        except csv.Error as exc:
            raise LogFormatError(path, reader.line_num + 1, f"CSV syntax: {exc}") from None


def _check_columns(path: Path, header: Iterable[str], unit: str = "line", line: int | None = 1) -> None:
    cols = set(header)
    missing = []
    if "learner_id" not in cols:
        missing.append("learner_id")
    if "skill_ids" not in cols and "skill_id" not in cols:
        missing.append("skill_ids (or skill_id)")
    if "correct" not in cols and "score" not in cols:
        missing.append("correct (or score)")
    if missing:
        raise LogFormatError(
            path, line, f"missing column(s) {', '.join(missing)}; found {', '.join(sorted(cols)) or 'none'}", unit=unit
        )


def read_events(path: str | Path) -> ResponseLog:
    """Read the project's event log (CSV, JSON lines or Parquet, chosen by the file suffix)."""
    path = Path(path)
    suffix = path.suffix.lower()
    builder = _Builder(str(path))
    if suffix in (".parquet", ".pq"):
        return _read_events_parquet(path, builder)
    if suffix in (".jsonl", ".ndjson", ".json"):
        with _open_text(path) as fh:
            n = 0
            for n, raw in enumerate(fh, start=1):
                if not raw.strip():
                    continue
                try:
                    rec = json.loads(raw)
                except json.JSONDecodeError as exc:
                    raise LogFormatError(path, n, f"not valid JSON ({exc.msg} at column {exc.colno})") from None
                if not isinstance(rec, dict):
                    raise LogFormatError(path, n, f"expected a JSON object, got {type(rec).__name__}")
                _check_columns(path, rec.keys(), line=n)
                builder.add_mapping(rec, n, unit="line")
        if not builder.counts:
            raise LogFormatError(path, None, "no events in the file")
        return builder.build()
    if suffix in (".csv", ".tsv", ".txt", ""):
        checked = False
        for line, row in _csv_rows(path):
            if not checked:
                _check_columns(path, row.keys())
                checked = True
            builder.add_mapping(row, line, unit="line")
        if not checked:
            with _open_text(path) as fh:
                header = fh.readline()
            _check_columns(path, [h.strip() for h in header.strip().split(_sniff_delimiter(header))])
            raise LogFormatError(path, None, "no events in the file (header only)")
        return builder.build()
    raise LogFormatError(path, None, f"unknown event-log suffix {suffix!r}; use .csv, .tsv, .jsonl or .parquet")


def _read_events_parquet(path: Path, builder: _Builder) -> ResponseLog:
    try:
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover
        raise LogFormatError(path, None, "reading Parquet needs pyarrow (pip install pyarrow)") from None
    try:
        table = pq.read_table(path)
    except FileNotFoundError:
        raise LogFormatError(path, None, "file not found") from None
    except Exception as exc:  # pyarrow raises several types for a broken file
        raise LogFormatError(path, None, f"not a readable Parquet file ({exc})") from None
    _check_columns(path, table.column_names, line=None)
    cols = {c: table.column(c).to_pylist() for c in table.column_names}
    n = table.num_rows
    names = list(cols)
    for i in range(n):
        builder.add_mapping({c: cols[c][i] for c in names}, i + 1, unit="row")
    if n == 0:
        raise LogFormatError(path, None, "no events in the file")
    return builder.build()


PYBKT_COLUMNS = ("user_id", "skill_name", "correct", "order_id")


def read_pybkt(path: str | Path) -> ResponseLog:
    """Read a pyBKT-style CSV (user_id, skill_name, correct, order_id); rows without a skill are dropped."""
    path = Path(path)
    builder = _Builder(str(path))
    checked = False
    for line, row in _csv_rows(path):
        if not checked:
            missing = [c for c in PYBKT_COLUMNS if c not in row]
            if missing:
                raise LogFormatError(
                    path, 1, f"missing pyBKT column(s) {', '.join(missing)}; found {', '.join(row) or 'none'}"
                )
            checked = True
        if not row["skill_name"].strip():
            builder.n_dropped += 1
            continue
        uid = row["user_id"].strip()
        if not uid:
            raise LogFormatError(path, line, "user_id is empty")
        c = row["correct"].strip()
        if c not in ("0", "1"):
            raise LogFormatError(path, line, f"correct {c!r} is not 0 or 1")
        try:
            order = float(row["order_id"])
        except ValueError:
            raise LogFormatError(path, line, f"order_id {row['order_id']!r} is not a number") from None
        builder.add(uid, [row["skill_name"].strip()], float(c), order, line)
    if not checked:
        raise LogFormatError(path, None, "no rows in the file (header only or empty)")
    if not builder.counts:
        raise LogFormatError(path, None, "every row has an empty skill_name")
    return builder.build()


def read_lines(path: str | Path) -> ResponseLog:
    """Read the three-line format (count / skill ids / 0-1 answers) of shared/data/kt."""
    path = Path(path)
    with _open_text(path) as fh:
        try:
            lines = fh.read().splitlines()
        except UnicodeDecodeError:
            raise LogFormatError(path, None, "not UTF-8 text") from None
    builder = _Builder(str(path))
    i, block = 0, 0
    n_lines = len(lines)

    def fields(k: int) -> list[str]:
        s = lines[k].strip()
        if s.endswith(","):
            s = s[:-1]
        return [x.strip() for x in s.split(",")] if s else []

    while i < n_lines:
        if not lines[i].strip():
            i += 1
            continue
        block += 1
        head = fields(i)
        if len(head) != 1 or not head[0].isdigit():
            raise LogFormatError(path, i + 1, f"expected the number of responses of sequence {block}, got {lines[i].strip()[:40]!r}")
        n = int(head[0])
        if i + 2 >= n_lines:
            raise LogFormatError(path, i + 1, f"sequence {block} is cut short: expected a skill line and an answer line after it")
        skills, answers = fields(i + 1), fields(i + 2)
        if len(skills) != n:
            raise LogFormatError(path, i + 2, f"{len(skills)} skill ids, but line {i + 1} says {n} responses")
        if len(answers) != n:
            raise LogFormatError(path, i + 3, f"{len(answers)} answers, but line {i + 1} says {n} responses")
        lid = str(block)
        for t, (s, a) in enumerate(zip(skills, answers)):
            if not s:
                raise LogFormatError(path, i + 2, f"empty skill id at position {t + 1}")
            if a not in ("0", "1"):
                raise LogFormatError(path, i + 3, f"answer {a!r} at position {t + 1} is not 0 or 1")
            builder.add(lid, [s], 1.0 if a == "1" else 0.0, float(t), i + 2)
        i += 3
    if not builder.counts:
        raise LogFormatError(path, None, "no sequences in the file")
    return builder.build()


def read_log(path: str | Path, fmt: str = "events") -> ResponseLog:
    """Read a log in one of FORMATS: 'events', 'pybkt' or 'lines'."""
    if fmt == "events":
        return read_events(path)
    if fmt == "pybkt":
        return read_pybkt(path)
    if fmt == "lines":
        return read_lines(path)
    raise ValueError(f"unknown log format {fmt!r}; expected one of {', '.join(FORMATS)}")


# --------------------------------------------------------------------------- writers
def write_events_csv(log: ResponseLog, path: str | Path) -> None:
    """Write a log as an `events` CSV (learner_id, skill_ids, score or correct, order)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    binary = bool(np.all((log.score == 0.0) | (log.score == 1.0)))
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["learner_id", "skill_ids", "correct" if binary else "score", "order"])
        for i in log.sequence_order():
            y = int(log.score[i]) if binary else f"{log.score[i]:.6g}"
            o = log.order[i]
            w.writerow([log.learner_ids[log.learner[i]], SKILL_SEPARATOR.join(log.skills_of(int(i))), y,
                        int(o) if float(o).is_integer() else repr(float(o))])


def write_pybkt_csv(log: ResponseLog, path: str | Path) -> np.ndarray:
    """Write a log in pyBKT's columns; multi-skill rows become one row per skill (as in ASSISTments).

    Returns, for each written row, the index of the log row it came from.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows_out = []
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["order_id", "user_id", "skill_name", "correct"])
    k = 0
    for i in log.sequence_order():
        for s in log.skills_of(int(i)):
            w.writerow([k, log.learner_ids[log.learner[i]], s, int(log.score[i] >= 0.5)])
            rows_out.append(int(i))
            k += 1
    path.write_text(buf.getvalue(), encoding="utf-8")
    return np.asarray(rows_out, dtype=np.int64)
