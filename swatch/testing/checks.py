"""Ground truths and checks tests and benchmarks share: brute-force rankings, "same ranking, ties allowed"."""

from __future__ import annotations

import numpy as np


def ranked(scores: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """`candidates` (row positions) by descending score, equal scores by position (the order search gives)."""
    return candidates[np.lexsort((candidates, -scores[candidates]))]


def brute_force(
    rows: np.ndarray, q: np.ndarray, k: int, allowed: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """The top `k` rows by inner product with `q` (float64; only rows where `allowed`), and their scores."""
    scores = rows.astype(np.float64) @ q.astype(np.float64)
    candidates = np.arange(len(rows)) if allowed is None else np.flatnonzero(allowed)
    order = ranked(scores, candidates)[:k]
    return order, scores[order]


def assert_same_ranking(got_rows: np.ndarray | list[int], truth_rows: np.ndarray, truth_scores: np.ndarray,
                        all_scores: np.ndarray, tol: float = 1e-5) -> None:
    """Equal rows in equal order, except that rows whose scores tie (within tol) may swap.

    `all_scores` holds every row's true score (by row position), `truth_scores` those of `truth_rows`."""
    got = np.asarray(got_rows)
    assert len(got) == len(truth_rows)
    np.testing.assert_allclose(all_scores[got], truth_scores, atol=tol)
    for pos, (a, b) in enumerate(zip(got.tolist(), np.asarray(truth_rows).tolist(), strict=True)):
        if a != b:
            assert abs(all_scores[a] - all_scores[b]) < tol, f"rank {pos}: {a} vs {b}"
