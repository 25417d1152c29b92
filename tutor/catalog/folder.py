"""A folder of Markdown or HTML pages read into a `Course`: the simplest way to bring a course's text.

`read_folder(path)` reads every ``*.md``, ``*.markdown``, ``*.html`` and ``*.htm`` below the folder
(hidden files and folders left out), in sorted path order, each as one `Activity` keyed by its path
relative to the folder (``week-1/passwords.md``). The title is a Markdown page's first heading or an
HTML page's ``<title>`` (else its first ``<h1>``), else the file name. Markdown becomes HTML through
markdown-it (CommonMark, the parser the service's CLI already ships with) and then plain text as
every other page. The page's first folder is its chapter, the next one its sequential; the
course's key and title are the folder's name (a .zip or .tar.gz of the folder is read the same).

>>> import pathlib, tempfile
>>> with tempfile.TemporaryDirectory() as tmp:
...     root = pathlib.Path(tmp) / "digital-skills"
...     (root / "week-1").mkdir(parents=True)
...     _ = (root / "week-1" / "passwords.md").write_text("# Strong passwords\\n\\nUse *three* words.\\n\\n- long\\n- unique\\n")
...     course = read_folder(root)
>>> a = course.activity("week-1/passwords.md")
>>> a.title, a.place.chapter.title
('Strong passwords', 'week-1')
>>> print(a.text)
Strong passwords
<BLANKLINE>
Use three words.
<BLANKLINE>
long
unique
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from markdown_it import MarkdownIt

from tutor.catalog.course import Activity, Course, Node, Place
from tutor.catalog.package_files import Package, html_text, make_activity, make_course, read_page, unpacked
from tutor.errors import Invalid

PLATFORM = "files"
MARKDOWN = (".md", ".markdown")
HTML = (".html", ".htm")
MAX_PAGES = 20_000
WANTED = "give a folder (or a .zip of it) holding .md or .html pages"
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n.*?\n(?:---|\.\.\.)[ \t]*\n", re.DOTALL)
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_H1 = re.compile(r"<h1[^>]*>(.*?)</h1>", re.IGNORECASE | re.DOTALL)
_HEADING = re.compile(r"<h([1-6])[^>]*>(.*?)</h\1>", re.DOTALL)


def pages(folder: Path) -> list[str]:
    """The pages below `folder`, as sorted relative POSIX paths; hidden files and folders are left out."""
    found = []
    for p in folder.rglob("*"):
        rel = p.relative_to(folder)
        if p.is_file() and not p.is_symlink() and p.suffix.lower() in MARKDOWN + HTML and not any(part.startswith(".") for part in rel.parts):
            found.append(rel.as_posix())
            if len(found) > MAX_PAGES:
                raise Invalid(f"{folder.name}: more than {MAX_PAGES} pages: import the course one part at a time")
    return sorted(found)


def markdown_html(source: str) -> str:
    """CommonMark (with GitHub-style tables) to HTML, a leading YAML front matter block left out."""
    return MarkdownIt("commonmark").enable("table").render(_FRONT_MATTER.sub("", source, count=1))


def read_folder(path: str | Path) -> Course:
    """Read a folder of Markdown or HTML pages (or a .zip/.tar.gz of it) into a `Course`."""
    with unpacked(path, WANTED) as (folder, label):
        return read_pages_folder(folder, label)


def read_pages_folder(folder: Path, label: str) -> Course:
    """Read the pages below `folder`; errors name the files under `label`."""
    pkg = Package(folder, label, "")
    found = pages(folder)
    if not found:
        raise Invalid(f"{label}: no .md or .html pages in the folder: {WANTED}")
    activities = [_page(pkg, rel) for rel in found]
    name = Path(label).name
    for suffix in (".zip", ".tar.gz", ".tgz", ".tar"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    return make_course(label, platform=PLATFORM, key=name or "pages", title=name or "pages", activities=tuple(activities))


def _page(pkg: Package, rel: str) -> Activity:
    source = read_page(pkg, rel)
    path = PurePosixPath(rel)
    folders = path.parts[:-1]
    if path.suffix.lower() in MARKDOWN:
        html = markdown_html(source)
        found = _HEADING.search(html)
        heading = found.group(2) if found else ""
    else:
        html = source
        found = _TITLE.search(html) or _H1.search(html)
        heading = found.group(1) if found else ""
    title = html_text(heading) or path.stem
    chapter = Node(key=folders[0], title=folders[0]) if folders else Node(key=".", title=pkg.label)
    sequential = Node(key="/".join(folders[:2]), title=folders[1]) if len(folders) > 1 else None
    vertical = Node(key="/".join(folders), title=folders[-1]) if len(folders) > 2 else None
    text = html_text(html)
    fields = {"kind": "lesson", "text": text} if text else {"kind": "ungraded", "reason": "a page without readable text"}
    return make_activity(
        pkg, rel, key=rel, block_type="markdown" if path.suffix.lower() in MARKDOWN else "html", title=title,
        place=Place(chapter=chapter, sequential=sequential, vertical=vertical), **fields,
    )
