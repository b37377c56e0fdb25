"""Ingest images and metadata into the catalogue and build or refresh feature versions."""

import sys

from swatch.cli import extract_features_main, run_cli

if __name__ == "__main__":
    sys.exit(run_cli(extract_features_main))
