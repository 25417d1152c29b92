"""QTI 1.2 assessments as Common Cartridge profiles them, read into question activities.

A cartridge's assessment resource (``imsqti_xmlv1p2/imscc_xmlv1pN/assessment``) holds one
``<questestinterop><assessment>`` whose ``<item>``s each name their kind in the ``cc_profile``
metadata field. What the profile allows is read into the fields of an `Activity`:

* ``cc.multiple_choice.v0p1`` and ``cc.true_false.v0p1`` → an item with options (the
  ``response_label``s) and the correct one: the label a ``<varequal>`` names in the
  ``<respcondition>`` that sets the score above 0 (problem type ``multiplechoiceresponse``);
* ``cc.multiple_response.v0p1`` → the labels in the scoring condition's ``<and>`` that are not
  under ``<not>`` (``choiceresponse``);
* ``cc.fib.v0p1`` → the accepted answers the scoring conditions compare to, case-insensitive
  unless ``case="Yes"`` (``stringresponse``);
* ``cc.essay.v0p1`` and anything else → ungraded, with the reason.

Canvas writes its own ``question_type`` field beside or instead of ``cc_profile``; its names for
the same kinds are read too.

>>> import defusedxml.ElementTree as SafeET
>>> q = SafeET.fromstring(
...     '<item ident="q1" title="Sum"><itemmetadata><qtimetadata><qtimetadatafield><fieldlabel>cc_profile'
...     '</fieldlabel><fieldentry>cc.multiple_choice.v0p1</fieldentry></qtimetadatafield></qtimetadata>'
...     '</itemmetadata><presentation><material><mattext>2 + 2 =</mattext></material>'
...     '<response_lid ident="r" rcardinality="Single"><render_choice>'
...     '<response_label ident="a"><material><mattext>3</mattext></material></response_label>'
...     '<response_label ident="b"><material><mattext>4</mattext></material></response_label>'
...     '</render_choice></response_lid></presentation><resprocessing><respcondition><conditionvar>'
...     '<varequal respident="r">b</varequal></conditionvar><setvar action="Set">100</setvar>'
...     '</respcondition></resprocessing></item>')
>>> fields = read_question(q)
>>> fields["question"], fields["parts"][0].options, fields["parts"][0].correct
('2 + 2 =', ('3', '4'), (1,))
"""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element  # the type only; parsing goes through defusedxml

from tutor.catalog.course import Part
from tutor.catalog.package_files import Broken, children, element_text, html_text, local

CHOICE = {"cc.multiple_choice.v0p1": "multiplechoiceresponse", "cc.true_false.v0p1": "multiplechoiceresponse"}
MULTIPLE = {"cc.multiple_response.v0p1": "choiceresponse"}
TYPED = {"cc.fib.v0p1": "stringresponse"}
# Canvas's question_type names for the same kinds.
CANVAS = {
    "multiple_choice_question": "cc.multiple_choice.v0p1",
    "true_false_question": "cc.true_false.v0p1",
    "multiple_answers_question": "cc.multiple_response.v0p1",
    "short_answer_question": "cc.fib.v0p1",
    "essay_question": "cc.essay.v0p1",
}
WHY_UNGRADED = {
    "cc.essay.v0p1": "an essay: graded by a teacher, no answer key",
    "cc.pattern_match.v0p1": "a pattern-match answer: not read by this importer",
    "file_upload_question": "a file upload: graded by a teacher",
    "text_only_question": "text between questions: nothing to answer",
    "numerical_question": "a numeric answer with Canvas's own ranges: not read by this importer",
    "calculated_question": "a formula question whose numbers Canvas generates: no fixed answer key",
    "matching_question": "a matching question: not read by this importer",
    "multiple_dropdowns_question": "several dropdowns in Canvas's own form: not read by this importer",
    "fill_in_multiple_blanks_question": "several blanks in Canvas's own form: not read by this importer",
}
RESPONSES = {"response_lid", "response_str", "response_num", "response_xy", "response_grp"}


def metadata(item: Element) -> dict[str, str]:
    """The item's qtimetadata fields, label → entry."""
    out: dict[str, str] = {}
    for field in item.iter():
        if local(field.tag) == "qtimetadatafield":
            label = next((element_text(c) for c in field if local(c.tag) == "fieldlabel"), "")
            entry = next((element_text(c) for c in field if local(c.tag) == "fieldentry"), "")
            if label:
                out.setdefault(label, entry)
    return out


def material_text(el: Element) -> str:
    """The text of the <material>s under `el` (HTML mattext read as HTML), leaving out the answer widgets."""
    texts: list[str] = []

    def walk(node: Element) -> None:
        for child in node:
            tag = local(child.tag)
            if tag in RESPONSES:
                continue
            if tag == "mattext":
                raw = "".join(child.itertext())
                html = "html" in (child.get("texttype") or "").lower() or raw.lstrip().startswith("<")
                texts.append(html_text(raw) if html else element_text(child))
            else:
                walk(child)

    walk(el)
    return "\n\n".join(t for t in texts if t)


def _score(condition: Element) -> float:
    total = 0.0
    for setvar in children(condition, "setvar"):
        try:
            value = float((setvar.text or "").strip())
        except ValueError:
            raise Broken(f"<setvar>{setvar.text}</setvar> is not a number") from None
        total = value if (setvar.get("action") or "Set").lower() == "set" else total + value
    return total


def _named(conditionvar: Element, tag: str = "varequal") -> list[Element]:
    """The comparisons that must hold: every `tag` under the conditionvar except those under <not>."""
    out: list[Element] = []

    def walk(node: Element) -> None:
        for child in node:
            if local(child.tag) == "not":
                continue
            if local(child.tag) == tag:
                out.append(child)
            else:
                walk(child)

    walk(conditionvar)
    return out


def _keys(item: Element) -> list[Element]:
    """The comparisons of the conditions that give the most points (more than none)."""
    scored = []
    for proc in (el for el in item if local(el.tag) == "resprocessing"):
        for cond in children(proc, "respcondition"):
            score = _score(cond)
            if score > 0:
                scored.append((score, cond))
    if not scored:
        return []
    best = max(s for s, _ in scored)
    return [v for s, cond in scored if s == best for cv in children(cond, "conditionvar") for v in _named(cv)]


def read_question(item: Element) -> dict[str, Any]:
    """The fields of one QTI item's activity: an item with its answer key, or ungraded with the reason."""
    meta = metadata(item)
    profile = meta.get("cc_profile") or CANVAS.get(meta.get("question_type", ""), meta.get("question_type", ""))
    presentation = next((el for el in item if local(el.tag) == "presentation"), None)
    question = material_text(presentation) if presentation is not None else ""
    base: dict[str, Any] = {"question": question, "block_type": profile or "question"}
    if profile in CHOICE or profile in MULTIPLE:
        labels = [el for el in (presentation.iter() if presentation is not None else ()) if local(el.tag) == "response_label"]
        if not labels:
            raise Broken(f"<item ident={item.get('ident')!r}> ({profile}) has no <response_label>")
        idents = [(el.get("ident") or "").strip() for el in labels]
        options = tuple(material_text(el) or ident for el, ident in zip(labels, idents, strict=True))
        named = list(dict.fromkeys((v.text or "").strip() for v in _keys(item)))
        unknown = [n for n in named if n not in idents]
        if unknown:
            return {**base, "kind": "ungraded", "reason": f"{profile}: the scoring names {unknown}, which is not one of the choices {idents}"}
        if not named:
            return {**base, "kind": "ungraded", "reason": f"{profile}: no choice scores points in <resprocessing>: no answer key"}
        problem_type = CHOICE.get(profile) or MULTIPLE[profile]
        part = Part(problem_type=problem_type, prompt=question, options=options, correct=tuple(idents.index(n) for n in named))
        return {**base, "kind": "item", "problem_type": problem_type, "parts": (part,)}
    if profile in TYPED:
        keys = _keys(item)
        answers = tuple(dict.fromkeys(a for a in ((v.text or "").strip() for v in keys) if a))
        if not answers:
            return {**base, "kind": "ungraded", "reason": f"{profile}: no accepted answer scores points in <resprocessing>"}
        sensitive = any((v.get("case") or "No").lower() == "yes" for v in keys)
        part = Part(problem_type=TYPED[profile], prompt=question, answers=answers, case_sensitive=sensitive)
        return {**base, "kind": "item", "problem_type": TYPED[profile], "parts": (part,)}
    why = WHY_UNGRADED.get(profile) or (f"a {profile} question: not read by this importer" if profile else "a question without a cc_profile: its kind is unknown")
    return {**base, "kind": "ungraded", "reason": why}


def questions(root: Element) -> tuple[str, list[Element]]:
    """The assessment's title and its items in order (sections, nested or not, flattened)."""
    if local(root.tag) != "questestinterop":
        raise Broken(f"the root is <{local(root.tag)}>, expected <questestinterop>")
    assessment = next((el for el in root if local(el.tag) == "assessment"), None)
    if assessment is None:
        raise Broken("<questestinterop> holds no <assessment>")
    return (assessment.get("title") or "").strip(), [el for el in assessment.iter() if local(el.tag) == "item"]
