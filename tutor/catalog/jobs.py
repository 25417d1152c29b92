"""Course imports run as jobs: an upload returns at once, and any worker can say how far it got.

A job's state lives in the database (import_jobs), so the worker that took the upload and the one
asked for progress need not be the same. States: queued → reading → aligning (the first time also building the aligner: minutes with an encoder) → storing → done, or failed
with the reason (a broken package names the file inside it). The course is stored in one
transaction at the end, so a failed job leaves nothing half imported.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.orm import Session

from tutor.catalog.imports import Aligns, ImportReport, rank_course, store_course, stored_hashes
from tutor.catalog.packages import read_package
from tutor.clock import utcnow
from tutor.errors import DomainError, NotFound
from tutor.store.tables import ImportJob

PROGRESS_EVERY = 200  # activities between two progress writes


def create_job(session: Session, filename: str, platform: str | None) -> ImportJob:
    job = ImportJob(id=secrets.token_hex(8), filename=filename[:200], platform=platform, state="queued", done=0, total=0)
    session.add(job)
    session.flush()
    return job


def get_job(session: Session, job_id: str) -> ImportJob:
    job = session.get(ImportJob, job_id)
    if job is None:
        raise NotFound(f"No import job {job_id!r}; POST /v1/admin/catalog/imports starts one.")
    return job


def _set(sessions: Callable[[], Session], job_id: str, **values) -> None:
    with sessions() as s, s.begin():
        job = s.get(ImportJob, job_id)
        if job is not None:
            for name, value in values.items():
                setattr(job, name, value)
            job.updated_at = utcnow()


def import_package(sessions: Callable[[], Session], path: Path, platform: str | None, aligner: Callable[[], Aligns | None],
                   accept_confidence: Callable[[], float], progress: Callable[[str, int, int], None] | None = None) -> ImportReport:
    """Read a package, align what is new in it, and store the course in one transaction.

    `aligner` and `accept_confidence` are asked for once the package has been read, since the first call
    may build the aligner (minutes with an encoder): a broken package fails at once."""
    course = read_package(path, platform)
    with sessions() as s:
        known = stored_hashes(s, course)
    if progress is not None:
        progress("aligning", 0, 0)
    rankings = rank_course(course, aligner(), known, (lambda done, total: progress("aligning", done, total)) if progress else None)
    if progress is not None:
        progress("storing", 0, len(course.activities))
    with sessions() as s, s.begin():
        return store_course(s, course, rankings, accept_confidence())


def run_job(sessions: Callable[[], Session], job_id: str, path: Path, aligner: Callable[[], Aligns | None], accept_confidence: Callable[[], float]) -> None:
    """Import the uploaded package for a job, recording progress; the upload (alone in its folder) is deleted afterwards."""
    try:
        with sessions() as s:
            platform = get_job(s, job_id).platform
        _set(sessions, job_id, state="reading")

        def progress(state: str, done: int, total: int) -> None:
            if done in (0, total) or done % PROGRESS_EVERY == 0:
                _set(sessions, job_id, state=state, done=done, total=total)

        report = import_package(sessions, path, platform, aligner, accept_confidence, progress)
        _set(sessions, job_id, state="done", report=report.model_dump(mode="json"))
    except DomainError as exc:
        _set(sessions, job_id, state="failed", error=str(exc)[:2000])
    except Exception:
        _set(sessions, job_id, state="failed", error="The import failed on an internal error (logged without the package's content); nothing of it was stored.")
        raise
    finally:
        shutil.rmtree(path.parent, ignore_errors=True)
