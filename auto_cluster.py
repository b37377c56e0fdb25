"""Thin entry point: python auto_cluster.py --model pattern [--k 12 | --k auto] prints the new cluster version."""

import sys

from swatch.cli import run_cli
from swatch.clustering.cli import auto_cluster_main

if __name__ == "__main__":
    sys.exit(run_cli(auto_cluster_main))
