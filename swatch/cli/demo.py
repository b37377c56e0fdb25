"""`swatch demo` (python -m swatch.demo): draw the procedural demo catalogue into a folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from swatch.cli import WORK_FAILED, CliError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from swatch.demo import generate_demo_catalogue

    parser.description = generate_demo_catalogue.__doc__
    parser.add_argument("--out", type=Path, required=True, help="output folder (created if missing)")
    parser.add_argument("--designs", type=int, default=60, help="number of designs (default 60)")
    parser.add_argument("--colourways", type=int, default=4, help="colourways per design (default 4)")
    parser.add_argument("--size", type=int, default=256, help="image side in pixels (default 256)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Draw the catalogue (exit 2 for out-of-range numbers, 1 when it cannot be written) and name its map."""
    from swatch.demo import generate_demo_catalogue

    try:
        meta = generate_demo_catalogue(
            args.out, args.designs, args.colourways, args.size, args.seed, progress=not args.no_progress
        )
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    except OSError as exc:
        raise CliError(str(exc), status=WORK_FAILED) from exc
    print(f"wrote {args.designs * args.colourways} images and {meta}")
    return 0
