"""Extraction throughput: Swatch's colour + pattern (+ the derived color+pattern) beside the pipeline it replaced.

The replaced pipeline decoded every image at full size and ran a torchvision ResNet-50 (random weights: the
arithmetic is the same as the trained net's) with global average pooling on RGB. Swatch decodes once (JPEG draft
mode), feeds that picture to both extractors, and derives color+pattern rows from the two. Both run in the same
process on the same images with the same threads (torch's for ResNet-50, ONNX Runtime's for Swatch's pattern
network, as ingest runs it), in alternating rounds so that load from other processes hits both alike; models are
loaded and warmed up before timing. Prints one JSON document.

    python bench/throughput.py [--images 200] [--rounds 2] [--batch 32] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from swatch.features.base import combine_color_pattern, get_extractor
from swatch.images import open_image

ROOT = Path(__file__).resolve().parent.parent

DATASETS = ROOT.parent / "shared" / "datasets"
SETS = ("fashion-texture", "dtd-subset", "batik-motifs", "sanderson-designs", "fashion-products")


def sample_files(root: Path, count: int) -> list[Path]:
    """`count` image files spread evenly over the evaluation sets (every k-th file of each, sorted)."""
    per = max(1, count // len(SETS))
    files: list[Path] = []
    for name in SETS:
        found = sorted((root / name / "images").rglob("*.jpg"))
        if found:
            step = max(1, len(found) // per)
            files.extend(found[::step][:per])
    return files[:count]


def replaced_pipeline(batch: int, chunk: int) -> Callable[[list[Path]], np.ndarray]:
    """Full-size decode, 224 x 224 RGB, ImageNet normalisation, ResNet-50 global-average-pooled (2048-d),
    `chunk` images per forward pass."""
    import torch
    import torchvision

    model = torchvision.models.resnet50(weights=None)
    model.fc = torch.nn.Identity()
    model.eval()
    mean = torch.tensor([0.485, 0.456, 0.406]).reshape(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).reshape(1, 3, 1, 1)

    def run(files: list[Path]) -> np.ndarray:
        rows: list[np.ndarray] = []
        for i in range(0, len(files), batch):
            pics = [Image.open(f).convert("RGB").resize((224, 224), Image.Resampling.BILINEAR)
                    for f in files[i:i + batch]]
            x = torch.from_numpy(np.stack([np.asarray(p, np.float32) / 255.0 for p in pics])).permute(0, 3, 1, 2)
            x = (x - mean) / std
            with torch.inference_mode():
                rows.extend(model(x[j:j + chunk]).numpy() for j in range(0, len(x), chunk))
        return np.concatenate(rows)

    return run


def swatch_pipeline(batch: int, threads: int, runtime: str = "onnxruntime"
                    ) -> tuple[Callable[[list[Path]], dict[str, np.ndarray]], dict[str, Any]]:
    """One decode per image (draft mode at the extractors' side), colour + pattern rows, color+pattern derived;
    the pattern network on `threads` threads of `runtime` (ONNX Runtime, what ingest uses, or PyTorch)."""
    color, pattern = get_extractor("color"), get_extractor("pattern", threads=threads, runtime=runtime)
    side = max(color.decode_side, pattern.decode_side)

    def run(files: list[Path]) -> dict[str, np.ndarray]:
        out: dict[str, list[np.ndarray]] = {"color": [], "pattern": [], "color+pattern": []}
        for i in range(0, len(files), batch):
            pics = [open_image(f, draft_side=side) for f in files[i:i + batch]]
            c, p = color.extract(pics), pattern.extract(pics)
            out["color"].append(c)
            out["pattern"].append(p)
            out["color+pattern"].append(combine_color_pattern(c, p))
        return {k: np.concatenate(v) for k, v in out.items()}

    info = {"color": {"dim": color.dim, **color.params()},
            "pattern": {"dim": pattern.dim, "runtime": runtime, **pattern.params()}}
    return run, info


def timed(fn: Callable[[list[Path]], Any], files: list[Path]) -> float:
    start = time.perf_counter()
    fn(files)
    return time.perf_counter() - start


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", type=Path, default=DATASETS)
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2, help="timed passes of each pipeline, alternating")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="torch threads for both pipelines")
    args = parser.parse_args(argv)
    files = sample_files(args.datasets, args.images)
    if not files or args.rounds < 1 or args.batch < 1:
        print(f"error: no images under {args.datasets}" if not files else "error: rounds and batch must be >= 1",
              file=sys.stderr)
        return 2
    import torch

    torch.set_num_threads(args.threads)
    # the replaced pipeline gets its fastest forward-pass size on this machine (small batches stay in cache)
    load = time.perf_counter()
    calibration = {}
    warm = files[: min(len(files), args.batch)]
    for chunk in (1, 4, 8, args.batch):
        candidate = replaced_pipeline(args.batch, chunk)
        candidate(warm[:4])
        calibration[chunk] = len(warm) / timed(candidate, warm)
    best_chunk = max(calibration, key=lambda c: calibration[c])
    old = replaced_pipeline(args.batch, best_chunk)
    old_load = time.perf_counter() - load
    load = time.perf_counter()
    new, info = swatch_pipeline(args.batch, args.threads)
    new_load = time.perf_counter() - load
    old(warm)
    new(warm)

    old_times, new_times = [], []
    for _ in range(args.rounds):
        old_times.append(timed(old, files))
        new_times.append(timed(new, files))
    old_rate = len(files) / statistics.median(old_times)
    new_rate = len(files) / statistics.median(new_times)
    result = {
        "images": len(files),
        "machine": {
            "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "python": platform.python_version(),
                    "torch": torch.__version__, "load_average_1m": round(os.getloadavg()[0], 2)},
        "replaced_resnet50_gap_full_decode": {
            "images_per_s": round(old_rate, 2), "seconds": [round(t, 2) for t in old_times],
            "forward_batch": best_chunk,
            "calibration_images_per_s": {str(k): round(v, 1) for k, v in calibration.items()},
            "setup_s": round(old_load, 2)},
        "swatch_color_pattern_colorpattern": {"images_per_s": round(new_rate, 2),
                                              "seconds": [round(t, 2) for t in new_times],
                                              "setup_s": round(new_load, 2), "models": info},
        "ratio": round(new_rate / old_rate, 2),
        "ratio_vs_each_resnet_forward_batch": {str(k): round(new_rate / v, 2) for k, v in calibration.items()},
        "target_ratio": 5.0,
        "note": "ratio is against the replaced pipeline at its fastest forward batch here (conservative); the "
                "per-batch ratios use its short calibration runs",
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
