"""Cluster versions: real faiss k-means on real feature versions, immutable versions, moves, comparison, export."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from helpers import cluster_fingerprint

from swatch.catalog.clusters import effective_clusters, members
from swatch.catalog.db import Catalog
from swatch.cli import main as swatch_main
from swatch.clustering.compare import compare_versions
from swatch.clustering.export import export_csv, safe_cell
from swatch.clustering.kmeans import nearest_rows, representatives
from swatch.clustering.moves import move_designs
from swatch.clustering.versions import (
    ClusterError,
    ClusterRequest,
    list_versions,
    run_clustering,
    version_detail,
)
from swatch.features.base import l2_normalise
from swatch.testing.synthetic import add_synthetic_version, blobs


def test_a_run_saves_a_complete_version(settings):
    out = run_clustering(settings, ClusterRequest("pattern", k=12, seed=1))
    assert out["version"] == "v1" and out["k"] == 12 and out["feature_version"] == "v1"
    catalog = Catalog(settings.db_path)
    n = catalog.count_images()
    assert out["designs"] == n == 36
    labels = effective_clusters(catalog, "v1")
    assert len(labels) == n and set(labels.values()) <= set(range(12))
    info = json.loads((settings.clusters_dir / "v1" / "info.json").read_text())
    centroids = np.load(settings.clusters_dir / "v1" / "centroids.npy")
    assert centroids.shape == (12, info["params"]["feature"]["dim"])
    [listed] = list_versions(catalog)
    assert listed["metrics"]["sizes"] == info["metrics"]["sizes"] and sum(listed["metrics"]["sizes"]) == n
    assert listed["metrics"]["inertia"] > 0 and -1 <= listed["metrics"]["silhouette"] <= 1
    # representatives: members of their cluster, nearest the centroid first, one per design
    rows = catalog.images_by_ids(list(labels))
    for entry in info["metrics"]["clusters"]:
        reps = entry["representatives"]
        assert reps and all(labels[i] == entry["cluster"] for i in reps)
        assert len({rows[i].design for i in reps}) == len(reps)
    # the pattern model ignores colourway: colourways of one design share a cluster far more often than chance
    pairs = [(a, b) for a in rows.values() for b in rows.values() if a.id < b.id and a.design == b.design]
    together = sum(labels[a.id] == labels[b.id] for a, b in pairs) / len(pairs)
    chance = sum((s / n) ** 2 for s in listed["metrics"]["sizes"])
    assert together >= 0.5 and together > 4 * chance, (together, chance)
    assert not list(settings.clusters_dir.glob(".tmp-*"))


def test_representatives_are_nearest_first_one_per_design():
    labels = np.array([0, 0, 0, 1, 1, 0])
    dist = np.array([0.3, 0.1, 0.2, 0.5, 0.4, 0.1], dtype=np.float32)
    nearest = nearest_rows(labels, dist, 3, per_cluster=3)
    assert [list(r) for r in nearest] == [[1, 5, 2], [4, 3], []]
    designs = {1: "A", 5: "A", 2: "B", 3: None, 4: None}
    assert representatives(nearest, designs, per_cluster=5) == [[1, 2], [4, 3], []]
    assert representatives(nearest, designs, per_cluster=1) == [[1], [4], []]

def test_older_versions_stay_byte_identical_after_new_runs_and_moves(settings):
    first = run_clustering(settings, ClusterRequest("pattern", k=6, seed=3))["version"]
    before = cluster_fingerprint(settings, first)
    second = run_clustering(settings, ClusterRequest("color", k=4))["version"]
    third = run_clustering(settings, ClusterRequest("pattern", k=6, seed=3))["version"]
    assert (first, second, third) == ("v1", "v2", "v3")
    catalog = Catalog(settings.db_path)
    labels = effective_clusters(catalog, first)
    some = sorted(labels)[:4]
    target = (labels[some[0]] + 1) % 6
    result = move_designs(catalog, first, some, target, moved_by="merchandiser")
    assert set(result["moved"]) | set(result["unchanged"]) == set(some)
    move_designs(catalog, second, some[:2], 1)
    # the moves show in what people see, and in the search filter ...
    assert all(effective_clusters(catalog, first)[i] == target for i in some)
    assert set(some) <= members(catalog, first, [target])
    # ... while the k-means result of every older version is untouched, row for row and byte for byte
    assert cluster_fingerprint(settings, first) == before
    moved = catalog.connect().execute(
        "SELECT image_id, from_cluster, to_cluster, moved_by, moved_at FROM cluster_moves WHERE version = ?"
        " ORDER BY id", (first,)).fetchall()
    assert [m[0] for m in moved] == result["moved"]
    assert all(m[1] == labels[m[0]] and m[2] == target and m[3] == "merchandiser" and m[4] for m in moved)
    # the same data, seed and k give the same clustering: comparing sees exactly the hand moves of v1
    cmp = compare_versions(catalog, third, first)
    assert cmp["common"] == 36 and cmp["moved"] == len(result["moved"]) >= 1

def test_bad_requests_are_refused_and_save_nothing(settings):
    bad = [
        ClusterRequest("texture", k=4), ClusterRequest("pattern", "v9", k=4), ClusterRequest("pattern", "x1", k=4),
        ClusterRequest("pattern", k=1), ClusterRequest("pattern", k=37), ClusterRequest("pattern", k=4, niter=0),
        ClusterRequest("pattern", k=4, seed=-1),
    ]
    for req in bad:
        with pytest.raises(ClusterError):
            run_clustering(settings, req)
    assert list_versions(Catalog(settings.db_path)) == []
    assert not settings.clusters_dir.exists() or not any(settings.clusters_dir.iterdir())


def test_cancel_before_saving_leaves_no_trace(settings):
    class Stop(Exception):
        pass

    def progress(fraction: float, message: str) -> None:
        if fraction >= 0.9:
            raise Stop

    with pytest.raises(Stop):
        run_clustering(settings, ClusterRequest("pattern", k=5), progress=progress)
    assert list_versions(Catalog(settings.db_path)) == []
    assert not settings.clusters_dir.exists() or not any(settings.clusters_dir.iterdir())


def test_k_auto_finds_the_number_of_blobs_and_records_why(settings):
    x, truth = blobs(1500, 48, centres=7, spread=0.3, seed=5)
    add_synthetic_version(settings, x)
    out = run_clustering(settings, ClusterRequest("synthetic", k=None, seed=2))
    assert out["k"] == 7
    info = json.loads((settings.clusters_dir / out["version"] / "info.json").read_text())
    why = info["metrics"]["k_auto"]
    scores = {int(k): s for k, s in why["scores"].items()}
    assert min(scores) == 4 and max(scores) == 40 and why["chosen"] == 7
    assert max(scores, key=lambda k: scores[k]) == 7 and why["criterion"].startswith("silhouette")
    from sklearn.metrics import normalized_mutual_info_score

    labels = effective_clusters(Catalog(settings.db_path), out["version"])
    ids = sorted(labels)
    assert normalized_mutual_info_score(truth, [labels[i] for i in ids]) > 0.99


def test_compare_finds_splits_merges_and_moves(settings):
    rng = np.random.default_rng(0)
    groups = l2_normalise(rng.standard_normal((3, 32)).astype(np.float32))
    # six tight blobs, in three pairs that sit close together
    centres = np.repeat(groups, 2, axis=0) + 0.25 * l2_normalise(rng.standard_normal((6, 32)).astype(np.float32))
    truth = np.arange(600) % 6
    x = centres[truth] + 0.01 * rng.standard_normal((600, 32)).astype(np.float32)
    add_synthetic_version(settings, x)
    three = run_clustering(settings, ClusterRequest("synthetic", k=3))["version"]
    six = run_clustering(settings, ClusterRequest("synthetic", k=6))["version"]
    catalog = Catalog(settings.db_path)
    split = compare_versions(catalog, three, six)
    assert split["common"] == 600 and split["moved"] == 300 and split["nmi"] > 0.7
    assert len(split["splits"]) == 3 and all(len(s["into"]) == 2 for s in split["splits"])
    assert split["merges"] == []
    merged = compare_versions(catalog, six, three)
    assert len(merged["merges"]) == 3 and merged["splits"] == [] and merged["moved"] == 300
    same = compare_versions(catalog, six, six)
    assert same["moved"] == 0 and same["splits"] == same["merges"] == [] and same["ari"] == 1.0
    with pytest.raises(ClusterError):
        compare_versions(catalog, six, "v99")


def test_moves_are_validated_all_or_nothing(settings):
    version = run_clustering(settings, ClusterRequest("pattern", k=4))["version"]
    catalog = Catalog(settings.db_path)
    some = sorted(effective_clusters(catalog, version))[:2]
    name = catalog.image(some[0]).path
    for refs, to in [(some, 4), (some, -1), (some, "1"), (some + [999_999], 1), ([], 1), ("12", 1),
                     ([name, "missing.jpg"], 1), ([True], 1)]:
        with pytest.raises(ClusterError):
            move_designs(catalog, version, refs, to)
    with pytest.raises(ClusterError):
        move_designs(catalog, "v9", some, 1)
    assert catalog.connect().execute("SELECT COUNT(*) FROM cluster_moves").fetchone()[0] == 0
    # file names work too, and a design already in the target cluster is left alone
    current = effective_clusters(catalog, version)[some[0]]
    out = move_designs(catalog, version, [name], current)
    assert out["moved"] == [] and out["unchanged"] == [some[0]]
    detail = version_detail(catalog, version)
    assert sum(c["size"] for c in detail["clusters"]) == 36 and detail["removed"] == 0


def test_export_is_csv_safe_against_formulas(settings):
    version = run_clustering(settings, ClusterRequest("pattern", k=3))["version"]
    catalog = Catalog(settings.db_path)
    first = sorted(effective_clusters(catalog, version))[0]
    with catalog.transaction() as tx:
        tx.execute("UPDATE metadata SET design = ? WHERE image_id = ?", ('=HYPERLINK("http://x","y")', first))
    move_designs(catalog, version, [first], (effective_clusters(catalog, version)[first] + 1) % 3)
    text = "".join(export_csv(catalog, version))
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["file_name", "design", "cluster"] and len(rows) == 37
    by_name = {r[0]: r for r in rows[1:]}
    img = catalog.image(first)
    assert by_name[img.filename][1] == "'" + '=HYPERLINK("http://x","y")'
    assert int(by_name[img.filename][2]) == effective_clusters(catalog, version)[first]
    assert all(not r[1].startswith(("=", "+", "-", "@")) for r in rows)
    assert [safe_cell(v) for v in ("-1", "@x", "\tx", "KM1", None, 3)] == ["'-1", "'@x", "'\tx", "KM1", "", "3"]


def test_cli_prints_the_new_version_and_refuses_bad_input(settings, monkeypatch, capsys):
    monkeypatch.setenv("SWATCH_DATA_DIR", str(settings.data_dir))
    assert swatch_main(["cluster", "--model", "pattern", "--k", "5", "--quiet"]) == 0
    assert capsys.readouterr().out.strip() == "v1"

    for argv in (["--model", "pattern", "--k", "99"], ["--model", "nope"], ["--model", "pattern", "--k", "two"],
                 ["--model", "pattern", "--version", "v4"], ["--model", "pattern", "--k", "4", "--niter", "0"]):
        assert swatch_main(["cluster", *argv]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1
    assert [v["version"] for v in list_versions(Catalog(settings.db_path))] == ["v1"]
