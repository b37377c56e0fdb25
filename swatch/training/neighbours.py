"""Few ratings reach further: a liked pair also pulls the mutual nearest neighbours of each of its two designs.

Only while ratings are few (at most MAX_LIKED liked pairs, and at most one per PER_LIKED catalogue designs): with
many ratings the designers' own pairs cover the neighbourhoods, and borrowed neighbours that are not alike would
only add noise. Measured in docs/training.md ("The teaching queue").
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from swatch.training.data import POSITIVE_MIN, ExampleBuilder, Rating

NEIGHBOURS = 10  # a design's nearest designs (base rows) that may share its liked partner
MAX_LIKED = 64  # more liked training pairs than this: no propagation (also bounds the cost on a large catalogue)
PER_LIKED = 4  # nor when there is a liked pair for every PER_LIKED designs or more (a small, well rated catalogue)
WEIGHT = 0.5  # a propagated pair counts half a rated one
CHUNK = 1024


def _top(base: np.ndarray, rows: np.ndarray, k: int) -> np.ndarray:
    """(len(rows), k) nearest base rows of each given row by inner product, the row itself left out."""
    out = np.empty((rows.size, k), dtype=np.int64)
    for s in range(0, rows.size, CHUNK):
        part = rows[s:s + CHUNK]
        sims = np.asarray(base[part] @ base.T, dtype=np.float32)
        sims[np.arange(part.size), part] = -np.inf
        out[s:s + CHUNK] = np.argpartition(-sims, k, axis=1)[:, :k]
    return out


def mutual_neighbours(base: np.ndarray, rows: Sequence[int], k: int = NEIGHBOURS) -> dict[int, list[int]]:
    """For each given row, the rows among its k nearest that have it among their own k nearest."""
    k = min(k, len(base) - 1)
    if k < 1 or not rows:
        return {}
    seeds = np.array(sorted(set(rows)), dtype=np.int64)
    near = _top(base, seeds, k)
    cand = np.unique(near)
    near_of_cand = dict(zip(cand.tolist(), _top(base, cand, k).tolist(), strict=True))
    return {int(r): [int(m) for m in nb if int(r) in near_of_cand[int(m)]] for r, nb in zip(seeds, near, strict=True)}


def add_neighbour_pairs(builder: ExampleBuilder, base: np.ndarray, ratings: Sequence[Rating]) -> int:
    """For each liked pair (q, r), while they are few (module docstring): q with r's mutual neighbours and r with q's,
    as weaker positives, both ways round. Returns how many pairs were added."""
    liked = sorted({(r.query_row, r.result_row) for r in ratings if r.rating >= POSITIVE_MIN})
    if len(liked) > min(MAX_LIKED, len(base) // PER_LIKED):
        return 0
    near = mutual_neighbours(np.asarray(base, dtype=np.float32), [x for p in liked for x in p])
    added = 0
    for q, r in liked:
        for a, b in ((q, r), (r, q)):
            for m in near.get(b, []):
                if m != a:
                    builder.add_pair(a, m, WEIGHT, "neighbour_pairs")
                    builder.add_pair(m, a, WEIGHT, "neighbour_pairs")
                    added += 2
    return added
