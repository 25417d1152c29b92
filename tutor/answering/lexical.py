"""Word matching (BM25, via bm25s) over two token fields.

* ``exact``: normalised, lower-cased words. Vietnamese keeps its diacritics (with the canonical
  tone placement of :mod:`tutor.answering.normalise`) and adds syllable bigrams ("mật_khẩu"),
  because most Vietnamese words are two syllables; other languages drop stop words and are
  stemmed (Snowball, via PyStemmer: "passwords" -> "password").
* ``folded``: the same tokens with every diacritic removed, so "mat khau" finds "mật khẩu".

A question is scored on the fields its form asks for (see ``FIELD_WEIGHTS``): a question typed
without diacritics only on ``folded``; one with diacritics on ``exact`` plus half of ``folded`` (a
wrong or missing mark then costs a little, not everything).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import bm25s
import numpy as np
from bm25s import stopwords as _sw

from tutor.answering.normalise import fold, words

STOPWORDS: dict[str, frozenset[str]] = {
    "en": frozenset(_sw.STOPWORDS_EN),
    "de": frozenset(_sw.STOPWORDS_GERMAN),
    "es": frozenset(_sw.STOPWORDS_SPANISH),
    "fr": frozenset(_sw.STOPWORDS_FRENCH),
    "pt": frozenset(_sw.STOPWORDS_PORTUGUESE),
}

# Snowball stemmers (PyStemmer) for the languages that inflect; Vietnamese does not.
_STEMMER_NAMES = {"en": "english", "de": "german", "es": "spanish", "fr": "french", "pt": "portuguese"}
_stemmers: dict[str, object] = {}


def _stemmer(lang: str):
    if lang not in _stemmers:
        try:
            import Stemmer  # lazy and optional: without PyStemmer, words are matched whole

            _stemmers[lang] = Stemmer.Stemmer(_STEMMER_NAMES[lang]) if lang in _STEMMER_NAMES else None
        except ImportError:  # PyStemmer missing: match whole words
            _stemmers[lang] = None
    return _stemmers[lang]


FIELDS = ("exact", "folded")
FIELD_WEIGHTS: dict[str, dict[str, float]] = {
    "vi": {"exact": 1.0, "folded": 0.5},
    "vi_nodiac": {"folded": 1.0},
    "*": {"exact": 1.0},
}


@dataclass(frozen=True)
class Terms:
    exact: tuple[str, ...]
    folded: tuple[str, ...]

    def field(self, name: str) -> tuple[str, ...]:
        return self.exact if name == "exact" else self.folded


def _with_bigrams(tokens: list[str]) -> list[str]:
    return tokens + [f"{a}_{b}" for a, b in zip(tokens, tokens[1:])]


def analyse(text: str, lang: str) -> Terms:
    """The tokens of a passage or question written in ``lang``."""
    toks = words(text)
    if lang == "vi":
        exact = _with_bigrams(toks)
        folded_toks = words(fold(" ".join(toks)))  # one pass; folding never merges or splits words
        if len(folded_toks) != len(toks):
            folded_toks = [fold(t) for t in toks]
        folded = _with_bigrams(folded_toks)
    else:
        stop = STOPWORDS.get(lang, frozenset())
        kept = [t for t in toks if t not in stop]
        stemmer = _stemmer(lang)
        exact = stemmer.stemWords(kept) if stemmer and kept else kept
        folded = [fold(t) for t in kept]
    return Terms(tuple(exact), tuple(folded))


def coverage(bm25: float, ideal: float) -> float:
    """A passage's BM25 score over the question's ideal score (``LexicalIndex.ideal_score``): about
    1 when every question word is found, low for a question on a topic the library lacks."""
    return float(bm25 / ideal) if ideal > 0 else 0.0


class _Field:
    def __init__(self, docs: list[tuple[str, ...]], k1: float, b: float):
        self.n = len(docs)
        self.df: Counter[str] = Counter()
        for d in docs:
            self.df.update(set(d))
        self.bm25 = bm25s.BM25(k1=k1, b=b, method="lucene")
        self.bm25.index([list(d) for d in docs], show_progress=False)
        self.vocab = self.bm25.vocab_dict

    def idf(self, token: str) -> float:
        df = self.df.get(token, 0)
        return math.log(1.0 + (self.n - df + 0.5) / (df + 0.5))

    def scores(self, tokens: tuple[str, ...]) -> np.ndarray:
        ids = sorted({self.vocab[t] for t in tokens if t in self.vocab and t})
        if not ids or self.n == 0:
            return np.zeros(self.n, dtype=np.float32)
        return np.asarray(self.bm25.get_scores_from_ids(ids), dtype=np.float32)


class LexicalIndex:
    """BM25 over the ``exact`` and ``folded`` fields of a list of documents (rebuilt, never patched)."""

    def __init__(self, docs: list[Terms], k1: float = 1.2, b: float = 0.75):
        self.n = len(docs)
        self.k1, self.b = k1, b
        self._fields = {f: _Field([d.field(f) for d in docs], k1, b) for f in FIELDS} if docs else {}

    @staticmethod
    def weights_for(form_key: str) -> dict[str, float]:
        return FIELD_WEIGHTS.get(form_key, FIELD_WEIGHTS["*"])

    def scores(self, query: Terms, form_key: str) -> np.ndarray:
        out = np.zeros(self.n, dtype=np.float32)
        for f, w in self.weights_for(form_key).items():
            if self._fields and w:
                out += w * self._fields[f].scores(query.field(f))
        return out

    def ideal_score(self, query: Terms, form_key: str) -> float:
        """The BM25 score of an average-length passage holding each query token once.

        Tokens the library has never seen count with the largest idf, so a question about a topic
        the library does not cover gets a low ``score / ideal`` (its *coverage*).
        """
        total = 0.0
        for f, w in self.weights_for(form_key).items():
            if self._fields and w:
                total += w * sum(self._fields[f].idf(t) for t in set(query.field(f)))
        return total

    def idf(self, token: str, field: str = "folded") -> float:
        return self._fields[field].idf(token) if self._fields else 0.0
