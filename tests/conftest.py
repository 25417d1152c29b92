"""Shared fixtures: a throw-away store on SQLite and on the local PostgreSQL, and a small content folder."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from tutor.app import create_app
from tutor.privacy.credentials import create_key
from tutor.runtime import Runtime
from tutor.settings import PROJECT_ROOT, Settings

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"
SECRET = b"test-pseudonym-secret"


def make_settings(database_url: str, content_dir: Path, var_dir: Path, secret: bytes = SECRET) -> Settings:
    """Settings for a test store: the real models, the given content, workers that refresh at once, a words-only
    aligner (the encoder's takes minutes to build; tests/catalog/test_alignment.py checks it)."""
    return Settings(
        service={"var_dir": var_dir, "refresh_seconds": 0.0}, store={"database_url": database_url}, content={"content_dir": content_dir},
        tracing={"models_dir": PROJECT_ROOT / "models"}, privacy={"pseudonym_secret": secret.decode()}, catalog={"aligner_encoder": "bm25"},
    )


def with_settings(settings: Settings, **sections: dict) -> Settings:
    """A copy of the settings with some fields of some sections changed, checked like the original."""
    values = settings.model_dump()
    for name, fields in sections.items():
        values[name] = {**values[name], **fields}
    return Settings(**values)


def filler(prefix: str, words: int = 320) -> str:
    return " ".join(f"{prefix}{i % 50}" for i in range(words))


def make_lesson(lesson_id: str, skill: str, n_items: int = 4) -> dict:
    """A structurally valid lesson for tests (its words are filler)."""
    text = lambda s: {"vi": f"{s} (vi)", "en": f"{s} (en)"}  # noqa: E731
    return {
        "id": lesson_id,
        "skills": [skill],
        "duration_minutes": 10,
        "title": text(f"Lesson {lesson_id}"),
        "objectives": {"vi": ["Mục tiêu"], "en": ["Objective"]},
        "sections": [
            {"heading": text("One"), "body": {"vi": filler("từ"), "en": filler("word")}},
            {"heading": text("Two"), "body": {"vi": "Phần hai.", "en": "Part two."}},
        ],
        "items": [
            {
                "id": f"{lesson_id}-{k}", "skills": [skill], "difficulty": 0.5, "question": text(f"Question {k}?"),
                "options": {"vi": ["A", "B", "C"], "en": ["A", "B", "C"]}, "correct": k % 3, "explanation": text("Because."),
            }
            for k in range(1, n_items + 1)
        ],
    }


@pytest.fixture(scope="session")
def content_dir(tmp_path_factory) -> Path:
    """The real framework with two filler lessons, so service tests do not depend on the library's prose."""
    root = tmp_path_factory.mktemp("content")
    shutil.copy(PROJECT_ROOT / "content" / "framework.yaml", root / "framework.yaml")
    shutil.copy(PROJECT_ROOT / "content" / "audiences.yaml", root / "audiences.yaml")
    (root / "lessons").mkdir()
    (root / "eval").mkdir()
    for lesson_id, skill in (("test-scams", "4.2-basic"), ("test-search", "1.1-basic")):
        (root / "lessons" / f"{lesson_id}.yaml").write_text(yaml.safe_dump(make_lesson(lesson_id, skill), allow_unicode=True))
    return root


def _pg_available() -> str | None:
    import psycopg

    try:
        with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3"):
            return None
    except Exception as exc:  # pragma: no cover - depends on the machine
        return f"no PostgreSQL server answers at 127.0.0.1:5432 ({exc.__class__.__name__}: {exc})"


@pytest.fixture(scope="session")
def pg_database():
    """A fresh PostgreSQL database for this test run, dropped at the end."""
    reason = _pg_available()
    if reason:
        pytest.skip(reason)
    import psycopg

    name = f"tutor_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"{PG_SERVER}/{name}"
    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _reset_postgres(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    """Each store test runs on both stores: an SQLite file and a clean PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tutor.db'}"
    url = request.getfixturevalue("pg_database")
    _reset_postgres(url)
    return url


@pytest.fixture
def settings(database_url, content_dir, tmp_path) -> Settings:
    return make_settings(database_url, content_dir, tmp_path / "var")


@pytest.fixture
def runtime(settings) -> Runtime:
    settings.service.var_dir.mkdir(parents=True, exist_ok=True)
    rt = Runtime(settings)
    yield rt
    rt.engine.dispose()


@pytest.fixture
def keys(runtime) -> dict[str, str]:
    """One key per scope, plus a learner key bound to learner 'learner-1'."""
    out = {}
    with runtime.session() as s, s.begin():
        for scope in ("platform", "researcher", "admin"):
            out[scope] = create_key(s, scope, [scope])[1]
        out["learner"] = create_key(s, "learner", ["learner"], runtime.pseudonym("learner-1"))[1]
    return out


@pytest.fixture
def client(runtime) -> TestClient:
    with TestClient(create_app(runtime=runtime)) as c:
        yield c


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
