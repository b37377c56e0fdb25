"""`swatch ingest` (extract_features.py): add new and changed images to the catalogue and its features."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from swatch.cli import CliError
from swatch.config import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from swatch.features.base import MODEL_NAMES

    parser.description = (
        "Add new and changed images (and their metadata) to the catalogue and its feature versions."
    )
    parser.add_argument("--images", required=True, help="folder of design images (searched recursively)")
    parser.add_argument("--metadata", help="image_metadata_map.json or a CSV (default: the folder's own map)")
    parser.add_argument("--models", default=",".join(MODEL_NAMES), help="comma-separated models to build")
    parser.add_argument(
        "--data-dir", help="where catalog.db, image_features/ ... live (default: SWATCH_DATA_DIR)"
    )
    parser.add_argument(
        "--compact", type=int, metavar="DIMS",
        help="also fit a compact pattern version of DIMS (1-256) principal directions (docs/models.md); refits "
        "follow on later ingests as the catalogue grows",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def _models(text: str) -> list[str]:
    from swatch.features.base import MODEL_NAMES

    models = [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in models if m not in MODEL_NAMES]
    if unknown or not models:
        raise CliError(
            f"unknown model {', '.join(unknown) or '(none)'}; choose from {', '.join(MODEL_NAMES)}"
        )
    return models


def run(args: argparse.Namespace) -> int:
    """Check the flags (exit 2 with one line), ingest, print the summary line (or JSON)."""
    from swatch.catalog.db import CatalogError
    from swatch.features.projection import ProjectionError
    from swatch.features.store import FeatureStoreError
    from swatch.images import ImageError
    from swatch.ingest import ingest
    from swatch.metadata import MetadataError
    from swatch.training import head  # noqa: F401  (registers the trained-head transform ingest reapplies)

    models = _models(args.models)
    images = Path(args.images)
    if not images.is_dir():
        raise CliError(f"image folder not found: {images}")
    if args.metadata and not Path(args.metadata).is_file():
        raise CliError(f"metadata file not found: {args.metadata}")
    if args.compact is not None and not (1 <= args.compact <= 256 and "pattern" in models):
        raise CliError(f"--compact needs 1 to 256 dimensions and the pattern model, not {args.compact}")
    settings = Settings.from_env(**({"data_dir": Path(args.data_dir)} if args.data_dir else {}))
    started = time.perf_counter()
    from swatch.search.cache import prepare_on_publish, prepare_published, publish_backend  # saved indexes

    backend = publish_backend(settings)  # Milvus (SWATCH_MILVUS_URI): the collection loaded at publish
    prepare_on_publish(settings.features_dir, settings.data_dir / "indexes", settings.exact_index_max_rows, backend)
    try:
        summary = ingest(
            images, settings, Path(args.metadata) if args.metadata else None, models, progress=not args.quiet,
            compact=args.compact,
        )
    except ProjectionError as exc:
        raise CliError(f"{exc} (the ingest itself was saved)") from exc
    except (MetadataError, ImageError, ValueError, FileNotFoundError, CatalogError, FeatureStoreError) as exc:
        raise CliError(str(exc).splitlines()[0]) from exc
    except RuntimeError as exc:
        from swatch.features.backbone_spec import BackboneError

        if isinstance(exc, BackboneError):
            raise CliError(str(exc).splitlines()[0]) from exc
        raise
    indexes = prepare_published(  # each built before its version was visible: found and summarised here
        settings.features_dir, settings.data_dir / "indexes", settings.exact_index_max_rows, summary.versions,
        backend)
    elapsed = time.perf_counter() - started
    if args.json:
        print(
            json.dumps(
                {
                    "added": summary.added,
                    "changed": summary.changed,
                    "unchanged": summary.unchanged,
                    "removed": summary.removed,
                    "failed": summary.failed,
                    "versions": summary.versions,
                    "indexes": indexes,
                    "seconds": round(elapsed, 2),
                }
            )
        )
    else:  # each failure was named on stderr as it happened
        print(f"{summary.line()} in {elapsed:.1f} s")
        for name, made in indexes.items():
            print(f"index {name}: {made.get('kind')}, {made.get('rows')} rows, recall@100 "
                  f"{(made.get('recall_at_k') or {}).get('recall')}, built in {made.get('build_seconds')} s")
    return 0
