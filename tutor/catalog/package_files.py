"""What every course-package reader needs: safe files, safe unpacking, safe XML, readable text.

A package (an Open edX export, a SCORM or Common Cartridge zip, a folder) is untrusted input. This
module is the one place that guards it:

* `unpacked(path)` gives the folder itself, or a temporary folder holding the archive (zip or
  tar) unpacked after checking every member: no absolute path or ``..``, no links, at most
  `MAX_MEMBERS` members and `MAX_UNPACKED_BYTES` bytes (counted while writing, so a zip that
  lies about its sizes is stopped too);
* `Package` reads files by their path inside the package, refusing one that would leave it, and
  parses XML through defusedxml (no DTDs, no entities); every failure is an `Invalid` that names
  the file inside the package;
* `html_text` and `element_text` turn HTML and XML into plain text, paragraphs split by a blank line.

>>> import pathlib, tempfile
>>> with tempfile.TemporaryDirectory() as tmp:
...     _ = (pathlib.Path(tmp) / "a.xml").write_text("<a><b>one</b> two</a>")
...     pkg = Package(pathlib.Path(tmp), "demo.zip", "")
...     print(element_text(pkg.xml("a.xml")), "|", pkg.path("../etc/passwd"))
one two | None
"""

from __future__ import annotations

import re
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote
from xml.etree.ElementTree import Element  # the type only; parsing goes through defusedxml

import defusedxml
import defusedxml.ElementTree as SafeET
from pydantic import ValidationError

from tutor.catalog.course import Activity, Course, Node, Place
from tutor.errors import Invalid

MAX_UNPACKED_BYTES = 2 * 1024**3  # a course package is megabytes; refuse a decompression bomb
MAX_MEMBERS = 200_000


# Plain text: which tags break paragraphs or lines, which are left out with their content.
BLOCK_TAGS = {
    "p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table", "blockquote", "pre", "section", "article",
    "header", "footer", "figure", "figcaption", "dl", "hr", "address", "aside", "nav", "main", "details", "summary",
    "center", "label", "description", "legend", "fieldset",
}
LINE_TAGS = {"li", "tr", "dt", "dd", "br", "choice", "option", "caption"}
CELL_TAGS = {"td", "th"}
HTML_SKIP = {"script", "style", "noscript", "template", "head", "object", "embed"}

WS = re.compile(r"\s+")
# Marks left in the collected text until it is joined: a table cell starts, a line or a paragraph ends.
_CELL, _LINE, _PARA = "\x1f", "\x1e", "\x1d"
_MARKS = re.compile("[\x1d\x1e\x1f\n]")


class Broken(Exception):
    """A problem with one file of the package, turned into `Invalid` with the file's name."""


# ---------------------------------------------------------------------------------------------
# Plain text from HTML and XML


class _Text:
    """Collects text with paragraph and line breaks; `value()` gives it normalised."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def start(self, tag: str) -> None:
        if tag in BLOCK_TAGS:
            self.parts.append(_PARA)
        elif tag in LINE_TAGS:
            self.parts.append(_LINE)
        elif tag in CELL_TAGS:
            self.parts.append(_CELL)

    def end(self, tag: str) -> None:
        if tag in BLOCK_TAGS:
            self.parts.append(_PARA)
        elif tag in LINE_TAGS and tag != "br":
            self.parts.append(_LINE)

    def data(self, text: str) -> None:
        self.parts.append(WS.sub(" ", _MARKS.sub(" ", text)))

    def value(self) -> str:
        """Lines joined by one newline, paragraphs by a blank line; table cells as "a | b", empty ones left out."""
        out: list[str] = []
        pending = ""  # the strongest break seen since the last line of text
        for piece in re.split(f"([{_LINE}{_PARA}])", "".join(self.parts)):
            if piece in (_LINE, _PARA):
                pending = "\n\n" if piece == _PARA or pending == "\n\n" else "\n"
                continue
            line = " | ".join(c for c in (re.sub(r"[ \t]+", " ", cell).strip() for cell in piece.split(_CELL)) if c)
            if not line:
                continue
            if out:
                out.append(pending or " ")
            out.append(line)
            pending = ""
        return "".join(out)


class _HtmlText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out = _Text()
        self.skipping: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.skipping or tag in HTML_SKIP:
            if tag in HTML_SKIP:
                self.skipping.append(tag)
            return
        self.out.start(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if not self.skipping and tag not in HTML_SKIP:
            self.out.start(tag)
            self.out.end(tag)

    def handle_endtag(self, tag: str) -> None:
        if self.skipping:
            if tag == self.skipping[-1]:
                self.skipping.pop()
            return
        self.out.end(tag)

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.out.data(data)


def html_text(source: str) -> str:
    """Readable text of an HTML fragment: tags dropped, paragraphs split by a blank line.

    >>> print(html_text("<h3>Title</h3><p>One&nbsp;<em>two</em></p><script>x()</script><ul><li>a</li><li>b</li></ul>"))
    Title
    <BLANKLINE>
    One two
    <BLANKLINE>
    a
    b
    """
    parser = _HtmlText()
    parser.feed(source)
    parser.close()
    return parser.out.value()


def local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def element_text(element: Element, skip: set[str] = HTML_SKIP) -> str:
    """Readable text of an XML element, leaving out the subtrees whose tag is in `skip`."""
    out = _Text()

    def walk(el: Element) -> None:
        tag = local(el.tag)
        out.start(tag)
        if el.text:
            out.data(el.text)
        for child in el:
            if local(child.tag) not in skip:
                walk(child)
            if child.tail:
                out.data(child.tail)
        out.end(tag)

    try:
        walk(element)
    except RecursionError:
        raise Broken("elements nested too deeply to read") from None
    return out.value()


# ---------------------------------------------------------------------------------------------
# The package on disk


def safe_parts(path: str) -> tuple[str, ...] | None:
    """The parts of a relative POSIX path inside the package, or None if it could leave it."""
    if not path or "\x00" in path or "\\" in path or path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        return None
    parts = PurePosixPath(path).parts
    if any(p in ("..", ".") for p in parts):
        return None
    return parts


class Package:
    """The unpacked course folder; every file is named as it is inside the package."""

    def __init__(self, root: Path, label: str, prefix: str):
        self.root = root.resolve()
        self.label = label
        self.prefix = prefix

    def shown(self, rel: str) -> str:
        return f"{self.prefix}{rel}"

    def fail(self, rel: str, message: str) -> Invalid:
        return Invalid(f"{self.label}: {self.shown(rel)}: {message}")

    def path(self, rel: str) -> Path | None:
        parts = safe_parts(rel)
        if parts is None:
            return None
        p = self.root.joinpath(*parts)
        try:
            p.resolve().relative_to(self.root)
        except ValueError:
            return None
        return p

    def exists(self, rel: str) -> bool:
        p = self.path(rel)
        return p is not None and p.is_file()

    def read_text(self, rel: str, referrer: str | None = None) -> str:
        p = self.path(rel)
        if p is None:
            raise Invalid(f"{self.label}: {referrer or self.shown(rel)}: the path {rel!r} leaves the package")
        if not p.is_file():
            where = f", referenced by {referrer}" if referrer else ""
            raise Invalid(f"{self.label}: {self.shown(rel)}: missing from the package{where}")
        try:
            return p.read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise self.fail(rel, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None

    def xml(self, rel: str, referrer: str | None = None) -> Element:
        text = self.read_text(rel, referrer)
        try:
            root = SafeET.fromstring(text, forbid_dtd=True)
        except SafeET.ParseError as exc:
            raise self.fail(rel, f"not well-formed XML: {exc}") from None
        except defusedxml.DefusedXmlException as exc:
            raise self.fail(rel, f"refused XML ({type(exc).__name__}): DTDs and entity declarations are not allowed") from None
        return root


def _limits(name: str, count: int, total: int) -> None:
    if count > MAX_MEMBERS:
        raise Invalid(f"{name}: {count} members: more than a course export holds ({MAX_MEMBERS})")
    if total > MAX_UNPACKED_BYTES:
        raise Invalid(f"{name}: unpacks to {total} bytes, more than {MAX_UNPACKED_BYTES}")


def _refuse_unsafe(name: str, member: str) -> None:
    if safe_parts(member.rstrip("/")) is None:
        raise Invalid(f"{name}: member {member!r}: refused, an absolute path or '..' would leave the package")


def unpack_tar(archive: Path, dest: Path) -> None:
    """Extract a .tar.gz course export into `dest`, refusing members that could land outside it."""
    name = archive.name
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            _limits(name, len(members), 0)
            for m in members:
                _refuse_unsafe(name, m.name)
                if m.issym() or m.islnk():
                    raise Invalid(f"{name}: member {m.name!r}: refused, links are not accepted in a course package")
                if not (m.isfile() or m.isdir()):
                    raise Invalid(f"{name}: member {m.name!r}: refused, neither a file nor a folder")
            _limits(name, len(members), sum(m.size for m in members))
            tar.extractall(dest, members=members, filter="data")
    except tarfile.FilterError as exc:
        raise Invalid(f"{name}: member refused: {exc}") from None
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise Invalid(f"{name}: not a readable .tar.gz course export: {exc}") from None


def unpack_zip(archive: Path, dest: Path) -> None:
    """Extract a zip package into `dest` with the tar guards; the bytes are counted as they are written."""
    name = archive.name
    try:
        with zipfile.ZipFile(archive) as zf:
            members = zf.infolist()
            _limits(name, len(members), 0)
            for m in members:
                _refuse_unsafe(name, m.filename)
                if stat.S_ISLNK(m.external_attr >> 16):
                    raise Invalid(f"{name}: member {m.filename!r}: refused, links are not accepted in a course package")
            _limits(name, len(members), sum(m.file_size for m in members))
            written = 0
            for m in members:
                target = dest.joinpath(*PurePosixPath(m.filename.rstrip("/")).parts)
                if m.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(m) as src, target.open("wb") as out:
                    while chunk := src.read(1 << 20):
                        written += len(chunk)
                        _limits(name, len(members), written)
                        out.write(chunk)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, zlib.error, OSError, RuntimeError) as exc:
        raise Invalid(f"{name}: not a readable zip package: {exc}") from None


@contextmanager
def unpacked(path: str | Path, wanted: str) -> Iterator[tuple[Path, str]]:
    """The folder and the name to show for it: the folder itself, or a .zip/.tar.gz unpacked for the block.

    `wanted` names what the package should be, for the message when the file is not an archive.
    """
    p = Path(path)
    if p.is_dir():
        yield p, p.name
        return
    if not p.is_file():
        raise Invalid(f"{p}: no such file or folder")
    if zipfile.is_zipfile(p):
        unpack = unpack_zip
    elif tarfile.is_tarfile(p):
        unpack = unpack_tar
    else:
        raise Invalid(f"{p.name}: not a .zip or .tar.gz archive or a folder: {wanted}")
    tmp = tempfile.mkdtemp(prefix="package-")
    try:
        unpack(p, Path(tmp))
        yield Path(tmp), p.name
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def find_root(folder: Path, marker: str, label: str) -> tuple[Path, str] | None:
    """The folder holding `marker` and its prefix inside the package: the top, or the one top-level folder holding it.

    None when neither holds it; `Invalid` when several top-level folders do (one package, one course).
    """
    if (folder / marker).is_file():
        return folder, ""
    found = sorted(d for d in folder.iterdir() if d.is_dir() and (d / marker).is_file())
    if len(found) == 1:
        return found[0], f"{found[0].name}/"
    if found:
        raise Invalid(f"{label}: several courses ({', '.join(d.name for d in found)}); export one course per package")
    return None


# ---------------------------------------------------------------------------------------------
# Web pages inside a package


_PAGE = re.compile(r"\.x?html?$", re.IGNORECASE)
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([\w-]+)""", re.IGNORECASE)


def is_page(rel: str) -> bool:
    return bool(_PAGE.search(rel))


def not_a_page(rel: str) -> str:
    """Why a launched file that is not a web page is not read.

    >>> not_a_page("handouts/week1.pdf")
    'a PDF file (handouts/week1.pdf): its content is not read by this importer'
    """
    kind = PurePosixPath(rel).suffix.lstrip(".").upper()
    return f"{'a ' + kind if kind else 'a'} file ({rel}): its content is not read by this importer"


def read_page(pkg: Package, rel: str, referrer: str | None = None) -> str:
    """An HTML page's text as the browser would decode it: UTF-8, else the charset its <meta> names, else Windows-1252."""
    p = pkg.path(rel)
    if p is None or not p.is_file():
        return pkg.read_text(rel, referrer)  # raises, naming the path
    raw = p.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        declared = _CHARSET.search(raw[:4096])
        if declared:
            try:
                return raw.decode(declared.group(1).decode("ascii"), errors="replace")
            except LookupError:
                pass  # a charset Python does not know: read it as the web's default
        return raw.decode("cp1252", errors="replace")


# ---------------------------------------------------------------------------------------------
# IMS content packages: the imsmanifest.xml that SCORM and Common Cartridge share

MANIFEST = "imsmanifest.xml"
_XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+://")  # an address on the web; "C:/..." is a path that leaves the package


def attr(el: Element, name: str) -> str:
    """An attribute by local name, whatever its namespace or case (SCORM 1.2 writes adlcp:scormtype, 2004 adlcp:scormType)."""
    for key, value in el.attrib.items():
        if local(key).lower() == name.lower():
            return str(value).strip()
    return ""


def children(el: Element, tag: str) -> list[Element]:
    return [c for c in el if local(c.tag) == tag]


def child_text(el: Element, *path: str) -> str:
    """The whitespace-normalised text of the first element down `path` (local names), or ""."""
    found: Element | None = el
    for tag in path:
        found = next(iter(children(found, tag)), None) if found is not None else None
    return WS.sub(" ", "".join(found.itertext())).strip() if found is not None else ""


def namespaces(root: Element) -> set[str]:
    """Every namespace the document's elements and attributes use."""
    out: set[str] = set()
    for el in root.iter():
        for name in (el.tag, *el.attrib):
            if isinstance(name, str) and name.startswith("{"):
                out.add(name[1:].split("}", 1)[0])
    return out


class Resource:
    """A manifest <resource>: its type, its launch file (`href`, inside the package, or `url` outside) and files."""

    def __init__(self, el: Element, base: str, manifest: Manifest):
        self.element = el
        self.identifier = attr(el, "identifier")
        self.type = attr(el, "type")
        self.base = base + attr(el, "base")
        where = f"<resource identifier={self.identifier!r}>"
        self.url = ""
        href = attr(el, "href")
        self.href = manifest.inside(self.base + href, where, "href") if href and not _URL.match(href) else None
        if href and _URL.match(href):
            self.url = href
        listed = [attr(f, "href") for f in children(el, "file")]
        self.files = tuple(manifest.inside(self.base + f, where, "<file href>") for f in listed if f and not _URL.match(f))
        self.dependencies = tuple(attr(d, "identifierref") for d in children(el, "dependency") if attr(d, "identifierref"))


class Entry:
    """An organization <item> that launches a resource, with the items it sits in (the top one first)."""

    def __init__(self, item: Node, outline: tuple[Node, ...], resource: Resource):
        self.item, self.outline, self.resource = item, outline, resource

    def place(self, inside: bool = False) -> Place:
        """Where it sits: the top-level item as chapter, the next as sequential, the innermost as vertical.

        An item at the top is its own chapter; `inside` places what the item holds (a quiz's
        questions) with the item itself as the innermost level.
        """
        path = (*self.outline, self.item) if inside else self.outline or (self.item,)
        return Place(chapter=path[0], sequential=path[1] if len(path) > 1 else None, vertical=path[-1] if len(path) > 2 else None)


class Manifest:
    """A package's imsmanifest.xml: identifier, schema, the default organization's items and the resources."""

    def __init__(self, pkg: Package):
        self.pkg = pkg
        self.root = pkg.xml(MANIFEST)
        if local(self.root.tag) != "manifest":
            raise pkg.fail(MANIFEST, f"the root is <{local(self.root.tag)}>, expected <manifest>")
        self.identifier = attr(self.root, "identifier")
        if not self.identifier:
            raise pkg.fail(MANIFEST, "<manifest> has no identifier: the course key is the manifest's identifier")
        self.namespaces = namespaces(self.root)
        self.schema = child_text(self.root, "metadata", "schema")
        self.schemaversion = child_text(self.root, "metadata", "schemaversion")
        self.resources: dict[str, Resource] = {}
        for block in children(self.root, "resources"):
            for el in children(block, "resource"):
                r = Resource(el, attr(block, "base"), self)
                if not r.identifier:
                    raise pkg.fail(MANIFEST, "a <resource> without identifier")
                if r.identifier in self.resources:
                    raise pkg.fail(MANIFEST, f"<resource identifier={r.identifier!r}> appears twice")
                self.resources[r.identifier] = r
        for r in self.resources.values():
            for dep in r.dependencies:
                if dep not in self.resources:
                    raise pkg.fail(MANIFEST, f"<resource identifier={r.identifier!r}>: <dependency identifierref={dep!r}> names no <resource>")
        self.organization = self._organization()
        self.title = child_text(self.organization, "title") if self.organization is not None else ""
        self.entries: list[Entry] = []
        if self.organization is not None:
            items = children(self.organization, "item")
            if len(items) == 1 and not attr(items[0], "identifierref") and not child_text(items[0], "title"):
                items = children(items[0], "item")  # Common Cartridge's untitled root item holds the course
            for item in items:
                self._walk(item, ())

    def inside(self, href: str, where: str, what: str) -> str:
        """An href as a path inside the package (URL-decoded, query and fragment dropped); `Invalid` if it leaves it."""
        path = unquote(href.split("#", 1)[0].split("?", 1)[0])
        if safe_parts(path) is None:
            raise self.pkg.fail(MANIFEST, f"{where}: {what} {href!r} leaves the package")
        return PurePosixPath(path).as_posix()

    def _organization(self) -> Element | None:
        block = next(iter(children(self.root, "organizations")), None)
        if block is None:
            return None
        orgs = children(block, "organization")
        default = attr(block, "default")
        chosen = next((o for o in orgs if attr(o, "identifier") == default), None) if default else None
        if default and chosen is None:
            raise self.pkg.fail(MANIFEST, f"<organizations default={default!r}> names no <organization>")
        return chosen if chosen is not None else next(iter(orgs), None)

    def _walk(self, item: Element, outline: tuple[Node, ...]) -> None:
        identifier = attr(item, "identifier")
        if not identifier:
            raise self.pkg.fail(MANIFEST, "an <item> without identifier")
        node = Node(key=identifier, title=child_text(item, "title") or identifier)
        ref = attr(item, "identifierref")
        if ref:
            if ref not in self.resources:
                raise self.pkg.fail(MANIFEST, f"<item identifier={identifier!r}>: identifierref={ref!r} names no <resource>")
            self.entries.append(Entry(node, outline, self.resources[ref]))
        for child in children(item, "item"):
            self._walk(child, (*outline, node))


def open_manifest(folder: Path, label: str, what: str) -> Manifest:
    """The manifest of the package unpacked in `folder`, at its top or in its one top-level folder."""
    found = find_root(folder, MANIFEST, label)
    if found is None:
        raise Invalid(f"{label}: {MANIFEST}: missing, at the top or in a top-level folder: not {what}")
    return Manifest(Package(found[0], label, found[1]))


def make_course(label: str, **fields: Any) -> Course:
    """A `Course`, or `Invalid` naming the package when what was read does not fit the model."""
    try:
        return Course(source=label, **fields)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise Invalid(f"{label}: the course does not fit the model: {'.'.join(map(str, err['loc']))}: {err['msg']}") from None


def make_activity(pkg: Package, rel: str, **fields: Any) -> Activity:
    """An `Activity`, or `Invalid` naming the file it was read from."""
    try:
        return Activity(**fields)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise pkg.fail(rel, f"{fields.get('key')} cannot be read: {'.'.join(map(str, err['loc']))}: {err['msg']}") from None
