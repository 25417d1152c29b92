"""The framework published as CASE 1.0: valid against 1EdTech's schema, stable identifiers, the tree
and the prerequisites as associations, and the REST routes behind an API key."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime

import pytest

from tests.conftest import SHARED_DATA, auth
from tutor.content import case
from tutor.content.library import Library, load_library

CASE_SCHEMA = SHARED_DATA / "case" / "case-v1p0-cfpackage-schema.json"
CHANGED = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
COMPETENCE_4_2 = "a1db6cc7-735c-58a7-a327-b1814376472d"  # uuid5(case.NAMESPACE, "competence:4.2"), published: never change it
DOCUMENT = "8ba41114-b728-557f-9bbe-7b2ac220cbf2"


@pytest.fixture(scope="module")
def library(content_dir) -> Library:
    return load_library(content_dir)


@pytest.fixture(scope="module")
def pub(library) -> case.Publication:
    return case.publish(library.framework, "https://tutor.example.vn/", CHANGED)


def ids(pub: case.Publication, kind: str) -> dict[str, str]:
    """humanCodingScheme → identifier of the items of one CFItemType."""
    return {i["humanCodingScheme"]: i["identifier"] for i in pub.package["CFItems"] if i["CFItemType"] == kind}


def links(pub: case.Publication, kind: str) -> list[tuple[str, str]]:
    return [(a["originNodeURI"]["identifier"], a["destinationNodeURI"]["identifier"]) for a in pub.package["CFAssociations"] if a["associationType"] == kind]


def test_the_package_is_valid_case(pub):
    if not CASE_SCHEMA.exists():
        pytest.skip(f"the CASE 1.0 JSON schema is not there ({CASE_SCHEMA}); see ../shared/data/README.md")
    jsonschema_rs = pytest.importorskip("jsonschema_rs", reason="the JSON-schema validator jsonschema-rs is not installed (pip install -e '.[test]')")
    validator = jsonschema_rs.Draft7Validator(json.loads(CASE_SCHEMA.read_text(encoding="utf-8")), validate_formats=True)
    package = json.loads(json.dumps(pub.package))  # exactly what goes over the wire
    errors = [f"{'/'.join(map(str, e.instance_path))}: {e.message}" for e in validator.iter_errors(package)]
    assert not errors, "\n".join(errors[:20])
    assert Counter(i["CFItemType"] for i in package["CFItems"]) == {"Domain": 6, "Competence": 24, "Proficiency band": 4, "Proficiency level": 8, "Skill": 96}
    assert {i["humanCodingScheme"] for i in package["CFItems"] if i["CFItemType"] == "Proficiency level"} == {"CB1", "CB2", "TC1", "TC2", "NC1", "NC2", "CS1", "CS2"}


def test_texts_are_vietnamese_with_the_english_name_beside(pub, library):
    item = pub.get_item(COMPETENCE_4_2)
    competence = library.competences["4.2"]
    assert (item["fullStatement"], item["alternativeLabel"], item["language"]) == (competence.name.vi, competence.name.en, "vi")
    assert competence.description.vi in item["notes"] and competence.description.en in item["notes"]
    document = pub.document
    assert document["language"] == "vi" and "02/2025/TT-BGDĐT" in document["title"]
    assert document["lastChangeDateTime"] == "2026-11-23T08:00:00+00:00"
    assert "licenseURI" not in document  # the framework names no licence


def test_identifiers_are_stable_and_unique(pub, library):
    again = case.publish(library.framework, "http://elsewhere:8000", datetime(2030, 1, 1, tzinfo=UTC))
    every = [o["identifier"] for o in [pub.document, *pub.package["CFItems"], *pub.package["CFAssociations"]]]
    assert every == [o["identifier"] for o in [again.document, *again.package["CFItems"], *again.package["CFAssociations"]]]
    assert len(set(every)) == len(every)
    assert ids(pub, "Competence")["4.2"] == COMPETENCE_4_2 == case.identifier("competence:4.2")
    assert pub.document["identifier"] == DOCUMENT


def test_the_tree_every_competence_is_a_child_of_its_domain(pub, library):
    parents = dict(links(pub, "isChildOf"))
    assert len(parents) == len(links(pub, "isChildOf"))  # one parent each
    domains, competences, skills = ids(pub, "Domain"), ids(pub, "Competence"), ids(pub, "Skill")
    for code, domain in library.domain_of.items():
        assert parents[competences[code]] == domains[domain]
    assert all(parents[d] == DOCUMENT for d in domains.values())
    assert all(parents[skills[s.id]] == competences[s.competence] for s in library.framework.skills)
    levels, bands = ids(pub, "Proficiency level"), ids(pub, "Proficiency band")
    assert parents[levels["TC2"]] == bands["TC"]
    assert {d for o, d in links(pub, "hasSkillLevel") if o == skills["4.2-basic"]} == {levels["CB1"], levels["CB2"]}
    sequence = [a["sequenceNumber"] for a in pub.package["CFAssociations"] if a["associationType"] == "isChildOf" and a["destinationNodeURI"]["identifier"] == domains["4"]]
    assert sequence == [1, 2, 3, 4]


def test_prerequisites_appear_as_precedes(pub, library):
    skills = ids(pub, "Skill")
    expected = {(skills[p], skills[s.id]) for s in library.framework.skills for p in s.prerequisites}
    assert expected and set(links(pub, "precedes")) == expected
    assert (skills["4.1-basic"], skills["4.2-basic"]) in expected


def test_last_change_is_the_frameworks_revised_date(library):
    changed = case.framework_changed_at(library.framework)
    assert changed.date() == library.framework.revised and changed.tzinfo is not None and (changed.hour, changed.minute) == (0, 0)


def test_the_routes_need_a_key_and_serve_the_package(client, keys):
    base = "/ims/case/v1p0"
    assert client.get(f"{base}/CFDocuments").status_code == 401
    assert client.get(f"{base}/CFPackages/{DOCUMENT}").status_code == 401
    listing = client.get(f"{base}/CFDocuments", headers=auth(keys["learner"]))
    assert listing.status_code == 200, listing.text
    assert listing.headers["X-Total-Count"] == "1"
    [document] = listing.json()["CFDocuments"]
    assert document["identifier"] == DOCUMENT
    assert document["CFPackageURI"]["uri"] == f"http://testserver{base}/CFPackages/{DOCUMENT}"
    package = client.get(f"{base}/CFPackages/{DOCUMENT}", headers=auth(keys["researcher"]))
    assert package.status_code == 200, package.text
    body = package.json()
    assert body["CFDocument"] == document and len(body["CFItems"]) == 138
    # every kind of uri resolves on this server, to the object it names
    for obj in (body["CFDocument"], body["CFItems"][0], body["CFAssociations"][-1]):
        got = client.get(obj["uri"], headers=auth(keys["platform"]))
        assert got.status_code == 200 and got.json() == obj, obj["uri"]
    assert client.get(f"{base}/CFItems/{COMPETENCE_4_2.upper()}", headers=auth(keys["admin"])).json()["humanCodingScheme"] == "4.2"
    missing = client.get(f"{base}/CFPackages/{COMPETENCE_4_2}", headers=auth(keys["platform"]))
    assert missing.status_code == 404 and "CFDocuments" in missing.json()["detail"]
