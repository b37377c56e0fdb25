"""Play a designer: rate the top-10 pattern results of training queries, retrain, and print held-out P@10 as JSON.

For each labelled dataset (../shared/datasets): ingest it once (pattern/v1, cached under /tmp), then for every fold
copy that data dir, rate the top-10 `pattern` results of 300 training queries through the real feedback path
(`add_rating`: 5 stars when the labels match, else 1; with --strict held-out images are never rated),
train a new version with the default settings
(`train_pattern_version`), and measure P@10 / mAP@10 of the held-out queries before (v1) and after (the new
version, as stored) against the whole catalogue, the query left out. Small datasets rotate the held-out queries over
folds so that every image is a held-out query once. `unseen` repeats the measure for held-out queries that no rating
touched (neither as query nor as result).

    python bench/retrain.py [--datasets fashion-texture,sanderson-designs] [--train-queries 300] [--folds auto]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from swatch.catalog.db import Catalog, copy_data_dir
from swatch.catalog.feedback import add_rating
from swatch.config import Settings
from swatch.features.base import get_extractor
from swatch.features.store import FeatureStore
from swatch.ingest import ingest
from swatch.training.service import TrainParams, train_pattern_version

ROOT = Path(__file__).resolve().parent.parent

DATASETS = ROOT.parent / "shared" / "datasets"
TARGET_GAIN = 0.08
TARGET_SECONDS = 600


def cached_ingest(name: str, cache: Path) -> Path:
    """A data dir holding `name` ingested (pattern/v1 only), keyed by the extractor's parameters and weights."""
    ex = get_extractor("pattern")
    key = hashlib.sha256(json.dumps([ex.params(), ex.weights_hash()], sort_keys=True).encode()).hexdigest()[:10]
    data = cache / f"{name}-{key}"
    if not (data / "image_features" / "pattern" / "v1" / "info.json").exists():
        t = time.perf_counter()
        ingest(DATASETS / name / "images", Settings.from_env(data_dir=data), models=["pattern"], progress=False,
               extractors={"pattern": ex})
        print(f"{name}: ingested in {time.perf_counter() - t:.0f} s -> {data}", file=sys.stderr)
    return data


def dataset_names(arg: str) -> list[str] | None:
    """The comma-separated dataset names of `--datasets`; None (after a one-line error) when one is missing."""
    names = [n.strip() for n in arg.split(",") if n.strip()]
    missing = [n for n in names if not (DATASETS / n / "labels.csv").is_file()]
    if missing:
        print(f"error: dataset(s) not found under {DATASETS}: {', '.join(missing)}", file=sys.stderr)
        return None
    return names


def labels_of(name: str) -> dict[str, tuple[frozenset[str], bool]]:
    """Relative image path (as ingested from images/) -> (labels, is a near duplicate)."""
    out = {}
    with open(DATASETS / name / "labels.csv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            labels = frozenset(x for x in (row.get("all_classes") or row["pattern_class"]).split("|") if x)
            out[row["file"].removeprefix("images/")] = (labels, bool(row.get("near_dup_of")))
    return out


@dataclass
class LabelledCatalogue:
    """An ingested dataset's pattern/v1 rows with what the benchmarks score them by."""

    base_dir: Path
    paths: list[str]  # relative image paths, in row order
    files: list[Path]  # the image files, in row order
    rel: np.ndarray  # rel[i, j]: rows i and j share a label
    dup: np.ndarray  # near duplicates (not queries)
    rows: np.ndarray


def labelled_catalogue(name: str, cache: Path) -> LabelledCatalogue:
    """`name` ingested once (cached_ingest) and its labels as a relevance matrix over the v1 rows."""
    base_dir = cached_ingest(name, cache)
    labels = labels_of(name)
    fv = FeatureStore(base_dir / "image_features").load("pattern", "v1", mmap=False)
    images = Catalog(base_dir / "catalog.db").images_by_ids([int(i) for i in fv.ids])
    paths = [images[int(i)].path for i in fv.ids]
    labs = [labels[p][0] for p in paths]
    classes = sorted(set().union(*labs))
    onehot = np.array([[c in lab for c in classes] for lab in labs], dtype=np.float32)
    return LabelledCatalogue(base_dir, paths, [images[int(i)].full_path for i in fv.ids], (onehot @ onehot.T) > 0,
                             np.array([labels[p][1] for p in paths]), np.asarray(fv.features, dtype=np.float32))


def ranked(rows: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Top-k row positions per query by inner product, the query itself left out (ties by position)."""
    sims = rows[queries] @ rows.T
    sims[np.arange(queries.size), queries] = -np.inf
    top = np.argpartition(-sims, k, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(sims, top, axis=1), axis=1, kind="stable")
    return np.take_along_axis(top, order, axis=1)


def quality(rows: np.ndarray, rel: np.ndarray, queries: np.ndarray, k: int = 10) -> dict[str, float]:
    """P@k and mAP@k (AP normalised by min(k, relevant count)) over `queries`."""
    if queries.size == 0:
        return {"p_at_10": float("nan"), "map_at_10": float("nan"), "queries": 0}
    top = ranked(rows, queries, k)
    hits = rel[queries[:, None], top].astype(np.float64)
    n_rel = rel[queries].sum(axis=1) - rel[queries, queries]
    prec = np.cumsum(hits, axis=1) / np.arange(1, k + 1)
    ap = (prec * hits).sum(axis=1) / np.maximum(np.minimum(n_rel, k), 1)
    return {"p_at_10": float(hits.mean()), "map_at_10": float(ap.mean()), "queries": int(queries.size)}


def folds_for(n: int, train_queries: int, folds: str, rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """(training queries, held-out queries) per fold. 'auto': one fold when >= 300 images remain held out,
    else enough folds that every image is held out once."""
    perm = rng.permutation(n)
    held_size = n - train_queries
    if held_size <= 0:
        raise SystemExit(f"only {n} images: fewer than {train_queries} training queries plus held-out ones")
    count = (1 if held_size >= 300 else math.ceil(n / held_size)) if folds == "auto" else int(folds)
    out = []
    for f in range(count):
        held = perm[f * held_size : (f + 1) * held_size] if count > 1 else perm[train_queries:]
        rest = np.setdiff1d(perm, held)
        out.append((rng.permutation(rest)[:train_queries], np.sort(held)))
    return out


def run_dataset(name: str, args: argparse.Namespace) -> dict[str, object]:
    base_dir = cached_ingest(name, Path(args.cache))
    labels = labels_of(name)
    fv = FeatureStore(base_dir / "image_features").load("pattern", "v1", mmap=False)
    images = Catalog(base_dir / "catalog.db").images_by_ids([int(i) for i in fv.ids])
    paths = [images[int(i)].path for i in fv.ids]
    labs = [labels[p][0] for p in paths]
    dup = np.array([labels[p][1] for p in paths])
    classes = sorted(set().union(*labs))
    onehot = np.array([[c in lab for c in classes] for lab in labs], dtype=np.float32)
    rel = (onehot @ onehot.T) > 0
    base_rows = np.asarray(fv.features, dtype=np.float32)
    rng = np.random.default_rng(args.seed)
    totals: dict[str, list[dict[str, float]]] = {"before": [], "after": [], "unseen_before": [], "unseen_after": []}
    fold_reports = []
    for fold, (train_q, held_q) in enumerate(folds_for(len(paths), args.train_queries, args.folds, rng)):
        with tempfile.TemporaryDirectory(prefix=f"retrain-{name}-") as tmp:
            work = Path(tmp) / "data"
            copy_data_dir(base_dir, work)
            settings = Settings.from_env(data_dir=work)
            catalog = Catalog(settings.db_path)
            t = time.perf_counter()
            top = ranked(base_rows, train_q, 10)
            touched = set(train_q.tolist())
            held_set = set(held_q.tolist()) if args.strict else set()
            for q, results in zip(train_q, top, strict=True):
                for r in results:
                    if int(r) in held_set:
                        continue  # --strict: the designer never rates a held-out image
                    add_rating(catalog, paths[q], paths[r], "pattern", "v1", 5 if rel[q, r] else 1, rater="bench")
                    touched.add(int(r))
            rating_seconds = time.perf_counter() - t
            ratings = int(catalog.connect().execute("SELECT COUNT(*) FROM feedback").fetchone()[0])
            info = train_pattern_version(settings, TrainParams(epochs=args.epochs) if args.epochs else TrainParams())
            new = FeatureStore(settings.features_dir).load("pattern", info["version"], mmap=False)
            assert np.array_equal(new.ids, fv.ids), "the new version's rows follow v1's"
            new_rows = np.asarray(new.features, dtype=np.float32)
        queries = np.array([q for q in held_q if not dup[q]], dtype=np.int64)
        unseen = np.array([q for q in queries if int(q) not in touched], dtype=np.int64)
        parts = {"before": quality(base_rows, rel, queries), "after": quality(new_rows, rel, queries),
                 "unseen_before": quality(base_rows, rel, unseen), "unseen_after": quality(new_rows, rel, unseen)}
        for key, value in parts.items():
            totals[key].append(value)
        held = info["metrics"]["heldout"]
        fold_reports.append({
            "fold": fold, "version": info["version"], "ratings": ratings,
            "rating_seconds": round(rating_seconds, 1), "train_seconds": info["seconds"]["total"],
            "heldout_queries": int(queries.size), "unseen_queries": int(unseen.size),
            "p_at_10_before": round(parts["before"]["p_at_10"], 4),
            "p_at_10_after": round(parts["after"]["p_at_10"], 4),
            "rating_agreement_v1": held["v1"]["agreement"], "rating_agreement_new": held["new"]["agreement"],
            "activated": info["decision"]["activated"], "pairs": info["data"]["pairs"],
            "augmented": info["data"]["augmented"], "hard_negatives": info["data"]["hard_negatives"],
        })
        print(f"{name} fold {fold}: {json.dumps(fold_reports[-1])}", file=sys.stderr, flush=True)

    def pooled(key: str, metric: str) -> float:
        parts = [p for p in totals[key] if p["queries"]]
        n = sum(p["queries"] for p in parts)
        return round(sum(p[metric] * p["queries"] for p in parts) / n, 4) if n else float("nan")

    gain = round(pooled("after", "p_at_10") - pooled("before", "p_at_10"), 4)
    seconds = [f["train_seconds"] for f in fold_reports]
    return {
        "images": len(paths), "classes": len(classes), "folds": len(fold_reports),
        "train_queries_per_fold": args.train_queries, "strict": args.strict,
        "ratings_per_fold": round(float(np.mean([f["ratings"] for f in fold_reports])), 1),
        "heldout_queries": sum(f["heldout_queries"] for f in fold_reports),
        "p_at_10_before": pooled("before", "p_at_10"), "p_at_10_after": pooled("after", "p_at_10"), "gain": gain,
        "map_at_10_before": pooled("before", "map_at_10"), "map_at_10_after": pooled("after", "map_at_10"),
        "unseen": {"queries": sum(f["unseen_queries"] for f in fold_reports),
                   "p_at_10_before": pooled("unseen_before", "p_at_10"),
                   "p_at_10_after": pooled("unseen_after", "p_at_10")},
        "train_seconds_max": max(seconds), "train_seconds_mean": round(float(np.mean(seconds)), 1),
        "target_gain_met": gain >= TARGET_GAIN, "target_time_met": max(seconds) <= TARGET_SECONDS,
        "per_fold": fold_reports,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="fashion-texture,sanderson-designs")
    parser.add_argument("--train-queries", type=int, default=300)
    parser.add_argument("--folds", default="auto", help="'auto' or a number")
    parser.add_argument("--epochs", type=int, default=0, help="0: the default of train_model.py")
    parser.add_argument("--strict", action="store_true",
                        help="never rate held-out images (not even as results of training queries)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--cache", default="/tmp/swatch-retrain-cache", help="cached ingested data dirs")
    args = parser.parse_args()
    names = dataset_names(args.datasets)
    if names is None:
        return 2
    started = time.perf_counter()
    report: dict[str, object] = {
        "benchmark": "retrain", "machine": f"{platform.machine()}, {__import__('os').cpu_count()} CPUs",
        "defaults": TrainParams().to_dict(), "target_gain": TARGET_GAIN, "target_train_seconds": TARGET_SECONDS,
        "datasets": {name: run_dataset(name, args) for name in names},
    }
    report["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
