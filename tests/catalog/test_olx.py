"""Open edX OLX exports read into the format-neutral course model: the real demo course, and small
synthetic packages for each capa problem type, for transcripts, and for broken or hostile packages."""

from __future__ import annotations

import io
import json
import re
import tarfile
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

import pytest

from tutor.catalog.course import Activity, Course
from tutor.catalog.olx import read_olx
from tutor.errors import Invalid

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
DEMO = SHARED_DATA / "olx" / "openedx-demo-course.tar.gz"
XAPI = SHARED_DATA / "xapi-openedx-examples"
needs_demo = pytest.mark.skipif(not DEMO.is_file(), reason=f"the Open edX demo course export is not at {DEMO} (../shared/data/olx/)")

DEMO_KEY = "course-v1:OpenedX+DemoX+DemoCourse"
BLOCK = "block-v1:OpenedX+DemoX+DemoCourse+type@{}+block@{}"
USAGE_KEY = re.compile(r"^block-v1:[\w.%-]+\+[\w.%-]+\+[\w.%-]+\+type@[\w-]+\+block@[\w.:~%-]+$")


# ---------------------------------------------------------------------------------------------
# The real demo course


@pytest.fixture(scope="module")
def demo() -> Course:
    if not DEMO.is_file():
        pytest.skip(f"the Open edX demo course export is not at {DEMO} (../shared/data/olx/)")
    return read_olx(DEMO)


@needs_demo
def test_demo_course_identity(demo: Course):
    assert demo.platform == "openedx" and demo.key == DEMO_KEY
    assert demo.title == "Open edX Demo Course" and demo.language == "en"
    assert demo.source == "openedx-demo-course.tar.gz"
    # Counted by reading the XML: 6 chapters, 17 sequentials, 58 verticals holding 266 html, 23 problems
    # (+6 in a library_content), 11 videos and 15 other components: 318 activities.
    assert len(demo.activities) == 318
    assert demo.counts() == {"lesson": 209, "item": 20, "ungraded": 89}
    by_type = Counter((a.block_type, a.kind) for a in demo.activities)
    assert by_type[("html", "lesson")] == 203 and by_type[("html", "ungraded")] == 63  # the 63: style/script-only blocks
    assert by_type[("video", "lesson")] == 5 and by_type[("video", "ungraded")] == 6
    assert by_type[("annotatable", "lesson")] == 1
    assert len({a.place.chapter.key for a in demo.activities}) == 6
    assert len({a.place.sequential.key for a in demo.activities if a.place.sequential}) == 17
    assert len({a.place.vertical.key for a in demo.activities if a.place.vertical}) == 58
    assert all(USAGE_KEY.match(a.key) and not a.key_inferred for a in demo.activities)


@needs_demo
def test_every_demo_problem_is_an_item_or_says_why_not(demo: Course):
    with tarfile.open(DEMO) as tar:
        files = {Path(n).stem for n in tar.getnames() if re.fullmatch(r"course/problem/[^/]+\.xml", n)}
    problems = [a for a in demo.activities if a.block_type == "problem"]
    assert {a.key for a in problems} == {BLOCK.format("problem", name) for name in files} and len(files) == 29
    items = [a for a in problems if a.kind == "item"]
    ungraded = [a for a in problems if a.kind == "ungraded"]
    assert len(items) == 20 and len(ungraded) == 9
    assert Counter(a.problem_type for a in items) == {
        "multiplechoiceresponse": 9, "choiceresponse": 2, "optionresponse": 2, "stringresponse": 4, "numericalresponse": 3,
    }
    assert Counter(a.problem_type for a in ungraded) == {
        "customresponse": 4, "formularesponse": 1, "imageresponse": 1, "annotationresponse": 1, "schematicresponse": 1, "numericalresponse": 1,
    }
    assert all(a.reason and a.reason.startswith(f"problem type {a.problem_type}:") for a in ungraded)
    scripted = demo.activity(BLOCK.format("problem", "720cac326b684155b4845d32af4aeef0"))
    assert "computed by the problem's script ($z)" in (scripted.reason or "")
    assert all(a.question for a in items)


@needs_demo
def test_a_known_multiple_choice_problem(demo: Course):
    rome = demo.activity(BLOCK.format("problem", "870b16e640d541af94a308caac834d2e"))
    assert rome.kind == "item" and rome.title == "Basic Multiple Choice" and rome.problem_type == "multiplechoiceresponse"
    assert rome.question == "Which animal was often used as a symbol for Ancient Rome?"
    assert rome.options == ("Lion", "Tiger", "Elephant") and rome.correct == (0,)
    assert rome.place.chapter.title == "Module 3: Ace the Assessments!"
    assert rome.place.sequential and rome.place.sequential.title == "Basic Assessment Tools"
    assert rome.place.vertical and rome.place.vertical.key == BLOCK.format("vertical", "dacc88e550bd48db93899979bff1b086")
    # The usage key named in shared/data/README.md: a checkbox problem with three true facts, hints left out.
    facts = demo.activity("block-v1:OpenedX+DemoX+DemoCourse+type@problem+block@0135258373e648f2b57a80ae06bade61")
    assert facts.problem_type == "choiceresponse" and facts.correct == (1, 3, 4)
    assert facts.options[0] == "Bats are blind" and "keener eyesight" not in " ".join(facts.options) + facts.question
    assert facts.explanation.startswith("In case you're wondering:")
    dropdowns = demo.activity(BLOCK.format("problem", "85f3f7f9b72548af880975112f27817c"))
    assert [p.options[p.correct[0]] for p in dropdowns.parts][:2] == ["Albert Einstein", "Germany"] and len(dropdowns.parts) == 8
    dwarfs = demo.activity(BLOCK.format("problem", "3e5a945f54374fc7ababadc080660f2d"))
    assert dwarfs.parts[0].answers[:2] == ("Doc", "Sleepy") and not dwarfs.parts[0].case_sensitive
    sum_ = demo.activity(BLOCK.format("problem", "3b8100660f3947c198e0a9b35f7c6cf6"))
    assert sum_.parts[0].answers == ("600",) and sum_.parts[0].tolerance == "5"


@needs_demo
def test_library_content_problems_sit_in_their_container(demo: Course):
    pooled = [a for a in demo.activities if a.place.container]
    assert len(pooled) == 6 and {a.place.container.key for a in pooled if a.place.container} == {BLOCK.format("library_content", "34a4d5e71d974c029cbde1956bd7c820")}
    assert all(a.kind == "item" for a in pooled)


@needs_demo
def test_html_text_is_readable_and_free_of_tags(demo: Course):
    contents = demo.activity(BLOCK.format("html", "faaa44ad7cd64564a9693bcba3077e15"))
    assert contents.kind == "lesson" and contents.title == "Contents"
    assert contents.text.startswith("The basic assessment tools we'll be looking at in this subsection are as follows:\n\n")
    assert "Component Type | Example(s)" in contents.text
    assert not re.search(r"<[a-zA-Z/]|&[a-z]+;", contents.text)
    for a in demo.of_kind("lesson"):
        assert a.text.strip() and "\n\n\n" not in a.text
    assert sum(a.restricted for a in demo.activities) == 2  # two html blocks shown to one content group each


@needs_demo
def test_video_transcripts_are_read(demo: Course):
    meet = demo.activity(BLOCK.format("video", "b18dceef48234944a8d64ac6937ec6bd"))
    assert meet.kind == "lesson" and meet.language == "en"
    assert meet.text.startswith("Voiceover: Meet the system that is behind the revolution of digital learning.")
    reach = demo.activity(BLOCK.format("video", "078de40d92a54047b951a2e7a8e2a348"))  # en and es transcripts, a clip 11:39-12:57
    assert reach.language == "en" and "&#39;" not in reach.text and "we've invested" in reach.text
    assert "next up we're going to be hearing" not in reach.text  # the transcript's start lies outside the clip
    silent = demo.activity(BLOCK.format("video", "2fe12c0703484743a51fe4612a640563"))
    assert silent.kind == "ungraded" and silent.reason == "video without transcript"


@needs_demo
def test_reading_again_gives_the_same_hashes(demo: Course):
    again = read_olx(DEMO)
    assert again == demo
    assert len({a.content_hash for a in demo.of_kind("item")}) == 20
    assert Course.model_validate(demo.model_dump()) == demo


@pytest.mark.skipif(not XAPI.is_dir(), reason=f"Open edX xAPI examples not found at {XAPI}")
def test_usage_keys_have_the_shape_that_openedx_statements_carry():
    ids = []
    for path in sorted(XAPI.glob("*.json")):
        statement = json.loads(path.read_text(encoding="utf-8"))
        ids.append(statement["object"]["id"])
    blocks = [i.rsplit("/", 1)[-1] for i in ids if "block-v1:" in i]
    assert blocks and all(USAGE_KEY.match(b) for b in blocks)


# ---------------------------------------------------------------------------------------------
# Synthetic packages


def course_files(vertical: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """A one-unit course (org T, course C, run R) whose vertical holds `vertical`."""
    return {
        "course.xml": '<course url_name="R" org="T" course="C"/>',
        "course/R.xml": '<course display_name="Test course" language="vi"><chapter url_name="ch1"/></course>',
        "chapter/ch1.xml": '<chapter display_name="Chapter"><sequential url_name="s1"/></chapter>',
        "sequential/s1.xml": '<sequential display_name="Sub"><vertical url_name="v1"/></sequential>',
        "vertical/v1.xml": f'<vertical display_name="Unit">{vertical}</vertical>',
        **(extra or {}),
    }


def write_folder(root: Path, files: Mapping[str, str | bytes]) -> Path:
    for rel, content in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return root


def write_tar(path: Path, files: Mapping[str, str | bytes], top: str = "course/") -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for rel, content in files.items():
            data = content if isinstance(content, bytes) else content.encode("utf-8")
            info = tarfile.TarInfo(top + rel)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def one_problem(tmp_path: Path, body: str, attrs: str = 'display_name="P"') -> Activity:
    files = course_files('<problem url_name="p1"/>', {"problem/p1.xml": f"<problem {attrs}>{body}</problem>"})
    course = read_olx(write_tar(tmp_path / "p.tar.gz", files))
    return course.activity("block-v1:T+C+R+type@problem+block@p1")


def test_a_package_as_tar_and_as_folder_reads_the_same(tmp_path: Path):
    files = course_files('<html url_name="h1"/>', {"html/h1.xml": '<html filename="h1" display_name="Intro"/>', "html/h1.html": "<p>Xin chào</p><p>Hello</p>"})
    from_tar = read_olx(write_tar(tmp_path / "c.tar.gz", files))
    from_folder = read_olx(write_folder(tmp_path / "c", files))
    assert from_tar.key == "course-v1:T+C+R" and from_tar.title == "Test course" and from_tar.language == "vi"
    assert from_tar.activities == from_folder.activities
    (lesson,) = from_tar.activities
    assert lesson.key == "block-v1:T+C+R+type@html+block@h1" and lesson.text == "Xin chào\n\nHello"
    assert (lesson.place.chapter.title, lesson.place.sequential and lesson.place.sequential.title) == ("Chapter", "Sub")


def test_multiple_choice(tmp_path: Path):
    a = one_problem(tmp_path, '<multiplechoiceresponse><label>Which is safe?</label><choicegroup type="MultipleChoice">'
                    '<choice correct="false">Share your OTP</choice><choice correct="true">Call the bank <choicehint>Yes!</choicehint></choice>'
                    '</choicegroup></multiplechoiceresponse><solution><p>Explanation</p><p>Banks never ask for OTPs.</p></solution>')
    assert a.kind == "item" and a.problem_type == "multiplechoiceresponse"
    assert a.question == "Which is safe?" and a.options == ("Share your OTP", "Call the bank") and a.correct == (1,)
    assert a.explanation == "Banks never ask for OTPs."


def test_checkboxes_with_several_correct(tmp_path: Path):
    a = one_problem(tmp_path, '<choiceresponse><label>Strong passwords?</label><checkboxgroup>'
                    '<choice correct="true">long</choice><choice correct="false">123456</choice><choice correct="True">unique</choice>'
                    '</checkboxgroup></choiceresponse>')
    assert a.problem_type == "choiceresponse" and a.options == ("long", "123456", "unique") and a.correct == (0, 2)


def test_dropdowns_in_both_forms(tmp_path: Path):
    a = one_problem(tmp_path, '<optionresponse><label>Capital?</label><optioninput options="(\'Hue\',\'Ha Noi\')" correct="Ha Noi"/></optionresponse>'
                    '<optionresponse><label>Port?</label><optioninput><option correct="False">Da Lat</option>'
                    '<option correct="True">Hai Phong</option></optioninput></optionresponse>')
    assert a.problem_type == "optionresponse" and len(a.parts) == 2
    assert (a.parts[0].prompt, a.parts[0].options, a.parts[0].correct) == ("Capital?", ("Hue", "Ha Noi"), (1,))
    assert (a.parts[1].prompt, a.parts[1].options, a.parts[1].correct) == ("Port?", ("Da Lat", "Hai Phong"), (1,))
    assert a.question == "Capital?\n\nPort?"


def test_text_input_with_additional_answers(tmp_path: Path):
    a = one_problem(tmp_path, '<stringresponse answer="VNeID" type="ci"><label>The national ID app?</label>'
                    '<additional_answer answer="VNeID app"/><additional_answer>Định danh điện tử</additional_answer><textline size="20"/></stringresponse>')
    (part,) = a.parts
    assert a.problem_type == "stringresponse" and part.answers == ("VNeID", "VNeID app", "Định danh điện tử")
    assert not part.case_sensitive and not part.regexp and part.options == ()
    b = one_problem(tmp_path, '<stringresponse answer="..bble" type="ci regexp"><label>A -BBLE word</label><textline/></stringresponse>')
    assert b.parts[0].regexp and b.parts[0].answers == ("..bble",)


def test_numerical_input_with_tolerance(tmp_path: Path):
    a = one_problem(tmp_path, '<numericalresponse answer="600"><label>What is 120 × 5?</label>'
                    '<responseparam type="tolerance" default="5"/><formulaequationinput/></numericalresponse>')
    assert a.problem_type == "numericalresponse" and a.parts[0].answers == ("600",) and a.parts[0].tolerance == "5"
    assert a.question == "What is 120 × 5?"


@pytest.mark.parametrize(("body", "kind_of_reason"), [
    ('<customresponse cfn="check"><textline/></customresponse><script type="loncapa/python">def check(e, a): return True</script>',
     "problem type customresponse: graded by server-side code"),
    ('<formularesponse answer="x^2" samples="x@1:2#10"><textline/></formularesponse>', "problem type formularesponse:"),
    ('<imageresponse><imageinput src="/static/map.png" rectangle="(1,1)-(2,2)"/></imageresponse>', "problem type imageresponse:"),
    ('<stringresponse answer="a"><textline/></stringresponse><customresponse cfn="f"><textline/></customresponse>', "problem type customresponse:"),
    ('<script type="loncapa/python">z = 3</script><numericalresponse answer="$z"><textline/></numericalresponse>', "computed by the problem's script ($z)"),
    ('<multiplechoiceresponse><choicegroup><choice correct="false">a</choice></choicegroup></multiplechoiceresponse>', "no choice is marked correct"),
    ("<p>Just text</p>", "a problem without any response"),
])
def test_problems_without_a_readable_key_are_ungraded_with_the_reason(tmp_path: Path, body: str, kind_of_reason: str):
    a = one_problem(tmp_path, body)
    assert a.kind == "ungraded" and a.parts == () and kind_of_reason in (a.reason or "")


def test_other_blocks_are_ungraded_with_the_reason(tmp_path: Path):
    files = course_files(
        '<discussion url_name="d1" xblock-family="xblock.v1" display_name="Talk" discussion_category="W1" discussion_target="Talk"/>'
        '<drag-and-drop-v2 url_name="dd" xblock-family="xblock.v1" data="{}"/>'
        '<video url_name="v0" display_name="Silent" youtube_id_1_0="abc"/>'
    )
    course = read_olx(write_folder(tmp_path / "c", files))
    reasons = {a.block_type: a.reason for a in course.activities}
    assert all(a.kind == "ungraded" for a in course.activities)
    assert reasons["discussion"] and "forum" in reasons["discussion"] and reasons["video"] == "video without transcript"
    assert reasons["drag-and-drop-v2"] and "drag-and-drop" in reasons["drag-and-drop-v2"]


SRT = "1\n00:00:00,000 --> 00:00:02,000\nNever share <i>your</i> OTP.\n\n2\n00:00:02,100 --> 00:00:04,000\nBanks don&#39;t ask for it.\n\n"


def test_transcripts_from_static_and_transcripts_folders(tmp_path: Path):
    files = course_files(
        '<video url_name="v1" display_name="OTP" transcripts=\'{"en": "otp-en.srt", "vi": "otp-vi.srt"}\'/>'
        '<video url_name="v2" display_name="Second" edx_video_id="abc-1"/>'
        '<video url_name="v3" display_name="Legacy" sub="xyz"/>'
        '<video url_name="v4" display_name="Lost" transcripts=\'{"en": "gone-en.srt"}\'/>',
        {
            "static/otp-vi.srt": "1\n00:00:00,000 --> 00:00:02,000\nĐừng chia sẻ OTP.\n",
            "static/otp-en.srt": SRT,
            "transcripts/abc-1-vi.srt": SRT,
            "static/subs_xyz.srt.sjson": json.dumps({"start": [0, 6000], "end": [4000, 9000], "text": ["Hello", "again"]}),
        },
    )
    course = read_olx(write_tar(tmp_path / "v.tar.gz", files))
    v1, v2, v3, v4 = course.activities
    assert v1.kind == "lesson" and v1.language == "vi" and v1.text == "Đừng chia sẻ OTP."  # the course's language first
    assert v2.kind == "lesson" and v2.text == "Never share your OTP. Banks don't ask for it."
    assert v3.kind == "lesson" and v3.text == "Hello\n\nagain"  # a pause of 2 s starts a paragraph
    assert v4.kind == "ungraded" and v4.reason == "video without transcript: static/gone-en.srt is referenced but not in the package"


def test_inline_blocks_and_cdata_html(tmp_path: Path):
    files = course_files(
        '<html url_name="h1" display_name="Inline"><h2>Title</h2><p>Body <b>bold</b></p></html>'
        '<html url_name="h2"><![CDATA[<p>Raw &amp; kept</p><style>p{}</style>]]></html>'
        '<html display_name="No name"><p>Made-up key</p></html>'
        '<html url_name="h4" visible_to_staff_only="true"><p>Staff</p></html>'
    )
    course = read_olx(write_folder(tmp_path / "c", files))
    h1, h2, h3, h4 = course.activities
    assert h1.text == "Title\n\nBody bold" and h2.text == "Raw & kept" and h2.title == "html"
    assert h3.key_inferred and h3.key == "block-v1:T+C+R+type@html+block@No_name" and not h1.key_inferred
    assert h4.restricted and not h1.restricted


def test_content_hash_tells_edited_activities(tmp_path: Path):
    files = course_files('<problem url_name="p1"/><html url_name="h1"/>', {
        "problem/p1.xml": '<problem display_name="Q"><stringresponse answer="a"><label>Say a</label><textline/></stringresponse></problem>',
        "html/h1.xml": '<html display_name="T"><p>Text</p></html>',
    })
    before = read_olx(write_folder(tmp_path / "a", files))
    files["problem/p1.xml"] = files["problem/p1.xml"].replace('answer="a"', 'answer="b"')
    files["chapter/ch1.xml"] = '<chapter display_name="Renamed chapter"><sequential url_name="s1"/></chapter>'
    after = read_olx(write_folder(tmp_path / "b", files))
    assert before.activities[0].content_hash != after.activities[0].content_hash
    assert before.activities[1].content_hash == after.activities[1].content_hash  # moved under a renamed chapter: same content


# ---------------------------------------------------------------------------------------------
# Broken and hostile packages


def test_missing_file_named_by_url_name(tmp_path: Path):
    files = course_files('<problem url_name="gone"/>')
    with pytest.raises(Invalid, match=r"broken\.tar\.gz: course/problem/gone\.xml: missing from the package, referenced by <problem url_name='gone'> in course/vertical/v1\.xml"):
        read_olx(write_tar(tmp_path / "broken.tar.gz", files))


def test_missing_html_file(tmp_path: Path):
    files = course_files('<html url_name="h1"/>', {"html/h1.xml": '<html filename="h1"/>'})
    with pytest.raises(Invalid, match=r"course/html/h1\.html: missing from the package"):
        read_olx(write_tar(tmp_path / "b.tar.gz", files))


def test_malformed_xml_names_the_file(tmp_path: Path):
    files = course_files('<problem url_name="p1"/>', {"problem/p1.xml": "<problem><multiplechoiceresponse></problem>"})
    with pytest.raises(Invalid, match=r"course/problem/p1\.xml: not well-formed XML: mismatched tag"):
        read_olx(write_tar(tmp_path / "b.tar.gz", files))


def test_a_problem_that_cannot_be_read_names_the_file(tmp_path: Path):
    files = course_files('<problem url_name="p1"/>', {"problem/p1.xml": '<problem><optionresponse><optioninput options="(oops" correct="a"/></optionresponse></problem>'})
    with pytest.raises(Invalid, match=r"course/problem/p1\.xml: <problem> block-v1:T\+C\+R\+type@problem\+block@p1: optioninput options="):
        read_olx(write_tar(tmp_path / "b.tar.gz", files))


def test_entity_expansion_is_refused(tmp_path: Path):
    bomb = '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><problem>&lol2;</problem>'
    files = course_files('<problem url_name="p1"/>', {"problem/p1.xml": bomb})
    with pytest.raises(Invalid, match=r"course/problem/p1\.xml: refused XML"):
        read_olx(write_tar(tmp_path / "b.tar.gz", files))


@pytest.mark.parametrize("name", ["../evil.txt", "course/../../evil.txt", "{tmp}/absolute-evil.txt"])
def test_a_member_outside_the_package_is_refused(tmp_path: Path, name: str):
    (tmp_path / "x").mkdir()
    name = name.format(tmp=tmp_path)
    files = {f"course/{k}": v for k, v in course_files("<html url_name='h'><p>x</p></html>").items()}
    write_tar(tmp_path / "x" / "evil.tar.gz", {name: "gotcha", **files}, top="")
    with pytest.raises(Invalid, match=r"evil\.tar\.gz: member '.*evil\.txt': refused, an absolute path or '\.\.' would leave the package"):
        read_olx(tmp_path / "x" / "evil.tar.gz")
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "absolute-evil.txt").exists()
    assert read_olx(write_tar(tmp_path / "x" / "fine.tar.gz", files, top="")).counts()["lesson"] == 1


def test_a_link_member_is_refused(tmp_path: Path):
    with tarfile.open(tmp_path / "link.tar.gz", "w:gz") as tar:
        info = tarfile.TarInfo("course/course.xml")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(info)
    with pytest.raises(Invalid, match=r"member 'course/course\.xml': refused, links are not accepted"):
        read_olx(tmp_path / "link.tar.gz")


def test_a_url_name_cannot_leave_the_package(tmp_path: Path):
    files = course_files('<problem url_name="..:..:secret"/>')
    with pytest.raises(Invalid, match=r"course/vertical/v1\.xml: <problem url_name='\.\.:\.\.:secret'>: a url_name may hold"):
        read_olx(write_tar(tmp_path / "b.tar.gz", files))


def test_a_block_used_twice_is_refused(tmp_path: Path):
    files = course_files('<html url_name="h1"/><html url_name="h1"/>', {"html/h1.xml": '<html><p>x</p></html>'})
    with pytest.raises(Invalid, match=r"course/html/h1\.xml: <html> block-v1:T\+C\+R\+type@html\+block@h1 is used a second time"):
        read_olx(write_tar(tmp_path / "b.tar.gz", files))


def test_not_a_course_export(tmp_path: Path):
    (tmp_path / "notes.tar.gz").write_bytes(b"not an archive")
    with pytest.raises(Invalid, match=r"notes\.tar\.gz: not a \.tar\.gz archive or a folder"):
        read_olx(tmp_path / "notes.tar.gz")
    with pytest.raises(Invalid, match=r"empty\.tar\.gz: course\.xml: missing"):
        read_olx(write_tar(tmp_path / "empty.tar.gz", {"README": "hi"}))
    with pytest.raises(Invalid, match=r"no such file or folder"):
        read_olx(tmp_path / "absent.tar.gz")
    files = course_files("")
    files["course.xml"] = '<course url_name="R" org="T"/>'
    with pytest.raises(Invalid, match=r"course/course\.xml: <course> lacks course"):
        read_olx(write_tar(tmp_path / "nokey.tar.gz", files))


def test_deep_nesting_is_refused_not_crashed(tmp_path: Path):
    deep = "<div>" * 5000 + "x" + "</div>" * 5000
    with pytest.raises(Invalid, match=r"course/vertical/v1\.xml: <html> .*nested too deeply"):
        read_olx(write_tar(tmp_path / "deep.tar.gz", course_files(f'<html url_name="h">{deep}</html>')))
    containers = "<split_test>" * 3000 + "</split_test>" * 3000
    with pytest.raises(Invalid, match=r"nested too deeply"):
        read_olx(write_tar(tmp_path / "deeper.tar.gz", course_files(containers)))
