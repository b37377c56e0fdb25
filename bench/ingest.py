"""Ingest benchmark: time, throughput and peak memory of a first and a repeated ingest, printed as JSON.

In process (first, second) and from the command line (cli: a first ingest, then the unchanged folder again, whose
wall time must stay under 15 % of the first's: no backbone is loaded when nothing changed).

    python bench/ingest.py [--images DIR] [--limit 300] [--models ...] [--profile FILE]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from swatch.catalog.db import Catalog
from swatch.config import Settings
from swatch.features.store import FeatureStore
from swatch.ingest import ingest, scan_folder

ROOT = Path(__file__).resolve().parent.parent

DEFAULT_IMAGES = ROOT.parent / "shared" / "datasets" / "fashion-texture" / "images"


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far (Linux reports ru_maxrss in KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def cpu_seconds() -> float:
    """User + system CPU time of this process so far (all its threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def check_versions(settings: Settings) -> dict[str, dict[str, object]]:
    """For every feature version: rows, ids and info.count, and whether it covers exactly the live images."""
    catalog = Catalog(settings.db_path)
    live = set(catalog.live_ids())
    store = FeatureStore(settings.features_dir)
    out: dict[str, dict[str, object]] = {}
    for model in store.models():
        for version in store.versions(model):
            fv = store.load(model, version)
            out[f"{model}/{version}"] = {
                "rows": int(fv.features.shape[0]), "ids": int(fv.ids.shape[0]), "count": fv.info.get("count"),
                "dim": int(fv.features.shape[1]),
                "consistent": fv.features.shape[0] == fv.ids.shape[0] == fv.info.get("count"),
                "covers_live": set(int(i) for i in fv.ids) == live,
            }
    catalog.close()
    return out


def sample_folder(images: Path, limit: int, dest: Path) -> Path:
    """A copy of the first `limit` images (outside the repository) for a quick run."""
    for rel in scan_folder(images)[:limit]:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(images / rel, target)
    return dest


def run_cli(images: Path, data_dir: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    """`extract_features.py --images DIR` as a user runs it (interpreter, imports and all): result and wall time;
    stderr holds the modules it imported (PYTHONPROFILEIMPORTTIME)."""
    env = {**os.environ, "SWATCH_DATA_DIR": str(data_dir), "PYTHONPROFILEIMPORTTIME": "1"}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, str(ROOT / "extract_features.py"), "--images", str(images), "--quiet"],
                          env=env, capture_output=True, text=True, timeout=1800)
    return proc, time.perf_counter() - start


def imported(stderr: str) -> set[str]:
    """Module names from PYTHONPROFILEIMPORTTIME's lines."""
    return {line.rsplit("|", 1)[-1].strip() for line in stderr.splitlines() if line.startswith("import time:")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=Path, default=DEFAULT_IMAGES)
    parser.add_argument("--limit", type=int, default=0, help="ingest only the first N images (a copy)")
    parser.add_argument("--models", default="color,pattern,color+pattern")
    parser.add_argument("--profile", type=Path, help="write cProfile stats of the first run here")
    args = parser.parse_args()
    if not args.images.is_dir():
        print(json.dumps({"error": f"image folder not found: {args.images}"}))
        return 2
    import torch

    with tempfile.TemporaryDirectory(prefix="swatch-bench-") as tmp:
        images = sample_folder(args.images, args.limit, Path(tmp) / "images") if args.limit else args.images
        settings = Settings.from_env(data_dir=Path(tmp) / "data")
        models = [m for m in args.models.split(",") if m]
        profiler = cProfile.Profile() if args.profile else None
        start, cpu_start = time.perf_counter(), cpu_seconds()
        if profiler:
            profiler.enable()
        first = ingest(images, settings, models=models, progress=False, log=lambda _msg: None)
        if profiler:
            profiler.disable()
            profiler.dump_stats(str(args.profile))
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(25)
        first_s, first_cpu = time.perf_counter() - start, cpu_seconds() - cpu_start
        rss_first = peak_rss_mib()
        start = time.perf_counter()
        second = ingest(images, settings, models=models, progress=False, log=lambda _msg: None)
        second_s = time.perf_counter() - start
        # from the command line, in a data dir of its own: the first ingest, then the same folder unchanged
        cli_data = Path(tmp) / "data-cli"
        cli_first, cli_first_s = run_cli(images, cli_data)
        cli, cli_s = run_cli(images, cli_data)
        catalog = Catalog(settings.db_path)
        count = catalog.count_images()
        catalog.close()
        versions = check_versions(settings)
        result = {
            "benchmark": "ingest",
            "load_average_1min_at_end": round(os.getloadavg()[0], 2),
            "cpus": os.cpu_count(),
            "images_dir": str(args.images),
            "limit": args.limit or None,
            "models": models,
            "files": len(scan_folder(images)),
            "torch_threads": torch.get_num_threads(),
            "decode_threads": settings.decode_threads,
            "batch_size": settings.batch_size,
            "first": {"seconds": round(first_s, 2), "images_per_s": round(first.extracted / first_s, 2),
                      "cpu_seconds": round(first_cpu, 1), "cores_busy": round(first_cpu / first_s, 2),
                      "added": first.added, "failed": len(first.failed), "peak_rss_mib": rss_first},
            "second": {"seconds": round(second_s, 2), "added": second.added, "changed": second.changed,
                       "unchanged": second.unchanged, "ratio_to_first": round(second_s / first_s, 4)},
            "cli": {"first_seconds": round(cli_first_s, 2), "first_exit": cli_first.returncode,
                    "first_summary": cli_first.stdout.strip(),
                    "unchanged_seconds": round(cli_s, 2), "unchanged_exit": cli.returncode,
                    "unchanged_summary": cli.stdout.strip(),
                    "unchanged_imported_torch": "torch" in imported(cli.stderr),
                    "unchanged_ratio_to_first": round(cli_s / cli_first_s, 4), "target_ratio": 0.15},
            "catalogue_count": count,
            "versions": versions,
            "all_versions_consistent": all(v["consistent"] and v["covers_live"] for v in versions.values()),
            "peak_rss_mib": peak_rss_mib(),
        }
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
