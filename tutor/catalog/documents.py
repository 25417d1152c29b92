"""Imported lessons as documents the question index reads, and the platform's link to cite them by.

An imported lesson is written in one language (the package's, else detected from its text); it
becomes an `answering.library.Page` under its activity id, one section headed by its unit, so an
answer quotes it and cites it like a bundled lesson. The citation adds where the platform shows
it: for Open edX, ``{lms_url}/courses/{course}/jump_to/{usage key}``, the LMS's own redirect to a
block.

>>> openedx_link("https://lms.example.vn/", "course-v1:Org+C1+2026", "block-v1:Org+C1+2026+type@html+block@intro")
'https://lms.example.vn/courses/course-v1:Org+C1+2026/jump_to/block-v1:Org+C1+2026+type@html+block@intro'
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tutor.answering.language import detect_form
from tutor.answering.library import Page, PageSection
from tutor.store.tables import CatalogActivity, CatalogCourse


def openedx_link(lms_url: str, course: str, key: str) -> str:
    return f"{lms_url.rstrip('/')}/courses/{course}/jump_to/{key}"


def _language(declared: str | None, text: str) -> str:
    """'vi' or 'en', the two languages the index reads: the package's own when it says, else detected."""
    if declared:
        return "vi" if declared.lower().startswith("vi") else "en"
    return "vi" if detect_form(text[:2000]).lang == "vi" else "en"


def lesson_pages(session: Session, since: datetime | None = None) -> tuple[list[Page], datetime | None]:
    """Imported lessons changed after `since` (all when None) as pages, with the latest change seen."""
    query = (
        select(CatalogActivity, CatalogCourse.language)
        .outerjoin(CatalogCourse, CatalogCourse.id == CatalogActivity.course_id)
        .where(CatalogActivity.kind == "lesson", CatalogActivity.origin == "package")
    )
    if since is not None:
        query = query.where(CatalogActivity.updated_at > since)
    pages, latest = [], since
    for row, course_language in session.execute(query.order_by(CatalogActivity.updated_at)):
        body = row.body or {}
        text = body.get("text", "")
        lang = _language(body.get("language") or course_language, text)
        place = body.get("place") or {}
        heading = ((place.get("vertical") or {}).get("title") or row.title) if isinstance(place, dict) else row.title
        pages.append(Page(id=row.id, title={lang: row.title}, sections=(PageSection(heading={lang: heading}, body={lang: text}),), skills=tuple(row.skills or ())))
        latest = row.updated_at if latest is None or row.updated_at > latest else latest
    return pages, latest


@dataclass(frozen=True)
class Where:
    """Where the platform shows an imported activity."""

    platform: str
    key: str
    course: str | None
    url: str | None


def where_shown(session: Session, ids: Iterable[str], lms_url: str | None) -> dict[str, Where]:
    """The platform identifiers (and a link, for Open edX with `lms_url` set) of those ids that are imported activities."""
    wanted = sorted({i for i in ids if i.startswith("act-")})
    if not wanted:
        return {}
    rows = session.execute(
        select(CatalogActivity.id, CatalogActivity.platform, CatalogActivity.key, CatalogCourse.key)
        .outerjoin(CatalogCourse, CatalogCourse.id == CatalogActivity.course_id)
        .where(CatalogActivity.id.in_(wanted))
    )
    out = {}
    for aid, platform, key, course in rows:
        url = openedx_link(lms_url, course, key) if lms_url and course and platform == "openedx" else None
        out[aid] = Where(platform, key, course, url)
    return out
