"""Simulated learners to compare study policies: `tutor simulate --policy ours|fixed|random`.

A simulated learner has a *true* knowledge state (known / not known per skill) that evolves by the
BKT parameters of the active model artefact, and the service's *estimate* of it (a `LearnerState`),
updated after every answer with `tutor.tracing.equations.update`, the function the service applies to every
stored answer.

Learners differ (all drawn from `--seed`, the same learners for every policy):

* speed: the BKT learn rate of every skill is multiplied by exp(N(0, speed_sd)) (capped at 0.95);
* prior knowledge: an ability z ~ N(0, 1); in prerequisite order, a skill whose prerequisites are all
  known is known at the start with probability sigmoid(logit(prior) + ability_sd * z), a skill with
  a prerequisite not known with probability `leak`;
* prerequisites matter: while a prerequisite is not truly known, the learn rate is multiplied by
  `prereq_penalty`.

One step = study one lesson (a learning opportunity for each of its skills) and answer all its items
(each answer: correct with probability 1 - slip if the item's skills are known, else guess, both moved
by the item's difficulty exactly as the predictor does; then the estimate is updated and the true state
takes BKT's learn / forget transition). Steps happen `steps_per_day` a day, `minutes_per_step` apart,
so the recommender's recent-lesson window and forgetting see a plausible clock. A learner stops when
every goal skill is truly known (mastery reached) or after `budget` steps.

Policies: `ours` = `Recommender.recommend` (n=1) on the learner's estimated state, the code path of
GET /v1/learners/{id}/next; when it proposes nothing (everything left was just studied, or the
estimate says the goal is mastered while the truth says not) the learner waits for the next day,
which costs no step. `fixed` = the lessons of the goal and its prerequisites in the framework's
order, again and again, skipping nothing. `random` = a lesson of that same set drawn uniformly.
With `placement`, `ours` first takes the service's placement quiz (tutor.recommend.placement, answered from the
true state, no learning meanwhile) and starts from the mastery it writes; its items are reported
apart (`mean_placement_items`), not counted as steps.
"""

from __future__ import annotations

import math
import random
import statistics
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from tutor.content.library import Library
from tutor.recommend.placement import PlacementConfig, PlacementModel, QuizState, StoredAnswer, progress
from tutor.recommend.policy import Goal, LearnerState, Policy, Recommender, SkillRecord, item_guess_slip, record_answer
from tutor.tracing.artefacts import MasteryModel
from tutor.tracing.equations import logit, update

PolicyName = Literal["ours", "fixed", "random"]
START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


@dataclass(frozen=True)
class SimConfig:
    learners: int = 2000
    seed: int = 0
    budget: int = 200
    goal: str | None = None
    speed_sd: float = 0.5
    ability_sd: float = 1.2
    leak: float = 0.02
    prereq_penalty: float = 0.3
    minutes_per_step: float = 20.0
    steps_per_day: int = 4
    max_days: int = 730
    placement: bool = False  # ours only: take the placement quiz before the first lesson


@dataclass
class LearnerOutcome:
    reached: bool
    steps: int
    known_shown: int  # lessons shown whose skills the learner already truly knew
    reviews: int = 0
    waits: int = 0  # days ended early because the policy proposed nothing
    known_at_start: int = 0
    placement_items: int = 0


def topological(library: Library) -> list[str]:
    """Skills with every prerequisite before the skills that need it (framework order otherwise)."""
    done: list[str] = []
    seen: set[str] = set()

    def visit(sid: str) -> None:
        if sid in seen:
            return
        seen.add(sid)
        for p in library.skills[sid].prerequisites:
            visit(p)
        done.append(sid)

    for s in library.framework.skills:
        visit(s.id)
    return done


class World:
    """The library, the model and everything the three policies share, prepared once."""

    def __init__(self, library: Library, model: MasteryModel, config: SimConfig, policy: Policy | None = None):
        self.library, self.model, self.config = library, model, config
        self.recommender = Recommender(policy or Policy())
        self.goal: Goal = self.recommender.goal(library, model, config.goal)
        prep = self.recommender.prepared(library, model)
        work = set(self.goal.skills)
        for s in self.goal.skills:
            work |= prep.ancestors[s]
        self.work = work
        order = {s.id: i for i, s in enumerate(library.framework.skills)}
        lessons = [lid for lid, skills in prep.lesson_skills.items() if set(skills) & work]
        self.course = sorted(lessons, key=lambda lid: (min(order[s] for s in prep.lesson_skills[lid]), lid))
        missing = [s for s in self.goal.skills if not prep.lessons_by_skill[s]]
        if missing:
            raise ValueError(f"no lesson teaches goal skill(s) {', '.join(missing)}: the simulation needs the full library")
        self.topo = topological(library)
        self.params = {s: model.params(s) for s in library.skills}
        slope = self.recommender.policy.difficulty_slope
        self.items = {
            lid: [(item.id, tuple(item.skills), *item_guess_slip(model.params(item.skills[0]), item.difficulty, slope)) for item in library.lessons[lid].items]
            for lid in lessons
        }
        self.lesson_skills = {lid: prep.lesson_skills[lid] for lid in lessons}
        self.prereqs = {s: tuple(library.skills[s].prerequisites) for s in library.skills}
        self.placement_model: PlacementModel | None = None
        if config.placement:
            self.placement_model = PlacementModel(library, model, PlacementConfig(difficulty_slope=slope))

    # ------------------------------------------------------------------ one learner
    def run_learner(self, index: int, policy: PolicyName) -> LearnerOutcome:
        cfg = self.config
        traits = random.Random(f"{cfg.seed}/{index}/traits")
        rng = random.Random(f"{cfg.seed}/{index}/run")
        speed = math.exp(traits.gauss(0.0, cfg.speed_sd))
        z = traits.gauss(0.0, 1.0)
        known: dict[str, bool] = {}
        for s in self.topo:
            if all(known.get(p, False) for p in self.prereqs[s]):
                p = 1.0 / (1.0 + math.exp(-(logit(self.params[s].prior) + cfg.ability_sd * z)))
            else:
                p = cfg.leak
            known[s] = traits.random() < p
        learn = {s: min(0.95, self.params[s].learn * speed) for s in self.topo}
        goal = self.goal.skills
        out = LearnerOutcome(reached=False, steps=0, known_shown=0, known_at_start=sum(known[s] for s in goal))
        if all(known[s] for s in goal):
            out.reached = True
            return out
        state = LearnerState()
        now = START
        if policy == "ours" and self.placement_model is not None:
            out.placement_items = self._placement(state, known, rng, now)
        day_start = START
        steps_today = 0
        course_pos = 0

        def learn_once(s: str) -> None:
            if known[s]:
                f = self.params[s].forget
                if f > 0 and rng.random() < f:
                    known[s] = False
                return
            rate = learn[s]
            if any(not known[p] for p in self.prereqs[s]):
                rate *= cfg.prereq_penalty
            if rng.random() < rate:
                known[s] = True

        def next_day() -> None:
            nonlocal now, day_start, steps_today
            day_start = day_start + timedelta(days=1)
            now, steps_today = day_start, 0

        while out.steps < cfg.budget:
            if policy == "ours":
                res = self.recommender.recommend(self.library, self.model, state, self.goal, now, n=1)
                if not res.recommendations:
                    out.waits += 1
                    next_day()
                    if (now - START).days > cfg.max_days:
                        break
                    continue
                rec = res.recommendations[0]
                assert rec.lesson_id is not None  # recommend() with kind="lesson" names the lesson
                lesson = rec.lesson_id
                out.reviews += rec.reason == "review"
            elif policy == "fixed":
                lesson = self.course[course_pos % len(self.course)]
                course_pos += 1
            else:
                lesson = self.course[rng.randrange(len(self.course))]
            skills = self.lesson_skills[lesson]
            out.known_shown += all(known[s] for s in skills)
            for s in skills:  # studying the lesson
                learn_once(s)
            for item_id, item_skills, guess, slip in self.items[lesson]:
                if all(known[s] for s in item_skills):
                    score = 1.0 if rng.random() >= slip else 0.0
                else:
                    score = 1.0 if rng.random() < guess else 0.0
                for s in item_skills:
                    rec_s = state.skills.get(s)
                    if rec_s is None:
                        rec_s = state.skills[s] = SkillRecord(self.params[s].prior)
                    rec_s.p = update(rec_s.p, score, self.params[s])
                    rec_s.n += 1
                    rec_s.last = now
                    learn_once(s)
                record_answer(self.model, state, item_skills, score)
                state.recent_items[item_id] = now
            state.recent_lessons[lesson] = now
            out.steps += 1
            if all(known[s] for s in goal):
                out.reached = True
                break
            steps_today += 1
            if steps_today >= cfg.steps_per_day:
                next_day()
            else:
                now = now + timedelta(minutes=cfg.minutes_per_step)
        return out


    def _placement(self, state: LearnerState, known: dict[str, bool], rng: random.Random, now: datetime) -> int:
        """The service's placement quiz (tutor.recommend.placement.progress), answered from the true state; no learning meanwhile."""
        pm = self.placement_model
        assert pm is not None  # called only when the world has a placement model
        quiz = QuizState([], [], False, False)
        while True:
            step = progress(pm, quiz)
            if step.status == "complete":
                break
            assert step.next_item is not None  # an in-progress step names the next item
            k = pm.item_pos[step.next_item]
            skills = pm.item_skills[step.next_item]
            if all(known[s] for s in skills):
                score = 1.0 if rng.random() >= pm.slip[k] else 0.0
            else:
                score = 1.0 if rng.random() < pm.guess[k] else 0.0
            a = StoredAnswer(f"p{len(quiz.placement)}", step.next_item, skills, score, now, "placement")
            quiz.answers.append(a)
            quiz.placement.append(a)
        lo, hi = pm.config.clip, 1 - pm.config.clip
        counts: dict[str, int] = {}
        for a in quiz.answers:
            for s in a.skills:
                counts[s] = counts.get(s, 0) + 1
        assert step.estimate is not None  # the quiz here is never marked completed, so the last step has the estimate
        for sid, p in step.estimate.items():
            state.skills[sid] = SkillRecord(min(hi, max(lo, p)), counts.get(sid, 0), now)
        return len(quiz.placement)


# ---------------------------------------------------------------------- running many learners
_WORLD: World | None = None


def _init_worker(world: World) -> None:
    global _WORLD
    _WORLD = world


def _run_chunk(args: tuple[PolicyName, list[int]]) -> list[LearnerOutcome]:
    policy, indices = args
    assert _WORLD is not None  # set by _init_worker in every worker
    return [_WORLD.run_learner(i, policy) for i in indices]


def run_policy(world: World, policy: PolicyName, jobs: int = 1) -> list[LearnerOutcome]:
    indices = list(range(world.config.learners))
    if jobs <= 1:
        return [world.run_learner(i, policy) for i in indices]
    import multiprocessing as mp

    size = max(1, len(indices) // (jobs * 8))
    chunks = [(policy, indices[i:i + size]) for i in range(0, len(indices), size)]
    ctx = mp.get_context("fork")
    with ctx.Pool(jobs, initializer=_init_worker, initargs=(world,)) as pool:
        parts = pool.map(_run_chunk, chunks)
    return [o for part in parts for o in part]


def mean_ci(values: list[float]) -> tuple[float, float, float]:
    """Mean with a normal-approximation 95% confidence interval."""
    if not values:
        return float("nan"), float("nan"), float("nan")
    m = statistics.fmean(values)
    if len(values) < 2:
        return m, m, m
    half = 1.96 * statistics.stdev(values) / math.sqrt(len(values))
    return m, m - half, m + half


def _subgroup(outcomes: list[LearnerOutcome], budget: int) -> dict:
    """The learners who already knew a third of the goal: where skipping what is known matters most."""
    if not outcomes:
        return {"learners": 0}
    m, lo, hi = mean_ci([float(o.steps if o.reached else budget) for o in outcomes])
    return {
        "learners": len(outcomes),
        "mean_steps_budget_censored": round(m, 3),
        "ci95": [round(lo, 3), round(hi, 3)],
        "mean_known_lessons_shown": round(statistics.fmean(o.known_shown for o in outcomes), 3),
    }


def summarise(policy: str, world: World, outcomes: list[LearnerOutcome], seconds: float) -> dict:
    cfg = world.config
    reached = [o for o in outcomes if o.reached]
    steps = [float(o.steps) for o in reached]
    m, lo, hi = mean_ci(steps)
    censored = [float(o.steps if o.reached else cfg.budget) for o in outcomes]
    cm, clo, chi = mean_ci(censored)
    shown = [float(o.known_shown) for o in outcomes]
    sm, slo, shi = mean_ci(shown)
    q = sorted(steps)
    return {
        "policy": policy + ("+placement" if cfg.placement and policy == "ours" else ""),
        "learners": len(outcomes),
        "seed": cfg.seed,
        "budget": cfg.budget,
        "goal": world.goal.query,
        "goal_skills": len(world.goal.skills),
        "mean_steps_to_mastery": round(m, 3),
        "ci95_steps_to_mastery": [round(lo, 3), round(hi, 3)],
        "median_steps_to_mastery": q[len(q) // 2] if q else None,
        "p90_steps_to_mastery": q[int(0.9 * (len(q) - 1))] if q else None,
        "reached": len(reached),
        "share_reached": round(len(reached) / len(outcomes), 4) if outcomes else 0.0,
        "mean_steps_budget_censored": round(cm, 3),
        "ci95_steps_budget_censored": [round(clo, 3), round(chi, 3)],
        "mean_known_lessons_shown": round(sm, 3),
        "ci95_known_lessons_shown": [round(slo, 3), round(shi, 3)],
        "mean_known_goal_skills_at_start": round(statistics.fmean(o.known_at_start for o in outcomes), 3) if outcomes else 0.0,
        "mean_review_steps": round(statistics.fmean(o.reviews for o in outcomes), 3) if outcomes else 0.0,
        "mean_days_waited": round(statistics.fmean(o.waits for o in outcomes), 3) if outcomes else 0.0,
        "mean_placement_items": round(statistics.fmean(o.placement_items for o in outcomes), 3) if outcomes else 0.0,
        "knowing_a_third_at_start": _subgroup([o for o in outcomes if 3 * o.known_at_start >= len(world.goal.skills)], cfg.budget),
        "model_version": world.model.version,
        "config": {k: v for k, v in asdict(cfg).items() if k not in ("learners", "seed", "budget", "goal")},
        "seconds": round(seconds, 2),
    }


def simulate(library: Library, model: MasteryModel, policy: PolicyName, config: SimConfig, jobs: int = 1, rec_policy: Policy | None = None) -> dict:
    world = World(library, model, config, rec_policy)
    started = time.perf_counter()
    outcomes = run_policy(world, policy, jobs)
    return summarise(policy, world, outcomes, time.perf_counter() - started)
