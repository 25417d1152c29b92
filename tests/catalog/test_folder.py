"""A folder of Markdown and HTML pages."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.catalog.test_scorm import write_folder, write_zip
from tutor.catalog.folder import read_folder
from tutor.errors import Invalid

PAGES: dict[str, str | bytes] = {
    "README.md": "---\ntitle: ignored front matter\n---\nIntro text without a heading, over\ntwo lines.\n",
    "01-basics/passwords.md": (
        "# Strong passwords\n\nUse **three** random words, like `correct horse`.\n\n"
        "## Why\n\n> Long beats complex.\n\n| Length | Time to crack |\n|---|---|\n| 8 | hours |\n\n"
        "See [the guide](https://example.org) and ![a lock](lock.png).\n"
    ),
    "01-basics/wifi.html": "<html><head><title>Public Wi-Fi</title></head><body><h1>Other</h1><p>Avoid banking on café Wi-Fi.</p></body></html>",
    "02-money/apps/deep/fees.htm": "<h1>Fees</h1><p>Read the fee before you send.</p>",
    "02-money/notes.txt": "not a page",
    ".git/HEAD.md": "# hidden",
    "empty.md": "",
}


def test_pages_in_sorted_path_order_keyed_by_path(tmp_path: Path):
    course = read_folder(write_folder(tmp_path / "digital-skills", PAGES))
    assert (course.platform, course.key, course.title) == ("files", "digital-skills", "digital-skills")
    assert [a.key for a in course.activities] == ["01-basics/passwords.md", "01-basics/wifi.html", "02-money/apps/deep/fees.htm", "README.md", "empty.md"]


def test_titles_from_the_first_heading_or_the_title_tag(tmp_path: Path):
    course = read_folder(write_folder(tmp_path / "c", PAGES))
    titles = {a.key: a.title for a in course.activities}
    assert titles == {
        "01-basics/passwords.md": "Strong passwords", "01-basics/wifi.html": "Public Wi-Fi", "02-money/apps/deep/fees.htm": "Fees",
        "README.md": "README", "empty.md": "empty",
    }


def test_markdown_becomes_plain_text(tmp_path: Path):
    course = read_folder(write_folder(tmp_path / "c", PAGES))
    assert course.activity("01-basics/passwords.md").text == (
        "Strong passwords\n\nUse three random words, like correct horse.\n\nWhy\n\nLong beats complex.\n\n"
        "Length | Time to crack\n8 | hours\n\nSee the guide and ."
    )
    assert course.activity("README.md").text == "Intro text without a heading, over two lines."
    assert course.activity("empty.md").kind == "ungraded"


def test_folders_give_the_place(tmp_path: Path):
    course = read_folder(write_folder(tmp_path / "c", PAGES))
    fees = course.activity("02-money/apps/deep/fees.htm").place
    assert (fees.chapter.key, fees.sequential and fees.sequential.key, fees.vertical and fees.vertical.key) == ("02-money", "02-money/apps", "02-money/apps/deep")
    top = course.activity("README.md").place
    assert (top.chapter.key, top.chapter.title, top.sequential) == (".", "c", None)


def test_a_zip_of_the_folder_reads_the_same(tmp_path: Path):
    zipped = read_folder(write_zip(tmp_path / "c.zip", PAGES))
    folder = read_folder(write_folder(tmp_path / "c", PAGES))
    assert zipped.key == "c"
    assert [a.content_hash for a in zipped.activities] == [a.content_hash for a in folder.activities]


def test_a_folder_without_pages(tmp_path: Path):
    with pytest.raises(Invalid, match=r"nothing: no \.md or \.html pages in the folder"):
        read_folder(write_folder(tmp_path / "nothing", {"a.txt": "x"}))
