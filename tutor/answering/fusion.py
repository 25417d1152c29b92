"""One ranking from two: word matching (BM25) and meaning (embedding cosine).

``minmax`` (the default): each score list is rescaled to 0..1 over the candidates, then
``w_dense * dense + (1 - w_dense) * bm25``. ``w_dense = 0`` is BM25 alone and ``1`` is the encoder
alone, so a weight chosen by measuring every value from 0 to 1 is never worse than the better
part on the data it was measured on. ``rrf`` (reciprocal rank fusion, k = 60) is kept for
comparison in the benchmark.
"""

from __future__ import annotations

import numpy as np

RRF_K = 60.0


def minmax(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.size == 0:
        return x
    lo, hi = float(x.min()), float(x.max())
    if hi - lo < 1e-9:
        return np.zeros_like(x)
    return (x - lo) / (hi - lo)


def _rrf(x: np.ndarray) -> np.ndarray:
    order = np.argsort(-x, kind="stable")
    ranks = np.empty(len(x), dtype=np.float32)
    ranks[order] = np.arange(1, len(x) + 1, dtype=np.float32)
    return 1.0 / (RRF_K + ranks)


def fuse(bm25: np.ndarray, dense: np.ndarray | None, w_dense: float, method: str = "minmax") -> np.ndarray:
    """Fused scores of the same candidates (higher is better)."""
    if dense is None or w_dense <= 0.0:
        return minmax(bm25) if method == "minmax" else _rrf(bm25)
    if w_dense >= 1.0:
        return minmax(dense) if method == "minmax" else _rrf(dense)
    if method == "rrf":
        return (w_dense * _rrf(dense) + (1.0 - w_dense) * _rrf(bm25)) * (RRF_K + 1)
    return w_dense * minmax(dense) + (1.0 - w_dense) * minmax(bm25)
