"""The Faiss VectorIndex: int8 codes scanned by Faiss, exact fp32 re-ranking, optional HNSW graph."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import faiss
import numpy as np

from swatch.search.vectors import Hits

_faiss: Any = faiss  # the SWIG module's stubs miss several classes

#: float slack added to the certified error bound (fp32 accumulation over a few thousand terms)
FLOAT_SLACK = 2e-4
#: Faiss scans int8 codes with SIMD only when their width is a multiple of 16 (AVX-512; 8 with AVX2), else
#: one value at a time, about 20x slower: codes get zero columns up to the multiple (405 -> 416, 2117 -> 2128)
CODE_ALIGN = 16
#: a certified search scans for this many candidates per wanted row (then scores only those that may count)
CANDIDATES = 8
#: rows scored in fp32 per step (bounds the temporary copy)
EXACT_CHUNK = 8192
#: a filter leaving at most this many values (rows x dims) is answered by scoring just those rows in fp32:
#: cheaper than any scan of the whole index (a very selective filter at a million rows)
DIRECT_MAX_VALUES = 2_000_000


def code_width(dim: int) -> int:
    """The width of the int8 codes for rows of `dim` values: `dim` rounded up to CODE_ALIGN."""
    return -(-int(dim) // CODE_ALIGN) * CODE_ALIGN


def pad_columns(block: np.ndarray, width: int) -> np.ndarray:
    """Contiguous float32 `block` with zero columns appended up to `width` (inner products are unchanged)."""
    block = np.asarray(block, dtype=np.float32)
    if block.shape[1] == width:
        return np.ascontiguousarray(block)
    out = np.zeros((block.shape[0], width), np.float32)
    out[:, : block.shape[1]] = block
    return out


@dataclass
class FaissIndex:
    """Inner-product search over the rows of one feature snapshot (a VectorIndex).

    `scanner` holds every row (IndexFlatIP, or int8 codes in an IndexScalarQuantizer, zero-padded to
    CODE_ALIGN columns; without HNSW the codes hold each column times a scale, and `query_scale` is its
    inverse, so inner products are unchanged); `rows` are the exact fp32 rows (a memory map of the snapshot).
    With int8 codes a scan returns candidates that are re-ranked in fp32; `residual` (the largest
    |x - decode(encode(x))| in code space) bounds the int8 error, so the result is certified exact or the
    candidate set grows until it is. `hnsw`, above the exact-size threshold, answers large searches
    approximately over the same codes. `gpu`, when a GPU is present, answers unfiltered exact searches.
    """

    rows: np.ndarray
    scanner: Any
    residual: float = 0.0
    hnsw: Any = None
    gpu: Any = None
    query_scale: np.ndarray | None = None
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

    def vector(self, row: int) -> np.ndarray:
        return np.asarray(self.rows[row], dtype=np.float32)

    def search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None = None, force_exact: bool = False
    ) -> Hits:
        """Top k rows by inner product with `query`, only among rows where `allowed` (bool per row) is True.

        Exact whenever the allowed rows number at most `exact_max_rows`, there is no HNSW graph, or
        `force_exact` (few allowed rows are scored directly, without a scan); otherwise the HNSW graph is
        searched with the filter inside it, candidates re-ranked.
        """
        _faiss.omp_set_num_threads(1)  # per thread: a one-query scan on a busy CPU is fastest without a team
        q = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
        qc = self.code_query(q)
        count = self.ntotal if allowed is None else int(np.count_nonzero(allowed))
        k = min(int(k), count)
        if k <= 0:
            return Hits(np.zeros(0, np.int64), np.zeros(0, np.float32), True)
        if allowed is not None and count * self.dim <= DIRECT_MAX_VALUES:
            rows = np.flatnonzero(allowed)
            return _top(rows, self._exact(q, rows), k, True)
        selector, _bits = _selector(allowed)  # _bits backs the selector: keep it alive until we return
        if self.gpu is not None and allowed is None:  # brute force on the GPU: exact and fast at any size
            _, labels = self.gpu.search(q, k)
            return self._rerank(q, labels[0], k, exact=True)
        if self.hnsw is not None and count > self.exact_max_rows and not force_exact:
            return self._approximate(q, qc, k, selector)
        if not self.quantised:
            scores, labels = self._scan(qc, k, selector)
            good = labels[0] >= 0
            return Hits(labels[0][good].astype(np.int64), scores[0][good], True)
        return self._certified(q, qc, k, count, selector)

    def code_query(self, query: np.ndarray) -> np.ndarray:
        """(1, code width) float32: the query whose inner product with codes approximates that with rows."""
        q = np.asarray(query, dtype=np.float32).reshape(1, -1)
        return pad_columns(q if self.query_scale is None else q * self.query_scale, int(self.scanner.d))

    # -- strategies --
    def _certified(self, q: np.ndarray, qc: np.ndarray, k: int, count: int, selector: Any) -> Hits:
        """Exact top k from int8 candidates. An approximate score is within `bound` of the exact one, so only
        candidates whose approximate score + bound reaches the kth exact score are scored exactly, and the
        answer is certified once no row left out of the scan can reach it; else the scan widens, at last to
        every row. A scan costs about the same for any k, fp32 scoring does not: scan wide, score few."""
        bound = float(np.linalg.norm(qc)) * self.residual * 1.001 + FLOAT_SLACK
        wanted = min(count, max(CANDIDATES * k, k + 256))
        while True:
            approx, labels = self._scan(qc, wanted, selector)
            good = labels[0] >= 0
            cand, approx = labels[0][good].astype(np.int64), approx[0][good]
            first = min(len(cand), 2 * k)  # the best approximate candidates first: they set a high kth
            exact = self._exact(q, cand[:first])
            kth = _kth(exact, k)
            reach = np.flatnonzero(approx >= kth - bound)  # approx is descending: in practice a prefix
            scored = max(first, int(reach[-1]) + 1 if len(reach) else 0)
            if scored > first:  # rows past `scored` cannot reach kth (which only grows as more are scored)
                exact = np.concatenate([exact, self._exact(q, cand[first:scored])])
                kth = _kth(exact, k)
            if len(cand) < wanted or len(cand) >= count or float(approx.min()) + bound < kth:
                return _top(cand[:scored], exact, k, True)  # no row left unscored can reach the top k
            wanted = count if wanted * 4 >= count // 2 else wanted * 4

    def _approximate(self, q: np.ndarray, qc: np.ndarray, k: int, selector: Any) -> Hits:
        wanted = max(2 * k, k + 32)
        params = _faiss.SearchParametersHNSW()
        params.efSearch = max(self.ef_search, 4 * k)  # recall@100 about 0.95-0.99 on textile-like rows
        if selector is not None:
            params.sel = selector
        _, labels = self.hnsw.search(qc, wanted, params=params)
        return self._rerank(q, labels[0], k, exact=False)

    # -- helpers --
    def _scan(self, q: np.ndarray, k: int, selector: Any) -> tuple[np.ndarray, np.ndarray]:
        if selector is None:
            return self.scanner.search(q, k)
        params = _faiss.SearchParameters()
        params.sel = selector
        return self.scanner.search(q, k, params=params)

    def _exact(self, q: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Exact fp32 inner products of `rows`, in chunks (einsum: no BLAS thread pool, which stalls on a busy
        machine)."""
        out = np.empty(len(rows), np.float32)
        for start in range(0, len(rows), EXACT_CHUNK):
            part = np.asarray(self.rows[rows[start : start + EXACT_CHUNK]])
            out[start : start + EXACT_CHUNK] = np.einsum("ij,j->i", part, q[0])
        return out

    def _rerank(self, q: np.ndarray, labels: np.ndarray, k: int, exact: bool) -> Hits:
        cand = labels[labels >= 0].astype(np.int64)
        return _top(cand, self._exact(q, cand), k, exact)


def _kth(scores: np.ndarray, k: int) -> float:
    """The kth largest score (-inf when there are fewer than k)."""
    if len(scores) < k:
        return -np.inf
    return float(np.partition(scores, len(scores) - k)[len(scores) - k])


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
