"""Tutoring, not giving away: a learner who types a quiz question gets a hint, not the key.

The library's items are the lesson quizzes and the placement quiz's pool. When a question is (nearly)
the text of an item the learner is being tested on, the reply names the section that teaches it and
why the learner is sent there, and never quotes the options' key or the explanation. Being tested
means: the item belongs to the lesson the learner is on, or the learner is taking the placement quiz
(whose pool is every item). Outside a test the same question is answered: learners' own questions
often read like quiz items ("Dấu chân số là gì?"), and nothing is hidden from someone not being
tested. Matching is on folded content words (Dice overlap), so an item typed without diacritics,
shortened or with a word changed still matches.

>>> quiz = QuizBook()
>>> quiz.add("pw", [QuizItem("pw-1", "pw", {"vi": "Mật khẩu nào dưới đây mạnh nhất?", "en": "Which password is strongest?"}, {"vi": "Tôi thích mèo", "en": "I like cats"})])
>>> quiz.match("mat khau nao duoi day manh nhat", current_lesson="pw").item_id
'pw-1'
>>> quiz.match("mat khau nao duoi day manh nhat") is None  # not being tested on it
True
>>> quiz.match("Mật khẩu mạnh cần bao nhiêu ký tự?", current_lesson="pw") is None
True
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tutor.answering.normalise import fold, words

MATCH_AT = 0.6  # Dice overlap of content words with an item's question

# Words that carry no topic: question words and fillers, folded (Vietnamese) and English.
_FILLER = frozenset(
    "a ai an and anh are ban be cac cai can chi cho co cua da day de di do duoc em gi hay is it khi khong la lam ma minh mot nao neu nhung "
    "nhu of on or roi sao se the thi thuoc to toi tren trong va vay vi voi what which who why how do does should can i you your my the this "
    "that nhat duoi sau day these those".split()
)


def content_words(text: str) -> frozenset[str]:
    """Folded words that carry the topic, and every pair of neighbouring words (so that the same
    words in another order, or a different question about the same thing, score lower)."""
    ws = words(fold(text).lower())
    return frozenset([w for w in ws if w not in _FILLER] + [f"{a}_{b}" for a, b in zip(ws, ws[1:])])


@dataclass(frozen=True)
class QuizItem:
    item_id: str
    lesson_id: str
    question: Mapping[str, str]  # by language
    key: Mapping[str, str]  # the correct option's text by language: never shown, only used to find the section


@dataclass(frozen=True)
class QuizMatch:
    item_id: str
    lesson_id: str
    similarity: float
    key: Mapping[str, str]


def _dice(a: frozenset[str], b: frozenset[str]) -> float:
    return 2 * len(a & b) / (len(a) + len(b)) if a and b else 0.0


class QuizBook:
    """The library's quiz items by lesson, kept up to date as lessons are added or replaced."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, list[tuple[QuizItem, list[frozenset[str]]]]] = {}

    def add(self, lesson_id: str, items: Iterable[QuizItem]) -> None:
        prepared = [(it, [content_words(q) for q in it.question.values() if q]) for it in items]
        with self._lock:
            self._items[lesson_id] = prepared

    def __len__(self) -> int:
        return sum(len(v) for v in self._items.values())

    def match(self, question: str, current_lesson: str | None = None, placement: bool = False) -> QuizMatch | None:
        """The item being tested (of ``current_lesson``, or any item during the placement quiz) that the
        question is (nearly) the text of, or None."""
        q = content_words(question)
        if len(q) < 2 or not (current_lesson or placement):
            return None
        best: QuizMatch | None = None
        with self._lock:
            entries = [(lid, e) for lid, es in self._items.items() for e in es if placement or lid == current_lesson]
        for lid, (item, forms) in entries:
            sim = max((_dice(q, f) for f in forms), default=0.0)
            if sim >= MATCH_AT and (best is None or sim > best.similarity):
                best = QuizMatch(item.item_id, lid, round(sim, 3), item.key)
        return best


def items_of(document: Any) -> list[QuizItem]:
    """The quiz items of a lesson (``tutor.content.library.Lesson``); none for other documents."""
    out: list[QuizItem] = []
    for item in getattr(document, "items", None) or []:
        langs = [lang for lang in ("vi", "en") if item.question.get(lang)]
        question = {lang: item.question.get(lang) or "" for lang in langs}
        key = {lang: (item.options.get(lang) or [""])[item.correct] for lang in langs if item.correct < len(item.options.get(lang) or [])}
        out.append(QuizItem(item.id, document.id, question, key))
    return out


HINT = {
    "vi": "Đây là một câu hỏi trong phần kiểm tra của bài «{title}», nên mình không đưa đáp án. Hãy đọc lại mục «{heading}»: "
          "mục đó giải thích điều câu hỏi kiểm tra. Đọc xong, bạn thử tự chọn và giải thích vì sao chọn như vậy.",
    "en": "This is one of the quiz questions of the lesson “{title}”, so here is a hint rather than the answer. Re-read the section "
          "“{heading}”: it explains what the question checks. Then choose for yourself, and say why.",
}
