"""Learner response logs on disk: reading them into `tutor.tracing.responses.ResponseLog`, and writing them.

Three on-disk formats are read; every reader returns a `ResponseLog` and raises `LogFormatError`
(a `tutor.errors.Invalid`, so a `ValueError`) naming the file, the line (or Parquet row) and the problem.

``events`` — the project's own event log, as CSV (``.csv``, comma or tab separated), JSON lines
(``.jsonl``/``.ndjson``/``.json``, one object per line) or Parquet (``.parquet``/``.pq``), or a
Parquet data set: a folder (searched recursively, as `tutor research export` writes it, one
``day=YYYY-MM-DD`` folder per day) or a glob (``lake/day=2026-11-*/*.parquet``); its files are
read in path order, one after the other, as if they were one file.
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
import glob
import hashlib
import io
import json
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from tutor.errors import Invalid
from tutor.tracing.responses import SKILL_SEPARATOR, LogFormatError, ResponseLog, ResponseLogBuilder

FORMATS = ("events", "pybkt", "lines")


# --------------------------------------------------------------------------- readers
PARQUET_SUFFIXES = (".parquet", ".pq")


def is_dataset(path: str | Path) -> bool:
    """A folder or a glob of Parquet files rather than one file."""
    return Path(path).is_dir() or glob.has_magic(str(path))


def _parquet_under(folder: Path) -> list[Path]:
    """Parquet files under folder, skipping hidden and ``_``-prefixed names (Spark's _SUCCESS, an export in progress)."""
    return sorted(f for f in folder.rglob("*") if f.suffix.lower() in PARQUET_SUFFIXES and f.is_file()
                  and not any(part.startswith((".", "_")) for part in f.relative_to(folder).parts))


def parquet_files(path: str | Path) -> list[Path]:
    """The Parquet files of a folder (recursively) or a glob, in path order; a LogFormatError if there are none."""
    p = Path(path)
    if p.is_dir():
        found = _parquet_under(p)
    else:
        found = []
        for m in sorted(glob.glob(str(path), recursive=True)):
            found += _parquet_under(Path(m)) if Path(m).is_dir() else [Path(m)]
    if not found:
        raise LogFormatError(path, None, "no Parquet files (.parquet, .pq) here")
    return found


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file; of a Parquet data set, of its files' names and contents in path order."""
    h = hashlib.sha256()
    files = parquet_files(path) if is_dataset(path) else [Path(path)]
    for f in files:
        if len(files) > 1 or is_dataset(path):
            h.update(f.name.encode() + b"\0" + str(f.stat().st_size).encode() + b"\0")
        with open(f, "rb") as fh:
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
    if is_dataset(path) or Path(path).suffix.lower() in PARQUET_SUFFIXES:
        fast = _parquet_columns(parquet_files(path) if is_dataset(path) else [Path(path)], str(path))
        if fast is not None:
            return fast
    if is_dataset(path):
        builder = ResponseLogBuilder(str(path))
        for f in parquet_files(path):
            builder.source = str(f)  # errors name the file and its row
            _add_parquet(f, builder)
        builder.source = str(path)
        if not builder.counts:
            raise LogFormatError(path, None, "no events in the data set")
        return builder.build()
    path = Path(path)
    suffix = path.suffix.lower()
    builder = ResponseLogBuilder(str(path))
    if suffix in PARQUET_SUFFIXES:
        if _add_parquet(path, builder) == 0:
            raise LogFormatError(path, None, "no events in the file")
        return builder.build()
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


def _parquet_columns(files: list[Path], source: str) -> ResponseLog | None:
    """A well-typed Parquet log read column-wise (learner_id text or integer, skill_ids text, score/correct numeric,
    timestamp a timestamp or a number); None when anything is irregular, so that the row-wise reader names the row."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        tables = []
        for f in files:
            names = pq.ParquetFile(f).schema_arrow.names
            want = [c for c in ("learner_id", "skill_ids", "score", "correct", "timestamp", "order") if c in names]
            tables.append(pq.read_table(f, columns=want))
        table = pa.concat_tables(tables, promote_options="default")
    except (pa.ArrowException, OSError, ValueError):
        return None
    cols = set(table.column_names)
    if table.num_rows == 0 or "learner_id" not in cols or "skill_ids" not in cols or not ({"score", "correct"} & cols):
        return None
    learner, skills = table.column("learner_id"), table.column("skill_ids")
    if not (pa.types.is_string(learner.type) or pa.types.is_integer(learner.type)) or not pa.types.is_string(skills.type):
        return None
    if learner.null_count or skills.null_count:
        return None
    learner = pc.utf8_trim_whitespace(pc.cast(learner, pa.string()))
    split = pc.split_pattern(skills.combine_chunks(), SKILL_SEPARATOR)
    values = pc.utf8_trim_whitespace(split.values)
    lengths = pc.list_value_length(split).to_numpy(zero_copy_only=False).astype(np.int64)
    if pc.any(pc.equal(pc.utf8_length(values), 0)).as_py() or pc.any(pc.equal(pc.utf8_length(learner), 0)).as_py():
        return None
    score = np.full(table.num_rows, np.nan)
    if "correct" in cols:
        c = table.column("correct")
        if not (pa.types.is_integer(c.type) or pa.types.is_boolean(c.type) or pa.types.is_floating(c.type)):
            return None
        c = pc.cast(c, pa.float64()).to_numpy(zero_copy_only=False)
        score = np.where(np.isin(c, (0.0, 1.0)), c, np.nan)
    if "score" in cols:
        sc = table.column("score")
        if not (pa.types.is_integer(sc.type) or pa.types.is_floating(sc.type)):
            return None
        sc = pc.cast(sc, pa.float64()).to_numpy(zero_copy_only=False)
        score = np.where(np.isnan(sc), score, sc)
    if np.isnan(score).any() or (score < 0).any() or (score > 1).any():
        return None
    order = None
    for name in ("timestamp", "order"):
        if name in cols:
            t = table.column(name)
            if t.null_count:
                return None
            if pa.types.is_timestamp(t.type):
                order = pc.cast(pc.cast(t, pa.timestamp("us", tz=t.type.tz)), pa.int64()).to_numpy(zero_copy_only=False) / 1e6
            elif pa.types.is_integer(t.type) or pa.types.is_floating(t.type):
                order = pc.cast(t, pa.float64()).to_numpy(zero_copy_only=False)
            else:
                return None
            break
    if order is not None and not np.isfinite(order).all():
        return None
    if (lengths > 1).any():  # a skill named twice in one answer is an error the row-wise reader names
        multi = split.filter(pc.greater(pc.list_value_length(split), 1)).to_pylist()
        if any(len({x.strip() for x in row}) != len(row) for row in multi):
            return None
    learners = learner.combine_chunks().dictionary_encode()  # codes in order of first appearance, as the builder interns them
    skill_codes = values.dictionary_encode()
    ptr = np.zeros(table.num_rows + 1, dtype=np.int64)
    np.cumsum(lengths, out=ptr[1:])
    return ResponseLog(
        learner=learners.indices.to_numpy(zero_copy_only=False).astype(np.int64), learner_ids=learners.dictionary.to_pylist(),
        skill_ptr=ptr, skill_idx=skill_codes.indices.to_numpy(zero_copy_only=False).astype(np.int64), skill_ids=skill_codes.dictionary.to_pylist(),
        score=score, order=np.arange(table.num_rows, dtype=np.float64) if order is None else order, source=source,
    )


def _add_parquet(path: Path, builder: ResponseLogBuilder) -> int:
    """Add a Parquet file's rows to builder, a row group at a time; returns the number of rows."""
    try:  # imported here: only Parquet files need pyarrow, and it is slow to import
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover
        raise LogFormatError(path, None, "reading Parquet needs pyarrow (pip install pyarrow)") from None
    try:
        pf = pq.ParquetFile(path)
        _check_columns(path, pf.schema_arrow.names, line=None)
        n = 0
        for batch in pf.iter_batches(batch_size=65_536):
            cols = {c: batch.column(c).to_pylist() for c in batch.schema.names}
            names = list(cols)
            for i in range(batch.num_rows):
                builder.add_mapping({c: cols[c][i] for c in names}, n + i + 1, unit="row")
            n += batch.num_rows
    except FileNotFoundError:
        raise LogFormatError(path, None, "file not found") from None
    except (pa.ArrowException, OSError, ValueError) as exc:  # pyarrow raises several types for a broken file
        if isinstance(exc, LogFormatError):
            raise
        raise LogFormatError(path, None, f"not a readable Parquet file ({exc})") from None
    return n


PYBKT_COLUMNS = ("user_id", "skill_name", "correct", "order_id")


def read_pybkt(path: str | Path) -> ResponseLog:
    """Read a pyBKT-style CSV (user_id, skill_name, correct, order_id); rows without a skill are dropped."""
    path = Path(path)
    builder = ResponseLogBuilder(str(path))
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
        builder.add(uid, [row["skill_name"].strip()], float(c), order)
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
    builder = ResponseLogBuilder(str(path))
    i, block = 0, 0
    n_lines = len(lines)

    def fields(k: int) -> list[str]:
        s = lines[k].strip().removesuffix(",")
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
            builder.add(lid, [s], 1.0 if a == "1" else 0.0, float(t))
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
    raise Invalid(f"unknown log format {fmt!r}; expected one of {', '.join(FORMATS)}")


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
