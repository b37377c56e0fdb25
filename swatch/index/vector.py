"""One searchable feature version: int8 codes scanned by Faiss, exact fp32 re-ranking, optional HNSW graph."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import faiss
import numpy as np

_faiss: Any = faiss  # the SWIG module's stubs miss several classes

#: float slack added to the certified error bound (fp32 accumulation over a few thousand terms)
FLOAT_SLACK = 2e-4


@dataclass
class Hits:
    """Row positions best first, their exact inner products, and whether the ranking is provably exact."""

    rows: np.ndarray
    scores: np.ndarray
    exact: bool


@dataclass
class VectorIndex:
    """Inner-product search over the rows of one feature snapshot.

    `scanner` holds every row (IndexFlatIP, or int8 codes in an IndexScalarQuantizer); `rows` are the exact fp32
    rows (a memory map of the snapshot). With int8 codes a scan returns candidates that are re-ranked in fp32;
    `residual` (the largest |x - decode(encode(x))|) bounds the int8 error, so the result is certified exact
    or the candidate set grows until it is. `hnsw`, above the exact-size threshold, answers large searches
    approximately over the same codes. `gpu`, when a GPU is present, answers unfiltered exact searches.
    """

    rows: np.ndarray
    scanner: Any
    residual: float = 0.0
    hnsw: Any = None
    gpu: Any = None
    exact_max_rows: int = 100_000
    ef_search: int = 128
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def ntotal(self) -> int:
        return int(self.rows.shape[0])

    @property
    def dim(self) -> int:
        return int(self.rows.shape[1])

    @property
    def quantised(self) -> bool:
        return self.residual > 0.0

    def search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None = None, force_exact: bool = False
    ) -> Hits:
        """Top k rows by inner product with `query`, restricted to rows where `allowed` (bool per row) is True.

        Exact whenever the allowed rows number at most `exact_max_rows`, there is no HNSW graph, or
        `force_exact`; otherwise the HNSW graph is searched with the filter inside it and its candidates re-ranked.
        """
        _faiss.omp_set_num_threads(1)  # per thread: a one-query scan on a busy CPU is fastest without a team
        q = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
        count = self.ntotal if allowed is None else int(np.count_nonzero(allowed))
        k = min(int(k), count)
        if k <= 0:
            return Hits(np.zeros(0, np.int64), np.zeros(0, np.float32), True)
        selector, _bits = _selector(allowed)  # _bits backs the selector: keep it alive until we return
        if self.gpu is not None and allowed is None:  # brute force on the GPU: exact and fast at any size
            _, labels = self.gpu.search(q, k)
            return self._rerank(q, labels[0], k, exact=True)
        if self.hnsw is not None and count > self.exact_max_rows and not force_exact:
            return self._approximate(q, k, selector)
        if not self.quantised:
            scores, labels = self._scan(q, k, selector)
            good = labels[0] >= 0
            return Hits(labels[0][good].astype(np.int64), scores[0][good], True)
        return self._certified(q, k, count, selector, allowed)

    # -- strategies --
    def _certified(self, q: np.ndarray, k: int, count: int, selector: Any, allowed: np.ndarray | None) -> Hits:
        bound = float(np.linalg.norm(q)) * self.residual * 1.001 + FLOAT_SLACK
        wanted = min(count, max(4 * k, k + 64))
        while True:
            approx, labels = self._scan(q, wanted, selector)
            good = labels[0] >= 0
            cand = labels[0][good].astype(np.int64)
            exact = self._exact(q, cand)
            if len(cand) < wanted or len(cand) >= count:
                return _top(cand, exact, k, True)  # every allowed row was scored exactly
            kth = np.partition(exact, len(exact) - k)[len(exact) - k]
            if float(approx[0][good][-1]) + bound < float(kth):
                return _top(cand, exact, k, True)  # no row outside the candidates can reach the top k
            if wanted * 4 >= count // 2:
                return self._brute(q, k, allowed)
            wanted *= 4

    def _approximate(self, q: np.ndarray, k: int, selector: Any) -> Hits:
        wanted = max(2 * k, k + 32)
        params = _faiss.SearchParametersHNSW()
        params.efSearch = max(self.ef_search, 4 * k)  # recall@100 about 0.95-0.99 on textile-like rows
        if selector is not None:
            params.sel = selector
        _, labels = self.hnsw.search(q, wanted, params=params)
        return self._rerank(q, labels[0], k, exact=False)

    def _brute(self, q: np.ndarray, k: int, allowed: np.ndarray | None) -> Hits:
        """Exact fp32 scores of every allowed row, in chunks (the fallback when the bound cannot certify)."""
        rows = np.arange(self.ntotal, dtype=np.int64) if allowed is None else np.flatnonzero(allowed)
        scores = np.empty(len(rows), np.float32)
        step = 8192
        for start in range(0, len(rows), step):
            part = rows[start : start + step]
            scores[start : start + step] = self._exact(q, part)
        return _top(rows, scores, k, True)

    # -- helpers --
    def _scan(self, q: np.ndarray, k: int, selector: Any) -> tuple[np.ndarray, np.ndarray]:
        if selector is None:
            return self.scanner.search(q, k)
        params = _faiss.SearchParameters()
        params.sel = selector
        return self.scanner.search(q, k, params=params)

    def _exact(self, q: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Exact fp32 inner products of `rows` (einsum: no BLAS thread pool, which stalls on a busy machine)."""
        if len(rows) == 0:
            return np.zeros(0, np.float32)
        return np.einsum("ij,j->i", np.asarray(self.rows[rows]), q[0]).astype(np.float32)

    def _rerank(self, q: np.ndarray, labels: np.ndarray, k: int, exact: bool) -> Hits:
        cand = labels[labels >= 0].astype(np.int64)
        return _top(cand, self._exact(q, cand), k, exact)


def _top(rows: np.ndarray, scores: np.ndarray, k: int, exact: bool) -> Hits:
    """The k best (score descending, then row ascending for ties)."""
    if len(rows) > k:
        part = np.argpartition(-scores, k - 1)[:k]
        rows, scores = rows[part], scores[part]
    order = np.lexsort((rows, -scores))
    return Hits(rows[order], scores[order], exact)


def _selector(allowed: np.ndarray | None) -> tuple[Any, Any]:
    """A Faiss bitmap selector for a boolean row mask, and the buffer it points into (keep it alive)."""
    if allowed is None:
        return None, None
    bits = np.packbits(np.asarray(allowed, dtype=bool), bitorder="little")
    return _faiss.IDSelectorBitmap(len(allowed), _faiss.swig_ptr(bits)), bits
