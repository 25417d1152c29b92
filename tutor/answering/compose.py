"""Composing an answer from a lesson section: the question's kind, the section's answer units, their scores.

An answer is a *span* of a section, never a piece of one: a whole sentence, a sentence and the
example after it, one item of a bulleted list, or a whole list with the sentence that introduces
it. A numbered list (steps) is only ever taken whole. What the question asks decides which spans
fit (``question_kind``): "how" wants the steps, "what" the defining sentence and its example,
"why" a reason, "what should I do" the warning and the action.

Spans are ranked by a linear score over a few features (``FEATURES``): how much of the question's
rare words the span holds, how well its passage matched (BM25 and the encoder's cosine), whether
its shape fits the question's kind, its place and length. The weights are fitted on the evaluation
questions' key points (``evaluation.fit_spans``; cross-validated there) and kept in calibration.json.

>>> question_kind("lam sao dang nhap dich vu cong bang VNeID")
'how'
>>> question_kind("Tài khoản mức 2 là gì?"), question_kind("Why do scammers rush you?")
('what', 'why')
>>> question_kind("Nếu lỡ bấm vào link lạ thì phải làm gì?"), question_kind("Có nên chia sẻ mật khẩu không?")
('todo', 'whether')
>>> [s.text for s in spans(section_units("Cách làm:\\n1. Mở ứng dụng.\\n2. Bấm Đăng nhập.\\n\\nXong."))][:1]
['Cách làm:\\n1. Mở ứng dụng.\\n2. Bấm Đăng nhập.']
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from tutor.answering.normalise import fold, words
from tutor.answering.passages import is_list_item, is_numbered_item, open_quote, sentences

MAX_ANSWER_WORDS = 80  # "about 80 words"
MAX_LIST_WORDS = 130  # a list of steps is never cut: up to this many words it may answer a "how" or "what should I do"
STEP_KINDS = ("how", "todo")  # the kinds of question a list longer than MAX_ANSWER_WORDS may answer

KINDS = ("how", "what", "why", "where", "whether", "todo", "fact")

# Patterns on the folded, lower-cased question (so one pattern serves "làm sao" and "lam sao").
_KIND_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern))
    for kind, pattern in (
        ("todo", r"\b(phai|nen|can) lam (gi|sao)\b|\blam gi (bay gio|truoc|ngay|de)|\bthi lam gi\b|\bwhat (should|do|can|must) (i|we|you) do\b|"
                 r"\bwhat to do\b|\bwhat now\b|\bwho (should|do) i (call|tell|contact)\b"),
        ("how", r"\blam (sao|the nao|cach nao)\b|\b(bang )?cach nao\b|\bnhu the nao\b|\bthe nao\b|\bcach( de)?\b|\bcac buoc\b|\bhuong dan\b|"
                r"\bhow (do|can|should|to|would|does)\b|\bhow\b.*\b(set|turn|make|find|use|start|get|check|add|share|send)\b|\bsteps?\b"),
        ("why", r"\b(tai|vi) sao\b|\bsao lai\b|\bly do\b|\bde lam gi\b|\bwhy\b|\bwhat for\b|\breason\b"),
        ("where", r"\bo dau\b|\bcho nao\b|\btai dau\b|\bnoi nao\b|\bwhere\b"),
        ("what", r"\bla gi\b|\bla sao\b|\bnghia la\b|\bla (cai|thu) gi\b|\bgom nhung gi\b|\bkhac (gi|nhau)\b|\bwhat (is|are|does|do|counts)\b|\bmeans?\b|"
                 r"\bdifference\b|\bwhat kind\b|\bwhich\b"),
        ("whether", r"^(co|liec|is|are|can|should|do|does|will|must|may)\b|\bco (nen|phai|duoc|can|an toan|that)\b|\b(khong|chua) (vay|a|nhi)?\s*\??$|"
                    r"\bshould i\b|\bcan i\b|\bis it\b|\bis (this|that)\b|\bdo i (need|have)\b"),
    )
)


# What a question asks for when it wants one kind of fact (the expected answer type of factoid QA),
# and how a span that gives it reads. A question asking a fee, a phone number, a time limit, an age
# or how to recover a forgotten password is answered only by a span that holds one.
_ASKS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (t, re.compile(p))
    for t, p in (
        # forgetting a password or a code ("quên" alone is also "người quen", an acquaintance, and "khỏi ai quên")
        ("recovery", r"\bquen (mat khau|mat ma|ma|pin|passcode|password|tai khoan)\b|\b(forgot|forgotten|forget)\b"),
        ("phone", r"\b(so dien thoai|tong dai|hotline|duong day nong|so may|phone number|helpline)\b"),
        # a price asked for, not a fee mentioned ("nộp lệ phí online được không", "lãng phí")
        ("amount", r"\b(bao nhieu tien|het bao nhieu|gia bao nhieu|how much|cost|costs|price)\b|(?<!mien )\b(phi|gia)\b.*\bbao nhieu\b|"
                   r"\bwhat (is|are) the (fee|fees|price|cost)\b"),
        ("duration", r"\b(bao lau|may ngay|bao nhieu ngay|how long|how many days|how many hours)\b"),
        ("age", r"\b(may tuoi|bao nhieu tuoi|what age|how old)\b"),
        ("quantity", r"\b(la bao nhieu|bao nhieu (gb|mb|ky tu|lan|buoc|nguoi|so)|how many|how much (space|storage|data))\b"),
    )
)
_GIVES: dict[str, re.Pattern[str]] = {
    # how to get a password or code back; folded "quen" alone is also "chưa quen" (not used to) and "người quen"
    "recovery": re.compile(r"\bquen (mat khau|mat ma|ma|pin|passcode|password|tai khoan)\b|\b(forgot|forgotten|forget)\b"),
    # a hotline (156, 5656, 1900 9068) or a phone number, not a year ("Nghị định 69/2024", "1/7/2024")
    "phone": re.compile(r"\b(1[89]00 \d{3,4}|\d{5,}|(?!(19[5-9]\d|20\d\d)\b)\d{3,4})\b"),
    # a sum of money ("20.000 đồng", "50 nghìn", "miễn phí"); folded "dong" alone is also "đóng" (close) and "động"
    "amount": re.compile(r"\d[\d.,]*\s*(d|dong|nghin|trieu|k|vnd|%)\b|\b(nghin|trieu|ty) dong\b|\b(mien phi|free|khong mat (phi|tien))\b"),
    "duration": re.compile(r"\b\d+\s*(den \d+ )?(giay|phut|gio|ngay|tuan|thang|nam|seconds?|minutes?|hours?|days?|weeks?|months?|years?)\b"),
    "age": re.compile(r"\b\d+\s*(tuoi|years? old|or older)\b|\b(tuoi|aged?)\s*\d+"),
    "quantity": re.compile(r"\b\d+([.,]\d+)?\s*(gb|mb|tb|ky tu|chu so|so|lan|nguoi|buoc|%|characters?|digits?|times|people|steps|percent)\b"),
}


def plain(text: str) -> str:
    """Folded, lower-cased words joined by spaces: one form for every pattern here."""
    return " ".join(words(fold(text).lower()))


def asks_for(question: str) -> str | None:
    """The one kind of fact the question wants (recovery | phone | amount | duration | age | quantity), or None.

    >>> asks_for("Lệ phí cấp phiếu lý lịch tư pháp là bao nhiêu?"), asks_for("How do I crop a photo?")
    ('amount', None)
    """
    q = plain(question)
    return next((t for t, pattern in _ASKS if pattern.search(q)), None)


def gives(answer_type: str | None, plain_text: str) -> bool:
    """Whether a text (``plain(text)``) holds a fact of that type (True when no type is asked)."""
    return answer_type is None or bool(_GIVES[answer_type].search(plain_text))


def question_kind(question: str) -> str:
    """how | what | why | where | whether | todo ("what should I do") | fact (anything else)."""
    q = plain(question)
    for kind, pattern in _KIND_PATTERNS:
        if pattern.search(q):
            return kind
    return "fact"


@dataclass(frozen=True)
class Unit:
    text: str
    list_id: int  # -1: not a list item; else which list of the section it belongs to
    numbered: bool
    intro: bool  # a sentence ending in ":" that introduces the list after it


@dataclass(frozen=True)
class Span:
    """Consecutive units of a section that read as one answer."""

    units: tuple[int, ...]
    text: str
    shape: str  # sentence | sentences | item | list
    numbered: bool
    plain: str = ""  # folded, lower-cased words: what the shape and type patterns read
    n_words: int = 0


def section_units(body: str) -> list[Unit]:
    """The sentences and list items of a section body, each marked with its list."""
    texts = sentences(body)
    out: list[Unit] = []
    list_id = -1
    n_lists = 0
    for i, t in enumerate(texts):
        item = is_list_item(t)
        if item and (i == 0 or not is_list_item(texts[i - 1])):
            list_id, n_lists = n_lists, n_lists + 1
        nxt_item = i + 1 < len(texts) and is_list_item(texts[i + 1])
        out.append(Unit(t, list_id if item else -1, item and is_numbered_item(t), (not item) and t.rstrip().endswith(":") and nxt_item))
    return out


_EXAMPLE = re.compile(r"^(vi du|chang han|for example|for instance|such as|eg)\b")


def is_example(plain_text: str) -> bool:
    """A sentence that gives an example ("Ví dụ: ...", "For example, ...")."""
    return bool(_EXAMPLE.match(plain_text))


def spans(units: Sequence[Unit]) -> list[Span]:
    """Every span an answer may be: whole sentences (alone, or two or three in a row), single items
    of bulleted lists, whole lists with their introduction."""
    out: list[Span] = []

    def add(idx: Sequence[int], shape: str) -> None:
        text = "\n".join(units[i].text for i in idx)
        numbered = any(units[i].numbered for i in idx)
        limit = MAX_LIST_WORDS if shape == "list" else MAX_ANSWER_WORDS
        n = len(text.split())
        # a span never stops on a colon (what it announces is missing) nor inside anything else
        if n <= limit and not is_cut(text):
            out.append(Span(tuple(idx), text, shape, numbered, plain(text), n))

    lists: dict[int, list[int]] = {}
    for i, u in enumerate(units):
        if u.list_id >= 0:
            lists.setdefault(u.list_id, []).append(i)
    for members in lists.values():
        start = members[0]
        intro = [start - 1] if start > 0 and units[start - 1].intro else []
        add([*intro, *members], "list")
        if not any(units[i].numbered for i in members):
            for i in members:
                add([*intro, i] if intro else [i], "item")
    for i, u in enumerate(units):
        if u.list_id >= 0 or u.intro:
            continue
        add([i], "sentence")
        # two or three sentences in a row: a definition and its example, a warning and its action
        j = i
        while j + 1 < len(units) and j - i < 2 and units[j + 1].list_id < 0 and not units[j + 1].intro:
            j += 1
            add(list(range(i, j + 1)), "sentences")
    return out


# ------------------------------------------------------------------------------------- features

FEATURES = ("lexical", "lexical_rel", "density_rel", "lexical_heading", "passage", "cosine", "span_cosine", "kind_fit", "gives_type", "is_list", "first",
            "log_words")

_DEFINITION = re.compile(r"\b(la|nghia la|duoc goi la|tuc la|is|are|means|refers to|is called)\b")
_REASON = re.compile(r"\b(vi|boi vi|do do|nen|de|vi vay|because|so that|so|since|that is why|to)\b")
_ACTION = re.compile(r"\b(hay|dung|khong bao gio|goi|bao|lien he|doi|khoa|never|do not|don't|call|report|change|block|stop|tell|ask)\b")
_PLACE = re.compile(r"\b(tai|o|vao|trong|muc|cai dat|at|in|on|under|settings|menu|tab|website|trang|app|ung dung)\b")


def kind_fit(kind: str, span: Span) -> float:
    """How well the span's shape suits the question's kind, 0..1."""
    t = span.plain
    if kind == "how":
        return 1.0 if span.shape == "list" and span.numbered else 0.7 if span.shape == "list" else 0.4 if _ACTION.search(t) else 0.0
    if kind == "what":
        return 1.0 if _DEFINITION.search(t) and span.shape in ("sentence", "sentences", "item") else 0.3
    if kind == "why":
        return 1.0 if _REASON.search(t) else 0.2
    if kind == "todo":
        return 1.0 if _ACTION.search(t) and span.shape in ("list", "item", "sentences") else 0.6 if _ACTION.search(t) else 0.0
    if kind == "where":
        return 1.0 if _PLACE.search(t) else 0.2
    if kind == "whether":
        return 0.8 if _ACTION.search(t) or _REASON.search(t) else 0.4
    return 0.5


def span_features(
    span: Span, kind: str, q_weights: dict[str, float], heading_tokens: AbstractSet[str], span_tokens: AbstractSet[str], passage_score: float, cosine: float,
    answer_type: str | None = None, span_cosine: float = 0.0,
) -> list[float]:
    """The span's features in ``FEATURES`` order (the ``*_rel`` ones, and ``span_cosine`` relative to the
    best span, are filled in by ``with_relative``). ``q_weights``: the question's tokens and their idf;
    ``passage_score`` and ``cosine``: of the passage holding the span, relative to the best passage;
    ``answer_type``: ``asks_for(question)``; ``span_cosine``: the encoder's cosine of question and span."""
    total = sum(q_weights.values()) or 1.0
    matched = sum(w for t, w in q_weights.items() if t in span_tokens)
    lexical = matched / total
    density = matched / math.sqrt(max(span.n_words, 8))
    lexical_heading = sum(w for t, w in q_weights.items() if t in span_tokens or t in heading_tokens) / total
    first = 1.0 if span.units[0] <= 1 else 0.0
    is_list = 1.0 if span.shape == "list" else 0.0
    typed = 1.0 if answer_type and gives(answer_type, span.plain) else 0.0
    return [lexical, 0.0, density, lexical_heading, passage_score, cosine, span_cosine, kind_fit(kind, span), typed, is_list, first,
            math.log1p(span.n_words) / math.log1p(MAX_ANSWER_WORDS)]


def with_relative(spans_: Sequence) -> None:
    """Fill in ``lexical_rel`` (each span's lexical match over the best among the question's spans),
    ``density_rel`` (matched weight per square-rooted word, likewise over the best) and make
    ``span_cosine`` relative (minus the best span's: 0 for the closest span, negative for the others)."""
    i, j, c = FEATURES.index("lexical"), FEATURES.index("density_rel"), FEATURES.index("span_cosine")
    best = max((s.features[i] for s in spans_), default=0.0)
    best_density = max((s.features[j] for s in spans_), default=0.0)
    best_cos = max((s.features[c] for s in spans_), default=0.0)
    for s in spans_:
        s.features[i + 1] = s.features[i] / best if best > 0 else 0.0
        s.features[j] = s.features[j] / best_density if best_density > 0 else 0.0
        s.features[c] -= best_cos


DEFAULT_SPAN_WEIGHTS: dict[str, float] = {
    "lexical": 2.0, "lexical_rel": 1.0, "density_rel": 1.0, "lexical_heading": 0.5, "passage": 1.0, "cosine": 1.0, "span_cosine": 2.0, "kind_fit": 0.8,
    "gives_type": 1.0, "is_list": 0.0, "first": 0.1, "log_words": 0.2,
}


def span_score(features: Sequence[float], weights: dict[str, float]) -> float:
    return float(sum(weights.get(name, 0.0) * f for name, f in zip(FEATURES, features)))


# ------------------------------------------------------------------------------------- checks

def is_cut(answer: str) -> bool:
    """True when the answer stops inside something: a sentence without its end, an introduction
    without its list, a numbered list missing a step, or an unclosed quotation."""
    text = answer.strip()
    if not text:
        return True
    lines = [ln.strip() for ln in text.split("\n") if ln.strip()]
    if lines[-1].endswith(":") and not is_list_item(lines[-1]):
        return True
    if open_quote(text) or text.count("“") != text.count("”"):
        return True
    numbers = [int(m.group(1)) for ln in lines if (m := re.match(r"(\d{1,3})[.)]\s", ln))]
    if numbers and numbers != list(range(numbers[0], numbers[0] + len(numbers))):
        return True
    if numbers and numbers[0] != 1:
        return True
    for prev, ln in zip(["."] + lines, lines):
        # a line without an end is cut, unless a colon announced it (an example file name, a web address)
        if not is_list_item(ln) and not re.search(r"""[.!?…:;)"”»]$""", ln) and not prev.endswith(":"):
            return True
    return False
