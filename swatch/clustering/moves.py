"""Hand moves: the override layer over an immutable k-means result (rows in cluster_moves, never edits)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from swatch.catalog import clusters as clusters_sql
from swatch.catalog.clusters import Move, current_clusters, insert_moves
from swatch.catalog.db import Catalog, now_iso
from swatch.clustering.versions import ClusterError, cluster_ids, id_range, version_info

MAX_MOVE = 10_000


def design_ids(catalog: Catalog, refs: Sequence[object]) -> list[int]:
    """Catalogue ids from ids or file names/paths; ClusterError naming the first unknown ones."""
    out: list[int] = []
    unknown: list[str] = []
    for ref in refs:
        if isinstance(ref, bool):
            unknown.append(repr(ref))
        elif isinstance(ref, int):
            out.append(ref)
        elif isinstance(ref, str) and ref.strip():
            img = catalog.find_image(ref.strip())
            if img is None:
                unknown.append(repr(ref))
            else:
                out.append(img.id)
        else:
            unknown.append(repr(ref))
    if unknown:
        raise ClusterError(f"unknown design(s): {', '.join(unknown[:5])}" + (" ..." if len(unknown) > 5 else ""))
    return list(dict.fromkeys(out))


def move_designs(
    catalog: Catalog, version: str, refs: Sequence[object], to: object, moved_by: str | None = None
) -> dict[str, Any]:
    """Move designs (ids or file names) of a cluster version into cluster `to`, recorded with time and who.

    All or nothing, in one transaction: every design must belong to the version and `to` must be one of its
    clusters. Designs already in `to` are left alone. The k-means assignment itself never changes.
    """
    info = version_info(catalog, version)
    known = cluster_ids(catalog, info)
    if isinstance(to, bool) or not isinstance(to, int) or to not in known:
        raise ClusterError(f"'to' must be a cluster of {version} ({id_range(known)}), got {str(to)[:40]!r}")
    if not isinstance(refs, list | tuple) or not refs:
        raise ClusterError("'ids' must be a non-empty list of design ids or file names")
    if len(refs) > MAX_MOVE:
        raise ClusterError(f"at most {MAX_MOVE} designs per move")
    ids = design_ids(catalog, refs)
    moved: list[int] = []
    stamp = now_iso()
    with catalog.transaction() as tx:
        current = current_clusters(tx, version, ids)
        missing = [i for i in ids if i not in current]
        if missing:
            raise ClusterError(f"design(s) not in cluster version {version}: {', '.join(map(str, missing[:5]))}"
                               + (" ..." if len(missing) > 5 else ""))
        moved = [i for i in ids if current[i] != to]
        insert_moves(tx, [Move(version, i, current[i], to, moved_by, stamp) for i in moved])
    done = set(moved)
    return {"version": version, "to": to, "moved": moved, "unchanged": [i for i in ids if i not in done],
            "moved_by": moved_by, "moved_at": stamp}


def move_history(catalog: Catalog, version: str, limit: int = 100) -> list[dict[str, Any]]:
    """The latest hand moves of a version, newest first."""
    version_info(catalog, version)
    return [m.to_dict() for m in clusters_sql.move_history(catalog, version, limit)]
