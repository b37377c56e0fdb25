"""Placeholder entry point: train_model.py arrives with its own issue."""

import sys

from swatch.cli import not_built_main, run_cli

if __name__ == "__main__":
    sys.exit(run_cli(not_built_main("train_model.py")))
