"""The framework published as CASE 1.0 (1EdTech Competencies and Academic Standards Exchange): one
CFDocument with its CFItems and CFAssociations, as the JSON of a CFPackage.

Items: the 6 domains, the 24 competences, the 4 bands with the 8 proficiency levels, and the skills
(a competence at a band). Associations: `isChildOf` (domain and band → the document, competence →
domain, level → band, skill → competence), `hasSkillLevel` (skill → each level of its band) and
`precedes` (prerequisite skill → the skill that needs it).

Every identifier is a UUID 5 of a fixed namespace and the object's code, so it is the same on every
run and machine and survives edits of names or descriptions:

>>> identifier("competence:4.2")
'a1db6cc7-735c-58a7-a327-b1814376472d'

CASE 1.0 carries one language per item: Vietnamese is in `fullStatement` (`language: vi`), the
English name in `alternativeLabel`, and the descriptions in `notes` (Vietnamese, then English).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from typing import Any

from tutor.content.library import Band, Framework, Text
from tutor.errors import NotFound

#: Never change it: every published identifier is derived from it.
NAMESPACE = uuid.UUID("caadcffa-399f-44c7-bcca-f3f7ea42cc75")
BASE_PATH = "/ims/case/v1p0"
CIRCULAR = "02/2025/TT-BGDĐT"
DOCUMENT_CODE = f"document:{CIRCULAR}"
LANGUAGE = "vi"
TITLE = f"Khung năng lực số cho người học (Thông tư {CIRCULAR})"
TITLE_EN = f"Digital competency framework for learners (MOET Circular {CIRCULAR})"
CREATOR = "Bộ Giáo dục và Đào tạo (Ministry of Education and Training, Viet Nam)"
SUBJECT = ["Năng lực số", "Digital competence"]
NOT_OFFICIAL = "(Mô tả do dự án biên soạn, không phải nguyên văn Thông tư. Described in this project's own words, not the circular's text.)"


def identifier(code: str) -> str:
    """The CASE identifier of the object with this code (`domain:1`, `competence:4.2`, `skill:4.2-basic`, ...)."""
    return str(uuid.uuid5(NAMESPACE, code))


def framework_changed_at(framework: Framework) -> datetime:
    """When the framework last changed: its `revised` date, at midnight UTC, the same on every worker and machine."""
    return datetime.combine(framework.revised, time.min, UTC)


def framework_version(framework: Framework) -> str:
    """A short digest of the framework's content: it changes exactly when the framework does."""
    canonical = json.dumps(framework.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def level_codes(band: Band) -> list[tuple[int, str]]:
    """The levels of a band with their codes: basic (CB) levels 1 and 2 are CB1 and CB2."""
    return [(level, f"{band.code}{i}") for i, level in enumerate(band.levels, start=1)]


def _notes(description: Text, official_wording: bool) -> str:
    text = f"{description.vi}\n\nEnglish: {description.en}"
    return text if official_wording else f"{text}\n\n{NOT_OFFICIAL}"


@dataclass
class Publication:
    """The CFPackage of one framework, with its parts looked up by identifier."""

    package: dict[str, Any]
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    associations: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def document(self) -> dict[str, Any]:
        return self.package["CFDocument"]

    def _find(self, found: dict[str, Any] | None, kind: str, sourced_id: str) -> dict[str, Any]:
        if found is None:
            raise NotFound(f"No {kind} {sourced_id!r}; GET {BASE_PATH}/CFDocuments lists the document, GET {BASE_PATH}/CFPackages/{{id}} all of its items.")
        return found

    def get_document(self, sourced_id: str) -> dict[str, Any]:
        return self._find(self.document if sourced_id.lower() == self.document["identifier"] else None, "CFDocument", sourced_id)

    def get_package(self, sourced_id: str) -> dict[str, Any]:
        return self._find(self.package if sourced_id.lower() == self.document["identifier"] else None, "CFPackage", sourced_id)

    def get_item(self, sourced_id: str) -> dict[str, Any]:
        return self._find(self.items.get(sourced_id.lower()), "CFItem", sourced_id)

    def get_association(self, sourced_id: str) -> dict[str, Any]:
        return self._find(self.associations.get(sourced_id.lower()), "CFAssociation", sourced_id)


def publish(framework: Framework, base_url: str, changed: datetime) -> Publication:
    """The framework as a CASE CFPackage; `uri`s point at `base_url` + the CASE REST paths.

    `changed` is the lastChangeDateTime of every object (the framework's `revised` date, see `framework_changed_at`).
    """
    base = base_url.rstrip("/") + BASE_PATH
    when = changed.astimezone(UTC).isoformat(timespec="seconds")
    doc_id = identifier(DOCUMENT_CODE)
    doc_link = {"title": TITLE, "identifier": doc_id, "uri": f"{base}/CFDocuments/{doc_id}"}
    n_competences = sum(len(d.competences) for d in framework.domains)
    n_levels = sum(len(b.levels) for b in framework.bands)
    document = {
        "identifier": doc_id,
        "uri": doc_link["uri"],
        "creator": CREATOR,
        "title": TITLE,
        "lastChangeDateTime": when,
        "description": (
            f"Khung năng lực số cho người học theo Thông tư {CIRCULAR} của Bộ Giáo dục và Đào tạo: {len(framework.domains)} miền năng lực, "
            f"{n_competences} năng lực thành phần, {n_levels} mức độ thành thạo trong {len(framework.bands)} trình độ."
        ),
        "subject": SUBJECT,
        "language": LANGUAGE,
        "version": framework_version(framework),
        "notes": (
            f"English: {TITLE_EN}: {len(framework.domains)} domains, {n_competences} competences, {n_levels} proficiency levels in "
            f"{len(framework.bands)} bands. Each item's Vietnamese text is in fullStatement (language vi), its English name in alternativeLabel, "
            "its descriptions in notes (Vietnamese, then English). Names follow the circular; descriptions so marked are this project's wording. "
            "Items of type Skill (a competence at a band) and the precedes associations between them are this service's model of learning "
            "order, not part of the circular."
        ),
        "CFPackageURI": {"title": TITLE, "identifier": doc_id, "uri": f"{base}/CFPackages/{doc_id}"},
    }
    pub = Publication(package={"CFDocument": document, "CFItems": [], "CFAssociations": []})
    links: dict[str, dict[str, str]] = {DOCUMENT_CODE: doc_link}
    order: dict[str, int] = {}  # sequence number of each parent's next child

    def item(code: str, kind: str, statement: Text, human_code: str, position: int, notes: str | None = None) -> None:
        ident = identifier(code)
        body: dict[str, Any] = {
            "identifier": ident,
            "uri": f"{base}/CFItems/{ident}",
            "fullStatement": statement.vi,
            "alternativeLabel": statement.en,
            "CFItemType": kind,
            "humanCodingScheme": human_code,
            "listEnumeration": str(position),
            "language": LANGUAGE,
            "lastChangeDateTime": when,
            "CFDocumentURI": doc_link,
        }
        if notes:
            body["notes"] = notes
        pub.package["CFItems"].append(body)
        pub.items[ident] = body
        links[code] = {"title": f"{human_code} {statement.vi}", "identifier": ident, "uri": body["uri"]}

    def associate(kind: str, origin: str, destination: str) -> None:
        ident = identifier(f"association:{kind}:{origin}:{destination}")
        body: dict[str, Any] = {
            "identifier": ident,
            "uri": f"{base}/CFAssociations/{ident}",
            "associationType": kind,
            "originNodeURI": links[origin],
            "destinationNodeURI": links[destination],
            "lastChangeDateTime": when,
            "CFDocumentURI": doc_link,
        }
        if kind == "isChildOf":
            order[destination] = order.get(destination, 0) + 1
            body["sequenceNumber"] = order[destination]
        pub.package["CFAssociations"].append(body)
        pub.associations[ident] = body

    for i, d in enumerate(framework.domains, start=1):
        item(f"domain:{d.code}", "Domain", d.name, d.code, i, _notes(d.description, d.official_wording))
        associate("isChildOf", f"domain:{d.code}", DOCUMENT_CODE)
        for j, c in enumerate(d.competences, start=1):
            item(f"competence:{c.code}", "Competence", c.name, c.code, j, _notes(c.description, c.official_wording))
            associate("isChildOf", f"competence:{c.code}", f"domain:{d.code}")
    for i, b in enumerate(framework.bands, start=1):
        codes = level_codes(b)
        span = f"{codes[0][1]}–{codes[-1][1]}"
        item(f"band:{b.id}", "Proficiency band", b.name, b.code, i, f"{span} ({b.levels[0]}–{b.levels[-1]}/{n_levels})")
        associate("isChildOf", f"band:{b.id}", DOCUMENT_CODE)
        for k, (level, code) in enumerate(codes, start=1):
            item(f"level:{level}", "Proficiency level", Text(vi=f"{b.name.vi} {k} ({code})", en=f"{b.name.en} {k} ({code})"), code, level)
            associate("isChildOf", f"level:{level}", f"band:{b.id}")

    competences = {c.code: c for d in framework.domains for c in d.competences}
    bands = {b.id: b for b in framework.bands}
    competence_rank = {code: i for i, code in enumerate(competences)}
    band_rank = {b.id: i for i, b in enumerate(framework.bands)}
    per_competence: dict[str, int] = {}
    for s in sorted(framework.skills, key=lambda s: (competence_rank[s.competence], band_rank[s.band])):
        c, b = competences[s.competence], bands[s.band]
        codes = level_codes(b)
        span = f"{codes[0][1]}–{codes[-1][1]}"
        per_competence[c.code] = per_competence.get(c.code, 0) + 1
        notes = (
            f"Kỹ năng mà dịch vụ gia sư theo dõi: năng lực {c.code} ở trình độ {b.name.vi} ({span}); không thuộc văn bản Thông tư.\n\n"
            f"English: a skill the tutoring service tracks: competence {c.code} at the {b.name.en} band ({span}); not part of the circular."
        )
        if s.description is not None:
            notes = f"{s.description.vi}\n\n{notes}\n\n{s.description.en}"
        item(f"skill:{s.id}", "Skill", Text(vi=f"{c.name.vi} — {b.name.vi}", en=f"{c.name.en} — {b.name.en}"), s.id, per_competence[c.code], notes)
        associate("isChildOf", f"skill:{s.id}", f"competence:{c.code}")
        for level, _ in codes:
            associate("hasSkillLevel", f"skill:{s.id}", f"level:{level}")
    for s in framework.skills:
        for p in s.prerequisites:
            associate("precedes", f"skill:{p}", f"skill:{s.id}")
    return pub
