"""The service's Prometheus metrics: requests and latency by route template, events stored and skipped
by reason, the active model's version, the database pool.

Labels are closed sets: route templates (`/v1/learners/{learner_id}/mastery`), methods, statuses,
sources, kinds and reason codes; never a learner id, an event id or free text. Skip reasons are
sentences that may quote a verb IRI, so they are reduced to a code here (`reason_code`).

With several worker processes each writes its values to files in a shared folder (prometheus-client's
multiprocess mode, set up by service.py) and `/metrics` adds them up; with one worker the values
live in the process.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterable
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy.engine import Engine
from sqlalchemy.pool import QueuePool

REQUESTS = Counter("tutor_http_requests", "HTTP requests answered, by route template and status.", ["method", "route", "status"])
LATENCY = Histogram(
    "tutor_http_request_duration_seconds", "Time to answer, by route template.", ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
EVENTS = Counter("tutor_events", "Events received, by source, kind and outcome (stored, or duplicate: an id already stored).", ["source", "kind", "outcome"])
SKIPPED = Counter("tutor_events_skipped", "Events stored as skipped (acknowledged, not applied), by reason.", ["reason"])
MODEL = Gauge("tutor_model_info", "The mastery model a worker serves (1 for its version).", ["version"], multiprocess_mode="livemax")
POOL = Gauge("tutor_db_pool_connections", "Database connections of the workers' pools, by state.", ["state"], multiprocess_mode="livesum")
POOL_SIZE = Gauge("tutor_db_pool_size", "Configured size of the workers' database pools (before overflow).", multiprocess_mode="livesum")

REASONS = (  # (code, words that mark the reason) in the order tried; anything else is "other"
    ("untracked_verb", "is not tracked"),
    ("no_grade", "no result.success or result.score"),
    ("not_aligned", "not aligned"),
    ("no_framework_skill", "teaches no framework skill"),
    ("unknown_activity", "unknown activity"),
    ("voided", "void"),
)
CONTENT_TYPE = CONTENT_TYPE_LATEST


def reason_code(reason: str | None) -> str:
    """A skip reason as a closed label value.

    >>> reason_code("verb 'http://adlnet.gov/expapi/verbs/launched' is not tracked")
    'untracked_verb'
    >>> reason_code("something new")
    'other'
    """
    text = (reason or "").lower()
    return next((code for code, words in REASONS if words in text), "other")


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    REQUESTS.labels(method, route, str(status)).inc()
    LATENCY.labels(method, route).observe(seconds)


def count_events(outcomes: Iterable[tuple[str, str, str, str | None]]) -> None:
    """Count (source, kind, outcome, skip reason) of each event of a batch; one increment per label set."""
    tally: Tally[tuple[str, str, str]] = Tally()
    skipped: Tally[str] = Tally()
    for source, kind, outcome, reason in outcomes:
        tally[(source, kind, outcome)] += 1
        if kind == "skipped" and outcome == "stored":
            skipped[reason_code(reason)] += 1
    for labels, n in tally.items():
        EVENTS.labels(*labels).inc(n)
    for code, n in skipped.items():
        SKIPPED.labels(code).inc(n)


class ModelVersion:
    """Keeps tutor_model_info at 1 for the version this worker serves and 0 for one it served before."""

    def __init__(self) -> None:
        self.shown: str | None = None

    def show(self, version: str) -> None:
        if version != self.shown:
            if self.shown is not None:
                MODEL.labels(self.shown).set(0)
            MODEL.labels(version).set(1)
            self.shown = version


def observe_pool(engine: Engine) -> None:
    """The pool's connections now (SQLite's pool is not a queue pool and is left out)."""
    pool = engine.pool
    if isinstance(pool, QueuePool):
        POOL.labels("checked_out").set(pool.checkedout())
        POOL.labels("idle").set(pool.checkedin())
        POOL.labels("overflow").set(max(pool.overflow(), 0))
        POOL_SIZE.set(pool.size())


def exposition(shared_dir: Path | None) -> bytes:
    """The text format Prometheus scrapes: this process's registry, or every worker's files in `shared_dir`."""
    if shared_dir is None:
        return generate_latest()
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(shared_dir))
    return generate_latest(registry)
