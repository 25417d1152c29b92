"""Imported items get a difficulty (their band's prior, then their answers), and the placement quiz draws them once aligned."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.catalog.test_catalog_api import auth, upload
from tests.catalog.test_imported_answers import demo_bytes  # noqa: F401 - a fixture
from tests.conftest import make_settings, with_settings
from tutor.catalog.difficulty import PRIOR_ANSWERS, band_priors, difficulties, item_difficulty
from tutor.catalog.steps import placement_items
from tutor.content.library import load_library
from tutor.recommend.placement import PlacementConfig, PlacementModel, PlatformItem
from tutor.recommend.policy import item_guess_slip
from tutor.settings import PROJECT_ROOT
from tutor.store.bulk_writes import insert_events, insert_learners
from tutor.store.tables import CatalogActivity, Event
from tutor.tracing.artefacts import active_model_dir, load_mastery_model

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def settings(database_url, content_dir, tmp_path):
    return with_settings(make_settings(database_url, content_dir, tmp_path / "var"), catalog={"accept_confidence": 1.0})


def test_the_prior_is_the_bands_mean_and_answers_move_it_only_when_enough():
    library = load_library(PROJECT_ROOT / "content")
    priors = band_priors(library)
    basic = [item.difficulty for _, item in library.items.values() if library.skills[item.skills[0]].band == "basic"]
    assert priors["basic"] == pytest.approx(sum(basic) / len(basic))
    assert priors["basic"] < priors["intermediate"]  # the authors' intermediate items are harder
    assert item_difficulty(0.3, PRIOR_ANSWERS - 1, PRIOR_ANSWERS - 1) == 0.3  # all wrong, but too few answers
    assert item_difficulty(0.3, PRIOR_ANSWERS, PRIOR_ANSWERS) == pytest.approx((PRIOR_ANSWERS * 0.3 + PRIOR_ANSWERS) / (2 * PRIOR_ANSWERS))
    assert item_difficulty(0.3, 1000, 0) < 0.01  # everyone right: easy, whatever the prior


def platform_item(iid: str, skill: str, difficulty: float = 0.4) -> PlatformItem:
    return PlatformItem(id=iid, skills=(skill,), difficulty=difficulty, question="Which is safe?", options=("a", "b"), platform="openedx", key=f"block-{iid}", course="c")


def test_the_quiz_draws_aligned_imported_items_where_the_platform_shows_them():
    library = load_library(PROJECT_ROOT / "content")
    model = load_mastery_model(active_model_dir(PROJECT_ROOT / "models"))
    imported = [platform_item("act-one", "4.1-basic"), platform_item("act-two", "5.1-intermediate", 0.7), platform_item("act-bad", "9.9-basic")]
    pm = PlacementModel(library, model, PlacementConfig(), imported)
    assert set(pm.platform) == {"act-one", "act-two"}  # a skill the framework lacks is never drawn
    assert pm.item_skills["act-two"] == ("5.1-intermediate",) and pm.item_lesson["act-one"] is None
    k = pm.item_pos["act-two"]
    assert (pm.guess[k], pm.slip[k]) == pytest.approx(item_guess_slip(model.params("5.1-intermediate"), 0.7, PlacementConfig().difficulty_slope))
    w = pm.weights([])
    everything_bundled = set(library.items)
    assert pm.best_item(w, everything_bundled, platform=False) == (None, 0.0)
    drawn, bits = pm.best_item(w, everything_bundled, platform=True)
    assert drawn in {"act-one", "act-two"} and bits > 0
    first_bundled, _ = pm.best_item(w, set(), platform=False)
    assert first_bundled in library.items


def test_an_imported_item_is_asked_answered_and_counted_through_http(client, keys, runtime, demo_bytes):  # noqa: F811
    upload(client, keys, demo_bytes)
    with runtime.session() as s:
        row = s.scalars(select(CatalogActivity).where(CatalogActivity.kind == "item").order_by(CatalogActivity.position)).first()
        assert row is not None
        aid, key = row.id, row.key
        options = [o for part in row.body["parts"] for o in part["options"]]
    assert options, "the demo course's first problem has options"
    assert client.post(f"/v1/admin/catalog/alignments/{aid}", json={"skills": ["4.1-basic"]}, headers=auth(keys["admin"])).status_code == 200
    with runtime.session() as s:
        drawn = placement_items(s, runtime.library)
    assert [(p.id, p.skills, p.key, list(p.options)) for p in drawn] == [(aid, ("4.1-basic",), key, options)]
    assert drawn[0].difficulty == pytest.approx(band_priors(runtime.library)["basic"])  # no answers yet: the prior
    assert aid in runtime.placement_model().platform  # the quiz's model follows the decision

    asked: list[dict] = []
    body = None
    for n in range(len(runtime.placement_model().pool)):
        r = client.post("/v1/learners/quiz-taker/placement", json=body, headers=auth(keys["platform"]), params={"lang": "en"})
        assert r.status_code == 200, r.text
        nxt = r.json()["next_item"]
        if nxt is None:
            break
        asked.append(nxt)
        body = {"answer_id": f"a{n}", "item_id": nxt["item_id"], "correct": nxt["item_id"] != aid}
    imported = [q for q in asked if q["item_id"] == aid]
    assert len(imported) == 1, [q["item_id"] for q in asked]
    q = imported[0]
    assert q["lesson_id"] is None and q["skill_id"] == "4.1-basic" and q["options"] == options
    assert q["on_platform"]["key"] == key and q["on_platform"]["platform"] == "openedx"
    with runtime.session() as s:
        stored = s.scalars(select(Event).where(Event.item_id == aid, Event.source == "placement")).all()
        assert [(e.kind, e.skills, e.score) for e in stored] == [("answer", ["4.1-basic"], 0.0)]


def test_answers_move_an_imported_items_difficulty(runtime, client, keys, demo_bytes):  # noqa: F811
    upload(client, keys, demo_bytes)
    with runtime.session() as s:
        aid = s.scalars(select(CatalogActivity.id).where(CatalogActivity.kind == "item").order_by(CatalogActivity.position)).first()
    prior = band_priors(runtime.library)["intermediate"]
    rows = [{"event_id": f"d-{n}", "learner_id": f"l-{n}", "kind": "answer", "item_id": aid, "lesson_id": None, "skills": ["4.1-intermediate"],
             "score": 1.0 if n < 10 else 0.0, "occurred_at": NOW + timedelta(minutes=n), "duration_seconds": None, "attempt": None, "source": "xapi",
             "verb": "answered", "skip_reason": None, "received_at": NOW} for n in range(PRIOR_ANSWERS + 10)]
    with runtime.session() as s, s.begin():
        insert_learners(s, [r["learner_id"] for r in rows], NOW)
        insert_events(s, rows[:PRIOR_ANSWERS - 1])
    with runtime.session() as s:
        assert difficulties(s, runtime.library, {aid: ["4.1-intermediate"]})[aid] == pytest.approx(prior)
    with runtime.session() as s, s.begin():
        insert_events(s, rows[PRIOR_ANSWERS - 1:])
    with runtime.session() as s:
        wrong = PRIOR_ANSWERS + 10 - 10
        assert difficulties(s, runtime.library, {aid: ["4.1-intermediate"]})[aid] == pytest.approx((PRIOR_ANSWERS * prior + wrong) / (2 * PRIOR_ANSWERS + 10))
