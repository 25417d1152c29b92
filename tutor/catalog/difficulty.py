"""How hard an imported item is, on the library's scale (0 easy .. 1 hard), so placement and `/next` can use it.

A platform's problems carry no difficulty. The rule, chosen because it needs nothing but what the
service already holds and moves only on evidence:

* prior: the mean difficulty of the bundled items of the band its accepted skills belong to (the
  mean over its skills' bands; `NEUTRAL` for a band no bundled item measures yet);
* once the item has `PRIOR_ANSWERS` graded answers or more, the share of wrong answers shrunk
  toward the prior as if the prior were `PRIOR_ANSWERS` answers:
  (PRIOR_ANSWERS * prior + wrong) / (PRIOR_ANSWERS + answers).

Reading the library's difficulty as the share of learners who get the item wrong is the assumption
behind the update; the authors' numbers were set that way ("0 easy .. 1 hard"), not fitted.

>>> item_difficulty(0.4, answers=5, wrong=5)   # too few answers: the prior
0.4
>>> item_difficulty(0.4, answers=60, wrong=48)  # (20 * 0.4 + 48) / 80
0.7
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from types import MappingProxyType

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tutor.content.library import Library
from tutor.store.tables import Event

PRIOR_ANSWERS = 20
NEUTRAL = 0.5


_PRIORS: list[tuple[object, Mapping[str, float]]] = []  # (the items they were computed from, the priors)


def band_priors(library: Library) -> Mapping[str, float]:
    """Per band id: the mean difficulty of the bundled items of that band's skills (`NEUTRAL` where there are none).

    Kept until the library's items change (a lesson added through the API): `/next` asks on every call."""
    for items, priors in _PRIORS:
        if items is library.items:
            return priors
    sums: dict[str, list[float]] = {b.id: [] for b in library.framework.bands}
    for _, item in library.items.values():
        for sid in item.skills:
            skill = library.skills.get(sid)
            if skill is not None:
                sums.setdefault(skill.band, []).append(item.difficulty)
    priors = MappingProxyType({band: (sum(v) / len(v) if v else NEUTRAL) for band, v in sums.items()})
    _PRIORS[:] = [(library.items, priors)]
    return priors


def prior_difficulty(skills: Sequence[str], library: Library, priors: Mapping[str, float]) -> float:
    bands = [library.skills[s].band for s in skills if s in library.skills]
    return sum(priors.get(b, NEUTRAL) for b in bands) / len(bands) if bands else NEUTRAL


def item_difficulty(prior: float, answers: int, wrong: float) -> float:
    """The rule above: the prior until `PRIOR_ANSWERS` answers, then the shrunk share wrong."""
    if answers < PRIOR_ANSWERS:
        return prior
    return round((PRIOR_ANSWERS * prior + wrong) / (PRIOR_ANSWERS + answers), 6)


def answer_counts(session: Session, item_ids: Collection[str]) -> dict[str, tuple[int, float]]:
    """Per item: (graded answers, wrong answers: answers minus their summed score), one grouped query."""
    wanted = list(item_ids)
    if not wanted:
        return {}
    rows = session.execute(
        select(Event.item_id, func.count(), func.coalesce(func.sum(Event.score), 0.0))
        .where(Event.kind == "answer", Event.item_id.in_(wanted))
        .group_by(Event.item_id)
    )
    return {str(iid): (int(n), float(n) - float(right or 0.0)) for iid, n, right in rows}


def difficulties(session: Session, library: Library, skills_of: Mapping[str, Sequence[str]]) -> dict[str, float]:
    """The difficulty of each imported item (id -> its accepted skills) by the rule above."""
    priors = band_priors(library)
    counts = answer_counts(session, skills_of)
    out = {}
    for iid, skills in skills_of.items():
        n, wrong = counts.get(iid, (0, 0.0))
        out[iid] = item_difficulty(prior_difficulty(skills, library, priors), n, wrong)
    return out
