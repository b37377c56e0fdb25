"""Clustering besides k-means: DBSCAN (density, with a "not grouped" set) and agglomerative (ward/average/complete)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from swatch.clustering.kmeans import ASSIGN_CHUNK, KmeansResult, sample_rows

#: the cluster id of designs DBSCAN leaves out of every group
NOT_GROUPED = -1
#: DBSCAN looks at every pair of designs (time grows with n^2): above this many designs it is refused
MAX_DENSITY_ROWS = 20_000
#: agglomerative linkage holds an n x n distance matrix: at most this many designs are clustered (a seeded sample),
#: every other design then goes to its nearest cluster centroid (5,000 rows: about 100 MB)
AGGLOMERATIVE_SAMPLE = 5_000
LINKAGES = ("ward", "average", "complete")
#: rows whose k-distance the eps suggestion measures (against every design)
SUGGEST_SAMPLE = 2_000


@dataclass
class GroupResult(KmeansResult):
    """A clustering whose labels may hold NOT_GROUPED; centroids are the mean of each group's members."""

    @property
    def inertia(self) -> float:
        """Sum over grouped rows of the squared L2 distance to their group's centroid."""
        return float(np.sum(self.distances[self.labels >= 0], dtype=np.float64))

    def sizes(self) -> list[int]:
        return [int(n) for n in np.bincount(self.labels[self.labels >= 0], minlength=self.k)]

    @property
    def not_grouped(self) -> int:
        return int(np.count_nonzero(self.labels < 0))


def _sq_dist_to(x: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """(n, k) squared L2 distances of a block of rows to every centroid."""
    part = np.ascontiguousarray(x, dtype=np.float32)
    cn = np.einsum("ij,ij->i", centroids, centroids)
    d2 = np.einsum("ij,ij->i", part, part)[:, None] - 2.0 * part @ centroids.T + cn[None, :]
    return np.maximum(d2, 0.0).astype(np.float32, copy=False)


def _nearest(x: np.ndarray, centroids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's nearest centroid and squared distance to it, in blocks of rows (at most ~16M distances each)."""
    n = int(x.shape[0])
    labels = np.empty(n, dtype=np.int64)
    d2min = np.empty(n, dtype=np.float32)
    step = max(1, min(ASSIGN_CHUNK, 2**24 // max(1, centroids.shape[0])))
    for start in range(0, n, step):
        d2 = _sq_dist_to(x[start : start + step], centroids)
        labels[start : start + len(d2)] = np.argmin(d2, axis=1)
        d2min[start : start + len(d2)] = d2[np.arange(len(d2)), labels[start : start + len(d2)]]
    return labels, d2min


def _finish(x: np.ndarray, labels: np.ndarray, started: float, params: dict[str, object]) -> GroupResult:
    """Centroids of the groups (labels 0..g-1), each row's squared distance to its own centroid (NOT_GROUPED
    rows: to the nearest one)."""
    from scipy.sparse import csr_matrix

    n, dim = int(x.shape[0]), int(x.shape[1])
    groups = int(labels.max()) + 1 if labels.size and labels.max() >= 0 else 0
    centroids = np.zeros((groups, dim), dtype=np.float32)
    distances = np.zeros(n, dtype=np.float32)
    if groups:
        grouped = np.flatnonzero(labels >= 0)
        onehot = csr_matrix((np.ones(len(grouped), np.float32), (labels[grouped], grouped)), shape=(groups, n))
        rows = np.ascontiguousarray(x, dtype=np.float32)
        centroids[:] = np.asarray(onehot @ rows) / np.bincount(labels[grouped], minlength=groups)[:, None]
        for start in range(0, n, ASSIGN_CHUNK):
            block = rows[start : start + ASSIGN_CHUNK]
            own = labels[start : start + ASSIGN_CHUNK]
            diff = block - centroids[np.maximum(own, 0)]
            distances[start : start + len(block)] = np.einsum("ij,ij->i", diff, diff)
        lone = np.flatnonzero(labels < 0)
        if lone.size:
            distances[lone] = _nearest(rows[lone], centroids)[1]
    return GroupResult(centroids, labels.astype(np.int64), distances, time.perf_counter() - started, False,
                       dict(params))


def dbscan(x: np.ndarray, eps: float, min_samples: int) -> GroupResult:
    """DBSCAN (euclidean on the unit feature rows): groups of densely packed designs, the rest NOT_GROUPED."""
    from sklearn.cluster import DBSCAN

    started = time.perf_counter()
    rows = np.ascontiguousarray(x, dtype=np.float32)
    labels = DBSCAN(eps=eps, min_samples=min_samples, metric="euclidean", algorithm="brute", n_jobs=1).fit(rows)
    return _finish(rows, np.asarray(labels.labels_, dtype=np.int64), started,
                   {"eps": eps, "min_samples": min_samples, "metric": "euclidean"})


def agglomerative(x: np.ndarray, k: int, linkage: str, seed: int = 1234,
                  sample: int = AGGLOMERATIVE_SAMPLE) -> GroupResult:
    """Agglomerative clustering into k groups of a seeded sample of at most `sample` rows; the other rows go to
    the nearest group centroid."""
    from sklearn.cluster import AgglomerativeClustering

    started = time.perf_counter()
    n = int(x.shape[0])
    idx = sample_rows(n, sample, seed)
    fit = np.ascontiguousarray(x[idx], dtype=np.float32)
    model = AgglomerativeClustering(n_clusters=k, linkage=linkage, metric="euclidean")
    labels = np.full(n, NOT_GROUPED, dtype=np.int64)
    labels[idx] = np.asarray(model.fit_predict(fit), dtype=np.int64)
    res = _finish(x, labels, started, {"linkage": linkage, "fitted_on": len(idx), "seed": seed})
    if len(idx) < n:  # the rest: to the nearest centroid of the sample's groups (_finish measured that distance)
        rest = np.flatnonzero(labels < 0)
        res.labels[rest] = _nearest(x[rest], res.centroids)[0]
        res.params["assigned_to_nearest_centroid"] = len(rest)
    res.seconds = time.perf_counter() - started
    return res


@dataclass(frozen=True)
class EpsSuggestion:
    """An eps for DBSCAN read off the k-distance curve (the knee), with the curve's quantiles for display."""

    eps: float
    min_samples: int
    sample: int
    quantiles: dict[str, float]

    def to_dict(self) -> dict[str, object]:
        return {"eps": self.eps, "min_samples": self.min_samples, "sample": self.sample,
                "k_distance_quantiles": self.quantiles,
                "rule": "knee of the sorted distances to the min_samples-th nearest design (farthest point from "
                        "the chord of the curve)"}


def suggest_eps(x: np.ndarray, min_samples: int, seed: int = 1234, sample: int = SUGGEST_SAMPLE) -> EpsSuggestion:
    """The knee of the k-distance curve: each sampled row's distance to its min_samples-th nearest row (itself
    counted, as DBSCAN does), sorted; the point farthest from the chord joining the curve's ends."""
    n = int(x.shape[0])
    idx = sample_rows(n, sample, seed)
    kth = min(min_samples, n) - 1
    dists = np.empty(len(idx), dtype=np.float64)
    rows = np.ascontiguousarray(x, dtype=np.float32)
    for start in range(0, len(idx), 64):
        part = idx[start : start + 64]
        d2 = _sq_dist_to(rows[part], rows)
        dists[start : start + len(part)] = np.sqrt(np.partition(d2, kth, axis=1)[:, kth])
    curve = np.sort(dists)
    if len(curve) < 3 or curve[-1] <= curve[0]:
        knee = float(curve[-1]) if len(curve) else 0.0
    else:
        t = np.linspace(0.0, 1.0, len(curve))
        y = (curve - curve[0]) / (curve[-1] - curve[0])
        knee = float(curve[int(np.argmax(t - y))])  # convex curve: farthest below the chord
    quantiles = {f"p{q}": round(float(np.quantile(curve, q / 100)), 6) for q in (10, 50, 90, 99)} if len(curve) else {}
    return EpsSuggestion(round(max(knee, 1e-6), 6), min_samples, len(idx), quantiles)
