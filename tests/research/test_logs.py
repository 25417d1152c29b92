"""Readers of answer logs: the project's events (CSV / JSON lines / Parquet), pyBKT CSV, the 3-line KT format."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tutor.errors import Invalid
from tutor.research.logs import read_events, read_lines, read_log, read_pybkt, write_events_csv
from tutor.tracing.responses import LogFormatError, ResponseLog

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_events_csv_multi_skill_and_time_order(tmp_path):
    p = write(tmp_path / "a.csv", "learner_id,skill_ids,correct,timestamp,item_id\n"
              "u1,4.1-basic;4.2-basic,1,2026-03-01T09:05:00Z,i1\n"
              "u1,4.1-basic,0,2026-03-01T09:00:00Z,i2\n"
              "u2,1.1-basic,true,1767225600,i3\n")
    log = read_events(p)
    assert len(log) == 3 and log.n_learners == 2
    assert log.skills_of(0) == ["4.1-basic", "4.2-basic"]
    first = int(log.sequence_order()[0])
    assert first == 1  # the 09:00 answer comes before the 09:05 one
    assert list(log.label) == [1, 0, 1]
    assert log.summary()["n_multi_skill_rows"] == 1


def test_events_jsonl_scores_and_lists(tmp_path):
    rows = [{"learner_id": "u1", "skill_ids": ["a", "b"], "score": 0.5, "order": 2},
            {"learner_id": "u1", "skill_id": "a", "correct": 1, "order": 1}]
    p = write(tmp_path / "a.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n\n")
    log = read_log(p, "events")
    assert log.score.tolist() == [0.5, 1.0]
    assert log.sequence_order().tolist() == [1, 0]


def test_events_parquet(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    t = pa.table({"learner_id": ["u1", "u1", "u2"], "skill_ids": ["a", "a;b", "b"], "correct": [1, 0, 1]})
    pq.write_table(t, tmp_path / "a.parquet")
    log = read_events(tmp_path / "a.parquet")
    assert len(log) == 3 and log.skills_of(1) == ["a", "b"]
    pq.write_table(pa.table({"learner_id": ["u1", "u2"], "skill_ids": ["a", "a"], "correct": [1, 7]}), tmp_path / "b.parquet")
    with pytest.raises(LogFormatError, match=r"b\.parquet, row 2: correct 7 is not 0 or 1"):
        read_events(tmp_path / "b.parquet")


def test_pybkt_csv_drops_rows_without_skill(tmp_path):
    p = write(tmp_path / "as.csv", "order_id,user_id,skill_name,correct,problem_id\n"
              "3,70363,Box and Whisker,1,5\n1,70363,Box and Whisker,0,4\n2,70363,,1,9\n")
    log = read_pybkt(p)
    assert len(log) == 2 and log.n_dropped == 1
    assert log.sequence_order().tolist() == [1, 0]


def test_lines_format_with_trailing_commas(tmp_path):
    p = write(tmp_path / "kt.csv", "3\n1,1,7,\n0,1,1,\n\n2\n7,9\n1,0\n")
    log = read_lines(p)
    assert len(log) == 5 and log.learner_ids == ["1", "2"]
    assert log.skill_ids == ["1", "7", "9"] and log.score.tolist() == [0, 1, 1, 1, 0]


@pytest.mark.parametrize(
    "name, text, fmt, message",
    [
        ("n.csv", "3\n1,1\n0,1,1\n", "lines", r"n\.csv, line 2: 2 skill ids, but line 1 says 3 responses"),
        ("c.csv", "2\n1,1\n0,2\n", "lines", r"c\.csv, line 3: answer '2' at position 2 is not 0 or 1"),
        ("h.csv", "x\n1\n0\n", "lines", r"h\.csv, line 1: expected the number of responses"),
        ("t.csv", "2\n1,1\n", "lines", r"t\.csv, line 1: sequence 1 is cut short"),
        ("e.csv", "learner_id,skill_ids,correct\nu1,a,1\nu1,a,maybe\n", "events", r"e\.csv, line 3: correct 'maybe' is not 0 or 1"),
        ("m.csv", "learner,skill_ids,correct\nu1,a,1\n", "events", r"m\.csv, line 1: missing column\(s\) learner_id"),
        ("s.csv", "learner_id,skill_ids,score\nu1,a,1.5\n", "events", r"s\.csv, line 2: score '1.5' is not a number in \[0, 1\]"),
        ("k.csv", "learner_id,skill_ids,correct\nu1,a;,1\n", "events", r"k\.csv, line 2: .*empty skill id"),
        ("ts.csv", "learner_id,skill_ids,correct,timestamp\nu1,a,1,yesterday\n", "events", r"ts\.csv, line 2: timestamp 'yesterday'"),
        ("j.jsonl", '{"learner_id": "u", "skill_ids": "a", "correct": 1}\n{"learner_id": \n', "events",
         r"j\.jsonl, line 2: not valid JSON"),
        ("p.csv", "user_id,skill_name,correct\n1,a,1\n", "pybkt", r"p\.csv, line 1: missing pyBKT column\(s\) order_id"),
        ("f.csv", "learner_id,skill_ids,correct\nu1,a,1,extra\n", "events", r"f\.csv, line 2: 4 fields, but the header has 3"),
    ],
)
def test_bad_files_name_file_line_and_problem(tmp_path, name, text, fmt, message):
    p = write(tmp_path / name, text)
    with pytest.raises(LogFormatError, match=message) as info:
        read_log(p, fmt)
    assert isinstance(info.value, ValueError) and isinstance(info.value, Invalid) and str(p) in str(info.value)


def test_missing_file_and_unknown_format(tmp_path):
    with pytest.raises(LogFormatError, match="file not found"):
        read_log(tmp_path / "nope.csv", "events")
    with pytest.raises(ValueError, match="unknown log format"):
        read_log(tmp_path / "x.csv", "xml")


def test_write_events_round_trip_and_folds(tmp_path):
    log = ResponseLog.from_sequences([(["a", ["a", "b"], "b"], [1, 0, 1]), (["b"], [0])])
    write_events_csv(log, tmp_path / "e.csv")
    again = read_events(tmp_path / "e.csv")
    assert len(again) == 4 and again.skills_of(1) == ["a", "b"]
    folds = again.learner_folds(2, seed=0)
    assert sorted(np.concatenate([te for _, te in folds]).tolist()) == [0, 1, 2, 3]


@pytest.mark.skipif(not (SHARED_DATA / "kt").is_dir(), reason=f"public KT data not found at {SHARED_DATA / 'kt'}")
def test_public_kt_splits_read_with_documented_counts():
    a = read_lines(SHARED_DATA / "kt" / "assist2009" / "train.csv")
    assert (len(a), a.n_learners) == (224_218, 2_921)
    s = read_lines(SHARED_DATA / "kt" / "statics2011" / "test.csv")
    assert (len(s), s.n_learners) == (59_113, 104)


def test_parquet_data_set_read_column_wise_equals_the_row_wise_reader(tmp_path):
    from tests.research.test_research_cli import small_log
    from tests.research.test_spark import write_lake
    from tutor.research import logs

    write_lake(small_log(60, 1), tmp_path / "lake")
    files = logs.parquet_files(tmp_path / "lake")
    assert [f.parent.name for f in files] == ["day=2026-11-01", "day=2026-11-02", "day=2026-11-03"]
    fast = logs._parquet_columns(files, "lake")
    assert fast is not None
    builder = logs.ResponseLogBuilder("lake")
    for f in files:
        logs._add_parquet(f, builder)
    slow = builder.build()
    for name in ("learner", "skill_ptr", "skill_idx", "score", "order", "learner_ids", "skill_ids"):
        assert np.array_equal(getattr(fast, name), getattr(slow, name)), name
    assert len(read_log(str(tmp_path / "lake" / "day=*" / "*.parquet"))) == len(slow)


def test_an_irregular_parquet_row_is_named_by_the_row_wise_reader(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"learner_id": ["a", "b"], "skill_ids": ["s", "s;s"], "correct": [1, 0]}), tmp_path / "x.parquet")
    with pytest.raises(LogFormatError, match=r"x.parquet, row 2: skill_ids 's;s' names a skill twice"):
        read_log(tmp_path, "events")
    with pytest.raises(LogFormatError, match="no Parquet files"):
        read_log(tmp_path / "nothing-*.parquet", "events")
