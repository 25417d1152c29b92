"""An Open edX course export (OLX) read into a `Course`.

`read_olx(path)` takes the ``.tar.gz`` that Studio exports, or the same folder unpacked, and walks
``course.xml`` → ``course/{run}.xml`` → chapters → sequentials → verticals → components, following
``url_name`` pointers into the per-type folders (OLX keeps a block either inline or in
``TYPE/URL_NAME.xml``; an html block may point on to ``html/NAME.html``). Every component becomes
one `Activity` under its usage key, ``block-v1:ORG+COURSE+RUN+type@TYPE+block@URL_NAME``, the id
that Open edX's xAPI statements carry at the end of the activity's LMS URL:

* html, and a video whose transcript (``.srt`` or ``.srt.sjson`` under ``static/`` or
  ``transcripts/``) is in the package → a ``lesson`` with its readable text;
* a capa problem whose answer key the XML holds (multiplechoiceresponse, choiceresponse,
  optionresponse, stringresponse, numericalresponse) → an ``item``;
* anything else (customresponse, formularesponse, imageresponse, drag and drop, peer assessment,
  forums, polls, LTI tools, a video without transcript, …) → ``ungraded``, with the reason.

The XML is untrusted: it is parsed through defusedxml (no DTDs, no entities), an archive member with
an absolute path or ``..`` is refused (and tarfile's ``data`` filter guards the extraction), and a
``url_name`` cannot leave the package. A broken package (a pointer to a missing file, malformed
XML, a problem that cannot be read) raises `Invalid` naming the file inside the package; nothing is
half returned.

>>> import pathlib, tempfile
>>> with tempfile.TemporaryDirectory() as tmp:
...     root = pathlib.Path(tmp)
...     _ = (root / "course.xml").write_text('<course org="Org" course="C1" url_name="2026"/>')
...     (root / "course").mkdir()
...     _ = (root / "course" / "2026.xml").write_text(
...         '<course display_name="Demo"><chapter url_name="ch" display_name="Week 1">'
...         '<sequential url_name="sq" display_name="Basics"><vertical url_name="v" display_name="Unit">'
...         '<html url_name="intro" display_name="Intro"><p>Hello <b>world</b>.</p><p>Bye.</p></html>'
...         '<problem url_name="q1" display_name="Q1"><multiplechoiceresponse><label>Pick one</label>'
...         '<choicegroup><choice correct="false">A</choice><choice correct="true">B</choice></choicegroup>'
...         '</multiplechoiceresponse></problem></vertical></sequential></chapter></course>')
...     course = read_olx(root)
>>> course.key, course.title, course.counts()
('course-v1:Org+C1+2026', 'Demo', {'lesson': 1, 'item': 1, 'ungraded': 0})
>>> print(course.activities[0].text)
Hello world.
<BLANKLINE>
Bye.
>>> q = course.activity("block-v1:Org+C1+2026+type@problem+block@q1")
>>> q.question, q.options, q.correct, q.place.vertical.title
('Pick one', ('A', 'B'), (1,), 'Unit')
"""

from __future__ import annotations

import ast
import hashlib
import html
import json
import re
import tarfile
from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath
from typing import Any
from xml.etree.ElementTree import Element  # the type only; parsing goes through defusedxml

import defusedxml.ElementTree as SafeET
from pydantic import ValidationError

from tutor.catalog.course import Activity, Course, Node, Part, Place
from tutor.catalog.package_files import HTML_SKIP, WS, Broken, Package, element_text, find_root, html_text, local, safe_parts, unpacked
from tutor.errors import Invalid

PLATFORM = "openedx"

OUTLINE = ("chapter", "sequential", "vertical")
# Blocks that hold other blocks and decide which of them a learner sees.
CONTAINERS = {"library_content", "itembank", "conditional", "split_test", "randomize"}
NOT_BLOCKS = {"show", "wiki", "textbook"}  # children of the course or a conditional that are settings, not blocks

READ_TYPES = ("multiplechoiceresponse", "choiceresponse", "optionresponse", "stringresponse", "numericalresponse")
WHY_UNREAD = {
    "customresponse": "graded by server-side code the XML does not hold an answer key for",
    "formularesponse": "graded by evaluating a typed formula at sample points",
    "imageresponse": "graded by where the learner clicks on an image",
    "schematicresponse": "graded by simulating the learner's circuit",
    "symbolicresponse": "graded by a symbolic algebra check on the server",
    "coderesponse": "graded by an external code grader",
    "externalresponse": "graded by an external server",
    "javascriptresponse": "graded by JavaScript the XML does not hold",
    "annotationresponse": "an annotation task (tags and comments on a text), not read by this importer",
    "choicetextresponse": "choices with text inputs, not read by this importer",
    "truefalseresponse": "a legacy true/false type, not read by this importer",
}
WHY_UNGRADED = {
    "discussion": "a discussion forum: nothing to read or grade",
    "openassessment": "an open response assessment: graded by peers or staff against a rubric, no answer key",
    "lti": "an external tool (LTI): its content and grading are outside the package",
    "lti_consumer": "an external tool (LTI): its content and grading are outside the package",
    "poll": "a poll: opinions, no correct answer",
    "survey": "a survey: opinions, no correct answer",
    "word_cloud": "a word cloud: opinions, no correct answer",
    "drag-and-drop-v2": "a drag-and-drop XBlock: its key is JSON this importer does not read",
    "edx_sga": "a staff-graded assignment (file upload): graded by staff",
    "staffgradedxblock": "a staff-graded activity: graded by staff offline",
    "done": "a completion checkbox: nothing to read or grade",
    "scorm": "a SCORM package inside the course: read by a SCORM importer, not this one",
    "google-document": "an embedded Google document: its content is outside the package",
    "google-calendar": "an embedded Google calendar: nothing to read or grade",
    "pdf": "an embedded PDF: its content is outside this importer",
}

# In a problem: the answer widgets, the key, hints and the worked solution are not the question.
PROBLEM_SKIP = HTML_SKIP | {
    "solution", "demandhint", "hint", "hintgroup", "choicehint", "optionhint", "correcthint", "stringequalhint",
    "numericalhint", "choicegroup", "checkboxgroup", "optioninput", "textline", "formulaequationinput", "responseparam",
    "additional_answer", "jsinput", "imageinput", "schematic", "designprotein2dinput", "annotationinput",
    "clarification", "drag_and_drop_input", "chemicalequationinput", "crystallography", "vsepr_input", "editamoleculeinput", "answer",
    "textbox", "filesubmission", "choicetextgroup", "radiotextgroup", "checkboxtextgroup", "math",
}

_SCRIPT_VAR = re.compile(r"\$[A-Za-z_]\w*")
_SRT_TIME = re.compile(r"(?:(\d+):)?(\d{1,2}):(\d{2})[,.](\d{1,3})")
_BAD_KEY_CHARS = re.compile(r"[^\w.%-]")  # what Open edX replaces when it names a block after its display_name


# ---------------------------------------------------------------------------------------------
# Transcripts


def _seconds(stamp: str) -> float | None:
    m = _SRT_TIME.search(stamp)
    if not m:
        return None
    h, mnt, s, ms = m.groups()
    return int(h or 0) * 3600 + int(mnt) * 60 + int(s) + int(ms.ljust(3, "0")) / 1000


def _clock(value: str | None) -> float:
    """Open edX's HH:MM:SS start_time / end_time, in seconds (0 when unset)."""
    if not value:
        return 0.0
    try:
        total = 0.0
        for piece in value.split(":"):
            total = total * 60 + float(piece)
        return total
    except ValueError:
        return 0.0


Cue = tuple[float | None, float | None, str]


def srt_cues(source: str) -> list[Cue]:
    """The (start, end, text) cues of an SRT (or WebVTT) transcript; markup inside a cue is dropped."""
    cues: list[Cue] = []
    for block in re.split(r"\n[ \t]*\n", source.replace("\r\n", "\n").replace("\r", "\n")):
        start = end = None
        words: list[str] = []
        for line in (ln.strip() for ln in block.split("\n")):
            if not line or line.startswith("WEBVTT") or line.startswith("NOTE "):
                continue
            if "-->" in line:
                a, _, b = line.partition("-->")
                start, end = _seconds(a), _seconds(b)
            elif line.isdigit() and not words and start is None:
                continue  # the cue's number
            else:
                words.append(html.unescape(re.sub(r"<[^>]*>", "", line)))
        text = WS.sub(" ", " ".join(words)).strip()
        if text:
            cues.append((start, end, text))
    return cues


def sjson_cues(source: str) -> list[Cue]:
    """Cues of Open edX's own ``.srt.sjson`` transcripts ({"start": [ms], "end": [ms], "text": [...]})."""
    data = json.loads(source)
    if not isinstance(data, dict) or not isinstance(data.get("text"), list):
        raise ValueError("expected an object with a 'text' list")
    starts, ends = data.get("start") or [], data.get("end") or []
    cues: list[Cue] = []
    for i, text in enumerate(data["text"]):
        s = starts[i] / 1000 if i < len(starts) and isinstance(starts[i], (int, float)) else None
        e = ends[i] / 1000 if i < len(ends) and isinstance(ends[i], (int, float)) else None
        clean = WS.sub(" ", html.unescape(re.sub(r"<[^>]*>", "", str(text)))).strip()
        if clean:
            cues.append((s, e, clean))
    return cues


def cues_text(cues: Iterable[Cue], clip_start: float = 0.0, clip_end: float = 0.0) -> str:
    """Cues as paragraphs: a new one after a pause of 1.5 s, or after a sentence once six cues are in.

    Only the cues that overlap the clip the video plays (start_time … end_time) are kept.
    """
    paragraphs: list[list[str]] = []
    last_end: float | None = None
    for start, end, text in cues:
        if clip_end > 0 and start is not None and start >= clip_end:
            continue
        if clip_start > 0 and end is not None and end <= clip_start:
            continue
        pause = start is not None and last_end is not None and start - last_end >= 1.5
        current = paragraphs[-1] if paragraphs else None
        if current is None or pause or (len(current) >= 6 and current[-1].endswith((".", "?", "!"))):
            paragraphs.append([text])
        else:
            current.append(text)
        last_end = end if end is not None else last_end
    return "\n\n".join(" ".join(p) for p in paragraphs)



def _course_root(folder: Path, label: str) -> tuple[Path, str]:
    """The folder holding course.xml: the top, or the one top-level folder Studio puts it in."""
    found = find_root(folder, "course.xml", label)
    if found is None:
        raise Invalid(f"{label}: course.xml: missing, at the top or in a top-level folder: not an OLX course export")
    return found


# ---------------------------------------------------------------------------------------------
# Problems


def _literal_options(text: str) -> list[str]:
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise Broken(f"optioninput options={text!r} is not a list of quoted strings") from None
    if isinstance(value, str):
        value = (value,)
    if not isinstance(value, (tuple, list)) or not all(isinstance(v, str) for v in value):
        raise Broken(f"optioninput options={text!r} is not a list of quoted strings")
    return [v.strip() for v in value]


def _is_true(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


def _choices(response: Element, group_tag: str) -> tuple[list[str], list[int]]:
    group = next((el for el in response.iter() if local(el.tag) == group_tag), None)
    if group is None:
        raise Broken(f"<{local(response.tag)}> has no <{group_tag}>")
    options: list[str] = []
    correct: list[int] = []
    for choice in (el for el in group if local(el.tag) == "choice"):
        if _is_true(choice.get("correct")):
            correct.append(len(options))
        options.append(element_text(choice, PROBLEM_SKIP) or choice.get("name", ""))
    if not options:
        raise Broken(f"<{group_tag}> has no <choice>")
    return options, correct


class _Unread(Exception):
    """A problem that is well formed but has no answer key this importer can use; the message is the reason."""


def _part_multiple_choice(response: Element, prompt: str) -> list[Part]:
    options, correct = _choices(response, "choicegroup")
    if not correct:
        raise _Unread("no choice is marked correct")
    return [Part(problem_type="multiplechoiceresponse", prompt=prompt, options=tuple(options), correct=tuple(correct))]


def _part_checkboxes(response: Element, prompt: str) -> list[Part]:
    options, correct = _choices(response, "checkboxgroup")
    return [Part(problem_type="choiceresponse", prompt=prompt, options=tuple(options), correct=tuple(correct))]


def _part_dropdowns(response: Element, prompt: str) -> list[Part]:
    parts = []
    inputs = [el for el in response.iter() if local(el.tag) == "optioninput"]
    if not inputs:
        raise Broken("<optionresponse> has no <optioninput>")
    for inp in inputs:
        if inp.get("options") is not None:
            options = _literal_options(inp.get("options", ""))
            answer = (inp.get("correct") or "").strip()
            if answer not in options:
                raise _Unread(f"the correct answer {answer!r} is not one of the options {options}")
            correct = [options.index(answer)]
        else:
            children = [el for el in inp if local(el.tag) == "option"]
            options = [element_text(el, PROBLEM_SKIP) for el in children]
            correct = [i for i, el in enumerate(children) if _is_true(el.get("correct"))]
            if not options:
                raise Broken("<optioninput> has neither options= nor <option>")
            if not correct:
                raise _Unread("no option is marked correct")
        parts.append(Part(problem_type="optionresponse", prompt=prompt, options=tuple(options), correct=tuple(correct)))
    return parts


def _additional(response: Element) -> list[str]:
    out = []
    for el in response.iter():
        if local(el.tag) == "additional_answer":
            value = el.get("answer")
            if value is None:
                value = el.text or ""
            if value.strip():
                out.append(value.strip())
    return out


def _part_text(response: Element, prompt: str) -> list[Part]:
    answers = [a for a in [(response.get("answer") or "").strip(), *_additional(response)] if a]
    if not answers:
        raise _Unread("no accepted answer is written in the XML")
    flags = set((response.get("type") or "").lower().split())
    return [Part(problem_type="stringresponse", prompt=prompt, answers=tuple(answers), case_sensitive="ci" not in flags, regexp="regexp" in flags)]


def _part_number(response: Element, prompt: str) -> list[Part]:
    answers = [a for a in [(response.get("answer") or "").strip(), *_additional(response)] if a]
    if not answers:
        raise _Unread("no accepted answer is written in the XML")
    tolerance = next(
        (el.get("default") for el in response.iter() if local(el.tag) == "responseparam" and el.get("type") == "tolerance" and el.get("default")),
        None,
    )
    return [Part(problem_type="numericalresponse", prompt=prompt, answers=tuple(answers), tolerance=tolerance)]


PART_READERS: dict[str, Callable[[Element, str], list[Part]]] = {
    "multiplechoiceresponse": _part_multiple_choice,
    "choiceresponse": _part_checkboxes,
    "optionresponse": _part_dropdowns,
    "stringresponse": _part_text,
    "numericalresponse": _part_number,
}


def _explanation(problem: Element) -> str:
    texts = [element_text(el, HTML_SKIP) for el in problem.iter() if local(el.tag) == "solution"]
    out = []
    for t in texts:
        first, _, rest = t.partition("\n")
        out.append(rest.strip() if first.strip().rstrip(":").lower() == "explanation" else t)
    return "\n\n".join(t for t in out if t)


def read_problem(problem: Element) -> dict[str, Any]:
    """The fields of a capa problem's activity: an item with parts, or ungraded with the reason."""
    question = element_text(problem, PROBLEM_SKIP)
    explanation = _explanation(problem)
    responses = [el for el in problem.iter() if local(el.tag).endswith("response") and el is not problem]
    base: dict[str, Any] = {"question": question, "explanation": explanation}
    if not responses:
        return {**base, "kind": "ungraded", "reason": "a problem without any response: nothing to answer"}
    types = list(dict.fromkeys(local(r.tag) for r in responses))
    unread = [t for t in types if t not in PART_READERS]
    if unread:
        why = "; ".join(f"problem type {t}: {WHY_UNREAD.get(t, 'not read by this importer')}" for t in unread)
        return {**base, "kind": "ungraded", "problem_type": "+".join(types), "reason": why}
    parts: list[Part] = []
    try:
        for r in responses:
            parts += PART_READERS[local(r.tag)](r, element_text(r, PROBLEM_SKIP))
    except _Unread as exc:
        return {**base, "kind": "ungraded", "problem_type": "+".join(types), "reason": f"problem type {'+'.join(types)}: {exc}"}
    has_script = any(local(el.tag) == "script" for el in problem.iter())
    computed = sorted({v for p in parts for s in (*p.answers, *p.options) for v in _SCRIPT_VAR.findall(s)})
    if has_script and computed:
        return {
            **base, "kind": "ungraded", "problem_type": "+".join(types),
            "reason": f"problem type {'+'.join(types)}: the answer is computed by the problem's script ({', '.join(computed)}), not written in the XML",
        }
    return {**base, "kind": "item", "problem_type": "+".join(types), "parts": tuple(parts)}


# ---------------------------------------------------------------------------------------------
# The walk


def _is_pointer(el: Element) -> bool:
    """Open edX's rule: a tag with only url_name (and no children or text) points to TYPE/URL_NAME.xml."""
    return set(el.attrib) == {"url_name"} and len(el) == 0 and not (el.text or "").strip()


def _restricts(attrs: dict[str, Any]) -> bool:
    if str(attrs.get("visible_to_staff_only", "")).lower() == "true":
        return True
    access = attrs.get("group_access")
    if isinstance(access, str):
        try:
            access = json.loads(access) if access.strip() else {}
        except ValueError:
            return True  # unreadable: assume it limits who sees it
    return isinstance(access, dict) and any(access.values())


class _Reader:
    def __init__(self, pkg: Package):
        self.pkg = pkg
        self.policy: dict[str, Any] = {}
        self.org = self.code = self.run = ""
        self.language: str | None = None
        self.seen: dict[str, str] = {}
        self.activities: list[Activity] = []

    def key(self, tag: str, name: str) -> str:
        return f"block-v1:{self.org}+{self.code}+{self.run}+type@{tag}+block@{name}"

    def read(self, source: str) -> Course:
        pkg = self.pkg
        top = pkg.xml("course.xml")
        if local(top.tag) != "course":
            raise pkg.fail("course.xml", f"the root is <{local(top.tag)}>, expected <course>")
        self.org, self.code = (top.get("org") or "").strip(), (top.get("course") or "").strip()
        self.run = (top.get("url_name") or top.get("slug") or "").strip()
        missing = [a for a, v in (("org", self.org), ("course", self.code), ("url_name", self.run)) if not v]
        if missing:
            raise pkg.fail("course.xml", f"<course> lacks {', '.join(missing)}: the course key is course-v1:ORG+COURSE+RUN")
        if any(_BAD_KEY_CHARS.search(v.replace(":", "")) for v in (self.org, self.code, self.run)):
            raise pkg.fail("course.xml", f"org, course and url_name must be letters, digits, '.', '-' or '_' (got {self.org!r}, {self.code!r}, {self.run!r})")
        rel = "course.xml"
        if len(top) == 0:
            rel = f"course/{self.run}.xml"
            top = pkg.xml(rel, referrer=pkg.shown("course.xml"))
        policy_rel = f"policies/{self.run}/policy.json"
        if pkg.exists(policy_rel):
            try:
                policy = json.loads(pkg.read_text(policy_rel))
            except ValueError as exc:
                raise pkg.fail(policy_rel, f"not valid JSON: {exc}") from None
            if not isinstance(policy, dict):
                raise pkg.fail(policy_rel, "expected a JSON object")
            self.policy = policy
        attrs = self.attrs(top, "course", self.run)
        self.language = str(attrs.get("language") or "").strip() or None
        course_key = f"course-v1:{self.org}+{self.code}+{self.run}"
        for child in top:
            if local(child.tag) == "chapter":
                self.visit(child, rel, {}, None, False)
        try:
            return Course(
                platform=PLATFORM, key=course_key, title=str(attrs.get("display_name") or course_key), language=self.language,
                source=source, activities=tuple(self.activities),
            )
        except ValidationError as exc:
            raise Invalid(f"{pkg.label}: the course does not fit the model: {exc}") from None

    def attrs(self, el: Element, tag: str, name: str | None) -> dict[str, Any]:
        """The block's attributes, with the policy file's settings for it on top (as Open edX does)."""
        extra = self.policy.get(f"{tag}/{name}") if name else None
        return {**el.attrib, **(extra if isinstance(extra, dict) else {})}

    def resolve(self, el: Element, rel: str) -> tuple[Element, str, str | None]:
        """The block's definition, the file it is in, and its url_name."""
        tag = local(el.tag)
        if not _is_pointer(el):
            return el, rel, (el.get("url_name") or el.get("slug") or None)
        name = el.get("url_name", "")
        here = f"<{tag} url_name={name!r}> in {self.pkg.shown(rel)}"
        target = f"{tag}/{name.replace(':', '/')}.xml"
        if safe_parts(target) is None or not re.fullmatch(r"[\w.:~%-]+", name):
            raise self.pkg.fail(rel, f"<{tag} url_name={name!r}>: a url_name may hold letters, digits and . : ~ % - _ only")
        definition = self.pkg.xml(target, referrer=here)
        if local(definition.tag) != tag:
            raise self.pkg.fail(target, f"holds <{local(definition.tag)}>, but {here} expects <{tag}>")
        return definition, target, name

    def block_key(self, el: Element, tag: str, name: str | None, rel: str) -> tuple[str, bool]:
        """The usage key, and whether the importer had to make the url_name up (an inline block without one)."""
        if name:
            key, inferred = self.key(tag, name), False
        else:
            label = el.get("name") or el.get("display_name") or ""
            made = re.sub("_+", "_", _BAD_KEY_CHARS.sub("_", label)) if label else ""
            if not made or self.key(tag, made) in self.seen:
                digest = hashlib.sha1(SafeET.tostring(el, encoding="utf-8")).hexdigest()[:12]
                made = f"{tag}_{made}_{digest}" if made else f"{tag}_{digest}"
            key, inferred = self.key(tag, made), True
        if key in self.seen:
            raise self.pkg.fail(rel, f"<{tag}> {key} is used a second time (first in {self.seen[key]}); a block has one place in a course")
        self.seen[key] = self.pkg.shown(rel)
        return key, inferred

    def visit(self, pointer: Element, rel: str, outline: dict[str, Node], container: Node | None, restricted: bool) -> None:
        tag = local(pointer.tag)
        el, where, name = self.resolve(pointer, rel)
        key, inferred = self.block_key(el, tag, name, where)
        attrs = self.attrs(el, tag, name)
        restricted = restricted or _restricts(attrs)
        title = str(attrs.get("display_name") or "").strip()
        if not title and tag not in OUTLINE:  # an open response assessment names itself in <title>
            title = next((element_text(t) for t in el if local(t.tag) == "title"), "")
        if tag in OUTLINE and tag not in outline and (tag == "chapter" or "chapter" in outline):
            outline = {**outline, tag: Node(key=key, title=title)}
        elif tag in OUTLINE or tag in CONTAINERS:
            container = container or Node(key=key, title=title or tag)
        if tag in OUTLINE or tag in CONTAINERS:
            for child in el:
                if isinstance(child.tag, str) and local(child.tag) not in NOT_BLOCKS:
                    self.visit(child, where, outline, container, restricted)
            return
        place = Place(chapter=outline["chapter"], sequential=outline.get("sequential"), vertical=outline.get("vertical"), container=container)
        try:
            fields = self.leaf(tag, el, where, name, title)
            fields.setdefault("title", title or tag)
            self.activities.append(Activity(key=key, block_type=tag, place=place, restricted=restricted, key_inferred=inferred, **fields))
        except Broken as exc:
            raise self.pkg.fail(where, f"<{tag}> {key}: {exc}") from None
        except ValidationError as exc:
            err = exc.errors()[0]
            raise self.pkg.fail(where, f"<{tag}> {key} cannot be read: {'.'.join(map(str, err['loc']))}: {err['msg']}") from None

    def leaf(self, tag: str, el: Element, rel: str, name: str | None, title: str) -> dict[str, Any]:
        if tag == "html":
            text = self.html(el, rel, name)
            if not text:
                return {"kind": "ungraded", "reason": "html without readable text (only styles, scripts, images or frames)"}
            return {"kind": "lesson", "text": text}
        if tag == "problem":
            fields = read_problem(el)
            if not title:
                first = (fields["question"].split("\n", 1)[0] or "Problem").strip()
                fields["title"] = first if len(first) <= 80 else first[:79].rstrip() + "…"
            return fields
        if tag == "video":
            return self.video(el, rel)
        if tag == "annotatable":
            text = element_text(el, HTML_SKIP)
            return {"kind": "lesson", "text": text} if text else {"kind": "ungraded", "reason": "annotatable without readable text"}
        return {"kind": "ungraded", "reason": WHY_UNGRADED.get(tag, f"a {tag} block: not read by this importer")}

    def html(self, el: Element, rel: str, name: str | None) -> str:
        filename = el.get("filename")
        if filename is None:
            if len(el) == 0 and "<" in (el.text or ""):
                return html_text(el.text or "")  # the HTML kept as text (CDATA)
            return element_text(el, HTML_SKIP)
        base = PurePosixPath(f"html/{(name or '').replace(':', '/')}").parent.as_posix()
        candidates = [f"{base}/{filename}.html"]
        if filename.endswith(".html"):
            candidates.append(f"{base}/{filename}")
        if any(safe_parts(c) is None for c in candidates):
            raise Broken(f"filename={filename!r} leaves the package")
        found = next((c for c in candidates if self.pkg.exists(c)), candidates[0])
        return html_text(self.pkg.read_text(found, referrer=f"<html filename={filename!r}> in {self.pkg.shown(rel)}"))

    def video(self, el: Element, rel: str) -> dict[str, Any]:
        named: dict[str, list[str]] = {}  # language → file names the block gives
        raw = el.get("transcripts")
        if raw:
            try:
                listed = json.loads(raw)
            except ValueError:
                raise Broken(f"transcripts={raw!r} is not JSON") from None
            if isinstance(listed, dict):
                for lang, fname in listed.items():
                    if isinstance(fname, str) and fname:
                        named.setdefault(str(lang), []).append(fname)
        for t in el.iter():
            if local(t.tag) == "transcript" and t.get("src") and t.get("language"):
                named.setdefault(t.get("language", ""), []).append(t.get("src", ""))
        if el.get("sub"):
            named.setdefault("en", []).append(f"subs_{el.get('sub')}.srt.sjson")
        video_id = (el.get("edx_video_id") or "").strip()
        order = list(dict.fromkeys([*(x for x in (self.language, "en") if x), *named]))
        missing: list[str] = []
        for lang in order:
            files = list(dict.fromkeys([*named.get(lang, []), *([f"{video_id}-{lang}.srt"] if video_id else [])]))
            for fname in files:
                if safe_parts(fname) is None:
                    raise Broken(f"transcript {fname!r} leaves the package")
                for folder in ("static", "transcripts"):
                    candidate = f"{folder}/{fname}"
                    if not self.pkg.exists(candidate):
                        continue
                    source = self.pkg.read_text(candidate)
                    try:
                        cues = sjson_cues(source) if fname.endswith(".sjson") else srt_cues(source)
                    except ValueError as exc:
                        raise self.pkg.fail(candidate, f"not a readable transcript: {exc}") from None
                    # The part the video plays (start_time … end_time); all of it if the clip holds no cue.
                    text = cues_text(cues, _clock(el.get("start_time")), _clock(el.get("end_time"))) or cues_text(cues)
                    if text:
                        return {"kind": "lesson", "text": text, "language": lang}
                if fname in named.get(lang, []):
                    missing.append(f"static/{fname}")
        if missing:
            verb = "is" if len(missing) == 1 else "are"
            return {"kind": "ungraded", "reason": f"video without transcript: {', '.join(missing)} {verb} referenced but not in the package"}
        return {"kind": "ungraded", "reason": "video without transcript"}


def read_olx(path: str | Path) -> Course:
    """Read an Open edX course export (the .tar.gz Studio writes, or that folder unpacked) into a `Course`.

    Raises `Invalid` naming the file inside the package and what is wrong with it.
    """
    p = Path(path)
    if p.is_file() and not tarfile.is_tarfile(p):
        raise Invalid(f"{p.name}: not a .tar.gz archive or a folder: export the course from Studio (Tools › Export)")
    with unpacked(p, "export the course from Studio (Tools › Export)") as (folder, label):
        return read_olx_folder(folder, label)


def read_olx_folder(folder: Path, label: str) -> Course:
    """Read an export already unpacked in `folder`; errors name its files under `label`, the package's name."""
    root, prefix = _course_root(folder, label)
    pkg = Package(root, label, prefix)
    try:
        return _Reader(pkg).read(pkg.label)
    except RecursionError:
        raise Invalid(f"{pkg.label}: blocks nested too deeply to be a course") from None
