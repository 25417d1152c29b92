"""SCORM 1.2 and 2004 packages, built in the shapes the ADL Content Aggregation Model gives."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from pathlib import Path

import pytest

from tutor.catalog import package_files
from tutor.catalog.scorm import read_scorm
from tutor.errors import Invalid

SCORM_12 = """<?xml version="1.0" encoding="UTF-8"?>
<manifest identifier="com.example.safety" version="1.0"
    xmlns="http://www.imsproject.org/xsd/imscp_rootv1p1p2"
    xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_rootv1p2"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xsi:schemaLocation="http://www.imsproject.org/xsd/imscp_rootv1p1p2 imscp_rootv1p1p2.xsd
      http://www.adlnet.org/xsd/adlcp_rootv1p2 adlcp_rootv1p2.xsd">
  <metadata><schema>ADL SCORM</schema><schemaversion>1.2</schemaversion></metadata>
  <organizations default="ORG-1">
    <organization identifier="ORG-1">
      <title>Staying safe online</title>
      <item identifier="welcome" identifierref="RES-welcome"><title>Welcome</title></item>
      <item identifier="week1" isvisible="true">
        <title>Week 1</title>
        <item identifier="basics">
          <title>Basics</title>
          <item identifier="passwords" identifierref="RES-pw" parameters="?lang=vi"><title>Passwords</title></item>
          <item identifier="unit1">
            <title>Unit 1</title>
            <item identifier="phishing" identifierref="RES-ph"><title>Phishing</title></item>
          </item>
        </item>
      </item>
    </organization>
  </organizations>
  <resources>
    <resource identifier="RES-welcome" type="webcontent" adlcp:scormtype="asset" href="welcome.html">
      <file href="welcome.html"/>
    </resource>
    <resource identifier="RES-pw" type="webcontent" adlcp:scormtype="sco" xml:base="lessons/" href="passwords/index.html">
      <file href="passwords/index.html"/>
      <file href="passwords/more.html"/>
      <file href="passwords/logo.png"/>
      <dependency identifierref="COMMON"/>
    </resource>
    <resource identifier="RES-ph" type="webcontent" adlcp:scormtype="sco" href="phishing.htm">
      <file href="phishing.htm"/>
    </resource>
    <resource identifier="COMMON" type="webcontent" adlcp:scormtype="asset">
      <file href="shared/api.js"/>
    </resource>
  </resources>
</manifest>
"""

FILES_12: dict[str, str | bytes] = {
    "imsmanifest.xml": SCORM_12,
    "welcome.html": "<html lang='vi'><head><title>x</title></head><body><h1>Welcome</h1><p>This course keeps you safe.</p></body></html>",
    "lessons/passwords/index.html": "<html lang='vi'><body><h1>Passwords</h1><p>Use three random words.</p><script>LMSInitialize('')</script></body></html>",
    "lessons/passwords/more.html": "<html lang='vi'><body><p>Never reuse a password.</p></body></html>",
    "lessons/passwords/logo.png": b"\x89PNG",
    "phishing.htm": "<html lang='vi'><body><p>Check the sender before you click.</p></body></html>".encode("cp1252"),
    "shared/api.js": "function LMSInitialize() {}",
}

SCORM_2004 = """<?xml version="1.0" encoding="UTF-8"?>
<manifest identifier="net.example.money" version="1"
    xmlns="http://www.imsglobal.org/xsd/imscp_v1p1"
    xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_v1p3"
    xmlns:adlseq="http://www.adlnet.org/xsd/adlseq_v1p3"
    xmlns:adlnav="http://www.adlnet.org/xsd/adlnav_v1p3"
    xmlns:imsss="http://www.imsglobal.org/xsd/imsss"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <metadata><schema>ADL SCORM</schema><schemaversion>2004 4th Edition</schemaversion></metadata>
  <organizations default="money_org">
    <organization identifier="money_org" adlseq:objectivesGlobalToSystem="false">
      <title>Mobile money</title>
      <item identifier="m1">
        <title>Module 1: Paying by phone</title>
        <item identifier="m1_l1" identifierref="r_l1">
          <title>Sending money</title>
          <imsss:sequencing><imsss:deliveryControls tracked="true"/></imsss:sequencing>
        </item>
        <item identifier="m1_l2" identifierref="r_l2"><title>Fees</title></item>
      </item>
      <imsss:sequencing><imsss:controlMode choice="true" flow="true"/></imsss:sequencing>
    </organization>
  </organizations>
  <resources>
    <resource identifier="r_l1" type="webcontent" adlcp:scormType="sco" href="l1/index.html">
      <file href="l1/index.html"/>
    </resource>
    <resource identifier="r_l2" type="webcontent" adlcp:scormType="sco" href="l2/index.html">
      <file href="l2/index.html"/>
    </resource>
  </resources>
</manifest>
"""

FILES_2004: dict[str, str | bytes] = {
    "imsmanifest.xml": SCORM_2004,
    "l1/index.html": "<html><body><h2>Sending money</h2><p>Open the app, choose <b>Send</b>.</p></body></html>",
    "l2/index.html": "<html><body><p>Each transfer costs a small fee.</p></body></html>",
}

STORYLINE = """<?xml version="1.0" encoding="UTF-8"?>
<manifest identifier="Storyline_Course" xmlns="http://www.imsglobal.org/xsd/imscp_v1p1"
    xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_v1p3">
  <metadata><schema>ADL SCORM</schema><schemaversion>2004 3rd Edition</schemaversion></metadata>
  <organizations default="Storyline_ORG">
    <organization identifier="Storyline_ORG"><title>Online shopping</title>
      <item identifier="Storyline_SCO" identifierref="Storyline_RES"><title>Online shopping</title></item>
    </organization>
  </organizations>
  <resources>
    <resource identifier="Storyline_RES" type="webcontent" adlcp:scormType="sco" href="story.html">
      <file href="story.html"/><file href="html5/data/js/data.js"/>
    </resource>
  </resources>
</manifest>
"""

FILES_STORYLINE: dict[str, str | bytes] = {
    "imsmanifest.xml": STORYLINE,
    "story.html": (
        "<!DOCTYPE html><html><head><title>Online shopping</title><script src='story_content/user.js'></script></head>"
        "<body><div id='preso'></div><noscript>Please enable JavaScript.</noscript>"
        "<script>window.globalProvideData('data', '...');</script></body></html>"
    ),
    "html5/data/js/data.js": "window.globalProvideData('data', '{\"slides\": []}');",
    "story_content/user.js": "",
}


def write_folder(root: Path, files: Mapping[str, str | bytes]) -> Path:
    for rel, body in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(body.encode("utf-8") if isinstance(body, str) else body)
    return root


def write_zip(path: Path, files: Mapping[str, str | bytes], top: str = "") -> Path:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for rel, body in files.items():
            zf.writestr(top + rel, body)
    path.write_bytes(buf.getvalue())
    return path


def test_scorm_12_items_become_activities_in_organization_order(tmp_path: Path):
    course = read_scorm(write_zip(tmp_path / "safety.zip", FILES_12))
    assert (course.platform, course.key, course.title, course.language) == ("scorm", "com.example.safety", "Staying safe online", "vi")
    assert course.notes == ("SCORM 1.2 package",)
    assert [a.key for a in course.activities] == ["welcome", "passwords", "phishing"]
    assert [a.block_type for a in course.activities] == ["asset", "sco", "sco"]
    assert course.counts() == {"lesson": 3, "item": 0, "ungraded": 0}


def test_place_follows_the_item_nesting(tmp_path: Path):
    course = read_scorm(write_folder(tmp_path / "safety", FILES_12))
    welcome, pw, ph = course.activities
    assert (welcome.place.chapter.key, welcome.place.sequential) == ("welcome", None)
    assert (pw.place.chapter.title, pw.place.sequential and pw.place.sequential.title, pw.place.vertical) == ("Week 1", "Basics", None)
    assert ph.place.vertical is not None and (ph.place.chapter.key, ph.place.vertical.title) == ("week1", "Unit 1")


def test_text_comes_from_the_launch_page_then_the_other_pages(tmp_path: Path):
    course = read_scorm(write_folder(tmp_path / "safety", FILES_12))
    assert course.activity("passwords").text == "Passwords\n\nUse three random words.\n\nNever reuse a password."
    assert course.activity("phishing").text == "Check the sender before you click."  # a Windows-1252 page
    assert "LMSInitialize" not in course.activity("passwords").text


def test_a_zip_and_its_folder_read_the_same(tmp_path: Path):
    zipped = read_scorm(write_zip(tmp_path / "s.zip", FILES_12, top="safety/"))
    folder = read_scorm(write_folder(tmp_path / "safety", FILES_12))
    assert [a.content_hash for a in zipped.activities] == [a.content_hash for a in folder.activities]


def test_scorm_2004_fourth_edition(tmp_path: Path):
    course = read_scorm(write_zip(tmp_path / "money.zip", FILES_2004))
    assert course.notes == ("SCORM 2004 4th Edition package",)
    assert (course.key, course.title) == ("net.example.money", "Mobile money")
    send = course.activity("m1_l1")
    assert (send.kind, send.block_type, send.title, send.place.chapter.title) == ("lesson", "sco", "Sending money", "Module 1: Paying by phone")
    assert send.text == "Sending money\n\nOpen the app, choose Send."
    assert [a.key for a in course.activities] == ["m1_l1", "m1_l2"]


@pytest.mark.parametrize(
    ("version", "expected"),
    [("CAM 1.3", "SCORM 2004 (CAM 1.3)"), ("2004 3rd Edition", "SCORM 2004 3rd Edition"), ("", "SCORM 2004")],
)
def test_version_from_schemaversion_or_namespace(tmp_path: Path, version: str, expected: str):
    manifest = SCORM_2004.replace("<schemaversion>2004 4th Edition</schemaversion>", f"<schemaversion>{version}</schemaversion>")
    course = read_scorm(write_folder(tmp_path / "m", {**FILES_2004, "imsmanifest.xml": manifest}))
    assert course.notes[0] == f"{expected} package"


def test_an_authoring_tool_shell_is_ungraded_and_the_course_says_why(tmp_path: Path):
    course = read_scorm(write_zip(tmp_path / "shop.zip", FILES_STORYLINE))
    (shell,) = course.activities
    assert (shell.kind, shell.title, shell.key) == ("ungraded", "Online shopping", "Storyline_SCO")
    assert shell.reason is not None and "Articulate Storyline's scripts" in shell.reason
    assert any("Articulate Storyline's scripts" in n and "folder of pages" in n for n in course.notes)


def test_a_page_with_text_and_scripts_stays_a_lesson(tmp_path: Path):
    course = read_scorm(write_folder(tmp_path / "safety", FILES_12))
    assert course.activity("passwords").kind == "lesson"
    assert len(course.notes) == 1


def broken(tmp_path: Path, **changes: str | bytes | None) -> Path:
    files = {**FILES_12, **changes}
    return write_zip(tmp_path / "broken.zip", {k: v for k, v in files.items() if v is not None})


def test_missing_manifest(tmp_path: Path):
    with pytest.raises(Invalid, match=r"broken\.zip: imsmanifest\.xml: missing, at the top or in a top-level folder"):
        read_scorm(broken(tmp_path, **{"imsmanifest.xml": None}))


def test_malformed_manifest_names_the_file(tmp_path: Path):
    with pytest.raises(Invalid, match=r"broken\.zip: imsmanifest\.xml: not well-formed XML"):
        read_scorm(broken(tmp_path, **{"imsmanifest.xml": SCORM_12.replace("</organizations>", "")}))


def test_manifest_with_a_dtd_is_refused(tmp_path: Path):
    evil = SCORM_12.replace('<?xml version="1.0" encoding="UTF-8"?>', '<?xml version="1.0"?><!DOCTYPE m [<!ENTITY x "y">]>')
    with pytest.raises(Invalid, match=r"imsmanifest\.xml: refused XML"):
        read_scorm(broken(tmp_path, **{"imsmanifest.xml": evil}))


def test_an_href_leaving_the_package(tmp_path: Path):
    manifest = SCORM_12.replace('href="phishing.htm">', 'href="../../etc/phishing.htm">')
    with pytest.raises(Invalid, match=r"imsmanifest\.xml: <resource identifier='RES-ph'>: href '\.\./\.\./etc/phishing\.htm' leaves the package"):
        read_scorm(broken(tmp_path, **{"imsmanifest.xml": manifest}))


def test_a_missing_resource_file(tmp_path: Path):
    with pytest.raises(Invalid, match=r"broken\.zip: lessons/passwords/more\.html: missing from the package, referenced by <resource identifier='RES-pw'> in imsmanifest\.xml"):
        read_scorm(broken(tmp_path, **{"lessons/passwords/more.html": None}))


def test_an_item_pointing_at_no_resource(tmp_path: Path):
    manifest = SCORM_12.replace('identifierref="RES-ph"', 'identifierref="RES-gone"')
    with pytest.raises(Invalid, match=r"imsmanifest\.xml: <item identifier='phishing'>: identifierref='RES-gone' names no <resource>"):
        read_scorm(broken(tmp_path, **{"imsmanifest.xml": manifest}))


def test_a_zip_bomb_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(package_files, "MAX_UNPACKED_BYTES", 1024 * 1024)
    with pytest.raises(Invalid, match=r"broken\.zip: unpacks to \d+ bytes, more than 1048576"):
        read_scorm(broken(tmp_path, **{"video.bin": b"\0" * (4 * 1024 * 1024)}))


def test_a_zip_member_leaving_the_folder_is_refused(tmp_path: Path):
    with pytest.raises(Invalid, match=r"member '\.\./evil\.html': refused, an absolute path or '\.\.' would leave the package"):
        read_scorm(broken(tmp_path, **{"../evil.html": "x"}))


def test_not_a_zip(tmp_path: Path):
    (tmp_path / "notes.zip").write_text("hello")
    with pytest.raises(Invalid, match=r"notes\.zip: not a \.zip or \.tar\.gz archive or a folder: a SCORM package is"):
        read_scorm(tmp_path / "notes.zip")


def test_a_cartridge_is_not_read_as_scorm(tmp_path: Path):
    manifest = '<manifest identifier="x" xmlns="http://www.imsglobal.org/xsd/imsccv1p3/imscp_v1p1"><metadata><schema>IMS Common Cartridge</schema></metadata></manifest>'
    with pytest.raises(Invalid, match=r"imsmanifest\.xml: not a SCORM manifest \(schema 'IMS Common Cartridge'"):
        read_scorm(write_folder(tmp_path / "cc", {"imsmanifest.xml": manifest}))


def test_a_zip_member_that_is_a_link_is_refused(tmp_path: Path):
    path = broken(tmp_path)
    with zipfile.ZipFile(path, "a") as zf:
        link = zipfile.ZipInfo("secret.html")
        link.external_attr = (0o120777 << 16)
        zf.writestr(link, "/etc/passwd")
    with pytest.raises(Invalid, match=r"member 'secret\.html': refused, links are not accepted"):
        read_scorm(path)


def test_resources_that_are_not_pages_are_ungraded_with_the_reason(tmp_path: Path):
    manifest = SCORM_12.replace('href="welcome.html">', 'href="https://video.example.org/intro">').replace('href="phishing.htm">', 'href="handout.pdf">')
    course = read_scorm(broken(tmp_path, **{"imsmanifest.xml": manifest}))
    assert course.activity("welcome").reason == "launches https://video.example.org/intro, outside the package: its content is not in the package"
    assert course.activity("phishing").reason == "a PDF file (handout.pdf): its content is not read by this importer"


def test_two_packages_in_one_zip_are_refused(tmp_path: Path):
    files = {**{f"a/{k}": v for k, v in FILES_12.items()}, **{f"b/{k}": v for k, v in FILES_12.items()}}
    with pytest.raises(Invalid, match=r"two\.zip: several courses \(a, b\)"):
        read_scorm(write_zip(tmp_path / "two.zip", files))
