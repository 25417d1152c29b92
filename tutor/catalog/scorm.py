"""A SCORM 1.2 or SCORM 2004 package read into a `Course`.

`read_scorm(path)` takes the .zip an authoring tool publishes, or the same folder unpacked, and reads
``imsmanifest.xml`` (the IMS Content Packaging manifest SCORM builds on): the default
``<organization>``'s nested ``<item>``s, in order, and the ``<resource>`` each one launches
(``identifierref``). Every item that launches a resource becomes one `Activity` keyed by the item's
``identifier`` (the id a SCORM player reports the learner's progress under); the course key is the
manifest's ``identifier``. The top-level item is the chapter, the next level the sequential, the
item's nearest parent below those the vertical; a top-level item that launches a resource is its
own chapter.

A lesson's text is read from the resource's HTML: the launch page first, then the other HTML files
the resource lists. A page that is an empty shell running scripts (what Articulate Storyline and
Rise, Adobe Captivate or iSpring publish: the text sits in their JavaScript data files) becomes an
``ungraded`` activity saying so, and `Course.notes` tells the person importing. The version comes
from ``<metadata><schemaversion>`` ("1.2", "CAM 1.3", "2004 3rd Edition", "2004 4th Edition"), else
from the ADL namespace the manifest uses.

>>> import pathlib, tempfile
>>> with tempfile.TemporaryDirectory() as tmp:
...     root = pathlib.Path(tmp)
...     _ = (root / "imsmanifest.xml").write_text(
...         '<manifest identifier="safety" xmlns="http://www.imsproject.org/xsd/imscp_rootv1p1p2"'
...         ' xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_rootv1p2">'
...         '<metadata><schema>ADL SCORM</schema><schemaversion>1.2</schemaversion></metadata>'
...         '<organizations default="o"><organization identifier="o"><title>Safe online</title>'
...         '<item identifier="week1"><title>Week 1</title>'
...         '<item identifier="pw" identifierref="r1"><title>Passwords</title></item></item>'
...         '</organization></organizations><resources>'
...         '<resource identifier="r1" type="webcontent" adlcp:scormtype="sco" href="pw.html">'
...         '<file href="pw.html"/></resource></resources></manifest>')
...     _ = (root / "pw.html").write_text("<html><body><h1>Passwords</h1><p>Use a long one.</p></body></html>")
...     course = read_scorm(root)
>>> course.key, course.title, course.notes
('safety', 'Safe online', ('SCORM 1.2 package',))
>>> lesson = course.activity("pw")
>>> lesson.kind, lesson.block_type, lesson.place.chapter.title, lesson.text
('lesson', 'sco', 'Week 1', 'Passwords\\n\\nUse a long one.')
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tutor.catalog.course import Activity, Course
from tutor.catalog.package_files import (
    MANIFEST,
    Entry,
    Manifest,
    Package,
    attr,
    child_text,
    html_text,
    is_page,
    make_activity,
    make_course,
    not_a_page,
    open_manifest,
    read_page,
    unpacked,
)

PLATFORM = "scorm"
ADLCP_12 = "http://www.adlnet.org/xsd/adlcp_rootv1p2"
ADLCP_2004 = "http://www.adlnet.org/xsd/adlcp_v1p3"
WANTED = "a SCORM package is the .zip your authoring tool or LMS exports, with imsmanifest.xml at its top"

# What gives a publishing tool away: paths in the package, or words in the launch page (lower-cased).
AUTHORING_TOOLS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("Articulate Rise", ("/scormcontent/",), ("rise 360", "articulate rise")),
    ("Articulate Storyline", ("/story_content/", "/story.html", "/html5/data/js/data.js"), ("storyline",)),
    ("Adobe Captivate", ("/cpm.js",), ("captivate",)),
    ("iSpring", ("/ispring", "ispring_"), ("ispring",)),
)
SHELL_TEXT = 200  # a tool's launch page shows at most a loading line or a note to enable JavaScript
MAX_LISTED = 20_000  # files looked at to name the authoring tool
_LANG = re.compile(r"""<html[^>]*\slang\s*=\s*["']?([A-Za-z]{2,3}(?:-[A-Za-z0-9]+)*)""", re.IGNORECASE)
_SCRIPT = re.compile(r"<script\b", re.IGNORECASE)


def scorm_version(manifest: Manifest) -> str | None:
    """"SCORM 1.2", "SCORM 2004 4th Edition", …; None when the manifest is not a SCORM one.

    >>> class M:
    ...     schema, schemaversion, namespaces = "ADL SCORM", "CAM 1.3", set()
    >>> scorm_version(M())
    'SCORM 2004 (CAM 1.3)'
    """
    version = manifest.schemaversion
    if version == "1.2" or (not version and ADLCP_12 in manifest.namespaces):
        return "SCORM 1.2"
    if version.startswith("CAM 1.3"):
        return "SCORM 2004 (CAM 1.3)"
    if version.startswith("2004"):
        return f"SCORM {version}"
    if ADLCP_2004 in manifest.namespaces:
        return "SCORM 2004"
    if ADLCP_12 in manifest.namespaces:
        return "SCORM 1.2"
    if manifest.schema.upper() == "ADL SCORM":
        return f"SCORM {version}".strip()
    return None


def read_scorm(path: str | Path) -> Course:
    """Read a SCORM package (the .zip, or that folder unpacked); `Invalid` names the file inside it that is wrong."""
    with unpacked(path, WANTED) as (folder, label):
        return read_scorm_manifest(open_manifest(folder, label, "a SCORM package"))


def read_scorm_manifest(manifest: Manifest) -> Course:
    """Read a SCORM package from its manifest (what `read_package` calls once the manifest has told the format)."""
    pkg = manifest.pkg
    version = scorm_version(manifest)
    if version is None:
        raise pkg.fail(MANIFEST, f"not a SCORM manifest (schema {manifest.schema or 'not given'!r}, no ADL namespace): {WANTED}")
    if not manifest.entries:
        raise pkg.fail(MANIFEST, "the default <organization> has no <item> that launches a <resource>: nothing to import")
    tool = _authoring_tool(pkg)
    read = [_activity(pkg, entry, tool) for entry in manifest.entries]
    activities = [a for a, _ in read]
    shells = [a for a, shell in read if shell]
    notes = [f"{version} package"]
    if shells:
        who = tool or "an authoring tool"
        notes.append(
            f"{len(shells)} of {len(activities)} activities keep their text in {who}'s scripts, which the tutor does not run: "
            "they are imported with their titles as ungraded. To give the tutor the text, export it from the tool "
            "(as HTML or a document) and import it as a folder of pages."
        )
    languages = {a.language for a in activities if a.language}
    title = manifest.title or _lom_title(manifest) or manifest.identifier
    return make_course(
        pkg.label, platform=PLATFORM, key=manifest.identifier, title=title,
        language=languages.pop() if len(languages) == 1 else None, activities=tuple(activities), notes=tuple(notes),
    )


def _lom_title(manifest: Manifest) -> str:
    return child_text(manifest.root, "metadata", "lom", "general", "title", "langstring") or child_text(
        manifest.root, "metadata", "lom", "general", "title", "string"
    )


def _authoring_tool(pkg: Package) -> str | None:
    """The publishing tool whose marks the package's file names carry, if any."""
    listed: list[str] = []  # "/"-led, so that a mark like "/cpm.js" matches a whole file name
    for i, p in enumerate(pkg.root.rglob("*")):
        if i >= MAX_LISTED:
            break
        listed.append("/" + p.relative_to(pkg.root).as_posix().lower() + ("/" if p.is_dir() else ""))
    names = "\n".join(listed)
    return next((tool for tool, paths, _ in AUTHORING_TOOLS if any(m in names for m in paths)), None)


def _activity(pkg: Package, entry: Entry, tool: str | None) -> tuple[Activity, bool]:
    """The item's activity, and whether its page is an authoring tool's shell."""
    fields, shell = _content(pkg, entry, tool)
    block_type = attr(entry.resource.element, "scormtype").lower() or "asset"
    activity = make_activity(pkg, MANIFEST, key=entry.item.key, block_type=block_type, title=entry.item.title, place=entry.place(), **fields)
    return activity, shell


def _content(pkg: Package, entry: Entry, tool: str | None) -> tuple[dict[str, Any], bool]:
    r = entry.resource
    if r.url:
        return {"kind": "ungraded", "reason": f"launches {r.url}, outside the package: its content is not in the package"}, False
    if r.href is None:
        return {"kind": "ungraded", "reason": "a resource without a launch page (no href): nothing to read"}, False
    if not is_page(r.href):
        return {"kind": "ungraded", "reason": not_a_page(r.href)}, False
    referrer = f"<resource identifier={r.identifier!r}> in {pkg.shown(MANIFEST)}"
    pages = list(dict.fromkeys([r.href, *(f for f in r.files if is_page(f))]))
    sources = [read_page(pkg, page, referrer) for page in pages]
    texts = [html_text(source) for source in sources]
    text = "\n\n".join(t for t in texts if t)
    launch = sources[0]
    found = _LANG.search(launch)
    language = found.group(1) if found else None
    marked = tool or next((t for t, _, words in AUTHORING_TOOLS if any(w in launch.lower() for w in words)), None)
    if _SCRIPT.search(launch) and (not texts[0] or (marked and len(text) < SHELL_TEXT)):
        who = marked or "an authoring tool"
        reason = f"the page {r.href} is a shell that runs scripts: the text is in {who}'s scripts, which this importer does not run"
        return {"kind": "ungraded", "language": language, "reason": reason}, True
    if not text:
        return {"kind": "ungraded", "language": language, "reason": f"the page {r.href} has no readable text (only images, media or frames)"}, False
    return {"kind": "lesson", "text": text, "language": language}, False
