"""Comparing two cluster versions: a best one-to-one matching of clusters, designs moved, splits and merges."""

from __future__ import annotations

from typing import Any

import numpy as np

from swatch.catalog.clusters import effective_clusters
from swatch.catalog.db import Catalog
from swatch.clustering.versions import cluster_ids, version_info

#: a cluster "goes to" another when at least this share of it (and MIN_COUNT designs) does
SHARE = 0.25
MIN_COUNT = 2


def contingency(a: dict[int, int], b: dict[int, int], ka: int | list[int],
                kb: int | list[int]) -> tuple[np.ndarray, list[int]]:
    """Counts table[i, j] of designs in the i-th cluster of a and the j-th of b, over the designs both hold.

    `ka`, `kb`: the clusters of each version, as a count (0..k-1) or a list of cluster ids (-1 "not grouped" and
    added clusters included); rows and columns follow that order.
    """
    la = list(range(ka)) if isinstance(ka, int) else list(ka)
    lb = list(range(kb)) if isinstance(kb, int) else list(kb)
    pos_a, pos_b = {c: i for i, c in enumerate(la)}, {c: j for j, c in enumerate(lb)}
    common = sorted(set(a) & set(b))
    table = np.zeros((len(la), len(lb)), dtype=np.int64)
    if common:
        np.add.at(table, (np.array([pos_a[a[i]] for i in common]), np.array([pos_b[b[i]] for i in common])), 1)
    return table, common


def _relabel(entries: list[dict[str, Any]], rows: list[int], cols: list[int], key: str) -> list[dict[str, Any]]:
    """_spread's positions back to cluster ids (rows: the clusters of the spread side, cols: the other side)."""
    return [{"cluster": rows[e["cluster"]], "size": e["size"],
             key: [{"cluster": cols[p["cluster"]], "count": p["count"]} for p in e["into"]]} for e in entries]


def _spread(table: np.ndarray, share: float, min_count: int) -> list[dict[str, Any]]:
    """Rows of `table` whose designs go in substantial shares to two or more columns."""
    out = []
    for i, row in enumerate(table):
        size = int(row.sum())
        parts = [(int(j), int(n)) for j, n in enumerate(row) if n >= min_count and n >= share * size]
        if len(parts) >= 2:
            out.append({"cluster": i, "size": size, "into": [{"cluster": j, "count": n} for j, n in parts]})
    return out


def compare_versions(
    catalog: Catalog, version_a: str, version_b: str, share: float = SHARE, min_count: int = MIN_COUNT
) -> dict[str, Any]:
    """How version b regroups the designs of version a (both with their hand moves applied).

    Clusters are paired one-to-one by the Hungarian method on the contingency table (most designs kept
    together); `moved` counts designs not in their cluster's partner. A split is a cluster of a whose designs go
    in substantial shares (>= `share` of it and >= `min_count`) to two or more clusters of b; a merge is a cluster
    of b drawing such shares of itself from two or more clusters of a.
    """
    from scipy.optimize import linear_sum_assignment
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    info_a, info_b = version_info(catalog, version_a), version_info(catalog, version_b)
    a, b = effective_clusters(catalog, version_a), effective_clusters(catalog, version_b)
    ids_a, ids_b = cluster_ids(catalog, info_a), cluster_ids(catalog, info_b)
    table, common = contingency(a, b, ids_a, ids_b)
    rows, cols = linear_sum_assignment(table, maximize=True)
    kept = int(table[rows, cols].sum())
    pairs = sorted(({"a": ids_a[i], "b": ids_b[j], "common": int(table[i, j])}
                    for i, j in zip(rows, cols, strict=True) if table[i, j] > 0), key=lambda p: p["a"])
    la = np.array([a[i] for i in common])
    lb = np.array([b[i] for i in common])
    same = bool(common)
    merges = _relabel(_spread(table.T, share, min_count), ids_b, ids_a, "from")
    return {
        "a": {"version": version_a, "model": info_a["model"], "feature_version": info_a["feature_version"],
              "method": info_a["method"], "k": info_a["k"], "designs": len(a)},
        "b": {"version": version_b, "model": info_b["model"], "feature_version": info_b["feature_version"],
              "method": info_b["method"], "k": info_b["k"], "designs": len(b)},
        "common": len(common), "only_in_a": len(a) - len(common), "only_in_b": len(b) - len(common),
        "moved": len(common) - kept, "kept": kept,
        "moved_share": round((len(common) - kept) / len(common), 6) if common else 0.0,
        "nmi": round(float(normalized_mutual_info_score(la, lb)), 6) if same else None,
        "ari": round(float(adjusted_rand_score(la, lb)), 6) if same else None,
        "matching": pairs, "splits": _relabel(_spread(table, share, min_count), ids_a, ids_b, "into"), "merges": merges,
        "rule": {"share": share, "min_count": min_count},
    }

