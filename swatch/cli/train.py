"""`swatch train` (train_model.py): train, print the new version and its before/after quality."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from swatch.cli import CliError
from swatch.config import Settings


def _line(info: dict[str, Any]) -> str:
    held = info["metrics"]["heldout"]
    new, old = held["new"], held.get(info["compared_with"], {})

    def fmt(x: float | None) -> str:
        return "n/a" if x is None else f"{x:.3f}"

    data = info["data"]
    pairs = ", ".join(f"{k} {v}" for k, v in sorted(data["pairs"].items()))
    views = info["metrics"].get("views")
    if views is not None:  # label-free: judged on held-out synthetic views
        was = views.get(info["compared_with"], {})
        return (
            f"{info['model']}/{info['version']}: learned from the catalogue without ratings: "
            f"{data['pairs_total']} pairs ({pairs}), {data['augmented']} synthetic views; {info['epochs']} epochs "
            f"in {info['seconds']['train']:.1f} s (total {info['seconds']['total']:.1f} s)\n"
            f"held-out views ({views['new']['views']}) finding their own design first: "
            f"{info['compared_with']} {fmt(was.get('recall_at_1'))} -> {info['version']} "
            f"{fmt(views['new']['recall_at_1'])}\n"
            f"{'activated' if info['decision']['activated'] else 'not activated'}: {info['decision']['reason']}"
        )
    return (
        f"{info['model']}/{info['version']}: trained on {data['usable_train']} ratings from "
        f"{data['queries_train']} queries, {data['pairs_total']} pairs ({pairs}), "
        f"{data['augmented']} augmented views; {info['epochs']} epochs in {info['seconds']['train']:.1f} s "
        f"(total {info['seconds']['total']:.1f} s)\n"
        f"held-out ratings ({new['queries']} queries, {new['pairs']} pairs): agreement "
        f"{info['compared_with']} {fmt(old.get('agreement'))} -> {info['version']} {fmt(new['agreement'])}; "
        f"mean rating of the top result "
        f"{fmt(old.get('top_rating'))} -> {fmt(new['top_rating'])}\n"
        f"{'activated' if info['decision']['activated'] else 'not activated'}: {info['decision']['reason']}"
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from swatch.training.service import ACTIVATE_CHOICES, TrainParams

    d = TrainParams()
    parser.description = (
        "Train a new pattern-model version from designers' ratings, design codes and augmented views."
    )
    parser.add_argument("--model", default=d.model, help="model to train (only 'pattern')")
    parser.add_argument("--epochs", type=int, default=d.epochs)
    parser.add_argument("--dim", type=int, default=d.dim, help="output dimension of the head")
    parser.add_argument(
        "--hidden", type=int, default=d.hidden, help="hidden ReLU layer width (0: linear head)"
    )
    parser.add_argument("--margin", type=float, default=d.margin, help="triplet margin (cosine)")
    parser.add_argument("--lr", type=float, default=d.lr, help="learning rate")
    parser.add_argument("--holdout", type=float, default=d.holdout, help="share of rated queries held out")
    parser.add_argument("--min-ratings", type=int, default=d.min_ratings, help="refuse to train with fewer")
    parser.add_argument("--augment", type=int, default=d.augment, help="images to add an augmented view of")
    parser.add_argument("--no-designs", action="store_true", help="do not pair colourways of one design code")
    parser.add_argument(
        "--activate",
        choices=ACTIVATE_CHOICES,
        default=d.activate,
        help="auto: only if it beats the active version on held-out ratings",
    )
    parser.add_argument("--mode", choices=("ratings", "catalogue"), default=d.mode,
                        help="catalogue: learn from synthetic views of the catalogue itself, no rating needed")
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--threads", type=int, default=d.threads, help="CPU threads for training")
    parser.add_argument(
        "--data-dir", help="where catalog.db, image_features/, models/ live (default: SWATCH_DATA_DIR)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.add_argument("--json", action="store_true", help="print the new version's info as JSON")


def run(args: argparse.Namespace) -> int:
    """Train with the flags' parameters and print the new version's line (or its info as JSON)."""
    from swatch.training.service import TrainingError, TrainParams, train_pattern_version

    try:
        params = TrainParams(
            model=args.model,
            epochs=args.epochs,
            dim=args.dim,
            hidden=args.hidden,
            margin=args.margin,
            lr=args.lr,
            holdout=args.holdout,
            min_ratings=args.min_ratings,
            designs=not args.no_designs,
            augment=args.augment,
            activate=args.activate,
            seed=args.seed,
            threads=args.threads,
            mode=args.mode,
        )
        overrides = {"data_dir": Path(args.data_dir)} if args.data_dir else {}
        try:
            settings = Settings.from_env(**overrides)
        except ValueError as exc:
            raise TrainingError(str(exc)) from exc
        last = [-1]

        def progress(fraction: float, message: str) -> None:
            step = int(fraction * 10)
            if not args.quiet and step != last[0]:
                last[0] = step
                print(f"[{fraction * 100:3.0f} %] {message}", file=sys.stderr)

        info = train_pattern_version(settings, params, progress=progress)
    except TrainingError as exc:
        raise CliError(str(exc).splitlines()[0]) from exc
    print(json.dumps(info, indent=1) if args.json else _line(info))
    return 0
