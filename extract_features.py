"""Ingest images and metadata into the catalogue and build or refresh feature versions (`swatch ingest`)."""

from swatch.cli import script

if __name__ == "__main__":
    script("ingest")
