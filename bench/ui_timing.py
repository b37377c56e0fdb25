"""Designer's page timing in headless Chromium: first thumbnails and click -> results painted, printed as JSON.

Runs on the demo catalogue (generated and ingested once, cached under --work) and on a synthetic catalogue of
--rows images made fast from it: catalogue rows (written with the catalogue's own add_images/write_metadata)
that reuse the demo thumbnails and metadata, and feature versions of random unit vectors of the real dimensions
published with FeatureStore.publish. Timings come from the page's
own performance marks (static/js/designer/): `swatch:first-thumbnails` (first 12 thumbnails decoded, then a frame,
measured from navigation start; the server puts the first catalogue page into the HTML) and the
`swatch:click-to-results` measure (click -> the first 12 result thumbnails decoded, then a frame). Each click is
also timed to the first row of results shown (`first_row`: the thumbnails of the cards level with the first card
decoded, then a frame), by a probe the benchmark puts into the page itself, so it reads the same on any version
of the page; the page's own `swatch:click-to-first-row` measure, where it has one, is printed beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from swatch.catalog.db import Catalog, copy_data_dir
from swatch.catalog.images import NewImage
from swatch.config import Settings
from swatch.features.base import combine_color_pattern, l2_normalise
from swatch.features.store import FeatureStore
from swatch.metadata.records import MetadataRecord
from swatch.search.cache import IndexCache
from swatch.testing.browser import launch_chromium
from swatch.testing.server import start_server


def demo_data(work: Path, designs: int, colourways: int) -> Path:
    """The ingested demo catalogue under work/ (made once; reused while the folder exists)."""
    from swatch.demo import generate_demo_catalogue
    from swatch.ingest import ingest

    data = work / f"demo-{designs}x{colourways}" / "data"
    if (data / "catalog.db").exists():
        return data
    images = data.parent / "images"
    generate_demo_catalogue(images, designs=designs, colourways=colourways, progress=False)
    ingest(images, Settings.from_env(data_dir=data), progress=False)
    return data


def synthetic_data(demo: Path, dest: Path, rows: int, seed: int = 0, pattern_dim: int | None = None,
                   reuse: bool = False) -> Path:
    """A copy of the demo data dir grown to `rows` live images through the catalogue's own writes (add_images,
    write_metadata): each new row reuses a demo image's thumbnail and content hash (so its palette stored at
    ingest is found, as for a real ingest) under a new path and design code; random unit feature rows
    (`pattern_dim` columns for pattern, as a compact version has; default the demo's), indexed as at publish.
    `reuse`: keep the one a previous run finished there with the same arguments."""
    done = dest / "synthetic-done.json"
    made_with = json.dumps({"rows": rows, "seed": seed, "pattern_dim": pattern_dim})
    if reuse and done.exists() and done.read_text() == made_with:
        return dest
    if dest.exists():
        shutil.rmtree(dest)
    copy_data_dir(demo, dest)
    catalog = Catalog(dest / "catalog.db")
    source = catalog.live_images()
    extra = rows - len(source)
    root = str(dest / "synthetic")
    for start in range(0, max(extra, 0), 20_000):
        batch = range(start, min(extra, start + 20_000))
        srcs = [source[k % len(source)] for k in batch]
        names = [f"KS{k // 4 + 10000:05d}-{k % 4 + 1}" for k in batch]
        new = [NewImage(root, f"synthetic/{name}.jpg", src.sha256, src.size_bytes, src.width, src.height,
                        src.thumbnail) for name, src in zip(names, srcs, strict=True)]
        ids = catalog.add_images(new)
        catalog.write_metadata({
            image_id: MetadataRecord(design=name.split("-")[0], colourway=name.split("-")[1], season=src.season,
                                     quality=src.quality, composition=[(f, float(p)) for f, p in src.composition])
            for image_id, name, src in zip(ids, names, srcs, strict=True)})
    ids_all = np.array(sorted(catalog.live_ids()), dtype=np.int64)
    catalog.close()
    store = FeatureStore(dest / "image_features")
    rng = np.random.default_rng(seed)
    rows_by_model: dict[str, np.ndarray] = {}
    for model in ("color", "pattern"):
        old = store.load(model, "v1")
        dim = pattern_dim if model == "pattern" and pattern_dim else old.features.shape[1]
        rows_by_model[model] = l2_normalise(rng.standard_normal((len(ids_all), dim), dtype=np.float32))
        store.publish(model, "v1", rows_by_model[model], ids_all, {**old.info, "synthetic": True})
    old = store.load("color+pattern", "v1")
    store.publish("color+pattern", "v1", combine_color_pattern(rows_by_model["color"], rows_by_model["pattern"]),
                  ids_all, {**old.info, "synthetic": True})
    settings = Settings.from_env(data_dir=dest)
    cache = IndexCache(settings.features_dir, dest / "indexes", settings.exact_index_max_rows)
    for model in ("color", "pattern", "color+pattern"):  # what `swatch ingest` builds at publish
        cache.prepare(model, "v1")
    done.write_text(made_with)
    return dest


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "n": len(values), "median_ms": round(statistics.median(ordered), 1),
        "p90_ms": round(ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))], 1),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))], 1),
        "max_ms": round(ordered[-1], 1), "min_ms": round(ordered[0], 1),
    }


_LOAD_STEPS = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const res = performance.getEntriesByType('resource');
  const thumbs = res.filter(e => e.name.includes('/thumbnails/')).slice(0, 12);
  return {
    html_ms: nav.responseEnd, scripts_ms: Math.max(...res.filter(e => e.name.endsWith('.js')).map(e => e.responseEnd)),
    thumbnails_requested_ms: thumbs.length ? Math.min(...thumbs.map(e => e.startTime)) : null,
    thumbnails_loaded_ms: thumbs.length ? Math.max(...thumbs.map(e => e.responseEnd)) : null,
    tiles_in_page_ms: performance.getEntriesByName('swatch:catalogue-answer')[0].startTime,
    first_thumbnails_painted_ms: performance.getEntriesByName('swatch:first-thumbnails')[0].startTime,
  };
}"""


def first_thumbnails(browser: Any, url: str, loads: int) -> tuple[list[float], list[float], dict[str, float]]:
    """Navigation start -> first thumbnails painted: in a fresh context (empty cache), then on a reload of it
    (a returning designer: thumbnails cached). Returns (cold, warm, median steps of the cold loads)."""
    cold, warm = [], []
    steps: list[dict[str, float]] = []
    wait = "() => performance.getEntriesByName('swatch:first-thumbnails').length > 0"
    for _ in range(loads):
        context = browser.new_context(viewport={"width": 1366, "height": 800})
        page = context.new_page()
        page.goto(url + "/")
        page.wait_for_function(wait, timeout=30_000)
        steps.append(page.evaluate(_LOAD_STEPS))
        cold.append(float(steps[-1]["first_thumbnails_painted_ms"]))
        page.wait_for_load_state("networkidle")
        page.reload()
        page.wait_for_function(wait, timeout=30_000)
        warm.append(float(page.evaluate("performance.getEntriesByName('swatch:first-thumbnails')[0].startTime")))
        context.close()
    keys = [k for k in steps[0] if steps[0][k] is not None]
    return cold, warm, {k: round(statistics.median(float(s[k]) for s in steps), 1) for k in keys}


#: put into the page before each click: on the first change of the result list, the cards level with the first
#: card (after layout), their thumbnails decoded, then a frame -> the mark `bench:first-row`
_FIRST_ROW_PROBE = """() => {
  const list = document.getElementById('results');
  const seen = new MutationObserver(() => {
    seen.disconnect();
    requestAnimationFrame(() => {
      const cards = [...list.children];
      const top = cards.length ? cards[0].getBoundingClientRect().top : 0;
      const imgs = cards.filter((c) => Math.abs(c.getBoundingClientRect().top - top) < 1)
        .map((c) => c.querySelector('img')).filter(Boolean);
      Promise.all(imgs.map((im) => im.decode().catch(() => null)))
        .then(() => requestAnimationFrame(() => performance.mark('bench:first-row')));
    });
  });
  seen.observe(list, { childList: true });
}"""

_CLICK_TIMES = """() => {
  const click = performance.getEntriesByName('swatch:click').slice(-1)[0].startTime;
  const row = performance.getEntriesByName('bench:first-row').slice(-1)[0];
  const own = performance.getEntriesByName('swatch:click-to-first-row').slice(-1)[0];
  return {
    twelve: performance.getEntriesByName('swatch:click-to-results').slice(-1)[0].duration,
    first_row: row ? row.startTime - click : null, page_first_row: own ? own.duration : null,
  };
}"""


def click_to_results(
    browser: Any, url: str, model: str, clicks: int, pause_s: float
) -> tuple[dict[str, float | None], list[dict[str, float | None]], list[float]]:
    """One tab: the first click and then `clicks` more on different designs, `pause_s` apart (a designer looks
    at the results before the next click). Returns (first, the others, server milliseconds of /find-similar);
    each click's times as _CLICK_TIMES reads them."""
    context = browser.new_context(viewport={"width": 1366, "height": 800})
    context.add_init_script(f"localStorage.setItem('swatch.model', JSON.stringify({json.dumps(model)}))")
    page = context.new_page()
    server_ms: list[float] = []
    page.on("response", lambda r: server_ms.append(float(r.headers.get("x-elapsed-ms", "nan")))
            if "/find-similar" in r.url else None)
    page.goto(url + "/")
    page.wait_for_function("() => document.querySelectorAll('#cat-grid .tile').length >= 24", timeout=30_000)
    page.wait_for_load_state("networkidle")
    times = []
    wait = ("(n) => performance.getEntriesByName('swatch:click-to-results').length > n"
            " && performance.getEntriesByName('bench:first-row').length > n")
    for k in range(clicks + 1):
        done = int(page.evaluate("performance.getEntriesByName('swatch:click-to-results').length"))
        page.evaluate(_FIRST_ROW_PROBE)
        page.locator("#cat-grid .tile").nth(k % 24).click()
        page.wait_for_function(wait, arg=done, timeout=30_000)
        times.append(page.evaluate(_CLICK_TIMES))
        page.wait_for_timeout(pause_s * 1000)
    context.close()
    return times[0], times[1:], server_ms[1:]


def measure(browser: Any, data: Path, loads: int, clicks: int, pause_s: float) -> dict[str, Any]:
    live = start_server(data)  # returns once /readyz says the indexes are warm
    url = live.url
    try:
        out: dict[str, Any] = {"images": Catalog(data / "catalog.db").count_images()}
        cold, warm, steps = first_thumbnails(browser, url, loads)
        out["first_thumbnails"] = {**summary(cold), "median_steps_ms": steps}
        out["first_thumbnails_reload"] = summary(warm)
        for model in ("pattern", "color", "color+pattern"):
            first, others, server = click_to_results(browser, url, model, clicks, pause_s)
            own = [float(t["page_first_row"]) for t in others if t["page_first_row"] is not None]
            out[f"click_to_results_{model}"] = {
                "first_click_ms": round(float(first["twelve"] or 0), 1),
                **summary([float(t["twelve"] or 0) for t in others]),
                "first_row": {"first_click_ms": round(float(first["first_row"] or 0), 1),
                              **summary([float(t["first_row"] or 0) for t in others])},
                "page_first_row_median_ms": round(statistics.median(own), 1) if own else None,
                "server_find_similar_median_ms": round(statistics.median(server), 1) if server else None,
            }
        return out
    finally:
        live.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "swatch-ui-bench",
                        help="cache folder for the ingested demo catalogue")
    parser.add_argument("--designs", type=int, default=60)
    parser.add_argument("--colourways", type=int, default=4)
    parser.add_argument("--rows", type=int, default=20_000, help="images in the synthetic catalogue")
    parser.add_argument("--loads", type=int, default=5, help="page loads per catalogue")
    parser.add_argument("--clicks", type=int, default=15, help="clicks per model and catalogue")
    parser.add_argument("--pause", type=float, default=1.0, help="seconds between clicks (default 1)")
    parser.add_argument("--pattern-dim", type=int, help="columns of the synthetic pattern rows (a compact "
                        "version's, e.g. 256; default the demo's)")
    parser.add_argument("--quick", action="store_true", help="3 loads, 5 clicks")
    parser.add_argument("--reuse", action="store_true", help="keep a synthetic catalogue an earlier run built")
    parser.add_argument("--skip-demo", action="store_true", help="time only the synthetic catalogue")
    args = parser.parse_args()
    if args.quick:
        args.loads, args.clicks = 3, 5
    if args.rows < 1 or args.loads < 1 or args.clicks < 1 or args.pause < 0 or not 1 <= (args.pattern_dim or 1) <= 4096:
        print("error: --rows, --loads and --clicks must be positive, --pause not negative, --pattern-dim 1..4096",
              file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    t0 = time.perf_counter()
    args.work.mkdir(parents=True, exist_ok=True)
    demo = demo_data(args.work, args.designs, args.colourways)
    big = synthetic_data(demo, args.work / f"synthetic-{args.rows}", args.rows, pattern_dim=args.pattern_dim,
                         reuse=args.reuse)
    report: dict[str, Any] = {"targets": {"first_thumbnails_ms": 1000, "click_to_results_ms": 150},
                              "load_average_at_start": list(os.getloadavg())}
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            if not args.skip_demo:
                report["demo"] = measure(browser, demo, args.loads, args.clicks, args.pause)
            report["synthetic"] = measure(browser, big, args.loads, args.clicks, args.pause)
        finally:
            browser.close()
    report["load_average_at_end"] = list(os.getloadavg())
    report["wall_s"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
