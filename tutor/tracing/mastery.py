"""A learner's mastery of every framework skill, rolled up to competences and domains.

The proficiency level of a competence (1-8) is read off its skills band by band: a band whose
skill is mastered (P >= threshold) gives its upper level and the next band is looked at; a band
whose skill is more likely known than not (P >= 0.5) gives its lower level; otherwise the walk
stops. A competence without evidence of even the basic band's first level has no level (None).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tutor.content.library import Library
from tutor.tracing.artefacts import MasteryModel

LIKELY = 0.5


@dataclass(frozen=True)
class SkillMastery:
    skill_id: str
    competence: str
    band: str
    p_mastered: float
    mastered: bool
    n_observations: int
    updated_at: datetime | None


@dataclass(frozen=True)
class CompetenceMastery:
    code: str
    domain: str
    p_mastered: float
    level: int | None
    level_code: str | None


@dataclass(frozen=True)
class DomainMastery:
    code: str
    p_mastered: float


@dataclass(frozen=True)
class MasteryReport:
    skills: list[SkillMastery]
    competences: list[CompetenceMastery]
    domains: list[DomainMastery]


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def mastery_report(
    library: Library, model: MasteryModel, rows: dict[str, tuple[float, int, datetime]], threshold: float
) -> MasteryReport:
    """rows: skill id -> (P(mastered), observations, last update) for the skills this learner has practised."""
    skills = []
    for skill in library.framework.skills:
        p, n, updated = rows.get(skill.id, (model.params(skill.id).prior, 0, None))
        skills.append(SkillMastery(skill.id, skill.competence, skill.band, p, p >= threshold, n, updated))
    by_comp: dict[str, list[SkillMastery]] = {}
    for s in skills:
        by_comp.setdefault(s.competence, []).append(s)
    band_order = {b.id: i for i, b in enumerate(library.framework.bands)}
    competences = []
    for domain in library.framework.domains:
        for comp in domain.competences:
            level, code = None, None
            for s in sorted(by_comp.get(comp.code, []), key=lambda s: band_order[s.band]):
                band = library.bands[s.band]
                if s.p_mastered >= threshold:
                    level, code = band.levels[-1], f"{band.code}{len(band.levels)}"
                    continue
                if s.p_mastered >= LIKELY:
                    level, code = band.levels[0], f"{band.code}1"
                break
            p_mastered = _mean([s.p_mastered for s in by_comp.get(comp.code, [])])
            competences.append(CompetenceMastery(comp.code, domain.code, p_mastered, level, code))
    domains = [
        DomainMastery(d.code, _mean([c.p_mastered for c in competences if c.domain == d.code])) for d in library.framework.domains
    ]
    return MasteryReport(skills, competences, domains)
