"""swatch.catalog.clusters: typed rows of cluster versions, assignments and moves; saving heals crash leftovers."""

from __future__ import annotations

import json
import math

from swatch.catalog import clusters as sql
from swatch.catalog.db import Catalog
from swatch.clustering.moves import move_designs, move_history
from swatch.clustering.versions import ClusterRequest, list_versions, run_clustering, version_info


def test_a_save_heals_leftovers_and_the_rows_are_typed(settings) -> None:
    root = settings.clusters_dir
    (root / ".tmp-dead-writer").mkdir(parents=True)  # a run killed while writing
    (root / "v1").mkdir()  # a run killed after its rename, before its commit: not a version
    (root / "v1" / "centroids.npy").write_bytes(b"partial")
    out = run_clustering(settings, ClusterRequest("pattern", k=4, seed=2))
    assert out["version"] == "v1"
    assert not list(root.glob(".tmp-*"))
    assert len(list(root.glob(".orphan-v1-*"))) == 1
    info = json.loads((root / "v1" / "info.json").read_text())
    assert info["version"] == "v1" and info["k"] == 4

    catalog = Catalog(settings.database)
    [row] = sql.version_rows(catalog)
    assert isinstance(row, sql.ClusterVersionRow) and row.k == 4 and row.moves == 0
    assert sql.version_row(catalog, "v1") == row and sql.version_row(catalog, "v9") is None
    assert row.to_dict()["metrics"]["sizes"] == info["metrics"]["sizes"]
    assert version_info(catalog, "v1") == row.to_dict()
    assert "clusters" not in list_versions(catalog)[0]["metrics"]

    table = sql.assignment_table(catalog, "v1")
    assert len(table) == 36 and all(isinstance(a, sql.Assignment) for a in table)
    first = table[0]
    assert first.cluster == first.effective and not math.isnan(first.distance)
    to = (first.cluster + 1) % 4
    move_designs(catalog, "v1", [first.image_id], to, moved_by="tester")
    assert sql.effective_clusters(catalog, "v1")[first.image_id] == to
    assert sql.assignment_table(catalog, "v1")[0].effective == to
    [move] = sql.move_history(catalog, "v1")
    assert (move.image_id, move.from_cluster, move.to_cluster, move.moved_by) == (first.image_id, first.cluster, to,
                                                                                "tester")
    assert move_history(catalog, "v1") == [move.to_dict()]
    assert set(move.to_dict()) == {"id", "image_id", "from", "to", "moved_by", "moved_at"}
    moved = sql.version_row(catalog, "v1")
    assert moved is not None and moved.moves == 1
