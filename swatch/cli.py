"""Command-line front ends shared by the thin scripts at the project root."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from swatch.config import Settings, SettingsError
from swatch.logs import configure_logging


class CliError(Exception):
    """A one-line reason to exit non-zero."""


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {}
    if getattr(args, "data_dir", None):
        overrides["data_dir"] = Path(args.data_dir)
    return Settings.from_env(**overrides)


def run_cli(func: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None = None) -> int:
    """Run a command with the settings validated and logging configured, turning expected failures into
    `error: ...` on stderr (one line per bad setting) and exit status 2."""
    try:
        configure_logging(Settings.from_env())
        return func(argv)
    except SettingsError as exc:
        for line in exc.problems:
            print(f"error: {line}", file=sys.stderr)
        return 2
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


def extract_features_main(argv: Sequence[str] | None = None) -> int:
    """python extract_features.py --images DIR [--metadata FILE] [--models color,pattern,color+pattern]"""
    from swatch.catalog.db import CatalogError
    from swatch.catalog.metadata import MetadataError
    from swatch.features.base import MODEL_NAMES
    from swatch.features.store import FeatureStoreError
    from swatch.images import ImageError
    from swatch.ingest import ingest

    parser = argparse.ArgumentParser(
        prog="extract_features.py",
        description="Add new and changed images (and their metadata) to the catalogue and its feature versions.",
    )
    parser.add_argument("--images", required=True, help="folder of design images (searched recursively)")
    parser.add_argument("--metadata", help="image_metadata_map.json or a CSV (default: the folder's own map)")
    parser.add_argument("--models", default=",".join(MODEL_NAMES), help="comma-separated models to build")
    parser.add_argument("--data-dir", help="where catalog.db, image_features/ ... live (default: SWATCH_DATA_DIR)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args(argv)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in models if m not in MODEL_NAMES]
    if unknown or not models:
        raise CliError(f"unknown model {', '.join(unknown) or '(none)'}; choose from {', '.join(MODEL_NAMES)}")
    images = Path(args.images)
    if not images.is_dir():
        raise CliError(f"image folder not found: {images}")
    if args.metadata and not Path(args.metadata).is_file():
        raise CliError(f"metadata file not found: {args.metadata}")
    started = time.perf_counter()
    try:
        summary = ingest(images, _settings(args), Path(args.metadata) if args.metadata else None, models,
                         progress=not args.quiet)
    except (MetadataError, ImageError, ValueError, FileNotFoundError, CatalogError, FeatureStoreError) as exc:
        raise CliError(str(exc).splitlines()[0]) from exc
    except RuntimeError as exc:
        from swatch.features.backbone import BackboneError  # torch is loaded by now: no cost here

        if isinstance(exc, BackboneError):
            raise CliError(str(exc).splitlines()[0]) from exc
        raise
    elapsed = time.perf_counter() - started
    if args.json:
        print(json.dumps({"added": summary.added, "changed": summary.changed, "unchanged": summary.unchanged,
                          "removed": summary.removed, "failed": summary.failed, "versions": summary.versions,
                          "seconds": round(elapsed, 2)}))
    else:  # each failure was named on stderr as it happened
        print(f"{summary.line()} in {elapsed:.1f} s")
    return 0


def not_built_main(name: str) -> Callable[[Sequence[str] | None], int]:
    def main(argv: Sequence[str] | None = None) -> int:
        raise CliError(f"{name} is not built yet")

    return main
