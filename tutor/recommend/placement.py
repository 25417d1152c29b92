"""Adaptive placement quiz for learners with no answers yet (cold start).

Model. The learner's knowledge is a vector of 48 known/not-known skills. The prior over such
vectors is a cloud of weighted profiles, drawn once (seeded, so every worker draws the same) in
prerequisite order: `profiles_per_point` profiles at each of `ability_points` abilities z on a grid
from -4 to 4, weighted by the N(0, 1) density (a grid, so that strong and weak learners are both
represented after many right or wrong answers); a skill whose prerequisites are all known
in the profile is known with probability sigmoid(c_s + ability_sd * z), a skill with a prerequisite
not known with probability `leak`; c_s is solved so that the share of profiles knowing the skill
(weighted) equals the skill's BKT prior of the active model. So the structure propagates: a right answer on an
intermediate item makes the profiles that know it, which nearly all know its prerequisites, weigh more.

Each answer reweighs the profiles by its likelihood (correct with probability 1 - slip if the item's
skills are known in the profile, else guess; guess and slip moved by the item's difficulty as in the
recommender). The next item is the one with the largest expected information gain: the expected drop
of the summed entropy (bits) of the 48 skills' marginals, over the two outcomes of the answer.

The pool: the library's items, and the platform's own (imported) items whose alignment is accepted
(`PlatformItem`, at most a few per skill in course order, given by the caller): an imported item has
no author's difficulty, so it comes with one from `tutor.catalog.difficulty` (its band's prior, then
its answers), and is drawn like any other when it tells the most, where the caller can show it
(`platform=True`: the API, whose client is the platform; the service's own quiz page grades with
the library's answer keys, so it asks bundled items only).

Stop: after `max_items` answers, when no item would gain `min_information_bits`, or when the pool
(items not yet asked in this quiz) is empty.

State is never kept in memory: every call rebuilds it from the learner's stored answers. Placement
answers are stored as events (kind `answer`, source `placement`, event id `placement:<learner
pseudonym prefix>:<client answer id>`, so retrying an answer id is a no-op) and are *not* folded into
mastery one by one. When the quiz ends, in the same transaction: every skill's mastery row is set to
the posterior marginal given all the learner's answers so far (placement answers and any regular
answer that arrived meanwhile), as the row's base (base_p, base_n, base_until = the latest of those
answers), so later late-answer replays start from the placement instead of counting its answers
again; and an end marker event (kind `skipped`, source `placement`, verb `completed`) is stored, so a
later change of settings or model never reopens a finished quiz.
A learner who already has answers (or mastery) when the quiz would start is refused: placement is
for cold start, and their mastery already comes from their answers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from tutor.clock import as_utc
from tutor.content.library import Item, Library
from tutor.errors import Conflict, Invalid
from tutor.recommend.policy import PlacementProgress, item_guess_slip
from tutor.store.bulk_writes import insert_events, insert_learners
from tutor.store.tables import Event, Mastery
from tutor.tracing.artefacts import MasteryModel
from tutor.tracing.equations import sigmoid

SOURCE = "placement"


class PlacementConfig(BaseModel):
    """Constants of the placement quiz; the `placement` section of `tutor.settings.Settings`
    (environment: TUTOR_PLACEMENT_<FIELD IN CAPITALS>; difficulty_slope from TUTOR_REC_DIFFICULTY_SLOPE)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_items: int = Field(12, ge=1, description="Most questions the placement quiz asks.")
    min_information_bits: float = Field(0.02, description="The quiz ends when the best next question would tell less than this (bits).")
    ability_points: int = Field(33, ge=3, description="Grid of abilities z from -4 to 4 behind the knowledge profiles.")
    profiles_per_point: int = Field(128, ge=8, description="Knowledge profiles drawn per ability point.")
    ability_sd: float = Field(1.0, description="How strongly ability moves each skill's chance of being known (logit scale).")
    leak: float = Field(0.02, ge=0.0, lt=1.0, description="Chance a skill is known although a prerequisite is not.")
    seed: int = Field(20261123, description="Seed of the drawn profiles (the same quiz on every worker).")
    clip: float = Field(0.01, ge=0.0, lt=0.5, description="Written mastery lies in [clip, 1 - clip].")
    difficulty_slope: float = Field(1.0, description="As the recommendation policy's difficulty slope.")


@dataclass(frozen=True)
class Evidence:
    """One graded answer as the model sees it."""

    item_id: str | None
    skills: tuple[str, ...]
    score: float


@dataclass(frozen=True)
class PlatformItem:
    """An imported item the quiz may ask: its activity id, accepted skills, difficulty, and what to show (the platform grades it)."""

    id: str
    skills: tuple[str, ...]
    difficulty: float
    question: str
    options: tuple[str, ...]
    platform: str
    key: str
    course: str | None


def _entropy_bits(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return -(p * np.log2(p) + (1 - p) * np.log2(1 - p))


def placed_skills(library: Library) -> list[str]:
    """The skills the quiz models: not those the framework marks `no_lesson` (levels 5-8 today). No item can
    measure them, and a profile model calibrated to their prior would pass a strong learner's mastery of
    level 4 up to levels 5-8 unseen; their mastery stays at the prior until lessons exist."""
    return [s.id for s in library.framework.skills if s.no_lesson is None]


class PlacementModel:
    """Particles over knowledge profiles, the item pool, posterior and item choice."""

    def __init__(self, library: Library, model: MasteryModel, config: PlacementConfig, platform_items: Sequence[PlatformItem] = (), stamp: object = None):
        self.items_ref = library.items
        self.stamp = stamp  # what the platform items were read at (the caller's, to know when to rebuild)
        self._threads: Any = None  # threadpoolctl's controller, made on the first quiz step
        self.model = model
        self.config = config
        self.skills = placed_skills(library)
        self.index = {s: i for i, s in enumerate(self.skills)}
        self.X, self.prior_w = self._draw(library, model, config)
        self.log_prior_w = np.log(self.prior_w)
        self.Xf = self.X.astype(np.float64)
        self.platform = {it.id: it for it in platform_items if it.id not in library.items and it.skills and all(s in self.index for s in it.skills)}
        pool = sorted([iid for iid, (_, item) in library.items.items() if item.skills and all(s in self.index for s in item.skills)] + list(self.platform))
        self.pool = pool
        self.item_pos = {iid: i for i, iid in enumerate(pool)}
        units: dict[tuple[str, ...], int] = {}
        unit_of, guess, slip = [], [], []
        for iid in pool:
            skills, difficulty = self._skills_difficulty(library, iid)
            key = tuple(sorted(skills))
            unit_of.append(units.setdefault(key, len(units)))
            gs = [item_guess_slip(model.params(s), difficulty, config.difficulty_slope) for s in skills]
            guess.append(sum(g for g, _ in gs) / len(gs))
            slip.append(sum(s for _, s in gs) / len(gs))
        self.units = list(units)
        self.unit_of = np.array(unit_of, dtype=np.int64)
        self.guess = np.array(guess)
        self.slip = np.array(slip)
        self.K = np.column_stack([self.X[:, [self.index[s] for s in u]].all(axis=1) for u in self.units]).astype(np.float64) if self.units else np.zeros((len(self.X), 0))
        self.KT = np.ascontiguousarray(self.K.T)
        self.item_lesson = {iid: library.items[iid][0].id if iid in library.items else None for iid in pool}
        self.item_skills = {iid: self._skills_difficulty(library, iid)[0] for iid in pool}
        self._first: dict[bool, tuple[str | None, float]] = {}
        self._bundled = np.array([iid not in self.platform for iid in pool], dtype=bool)

    def _skills_difficulty(self, library: Library, iid: str) -> tuple[tuple[str, ...], float]:
        if iid in self.platform:
            return self.platform[iid].skills, self.platform[iid].difficulty
        item = library.items[iid][1]
        return tuple(item.skills), item.difficulty

    @staticmethod
    def _draw(library: Library, model: MasteryModel, cfg: PlacementConfig) -> tuple[np.ndarray, np.ndarray]:
        """Profiles on a grid of abilities (so the tails are covered) and their prior weights."""
        rng = np.random.default_rng(cfg.seed)
        skills = placed_skills(library)
        index = {s: i for i, s in enumerate(skills)}
        grid = np.linspace(-4.0, 4.0, cfg.ability_points)
        dens = np.exp(-0.5 * grid**2)
        z = np.repeat(grid, cfg.profiles_per_point)
        prior_w = np.repeat(dens / dens.sum() / cfg.profiles_per_point, cfg.profiles_per_point)
        M = len(z)
        X = np.zeros((M, len(skills)), dtype=bool)
        done: set[str] = set()

        def visit(sid: str) -> None:
            if sid in done:
                return
            done.add(sid)
            prereqs = library.skills[sid].prerequisites
            for p in prereqs:
                visit(p)
            g = X[:, [index[p] for p in prereqs]].all(axis=1) if prereqs else np.ones(M, dtype=bool)
            target = model.params(sid).prior
            lo, hi = -12.0, 12.0
            for _ in range(50):  # bisection: the share knowing the skill equals its prior
                mid = (lo + hi) / 2
                share = prior_w @ np.where(g, sigmoid(mid + cfg.ability_sd * z), cfg.leak)
                lo, hi = (mid, hi) if share < target else (lo, mid)
            p_known = np.where(g, sigmoid((lo + hi) / 2 + cfg.ability_sd * z), cfg.leak)
            X[:, index[sid]] = rng.random(M) < p_known

        for s in skills:
            visit(s)
        return X, prior_w

    # ------------------------------------------------------------------ inference
    def _one_blas_thread(self) -> Any:
        """These products are small: BLAS threads cost far more than they save (hundreds of ms on 2 cores)."""
        if self._threads is None:
            from threadpoolctl import ThreadpoolController  # lazy: inspecting the loaded BLAS libraries costs memory at start-up

            self._threads = ThreadpoolController()
        return self._threads.limit(limits=1, user_api="blas")

    def weights(self, evidence: list[Evidence]) -> np.ndarray:
        lw = self.log_prior_w.copy()
        for e in evidence:
            idx = [self.index[s] for s in e.skills if s in self.index]
            if not idx:
                continue
            known = self.X[:, idx].all(axis=1)
            if e.item_id in self.item_pos:
                k = self.item_pos[e.item_id]
                g, s = self.guess[k], self.slip[k]
            else:
                ps = [self.model.params(sk) for sk in e.skills if sk in self.index]
                g, s = sum(p.guess for p in ps) / len(ps), sum(p.slip for p in ps) / len(ps)
            right = np.where(known, 1 - s, g)
            lw += np.log(e.score * right + (1 - e.score) * (1 - right))
        w = np.exp(lw - lw.max())
        return w / w.sum()

    def marginals(self, w: np.ndarray) -> dict[str, float]:
        with self._one_blas_thread():
            m = w @ self.Xf
        return {s: float(m[i]) for i, s in enumerate(self.skills)}

    def best_item(self, w: np.ndarray, asked: set[str], platform: bool = False) -> tuple[str | None, float]:
        """The item of the pool (not yet asked) with the largest expected entropy drop, in bits."""
        if not asked and platform in self._first and np.allclose(w, self.prior_w):
            return self._first[platform]
        with self._one_blas_thread():
            return self._best_item(w, asked, platform)

    def _best_item(self, w: np.ndarray, asked: set[str], platform: bool) -> tuple[str | None, float]:
        open_items = np.array([iid not in asked for iid in self.pool], dtype=bool) & (True if platform else self._bundled)
        if not open_items.any():
            return None, 0.0
        m = w @ self.Xf  # (S,)
        pi = w @ self.K  # (U,)
        A = (self.KT * w[None, :]) @ self.Xf  # (U, S): P(unit known and skill known)
        u = self.unit_of
        g, s = self.guess[:, None], self.slip[:, None]
        Au, piu = A[u], pi[u][:, None]
        pc = piu * (1 - s) + (1 - piu) * g
        mc = ((1 - s) * Au + g * (m[None, :] - Au)) / np.maximum(pc, 1e-12)
        mw = (s * Au + (1 - g) * (m[None, :] - Au)) / np.maximum(1 - pc, 1e-12)
        after = pc[:, 0] * _entropy_bits(mc).sum(axis=1) + (1 - pc[:, 0]) * _entropy_bits(mw).sum(axis=1)
        gain = _entropy_bits(m).sum() - after
        gain = np.where(open_items, gain, -np.inf)
        k = int(np.argmax(gain))  # pool is sorted by id, so ties go to the smaller id
        out = (self.pool[k], float(gain[k]))
        if not asked and np.allclose(w, self.prior_w):
            self._first[platform] = out
        return out


# ------------------------------------------------------------------------------ stored state
@dataclass(frozen=True)
class StoredAnswer:
    event_id: str
    item_id: str | None
    skills: tuple[str, ...]
    score: float
    occurred_at: datetime
    source: str


@dataclass
class QuizState:
    answers: list[StoredAnswer]  # every answer of the learner, time order
    placement: list[StoredAnswer]  # the quiz's answers, time order
    completed: bool
    has_mastery: bool

    @property
    def evidence(self) -> list[Evidence]:
        return [Evidence(a.item_id, a.skills, a.score) for a in self.answers]


@dataclass
class Step:
    status: str  # "in_progress" | "complete"
    answered: int
    max_items: int
    next_item: str | None
    information_bits: float
    duplicate: bool = False
    completed_now: bool = False
    estimate: dict[str, float] | None = None  # marginals, when complete


def event_id_for(learner: str, answer_id: str) -> str:
    return f"placement:{learner[:24]}:{answer_id}"


def marker_id(learner: str) -> str:
    return f"placement:{learner[:24]}:completed"


def read_quiz(session: Session, learner: str) -> QuizState:
    rows = session.execute(
        select(Event.event_id, Event.kind, Event.item_id, Event.skills, Event.score, Event.occurred_at, Event.source)
        .where(Event.learner_id == learner, (Event.kind == "answer") | (Event.source == SOURCE))
        .order_by(Event.occurred_at, Event.id)
    ).all()
    answers, placement, completed = [], [], False
    for event_id, kind, item_id, skills, score, occurred, source in rows:
        if kind == "answer":
            a = StoredAnswer(event_id, item_id, tuple(skills or ()), float(score or 0.0), as_utc(occurred), source)
            answers.append(a)
            if source == SOURCE:
                placement.append(a)
        elif source == SOURCE and event_id == marker_id(learner):
            completed = True
    has_mastery = bool(session.scalar(select(func.count()).select_from(Mastery).where(Mastery.learner_id == learner)))
    return QuizState(answers, placement, completed, has_mastery)


def progress(pm: PlacementModel, quiz: QuizState, platform: bool = False) -> Step:
    """Where the quiz stands, with no writes."""
    cfg = pm.config
    if quiz.completed:
        return Step("complete", len(quiz.placement), cfg.max_items, None, 0.0)
    w = pm.weights(quiz.evidence)
    asked = {a.item_id for a in quiz.placement if a.item_id}
    nxt, bits = pm.best_item(w, asked, platform)
    if len(quiz.placement) >= cfg.max_items or nxt is None or (quiz.placement and bits < cfg.min_information_bits):
        return Step("complete", len(quiz.placement), cfg.max_items, None, 0.0, estimate=pm.marginals(w))
    return Step("in_progress", len(quiz.placement), cfg.max_items, nxt, bits)


def answer(
    session: Session,
    learner: str,
    library: Library,
    pm: PlacementModel,
    now: datetime,
    submitted: tuple[str, str, bool, datetime] | None,
    platform: bool = False,
) -> Step:
    """Start, resume or answer the quiz (submitted = answer id, item id, correct, answered at); the caller commits."""
    insert_learners(session, [learner], now)  # creates the learner; on PostgreSQL also locks it
    quiz = read_quiz(session, learner)
    if not quiz.placement and not quiz.completed and (quiz.answers or quiz.has_mastery):
        raise Conflict(
            f"This learner already has {len(quiz.answers)} answer(s) or stored mastery; the placement quiz is only for learners "
            "with no answers yet. GET /v1/learners/{learner_id}/next recommends from what they have answered.",
        )
    duplicate = False
    if submitted is not None:
        answer_id, item_id, correct, answered_at = submitted
        eid = event_id_for(learner, answer_id)
        previous = next((a for a in quiz.placement if a.event_id == eid), None)
        if previous is not None:
            if previous.item_id != item_id or previous.score != float(correct):
                raise Conflict(f"answer_id {answer_id!r} was already used for a different answer (item {previous.item_id!r}); use a new id for a new answer.")
            duplicate = True
        elif quiz.completed:
            raise Conflict("This learner's placement quiz is already complete; GET /v1/learners/{learner_id}/next for what to study.")
        elif item_id in {a.item_id for a in quiz.placement}:
            raise Invalid(f"item {item_id!r} was already answered in this quiz (answer id of that answer: "
                                        f"{next(a.event_id for a in quiz.placement if a.item_id == item_id).rsplit(':', 1)[-1]!r}).")
        else:
            if item_id not in pm.item_skills:
                raise Invalid(f"item {item_id!r} is not one the quiz asks; answer the quiz's next_item")
            skills = pm.item_skills[item_id]
            row = {
                "event_id": eid, "learner_id": learner, "kind": "answer", "item_id": item_id, "lesson_id": pm.item_lesson[item_id],
                "skills": list(skills), "score": float(correct), "occurred_at": answered_at, "duration_seconds": None,
                "attempt": None, "source": SOURCE, "verb": "answered", "skip_reason": None, "received_at": now,
            }
            if insert_events(session, [row]):
                new = StoredAnswer(eid, item_id, skills, float(correct), answered_at, SOURCE)
                quiz.answers = sorted(quiz.answers + [new], key=lambda a: a.occurred_at)
                quiz.placement = sorted(quiz.placement + [new], key=lambda a: a.occurred_at)
            else:
                duplicate = True
    step = progress(pm, quiz, platform)
    step.duplicate = duplicate
    if step.status == "complete" and not quiz.completed and quiz.placement:
        _write_mastery(session, learner, pm, quiz, step.estimate or pm.marginals(pm.weights(quiz.evidence)), now)
        step.completed_now = True
    elif step.status == "complete" and quiz.completed:
        step.estimate = None
    return step


def _write_mastery(session: Session, learner: str, pm: PlacementModel, quiz: QuizState, marginals: dict[str, float], now: datetime) -> None:
    cfg = pm.config
    until = max(a.occurred_at for a in quiz.answers)
    counts: dict[str, int] = {}
    for a in quiz.answers:
        for s in a.skills:
            counts[s] = counts.get(s, 0) + 1
    rows = []
    for sid in pm.skills:
        p = min(1 - cfg.clip, max(cfg.clip, marginals[sid]))
        n = counts.get(sid, 0)
        rows.append({"learner_id": learner, "skill_id": sid, "p_mastered": p, "n_observations": n, "updated_at": now,
                     "last_event_at": until, "base_p": p, "base_n": n, "base_until": until})
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(Mastery.__table__)
    stmt = stmt.on_conflict_do_update(
        index_elements=["learner_id", "skill_id"],
        set_={c: stmt.excluded[c] for c in ("p_mastered", "n_observations", "updated_at", "last_event_at", "base_p", "base_n", "base_until")},
    )
    session.execute(stmt, rows)
    insert_events(session, [{
        "event_id": marker_id(learner), "learner_id": learner, "kind": "skipped", "item_id": None, "lesson_id": None, "skills": [],
        "score": None, "occurred_at": now, "duration_seconds": None, "attempt": None, "source": SOURCE, "verb": "completed",
        "skip_reason": f"placement quiz complete after {len(quiz.placement)} answer(s); mastery initialised for {len(rows)} skills",
        "received_at": now,
    }])


def quiz_progress_for_next(session: Session, learner: str, pm: PlacementModel, platform: bool = False) -> PlacementProgress | None:
    """For GET .../next: the quiz's progress for a learner without mastery, or None when it is over."""
    quiz = read_quiz(session, learner)
    if quiz.completed or quiz.has_mastery or (quiz.answers and not quiz.placement):
        return None
    step = progress(pm, quiz, platform)
    if step.status == "complete":
        return None
    imported = pm.platform.get(step.next_item or "")
    return PlacementProgress(answered=step.answered, max_items=step.max_items, next_item=step.next_item,
                             item=stand_in_item(imported.id, imported.skills, imported.difficulty) if imported else None)


def stand_in_item(item_id: str, skills: Sequence[str], difficulty: float) -> Item:
    """An `Item` the success predictor can read (id, skills, difficulty) for an imported activity; its text is never read there."""
    fields: dict[str, Any] = {"id": item_id, "skills": list(skills), "difficulty": difficulty}
    return Item.model_construct(**fields)


def entropy_bits(marginals: Mapping[str, float]) -> float:
    """Summed entropy of the marginals, in bits (for reports and tests)."""
    return float(sum(0.0 if p <= 0 or p >= 1 else -(p * math.log2(p) + (1 - p) * math.log2(1 - p)) for p in marginals.values()))
