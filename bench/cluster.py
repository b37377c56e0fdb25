"""Clustering benchmark: fashion-texture (time, the k that --k auto picks, NMI/purity); 200,000 vectors into k=100."""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from swatch.catalog.clusters import effective_clusters
from swatch.catalog.db import Catalog
from swatch.clustering import kmeans as km
from swatch.clustering.versions import ClusterRequest, run_clustering
from swatch.config import Settings
from swatch.features.store import FeatureStore
from swatch.testing.synthetic import add_synthetic_version, blobs

ROOT = Path(__file__).resolve().parent.parent

DATASET = ROOT.parent / "shared" / "datasets" / "fashion-texture"
CACHE = Path(os.environ.get("SWATCH_BENCH_FT_DATA", "/tmp/swatch-cache/fashion-texture"))


def ingested_copy(work: Path) -> Settings:
    """A private data dir holding the ingested fashion-texture catalogue (ingested into CACHE once, then reused)."""
    cache = Settings.from_env(data_dir=CACHE)
    if not FeatureStore(cache.features_dir).exists("pattern", "v1"):
        from swatch.ingest import ingest

        ingest(DATASET / "images", cache, models=["color", "pattern"], progress=True)
    dest = work / "fashion-texture"
    dest.mkdir()
    Catalog(cache.db_path).backup(dest / "catalog.db")  # through SQLite, never a copy of the file
    shutil.copytree(cache.features_dir, dest / "image_features", symlinks=True)
    return Settings.from_env(data_dir=dest)


def agreement(settings: Settings, version: str) -> dict[str, float]:
    """NMI and purity of a cluster version against labels.csv pattern_class."""
    from sklearn.metrics import normalized_mutual_info_score

    with open(DATASET / "labels.csv", newline="", encoding="utf-8") as fh:
        label_of = {row["file"].removeprefix("images/"): row["pattern_class"] for row in csv.DictReader(fh)}
    catalog = Catalog(settings.db_path)
    clusters = effective_clusters(catalog, version)
    paths = {i: img.path for i, img in catalog.images_by_ids(sorted(clusters)).items()}
    pairs = [(clusters[i], label_of[paths[i]]) for i in sorted(clusters) if paths.get(i) in label_of]
    got = np.array([c for c, _ in pairs])
    names = sorted({lab for _, lab in pairs})
    truth = np.array([names.index(lab) for _, lab in pairs])
    table = np.zeros((int(got.max()) + 1, len(names)), dtype=np.int64)
    np.add.at(table, (got, truth), 1)
    return {"designs": len(pairs), "nmi": round(float(normalized_mutual_info_score(truth, got)), 4),
            "purity": round(float(table.max(axis=1).sum() / len(pairs)), 4)}


def fashion_texture(work: Path, seed: int) -> dict[str, object]:
    settings = ingested_copy(work)
    out: dict[str, object] = {}
    for model in ("pattern", "color+pattern"):
        for k in (None, 11):
            started = time.perf_counter()
            res = run_clustering(settings, ClusterRequest(model, k=k, seed=seed))
            seconds = time.perf_counter() - started
            entry: dict[str, object] = {"seconds": round(seconds, 2), "k": res["k"], "silhouette": res["silhouette"],
                                        **agreement(settings, res["version"])}
            if k is None:
                auto = res["k_auto"]
                entry["k_auto"] = {"range": auto["k_range"], "sample": auto["sample"], "seconds": auto["seconds"],
                                   "top5": sorted(auto["scores"].items(), key=lambda kv: -(kv[1] or -9))[:5]}
            out[f"{model} k={'auto' if k is None else k}"] = entry
    return out


def synthetic(work: Path, n: int, dim: int, k: int, niter: int, nredo: int, seed: int, full: bool) -> dict[str, object]:
    """k-means of n synthetic vectors (k blobs): the core alone, and the whole saved-version path."""
    x, truth = blobs(n, dim, centres=k, spread=0.8, seed=seed)
    out: dict[str, object] = {"n": n, "dim": dim, "k": k, "niter": niter, "nredo": nredo,
                              "max_points_per_centroid": km.MAX_POINTS_PER_CENTROID, "gpu": km.use_gpu()}
    res = km.kmeans(x, k, seed=seed, niter=niter, nredo=nredo)
    from sklearn.metrics import normalized_mutual_info_score

    out["core_seconds"] = round(res.seconds, 2)
    out["trained_on"] = res.params["trained_on"]
    out["nmi_vs_blobs"] = round(float(normalized_mutual_info_score(truth, res.labels)), 4)
    if full:
        settings = Settings.from_env(data_dir=work / "synthetic")
        Catalog(settings.db_path)
        t0 = time.perf_counter()
        add_synthetic_version(settings, x)
        out["setup_seconds"] = round(time.perf_counter() - t0, 2)
        del x
        t0 = time.perf_counter()
        summary = run_clustering(settings, ClusterRequest("synthetic", k=k, seed=seed, niter=niter, nredo=nredo))
        out["full_seconds"] = round(time.perf_counter() - t0, 2)
        out["full_silhouette"] = summary["silhouette"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--niter", type=int, default=20)
    parser.add_argument("--nredo", type=int, default=km.NREDO)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--skip-dataset", action="store_true")
    parser.add_argument("--core-only", action="store_true", help="synthetic: time k-means only, not the saved version")
    args = parser.parse_args()
    import faiss

    report: dict[str, object] = {"machine": {"cpus": os.cpu_count(), "faiss_threads": faiss.omp_get_max_threads(),
                                             "loadavg_start": [round(v, 2) for v in os.getloadavg()]}}
    with tempfile.TemporaryDirectory(prefix="swatch-bench-cluster-") as tmp:
        work = Path(tmp)
        if not args.skip_dataset:
            if (DATASET / "labels.csv").is_file():
                report["fashion_texture"] = fashion_texture(work, args.seed)
            else:
                report["fashion_texture"] = f"skipped: {DATASET} not present"
        dim = 1712
        if FeatureStore(CACHE / "image_features").exists("pattern", "v1"):
            dim = int(FeatureStore(CACHE / "image_features").load("pattern", "v1").features.shape[1])
        report["synthetic"] = synthetic(work, args.n, dim, args.k, args.niter, args.nredo, args.seed,
                                        not args.core_only)
    report["machine"]["loadavg_end"] = [round(v, 2) for v in os.getloadavg()]  # type: ignore[index]
    report["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
