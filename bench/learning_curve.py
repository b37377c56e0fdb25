"""Learning curve: held-out P@10 after 25, 50, 100, 300 and 1,000 ratings, random pairs vs the teaching queue.

For each dataset (ingested once, as bench/retrain.py does): 30 % of the images are held-out queries that the
simulated designer never rates (neither as query nor as result). Two designers rate with the same rule (5 stars
when the labels match, else 1) through the real feedback path: one rates random pairs (a random query and one of
its top-10 results), the other rates what GET /api/learn/queue would offer (`swatch.training.queue.teaching_pairs`,
asked again after each training). At each step a new pattern version is trained with the default settings
(`train_pattern_version`) and its held-out P@10 measured against the whole catalogue. Prints one JSON document.

    .venv/bin/python bench/learning_curve.py [--datasets sanderson-designs] [--steps 25,50,100,300,1000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from retrain import dataset_names, labelled_catalogue, quality, ranked

from swatch.catalog.db import Catalog, copy_data_dir
from swatch.catalog.feedback import add_rating
from swatch.config import Settings
from swatch.features.store import FeatureStore
from swatch.training.queue import MAX_PAIRS, teaching_pairs
from swatch.training.service import TrainParams, train_pattern_version

GOAL_GAIN_AT_50 = 0.08


class Designer:
    """The simulated rater of one strategy, rating into its own copy of the catalogue."""

    def __init__(self, work: Path, paths: list[str], rel: np.ndarray, held: set[int], base_rows: np.ndarray,
                 strategy: str, seed: int):
        self.settings = Settings.from_env(data_dir=work)
        self.catalog = Catalog(self.settings.db_path)
        self.paths, self.rel, self.held, self.strategy = paths, rel, held, strategy
        self.rng = np.random.default_rng(seed)
        self.pool = np.array([i for i in range(len(paths)) if i not in held])
        self.top = ranked(base_rows, self.pool, 10)
        self.rated: set[tuple[int, int]] = set()
        fv = FeatureStore(self.settings.features_dir).load("pattern", "v1", mmap=False)
        self.row_of_id = {int(i): k for k, i in enumerate(fv.ids)}

    def _rate(self, q: int, r: int) -> bool:
        if q == r or r in self.held or q in self.held or (q, r) in self.rated or (r, q) in self.rated:
            return False
        add_rating(self.catalog, self.paths[q], self.paths[r], "pattern", "v1", 5 if self.rel[q, r] else 1,
                   rater=self.strategy)
        self.rated.add((q, r))
        return True

    def rate_until(self, total: int) -> None:
        stale = 0
        while len(self.rated) < total and stale < 20:
            before = len(self.rated)
            if self.strategy == "random":
                k = int(self.rng.integers(len(self.pool)))
                self._rate(int(self.pool[k]), int(self.top[k, int(self.rng.integers(10))]))
            else:
                _, pairs = teaching_pairs(self.catalog, FeatureStore(self.settings.features_dir), n=MAX_PAIRS,
                                          seed=int(self.rng.integers(1 << 30)))
                for p in pairs:
                    if len(self.rated) >= total:
                        break
                    self._rate(self.row_of_id[p.query_id], self.row_of_id[p.result_id])
            stale = stale + 1 if len(self.rated) == before else 0

    def train(self) -> tuple[np.ndarray, dict[str, Any]]:
        info = train_pattern_version(self.settings, TrainParams(min_ratings=1))  # 25 ratings: 20 to train on
        new = FeatureStore(self.settings.features_dir).load("pattern", info["version"], mmap=False)
        return np.asarray(new.features, dtype=np.float32), info


def run_dataset(name: str, steps: list[int], cache: Path, seed: int) -> dict[str, Any]:
    data = labelled_catalogue(name, cache)
    base_dir, paths, rel, base_rows = data.base_dir, data.paths, data.rel, data.rows
    rng = np.random.default_rng(seed)
    held = np.sort(rng.permutation(len(paths))[: int(0.3 * len(paths))])
    before = quality(base_rows, rel, held)["p_at_10"]
    out: dict[str, Any] = {"images": len(paths), "heldout_queries": int(held.size),
                           "p_at_10_v1": round(before, 4), "curves": {}}
    for strategy in ("random", "queue"):
        curve = []
        with tempfile.TemporaryDirectory(prefix=f"curve-{name}-{strategy}-") as tmp:
            work = Path(tmp) / "data"
            copy_data_dir(base_dir, work)
            designer = Designer(work, paths, rel, set(held.tolist()), base_rows, strategy, seed)
            for step in steps:
                t = time.perf_counter()
                designer.rate_until(step)
                rate_s = time.perf_counter() - t
                rows, info = designer.train()
                after = quality(rows, rel, held)["p_at_10"]
                alike = sum(1 for q, r in designer.rated if rel[q, r])
                curve.append({"ratings": len(designer.rated), "alike": alike,
                              "trained_on": info["data"]["ratings_train"], "pairs": info["data"]["pairs"],
                              "p_at_10": round(after, 4),
                              "gain": round(after - before, 4), "rate_s": round(rate_s, 1),
                              "train_s": info["seconds"]["total"], "version": info["version"],
                              "activated": info["decision"]["activated"]})
                print(f"{name} {strategy} {json.dumps(curve[-1])}", file=sys.stderr, flush=True)
        out["curves"][strategy] = curve
    at50 = next((c["gain"] for c in out["curves"]["queue"] if c["ratings"] >= 50), None)
    out["queue_gain_at_50"] = at50
    out["goal_met"] = at50 is not None and at50 >= GOAL_GAIN_AT_50
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default="sanderson-designs")
    ap.add_argument("--steps", default="25,50,100,300,1000")
    ap.add_argument("--cache", default="/tmp/swatch-retrain-cache")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    names = dataset_names(args.datasets)
    if names is None:
        return 2
    steps = sorted({int(s) for s in args.steps.split(",") if s})
    started = time.perf_counter()
    report = {"benchmark": "learning_curve", "steps": steps, "goal_gain_at_50": GOAL_GAIN_AT_50,
              "datasets": {n: run_dataset(n, steps, Path(args.cache), args.seed) for n in names}}
    report["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
