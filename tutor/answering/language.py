"""Which language a learner's question is in, and whether it was typed without diacritics.

A question's *form* picks the tokens it is matched with and the fusion weights: ``vi`` (with
diacritics), ``vi_nodiac`` (Vietnamese typed without them) and ``en``; any other language code
(the XQuAD benchmark uses ``es`` and ``de``) is its own form.
"""

from __future__ import annotations

from dataclasses import dataclass

from bm25s.stopwords import STOPWORDS_EN

from tutor.answering.normalise import (
    VI_COMMON_FOLDED,
    fold,
    has_diacritics,
    looks_vietnamese_with_diacritics,
    words,
)

_EN_STOP = frozenset(STOPWORDS_EN) | {"how", "what", "why", "when", "where", "which", "who", "can", "do", "does", "my", "i"}


@dataclass(frozen=True)
class QueryForm:
    lang: str
    nodiac: bool = False

    @property
    def key(self) -> str:
        """``vi``, ``vi_nodiac``, ``en`` or another language code."""
        return "vi_nodiac" if self.lang == "vi" and self.nodiac else self.lang


def detect_form(
    question: str,
    lang: str | None = None,
    vi_vocabulary: frozenset[str] | set[str] = frozenset(),
    en_vocabulary: frozenset[str] | set[str] = frozenset(),
    hint: str | None = None,
) -> QueryForm:
    """The question's form. ``lang`` (when the caller knows it) wins over detection.

    Detection: Vietnamese-only letters or tone marks mean ``vi``; otherwise every folded word votes
    for Vietnamese when it is a frequent Vietnamese syllable or a word of the Vietnamese passages
    but not of the English ones, and for English in the opposite case (English stop words count
    for English). Ties go to ``hint``, else English.
    ``hint`` (the learner's interface language, say) settles a question with no clear signal.
    """
    if lang:
        lang = lang.lower()
        return QueryForm(lang, nodiac=(lang == "vi" and not has_diacritics(question)))
    if looks_vietnamese_with_diacritics(question):
        return QueryForm("vi", nodiac=False)
    vi_votes = en_votes = 0.0
    for w in (fold(t) for t in words(question)):
        in_vi = w in VI_COMMON_FOLDED or w in vi_vocabulary
        in_en = w in _EN_STOP or w in en_vocabulary
        if in_vi and not in_en:
            vi_votes += 1
        elif in_en and not in_vi:
            en_votes += 1
        elif in_vi and in_en and w in VI_COMMON_FOLDED and w not in _EN_STOP:
            vi_votes += 0.5
    if vi_votes > en_votes or (vi_votes == en_votes and hint == "vi"):
        return QueryForm("vi", nodiac=not has_diacritics(question))
    if vi_votes == en_votes and hint and hint != "en":
        return QueryForm(hint.lower())
    return QueryForm("en")
