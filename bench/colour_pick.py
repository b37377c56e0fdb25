"""Search by picked colour on fashion-products: precision@10 against the products' base-colour labels.

The dataset's images are ingested with the colour model only (the real ingest: thumbnails, stored palettes,
colour rows; into --data, reused by a second run), then each base colour with at least --min-count products is
searched as one picked colour at share 1 through the real `ColourSearch` (the colour index, as
POST /api/search/colors does). A result is relevant when its label is the query's colour. Two typical values:

- `css`: a standard hex per name (the CSS colour of that name; navy for "Navy Blue");
- `median`: the median CIELAB of the main stored palette colour of the products with that label, as hex
  (computed from the evaluated set itself: a little optimistic).

`chance` is the label's share of the catalogue (a random ranking's expected precision). Also timed: one harmony
scan over --harmony-rows generated palettes (the vectorised scan the API runs). Prints one JSON document.

    python bench/colour_pick.py [--datasets DIR] [--data DIR] [--min-count 10] [--harmony-rows 20000]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from swatch.catalog.db import Catalog
from swatch.catalog.palettes import live_palettes
from swatch.catalog.snapshot import MetadataTable
from swatch.config import Settings
from swatch.features.colourspace import LCh, lab_to_hex
from swatch.ingest import ingest
from swatch.search.colour_query import ColourQuery, PickedColour
from swatch.search.harmony import RULES, PaletteArrays, scan
from swatch.search.service import SearchEngine

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATASETS = ROOT.parent / "shared" / "datasets"
K = 10
CSS = {"Black": "#000000", "White": "#ffffff", "Blue": "#0000ff", "Grey": "#808080", "Red": "#ff0000",
       "Brown": "#a52a2a", "Green": "#008000", "Pink": "#ffc0cb", "Navy Blue": "#000080", "Purple": "#800080",
       "Yellow": "#ffff00", "Orange": "#ffa500", "Silver": "#c0c0c0", "Beige": "#f5f5dc", "Maroon": "#800000",
       "Gold": "#ffd700", "Cream": "#fffdd0", "Tan": "#d2b48c", "Peach": "#ffe5b4", "Olive": "#808000"}


def labels(folder: Path) -> dict[str, str]:
    """File name -> base colour of the products (the `color` column)."""
    with (folder / "labels.csv").open(newline="", encoding="utf-8") as fh:
        return {Path(r["file"]).name: r["color"] for r in csv.DictReader(fh) if r.get("color")}


def median_hexes(settings: Settings, by_name: dict[str, str], names: list[str]) -> dict[str, str]:
    """Per label, the hex of the median Lab of its products' main stored palette colour."""
    catalog = Catalog(settings.db_path)
    files = {img.id: img.filename for img in catalog.live_images()}
    mains: dict[str, list[list[float]]] = {}
    for image_id, palette in live_palettes(catalog, 5):
        label = by_name.get(files.get(image_id, ""))
        if label and palette:
            mains.setdefault(label, []).append(max(palette, key=lambda c: c["share"])["lab"])
    return {n: lab_to_hex(np.median(np.array(mains[n]), axis=0)[None, :])[0] for n in names if n in mains}


def precision(engine: SearchEngine, hex_: str, label: str, by_name: dict[str, str]) -> float:
    result = engine.colours.search(ColourQuery((PickedColour(hex_, 1.0),), top_n=K))
    return sum(1 for h in result.hits[:K] if by_name.get(h["filename"]) == label) / K


def harmony_timing(rows: int) -> dict[str, float]:
    """Median time of one harmony scan over `rows` random five-colour palettes (arrays built once)."""
    rng = np.random.default_rng(0)
    ids = np.arange(1, rows + 1)
    table = MetadataTable.from_rows([(int(i), f"{i}.jpg", f"{i}.jpg", None, 1, 1, None, None, None, None, "[]",
                                      None) for i in ids], generation=1)
    palettes = []
    for i in ids.tolist():
        lab = np.column_stack([rng.uniform(20, 90, 5), rng.uniform(-60, 60, 5), rng.uniform(-60, 60, 5)])
        share = rng.dirichlet(np.ones(5))
        palettes.append((i, [{"hex": "#000000", "share": float(s), "lab": [float(v) for v in c]}
                             for c, s in zip(lab, share, strict=True)]))
    t0 = time.perf_counter()
    arrays = PaletteArrays.build(table, palettes, (1, rows))
    build_ms = (time.perf_counter() - t0) * 1000
    times = []
    for rule in ("complementary", "triadic", "analogous", "monochromatic") * 5:
        t0 = time.perf_counter()
        scan(arrays, RULES[rule], LCh(50.0, 40.0, 350.0))
        times.append((time.perf_counter() - t0) * 1000)
    return {"rows": rows, "build_ms": round(build_ms, 1), "scan_ms_median": round(float(np.median(times)), 2)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    ap.add_argument("--data", type=Path, default=Path("/tmp/swatch-bench-colour-pick"))
    ap.add_argument("--min-count", type=int, default=10)
    ap.add_argument("--harmony-rows", type=int, default=20000)
    args = ap.parse_args(argv)
    folder = args.datasets / "fashion-products"
    if not (folder / "labels.csv").is_file():
        print(json.dumps({"skipped": f"no dataset at {folder}"}))
        return 0
    by_name = labels(folder)
    settings = Settings.from_env(data_dir=args.data)
    t0 = time.perf_counter()
    summary = ingest(folder / "images", settings, models=["color"], progress=False, log=lambda m: None)
    ingest_s = time.perf_counter() - t0
    engine = SearchEngine(settings, metadata_interval=0.0)
    live = {img.filename for img in Catalog(settings.db_path).live_images()}
    counts: dict[str, int] = {}
    for name, label in by_name.items():
        if name in live:
            counts[label] = counts.get(label, 0) + 1
    names = sorted((n for n, c in counts.items() if c >= args.min_count and n in CSS), key=lambda n: -counts[n])
    medians = median_hexes(settings, by_name, names)
    per: dict[str, Any] = {}
    t0 = time.perf_counter()
    for name in names:
        per[name] = {"count": counts[name], "chance": round(counts[name] / len(live), 3),
                     "css": {"hex": CSS[name], "p@10": precision(engine, CSS[name], name, by_name)}}
        if name in medians:
            per[name]["median"] = {"hex": medians[name], "p@10": precision(engine, medians[name], name, by_name)}
    search_s = time.perf_counter() - t0
    out = {
        "dataset": "fashion-products", "images": len(live), "colours": len(names), "k": K,
        "ingest": {"seconds": round(ingest_s, 1), "added": summary.added},
        "per_colour": per,
        "mean_p@10": {"css": round(float(np.mean([p["css"]["p@10"] for p in per.values()])), 3),
                      "median": round(float(np.mean([p["median"]["p@10"] for p in per.values() if "median" in p])), 3),
                      "chance": round(float(np.mean([p["chance"] for p in per.values()])), 3)},
        "search_ms_per_query": round(search_s * 1000 / max(1, 2 * len(names)), 2),
        "harmony_scan": harmony_timing(args.harmony_rows),
        "load": os.getloadavg()[0],
    }
    json.dump(out, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
