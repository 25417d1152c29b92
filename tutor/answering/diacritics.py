"""Putting the diacritics back on a question typed without them, from the library's own words.

"lam sao doi mat khau" is ambiguous syllable by syllable (mat: mật, mắt, mát, mặt...), much less
so in pairs: in the lessons "mat khau" is almost always "mật khẩu". The restorer counts, over the
Vietnamese passages, how each diacritic-free syllable pair and syllable is written, and rewrites a
question with the most frequent spelling (pairs first, then single syllables; unknown words stay as
typed). The encoder then sees ordinary Vietnamese: on the content's questions typed without
diacritics, e5-small alone goes from recall@3 0.40 (0.60 against diacritic-free copies of the
passages) to 0.96 (bench/results/retrieval.md). Word matching keeps using the folded tokens.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from tutor.answering.lexical import Terms
from tutor.answering.normalise import fold, words


class DiacriticRestorer:
    def __init__(self, vietnamese_terms: Iterable[Terms] = ()):
        uni: dict[str, Counter] = {}
        bi: dict[tuple[str, str], Counter] = {}
        for t in vietnamese_terms:
            n = (len(t.exact) + 1) // 2  # Terms of Vietnamese text: syllables, then their pairs
            ex, fo = t.exact[:n], t.folded[:n]
            for e, f in zip(ex, fo):
                uni.setdefault(f, Counter())[e] += 1
            for i in range(n - 1):
                bi.setdefault((fo[i], fo[i + 1]), Counter())[(ex[i], ex[i + 1])] += 1
        self._uni = {f: c.most_common(1)[0][0] for f, c in uni.items()}
        self._bi = {f: (c.most_common(1)[0][0], sum(c.values())) for f, c in bi.items()}

    def __len__(self) -> int:
        return len(self._uni)

    def restore(self, question: str) -> str:
        """The question, lower-cased, with the library's most frequent spelling of each word."""
        toks = [fold(t) for t in words(question)]
        out = list(toks)
        fixed = [False] * len(toks)
        # Pairs, the most frequent first, so a strong pair wins over a weak overlapping one.
        pairs = sorted(
            ((self._bi[(toks[i], toks[i + 1])][1], i) for i in range(len(toks) - 1) if (toks[i], toks[i + 1]) in self._bi),
            reverse=True,
        )
        for _, i in pairs:
            (a, b), _ = self._bi[(toks[i], toks[i + 1])]
            if not fixed[i]:
                out[i], fixed[i] = a, True
            if not fixed[i + 1]:
                out[i + 1], fixed[i + 1] = b, True
        for i, t in enumerate(toks):
            if not fixed[i] and t in self._uni:
                out[i] = self._uni[t]
        return " ".join(out)
