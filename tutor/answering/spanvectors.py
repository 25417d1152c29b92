"""The encoder's vector of every span an answer may be (a sentence, two or three, a list, an item).

Why: the passage cosine says which section matches a question; within the section, words shared
with the question favour a sentence that repeats the question over the one that answers it
("how do I join a meeting" -> "Meetings often use Zoom..." rather than the steps). The cosine of
the question with each span is what tells them apart, so span ranking (compose.FEATURES
``span_cosine``) and the near-miss test use it.

Spans are embedded once, as passages are (the e5 "passage:" side), and cached under
``cache_dir/<encoder>/spans-<hash>.npz`` keyed by the hash of the normalised span text; a build
reuses every vector found in the newest such files, so a changed lesson re-embeds only its own
spans. ``models/index-cache`` ships the file of the bundled lessons. A span with no vector (a
lesson added through the API after start-up, or no encoder) is scored with its passage's cosine.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from tutor.answering.encoders import Encoder
from tutor.answering.normalise import normalise

FILES_KEPT = 4  # per encoder: the newest span files


def span_key(text: str) -> str:
    return hashlib.sha1(normalise(text).encode()).hexdigest()


class SpanVectors:
    """Span text -> unit vector (read-only once built; safe to share between threads)."""

    def __init__(self, vectors: dict[str, np.ndarray] | None = None):
        self._vectors = vectors or {}

    def __len__(self) -> int:
        return len(self._vectors)

    def get(self, text: str) -> np.ndarray | None:
        return self._vectors.get(span_key(text))

    @classmethod
    def build(
        cls,
        texts: Iterable[str],
        encoder: Encoder | None,
        cache_dir: Path | None,
        embed: bool = True,
        progress: Callable[[int], None] | None = None,
    ) -> SpanVectors:
        """Vectors of ``texts``: from the cache, the rest embedded (``embed``) and the cache rewritten."""
        if encoder is None:
            return cls()
        wanted = {span_key(t): normalise(t) for t in texts}
        folder = Path(cache_dir) / encoder.name if cache_dir else None
        found: dict[str, np.ndarray] = {}
        files = sorted(folder.glob("spans-*.npz"), key=lambda p: p.stat().st_mtime, reverse=True) if folder and folder.is_dir() else []
        for f in files[:FILES_KEPT]:
            try:
                with np.load(f, allow_pickle=False) as z:
                    keys, vecs = z["keys"].tolist(), z["vectors"]
            except Exception:  # noqa: BLE001 - a damaged cache file is ignored
                continue
            for k, v in zip(keys, vecs):
                if k in wanted and k not in found:
                    found[k] = v
            if len(found) == len(wanted):
                break
        todo = [k for k in wanted if k not in found] if embed else []
        if todo:
            vecs = encoder.passages([wanted[k] for k in todo], progress=progress)
            found.update(zip(todo, vecs))
        if folder is not None and found and (todo or not files):
            digest = hashlib.sha256("".join(sorted(found)).encode()).hexdigest()[:20]
            path = folder / f"spans-{digest}.npz"
            folder.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp.npz")
            keys = sorted(found)
            np.savez(tmp, keys=np.array(keys), vectors=np.stack([found[k] for k in keys]).astype(np.float32))
            os.replace(tmp, path)
            for old in sorted(folder.glob("spans-*.npz"), key=lambda p: p.stat().st_mtime, reverse=True)[FILES_KEPT:]:
                old.unlink(missing_ok=True)
        return cls(found)
