"""The numerical core of clustering: faiss k-means, chunked assignment, silhouette, choosing k, representatives."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tqdm import tqdm

#: faiss trains on at most k * this many points (a random sample); every row is assigned afterwards
MAX_POINTS_PER_CENTROID = 256
#: independent k-means++ starts per run; the lowest objective wins
NREDO = 3
#: below this many multiply-adds per iteration (training rows x k x dim) faiss runs on one thread: on small
#: problems OpenMP's start-up and spin-waiting cost more than they save, badly so on a busy machine
SINGLE_THREAD_WORK = 1_000_000_000
#: rows assigned to their nearest centroid per faiss call (bounds memory on big catalogues)
ASSIGN_CHUNK = 65_536
#: rows on which the silhouette (and the --k auto search) is measured
SILHOUETTE_SAMPLE = 4_000
#: the range --k auto searches, clamped to what the number of rows allows
AUTO_K_RANGE = (4, 40)

Progress = Callable[[float, str], None]


@dataclass
class KmeansResult:
    """Centroids, each row's cluster and squared L2 distance to its centroid, and timing."""

    centroids: np.ndarray
    labels: np.ndarray
    distances: np.ndarray
    seconds: float
    gpu: bool
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def k(self) -> int:
        return int(self.centroids.shape[0])

    @property
    def inertia(self) -> float:
        """Sum over all rows of the squared L2 distance to the nearest centroid."""
        return float(np.sum(self.distances, dtype=np.float64))

    def sizes(self) -> list[int]:
        return [int(n) for n in np.bincount(self.labels, minlength=self.k)]


@contextmanager
def faiss_threads(n: int | None) -> Iterator[None]:
    """Run faiss with n OpenMP threads in this thread only (OpenMP keeps the setting per thread); None: unchanged."""
    import faiss

    if n is None:
        yield
        return
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(n)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def use_gpu() -> bool:
    import faiss

    return bool(faiss.get_num_gpus() > 0)


def _rows(x: np.ndarray, idx: np.ndarray | None = None) -> np.ndarray:
    """Contiguous float32 rows (reads only the selected rows of a memory-mapped array)."""
    part = x if idx is None else x[idx]
    return np.ascontiguousarray(part, dtype=np.float32)


def kmeans_plus_plus(x: np.ndarray, k: int, seed: int) -> np.ndarray:
    """k-means++ seeding: each next centre drawn with probability proportional to its squared distance.

    faiss starts from k random rows, which often leaves two centres in one tight group and none in another;
    this spreads them out first.
    """
    rng = np.random.default_rng(seed)
    n = int(x.shape[0])
    norms = np.einsum("ij,ij->i", x, x)
    centres = np.empty((k, x.shape[1]), dtype=np.float32)
    centres[0] = x[rng.integers(n)]
    def sq_dist(c: np.ndarray) -> np.ndarray:
        # einsum, not BLAS: one matrix-vector product per centre is too small to be worth BLAS threads
        return np.maximum(norms - 2.0 * np.einsum("ij,j->i", x, c) + float(c @ c), 0.0)

    closest = sq_dist(centres[0])
    for c in range(1, k):
        total = float(closest.sum())
        pick = int(rng.choice(n, p=closest / total)) if total > 0 else int(rng.integers(n))
        centres[c] = x[pick]
        np.minimum(closest, sq_dist(centres[c]), out=closest)
    return centres


def kmeans(
    x: np.ndarray, k: int, seed: int = 1234, niter: int = 20, nredo: int = NREDO,
    max_points_per_centroid: int = MAX_POINTS_PER_CENTROID, gpu: bool | None = None,
) -> KmeansResult:
    """faiss k-means of the rows of `x` (n, d) into k clusters; every row is then assigned in chunks.

    Training uses a seeded random sample of at most k * max_points_per_centroid rows, so time grows with k, not n,
    apart from the final assignment. Each of `nredo` runs starts from its own k-means++ seeding; the run with the
    lowest training objective wins. `gpu` defaults to "when faiss sees a GPU".
    """
    import faiss

    n, d = int(x.shape[0]), int(x.shape[1])
    if not 1 <= k <= n:
        raise ValueError(f"k must be between 1 and the number of rows ({n}), got {k}")
    gpu = use_gpu() if gpu is None else gpu
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    cap = k * max_points_per_centroid
    train_idx = np.sort(rng.choice(n, size=cap, replace=False)) if n > cap else None
    train = _rows(x, train_idx)
    small = train.shape[0] * k * d < SINGLE_THREAD_WORK
    with faiss_threads(1 if small and not gpu else None):
        best: Any = None
        objectives: list[float] = []
        for run in range(max(1, nredo)):
            run_seed = (seed + 7919 * run) % 2**31
            km = faiss.Kmeans(d, k, niter=niter, seed=run_seed, gpu=gpu, verbose=False, min_points_per_centroid=1,
                              max_points_per_centroid=max_points_per_centroid)
            objectives.append(float(km.train(train, init_centroids=kmeans_plus_plus(train, k, run_seed))))
            if objectives[-1] <= min(objectives):
                best = km
        km = best
        labels = np.empty(n, dtype=np.int64)
        dists = np.empty(n, dtype=np.float32)
        if train_idx is None and n <= ASSIGN_CHUNK:
            d2, lab = km.index.search(train, 1)
            dists[:], labels[:] = d2[:, 0], lab[:, 0]
        else:
            for start in range(0, n, ASSIGN_CHUNK):
                d2, lab = km.index.search(_rows(x[start : start + ASSIGN_CHUNK]), 1)
                dists[start : start + len(lab)], labels[start : start + len(lab)] = d2[:, 0], lab[:, 0]
    np.maximum(dists, 0.0, out=dists)
    params = {"init": "k-means++", "niter": niter, "nredo": max(1, nredo),
              "objectives": [round(o, 4) for o in objectives], "seed": seed,
              "threads": 1 if small and not gpu else "all", "max_points_per_centroid": max_points_per_centroid,
              "trained_on": int(train.shape[0])}
    return KmeansResult(np.asarray(km.centroids, dtype=np.float32).copy(), labels, dists,
                        time.perf_counter() - started, gpu, params)


def sample_rows(n: int, size: int, seed: int) -> np.ndarray:
    """Sorted row indices of a seeded sample of at most `size` rows."""
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed + 7).choice(n, size=size, replace=False))


def silhouette(x: np.ndarray, labels: np.ndarray, seed: int = 1234, sample: int = SILHOUETTE_SAMPLE) -> float | None:
    """Mean silhouette (euclidean) on a seeded sample of rows; None where it is undefined (one cluster, or k >= n)."""
    from sklearn.metrics import silhouette_score

    idx = sample_rows(int(x.shape[0]), sample, seed)
    lab = labels[idx]
    if not 2 <= len(np.unique(lab)) <= len(idx) - 1:
        return None
    return float(silhouette_score(_rows(x, idx), lab, metric="euclidean"))


def auto_k_range(n: int, lo: int = AUTO_K_RANGE[0], hi: int = AUTO_K_RANGE[1]) -> list[int]:
    """The k values --k auto tries for n rows (silhouette needs 2 <= k <= n - 1)."""
    hi = min(hi, n - 1)
    lo = max(2, min(lo, hi))
    return list(range(lo, hi + 1)) if hi >= 2 else []


def choose_k(
    x: np.ndarray, ks: Sequence[int], seed: int = 1234, niter: int = 20, nredo: int = NREDO,
    sample: int = SILHOUETTE_SAMPLE,
    progress: Progress | None = None, bar: bool = False,
) -> tuple[int, dict[str, Any]]:
    """Pick k by the silhouette: k-means of a seeded sample for each k, scored on that sample; the best k wins.

    Returns (k, why) where `why` records the criterion, the sample size and the score of every k tried.
    """
    from sklearn.metrics import pairwise_distances, silhouette_score

    if not ks:
        raise ValueError("too few rows to choose k automatically")
    started = time.perf_counter()
    idx = sample_rows(int(x.shape[0]), sample, seed)
    rows = _rows(x, idx)
    dist = pairwise_distances(rows, metric="euclidean", n_jobs=1)  # once; every k reuses it
    scores: dict[int, float | None] = {}
    for step, k in enumerate(tqdm(ks, desc="choosing k", unit="k", disable=not bar, file=sys.stderr)):
        res = kmeans(rows, k, seed=seed, niter=niter, nredo=nredo, gpu=False)
        ok = 2 <= len(np.unique(res.labels)) <= len(idx) - 1
        scores[k] = float(silhouette_score(dist, res.labels, metric="precomputed")) if ok else None
        if progress is not None:
            progress((step + 1) / len(ks), f"k={k}: silhouette {scores[k]}")
    valid = {k: s for k, s in scores.items() if s is not None}
    if not valid:
        raise ValueError("no k in the range gave a defined silhouette")
    best = max(valid, key=lambda k: (valid[k], -k))
    why = {"criterion": "silhouette (euclidean, k-means of a sample, scored on that sample)",
           "sample": len(idx), "k_range": [min(ks), max(ks)], "chosen": best,
           "scores": {str(k): (round(s, 6) if s is not None else None) for k, s in scores.items()},
           "seconds": round(time.perf_counter() - started, 3)}
    return best, why


def nearest_rows(labels: np.ndarray, distances: np.ndarray, k: int, per_cluster: int) -> list[np.ndarray]:
    """Row indices of each cluster, nearest its centroid first (ties by row), at most `per_cluster` of them."""
    order = np.lexsort((np.arange(len(labels)), distances, labels))
    starts = np.searchsorted(labels[order], np.arange(k + 1))
    return [order[starts[c] : min(starts[c + 1], starts[c] + per_cluster)] for c in range(k)]


def representatives(
    nearest: Sequence[np.ndarray], designs: Mapping[int, str | None], per_cluster: int = 5
) -> list[list[int]]:
    """Per cluster, the first rows of `nearest` (see nearest_rows) with at most one row per design.

    `designs` maps a row to its design code; a row without one counts as a design of its own.
    """
    out: list[list[int]] = []
    for rows in nearest:
        chosen: list[int] = []
        seen: set[str] = set()
        for row in rows:
            design = designs.get(int(row))
            if design is not None and design in seen:
                continue
            if design is not None:
                seen.add(design)
            chosen.append(int(row))
            if len(chosen) == per_cluster:
                break
        out.append(chosen)
    return out
