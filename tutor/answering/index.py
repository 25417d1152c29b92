"""The lesson index: passages matched by words (BM25) and by meaning (faiss), one fused ranking.

Build it once at start-up (``LessonIndex.build``); passage vectors are cached under
``cache_dir/<encoder>/<content hash>.npz`` (the caller's choice; the service and the CLI use
``TUTOR_INDEX_CACHE``, else ``<var>/index-cache/``), the hash covering every
passage's text, the splitting settings and this module's ``PIPELINE_VERSION``. A cache miss still
reuses the vectors of unchanged passages from earlier cache files of the same encoder, so editing
one lesson re-embeds only that lesson. ``add_or_replace_lesson`` updates a live index at once.

A question typed without diacritics is embedded with its diacritics restored from the library's
own spelling (``restore_diacritics``, diacritics.py). Optionally (``dense_folded``, off by default:
it doubles the embedding work and adds nothing once questions are restored) Vietnamese passages are
also embedded without diacritics, and such a question keeps the better of the two cosines.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from tutor.answering.calibration import Calibration, load_calibration
from tutor.answering.diacritics import DiacriticRestorer
from tutor.answering.encoders import Encoder
from tutor.answering.fusion import fuse
from tutor.answering.language import QueryForm, detect_form
from tutor.answering.lexical import LexicalIndex, Terms, analyse, coverage
from tutor.answering.normalise import fold, normalise
from tutor.answering.passages import MAX_WORDS, OVERLAP_WORDS, Document, Passage, section_bodies, split_lesson
from tutor.content.library import LANGUAGES

PIPELINE_VERSION = "retrieval-1"
ALL_CANDIDATES_UP_TO = 5000  # below this many passages every passage is scored; above, the union of top lists
TOP_PER_SIDE = 200  # BM25 candidates for a large index
DENSE_TOP = 100  # nearest vectors (per form) for a large index
CACHE_FILES_KEPT = 16  # per encoder: the newest content versions
HNSW_ABOVE = 20_000  # vectors; above this the dense side is searched with HNSW (approximate) instead of exactly

_TEXT, _FOLDED = 0, 1


@dataclass(frozen=True)
class IndexSettings:
    max_words: int = MAX_WORDS
    overlap_words: int = OVERLAP_WORDS
    dense_folded: bool = False  # also embed diacritic-free copies of Vietnamese passages
    restore_diacritics: bool = True  # put diacritics back on a question typed without them
    k1: float = 1.2
    b: float = 0.75
    fusion: str = "minmax"
    languages: tuple[str, ...] = LANGUAGES  # a document is read in those of these it is written in (XQuAD: its own)

    def key(self) -> str:
        """The splitting settings in the cache hash (``languages`` is not: passage ids carry their language)."""
        return f"{PIPELINE_VERSION}|{self.max_words}|{self.overlap_words}|{int(self.dense_folded)}|{int(self.restore_diacritics)}"


@dataclass
class Ranking:
    """Passages for one question, best first, with each part's raw score."""

    form: QueryForm
    passages: list[int]  # indices into LessonIndex.passages
    fused: np.ndarray
    bm25: np.ndarray
    dense: np.ndarray | None
    ideal_bm25: float  # see LexicalIndex.ideal_score
    w_dense: float
    timings_ms: dict[str, float] = field(default_factory=dict)
    query_vector: np.ndarray | None = None

    @property
    def coverage(self) -> float:
        """The best passage's BM25 coverage (``lexical.coverage``)."""
        return coverage(self.bm25[0], self.ideal_bm25) if self.passages else 0.0

    @property
    def top_dense(self) -> float:
        return float(self.dense[0]) if self.dense is not None and len(self.dense) else 0.0


def _entry_key(form: int, text: str) -> str:
    return hashlib.sha1(f"{form}\x00{text}".encode()).hexdigest()


class LessonIndex:
    def __init__(
        self,
        encoder: Encoder | None,
        settings: IndexSettings = IndexSettings(),
        cache_dir: Path | None = None,
        calibration: Calibration | None = None,
    ):
        self.encoder = encoder
        self.settings = settings
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.calibration = calibration or load_calibration(encoder.name if encoder else None)
        self.passages: list[Passage] = []
        self._lock = threading.RLock()  # guards the searchable state (held briefly: reads and the final swap)
        self._update_lock = threading.Lock()  # serialises updates
        self._terms: list[Terms] = []
        self._vectors = np.zeros((0, encoder.dim if encoder else 0), dtype=np.float32)
        self._entry_keys: list[str] = []
        self._entry_passage = np.zeros(0, dtype=np.int64)
        self._text_entry = np.zeros(0, dtype=np.int64)
        self._folded_entry = np.zeros(0, dtype=np.int64)
        self._faiss: Any = None
        self.lexical = LexicalIndex([])
        self.lessons: dict[str, dict] = {}
        self.bodies: dict[str, dict[tuple[int, str], str]] = {}  # lesson id -> (section, lang) -> whole body
        self.content_hash = ""
        self.build_stats: dict[str, Any] = {}
        self._entry_memo: dict[Passage, list[tuple[int, str, str]]] = {}
        self._terms_by_key: dict[tuple[str, str], Terms] = {}
        self._vi_vocab: frozenset[str] = frozenset()
        self._en_vocab: frozenset[str] = frozenset()
        self.restorer: DiacriticRestorer | None = None

    # ---------------------------------------------------------------- building

    @classmethod
    def build(
        cls,
        lessons: Iterable[Document],
        encoder: Encoder | None,
        settings: IndexSettings = IndexSettings(),
        cache_dir: Path | str | None = None,
        progress: Callable[[int, int], None] | bool | None = None,
        calibration: Calibration | None = None,
    ) -> LessonIndex:
        """An index of ``lessons`` (``tutor.content.library.Lesson``, or any ``passages.Document``).

        ``encoder=None``: BM25 alone. ``cache_dir=None`` disables the vector cache.
        ``progress=True`` shows a tqdm bar while passages are embedded.
        """
        index = cls(encoder, settings, Path(cache_dir) if cache_dir else None, calibration)
        passages = [p for lesson in lessons for p in index._split(lesson)]
        index._set_passages(passages, progress=progress)
        return index

    def _split(self, lesson: Document) -> list[Passage]:
        st = self.settings
        self.bodies[lesson.id] = section_bodies(lesson, st.languages)
        return split_lesson(lesson, st.max_words, st.overlap_words, st.languages)

    def _entries_of(self, p: Passage) -> list[tuple[int, str, str]]:
        """(form, text to embed, entry key) of a passage; remembered, so updates only do new ones."""
        memo = self._entry_memo
        got = memo.get(p)
        if got is None:
            t = normalise(p.index_text)
            got = [(_TEXT, t, _entry_key(_TEXT, t))]
            if self.settings.dense_folded and p.lang == "vi":
                f = fold(t)
                got.append((_FOLDED, f, _entry_key(_FOLDED, f)))
            memo[p] = got
        return got

    def _entries_for(self, passages: list[Passage]) -> tuple[list[str], list[int], list[int]]:
        texts, owners, forms = [], [], []
        for i, p in enumerate(passages):
            for form, text, _ in self._entries_of(p):
                texts.append(text)
                owners.append(i)
                forms.append(form)
        return texts, owners, forms

    def _hash(self, keys: list[str], passages: list[Passage]) -> str:
        h = hashlib.sha256(self.settings.key().encode())
        for p, k in zip(passages, keys):
            h.update(p.id.encode())
            h.update(k.encode())
        return h.hexdigest()[:20]

    def _cache_path(self, content_hash: str) -> Path | None:
        if not self.cache_dir or not self.encoder:
            return None
        return self.cache_dir / self.encoder.name / f"{content_hash}.npz"

    def _cached_vectors(self, wanted: set[str], exact: Path | None) -> dict[str, np.ndarray]:
        """Vectors by entry key from the exact cache file, else from the newest other files."""
        found: dict[str, np.ndarray] = {}
        if not exact:
            return found
        files = [exact] if exact.exists() else []
        if exact.parent.is_dir():
            others = sorted((p for p in exact.parent.glob("*.npz") if p != exact), key=lambda p: p.stat().st_mtime, reverse=True)
            files += others[:CACHE_FILES_KEPT]
        for f in files:
            try:
                with np.load(f, allow_pickle=False) as z:
                    keys, vecs = z["keys"], z["vectors"]
            except Exception:  # noqa: BLE001 - a damaged cache file is ignored
                continue
            for k, v in zip(keys.tolist(), vecs):
                if k in wanted and k not in found:
                    found[k] = v
            if len(found) == len(wanted):
                break
        return found

    @staticmethod
    def _prune_cache(folder: Path, keep: int = CACHE_FILES_KEPT) -> None:
        files = sorted(folder.glob("*.npz"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in files[keep:]:
            try:
                old.unlink()
            except OSError:
                pass

    def _set_passages(self, passages: list[Passage], progress=None, reuse: dict[str, np.ndarray] | None = None) -> None:
        t0 = time.perf_counter()
        texts, owners, forms = self._entries_for(passages)
        keys = [k for p in passages for _, _, k in self._entries_of(p)]
        p_keys = [self._entries_of(p)[0][2] for p in passages]
        content_hash = self._hash(p_keys, passages)
        embedded = 0
        cache_hit = False
        if self.encoder:
            have = dict(reuse or {})
            path = self._cache_path(content_hash)
            missing = set(keys) - set(have)
            if missing:
                have.update(self._cached_vectors(missing, path))
                cache_hit = path is not None and path.exists() and set(keys) <= set(have)
            todo = [i for i, k in enumerate(keys) if k not in have]
            if todo:
                bar = None
                cb = None
                if progress is True:
                    from tqdm import tqdm  # lazy: only the command line shows a bar; a worker never does

                    bar = tqdm(total=len(todo), desc=f"embedding passages ({self.encoder.name})", unit="passage")
                    cb = bar.update
                elif callable(progress):
                    done = [0]

                    def cb(n: int) -> None:
                        done[0] += n
                        progress(done[0], len(todo))

                vecs = self.encoder.passages([texts[i] for i in todo], progress=cb)
                if bar:
                    bar.close()
                for i, v in zip(todo, vecs):
                    have[keys[i]] = v
                embedded = len(todo)
            vectors = np.stack([have[k] for k in keys]).astype(np.float32) if keys else np.zeros((0, self.encoder.dim), np.float32)
            if path is not None and (embedded or not path.exists()):
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(".tmp.npz")
                np.savez(tmp, keys=np.array(keys), vectors=vectors)
                os.replace(tmp, path)
                self._prune_cache(path.parent)
        else:
            vectors = np.zeros((0, 0), dtype=np.float32)
        t_embed = time.perf_counter() - t0
        old_terms = self._terms_by_key
        terms = [old_terms.get((p.lang, k)) or analyse(p.index_text, p.lang) for p, k in zip(passages, p_keys)]
        lexical = LexicalIndex(terms, k1=self.settings.k1, b=self.settings.b)
        faiss_index: Any = None
        if self.encoder and len(vectors):
            if len(vectors) > HNSW_ABOVE:  # exact search costs ~50 ms at 150k vectors; HNSW ~0.3 ms
                faiss_index = faiss.IndexHNSWFlat(vectors.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
                faiss_index.hnsw.efConstruction = 64
                faiss_index.add(vectors)
                faiss_index.hnsw.efSearch = 256
            else:
                faiss_index = faiss.IndexFlatIP(vectors.shape[1])
                faiss_index.add(vectors)
        live = {p for p in passages}
        self._entry_memo = {p: e for p, e in self._entry_memo.items() if p in live}
        owners_arr = np.asarray(owners, dtype=np.int64)
        text_entry = np.full(len(passages), -1, dtype=np.int64)
        folded_entry = np.full(len(passages), -1, dtype=np.int64)
        for e, (o, f) in enumerate(zip(owners, forms)):
            (text_entry if f == _TEXT else folded_entry)[o] = e
        restorer = (
            DiacriticRestorer(t for p, t in zip(passages, terms) if p.lang == "vi") if self.settings.restore_diacritics else None
        )
        vi_vocab: set[str] = set()
        en_vocab: set[str] = set()
        for p, t in zip(passages, terms):
            if p.lang == "vi":
                vi_vocab.update(x for x in t.folded if "_" not in x)
            elif p.lang == "en":
                en_vocab.update(t.exact)
        lessons: dict[str, dict] = {}
        for p in passages:
            entry = lessons.setdefault(p.lesson_id, {"titles": {}, "skills": p.skills, "languages": []})
            entry["titles"].setdefault(p.lang, p.title)
            if p.lang not in entry["languages"]:
                entry["languages"].append(p.lang)
        with self._lock:
            self.passages = passages
            self._terms = terms
            self._terms_by_key = {(p.lang, k): t for p, k, t in zip(passages, p_keys, terms)}
            self._vectors = vectors
            self._entry_keys = keys
            self._entry_passage = owners_arr
            self._text_entry = text_entry
            self._folded_entry = folded_entry
            self._faiss = faiss_index
            self.lexical = lexical
            self.restorer = restorer
            self._vi_vocab = frozenset(vi_vocab)
            self._en_vocab = frozenset(en_vocab - vi_vocab)
            self.lessons = lessons
            self.content_hash = content_hash
            self.build_stats = {
                "passages": len(passages),
                "vectors": int(len(vectors)),
                "embedded": embedded,
                "cache_hit": cache_hit,
                "seconds": round(time.perf_counter() - t0, 3),
                "embed_seconds": round(t_embed, 3),
            }

    # ---------------------------------------------------------------- updating

    def add_or_replace_lesson(self, lesson: Document) -> dict[str, Any]:
        """Put a lesson in the live index (replacing the one with the same id); it is searchable on return.

        Only the lesson's own passages are embedded; word matching (and, above ``HNSW_ABOVE``
        vectors, the HNSW graph) is rebuilt: 0.3 s for the library, about a minute at 100,000
        passages (bench/results/retrieval.md). Questions are answered from the previous index
        until the new one is swapped in.
        """
        return dict(self.add_or_replace_lessons([lesson]), lesson=lesson.id)

    def add_or_replace_lessons(self, lessons: Sequence[Document]) -> dict[str, Any]:
        """As `add_or_replace_lesson` for many lessons at once (an imported course): one rebuild, not one per lesson."""
        new = [p for lesson in lessons for p in self._split(lesson)]
        ids = {lesson.id for lesson in lessons}
        with self._update_lock:  # one update at a time; questions keep using the old index meanwhile
            with self._lock:
                keep = [p for p in self.passages if p.lesson_id not in ids]
                reuse = {k: self._vectors[e] for e, k in enumerate(self._entry_keys)} if self.encoder else {}
            self._set_passages(keep + new, reuse=reuse)  # swaps the new index in under the lock
            return dict(self.build_stats, lessons=len(ids), lesson_passages=len(new))

    # ---------------------------------------------------------------- searching

    def form_of(self, question: str, lang: str | None = None, hint: str | None = None) -> QueryForm:
        """The question's form: ``lang`` forces it; otherwise detected (``hint`` settles ties)."""
        return detect_form(question, lang, self._vi_vocab, self._en_vocab, hint=hint)

    def dense_text(self, question: str, form: QueryForm) -> str:
        """What the encoder sees: the normalised question, with its diacritics restored when it
        was typed without them (see diacritics.py)."""
        if form.nodiac and self.restorer is not None and len(self.restorer):
            return self.restorer.restore(question)
        return normalise(question)

    def search(
        self,
        question: str,
        lang: str | None = None,
        k: int | None = 50,
        method: str = "fused",
        w_dense: float | None = None,
        query_vector: np.ndarray | None = None,
        hint: str | None = None,
    ) -> Ranking:
        """Rank passages for a question. ``method``: ``fused`` (calibrated weight unless ``w_dense``
        is given), ``bm25`` or ``dense``. ``k=None`` keeps every candidate."""
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        with self._lock:
            form = self.form_of(question, lang, hint)
            n = len(self.passages)
            if method == "bm25" or not self.encoder:
                w = 0.0
            elif method == "dense":
                w = 1.0
            else:
                w = self.calibration.weight(form.key) if w_dense is None else float(w_dense)
            restored = self.dense_text(question, form) if form.nodiac else None
            terms = analyse(restored or question, form.lang)  # restoring never changes the folded tokens
            if w < 1.0 or not self.encoder:
                bm25_all = self.lexical.scores(terms, form.key)
            else:  # dense alone: word matching is not needed
                bm25_all = np.zeros(n, dtype=np.float32)
            ideal = self.lexical.ideal_score(terms, form.key)
            timings["bm25_ms"] = (time.perf_counter() - t0) * 1000
            dense_c = None
            qv = None
            if n == 0:
                cand = np.zeros(0, dtype=np.int64)
            elif n <= ALL_CANDIDATES_UP_TO:
                cand = np.arange(n)
            else:
                m = min(TOP_PER_SIDE, n)
                cand = np.argpartition(-bm25_all, m - 1)[:m] if w < 1.0 else np.zeros(0, dtype=np.int64)
            if self.encoder and w > 0.0 and n:
                t1 = time.perf_counter()
                qv = query_vector if query_vector is not None else self.encoder.queries([restored or normalise(question)])[0]
                timings["encode_ms"] = (time.perf_counter() - t1) * 1000
                t2 = time.perf_counter()
                if n > ALL_CANDIDATES_UP_TO:
                    kk = min(DENSE_TOP * (2 if self.settings.dense_folded else 1), len(self._vectors))
                    _, ids = self._faiss.search(qv[None, :].astype(np.float32), kk)
                    ids = ids[0][ids[0] >= 0]
                    cand = np.unique(np.concatenate([cand, self._entry_passage[ids]]))
                dense_c = self._vectors[self._text_entry[cand]] @ qv
                if form.nodiac:
                    fe = self._folded_entry[cand]
                    has = fe >= 0
                    if has.any():
                        dense_c[has] = np.maximum(dense_c[has], self._vectors[fe[has]] @ qv)
                timings["dense_ms"] = (time.perf_counter() - t2) * 1000
            bm25_c = bm25_all[cand]
            fused = fuse(bm25_c, dense_c, w, self.settings.fusion)
            order = np.lexsort((cand, -fused))  # ties: lower passage index first (stable)
            if k is not None:
                order = order[:k]
            timings["total_ms"] = (time.perf_counter() - t0) * 1000
            return Ranking(
                form=form,
                passages=[int(i) for i in cand[order]],
                fused=fused[order],
                bm25=bm25_c[order],
                dense=None if dense_c is None else dense_c[order],
                ideal_bm25=ideal,
                w_dense=w,
                timings_ms=timings,
                query_vector=qv,
            )

    def rank_lessons(self, ranking: Ranking) -> list[tuple[str, float]]:
        """Lessons by their best passage's fused score (either language), best first."""
        best: dict[str, float] = {}
        for i, s in zip(ranking.passages, ranking.fused):
            lid = self.passages[i].lesson_id
            if lid not in best:
                best[lid] = float(s)
        return list(best.items())
