"""`read_package` tells each format from its content."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from tests.catalog.test_cartridge import FILES_13
from tests.catalog.test_scorm import FILES_12, FILES_2004, write_folder, write_zip
from tutor.catalog.packages import FORMATS, read_package
from tutor.errors import Invalid

OLX = {
    "course.xml": '<course org="Org" course="C1" url_name="2026"/>',
    "course/2026.xml": (
        '<course display_name="Demo"><chapter url_name="ch" display_name="Week 1"><sequential url_name="sq" display_name="S">'
        '<vertical url_name="v" display_name="U"><html url_name="intro" display_name="Intro"><p>Hello.</p></html>'
        "</vertical></sequential></chapter></course>"
    ),
}


def write_tar(path: Path, files: dict[str, str]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for rel, body in files.items():
            data = body.encode("utf-8")
            info = tarfile.TarInfo(f"course/{rel}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.parametrize(
    ("make", "platform", "key"),
    [
        (lambda d: write_tar(d / "demo.tar.gz", OLX), "openedx", "course-v1:Org+C1+2026"),
        (lambda d: write_folder(d / "demo", OLX), "openedx", "course-v1:Org+C1+2026"),
        (lambda d: write_zip(d / "safety.zip", FILES_12), "scorm", "com.example.safety"),
        (lambda d: write_folder(d / "money", FILES_2004), "scorm", "net.example.money"),
        (lambda d: write_zip(d / "email.imscc", FILES_13, top="email/"), "cc", "cctd0015"),
        (lambda d: write_folder(d / "pages", {"a/b.md": "# B\n\ntext"}), "files", "pages"),
    ],
)
def test_the_format_is_told_from_the_content(tmp_path: Path, make, platform: str, key: str):
    course = read_package(make(tmp_path))
    assert (course.platform, course.key) == (platform, key)
    assert platform in FORMATS.values()


def test_platform_overrides_the_default(tmp_path: Path):
    course = read_package(write_zip(tmp_path / "email.imscc", FILES_13), platform="moodle")
    assert course.platform == "moodle" and course.key == "cctd0015" and course.notes[0] == "IMS Common Cartridge 1.3"


def test_a_bad_platform_name_is_invalid(tmp_path: Path):
    with pytest.raises(Invalid, match=r"platform 'My LMS!': use lower-case letters, digits and '-'"):
        read_package(write_zip(tmp_path / "email.imscc", FILES_13), platform="My LMS!")


def test_a_plain_content_package_is_neither(tmp_path: Path):
    manifest = '<manifest identifier="x" xmlns="http://www.imsglobal.org/xsd/imscp_v1p1"><organizations/><resources/></manifest>'
    with pytest.raises(Invalid, match=r"cp: imsmanifest\.xml: neither SCORM nor Common Cartridge"):
        read_package(write_folder(tmp_path / "cp", {"imsmanifest.xml": manifest}))


def test_nothing_recognisable(tmp_path: Path):
    with pytest.raises(Invalid, match=r"stuff: no course\.xml, imsmanifest\.xml or \.md/\.html pages found: expected an Open edX export"):
        read_package(write_folder(tmp_path / "stuff", {"notes.txt": "x"}))
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8")
    with pytest.raises(Invalid, match=r"photo\.jpg: not a \.zip or \.tar\.gz archive or a folder"):
        read_package(tmp_path / "photo.jpg")
    with pytest.raises(Invalid, match=r"no such file or folder"):
        read_package(tmp_path / "gone.zip")
