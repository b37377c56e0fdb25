"""DBSCAN and agglomerative beside k-means on fashion-texture (pattern features of the real backbone): NMI, purity and
run time at the same number of groups; JSON on stdout (and to --out)."""

from __future__ import annotations

import argparse
import csv
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from quality import DEFAULT_CACHE, DEFAULT_DATASETS, features, load_set  # the sibling benchmark's cached extraction

from swatch.catalog.clusters import effective_clusters
from swatch.catalog.db import Catalog
from swatch.clustering.methods import LINKAGES, suggest_eps
from swatch.clustering.versions import ClusterError, ClusterRequest, list_versions, run_clustering
from swatch.config import Settings
from swatch.features.base import get_extractor
from swatch.testing.synthetic import add_synthetic_version

DATASET = DEFAULT_DATASETS / "fashion-texture"
TRUTH: dict[int, int] = {}  # catalogue id -> pattern_class index, filled in main()


def labels_of(settings: Settings, version: str) -> tuple[np.ndarray, np.ndarray]:
    """(cluster, pattern_class index) per design of a version."""
    clusters = effective_clusters(Catalog(settings.db_path), version)
    ids = sorted(clusters)
    return np.array([clusters[i] for i in ids]), np.array([TRUTH[i] for i in ids])


def scores(got: np.ndarray, truth: np.ndarray) -> dict[str, float | int]:
    """NMI and purity (each group's commonest label), the not grouped set (-1) counted as one group."""
    from sklearn.metrics import normalized_mutual_info_score

    groups = {c: i for i, c in enumerate(sorted(set(got.tolist())))}
    table = np.zeros((len(groups), int(truth.max()) + 1), dtype=np.int64)
    np.add.at(table, (np.array([groups[c] for c in got]), truth), 1)
    return {"designs": len(got), "nmi": round(float(normalized_mutual_info_score(truth, got)), 4),
            "purity": round(float(table.max(axis=1).sum() / max(1, len(got))), 4)}


def run(settings: Settings, req: ClusterRequest) -> dict[str, Any]:
    """One saved cluster version: its figures and agreement with the labels (grouped designs apart for DBSCAN)."""
    started = time.perf_counter()
    try:
        res = run_clustering(settings, req)
    except ClusterError as exc:
        return {"refused": str(exc), "seconds": round(time.perf_counter() - started, 2)}
    seconds = time.perf_counter() - started
    [row] = [v for v in list_versions(Catalog(settings.db_path)) if v["version"] == res["version"]]
    got, truth = labels_of(settings, res["version"])
    out: dict[str, Any] = {"k": res["k"], "seconds_total": round(seconds, 2),
                           "seconds_method": row["metrics"]["seconds"][req.method],
                           "silhouette": res["silhouette"], **scores(got, truth)}
    if req.method == "dbscan":
        keep = got >= 0
        out |= {"eps": res["eps"], "min_samples": req.min_samples, "not_grouped": res["not_grouped"],
                "grouped_only": scores(got[keep], truth[keep]) if keep.any() else None}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="pattern")
    parser.add_argument("--min-samples", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--out", type=Path, default=Path("/tmp/p5/cluster_methods.json"))
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="bench/quality.py's feature cache")
    args = parser.parse_args()
    report: dict[str, Any] = {"dataset": str(DATASET.name), "model": args.model, "cpus": os.cpu_count(),
                              "load_before": [round(x, 2) for x in os.getloadavg()]}
    if not (DATASET / "images").is_dir():
        report["skipped"] = f"{DATASET} not present"
        print(json.dumps(report))
        return
    with tempfile.TemporaryDirectory(prefix="swatch-bench-methods-") as tmp:
        data = load_set(DEFAULT_DATASETS, "fashion-texture")
        t0 = time.perf_counter()
        rows, extract_seconds = features(get_extractor(args.model), data, args.cache)
        with open(DATASET / "labels.csv", newline="", encoding="utf-8") as fh:
            classes_of = [row["pattern_class"] for row in csv.DictReader(fh)]
        names = sorted(set(classes_of))
        settings = Settings.from_env(data_dir=Path(tmp) / "data")
        ids = add_synthetic_version(settings, rows, model=args.model, designs=classes_of)
        TRUTH.update({i: names.index(c) for i, c in zip(ids, classes_of, strict=True)})
        classes = len(names)
        report |= {"designs": len(ids), "dim": int(rows.shape[1]), "label_classes": classes,
                   "features": f"{args.model} extractor (EfficientNet-Lite0 backbone), bench/quality.py's cache",
                   "extract_seconds": round(extract_seconds, 1) or "cached",
                   "load_seconds": round(time.perf_counter() - t0, 2)}
        x = rows
        t0 = time.perf_counter()
        suggested = suggest_eps(x, args.min_samples, seed=args.seed)
        report["eps_suggestion"] = {**suggested.to_dict(), "seconds": round(time.perf_counter() - t0, 3)}
        dbscan: dict[str, Any] = {}
        for factor in (0.8, 0.9, 1.0, 1.1, 1.25):
            eps = round(suggested.eps * factor, 6)
            dbscan[f"eps={eps} ({factor}x suggested)"] = run(settings, ClusterRequest(
                args.model, "v1", None, args.seed, method="dbscan", eps=eps, min_samples=args.min_samples))
        report["dbscan"] = dbscan
        made = [v for v in dbscan.values() if "k" in v]
        best = max(made, key=lambda v: v["nmi"]) if made else None
        ks = sorted({classes, *([best["k"]] if best else [])})
        report["same_k"] = {}
        for k in ks:
            entry = {"kmeans": run(settings, ClusterRequest(args.model, "v1", k, args.seed))}
            for linkage in LINKAGES:
                entry[f"agglomerative {linkage}"] = run(settings, ClusterRequest(
                    args.model, "v1", k, args.seed, method="agglomerative", linkage=linkage))
            report["same_k"][f"k={k}" + (" (= best dbscan's groups)" if best and k == best["k"] else "")
                                + (" (= label classes)" if k == classes else "")] = entry
    report["load_after"] = [round(x, 2) for x in os.getloadavg()]
    text = json.dumps(report, indent=1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
