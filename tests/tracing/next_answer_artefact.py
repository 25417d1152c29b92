"""A small service artefact with a next-answer model, trained in the test run on a generated log (no large files committed).

`service_models(root)` writes ``root/models`` with ``active`` naming ``na-test``: the shipped BKT
(``bkt-synthetic-v1``'s files) plus ``next-answer/``, a next-answer model fitted on a generated log of
framework skills; and ``bkt-only``, the same BKT alone. `answer_log` generates such a log (learners, each with an ability, answering a few
skills in time order, some answers naming two skills), written as an `events` CSV.
"""

from __future__ import annotations

import csv
import functools
import math
import random
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tutor.research.training import train_artefact
from tutor.settings import PROJECT_ROOT

START = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
SKILLS = ("1.1-basic", "1.2-basic", "2.1-basic", "3.1-basic", "4.1-basic", "4.2-basic")
TINY = {"epochs": 2, "hidden": (16, 8), "embed_dim": 4, "bkt_restarts": 1, "batch_size": 128}


def answer_log(learners: int, answers: int, seed: int, prefix: str) -> list[dict]:
    """Rows (learner_id, skills, correct, timestamp), each learner's in time order, learners interleaved by time."""
    rng = random.Random(seed)
    rows = []
    for n in range(learners):
        z = rng.gauss(0.0, 1.0)
        known = {s: rng.random() < 1 / (1 + math.exp(-(z - 0.5))) for s in SKILLS}
        practised = rng.sample(SKILLS, k=rng.randint(2, len(SKILLS)))
        t = START + timedelta(minutes=rng.randrange(0, 600))
        for _ in range(answers):
            skills = [rng.choice(practised)]
            if rng.random() < 0.1:
                skills.append(rng.choice([s for s in SKILLS if s != skills[0]]))
            right = all(known[s] for s in skills)
            correct = rng.random() < (0.9 if right else 0.25)
            for s in skills:
                if not known[s] and rng.random() < 0.15:
                    known[s] = True
            rows.append({"learner_id": f"{prefix}{n}", "skills": skills, "correct": int(correct), "timestamp": t})
            t += timedelta(minutes=rng.randint(1, 90))
    rows.sort(key=lambda r: r["timestamp"])
    return rows


def write_events_csv(rows: list[dict], path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["learner_id", "skill_ids", "correct", "timestamp"])
        for r in rows:
            w.writerow([r["learner_id"], ";".join(r["skills"]), r["correct"], r["timestamp"].strftime("%Y-%m-%dT%H:%M:%SZ")])
    return path


@functools.cache
def service_models(root: Path) -> Path:
    """models/ with an active artefact that ships a next-answer model (trained once per test run)."""
    models = root / "models"
    artefact = models / "na-test"
    for directory in (artefact, models / "bkt-only"):  # the same BKT, with and without a next-answer model
        directory.mkdir(parents=True)
        for name in ("model.json", "metadata.json"):
            shutil.copy(PROJECT_ROOT / "models" / "bkt-synthetic-v1" / name, directory / name)
    data = write_events_csv(answer_log(160, 30, seed=1, prefix="train-"), root / "train.csv")
    train_artefact("next-answer", data, "events", artefact / "next-answer", seed=0, overrides=TINY, progress=False)
    (models / "active").write_text("na-test\n", encoding="utf-8")
    return models
