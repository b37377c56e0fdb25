"""Cluster SQL: cluster versions, their immutable assignments, and the moves, added clusters and names beside them."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from swatch.catalog.changes import CLUSTERS, bump
from swatch.catalog.db import Catalog, Connection

#: a design's cluster as people see it: its latest hand move, else its k-means cluster
_EFFECTIVE_CLUSTER = """COALESCE((SELECT m.to_cluster FROM cluster_moves m
                 WHERE m.version = a.version AND m.image_id = a.image_id
                 ORDER BY m.id DESC LIMIT 1), a.cluster)"""

_EFFECTIVE = f"""
SELECT a.image_id, {_EFFECTIVE_CLUSTER} AS cluster
FROM cluster_assignments a
WHERE a.version = ?
"""

_TABLE = f"""
SELECT a.image_id, a.cluster, {_EFFECTIVE_CLUSTER} AS effective, a.distance
FROM cluster_assignments a
WHERE a.version = ?
ORDER BY a.image_id
"""

_VERSIONS = """
SELECT v.version, v.model, v.feature_version, v.k, v.params, v.metrics, v.created_at,
       (SELECT COUNT(*) FROM cluster_moves m WHERE m.version = v.version)
FROM cluster_versions v
"""

CHUNK = 500


@dataclass(frozen=True)
class ClusterVersionRow:
    """One row of cluster_versions, with its parameters and figures decoded and its count of hand moves."""

    version: str
    model: str
    feature_version: str
    k: int
    params: dict[str, Any]
    metrics: dict[str, Any]
    created_at: str
    moves: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of a cluster version (a fresh dict each call; metrics is a copy)."""
        return {"version": self.version, "model": self.model, "feature_version": self.feature_version,
                "method": str(self.params.get("method", "kmeans")),
                "k": self.k, "params": dict(self.params), "metrics": dict(self.metrics),
                "created_at": self.created_at, "moves": self.moves}


@dataclass(frozen=True)
class ClusterName:
    """A cluster's name in a version, and whether the cluster was added by hand (from a selection of designs)."""

    version: str
    cluster: int
    name: str | None
    added: bool
    updated_by: str | None
    updated_at: str

    def to_dict(self) -> dict[str, Any]:
        return {"cluster": self.cluster, "name": self.name, "added": self.added, "updated_by": self.updated_by,
                "updated_at": self.updated_at}


class Assignment(NamedTuple):
    """A design's k-means cluster in a version, its effective cluster (moves applied), squared distance."""

    image_id: int
    cluster: int
    effective: int
    distance: float


@dataclass(frozen=True)
class Move:
    """One hand move of a design between clusters of a version (id is None before it is stored)."""

    version: str
    image_id: int
    from_cluster: int
    to_cluster: int
    moved_by: str | None
    moved_at: str
    id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of a move in a version's history."""
        return {"id": self.id, "image_id": self.image_id, "from": self.from_cluster, "to": self.to_cluster,
                "moved_by": self.moved_by, "moved_at": self.moved_at}


def _version_row(r: Sequence[Any]) -> ClusterVersionRow:
    version, model, feature_version, k, params, metrics, created, moves = r
    return ClusterVersionRow(version, model, feature_version, int(k), json.loads(params), json.loads(metrics),
                             created, int(moves))


def cluster_version_exists(catalog: Catalog, version: str) -> bool:
    return catalog.connect().execute(
        "SELECT 1 FROM cluster_versions WHERE version = ?", (version,)
    ).fetchone() is not None


def version_names(conn: sqlite3.Connection) -> list[str]:
    """Every cluster version name in the catalogue (read inside the saving transaction to allocate the next)."""
    return [str(v) for (v,) in conn.execute("SELECT version FROM cluster_versions")]


def version_rows(catalog: Catalog, model: str | None = None) -> list[ClusterVersionRow]:
    """Cluster versions (of one model when given), in catalogue order."""
    sql, args = (_VERSIONS + " WHERE v.model = ?", (model,)) if model else (_VERSIONS, ())
    return [_version_row(r) for r in catalog.connect().execute(sql, args)]


def version_row(catalog: Catalog, version: str) -> ClusterVersionRow | None:
    """One cluster version, or None when the catalogue has no such version."""
    r = catalog.connect().execute(_VERSIONS + " WHERE v.version = ?", (version,)).fetchone()
    return None if r is None else _version_row(r)


def insert_version(
    tx: sqlite3.Connection, row: ClusterVersionRow, ids: Sequence[int], labels: Sequence[int],
    distances: Sequence[float],
) -> None:
    """Register a cluster version and its k-means assignment (one row per design), inside `tx`."""
    tx.execute(
        "INSERT INTO cluster_versions(version, model, feature_version, k, params, metrics, created_at)"
        " VALUES (?,?,?,?,?,?,?)",
        (row.version, row.model, row.feature_version, row.k, json.dumps(row.params, sort_keys=True),
         json.dumps(row.metrics, sort_keys=True), row.created_at),
    )
    tx.executemany(
        "INSERT INTO cluster_assignments(version, image_id, cluster, distance) VALUES (?,?,?,?)",
        zip([row.version] * len(ids), ids, labels, distances, strict=True),
    )
    bump(tx, CLUSTERS)


def effective_clusters(catalog: Catalog, version: str) -> dict[int, int]:
    """image id -> cluster for a cluster version, hand moves (the override layer) applied."""
    return {int(i): int(c) for i, c in catalog.connect().execute(_EFFECTIVE, (version,))}


def members(catalog: Catalog, version: str, clusters: Iterable[int]) -> set[int]:
    """Image ids whose effective cluster in `version` is one of `clusters`."""
    wanted = {int(c) for c in clusters}
    return {i for i, c in effective_clusters(catalog, version).items() if c in wanted}


def assignment_table(catalog: Catalog, version: str) -> list[Assignment]:
    """Every design of a version: k-means cluster, effective cluster, squared distance to its k-means centroid."""
    return [Assignment(int(i), int(c), int(e), float(d) if d is not None else float("nan"))
            for i, c, e, d in catalog.connect().execute(_TABLE, (version,))]


def current_clusters(tx: sqlite3.Connection, version: str, ids: Sequence[int]) -> dict[int, int]:
    """image id -> effective cluster for those of `ids` that belong to `version` (read inside `tx`)."""
    out: dict[int, int] = {}
    for start in range(0, len(ids), CHUNK):
        chunk = list(ids[start : start + CHUNK])
        marks = ",".join("?" * len(chunk))
        sql = _EFFECTIVE + f" AND a.image_id IN ({marks})"
        out.update((int(i), int(c)) for i, c in tx.execute(sql, (version, *chunk)))
    return out


def insert_moves(tx: sqlite3.Connection, moves: Iterable[Move]) -> None:
    """Record hand moves inside `tx` (the k-means assignment itself never changes)."""
    tx.executemany(
        "INSERT INTO cluster_moves(version, image_id, from_cluster, to_cluster, moved_by, moved_at)"
        " VALUES (?,?,?,?,?,?)",
        [(m.version, m.image_id, m.from_cluster, m.to_cluster, m.moved_by, m.moved_at) for m in moves],
    )
    bump(tx, CLUSTERS)


def move_history(catalog: Catalog, version: str, limit: int = 100) -> list[Move]:
    """The latest hand moves of a version, newest first."""
    rows = catalog.connect().execute(
        "SELECT id, image_id, from_cluster, to_cluster, moved_by, moved_at FROM cluster_moves WHERE version = ?"
        " ORDER BY id DESC LIMIT ?", (version, limit),
    )
    return [Move(version, int(r[1]), int(r[2]), int(r[3]), r[4], r[5], int(r[0])) for r in rows]


def design_codes(catalog: Catalog, ids: Sequence[int]) -> dict[int, str | None]:
    """Design code per image id (only ids with metadata appear), for naming cluster representatives."""
    out: dict[int, str | None] = {}
    conn = catalog.connect()
    for start in range(0, len(ids), CHUNK):
        chunk = list(ids[start : start + CHUNK])
        marks = ",".join("?" * len(chunk))
        out.update(conn.execute(f"SELECT image_id, design FROM metadata WHERE image_id IN ({marks})", chunk))
    return out


def moves_stamp(conn: sqlite3.Connection, version: str) -> tuple[Any, ...]:
    """What changes whenever a version's effective clusters can: (moves, latest move id, created_at)."""
    return tuple(conn.execute(
        "SELECT (SELECT COUNT(*) FROM cluster_moves WHERE version = ?),"
        " (SELECT COALESCE(MAX(id), 0) FROM cluster_moves WHERE version = ?),"
        " (SELECT created_at FROM cluster_versions WHERE version = ?)",
        (version, version, version),
    ).fetchone())


def version_summaries(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Every cluster version's name, model, feature version, k and creation time, oldest first (for facets)."""
    rows = conn.execute(
        "SELECT version, model, feature_version, k, created_at FROM cluster_versions ORDER BY created_at"
    ).fetchall()
    return [{"version": v, "model": m, "feature_version": f, "k": int(k), "created_at": c}
            for v, m, f, k, c in rows]


def cluster_names(catalog: Catalog | Connection, version: str) -> dict[int, ClusterName]:
    """cluster -> its name row (named or added clusters only) in a version."""
    conn = catalog.connect() if isinstance(catalog, Catalog) else catalog
    rows = conn.execute(
        "SELECT cluster, name, added, updated_by, updated_at FROM cluster_names WHERE version = ? ORDER BY cluster",
        (version,),
    )
    return {int(c): ClusterName(version, int(c), n, bool(a), b, t) for c, n, a, b, t in rows}


def added_clusters(catalog: Catalog | Connection, version: str) -> list[int]:
    """The clusters added by hand to a version, in order."""
    return [c for c, row in cluster_names(catalog, version).items() if row.added]


def insert_added_cluster(tx: Connection, row: ClusterName) -> None:
    """Register a cluster added by hand to a version (inside `tx`, with the moves that fill it)."""
    tx.execute(
        "INSERT INTO cluster_names(version, cluster, name, added, updated_by, updated_at) VALUES (?,?,?,?,?,?)",
        (row.version, row.cluster, row.name, 1, row.updated_by, row.updated_at),
    )


def set_cluster_name(tx: Connection, row: ClusterName) -> None:
    """Name (or rename) a cluster of a version; an added cluster stays marked as added."""
    tx.execute(
        "INSERT INTO cluster_names(version, cluster, name, added, updated_by, updated_at) VALUES (?,?,?,0,?,?)"
        " ON CONFLICT(version, cluster) DO UPDATE SET name = excluded.name, updated_by = excluded.updated_by,"
        " updated_at = excluded.updated_at",
        (row.version, row.cluster, row.name, row.updated_by, row.updated_at),
    )
