"""Common Cartridge 1.3 and 1.1 packages, built in the shapes the IMS CC profile and Moodle/Canvas exports use."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.catalog.test_scorm import write_folder, write_zip
from tutor.catalog.cartridge import read_cartridge
from tutor.errors import Invalid

MANIFEST_13 = """<?xml version="1.0" encoding="UTF-8"?>
<manifest identifier="cctd0015" xmlns="http://www.imsglobal.org/xsd/imsccv1p3/imscp_v1p1"
    xmlns:lomimscc="http://ltsc.ieee.org/xsd/imsccv1p3/LOM/manifest"
    xmlns:lom="http://ltsc.ieee.org/xsd/imsccv1p3/LOM/resource"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <metadata>
    <schema>IMS Common Cartridge</schema>
    <schemaversion>1.3.0</schemaversion>
    <lomimscc:lom><lomimscc:general><lomimscc:title><lomimscc:string language="vi">Kỹ năng số</lomimscc:string></lomimscc:title></lomimscc:general></lomimscc:lom>
  </metadata>
  <organizations>
    <organization identifier="org_1" structure="rooted-hierarchy">
      <item identifier="LearningModules">
        <item identifier="mod1">
          <title>Module 1: Email</title>
          <item identifier="i_intro" identifierref="res_intro"><title>Introduction</title></item>
          <item identifier="i_quiz" identifierref="res_quiz"><title>Email quiz</title></item>
          <item identifier="i_link" identifierref="res_link"><title>Help centre</title></item>
          <item identifier="i_forum" identifierref="res_forum"><title>Say hello</title></item>
          <item identifier="i_tool" identifierref="res_tool"><title>Practice tool</title></item>
          <item identifier="i_pdf" identifierref="res_pdf"><title>Handout</title></item>
        </item>
      </item>
    </organization>
  </organizations>
  <resources>
    <resource identifier="res_intro" type="webcontent" href="wiki_content/intro.html"><file href="wiki_content/intro.html"/></resource>
    <resource identifier="res_quiz" type="imsqti_xmlv1p2/imscc_xmlv1p3/assessment">
      <file href="res_quiz/assessment.xml"/><dependency identifierref="res_intro"/>
    </resource>
    <resource identifier="res_link" type="imswl_xmlv1p3"><file href="res_link.xml"/></resource>
    <resource identifier="res_forum" type="imsdt_xmlv1p3"><file href="res_forum.xml"/></resource>
    <resource identifier="res_tool" type="imsbasiclti_xmlv1p3"><file href="res_tool.xml"/></resource>
    <resource identifier="res_pdf" type="webcontent" href="web_resources/handout.pdf"><file href="web_resources/handout.pdf"/></resource>
    <resource identifier="res_spare" type="imsdt_xmlv1p3"><file href="res_spare.xml"/></resource>
  </resources>
</manifest>
"""


def field(label: str, entry: str) -> str:
    return f"<qtimetadatafield><fieldlabel>{label}</fieldlabel><fieldentry>{entry}</fieldentry></qtimetadatafield>"


def item(ident: str, profile: str, body: str, scoring: str, title: str = "") -> str:
    return (
        f'<item ident="{ident}" title="{title}"><itemmetadata><qtimetadata>{field("cc_profile", profile)}</qtimetadata></itemmetadata>'
        f"<presentation>{body}</presentation><resprocessing><outcomes><decvar varname=\"SCORE\" vartype=\"Decimal\" minvalue=\"0\" maxvalue=\"100\"/></outcomes>"
        f"{scoring}</resprocessing></item>"
    )


def choices(labels: dict[str, str], cardinality: str = "Single") -> str:
    inner = "".join(f'<response_label ident="{k}"><material><mattext texttype="text/plain">{v}</mattext></material></response_label>' for k, v in labels.items())
    return f'<response_lid ident="response1" rcardinality="{cardinality}"><render_choice>{inner}</render_choice></response_lid>'


def scores(condition: str, value: str = "100") -> str:
    return f'<respcondition continue="No"><conditionvar>{condition}</conditionvar><setvar varname="SCORE" action="Set">{value}</setvar></respcondition>'


QUESTION = '<material><mattext texttype="text/html">&lt;p&gt;{}&lt;/p&gt;</mattext></material>'

ASSESSMENT = (
    '<?xml version="1.0" encoding="UTF-8"?><questestinterop xmlns="http://www.imsglobal.org/xsd/ims_qtiasiv1p2">'
    '<assessment ident="res_quiz" title="Email quiz"><qtimetadata>' + field("cc_profile", "cc.exam.v0p1") + field("cc_maxattempts", "2") + "</qtimetadata>"
    '<section ident="root_section">'
    + item(
        "q_mc", "cc.multiple_choice.v0p1", QUESTION.format("Which address is safest to open?") + choices({"A": "A stranger's", "B": "Your bank's real one", "C": "A prize notice"}),
        scores('<varequal respident="response1">A</varequal>', "0") + scores('<varequal respident="response1">B</varequal>'),
        title="Safe sender",
    )
    + item(
        "q_tf", "cc.true_false.v0p1", QUESTION.format("Banks ask for your PIN by email.") + choices({"T": "True", "F": "False"}),
        scores('<varequal respident="response1">F</varequal>'),
    )
    + item(
        "q_mr", "cc.multiple_response.v0p1", QUESTION.format("Signs of phishing?") + choices({"a": "Urgent tone", "b": "Your name spelled right", "c": "Odd link"}, "Multiple"),
        scores('<and><varequal respident="response1">a</varequal><not><varequal respident="response1">b</varequal></not><varequal respident="response1">c</varequal></and>'),
    )
    + item(
        "q_fib", "cc.fib.v0p1",
        QUESTION.format("Email is short for electronic ____.")
        + '<response_str ident="response1" rcardinality="Single"><render_fib><response_label ident="answer1"/></render_fib></response_str>',
        scores('<varequal respident="response1" case="No">mail</varequal><varequal respident="response1">message</varequal>'),
    )
    + item("q_essay", "cc.essay.v0p1", QUESTION.format("Describe a scam email you received.") + '<response_str ident="response1"><render_fib/></response_str>', "")
    + "</section></assessment></questestinterop>"
)

FILES_13: dict[str, str | bytes] = {
    "imsmanifest.xml": MANIFEST_13,
    "wiki_content/intro.html": "<html><head><title>Introduction</title></head><body><h2>Email basics</h2><p>An address looks like name@example.com.</p></body></html>",
    "res_quiz/assessment.xml": ASSESSMENT,
    "res_link.xml": '<webLink xmlns="http://www.imsglobal.org/xsd/imsccv1p3/imswl_v1p3"><title>Help</title><url href="https://help.example.org/email"/></webLink>',
    "res_forum.xml": (
        '<topic xmlns="http://www.imsglobal.org/xsd/imsccv1p3/imsdt_v1p3"><title>Hello</title>'
        '<text texttype="text/html">&lt;p&gt;Introduce yourself.&lt;/p&gt;</text></topic>'
    ),
    "res_tool.xml": (
        '<cartridge_basiclti_link xmlns="http://www.imsglobal.org/xsd/imslticc_v1p3" xmlns:blti="http://www.imsglobal.org/xsd/imsbasiclti_v1p0">'
        "<blti:title>Practice</blti:title><blti:launch_url>https://tool.example.org/launch</blti:launch_url></cartridge_basiclti_link>"
    ),
    "web_resources/handout.pdf": b"%PDF-1.4",
    "res_spare.xml": '<topic xmlns="http://www.imsglobal.org/xsd/imsccv1p3/imsdt_v1p3"><title>Spare</title><text>x</text></topic>',
}


@pytest.fixture
def cartridge(tmp_path: Path):
    return read_cartridge(write_zip(tmp_path / "email.imscc", FILES_13))


def test_course_identity_and_order(cartridge):
    assert (cartridge.platform, cartridge.key, cartridge.title) == ("cc", "cctd0015", "Kỹ năng số")
    assert [a.key for a in cartridge.activities] == [
        "i_intro", "i_quiz/q_mc", "i_quiz/q_tf", "i_quiz/q_mr", "i_quiz/q_fib", "i_quiz/q_essay", "i_link", "i_forum", "i_tool", "i_pdf",
    ]
    assert cartridge.notes[0] == "IMS Common Cartridge 1.3"
    assert "1 quizzes, discussions, links or tools are in the package but in no module" in cartridge.notes[1]


def test_web_content_is_a_lesson(cartridge):
    intro = cartridge.activity("i_intro")
    assert (intro.kind, intro.title, intro.text) == ("lesson", "Introduction", "Email basics\n\nAn address looks like name@example.com.")
    assert intro.place.chapter.title == "Module 1: Email"


def test_multiple_choice_key_is_read_from_resprocessing(cartridge):
    mc = cartridge.activity("i_quiz/q_mc")
    assert (mc.kind, mc.title, mc.problem_type, mc.block_type) == ("item", "Safe sender", "multiplechoiceresponse", "cc.multiple_choice.v0p1")
    assert mc.question == "Which address is safest to open?"
    assert (mc.options, mc.correct) == (("A stranger's", "Your bank's real one", "A prize notice"), (1,))
    assert mc.place.vertical is None and mc.place.sequential is not None and mc.place.sequential.title == "Email quiz"


def test_true_false_and_multiple_response(cartridge):
    tf = cartridge.activity("i_quiz/q_tf")
    assert (tf.options, tf.correct, tf.title) == (("True", "False"), (1,), "Banks ask for your PIN by email.")
    mr = cartridge.activity("i_quiz/q_mr")
    assert (mr.problem_type, mr.correct) == ("choiceresponse", (0, 2))


def test_fill_in_the_blank_answers(cartridge):
    (part,) = cartridge.activity("i_quiz/q_fib").parts
    assert (part.problem_type, part.answers, part.case_sensitive) == ("stringresponse", ("mail", "message"), False)


def test_what_has_no_key_is_ungraded_with_a_reason(cartridge):
    reasons = {a.key: a.reason for a in cartridge.of_kind("ungraded")}
    assert reasons["i_quiz/q_essay"] == "an essay: graded by a teacher, no answer key"
    assert reasons["i_link"] == "a web link to https://help.example.org/email: its content is outside the package"
    assert reasons["i_tool"] == "an external tool (LTI): its content and grading are outside the package"
    assert reasons["i_pdf"] == "a PDF file (web_resources/handout.pdf): its content is not read by this importer"
    assert "discussion" in (reasons["i_forum"] or "") and cartridge.activity("i_forum").question == "Introduce yourself."


MANIFEST_11 = """<?xml version="1.0" encoding="UTF-8"?>
<manifest identifier="M_moodle" xmlns="http://www.imsglobal.org/xsd/imsccv1p1/imscp_v1p1"
    xmlns:lomimscc="http://ltsc.ieee.org/xsd/imsccv1p1/LOM/manifest">
  <metadata><schema>IMS Common Cartridge</schema><schemaversion>1.1.0</schemaversion></metadata>
  <organizations>
    <organization identifier="ORG" structure="rooted-hierarchy">
      <item identifier="root">
        <item identifier="I_week1"><title>Week 1</title>
          <item identifier="I_page" identifierref="RES_page"><title>Read me</title></item>
          <item identifier="I_quiz" identifierref="RES_quiz"><title>Check</title></item>
        </item>
      </item>
    </organization>
  </organizations>
  <resources>
    <resource identifier="RES_page" type="webcontent" href="resource1/page.html"><file href="resource1/page.html"/></resource>
    <resource identifier="RES_quiz" type="imsqti_xmlv1p2/imscc_xmlv1p1/assessment"><file href="RES_quiz/assessment.xml"/></resource>
  </resources>
</manifest>
"""


def test_cartridge_11_as_moodle_writes_it(tmp_path: Path):
    quiz = (
        '<questestinterop xmlns="http://www.imsglobal.org/xsd/ims_qtiasiv1p2"><assessment ident="A" title="Check"><section ident="s">'
        + item(
            "1", "cc.true_false.v0p1", QUESTION.format("Wi-Fi in cafés is private.") + choices({"t": "True", "f": "False"}),
            scores('<varequal respident="response1">f</varequal>'),
        )
        + "</section></assessment></questestinterop>"
    )
    files = {"imsmanifest.xml": MANIFEST_11, "resource1/page.html": "<p>Lock your phone.</p>", "RES_quiz/assessment.xml": quiz}
    course = read_cartridge(write_folder(tmp_path / "moodle", files))
    assert course.notes == ("IMS Common Cartridge 1.1",)
    assert course.activity("I_page").text == "Lock your phone."
    assert course.activity("I_quiz/1").correct == (1,)


def test_cartridge_10_namespace_is_recognised(tmp_path: Path):
    manifest = MANIFEST_11.replace("imsccv1p1/imscp_v1p1", "imscc/imscp_v1p1").replace("<schemaversion>1.1.0</schemaversion>", "")
    manifest = manifest.replace("<schema>IMS Common Cartridge</schema>", "")
    files = {"imsmanifest.xml": manifest, "resource1/page.html": "<p>x</p>", "RES_quiz/assessment.xml": '<questestinterop><assessment ident="a"/></questestinterop>'}
    course = read_cartridge(write_folder(tmp_path / "old", files))
    assert course.notes[0] == "IMS Common Cartridge 1.0"
    assert course.activity("I_quiz").reason == "a quiz without questions"


def test_a_malformed_quiz_names_its_file(tmp_path: Path):
    files = {**FILES_13, "res_quiz/assessment.xml": ASSESSMENT.replace("</section>", "")}
    with pytest.raises(Invalid, match=r"email\.imscc: res_quiz/assessment\.xml: not well-formed XML"):
        read_cartridge(write_zip(tmp_path / "email.imscc", files))


def test_a_missing_quiz_file(tmp_path: Path):
    files = {k: v for k, v in FILES_13.items() if k != "res_quiz/assessment.xml"}
    with pytest.raises(Invalid, match=r"res_quiz/assessment\.xml: missing from the package, referenced by <resource identifier='res_quiz'> in imsmanifest\.xml"):
        read_cartridge(write_zip(tmp_path / "email.imscc", files))


def test_a_key_naming_no_choice_is_ungraded(tmp_path: Path):
    files = {**FILES_13, "res_quiz/assessment.xml": ASSESSMENT.replace('<varequal respident="response1">F</varequal>', '<varequal respident="response1">Z</varequal>')}
    tf = read_cartridge(write_zip(tmp_path / "email.imscc", files)).activity("i_quiz/q_tf")
    assert tf.kind == "ungraded" and "names ['Z'], which is not one of the choices" in (tf.reason or "")


def test_a_question_without_ident(tmp_path: Path):
    files = {**FILES_13, "res_quiz/assessment.xml": ASSESSMENT.replace('ident="q_tf"', 'ident=""')}
    with pytest.raises(Invalid, match=r"res_quiz/assessment\.xml: an <item> without ident"):
        read_cartridge(write_zip(tmp_path / "email.imscc", files))
