"""Late and concurrent events end where a sequential replay in time order ends."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete

from tests.conftest import auth, with_settings
from tests.tracing.next_answer_artefact import service_models
from tutor.events.intake import LearnerEvent, record_events
from tutor.runtime import Runtime
from tutor.store.tables import AnswerHistory, Event
from tutor.tracing.equations import update

START = datetime(2026, 11, 1, tzinfo=UTC)


def event(i: int, learner: str, correct: bool) -> dict:
    return {"event_id": f"{learner}-{i}", "learner_id": learner, "item_id": "test-scams-1", "correct": correct,
            "timestamp": (START + timedelta(minutes=i)).isoformat()}


def p_of(client, key, learner) -> tuple[float, int]:
    body = client.get(f"/v1/learners/{learner}/mastery", headers=auth(key)).json()
    s = next(s for s in body["skills"] if s["skill_id"] == "4.2-basic")
    return s["p_mastered"], s["n_observations"]


def replay(runtime, grades: list[bool]) -> float:
    params = runtime.model.params("4.2-basic")
    p = params.prior
    for g in grades:
        p = update(p, float(g), params)
    return p


def test_late_answers_are_reconciled_into_time_order(client, keys, runtime):
    grades = [True, False, True, True, False, True]
    h = auth(keys["platform"])
    in_order = [event(i, "ordered", g) for i, g in enumerate(grades)]
    client.post("/v1/events", json={"events": in_order}, headers=h)
    shuffled = [event(i, "late", g) for i, g in enumerate(grades)]
    for batch in ([shuffled[0], shuffled[3]], [shuffled[5]], [shuffled[1], shuffled[4]], [shuffled[2]]):
        assert client.post("/v1/events", json={"events": batch}, headers=h).status_code == 200
    expected = replay(runtime, grades)
    for learner in ("ordered", "late"):
        p, n = p_of(client, keys["platform"], learner)
        assert abs(p - expected) < 1e-9 and n == len(grades), learner


def test_answers_over_days_in_any_order_end_as_the_sequential_replay(client, keys, runtime):
    rng = random.Random(8)
    times = sorted(START + timedelta(days=rng.randrange(6), minutes=rng.randrange(1440)) for _ in range(40))
    grades = [rng.random() < 0.6 for _ in times]
    events = [{"event_id": f"days-{i}", "learner_id": "days", "item_id": "test-scams-1", "correct": g, "timestamp": t.isoformat()}
              for i, (t, g) in enumerate(zip(times, grades))]
    rng.shuffle(events)
    h = auth(keys["platform"])
    for a in range(0, len(events), 3):
        assert client.post("/v1/events", json={"events": events[a:a + 3]}, headers=h).status_code == 200
    p, n = p_of(client, keys["platform"], "days")
    assert abs(p - replay(runtime, grades)) < 1e-9 and n == len(grades)


def test_a_late_answer_of_the_latest_day_replays_from_the_day_mark_only(client, keys, runtime):
    """The earlier days' answers are taken out of the table behind the service's back: a replay that read them
    could not end at the sequential result, so this shows the replay reads only the day of the late answer."""
    day3 = START + timedelta(days=2)
    sent = [(START + timedelta(hours=9 + i), g) for i, g in enumerate([True, False, True])]
    sent += [(START + timedelta(days=1, hours=9 + i), g) for i, g in enumerate([False, False, True])]
    sent += [(day3 + timedelta(hours=10), True), (day3 + timedelta(hours=12), False)]
    h = auth(keys["platform"])
    body = [{"event_id": f"mark-{i}", "learner_id": "mark", "item_id": "test-scams-1", "correct": g, "timestamp": t.isoformat()} for i, (t, g) in enumerate(sent)]
    assert client.post("/v1/events", json={"events": body}, headers=h).status_code == 200
    with runtime.session() as s, s.begin():
        s.execute(delete(Event).where(Event.occurred_at < day3))
    late = {"event_id": "mark-late", "learner_id": "mark", "item_id": "test-scams-1", "correct": True, "timestamp": (day3 + timedelta(hours=11)).isoformat()}
    assert client.post("/v1/events", json={"events": [late]}, headers=h).status_code == 200
    grades = [g for _, g in sorted([*sent, (day3 + timedelta(hours=11), True)])]
    p, n = p_of(client, keys["platform"], "mark")
    assert abs(p - replay(runtime, grades)) < 1e-9 and n == len(grades)


def test_two_workers_writing_one_learner_lose_no_update(runtime, settings, client, keys):
    rng = random.Random(3)
    grades = [rng.random() < 0.6 for _ in range(120)]
    events = [
        LearnerEvent(event_id=f"c-{i}", learner=runtime.pseudonym("shared"), kind="answer", occurred_at=START + timedelta(seconds=i),
                     source="events", skills=("4.2-basic",), score=float(g))
        for i, g in enumerate(grades)
    ]
    workers = [Runtime(settings, migrate=False) for _ in range(2)]
    halves = [events[0::2], events[1::2]]
    errors = []

    def send(worker: Runtime, mine: list[LearnerEvent]):
        try:
            for k in range(0, len(mine), 3):
                with worker.session() as s, s.begin():
                    record_events(s, mine[k:k + 3], worker.model)
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(w, h)) for w, h in zip(workers, halves)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for w in workers:
        w.engine.dispose()
    assert not errors
    p, n = p_of(client, keys["platform"], "shared")
    assert n == len(grades)
    assert abs(p - replay(runtime, grades)) < 1e-9


def test_two_workers_keep_one_next_answer_history(settings, tmp_path_factory):
    """With a next-answer model, the learner's history too ends where the answers in time order end (same locks as mastery)."""
    na_settings = with_settings(settings, tracing={"models_dir": service_models(tmp_path_factory.getbasetemp())})
    workers = [Runtime(na_settings, migrate=i == 0) for i in range(2)]
    rng = random.Random(5)
    answers = [(("4.2-basic",) if rng.random() < 0.6 else ("1.1-basic", "4.2-basic"), float(rng.random() < 0.6)) for _ in range(60)]
    learner = workers[0].pseudonym("shared")
    events = [LearnerEvent(event_id=f"n-{i}", learner=learner, kind="answer", occurred_at=START + timedelta(seconds=i), source="events", skills=sk, score=y)
              for i, (sk, y) in enumerate(answers)]
    errors = []

    def send(worker: Runtime, mine: list[LearnerEvent]):
        try:
            for k in range(0, len(mine), 4):
                with worker.session() as s, s.begin():
                    record_events(s, mine[k:k + 4], worker.model)
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(w, h)) for w, h in zip(workers, (events[0::2], events[1::2]))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    na = workers[0].model.next_answer
    with workers[0].session() as s:
        row = s.get(AnswerHistory, learner)
        assert row.n_answers == len(answers) and row.state == na.history_of(answers).to_json()
    for w in workers:
        w.engine.dispose()
