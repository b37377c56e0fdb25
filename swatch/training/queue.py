"""The teaching queue: result pairs whose rating would teach the pattern model most, spread over the catalogue.

A rating teaches most where the model is unsure or where its versions disagree. For query designs spread over
the catalogue (farthest-point sampling of the rows), the candidates are each query's nearest designs under the
version being taught; a pair scores by how close its similarity lies to the boundary between what designers
rated alike and not alike (uncertainty), plus how differently the base version ranks it (disagreement). Pairs
already rated (either way round) and pairs of one design code (the trainer knows those already) are never asked;
each query gives at most one pair, so one busy corner of the catalogue cannot fill the queue.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from swatch.catalog.db import Catalog
from swatch.catalog.feedback import ratings_of
from swatch.features.store import FeatureStore, FeatureStoreError
from swatch.training.data import NEGATIVE_MAX, POSITIVE_MIN

CANDIDATES = 20  # nearest designs of each query considered
POOL = 4000  # rows the spread-out queries are drawn from
MAX_PAIRS = 50


class QueueError(ValueError):
    """The queue cannot be made (unknown model version, no rows)."""


@dataclass(frozen=True)
class TeachingPair:
    """One pair to rate: a query design, a result design, and why asking about it teaches."""

    query_id: int
    result_id: int
    similarity: float
    uncertainty: float
    disagreement: float

    @property
    def score(self) -> float:
        return self.uncertainty + self.disagreement

    @property
    def reason(self) -> str:
        if self.disagreement > self.uncertainty:
            return "the model's versions disagree about this pair"
        return "the model is unsure whether these look alike"


def _spread(rows: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Row positions of `count` queries spread over the rows (farthest-point sampling on a random pool)."""
    pool = np.sort(rng.choice(len(rows), size=min(len(rows), POOL), replace=False))
    vecs = np.asarray(rows[pool], dtype=np.float32)
    chosen = [int(rng.integers(len(pool)))]
    nearest = vecs @ vecs[chosen[0]]
    while len(chosen) < min(count, len(pool)):
        nxt = int(np.argmin(nearest))
        chosen.append(nxt)
        nearest = np.maximum(nearest, vecs @ vecs[nxt])
    return pool[chosen]


def _boundary(rows: np.ndarray, row_of: dict[int, int], rated: dict[tuple[int, int], float]) -> float | None:
    """The similarity halfway between the mean of pairs rated alike and of pairs rated not alike (None: too few)."""
    pos, neg = [], []
    for (q, r), stars in rated.items():
        if q in row_of and r in row_of:
            sim = float(np.dot(rows[row_of[q]], rows[row_of[r]]))
            if stars >= POSITIVE_MIN:
                pos.append(sim)
            elif stars <= NEGATIVE_MAX:
                neg.append(sim)
    if len(pos) < 3 or len(neg) < 3:
        return None
    return (float(np.mean(pos)) + float(np.mean(neg))) / 2.0


def teaching_pairs(
    catalog: Catalog, store: FeatureStore, n: int = 10, model: str = "pattern", version: str | None = None,
    base_version: str = "v1", seed: int = 0,
) -> tuple[str, list[TeachingPair]]:
    """(version taught, up to `n` pairs best first). An empty list means nothing is left to ask."""
    version = version or catalog.active_version(model) or base_version
    try:
        fv = store.load(model, version)
        base = store.load(model, base_version) if base_version != version else None
    except FeatureStoreError as exc:
        raise QueueError(str(exc)) from None
    rows, ids = fv.features, np.asarray(fv.ids)
    live = set(catalog.live_ids())
    if len(ids) < 3:
        return version, []
    row_of = {int(i): k for k, i in enumerate(ids.tolist())}
    rated: dict[tuple[int, int], float] = {}
    for fb in ratings_of(catalog, model):
        if fb.query_id is not None and fb.result_id is not None:
            rated[(int(fb.query_id), int(fb.result_id))] = float(fb.rating)
    asked = set(rated) | {(r, q) for q, r in rated}
    boundary = _boundary(rows, row_of, rated)
    base_rows = None
    if base is not None and np.array_equal(np.asarray(base.ids), ids):
        base_rows = base.features
    rng = np.random.default_rng(seed + len(rated))
    queries = _spread(rows, max(3 * n, 10), rng)
    found: list[TeachingPair] = []
    for q in queries.tolist():
        pair = _best_pair(rows, base_rows, ids, q, boundary, asked, live, catalog)
        if pair is not None:
            found.append(pair)
    found.sort(key=lambda p: (-p.score, p.query_id, p.result_id))
    return version, found[: max(0, min(n, MAX_PAIRS))]


def _best_pair(
    rows: np.ndarray, base_rows: np.ndarray | None, ids: np.ndarray, q: int, boundary: float | None,
    asked: set[tuple[int, int]], live: set[int], catalog: Catalog,
) -> TeachingPair | None:
    """The most telling unasked pair of query row `q` with one of its nearest designs, or None."""
    qid = int(ids[q])
    if qid not in live:
        return None
    sims = np.asarray(rows @ np.asarray(rows[q], dtype=np.float32), dtype=np.float64)
    sims[q] = -np.inf
    top = np.argsort(-sims, kind="stable")[:CANDIDATES]
    cand_ids = [int(ids[r]) for r in top]
    meta = catalog.images_by_ids([qid, *cand_ids])
    design = meta[qid].design if qid in meta else None
    t = boundary if boundary is not None else float(np.median(sims[top]))
    spread = max(float(sims[top[0]] - sims[top[-1]]), 1e-6)
    base_rank: dict[int, int] = {}
    if base_rows is not None:
        bs = np.asarray(base_rows @ np.asarray(base_rows[q], dtype=np.float32), dtype=np.float64)
        bs[q] = -np.inf
        order = np.argsort(-bs, kind="stable")[: 5 * CANDIDATES]
        base_rank = {int(r): k for k, r in enumerate(order.tolist())}
    best: TeachingPair | None = None
    for rank, (r, rid) in enumerate(zip(top.tolist(), cand_ids, strict=True)):
        row = meta.get(rid)
        if row is None or rid not in live or (qid, rid) in asked:
            continue
        if design and row.design == design:
            continue  # colourways of one design: the trainer learns those without asking
        uncertainty = max(0.0, 1.0 - abs(float(sims[r]) - t) / spread)
        disagreement = 0.0
        if base_rows is not None:
            disagreement = min(1.0, abs(base_rank.get(r, 5 * CANDIDATES) - rank) / CANDIDATES)
        pair = TeachingPair(qid, rid, round(float(sims[r]), 6), round(uncertainty, 4), round(disagreement, 4))
        if best is None or pair.score > best.score:
            best = pair
    return best
