"""An IMS Common Cartridge (1.0 to 1.3, what Moodle and Canvas export) read into a `Course`.

`read_cartridge(path)` takes the ``.imscc`` (a zip), or the same folder unpacked, and walks the
``imsmanifest.xml`` organization's items in order (the untitled root item the specification
requires is skipped). Each item that points at a resource becomes an activity keyed by the item's
``identifier``, placed like a SCORM item (the top-level item is the chapter), by resource type:

* ``webcontent`` → a ``lesson`` with the text of its HTML page (another file type, a PDF say, is
  ungraded);
* ``imsqti_xmlv1p2/imscc_xmlv1pN/assessment`` → one activity per question (see `tutor.catalog.qti`),
  keyed ``ITEM/QUESTION`` (the organization item's identifier, a slash, the QTI item's ``ident``),
  placed inside the quiz;
* ``imswl_xmlv1pN`` (a web link), ``imsdt_xmlv1pN`` (a discussion), ``imsbasiclti_xmlv1pN`` (an LTI
  tool) and anything else → ``ungraded`` with the reason (a discussion keeps its prompt as `question`).

The course key is the manifest's ``identifier``, the title the LOM title in the manifest's metadata.

>>> import pathlib, tempfile
>>> with tempfile.TemporaryDirectory() as tmp:
...     root = pathlib.Path(tmp)
...     _ = (root / "imsmanifest.xml").write_text(
...         '<manifest identifier="cc1" xmlns="http://www.imsglobal.org/xsd/imsccv1p3/imscp_v1p1">'
...         '<metadata><schema>IMS Common Cartridge</schema><schemaversion>1.3.0</schemaversion></metadata>'
...         '<organizations><organization identifier="o" structure="rooted-hierarchy"><item identifier="root">'
...         '<item identifier="m1"><title>Module 1</title><item identifier="i1" identifierref="r1">'
...         '<title>Welcome</title></item></item></item></organization></organizations><resources>'
...         '<resource identifier="r1" type="webcontent" href="welcome.html"><file href="welcome.html"/></resource>'
...         '</resources></manifest>')
...     _ = (root / "welcome.html").write_text("<p>Hello, learners.</p>")
...     course = read_cartridge(root)
>>> course.notes, course.activity("i1").text, course.activity("i1").place.chapter.title
(('IMS Common Cartridge 1.3',), 'Hello, learners.', 'Module 1')
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tutor.catalog import qti
from tutor.catalog.course import Activity, Course, Node
from tutor.catalog.package_files import (
    MANIFEST,
    Broken,
    Entry,
    Manifest,
    Package,
    child_text,
    html_text,
    is_page,
    local,
    make_activity,
    make_course,
    not_a_page,
    open_manifest,
    read_page,
    unpacked,
)

PLATFORM = "cc"
WANTED = "a Common Cartridge is the .imscc file your LMS exports (Moodle: Backup › IMS Common Cartridge; Canvas: Export › Common Cartridge)"
_CC_NAMESPACE = re.compile(r"/imscc(?:v(\d)p(\d))?/")
KINDS = (  # resource type → what it is
    (re.compile(r"^imsqti_xmlv1p2/imscc_xmlv1p\d/assessment$"), "assessment"),
    (re.compile(r"^imsqti_xmlv1p2/imscc_xmlv1p\d/question-bank$"), "question-bank"),
    (re.compile(r"^imswl_xmlv1p\d$"), "weblink"),
    (re.compile(r"^imsdt_xmlv1p\d$"), "discussion"),
    (re.compile(r"^imsbasiclti_xmlv1p\d$"), "basiclti"),
    (re.compile(r"^associatedcontent/imscc_xmlv1p\d/learning-application-resource$"), "learning-application"),
    (re.compile(r"^assignment_xmlv1p\d$"), "assignment"),
    (re.compile(r"^webcontent$"), "webcontent"),
)
WHY = {
    "question-bank": "a question bank: questions a quiz draws from, not placed in the course",
    "basiclti": "an external tool (LTI): its content and grading are outside the package",
    "assignment": "an assignment: learners hand in work that a teacher grades, no answer key",
    "learning-application": "files for a learning application (an assignment's or tool's attachments): not read by this importer",
}


def cartridge_version(manifest: Manifest) -> str | None:
    """"1.3", "1.1", …; None when the manifest is not a Common Cartridge one."""
    version = manifest.schemaversion
    schema = manifest.schema.lower()
    if schema.startswith(("ims common cartridge", "ims thin cc")) and version:
        return ".".join(version.split(".")[:2])
    for ns in sorted(manifest.namespaces):
        found = _CC_NAMESPACE.search(ns)
        if found:
            return f"{found.group(1)}.{found.group(2)}" if found.group(1) else "1.0"
    return None


def kind_of(resource_type: str) -> str:
    return next((kind for pattern, kind in KINDS if pattern.match(resource_type)), resource_type or "untyped")


def read_cartridge(path: str | Path) -> Course:
    """Read a Common Cartridge (the .imscc, or that folder unpacked); `Invalid` names the file inside it that is wrong."""
    with unpacked(path, WANTED) as (folder, label):
        return read_cartridge_manifest(open_manifest(folder, label, "a Common Cartridge"))


def read_cartridge_manifest(manifest: Manifest) -> Course:
    """Read a cartridge from its manifest (what `read_package` calls once the manifest has told the format)."""
    pkg = manifest.pkg
    version = cartridge_version(manifest)
    if version is None:
        raise pkg.fail(MANIFEST, f"not a Common Cartridge manifest (schema {manifest.schema or 'not given'!r}): {WANTED}")
    activities: list[Activity] = []
    for entry in manifest.entries:
        activities += _activities(pkg, entry)
    notes = [f"IMS Common Cartridge {version}"]
    placed = {e.resource.identifier for e in manifest.entries}
    left = [r for r in manifest.resources.values() if r.identifier not in placed and kind_of(r.type) in ("assessment", "discussion", "weblink", "basiclti")]
    if left:
        notes.append(f"{len(left)} quizzes, discussions, links or tools are in the package but in no module of the organization: not imported")
    if not manifest.entries:
        notes.append("the organization has no items that point at a resource: nothing to import")
    title = (
        child_text(manifest.root, "metadata", "lom", "general", "title", "string") or manifest.title or manifest.identifier
    )
    return make_course(pkg.label, platform=PLATFORM, key=manifest.identifier, title=title, activities=tuple(activities), notes=tuple(notes))


def _descriptor(pkg: Package, entry: Entry) -> tuple[str, Any]:
    """The resource's own XML file (a link, a topic, a quiz) and its parsed root."""
    r = entry.resource
    rel = r.href or next(iter(r.files), None)
    if rel is None:
        raise pkg.fail(MANIFEST, f"<resource identifier={r.identifier!r}> ({r.type}) names no file")
    return rel, pkg.xml(rel, referrer=f"<resource identifier={r.identifier!r}> in {pkg.shown(MANIFEST)}")


def _activities(pkg: Package, entry: Entry) -> list[Activity]:
    r = entry.resource
    kind = kind_of(r.type)
    base: dict[str, Any] = {"key": entry.item.key, "block_type": kind, "title": entry.item.title, "place": entry.place()}
    if kind == "assessment":
        return _quiz(pkg, entry)
    if kind == "webcontent":
        return [make_activity(pkg, MANIFEST, **base, **_page(pkg, entry))]
    if kind == "weblink":
        rel, root = _descriptor(pkg, entry)
        url = next((u.get("href", "") for u in root.iter() if local(u.tag) == "url"), "")
        return [make_activity(pkg, rel, **base, kind="ungraded", reason=f"a web link to {url or 'an address it does not give'}: its content is outside the package")]
    if kind == "discussion":
        rel, root = _descriptor(pkg, entry)
        raw = child_text(root, "text")
        prompt = html_text(raw) if "<" in raw else raw
        return [make_activity(pkg, rel, **base, kind="ungraded", question=prompt, reason="a discussion topic: learners post and reply, nothing to grade")]
    return [make_activity(pkg, MANIFEST, **base, kind="ungraded", reason=WHY.get(kind, f"a {kind} resource: not read by this importer"))]


def _page(pkg: Package, entry: Entry) -> dict[str, Any]:
    r = entry.resource
    if r.url:
        return {"kind": "ungraded", "reason": f"a link to {r.url}: its content is outside the package"}
    rel = r.href or next(iter(r.files), None)
    if rel is None:
        return {"kind": "ungraded", "reason": "web content without a file: nothing to read"}
    if not is_page(rel):
        return {"kind": "ungraded", "reason": not_a_page(rel)}
    text = html_text(read_page(pkg, rel, f"<resource identifier={r.identifier!r}> in {pkg.shown(MANIFEST)}"))
    if not text:
        return {"kind": "ungraded", "reason": f"the page {rel} has no readable text (only images, media or frames)"}
    return {"kind": "lesson", "text": text}


def _quiz(pkg: Package, entry: Entry) -> list[Activity]:
    rel, root = _descriptor(pkg, entry)
    try:
        title, items = qti.questions(root)
    except Broken as exc:
        raise pkg.fail(rel, str(exc)) from None
    quiz = Node(key=entry.item.key, title=entry.item.title or title or entry.item.key)
    inside = Entry(quiz, entry.outline, entry.resource).place(inside=True)
    if not items:
        return [make_activity(pkg, rel, key=quiz.key, block_type="assessment", title=quiz.title, place=entry.place(), kind="ungraded", reason="a quiz without questions")]
    out = []
    for item in items:
        ident = (item.get("ident") or "").strip()
        if not ident:
            raise pkg.fail(rel, "an <item> without ident: each question needs one")
        try:
            fields = qti.read_question(item)
        except Broken as exc:
            raise pkg.fail(rel, str(exc)) from None
        first = (fields["question"].split("\n", 1)[0] or ident).strip()
        name = (item.get("title") or "").strip() or (first if len(first) <= 80 else first[:79].rstrip() + "…")
        out.append(make_activity(pkg, rel, key=f"{entry.item.key}/{ident}", title=name, place=inside, **fields))
    return out
