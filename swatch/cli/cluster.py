"""`swatch cluster` (auto_cluster.py): cluster a feature version (k-means, DBSCAN, agglomerative), print the new
version."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from swatch.cli import CliError
from swatch.config import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from swatch.clustering.kmeans import NREDO
    from swatch.clustering.methods import AGGLOMERATIVE_SAMPLE, LINKAGES, MAX_DENSITY_ROWS

    parser.description = (
        "Group a model's feature version into clusters (faiss k-means, DBSCAN or agglomerative) and save a new "
        "cluster version. Older versions are never changed."
    )
    parser.add_argument("--method", default="kmeans", choices=["kmeans", "dbscan", "agglomerative"],
                        help=f"kmeans (default); dbscan: density groups and a 'not grouped' set (cluster -1), at "
                             f"most {MAX_DENSITY_ROWS} designs; agglomerative: clusters a sample of at most "
                             f"{AGGLOMERATIVE_SAMPLE} designs, the rest to the nearest cluster")
    parser.add_argument("--eps", type=float, help="dbscan: neighbourhood radius (0..2; default: suggested)")
    parser.add_argument("--min-samples", type=int, default=5, help="dbscan: designs that make a dense core (5)")
    parser.add_argument("--suggest-eps", action="store_true",
                        help="dbscan: print the eps suggested by the k-distance curve and exit")
    parser.add_argument("--linkage", default="ward", choices=list(LINKAGES), help="agglomerative linkage (ward)")
    parser.add_argument("--model", required=True, help="color, pattern or color+pattern")
    parser.add_argument("--version", help="feature version to cluster (default: the model's active version)")
    parser.add_argument("--k", help="number of clusters, or 'auto' (k-means: silhouette over 4..40, the default)")
    parser.add_argument("--seed", type=int, default=1234, help="random seed (default 1234)")
    parser.add_argument("--niter", type=int, default=20, help="k-means iterations (default 20)")
    parser.add_argument(
        "--nredo", type=int, default=NREDO, help=f"k-means++ restarts, the best kept (default {NREDO})"
    )
    parser.add_argument(
        "--data-dir", help="where catalog.db, image_features/ ... live (default: SWATCH_DATA_DIR)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--json", action="store_true", help="print the new version's summary as JSON")


def run(args: argparse.Namespace) -> int:
    """Cluster, then print a summary line on stderr and the new version on stdout (or the summary as JSON)."""
    from swatch.catalog.db import Catalog
    from swatch.clustering.versions import ClusterError, ClusterRequest, parse_k, run_clustering

    settings = Settings.from_env(**({"data_dir": Path(args.data_dir)} if args.data_dir else {}))
    if not settings.has_catalog:
        raise CliError(f"no catalogue at {settings.db_path}: run extract_features.py first")
    from swatch.clustering.methods import suggest_eps
    from swatch.clustering.versions import resolve

    if args.method == "dbscan" and args.k is not None:
        raise CliError("--k is not a dbscan parameter: give --eps and --min-samples")
    if args.suggest_eps and args.method != "dbscan":
        raise CliError("--suggest-eps goes with --method dbscan")
    try:
        k = parse_k(args.k if args.k is not None else ("auto" if args.method == "kmeans" else None)) \
            if args.method != "dbscan" else None
        req = ClusterRequest(args.model, args.version, k, args.seed, args.niter, args.nredo, args.method,
                             args.eps, args.min_samples, args.linkage)
        if args.suggest_eps:
            req, fv = resolve(settings, Catalog(settings.db_path), req)
            found = suggest_eps(fv.features, req.min_samples, seed=req.seed)
            print(json.dumps(found.to_dict()) if args.json else found.eps)
            return 0
        summary = run_clustering(settings, req, bar=not args.quiet)
    except ClusterError as exc:
        raise CliError(str(exc)) from exc
    if args.json:
        print(json.dumps(summary))
        return 0
    sil = summary["silhouette"]
    why = f", chosen by silhouette over k={summary['k_auto']['k_range']}" if summary["k_auto"] else ""
    how = {"dbscan": f"dbscan eps={summary['eps']}", "agglomerative": f"agglomerative {args.linkage}"}
    grouped = f", {summary['not_grouped']} not grouped" if summary["not_grouped"] is not None else ""
    print(
        f"{summary['model']}/{summary['feature_version']}: {summary['designs']} designs into k={summary['k']}"
        f"{grouped} ({how.get(args.method, 'k-means')}{why}); inertia {summary['inertia']:.4g},"
        f" silhouette {'n/a' if sil is None else f'{sil:.4f}'}, {summary['seconds']:.1f} s",
        file=sys.stderr,
    )
    print(summary["version"])
    return 0
