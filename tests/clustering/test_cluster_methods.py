"""DBSCAN and agglomerative cluster versions on seeded blobs; not grouped designs; editing beside a version."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from helpers import cluster_fingerprint
from sklearn.metrics import normalized_mutual_info_score

from swatch.catalog.clusters import effective_clusters
from swatch.catalog.db import Catalog
from swatch.cli import main as swatch_main
from swatch.clustering import editing, methods
from swatch.clustering.compare import compare_versions
from swatch.clustering.export import export_csv
from swatch.clustering.moves import move_designs
from swatch.clustering.versions import ClusterError, ClusterRequest, list_versions, run_clustering, version_detail
from swatch.features.base import l2_normalise
from swatch.testing.synthetic import add_synthetic_version, blobs

OUTLIERS = 20


def _blobs_with_outliers(settings, n: int = 600, centres: int = 5) -> tuple[list[int], np.ndarray]:
    """Seeded blobs plus OUTLIERS random unit rows far from every blob (truth -1), as model 'synthetic'."""
    x, truth = blobs(n, 32, centres=centres, spread=0.3, seed=3)
    far = np.random.default_rng(9).standard_normal((OUTLIERS, 32)).astype(np.float32)
    rows = l2_normalise(np.vstack([x, far]))
    ids = add_synthetic_version(settings, rows)
    return ids, np.concatenate([truth, np.full(OUTLIERS, -1)])


def _labels(settings, version: str, ids: list[int]) -> np.ndarray:
    got = effective_clusters(Catalog(settings.db_path), version)
    return np.array([got[i] for i in ids])


def test_dbscan_recovers_the_blobs_and_leaves_the_outliers_not_grouped(settings):
    ids, truth = _blobs_with_outliers(settings)
    out = run_clustering(settings, ClusterRequest("synthetic", method="dbscan", min_samples=5))
    assert out["method"] == "dbscan" and out["k"] == 5 and out["not_grouped"] >= OUTLIERS
    labels = _labels(settings, out["version"], ids)
    assert normalized_mutual_info_score(truth, labels) > 0.95
    assert (labels[-OUTLIERS:] == methods.NOT_GROUPED).all()
    info = json.loads((settings.clusters_dir / out["version"] / "info.json").read_text())
    assert info["params"]["method"] == "dbscan" and info["params"]["min_samples"] == 5
    assert info["params"]["eps_suggested"]["eps"] == info["params"]["eps"] == out["eps"]  # from the k-distance knee
    assert sum(info["metrics"]["sizes"]) + info["metrics"]["not_grouped"] == len(ids)
    assert np.load(settings.clusters_dir / out["version"] / "centroids.npy").shape == (5, 32)
    [listed] = list_versions(Catalog(settings.db_path))
    assert listed["method"] == "dbscan" and listed["params"]["eps"] == out["eps"]
    detail = version_detail(Catalog(settings.db_path), out["version"], limit=1000)
    lone = detail["clusters"][0]
    assert lone["cluster"] == -1 and lone["not_grouped"] and lone["name"] == "not grouped"
    assert {m["id"] for m in lone["members"]} >= set(ids[-OUTLIERS:])
    rows = list(csv.reader(io.StringIO("".join(export_csv(Catalog(settings.db_path), out["version"])))))
    assert sum(r[2] == "not grouped" for r in rows[1:]) == out["not_grouped"] and rows[1][2] == "not grouped"


@pytest.mark.parametrize("linkage", ["ward", "average", "complete"])
def test_agglomerative_recovers_the_blobs(settings, linkage):
    x, truth = blobs(500, 32, centres=6, spread=0.3, seed=4)
    ids = add_synthetic_version(settings, x)
    out = run_clustering(settings, ClusterRequest("synthetic", k=6, method="agglomerative", linkage=linkage))
    assert out["method"] == "agglomerative" and out["k"] == 6 and out["not_grouped"] is None
    labels = _labels(settings, out["version"], ids)
    assert normalized_mutual_info_score(truth, labels) > 0.95 and labels.min() == 0
    info = json.loads((settings.clusters_dir / out["version"] / "info.json").read_text())
    assert info["params"]["linkage"] == linkage and info["params"]["fitted_on"] == 500


def test_agglomerative_above_its_sample_assigns_the_rest_to_the_nearest_cluster():
    x, truth = blobs(900, 32, centres=4, spread=0.3, seed=6)
    res = methods.agglomerative(l2_normalise(x), 4, "ward", sample=300)
    assert res.params["fitted_on"] == 300 and res.params["assigned_to_nearest_centroid"] == 600
    assert res.labels.min() == 0 and normalized_mutual_info_score(truth, res.labels) > 0.95


def test_methods_compare_with_kmeans_across_the_not_grouped_set(settings):
    ids, truth = _blobs_with_outliers(settings)
    km = run_clustering(settings, ClusterRequest("synthetic", k=5, seed=1))["version"]
    db = run_clustering(settings, ClusterRequest("synthetic", method="dbscan", eps=0.5, min_samples=5))["version"]
    ag = run_clustering(settings, ClusterRequest("synthetic", k=5, method="agglomerative"))["version"]
    catalog = Catalog(settings.db_path)
    c = compare_versions(catalog, km, db)
    assert c["a"]["method"] == "kmeans" and c["b"]["method"] == "dbscan" and c["common"] == len(ids)
    assert c["nmi"] > 0.9 and c["moved"] <= OUTLIERS + 2
    assert any(p["b"] == -1 for p in compare_versions(catalog, db, km)["matching"]) is False
    assert compare_versions(catalog, km, ag)["moved"] <= OUTLIERS


@pytest.mark.parametrize(("eps", "why"), [(0.01, "every design not grouped"), (1.9, "in one group")])
def test_dbscan_with_no_group_or_one_is_refused_and_saves_nothing(settings, eps, why):
    _blobs_with_outliers(settings)
    with pytest.raises(ClusterError, match=why):
        run_clustering(settings, ClusterRequest("synthetic", method="dbscan", eps=eps, min_samples=5))
    assert list_versions(Catalog(settings.db_path)) == []
    assert not settings.clusters_dir.exists() or not any(settings.clusters_dir.iterdir())


@pytest.mark.parametrize(("req", "message"), [
    (ClusterRequest("pattern", method="spectral"), "unknown method"),
    (ClusterRequest("pattern", method="dbscan", k=4), "not k"),
    (ClusterRequest("pattern", method="dbscan", eps=0.0), "eps must be"),
    (ClusterRequest("pattern", method="dbscan", eps=3.0), "eps must be"),
    (ClusterRequest("pattern", method="dbscan", min_samples=1), "min_samples"),
    (ClusterRequest("pattern", method="agglomerative"), "needs k"),
    (ClusterRequest("pattern", method="agglomerative", k=4, linkage="single"), "linkage"),
])
def test_bad_method_parameters_are_refused(settings, req, message):
    with pytest.raises(ClusterError, match=message):
        run_clustering(settings, req)
    assert list_versions(Catalog(settings.db_path)) == []


def test_dbscan_above_its_bound_is_refused(settings, monkeypatch):
    monkeypatch.setattr(methods, "MAX_DENSITY_ROWS", 10)
    with pytest.raises(ClusterError, match="dbscan takes at most 10"):
        run_clustering(settings, ClusterRequest("pattern", method="dbscan", eps=0.5))


def test_new_cluster_names_and_comments_leave_the_version_untouched(settings):
    version = run_clustering(settings, ClusterRequest("pattern", k=4, seed=2))["version"]
    before = cluster_fingerprint(settings, version)
    catalog = Catalog(settings.db_path)
    picked = sorted(effective_clusters(catalog, version))[:3]
    made = editing.new_cluster(catalog, version, picked, "Navy stripes", by="ana")
    assert made["cluster"] == 4 and made["moved"] == picked
    assert editing.new_cluster(catalog, version, picked[:1], "Second")["cluster"] == 5
    assert {i for i, c in effective_clusters(catalog, version).items() if c == 4} == set(picked[1:])
    renamed = editing.rename_cluster(catalog, version, 0, "Checks", by="ana")
    assert renamed["name"] == "Checks" and not renamed["added"]
    editing.rename_cluster(catalog, version, 4, "Navy stripes, tonal")
    detail = {c["cluster"]: c for c in version_detail(catalog, version)["clusters"]}
    assert detail[0]["name"] == "Checks" and detail[4]["name"] == "Navy stripes, tonal" and detail[4]["added"]
    assert detail[4]["kmeans_size"] is None and detail[4]["size"] == 2
    move_designs(catalog, version, picked[:1], 4)  # an added cluster takes moves like any other
    with pytest.raises(editing.NotFound):
        editing.rename_cluster(catalog, version, 9, "nope")
    with pytest.raises(ClusterError, match="name must be"):
        editing.rename_cluster(catalog, version, 1, "  ")
    with pytest.raises(ClusterError, match="not in cluster version"):
        editing.new_cluster(catalog, version, [10**9], "ghost")
    assert [c for c in version_detail(catalog, version)["clusters"] if c["cluster"] == 6] == []  # refused: no trace
    note = editing.add_comment(catalog, "cluster", version, "first try, k too small", "ana")
    model = editing.add_comment(catalog, "model", "pattern/v1", "the baseline", "ana")
    assert editing.edit_comment(catalog, note["id"], "k=4 merges plaids", "bo")["body"] == "k=4 merges plaids"
    assert [c["body"] for c in editing.comments(catalog, "cluster", version)] == ["k=4 merges plaids"]
    assert [c["id"] for c in editing.comments(catalog, "model")] == [model["id"]]
    with pytest.raises(editing.NotFound):
        editing.add_comment(catalog, "model", "pattern/v99", "x", None)
    with pytest.raises(editing.NotFound):
        editing.add_comment(catalog, "cluster", "v99", "x", None)
    editing.delete_comment(catalog, model["id"])
    assert editing.comments(catalog, "model") == []
    assert cluster_fingerprint(settings, version) == before


def test_cli_runs_each_method_and_suggests_eps(settings, monkeypatch, capsys):
    monkeypatch.setenv("SWATCH_DATA_DIR", str(settings.data_dir))
    _blobs_with_outliers(settings)
    assert swatch_main(["cluster", "--model", "synthetic", "--method", "dbscan", "--suggest-eps", "--quiet"]) == 0
    eps = float(capsys.readouterr().out.strip())
    assert 0.3 < eps < 0.6 and list_versions(Catalog(settings.db_path)) == []
    assert swatch_main(["cluster", "--model", "synthetic", "--method", "dbscan", "--eps", str(eps),
                        "--min-samples", "5", "--quiet"]) == 0
    assert capsys.readouterr().out.strip() == "v1"
    assert swatch_main(["cluster", "--model", "synthetic", "--method", "agglomerative", "--linkage", "average",
                        "--k", "5", "--quiet", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["method"] == "agglomerative"
    for bad in (["--method", "dbscan", "--eps", "0.001"], ["--method", "dbscan", "--k", "4"],
                ["--method", "agglomerative"], ["--method", "kmeans", "--suggest-eps"]):
        assert swatch_main(["cluster", "--model", "synthetic", "--quiet", *bad]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    assert [v["version"] for v in list_versions(Catalog(settings.db_path))] == ["v1", "v2"]
