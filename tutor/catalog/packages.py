"""One door for every course package: `read_package` tells the format from the content and reads it.

* a folder or .tar.gz/.zip with ``course.xml`` (at the top or in one top-level folder) → Open edX OLX;
* with ``imsmanifest.xml`` → SCORM (an ADL schema or namespace) or Common Cartridge (a cartridge
  schema or namespace), whichever the manifest says;
* a folder (or archive) of ``.md`` / ``.html`` pages → a folder of pages.

`platform` names the platform the course is kept under instead of the format's default
(`FORMATS`): the name an LMS's statements are matched with, e.g. "moodle" for a Moodle cartridge.

>>> import pathlib, tempfile
>>> with tempfile.TemporaryDirectory() as tmp:
...     _ = (pathlib.Path(tmp) / "intro.md").write_text("# Hello\\n\\nWelcome.")
...     course = read_package(tmp, platform="my-lms")
>>> course.platform, course.activities[0].key, course.activities[0].title
('my-lms', 'intro.md', 'Hello')
"""

from __future__ import annotations

import re
from pathlib import Path

from tutor.catalog.cartridge import cartridge_version, read_cartridge_manifest
from tutor.catalog.course import Course
from tutor.catalog.folder import pages, read_pages_folder
from tutor.catalog.olx import read_olx_folder
from tutor.catalog.package_files import MANIFEST, find_root, make_course, open_manifest, unpacked
from tutor.catalog.scorm import read_scorm_manifest, scorm_version
from tutor.errors import Invalid

# Format name → the platform a course read in it is kept under, unless `platform` says otherwise.
FORMATS = {"olx": "openedx", "scorm": "scorm", "cc": "cc", "files": "files"}
PLATFORM_NAME = re.compile(r"[a-z][a-z0-9-]*")  # what `Course.platform` accepts
WANTED = (
    "expected an Open edX export (course.xml), a SCORM package or Common Cartridge (imsmanifest.xml), "
    "or a folder of .md/.html pages, as a folder, .zip, .imscc or .tar.gz"
)


def read_package(path: str | Path, platform: str | None = None) -> Course:
    """Read any supported course package into a `Course`; `Invalid` says what is wrong and what was expected."""
    if platform is not None and not PLATFORM_NAME.fullmatch(platform):
        raise Invalid(f"platform {platform!r}: use lower-case letters, digits and '-', starting with a letter (e.g. 'moodle')")
    with unpacked(path, WANTED) as (folder, label):
        course = _read(folder, label)
    if platform is None or platform == course.platform:
        return course
    return make_course(course.source, **{**course.model_dump(exclude={"source"}), "platform": platform})


def _read(folder: Path, label: str) -> Course:
    if find_root(folder, "course.xml", label):
        return read_olx_folder(folder, label)
    if find_root(folder, MANIFEST, label):
        manifest = open_manifest(folder, label, "a content package")
        if cartridge_version(manifest):
            return read_cartridge_manifest(manifest)
        if scorm_version(manifest):
            return read_scorm_manifest(manifest)
        raise manifest.pkg.fail(
            MANIFEST, f"neither SCORM nor Common Cartridge (schema {manifest.schema or 'not given'!r}, no ADL or cartridge namespace): {WANTED}"
        )
    if pages(folder):
        return read_pages_folder(folder, label)
    raise Invalid(f"{label}: no course.xml, imsmanifest.xml or .md/.html pages found: {WANTED}")
