"""Learners' graded answers as one in-memory table, `ResponseLog`: what the estimators fit and predict on.

The file readers live in `tutor.research.logs`; this module only knows the table, how to build it
from event dicts, columns or per-learner sequences (`as_response_log` accepts any of them), and the
order in which the estimators walk it (`expanded_order`).

>>> log = ResponseLog.from_records([
...     {"learner_id": "ana", "skill_ids": "fractions;decimals", "correct": 1},
...     {"learner_id": "ana", "skill_ids": "fractions", "correct": 0},
... ])
>>> len(log), log.skills_of(0), log.score.tolist()
(2, ['fractions', 'decimals'], [1.0, 0.0])
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from tutor.errors import Invalid

SKILL_SEPARATOR = ";"


class LogFormatError(Invalid):
    """A log that cannot be read; the message names the file (or source), the line (or record, row) and the problem."""

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
            "n_rows": len(self),
            "n_learners": len(np.unique(self.learner)) if len(self) else 0,
            "n_skills": len(np.unique(self.skill_idx)) if len(self) else 0,
            "n_multi_skill_rows": int(np.sum(self.n_skills_per_row > 1)),
            "n_dropped": int(self.n_dropped),
            "mean_score": float(self.score.mean()) if len(self) else None,
        }

    def events(self) -> Iterator[dict[str, Any]]:
        """The rows in sequence order as event dicts (for replaying into a `tutor.tracing.roster.Roster`)."""
        for i in self.sequence_order():
            yield {
                "learner_id": self.learner_ids[self.learner[i]],
                "skill_ids": self.skills_of(int(i)),
                "score": float(self.score[i]),
                "row": int(i),
            }

    # ----------------------------------------------------------------- subsets and variants
    def take(self, rows: np.ndarray) -> ResponseLog:
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

    def with_scores(self, y: Any) -> ResponseLog:
        """The same answers graded with the scores y (the ``y`` of an estimator's ``fit``), one in [0, 1] per row."""
        y = np.asarray(y, dtype=float)
        if y.shape != (len(self),):
            raise Invalid(f"y has shape {y.shape}, expected ({len(self)},): one score per answer")
        if not np.all(np.isfinite(y)) or np.any((y < 0) | (y > 1)):
            raise Invalid("y must hold scores in [0, 1]")
        return replace(self, score=y, _seq=None)

    def learner_folds(self, k: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
        """Learner-level K-fold split: list of (train_rows, test_rows); a learner is in one test fold."""
        learners = np.unique(self.learner)
        if k < 2 or k > len(learners):
            raise Invalid(f"folds must be between 2 and the number of learners ({len(learners)}), got {k}")
        rng = np.random.default_rng(seed)
        fold_of = np.empty(self.n_learners, dtype=np.int64)
        fold_of[rng.permutation(learners)] = np.arange(len(learners)) % k
        row_fold = fold_of[self.learner]
        return [(np.flatnonzero(row_fold != f), np.flatnonzero(row_fold == f)) for f in range(k)]

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, Any]], source: str = "<records>") -> ResponseLog:
        """Build from event dicts with the `events` column names (see `tutor.research.logs`)."""
        builder = ResponseLogBuilder(source)
        for n, rec in enumerate(records, start=1):
            builder.add_mapping(rec, n)
        return builder.build()

    @classmethod
    def from_columns(cls, columns: Mapping[str, Sequence[Any]], source: str = "<columns>") -> ResponseLog:
        """Build from a mapping of column name -> sequence (e.g. a dict of lists or a DataFrame)."""
        names = list(columns.keys())
        data = [list(columns[c]) for c in names]
        lengths = {len(d) for d in data}
        if len(lengths) > 1:
            raise Invalid(f"{source}: columns have different lengths {sorted(lengths)}")
        return cls.from_records((dict(zip(names, row, strict=True)) for row in zip(*data, strict=True)), source=source)

    @classmethod
    def from_sequences(
        cls,
        sequences: Sequence[tuple[Sequence[Any], Sequence[float]]],
        learner_ids: Sequence[str] | None = None,
        source: str = "<sequences>",
    ) -> ResponseLog:
        """Build from per-learner (skills, scores) sequences; each skill entry is a skill or a list of skills."""
        builder = ResponseLogBuilder(source)
        for k, (skills, scores) in enumerate(sequences):
            if len(skills) != len(scores):
                raise Invalid(f"{source}: sequence {k} has {len(skills)} skills but {len(scores)} scores")
            lid = str(learner_ids[k]) if learner_ids is not None else str(k + 1)
            for t, (s, y) in enumerate(zip(skills, scores, strict=True)):
                ss = [str(x) for x in s] if isinstance(s, (list, tuple)) else [str(s)]
                builder.add(lid, ss, float(y), float(t))
        return builder.build()


def as_response_log(data: Any) -> ResponseLog:
    """Accept a ResponseLog, a list of event dicts, or a mapping of columns (a dict of lists, a DataFrame)."""
    if isinstance(data, ResponseLog):
        return data
    if isinstance(data, Mapping):
        return ResponseLog.from_columns(data)
    if hasattr(data, "to_dict") and hasattr(data, "columns"):  # pandas DataFrame
        return ResponseLog.from_columns({c: list(data[c]) for c in data.columns}, source="<DataFrame>")
    if isinstance(data, (list, tuple)):
        return ResponseLog.from_records(data)
    raise TypeError(f"expected a ResponseLog, a list of event dicts or a mapping of columns, got {type(data).__name__}")


def expanded_order(log: ResponseLog) -> tuple[np.ndarray, np.ndarray]:
    """(row, log skill index) of every observation, rows in sequence order, skills in row order.

    An answer that lists k skills gives k observations; BKT's chains and the next-answer model's
    features both walk the log in this order.
    """
    seq = log.sequence_order()
    counts = log.n_skills_per_row[seq]
    rows = np.repeat(seq, counts)
    within = np.arange(len(rows)) - np.repeat(np.cumsum(counts) - counts, counts)
    return rows, log.skill_idx[log.skill_ptr[rows] + within]


def skill_list(skills: str | Iterable[Any]) -> list[str]:
    """The skill ids of one answer given online: a list, or one string of ids separated by ';' (empty ids left out)."""
    if isinstance(skills, str):
        return [t.strip() for t in skills.split(SKILL_SEPARATOR) if t.strip()]
    return [str(t) for t in skills]


# --------------------------------------------------------------------------- builder
class ResponseLogBuilder:
    """Accumulates answers one at a time, interning learner and skill ids; the readers and constructors share it."""

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

    def add(self, learner_id: str, skills: list[str], score: float, order: float | None) -> None:
        li = self.learner_index.setdefault(learner_id, len(self.learner_index))
        self.learner.append(li)
        for s in skills:
            self.skill_idx.append(self.skill_index.setdefault(s, len(self.skill_index)))
        self.counts.append(len(skills))
        self.score.append(score)
        self.order.append(float(len(self.order)) if order is None else order)

    def add_mapping(self, rec: Mapping[str, Any], line: int, unit: str = "record") -> None:
        """Add one event dict, checking its fields; problems are a LogFormatError at ``unit`` ``line``."""

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
        self.add(learner_id, skills, score, order)

    def build(self) -> ResponseLog:
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


Fail = Callable[[str], LogFormatError]


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and not v.strip())


def _learner_id(v: Any, fail: Fail) -> str:
    if _missing(v):
        raise fail("learner_id is missing or empty")
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v).strip()


def _skills(v: Any, fail: Fail) -> list[str]:
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


def _score(rec: Mapping[str, Any], fail: Fail) -> float:
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


def _order(rec: Mapping[str, Any], fail: Fail) -> float | None:
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
                dt = datetime.fromisoformat(s)
            except ValueError:
                raise fail(f"timestamp {v!r} is neither ISO 8601 nor Unix seconds") from None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
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
