"""Train a new pattern-model version from ratings and design codes (`swatch train`, docs/training.md)."""

from swatch.cli import script

if __name__ == "__main__":
    script("train")
