"""Train a new pattern-model version from designers' ratings and design codes (see docs/training.md)."""

import sys

from swatch.cli import run_cli
from swatch.training.cli import main

if __name__ == "__main__":
    sys.exit(run_cli(main))
