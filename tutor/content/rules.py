"""The checks a lesson gets before it joins the library, run on the parsed YAML itself.

They read the raw data (not the validated model) so that one pass finds every problem: a lesson
whose `correct` is missing still has its options, diacritics and skill tags checked. Each problem
is said in English and Vietnamese (`tutor content check --lang vi|en`).

Errors stop the service from starting; warnings are shown by `tutor content check` and listed by
the service, but do not stop it (see content/README.md for which is which and why).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from tutor.content.yaml_lines import line_of

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One problem, where it is, in both languages; `rule` names the check that found it."""

    file: str
    line: int
    message: str  # English, with the field path in front
    loc: tuple = ()
    vi: str = ""  # the same in Vietnamese; empty: only the English exists
    severity: Severity = "error"
    rule: str = ""

    def text(self, lang: str = "en") -> str:
        msg = self.vi if lang == "vi" and self.vi else self.message
        if self.severity == "warning":
            msg = ("cảnh báo: " if lang == "vi" else "warning: ") + msg
        return f"{self.file}:{self.line}: {msg}"

    def __str__(self) -> str:
        return self.text("en")


def problem(file: str, line: int, where: str, en: str, vi: str, *, loc: tuple = (), severity: Severity = "error", rule: str = "") -> Problem:
    return Problem(file, line, f"{where}: {en}" if where else en, loc, f"{where}: {vi}" if where else vi, severity, rule)


# ------------------------------------------------------------------------------- Vietnamese text
VI_LETTERS = set("ăâđêôơưĂÂĐÊÔƠƯ")
# Common Vietnamese syllables as they look typed without diacritics, that are not English words:
# enough to recognise a title or an option typed without them even in a library of one lesson.
FOLDED_SYLLABLES = frozenset(
    """khong nguoi duoc cua nhung mot cac voi trong tren duoi dien thoai khau nhan lua dao viec lam hoc sinh thong bao
    khoan ngan chuyen tien dang nhap dung thiet thong ca nhan lieu quyen rieng tu toan xa hoi nang cong dich truc tuyen
    biet kiem tra bang giup minh nhieu nhu the nao sao lai hay ho tro cach chon tao phai duong tim kiem trang web
    nguon tai lieu hinh anh chia se tham gia quan ly mat khau manh bi lo cho chinh thuc dia chi gui thu so hoa""".split()
)


def has_vietnamese_letters(text: str) -> bool:
    """Any letter with a Vietnamese diacritic or a Vietnamese-only letter (đ, ơ, ư...)."""
    for ch in text:
        if ch in VI_LETTERS:
            return True
        if ch.isalpha() and not ch.isascii() and any(unicodedata.combining(c) for c in unicodedata.normalize("NFD", ch)):
            return True
    return False


def fold(word: str) -> str:
    """A word without its diacritics, lower-cased (đ → d)."""
    out = unicodedata.normalize("NFD", word.lower().replace("đ", "d"))
    return "".join(c for c in out if not unicodedata.combining(c))


WORD = re.compile(r"[^\W\d_]+")


def folded_markers(vi_texts: Iterable[str], en_texts: Iterable[str]) -> frozenset[str]:
    """Syllables that the library always writes with diacritics in Vietnamese and that are not English
    words: seen bare in a Vietnamese text, such a syllable means the diacritics were left out."""
    accented: set[str] = set()
    bare: set[str] = set()
    for text in vi_texts:
        for w in WORD.findall(text):
            (accented if has_vietnamese_letters(w) else bare).add(fold(w) if has_vietnamese_letters(w) else w.lower())
    english = {w.lower() for text in en_texts for w in WORD.findall(text)}
    return frozenset(((accented - bare) | FOLDED_SYLLABLES) - english - {"a", "i"})


def missing_diacritics(text: str, markers: frozenset[str]) -> bool:
    """A Vietnamese text of two words or more, with no diacritic at all, whose words are mostly
    syllables that Vietnamese writes with diacritics: "Bao ve mat khau" rather than "Bảo vệ mật khẩu"."""
    if has_vietnamese_letters(text):
        return False
    words = [w.lower() for w in WORD.findall(text)]
    hits = sum(1 for w in words if w in markers)
    return len(words) >= 2 and hits >= 2 and hits >= 0.6 * len(words)


# ----------------------------------------------------------------------------------- the context
@dataclass(frozen=True)
class Context:
    """What the rules need from the rest of the library."""

    skills: dict[str, str] | None  # skill id → its domain code; None when the framework itself is broken
    domain_names: dict[str, tuple[str, str]] = field(default_factory=dict)  # domain → (en, vi)
    markers: frozenset[str] = FOLDED_SYLLABLES
    today: date = field(default_factory=date.today)


# Addresses, numbers and Latin names survive translation unchanged: the same ones in option i of
# both languages show that the lists are in the same order.
ANCHOR = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:@-]*[A-Za-z0-9]|\d")


def anchors(option: str) -> frozenset[str]:
    return frozenset(t.lower() for t in ANCHOR.findall(option) if any(c.isdigit() for c in t) or "." in t or "/" in t or "@" in t)


def _texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def _vi_fields(raw: dict) -> Iterator[tuple[tuple, str]]:
    """(path, text) of every Vietnamese text in a lesson, bodies excepted (Markdown, long)."""
    def pair(path: tuple, value: Any) -> Iterator[tuple[tuple, str]]:
        if isinstance(value, dict):
            vi = value.get("vi")
            if isinstance(vi, str):
                yield path + ("vi",), vi
            elif isinstance(vi, list):
                for i, v in enumerate(vi):
                    if isinstance(v, str):
                        yield path + ("vi", i), v

    yield from pair(("title",), raw.get("title"))
    yield from pair(("objectives",), raw.get("objectives"))
    for j, s in enumerate(raw.get("sections") or []):
        if isinstance(s, dict):
            yield from pair(("sections", j, "heading"), s.get("heading"))
    for j, it in enumerate(raw.get("items") or []):
        if isinstance(it, dict):
            for key in ("question", "options", "explanation"):
                yield from pair(("items", j, key), it.get(key))
    examples = raw.get("examples")
    if isinstance(examples, dict):
        for audience, text in examples.items():
            yield from pair(("examples", audience), text)


def _dotted(path: tuple) -> str:
    return ".".join(str(p) for p in path)


def lesson_rules(raw: Any, lines: dict, shown: str, ctx: Context) -> list[Problem]:
    """Every rule that reads the raw lesson; tolerant of any shape (the schema reports shapes)."""
    if not isinstance(raw, dict):
        return []
    out: list[Problem] = []

    def add(path: tuple, en: str, vi: str, rule: str, severity: Severity = "error") -> None:
        out.append(problem(shown, line_of(lines, path), _dotted(path), en, vi, loc=path, severity=severity, rule=rule))

    lesson_skills = [s for s in raw.get("skills") or [] if isinstance(s, str)] if isinstance(raw.get("skills"), list) else []
    items = [it for it in raw.get("items") or []] if isinstance(raw.get("items"), list) else []

    # skills: known, and within the lesson's domain
    lesson_domains: set[str] = set()
    if ctx.skills is not None:
        for i, sid in enumerate(lesson_skills):
            if sid not in ctx.skills:
                add(("skills", i), f"unknown skill {sid!r}", f"không có kỹ năng {sid!r} trong khung năng lực", "unknown-skill")
            else:
                lesson_domains.add(ctx.skills[sid])
        if len(lesson_domains) > 1:
            add(("skills",), f"the lesson's skills span domains {', '.join(sorted(lesson_domains))}: check each tag",
                f"các kỹ năng của bài thuộc nhiều lĩnh vực ({', '.join(sorted(lesson_domains))}): hãy kiểm tra từng nhãn", "lesson-domains", "warning")
        for j, it in enumerate(items):
            if not isinstance(it, dict) or not isinstance(it.get("skills"), list):
                continue
            for i, sid in enumerate(it["skills"]):
                if not isinstance(sid, str):
                    continue
                path = ("items", j, "skills", i)
                if sid not in ctx.skills:
                    add(path, f"unknown skill {sid!r}", f"không có kỹ năng {sid!r} trong khung năng lực", "unknown-skill")
                elif lesson_domains and ctx.skills[sid] not in lesson_domains:
                    d = ctx.skills[sid]
                    en_name, vi_name = ctx.domain_names.get(d, (d, d))
                    add(path, f"skill {sid!r} is from domain {d} ({en_name}), not this lesson's: tag the item with one of the lesson's skills {lesson_skills}",
                        f"kỹ năng {sid!r} thuộc lĩnh vực {d} ({vi_name}), không phải lĩnh vực của bài: hãy gắn câu hỏi với một kỹ năng của bài {lesson_skills}",
                        "cross-domain")
                elif sid not in lesson_skills:
                    add(path, f"skill {sid!r} is not among the lesson's skills {lesson_skills}",
                        f"kỹ năng {sid!r} không nằm trong các kỹ năng của bài {lesson_skills}", "item-skill", "warning")

    # items: ids unique within the lesson; options in the same order in both languages
    seen: set[str] = set()
    for j, it in enumerate(items):
        if not isinstance(it, dict):
            continue
        iid = it.get("id")
        if isinstance(iid, str):
            if iid in seen:
                add(("items", j, "id"), f"duplicate item id {iid!r}", f"mã câu hỏi {iid!r} bị trùng", "duplicate-item")
            seen.add(iid)
        opts = it.get("options")
        if not isinstance(opts, dict):
            continue
        vi, en = _texts(opts.get("vi")), _texts(opts.get("en"))
        if len(vi) == len(en) and vi:
            a_vi, a_en = [anchors(o) for o in vi], [anchors(o) for o in en]
            for i, a in enumerate(a_vi):
                k = next((k for k, b in enumerate(a_en) if k != i and a and a == b and a != a_en[i]), None)
                if k is not None:
                    add(("items", j, "options", "en"),
                        f"English option {k} ({en[k]!r}) matches Vietnamese option {i} ({vi[i]!r}): the English options are in another order, "
                        f"so `correct` points at a different answer in English; put them in the Vietnamese order",
                        f"phương án tiếng Anh số {k} ({en[k]!r}) khớp với phương án tiếng Việt số {i} ({vi[i]!r}): thứ tự tiếng Anh khác tiếng Việt "
                        f"nên `correct` trỏ vào đáp án khác trong tiếng Anh; hãy xếp theo thứ tự tiếng Việt", "option-order")
                    break
        for lang in ("vi", "en"):
            flow_path: tuple = ("items", j, "options", lang)
            if flow_path in getattr(lines, "flow", ()):
                entries = _texts(opts.get(lang))
                for i in range(1, len(entries)):
                    first, prev = entries[i].lstrip()[:1], entries[i - 1].lstrip()[:1]
                    if first.islower() and prev.isupper():
                        add(flow_path + (i,),
                            f"option {entries[i]!r} starts in lower case after {entries[i - 1]!r}: an unquoted comma in a [ ... ] list probably split one option in two; "
                            f"put options that contain a comma in quotes",
                            f"phương án {entries[i]!r} bắt đầu bằng chữ thường sau {entries[i - 1]!r}: có lẽ một dấu phẩy không nằm trong dấu nháy đã tách một "
                            f"phương án thành hai; hãy đặt phương án có dấu phẩy trong dấu nháy", "flow-split")
                        break

    # Vietnamese typed without diacritics
    for path, text in _vi_fields(raw):
        if missing_diacritics(text, ctx.markers):
            add(path, f"Vietnamese text without diacritics: {text!r}; type it with its diacritics (e.g. with Unikey or the phone's Vietnamese keyboard)",
                f"văn bản tiếng Việt thiếu dấu: {text!r}; hãy gõ có dấu (ví dụ bằng Unikey hoặc bàn phím tiếng Việt của điện thoại)", "diacritics")

    out += metadata_rules(raw, lines, shown, ctx.today, new=False)
    return out


def example_rules(raw: Any, lines: dict, shown: str, audiences: Iterable[str]) -> list[Problem]:
    """Each of a lesson's `examples` is for an audience of content/audiences.yaml: one written for a
    misspelt audience would never be shown."""
    examples = raw.get("examples") if isinstance(raw, dict) else None
    if not isinstance(examples, dict):
        return []
    known = list(audiences)
    en_known = f"the audiences are {', '.join(known)}" if known else "no audiences are defined (content/audiences.yaml)"
    vi_known = f"các nhóm đối tượng là {', '.join(known)}" if known else "chưa có nhóm đối tượng nào (content/audiences.yaml)"
    return [
        problem(shown, line_of(lines, ("examples", key)), f"examples.{key}", f"unknown audience {key!r}; {en_known}",
                f"không có nhóm đối tượng {key!r}; {vi_known}", loc=("examples", key), rule="unknown-audience")
        for key in examples if key not in known
    ]


def metadata_rules(raw: Any, lines: dict, shown: str, today: date, new: bool) -> list[Problem]:
    """Licence, authors, review date and sources. Required for a new lesson (imported or posted:
    an error); a lesson already in the library without them gets a warning."""
    if not isinstance(raw, dict):
        return []
    out: list[Problem] = []
    missing: Severity = "error" if new else "warning"
    for key, en, vi in (
        ("licence", "no licence: add `licence: CC-BY-4.0`", "chưa ghi giấy phép: thêm `licence: CC-BY-4.0`"),
        ("authors", "no authors: add `authors: [your name]`", "chưa ghi tác giả: thêm `authors: [tên bạn]`"),
        ("last_reviewed", "never reviewed: add `last_reviewed: YYYY-MM-DD` once its facts are checked",
         "chưa được rà soát: thêm `last_reviewed: YYYY-MM-DD` sau khi kiểm tra các thông tin trong bài"),
        ("sources", "no sources: list the official pages its facts come from (title, url, publisher, accessed)",
         "chưa có nguồn: liệt kê các trang chính thức làm căn cứ (title, url, publisher, accessed)"),
    ):
        if not raw.get(key):
            out.append(problem(shown, line_of(lines, ("id",)), key, en, vi, loc=(key,), severity=missing, rule=f"metadata-{key}"))
    for path, value in [(("last_reviewed",), raw.get("last_reviewed"))] + [
        (("sources", i, "accessed"), s.get("accessed")) for i, s in enumerate(raw.get("sources") or []) if isinstance(s, dict)
    ]:
        if isinstance(value, date) and value > today:
            out.append(problem(shown, line_of(lines, path), _dotted(path), f"{value} is in the future", f"ngày {value} nằm ở tương lai", loc=path, rule="future-date"))
    return out
