"""`swatch cluster` (auto_cluster.py): cluster a feature version with faiss k-means, print the new version."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from swatch.cli import CliError
from swatch.config import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from swatch.clustering.kmeans import NREDO

    parser.description = (
        "Group a model's feature version into k clusters (faiss k-means) and save a new cluster "
        "version. Older versions are never changed."
    )
    parser.add_argument("--model", required=True, help="color, pattern or color+pattern")
    parser.add_argument("--version", help="feature version to cluster (default: the model's active version)")
    parser.add_argument("--k", default="auto", help="number of clusters, or 'auto' (silhouette over 4..40)")
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
    from swatch.clustering.versions import ClusterError, ClusterRequest, parse_k, run_clustering

    settings = Settings.from_env(**({"data_dir": Path(args.data_dir)} if args.data_dir else {}))
    if not settings.db_path.is_file():
        raise CliError(f"no catalogue at {settings.db_path}: run extract_features.py first")
    try:
        req = ClusterRequest(args.model, args.version, parse_k(args.k), args.seed, args.niter, args.nredo)
        summary = run_clustering(settings, req, bar=not args.quiet)
    except ClusterError as exc:
        raise CliError(str(exc)) from exc
    if args.json:
        print(json.dumps(summary))
        return 0
    sil = summary["silhouette"]
    why = f", chosen by silhouette over k={summary['k_auto']['k_range']}" if summary["k_auto"] else ""
    print(
        f"{summary['model']}/{summary['feature_version']}: {summary['designs']} designs into k={summary['k']}"
        f"{why}; inertia {summary['inertia']:.4g}, silhouette {'n/a' if sil is None else f'{sil:.4f}'},"
        f" {summary['seconds']:.1f} s",
        file=sys.stderr,
    )
    print(summary["version"])
    return 0
