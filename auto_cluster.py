"""Placeholder entry point: auto_cluster.py arrives with its own issue."""

import sys

from swatch.cli import not_built_main, run_cli

if __name__ == "__main__":
    sys.exit(run_cli(not_built_main("auto_cluster.py")))
