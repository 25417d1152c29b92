"""What a service process holds in memory: settings, the database, the content, the active model,
the recommender, the placement model, the question index (bundled and imported lessons) and the
aligner of imported content.

Workers are stateless apart from this cache. Shared changes (a lesson added through the API, a model
activated) are written to the database and every worker picks them up within `refresh_seconds`.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from tutor.answering import HelpDesk
from tutor.answering.encoders import encoder_or_none
from tutor.answering.passages import Document
from tutor.catalog.alignment import Aligner
from tutor.catalog.documents import lesson_pages
from tutor.catalog.imports import CATALOG_REVISION
from tutor.catalog.review import reviewed_exemplars
from tutor.catalog.steps import AlignedRows, placement_items, placement_stamp
from tutor.clock import utcnow
from tutor.content.library import ContentError, Lesson, Library, load_library
from tutor.errors import Invalid, NotFound
from tutor.privacy.pseudonyms import pseudonym
from tutor.recommend.placement import PlacementModel
from tutor.recommend.policy import Recommender
from tutor.settings import Settings
from tutor.store.database import make_engine, make_sessions, upgrade
from tutor.store.partitions import create_ahead
from tutor.store.shared_state import bump
from tutor.store.tables import AddedLesson, ServiceState
from tutor.tracing.artefacts import ArtefactError, MasteryModel, active_model_dir
from tutor.tracing.next_answer import load_artefact

MODEL_KEY = "active_model"
CONTENT_KEY = "content_revision"


class Runtime:
    def __init__(self, settings: Settings, migrate: bool = True):
        self.settings = settings
        if migrate:
            upgrade(settings.database_url)
        self.engine = make_engine(settings.database_url)
        self.sessions = make_sessions(self.engine)
        self._partitions_day = utcnow().date()
        create_ahead(self.engine, utcnow())
        self.library: Library = load_library(settings.content.content_dir)
        self.model_name = active_model_dir(settings.tracing.models_dir).name
        self.model: MasteryModel = load_artefact(settings.tracing.models_dir / self.model_name)
        self.recommender = Recommender(settings.recommend)
        self.lesson_listeners: list[Callable[[Lesson], object]] = []  # called with each added or replaced lesson; results unused
        self._revisions: dict[str, int] = {}
        self._lesson_stamps: dict[str, object] = {}
        self._checked = 0.0
        self._lock = threading.Lock()
        self._desk_lock = threading.Lock()
        self._help_desk: HelpDesk | None = None
        self._catalog_stamp: datetime | None = None
        self._aligner_lock = threading.Lock()
        self._aligner: Aligner | None = None
        self._placement_lock = threading.Lock()
        self._placement: PlacementModel | None = None
        self.aligned_rows = AlignedRows()  # what /next read of the catalog, until its revision moves
        self.refresh(force=True)

    def help_desk(self) -> HelpDesk:
        """The question index over the current lessons, built (or loaded from its cache) on first use."""
        with self._desk_lock:
            if self._help_desk is None:
                cache = self.settings.index_cache_dir
                shipped = self.settings.tracing.models_dir / "index-cache"
                if not cache.exists() and shipped.is_dir():
                    shutil.copytree(shipped, cache)  # embeddings of the bundled lessons: a fresh install starts in seconds
                answering = self.settings.answering
                with self.session() as s:
                    imported, self._catalog_stamp = lesson_pages(s)
                documents: list[Document] = [*self.library.lessons.values(), *imported]
                self._help_desk = HelpDesk.build(documents, answering.encoder, encoder_threads=answering.encoder_threads, cache_dir=cache)
                self.lesson_listeners.append(self._help_desk.add_or_replace_lesson)
            return self._help_desk

    def placement_model(self) -> PlacementModel:
        """The placement quiz's model of the current library, mastery model and aligned imported items, rebuilt when any changes."""
        with self._placement_lock, self.session() as s:
            pm, stamp = self._placement, placement_stamp(s)
            if pm is None or pm.items_ref is not self.library.items or pm.model is not self.model or pm.stamp != stamp:
                pm = self._placement = PlacementModel(self.library, self.model, self.settings.placement, placement_items(s, self.library), stamp)
            return pm

    def aligner(self) -> Aligner:
        """The aligner of imported content, built on first use (an import job's thread, or `tutor catalog import`):
        the framework, and as exemplars the library's lessons and items and the imported ones a reviewer decided
        (those decided later in this worker are added as they are decided; other workers learn them when they
        next start). With e5-small, building embeds about 1,000 exemplar texts: about 2 minutes on 2 cores."""
        with self._aligner_lock:
            if self._aligner is None:
                name = self.settings.catalog.aligner_encoder
                encoder = None if name == "bm25" else encoder_or_none(name, self.settings.answering.encoder_threads)
                aligner = Aligner.from_library(self.library, encoder)
                with self.session() as s:
                    aligner.add_exemplars(reviewed_exemplars(s))
                self._aligner = aligner
            return self._aligner

    def aligner_if_ready(self) -> Aligner | None:
        """The aligner when it is built, else None: a request never waits minutes for it (what it registers goes to review)."""
        return self._aligner

    def accept_confidence(self) -> float:
        """The confidence from which an imported lesson's or item's top suggestion is accepted: the setting, else the aligner's measured threshold."""
        chosen = self.settings.catalog.accept_confidence
        return chosen if chosen is not None else self.aligner().accept_confidence

    def pseudonym(self, raw_learner_id: str) -> str:
        return pseudonym(raw_learner_id, self.settings.pseudonym_key)

    def session(self) -> Session:
        return self.sessions()

    def database_ok(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    def refresh(self, force: bool = False) -> None:
        """Follow the shared state (added lessons, active model) at most every refresh_seconds."""
        now = time.monotonic()
        if not force and now - self._checked < self.settings.service.refresh_seconds:
            return
        with self._lock:
            self._checked = now
            if utcnow().date() != self._partitions_day:  # a service running for months keeps months ahead
                self._partitions_day = utcnow().date()
                create_ahead(self.engine, utcnow())
            with self.session() as s:
                state = {row.key: row for row in s.scalars(select(ServiceState))}
                content = state.get(CONTENT_KEY)
                if content is not None and content.revision != self._revisions.get(CONTENT_KEY):
                    for row in s.scalars(select(AddedLesson)):
                        if self._lesson_stamps.get(row.id) != row.updated_at:
                            self._apply_lesson(Lesson.model_validate(row.body))
                            self._lesson_stamps[row.id] = row.updated_at
                    self._revisions[CONTENT_KEY] = content.revision
                catalog = state.get(CATALOG_REVISION)
                if catalog is not None and catalog.revision != self._revisions.get(CATALOG_REVISION):
                    self.aligned_rows.forget()
                    with self._desk_lock:
                        if self._help_desk is not None:
                            pages, self._catalog_stamp = lesson_pages(s, self._catalog_stamp)
                            if pages:
                                self._help_desk.add_or_replace_lessons(pages)
                    self._revisions[CATALOG_REVISION] = catalog.revision
                chosen = state.get(MODEL_KEY)
                if chosen is not None and chosen.revision != self._revisions.get(MODEL_KEY):
                    if chosen.value != self.model_name:
                        self.model = load_artefact(self.settings.tracing.models_dir / chosen.value)
                        self.model_name = chosen.value
                    self._revisions[MODEL_KEY] = chosen.revision

    def _apply_lesson(self, lesson: Lesson) -> None:
        problems = self.library.add_lesson(lesson)
        if problems:
            raise ContentError(problems)
        for listener in self.lesson_listeners:
            listener(lesson)

    def add_lesson(self, lesson: Lesson) -> list:
        """Check, store and publish a lesson; returns problems (and changes nothing) when it is invalid."""
        problems = self.library.problems_with(lesson)
        if problems:
            return problems
        with self.session() as s, s.begin():
            row = s.get(AddedLesson, lesson.id)
            if row is None:
                row = AddedLesson(id=lesson.id, body=lesson.model_dump())
                s.add(row)
            else:
                row.body, row.updated_at = lesson.model_dump(), utcnow()
            bump(s, CONTENT_KEY, lesson.id)
            s.flush()
            stamp = row.updated_at
        self._apply_lesson(lesson)
        self._lesson_stamps[lesson.id] = stamp
        return []

    def activate_model(self, name: str) -> MasteryModel:
        """Load an artefact from models/, then make it the active one for every worker."""
        directory = Path(self.settings.tracing.models_dir) / name
        if Path(name).name != name or not directory.is_dir():
            raise NotFound(f"No artefact directory {name!r} in the models folder; GET /v1/admin/models shows the active one.")
        try:
            model = load_artefact(directory)
        except ArtefactError as exc:
            raise Invalid(f"Artefact refused, the active model is unchanged: {exc}") from None
        with self.session() as s, s.begin():
            bump(s, MODEL_KEY, name)
        self.model, self.model_name = model, name
        return model
