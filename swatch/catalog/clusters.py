"""Reading cluster membership: the k-means assignment of a cluster version with its hand moves applied."""

from __future__ import annotations

from collections.abc import Iterable

from swatch.catalog.db import Catalog

_EFFECTIVE = """
SELECT a.image_id,
       COALESCE((SELECT m.to_cluster FROM cluster_moves m
                 WHERE m.version = a.version AND m.image_id = a.image_id
                 ORDER BY m.id DESC LIMIT 1), a.cluster) AS cluster
FROM cluster_assignments a
WHERE a.version = ?
"""


def cluster_version_exists(catalog: Catalog, version: str) -> bool:
    return catalog.connect().execute(
        "SELECT 1 FROM cluster_versions WHERE version = ?", (version,)
    ).fetchone() is not None


def effective_clusters(catalog: Catalog, version: str) -> dict[int, int]:
    """image id -> cluster for a cluster version, hand moves (the override layer) applied."""
    return {int(i): int(c) for i, c in catalog.connect().execute(_EFFECTIVE, (version,))}


def members(catalog: Catalog, version: str, clusters: Iterable[int]) -> set[int]:
    """Image ids whose effective cluster in `version` is one of `clusters`."""
    wanted = {int(c) for c in clusters}
    return {i for i, c in effective_clusters(catalog, version).items() if c in wanted}


_TABLE = """
SELECT a.image_id, a.cluster,
       COALESCE((SELECT m.to_cluster FROM cluster_moves m
                 WHERE m.version = a.version AND m.image_id = a.image_id
                 ORDER BY m.id DESC LIMIT 1), a.cluster) AS effective,
       a.distance
FROM cluster_assignments a
WHERE a.version = ?
ORDER BY a.image_id
"""


def assignment_table(catalog: Catalog, version: str) -> list[tuple[int, int, int, float]]:
    """(image id, k-means cluster, effective cluster, squared distance to its k-means centroid) for a version."""
    return [(int(i), int(c), int(e), float(d) if d is not None else float("nan"))
            for i, c, e, d in catalog.connect().execute(_TABLE, (version,))]
