"""Learning the catalogue without labels: P@10 / mAP@10 of pattern/v1 and of the label-free version, per dataset.

For each labelled dataset (ingested once, as bench/retrain.py does), a copy of the data dir trains one version
with `TrainParams(mode="catalogue")` — the same settings for every dataset, no rating — and every image is then a
query against the whole catalogue (near duplicates not queries; labels only to score). Reports what `auto`
activation decided from the held-out synthetic views, and the training time. Prints one JSON document.

    .venv/bin/python bench/label_free.py [--datasets fashion-texture,dtd-subset,batik-motifs,sanderson-designs]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image
from quality import VARIANTS, make_variant
from retrain import dataset_names, labelled_catalogue, quality

from swatch.catalog.db import copy_data_dir
from swatch.config import Settings
from swatch.features.base import get_extractor
from swatch.features.store import FeatureStore
from swatch.images import open_image
from swatch.training.head import head_transform
from swatch.training.service import TrainParams, train_pattern_version

SETS = ("fashion-texture", "dtd-subset", "batik-motifs", "sanderson-designs")
SOURCES = 40  # designs per dataset made into colourway / move / photo variants


def photo(arr: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A phone photo of a printed sample: perspective, blur, uneven light, sensor noise, JPEG."""
    h, w = arr.shape[:2]
    d = 0.08 * min(h, w)
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = src + rng.uniform(-d, d, size=(4, 2)).astype(np.float32)
    out = cv2.warpPerspective(arr, cv2.getPerspectiveTransform(src, dst), (w, h), borderMode=cv2.BORDER_REFLECT)
    out = cv2.GaussianBlur(out, (0, 0), float(rng.uniform(0.6, 1.4)))
    ys, xs = np.mgrid[0:h, 0:w]
    light = 0.7 + 0.45 * (xs / w * np.cos(rng.uniform(0, 6.3)) + ys / h * np.sin(rng.uniform(0, 6.3)) + 1) / 2
    noisy = out.astype(np.float32) * light[..., None] + rng.normal(0, 4, out.shape)
    ok, buf = cv2.imencode(".jpg", np.clip(noisy, 0, 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 75])
    return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED) if ok else out


def robustness(name: str, paths: list[Path], rows: dict[str, np.ndarray], heads: dict[str, dict[str, Any]],
               seed: int = 11) -> dict[str, dict[str, float]]:
    """Top-1 rate per variant kind: a variant of a design finds that design first, under each version."""
    ex = get_extractor("pattern")
    rng = np.random.default_rng(seed)
    picks = sorted(rng.choice(len(paths), size=min(SOURCES, len(paths)), replace=False).tolist())
    kinds = [v[0] for v in VARIANTS] + ["photo"]
    hits: dict[str, dict[str, list[bool]]] = {v: {k: [] for k in kinds} for v in rows}
    for i in picks:
        arr = np.asarray(open_image(paths[i]))
        imgs = [make_variant(arr, recolour, moves, rng) for _, recolour, moves in VARIANTS] + [photo(arr, rng)]
        feats = ex.extract([Image.fromarray(np.ascontiguousarray(a)) for a in imgs])
        for version, table in rows.items():
            q = feats if version == "v1" else head_transform(heads[version], feats)
            top = np.argmax(q @ table.T, axis=1)
            for kind, t in zip(kinds, top.tolist(), strict=True):
                hits[version][kind].append(t == i)
    return {v: {k: round(float(np.mean(x)), 4) for k, x in per.items()} for v, per in hits.items()}


def run_dataset(name: str, cache: Path) -> dict[str, Any]:
    data = labelled_catalogue(name, cache)
    base_dir, paths, rel, base_rows = data.base_dir, data.paths, data.rel, data.rows
    queries = np.flatnonzero(~data.dup).astype(np.int64)
    with tempfile.TemporaryDirectory(prefix=f"label-free-{name}-") as tmp:
        work = Path(tmp) / "data"
        copy_data_dir(base_dir, work)
        info = train_pattern_version(Settings.from_env(data_dir=work), TrainParams(mode="catalogue"))
        new = FeatureStore(work / "image_features").load("pattern", info["version"], mmap=False)
        new_rows = np.asarray(new.features, dtype=np.float32)
        robust = robustness(name, data.files, {"v1": base_rows, "label_free": new_rows}, {"label_free": new.info})
    before, after = quality(base_rows, rel, queries), quality(new_rows, rel, queries)
    return {"images": len(paths), "queries": int(queries.size),
            "p_at_10_v1": round(before["p_at_10"], 4), "p_at_10_label_free": round(after["p_at_10"], 4),
            "gain": round(after["p_at_10"] - before["p_at_10"], 4),
            "map_at_10_v1": round(before["map_at_10"], 4), "map_at_10_label_free": round(after["map_at_10"], 4),
            "top1_variant_finds_its_design": robust,
            "views": info["metrics"]["views"], "decision": info["decision"], "pairs": info["data"]["pairs"],
            "train_seconds": info["seconds"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default=",".join(SETS))
    ap.add_argument("--cache", default="/tmp/swatch-retrain-cache")
    args = ap.parse_args()
    names = dataset_names(args.datasets)
    if names is None:
        return 2
    started = time.perf_counter()
    report: dict[str, Any] = {"benchmark": "label_free", "settings": TrainParams(mode="catalogue").to_dict(),
                              "datasets": {}}
    for name in names:
        report["datasets"][name] = run_dataset(name, Path(args.cache))
        print(f"{name}: {json.dumps(report['datasets'][name])}", file=sys.stderr, flush=True)
    gains = [d["gain"] for d in report["datasets"].values()]
    report["mean_gain"] = round(float(np.mean(gains)), 4)
    report["no_dataset_lower"] = all(g >= 0 for g in gains)
    report["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
