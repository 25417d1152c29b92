"""What to study next: the recommendation policy, in process, with no HTTP or database in it.

The same `Recommender.recommend` serves `GET /v1/learners/{id}/next` (state read from the store by
`load_state`) and the simulated learners of `tutor simulate` (state kept in memory), so the
benchmark measures the code the service runs.

Policy (every constant is a field of `Policy`, the `recommend` section of the settings):

* Working set: the goal's skills and all their prerequisites (transitively).
* Current mastery decays with the time since the skill was last practised (the mastery row's
  `last_event_at`): p_now = floor + (p - floor) * 2 ** (-days / half_life), floor = the skill's
  BKT prior (values at or below the floor do not move). half_life = `half_life_days` (or a per-skill
  override) * min(`half_life_max_factor`, 1 + n_observations / `half_life_growth_obs`): practice
  makes memories last longer. The stored estimate is never changed by this; it is read-time only.
* A skill is *mastered* when its stored estimate reached `mastery_threshold` and its decayed value
  is still at or above `review_threshold`; *due for review* when it reached the threshold but has
  decayed below `review_threshold`; otherwise *not mastered*.
* Candidates: skills of the working set that are due for review (reason `review`), and skills not
  mastered whose direct prerequisites have all reached the mastery threshold (reason `ready` for a
  goal skill, `remediate` for a prerequisite outside the goal that goal skills wait on). A lesson
  that teaches any skill whose prerequisites are not done is never proposed.
* Score of a lesson = sum over its candidate skills of
  gain * (1 + `unlock_weight` * unlocks) + `zpd_weight` * zpd_fit, where gain = (1 - p_now) *
  (1 - (1 - learn) ** (1 + items)) is BKT's expected rise in P(known) from studying the lesson and
  answering its items, unlocks = not-mastered working-set skills that depend on it (transitively),
  and zpd_fit = 1 when the predicted success on the lesson's items lies in [`zpd_low`, `zpd_high`],
  falling linearly to 0 at `zpd_width` outside the band. Ties go to the smaller lesson id: the
  ranking never uses course order, and is deterministic for the same state.
* Lessons studied or answered within `recent_minutes` are not proposed again (listed in
  `recently_done`); items answered within that window are not proposed as practice.
* Predicted success of an item = `SuccessPredictor` (swappable); the default is BKT's p_correct
  with guess and slip moved by the item's difficulty on the logit scale (`difficulty_slope`). When the
  active artefact ships a next-answer model, it is that model's P(correct) from the learner's stored
  answer history (the mean over the item's skills, as the model scores an answer of several skills),
  moved by the item's difficulty on the logit scale the same way (an item of difficulty 0.5 gets
  exactly the model's prediction); BKT stays the mastery.
* The platform's own lessons and items (`PlatformLesson`, from `recommend`'s `platform` source,
  asked for the candidate skills) are candidates like the bundled lessons, scored by the same rule;
  an imported item is a lesson of one item. `allowed` may name them too.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import func, select

from tutor.clock import as_utc
from tutor.content.library import Item, Library
from tutor.errors import Invalid
from tutor.store.tables import Event, Learner, Mastery
from tutor.tracing.artefacts import MasteryModel
from tutor.tracing.equations import SkillParams, logit, sigmoid
from tutor.tracing.histories import stored_history
from tutor.tracing.next_answer import LearnerHistory, NextAnswerModel

Reason = Literal["ready", "review", "remediate", "placement"]
DAY = 86400.0


# ----------------------------------------------------------------------------------------- policy
class Policy(BaseModel):
    """Every constant of the recommendation policy; the `recommend` section of `tutor.settings.Settings`
    (environment: TUTOR_REC_<FIELD IN CAPITALS>; mastery_threshold from TUTOR_MASTERY_THRESHOLD)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mastery_threshold: float = Field(0.95, description="P(mastered) at which a skill counts as mastered.")
    review_threshold: float = Field(0.80, description="A mastered skill whose decayed estimate falls below this is due for review.")
    half_life_days: float = Field(30.0, description="Half-life of forgetting, in days, before practice lengthens it.")
    half_life_by_skill: dict[str, float] = Field(default_factory=dict, description="Per-skill half-lives, e.g. `4.2-basic=20,1.1-basic=60`.")
    half_life_growth_obs: float = Field(12.0, description="Observations that add one more half-life (practice makes memories last).")
    half_life_max_factor: float = Field(4.0, description="The most practice can lengthen a half-life (×).")
    zpd_low: float = Field(0.60, description="Lower end of the predicted-success band to aim for (zone of proximal development).")
    zpd_high: float = Field(0.85, description="Upper end of that band.")
    zpd_width: float = Field(0.30, description="Distance outside the band at which the ZPD bonus reaches 0.")
    zpd_weight: float = Field(0.5, description="Weight of the ZPD bonus in a lesson's score.")
    unlock_weight: float = Field(0.25, description="Weight of the skills a step unlocks in a lesson's score.")
    recent_minutes: float = Field(60.0, description="Lessons and items practised this recently are not proposed again.")
    difficulty_slope: float = Field(1.0, description="How far an item's difficulty moves guess and slip, on the logit scale.")
    default_goal: str = Field("basic", description="Goal when none is asked: a band, domain, competence or skill ids.")
    suggest_placement: bool = Field(True, description="Offer the placement quiz to a learner with no mastery yet.")

    @field_validator("half_life_by_skill", mode="before")
    @classmethod
    def _skill_list(cls, value: object) -> object:
        """Read the environment's `skill=days,skill=days` form; a mapping passes through."""
        if isinstance(value, str):
            try:
                return {k.strip(): float(v) for k, v in (part.split("=", 1) for part in value.split(",") if part.strip())}
            except ValueError:
                raise ValueError("expected skill=days pairs separated by commas, days a number") from None
        return value

    @field_validator("default_goal")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()

    @model_validator(mode="after")
    def _check(self) -> Policy:
        problems = []
        for name in ("mastery_threshold", "review_threshold", "zpd_low", "zpd_high"):
            v = getattr(self, name)
            if not 0.0 < v < 1.0:
                problems.append(f"{name}={v} must lie strictly between 0 and 1")
        if self.review_threshold > self.mastery_threshold:
            problems.append(f"review_threshold={self.review_threshold} must not exceed mastery_threshold={self.mastery_threshold}")
        if self.zpd_low >= self.zpd_high:
            problems.append(f"zpd_low={self.zpd_low} must be below zpd_high={self.zpd_high}")
        for name in ("half_life_days", "zpd_width", "half_life_max_factor"):
            if getattr(self, name) <= 0:
                problems.append(f"{name} must be positive")
        for name in ("zpd_weight", "unlock_weight", "recent_minutes", "difficulty_slope", "half_life_growth_obs"):
            if getattr(self, name) < 0:
                problems.append(f"{name} must not be negative")
        for sid, h in self.half_life_by_skill.items():
            if h <= 0:
                problems.append(f"half_life_by_skill[{sid}] must be positive")
        if problems:
            raise ValueError("recommendation policy: " + "; ".join(problems))
        return self

    def as_dict(self) -> dict:
        return self.model_dump()

    def half_life(self, skill_id: str, n_observations: int) -> float:
        base = self.half_life_by_skill.get(skill_id, self.half_life_days)
        growth = 1.0 + (n_observations / self.half_life_growth_obs if self.half_life_growth_obs > 0 else 0.0)
        return base * min(self.half_life_max_factor, growth)


def decayed(p: float, floor: float, elapsed_days: float, half_life_days: float) -> float:
    """Exponential forgetting toward the floor (the skill's prior), with the given half-life."""
    if p <= floor or elapsed_days <= 0:
        return p
    return floor + (p - floor) * 0.5 ** (elapsed_days / half_life_days)


# ------------------------------------------------------------------------------------ the predictor
def item_guess_slip(params: SkillParams, difficulty: float, slope: float) -> tuple[float, float]:
    """Guess and slip of one item: a harder item (difficulty above 0.5) is harder to guess and easier to slip on."""
    if slope == 0 or difficulty == 0.5:
        return params.guess, params.slip
    shift = slope * (difficulty - 0.5)
    return sigmoid(logit(params.guess) - shift), sigmoid(logit(params.slip) + shift)


class SuccessPredictor(Protocol):
    """P(correct) for each item, given the learner's state and current (decayed) mastery per skill."""

    def predict(self, state: LearnerState, mastery: Mapping[str, float], items: Sequence[Item]) -> list[float]: ...


class BKTSuccessPredictor:
    """BKT's p_correct per skill of the item (guess/slip moved by difficulty); several skills multiply."""

    def __init__(self, model: MasteryModel, slope: float = 1.0):
        self.model = model
        self.slope = slope
        self._gs: dict[tuple[str, str], tuple[float, float]] = {}

    def guess_slip(self, item: Item, skill_id: str) -> tuple[float, float]:
        key = (item.id, skill_id)
        gs = self._gs.get(key)
        if gs is None:
            gs = self._gs[key] = item_guess_slip(self.model.params(skill_id), item.difficulty, self.slope)
        return gs

    def predict(self, state: LearnerState, mastery: Mapping[str, float], items: Sequence[Item]) -> list[float]:
        out = []
        for item in items:
            p = 1.0
            for sid in item.skills:
                g, s = self.guess_slip(item, sid)
                m = mastery[sid] if sid in mastery else self.model.params(sid).prior
                p *= m * (1.0 - s) + (1.0 - m) * g
            out.append(p)
        return out


class NextAnswerSuccessPredictor:
    """P(correct) from the next-answer model over the learner's answer history (`LearnerState.answers`).

    The model's prediction depends on the skill, not the item: every skill the model knows is scored in
    one call the first time a state is asked, and kept on the state until its history changes.
    """

    def __init__(self, model: NextAnswerModel, slope: float = 1.0):
        self.model = model
        self.slope = slope

    def per_skill(self, state: LearnerState, skills: Iterable[str] = ()) -> dict[str, float]:
        """P(correct) of the learner's next answer on each skill (every skill the model knows, and these)."""
        history = state.answers
        n = 0 if history is None else history.n
        cached = state.predicted
        if cached is None or cached[0] is not history or cached[1] != n:
            cached = state.predicted = (history, n, {})
        known = cached[2]
        missing = [s for s in dict.fromkeys([*(() if known else self.model.skills_), *skills]) if s not in known]
        if missing:
            scored = self.model.p_correct_items_for(history if history is not None else self.model.new_learner(), [[s] for s in missing])
            known.update(zip(missing, scored.tolist()))
        return known

    def predict(self, state: LearnerState, mastery: Mapping[str, float], items: Sequence[Item]) -> list[float]:
        known = self.per_skill(state, (s for item in items for s in item.skills))
        out = []
        for item in items:
            p = sum(known[s] for s in item.skills) / len(item.skills)
            if self.slope and item.difficulty != 0.5:
                p = sigmoid(logit(p) - self.slope * (item.difficulty - 0.5))
            out.append(p)
        return out


def success_predictor(model: MasteryModel, slope: float = 1.0) -> SuccessPredictor:
    """The next-answer model's predicted success when the artefact ships one, else BKT's."""
    if model.next_answer is not None:
        return NextAnswerSuccessPredictor(model.next_answer, slope)
    return BKTSuccessPredictor(model, slope)


def record_answer(model: MasteryModel, state: LearnerState, skills: Sequence[str], score: float) -> None:
    """Add a graded answer to the state's next-answer history (for learners simulated in memory; the store's is kept by intake)."""
    if model.next_answer is not None:
        if state.answers is None:
            state.answers = model.next_answer.new_learner()
        model.next_answer.record_answer(state.answers, list(skills), score)


# ------------------------------------------------------------------------------------ learner state
@dataclass
class SkillRecord:
    p: float
    n: int = 0
    last: datetime | None = None  # last practice (answer time), for forgetting


@dataclass
class PlacementProgress:
    """Where a learner without mastery evidence stands with the placement quiz."""

    answered: int
    max_items: int
    next_item: str | None  # None: the quiz would stop now
    item: Item | None = None  # when next_item is an imported item: a stand-in the predictor reads


@dataclass
class LearnerState:
    """Everything the policy reads about one learner."""

    skills: dict[str, SkillRecord] = field(default_factory=dict)  # practised skills; others sit at the prior
    recent_lessons: dict[str, datetime] = field(default_factory=dict)  # lesson -> last exposure/answer
    recent_items: dict[str, datetime] = field(default_factory=dict)
    placement: PlacementProgress | None = None  # set only for learners with no mastery evidence yet
    answers: LearnerHistory | None = None  # the next-answer model's history of the learner, when the artefact ships one
    predicted: tuple[LearnerHistory | None, int, dict[str, float]] | None = field(default=None, repr=False)  # NextAnswerSuccessPredictor's per-skill cache

    @property
    def has_evidence(self) -> bool:
        return bool(self.skills)


# ------------------------------------------------------------------------------------------- goals
class GoalError(Invalid):
    """A goal that names nothing in the framework; the message says which part and why."""


@dataclass(frozen=True)
class Goal:
    query: str
    skills: tuple[str, ...]  # in framework order


def resolve_goal(library: Library, goal: str | None, default: str = "basic") -> Goal:
    """A competence ("4.2"), a domain ("4"), a band ("basic"), a skill id, an audience's default goal
    ("audience:citizens"), or a comma-separated list of these."""
    query = default if goal is None else goal
    terms = [t.strip() for t in query.split(",")]
    if not query.strip() or any(not t for t in terms):
        raise GoalError(f"goal {query!r} has an empty part; give a competence (4.2), a domain (4), a band (basic) or skill ids separated by commas")
    chosen: set[str] = set()
    problems = []
    for term in terms:
        if term in library.skills:
            chosen.add(term)
        elif term in library.competences:  # a competence or domain covers the bands lessons teach; name a band or skill to aim past them
            chosen |= {s.id for s in library.framework.skills if s.competence == term and s.no_lesson is None}
        elif term in library.domains:
            comps = {c.code for c in library.domains[term].competences}
            chosen |= {s.id for s in library.framework.skills if s.competence in comps and s.no_lesson is None}
        elif term.startswith("audience:") and term.removeprefix("audience:") in library.audiences:
            chosen |= set(library.audience_goal(term.removeprefix("audience:")))
        elif term in library.bands:
            found = {s.id for s in library.framework.skills if s.band == term}
            if not found:
                problems.append(f"band {term!r} has no skills in the framework yet")
            chosen |= found
        else:
            problems.append(
                f"{term!r} is not a skill id (e.g. 4.2-basic), a competence (e.g. 4.2), a domain (1-{len(library.domains)}) "
                f"or a band ({', '.join(library.bands)})" + (f", or an audience ({', '.join('audience:' + a for a in library.audiences)})" if library.audiences else "")
            )
    if problems:
        raise GoalError("goal: " + "; ".join(problems))
    return Goal(query=query, skills=tuple(s.id for s in library.framework.skills if s.id in chosen))


@dataclass(frozen=True)
class PlatformLesson:
    """One of the platform's own lessons (or items) aligned to skills: a candidate ranked like a bundled lesson.

    `items`: what its success is predicted from and how many answers it offers (an imported item: itself)."""

    id: str
    skills: tuple[str, ...]
    items: tuple[Item, ...]


PlatformSource = Callable[[Sequence[str], Collection[str]], Sequence[PlatformLesson]]
"""Given the candidate skills (best known order) and the lessons and items done recently, the platform's candidates for them."""


# ------------------------------------------------------------------------------------------ output
@dataclass
class Recommendation:
    kind: Literal["lesson", "item", "placement"]
    skill_id: str
    reason: Reason
    p_mastered: float  # current, after forgetting
    p_success: float  # predicted chance of answering correctly (mean over the lesson's items)
    lesson_id: str | None = None
    item_id: str | None = None
    expected_gain: float = 0.0
    score: float = 0.0
    in_zpd: bool = False
    days_since_practice: float | None = None
    unlocks: int = 0
    waiting_on_it: str | None = None  # for `remediate`: a goal skill that needs this one
    on_platform: bool = False  # lesson_id (kind lesson) or item_id (kind item) names an imported activity

    def message(self, library: Library, lang: str, max_items: int | None = None, answered: int = 0) -> str:
        return explain(self, library, lang, max_items, answered)


@dataclass
class Result:
    goal: Goal
    recommendations: list[Recommendation]
    outside_allowed: Recommendation | None = None
    goal_mastered: bool = False
    recently_done: list[str] = field(default_factory=list)
    no_lesson: list[str] = field(default_factory=list)  # candidate skills that no lesson (in the allowed set) teaches
    mastery: dict[str, float] = field(default_factory=dict)  # current mastery of the working set


def skill_name(library: Library, skill_id: str, lang: str) -> str:
    skill = library.skills[skill_id]
    band = library.bands[skill.band].name.get(lang)
    comp = library.competences[skill.competence].name.get(lang)
    return f"{skill.competence} {band.lower()} ({comp})"


def explain(rec: Recommendation, library: Library, lang: str, max_items: int | None = None, answered: int = 0) -> str:
    """A short sentence a learner can read, in Vietnamese or English."""
    name = skill_name(library, rec.skill_id, lang)
    vi = lang == "vi"
    if rec.reason == "placement":
        if answered:
            return (f"Tiếp tục bài kiểm tra xếp lớp: bạn đã trả lời {answered} câu (tối đa {max_items})."
                    if vi else f"Continue your placement quiz: {answered} answered, at most {max_items} in all.")
        return (f"Làm bài kiểm tra xếp lớp ngắn (tối đa {max_items} câu) để bỏ qua những gì bạn đã biết."
                if vi else f"Take the short placement quiz (at most {max_items} questions) so you can skip what you already know.")
    if rec.reason == "review":
        days = max(1, round(rec.days_since_practice or 0))
        return (f"Bạn đã thành thạo {name} khoảng {days} ngày trước; ôn lại bây giờ để không quên."
                if vi else f"You mastered {name} about {days} days ago; a short review now keeps it from fading.")
    if rec.reason == "remediate":
        other = skill_name(library, rec.waiting_on_it, lang) if rec.waiting_on_it else ""
        return (f"Bạn cần {name} trước khi học {other} trong mục tiêu của mình; hãy củng cố nó trước."
                if vi else f"You need {name} before {other} in your goal; strengthen it first.")
    if library.skills[rec.skill_id].prerequisites:
        return (f"Bạn chưa thành thạo {name}; các kỹ năng cần có trước đã hoàn thành."
                if vi else f"You have not yet mastered {name}; its prerequisites are done.")
    return (f"Bạn chưa thành thạo {name}; kỹ năng này không cần học gì trước."
            if vi else f"You have not yet mastered {name}; it needs nothing learnt before it.")


# ------------------------------------------------------------------------------------- recommender
class _Prepared:
    """What depends only on the library and the model, computed once per (library, model)."""

    def __init__(self, library: Library, model: MasteryModel):
        self.items_ref = library.items  # identity changes whenever a lesson is added or replaced
        self.model = model
        skills = library.framework.skills
        self.order = {s.id: i for i, s in enumerate(skills)}
        self.prereqs = {s.id: tuple(s.prerequisites) for s in skills}
        self.ancestors: dict[str, frozenset[str]] = {}
        for s in skills:
            self._ancestors(s.id)
        self.descendants: dict[str, set[str]] = {s.id: set() for s in skills}
        for sid, anc in self.ancestors.items():
            for a in anc:
                self.descendants[a].add(sid)
        self.lessons_by_skill: dict[str, list[str]] = {s.id: [] for s in skills}
        self.lesson_skills: dict[str, tuple[str, ...]] = {}
        self.lesson_items: dict[str, tuple[Item, ...]] = {}
        for lesson_id in sorted(library.lessons):
            lesson = library.lessons[lesson_id]
            known = tuple(s for s in lesson.skills if s in self.order)
            if not known:
                continue
            self.lesson_skills[lesson_id] = known
            self.lesson_items[lesson_id] = tuple(lesson.items)
            for skill_id in known:
                self.lessons_by_skill[skill_id].append(lesson_id)
        self.params = {s.id: model.params(s.id) for s in skills}
        self.item_lesson = {iid: lesson.id for iid, (lesson, _) in library.items.items()}

    def _ancestors(self, sid: str) -> frozenset[str]:
        if sid not in self.ancestors:
            out: set[str] = set()
            for p in self.prereqs.get(sid, ()):
                out.add(p)
                out |= self._ancestors(p)
            self.ancestors[sid] = frozenset(out)
        return self.ancestors[sid]


class Recommender:
    """The policy over a library and a mastery model; `recommend` is pure given the state and the time."""

    def __init__(self, policy: Policy | None = None, predictor_factory=None):
        self.policy = policy or Policy()
        self._predictor_factory = predictor_factory or (lambda model: success_predictor(model, self.policy.difficulty_slope))
        self._prepared: _Prepared | None = None
        self._predictor: SuccessPredictor | None = None
        self._goals: dict[tuple[int, str | None], Goal] = {}

    def prepared(self, library: Library, model: MasteryModel) -> _Prepared:
        prep = self._prepared
        if prep is None or prep.items_ref is not library.items or prep.model is not model:
            prep = self._prepared = _Prepared(library, model)
            self._predictor = self._predictor_factory(model)
            self._goals = {}
        return prep

    def goal(self, library: Library, model: MasteryModel, query: str | None) -> Goal:
        self.prepared(library, model)
        key = (id(library), query)
        goal = self._goals.get(key)
        if goal is None:
            goal = resolve_goal(library, query, self.policy.default_goal)
            if len(self._goals) < 512:
                self._goals[key] = goal
        return goal

    def current_mastery(self, prep: _Prepared, state: LearnerState, now: datetime, skills: Iterable[str]) -> dict[str, tuple[float, float, float | None]]:
        """skill -> (stored p, p now after forgetting, days since practice)."""
        pol = self.policy
        out: dict[str, tuple[float, float, float | None]] = {}
        for sid in skills:
            rec = state.skills.get(sid)
            prior = prep.params[sid].prior
            if rec is None:
                out[sid] = (prior, prior, None)
                continue
            if rec.last is None:
                out[sid] = (rec.p, rec.p, None)
                continue
            days = (now - rec.last).total_seconds() / DAY
            out[sid] = (rec.p, decayed(rec.p, prior, days, pol.half_life(sid, rec.n)), days)
        return out

    def recommend(
        self,
        library: Library,
        model: MasteryModel,
        state: LearnerState,
        goal: Goal,
        now: datetime,
        n: int = 5,
        kind: Literal["lesson", "item"] = "lesson",
        allowed: Iterable[str] | None = None,
        platform: PlatformSource | None = None,
    ) -> Result:
        pol = self.policy
        prep = self.prepared(library, model)
        predictor = self._predictor
        assert predictor is not None  # set by self.prepared() above
        work: set[str] = set(goal.skills)
        for sid in goal.skills:
            work |= prep.ancestors[sid]
        # prerequisites of any skill a candidate lesson teaches must be judged too
        mastery = self.current_mastery(prep, state, now, sorted(work, key=prep.order.__getitem__))
        T, R = pol.mastery_threshold, pol.review_threshold

        def reached(sid: str) -> bool:
            stored = mastery[sid][0] if sid in mastery else (state.skills[sid].p if sid in state.skills else prep.params[sid].prior)
            return stored >= T

        status: dict[str, str] = {}
        for sid, (p, p_now, _) in mastery.items():
            if p >= T:
                status[sid] = "mastered" if p_now >= R else "review"
            elif all(reached(q) for q in prep.prereqs[sid]):
                status[sid] = "ready"
            else:
                status[sid] = "blocked"
        goal_set = set(goal.skills)
        open_skills = {s for s, st in status.items() if st != "mastered"}
        now_p = {s: v[1] for s, v in mastery.items()}

        # candidate skills with their value
        skill_value: dict[str, tuple[float, Reason, int, str | None]] = {}  # sid -> (value, reason, unlocks, waiting_on)
        for sid, st in status.items():
            if st not in ("ready", "review"):
                continue
            reason: Reason
            waiting: str | None
            desc = prep.descendants[sid] & open_skills
            unlocks = len(desc)
            if st == "review":
                reason, waiting = "review", None
            elif sid in goal_set:
                reason, waiting = "ready", None
            else:
                waiting_on = sorted(desc & goal_set, key=prep.order.__getitem__)
                reason, waiting = "remediate", (waiting_on[0] if waiting_on else None)
            skill_value[sid] = (1.0 + pol.unlock_weight * unlocks, reason, unlocks, waiting)

        # lessons teaching at least one candidate skill and no skill whose prerequisites are not done
        recent_cut = now - timedelta(minutes=pol.recent_minutes)
        recently_done = sorted(lid for lid, t in state.recent_lessons.items() if t >= recent_cut)
        recent_set = set(recently_done)
        recent_items = {iid for iid, t in state.recent_items.items() if t >= recent_cut}
        allowed_set = None if allowed is None else set(allowed)
        lesson_skills, lesson_items, lessons_by_skill = prep.lesson_skills, prep.lesson_items, prep.lessons_by_skill
        imported = list(platform(sorted(skill_value, key=prep.order.__getitem__), recent_set | recent_items)) if platform and skill_value else []
        if imported:  # this call's candidates: the bundled lessons and the platform's
            lesson_skills, lesson_items = dict(lesson_skills), dict(lesson_items)
            lessons_by_skill = {sid: list(lids) for sid, lids in lessons_by_skill.items()}
            for pl in imported:
                lesson_skills[pl.id] = tuple(sid for sid in pl.skills if sid in prep.order)
                lesson_items[pl.id] = pl.items
                for sid in lesson_skills[pl.id]:
                    lessons_by_skill[sid].append(pl.id)
        on_platform = {pl.id for pl in imported}

        def blocked_lesson(lid: str) -> bool:
            for sid in lesson_skills[lid]:
                st = status.get(sid)
                if st is None:  # a skill outside the working set: judge its prerequisites directly
                    p = state.skills[sid].p if sid in state.skills else prep.params[sid].prior
                    if p < T and not all(reached(q) for q in prep.prereqs[sid]):
                        return True
                elif st == "blocked":
                    return True
            return False

        lesson_ids = sorted({lid for sid in skill_value for lid in lessons_by_skill[sid]})
        scored: list[tuple[float, str, Recommendation]] = []
        for lid in lesson_ids:
            if lid in recent_set or blocked_lesson(lid):
                continue
            items = lesson_items[lid]
            for sid in lesson_skills[lid]:
                if sid not in now_p:
                    now_p[sid] = self.current_mastery(prep, state, now, [sid])[sid][1]
            preds = predictor.predict(state, now_p, items)
            p_succ = sum(preds) / len(preds) if preds else 0.0
            fit = _zpd_fit(p_succ, pol)
            opportunities = 1 + len(items)
            total = 0.0
            best: tuple[float, str, Reason, int, str | None, float] | None = None
            for sid in lesson_skills[lid]:
                if sid not in skill_value:
                    continue
                mult, reason, unlocks, waiting = skill_value[sid]
                p_now = now_p[sid]
                gain = (1.0 - p_now) * (1.0 - (1.0 - prep.params[sid].learn) ** opportunities)
                value = gain * mult
                total += value
                if best is None or value > best[0]:
                    best = (value, sid, reason, unlocks, waiting, gain)
            assert best is not None  # lesson_ids are the lessons of the skills in skill_value
            _, sid, reason, unlocks, waiting, gain = best
            score = total + pol.zpd_weight * fit
            days = mastery[sid][2] if sid in mastery else None
            rec = Recommendation(
                kind="lesson", skill_id=sid, reason=reason, p_mastered=now_p[sid], p_success=p_succ, lesson_id=lid,
                expected_gain=gain, score=score, in_zpd=pol.zpd_low <= p_succ <= pol.zpd_high, days_since_practice=days,
                unlocks=unlocks, waiting_on_it=waiting, on_platform=lid in on_platform,
            )
            scored.append((-score, lid, rec))
        scored.sort(key=lambda t: (t[0], t[1]))
        ranked = [r for _, _, r in scored]

        inside = ranked if allowed_set is None else [r for r in ranked if r.lesson_id in allowed_set]
        outside = None
        if allowed_set is not None and ranked and ranked[0].lesson_id not in allowed_set:
            outside = ranked[0]
        if kind == "item":
            recs = self._items(lesson_items, predictor, state, now_p, inside, recent_items, n)
            if outside is not None:
                outside = (self._items(lesson_items, predictor, state, now_p, [outside], recent_items, 1) or [outside])[0]
        else:
            recs = inside[:n]
        no_lesson = sorted(
            (s for s in skill_value if not any(allowed_set is None or lid in allowed_set for lid in lessons_by_skill[s])),
            key=prep.order.__getitem__,
        )
        if state.placement is not None and pol.suggest_placement and state.placement.next_item and (
                state.placement.next_item in prep.item_lesson or state.placement.item is not None):
            recs = [self._placement(library, prep, predictor, state, now_p)] + recs[: max(0, n - 1)]
        return Result(
            goal=goal,
            recommendations=recs,
            outside_allowed=outside,
            goal_mastered=all(status.get(s) == "mastered" for s in goal.skills),
            recently_done=recently_done,
            no_lesson=no_lesson,
            mastery=now_p,
        )

    def _placement(self, library, prep, predictor, state, now_p) -> Recommendation:
        item = state.placement.item or library.items[state.placement.next_item][1]
        sid = item.skills[0]
        p_now = now_p.get(sid, prep.params[sid].prior)
        return Recommendation(
            kind="placement", skill_id=sid, reason="placement", p_mastered=p_now,
            p_success=predictor.predict(state, {**now_p, sid: p_now}, [item])[0], lesson_id=prep.item_lesson.get(item.id), item_id=item.id,
            on_platform=state.placement.item is not None,
        )

    def _items(self, lesson_items, predictor, state, now_p, lessons: list[Recommendation], recent_items: set[str], n: int) -> list[Recommendation]:
        """Practice items, round-robin over the ranked lessons, each lesson's items closest to the ZPD's middle first."""
        pol = self.policy
        middle = (pol.zpd_low + pol.zpd_high) / 2
        queues = []
        for rec in lessons:
            items = [it for it in lesson_items[rec.lesson_id] if it.id not in recent_items]
            preds = predictor.predict(state, now_p, items)
            order = sorted(zip(items, preds), key=lambda t: (abs(t[1] - middle), t[0].id))
            queues.append((rec, order))
        out: list[Recommendation] = []
        depth = 0
        while len(out) < n and any(depth < len(q) for _, q in queues):
            for rec, order in queues:
                if depth < len(order) and len(out) < n:
                    item, p = order[depth]
                    shown = replace(rec, kind="item", item_id=item.id, p_success=p, in_zpd=pol.zpd_low <= p <= pol.zpd_high)
                    out.append(replace(shown, lesson_id=None) if rec.on_platform else shown)  # an imported item is its own lesson
            depth += 1
        return out


def _zpd_fit(p: float, pol: Policy) -> float:
    if p < pol.zpd_low:
        return max(0.0, 1.0 - (pol.zpd_low - p) / pol.zpd_width)
    if p > pol.zpd_high:
        return max(0.0, 1.0 - (p - pol.zpd_high) / pol.zpd_width)
    return 1.0


# ------------------------------------------------------------------------------- state from store
def load_state(session, learner: str, now: datetime, policy: Policy, answers_model: NextAnswerModel | None = None) -> tuple[LearnerState, bool]:
    """The learner's state from the store, and whether the learner is known at all.

    Two indexed queries: the mastery rows, and the answers/exposures inside the recent window; with a
    next-answer model (the artefact's `next_answer`), a third reads the learner's history for it.
    """
    rows = session.execute(
        select(Mastery.skill_id, Mastery.p_mastered, Mastery.n_observations, Mastery.last_event_at, Mastery.updated_at).where(Mastery.learner_id == learner)
    ).all()
    state = LearnerState(skills={r[0]: SkillRecord(r[1], r[2] or 0, as_utc(r[3]) or as_utc(r[4])) for r in rows})
    known = bool(rows) or session.get(Learner, learner) is not None
    if not known:
        return state, False
    cut = now - timedelta(minutes=policy.recent_minutes)
    recent = session.execute(
        select(Event.lesson_id, Event.item_id, Event.source, func.max(Event.occurred_at))
        .where(Event.learner_id == learner, Event.occurred_at >= cut, Event.kind.in_(("answer", "exposure")))
        .group_by(Event.lesson_id, Event.item_id, Event.source)
    ).all()
    for lesson_id, item_id, source, at in recent:
        at = as_utc(at)
        # one placement question is not studying its lesson: it does not hold the lesson back
        if lesson_id is not None and source != "placement" and (lesson_id not in state.recent_lessons or at > state.recent_lessons[lesson_id]):
            state.recent_lessons[lesson_id] = at
        if item_id is not None:
            state.recent_items[item_id] = at
    if answers_model is not None:
        state.answers = stored_history(session, learner, answers_model)
    return state, True
