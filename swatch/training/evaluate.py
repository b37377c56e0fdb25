"""How well a pattern version agrees with designers' held-out ratings, and how two versions' results differ."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from swatch.training.data import Rating


def rows_by_id(features: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, dict[int, int]]:
    """The rows of a feature version and a map catalogue id -> row."""
    return np.asarray(features, dtype=np.float32), {int(i): k for k, i in enumerate(ids)}


def rating_agreement(features: np.ndarray, ids: np.ndarray, ratings: Sequence[Rating]) -> dict[str, Any]:
    """Per query, the share of result pairs with different ratings that the version orders like the designer
    (the better-rated result more similar; ties count half), averaged over queries: 0.5 is chance, 1.0 perfect.

    Also the mean rating of the result each query ranks first among its rated results. Ratings whose images the
    version lacks are skipped.
    """
    rows, pos = rows_by_id(features, ids)
    by_query: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for r in ratings:
        if r.query_id in pos and r.result_id in pos:
            by_query[r.query_id].append((pos[r.result_id], r.rating))
    per_query: list[float] = []
    top_ratings: list[float] = []
    pairs = 0
    for qid, rated in by_query.items():
        q = rows[pos[qid]]
        sims = rows[[k for k, _ in rated]] @ q
        stars = np.array([s for _, s in rated], dtype=np.float64)
        better = stars[:, None] > stars[None, :]
        n = int(better.sum())
        if n == 0:
            continue
        diff = sims[:, None] - sims[None, :]
        agree = float(((diff > 0) & better).sum() + 0.5 * ((diff == 0) & better).sum())
        per_query.append(agree / n)
        top_ratings.append(float(stars[int(np.argmax(sims))]))
        pairs += n
    return {
        "agreement": round(float(np.mean(per_query)), 4) if per_query else None,
        "top_rating": round(float(np.mean(top_ratings)), 3) if top_ratings else None,
        "queries": len(per_query),
        "pairs": pairs,
    }


def top_k_overlap(
    a: np.ndarray, a_ids: np.ndarray, b: np.ndarray, b_ids: np.ndarray, k: int = 10, sample: int = 200, seed: int = 0
) -> dict[str, Any]:
    """Mean share of the top-k results (query left out) two versions have in common, over sampled queries."""
    common = np.intersect1d(np.asarray(a_ids, dtype=np.int64), np.asarray(b_ids, dtype=np.int64))
    if common.size <= k:
        return {"overlap": None, "queries": 0, "k": k}
    ra, pa = rows_by_id(a, a_ids)
    rb, pb = rows_by_id(b, b_ids)
    ia = np.array([pa[int(i)] for i in common])
    ib = np.array([pb[int(i)] for i in common])
    ga, gb = ra[ia], rb[ib]
    rng = np.random.default_rng(seed)
    queries = rng.choice(common.size, min(sample, common.size), replace=False)
    shares = []
    for start in range(0, queries.size, 256):
        q = queries[start : start + 256]
        sa, sb = ga[q] @ ga.T, gb[q] @ gb.T
        sa[np.arange(q.size), q] = -np.inf
        sb[np.arange(q.size), q] = -np.inf
        ta = np.argpartition(-sa, k, axis=1)[:, :k]
        tb = np.argpartition(-sb, k, axis=1)[:, :k]
        shares += [len(set(x.tolist()) & set(y.tolist())) / k for x, y in zip(ta, tb, strict=True)]
    return {"overlap": round(float(np.mean(shares)), 4), "queries": int(queries.size), "k": k}
