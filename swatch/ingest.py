"""Ingest: walk an image folder, sync the catalogue by content hash, write thumbnails and feature versions."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm import tqdm

from swatch.catalog.db import Catalog
from swatch.catalog.folders import register_folder, undo_rows
from swatch.catalog.images import ImageRow, NewImage
from swatch.catalog.palettes import store_palettes
from swatch.config import Settings
from swatch.features.base import MODEL_NAMES, Extractor, get_extractor
from swatch.features.color import DEFAULT_PALETTE_K, thumbnail_palette
from swatch.features.compact import compact as compact_rows
from swatch.features.store import FeatureStore, FeatureVersion
from swatch.features.versions import BASE_MODELS, COMBINED, refresh_derived
from swatch.fsutil import atomic_write, file_sha256
from swatch.icc import SRGB_ICC
from swatch.images import ImageError, fit_within, is_supported_name, open_image
from swatch.jobs import JobCancelled
from swatch.metadata import MetadataRecord, load_metadata_file, record_for

METADATA_MAP = "image_metadata_map.json"


@dataclass
class IngestSummary:
    """What one ingest did; `failed` maps relative paths to the reason they were skipped."""

    added: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0
    extracted: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    versions: list[str] = field(default_factory=list)
    rebuilt: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"added {self.added}, changed {self.changed}, unchanged {self.unchanged}, removed {self.removed}, "
            f"failed {len(self.failed)}"
        )


@dataclass
class _Work:
    """One file to decode: new or changed (image_id None until inserted), or a catalogue row lacking features."""

    rel: str
    path: Path
    sha256: str
    size: int
    models: tuple[str, ...]
    image_id: int | None = None


@dataclass
class _Decoded:
    work: _Work
    image: Image.Image | None
    error: str | None
    thumbnail: str | None = None
    palette: list[dict[str, Any]] | None = None


def scan_folder(root: Path, skip: Iterable[Path] = ()) -> list[str]:
    """Relative POSIX paths of files with an image extension below root (hidden entries and `skip` left out)."""
    skip_real = {p.resolve() for p in skip}
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and (here / d).resolve() not in skip_real)
        for name in filenames:
            if name.startswith(".") or not is_supported_name(name):
                continue
            full = here / name
            if full.is_symlink() or not full.is_file():
                continue
            found.append(full.relative_to(root).as_posix())
    return sorted(found)


def write_thumbnail(img: Image.Image, sha256: str, folder: Path, side: int) -> str:
    """JPEG thumbnail (sRGB, tagged so) named by content hash, written atomically; its path relative to `folder`."""
    rel = f"{sha256[:2]}/{sha256}.jpg"
    dest = folder / rel
    if dest.exists():
        return rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(dest, lambda fh: fit_within(img, side).save(fh, "JPEG", quality=85, icc_profile=SRGB_ICC))
    return rel


def _decode(work: _Work, settings: Settings, side: int) -> _Decoded:
    """Decode one file (JPEG at reduced size) and write its thumbnail; runs in a worker thread."""
    try:
        img = open_image(work.path, max_pixels=settings.max_image_pixels, draft_side=side,
                         slots=settings.decode_slots)
        if file_sha256(work.path) != work.sha256:
            return _Decoded(work, None, "file changed since it was hashed; run the ingest again")
        thumb = write_thumbnail(img, work.sha256, settings.thumbnails_dir, settings.thumb_size)
        return _Decoded(work, img, None, thumb, _thumbnail_palette(settings, thumb))
    except ImageError as exc:
        return _Decoded(work, None, str(exc))
    except Exception as exc:  # noqa: BLE001 - one bad file must never stop an ingest
        return _Decoded(work, None, f"unexpected error: {type(exc).__name__}: {exc}")


def _thumbnail_palette(settings: Settings, thumb: str) -> list[dict[str, Any]] | None:
    """The page's palette of a thumbnail just written (what /api/images/<id>/palette serves); None when it
    cannot be made (the endpoint then computes it on demand)."""
    try:
        data = (settings.thumbnails_dir / thumb).read_bytes()
        return thumbnail_palette(data, DEFAULT_PALETTE_K, settings.max_image_pixels, settings.decode_slots)
    except (OSError, ImageError):
        return None


def _batched_decode(
    items: list[_Work], settings: Settings, side: int, pool: ThreadPoolExecutor
) -> Iterator[list[_Decoded]]:
    """Decode batch by batch in the pool, one batch ahead of the consumer, so decoding overlaps extraction."""
    batch = max(1, settings.batch_size)
    pending: list[Any] | None = None
    for start in range(0, len(items), batch):
        nxt = [pool.submit(_decode, w, settings, side) for w in items[start : start + batch]]
        if pending is not None:
            yield [f.result() for f in pending]
        pending = nxt
    if pending is not None:
        yield [f.result() for f in pending]


def _apply_metadata(catalog: Catalog, root: str, records: dict[str, MetadataRecord]) -> None:
    """Write metadata for every live image under root: the file's entry, else what its name says."""
    images = catalog.images_under(root)
    catalog.write_metadata({img.id: record_for(rel, records) for rel, img in images.items()})


def _hash_all(
    root: Path, rels: list[str], pool: ThreadPoolExecutor, progress: bool
) -> Iterator[tuple[str, str | None, int]]:
    def one(rel: str) -> tuple[str, str | None, int]:
        path = root / rel
        try:
            return rel, file_sha256(path), path.stat().st_size
        except OSError:
            return rel, None, 0

    yield from tqdm(pool.map(one, rels), total=len(rels), desc="hashing", unit="img", disable=not progress,
                    file=sys.stderr)


def _signature(info: dict[str, Any]) -> str:
    """What defines a version's rows: extractor parameters, weights and dimension."""
    keys = ("params", "weights_sha256", "dim")
    return json.dumps({k: info.get(k) for k in keys}, sort_keys=True, default=str)


def _extractor_info(model: str, ex: Extractor) -> dict[str, Any]:
    return {"extractor": model, "params": ex.params(), "weights_sha256": ex.weights_hash(), "kind": "pretrained",
            "dim": int(ex.dim)}


def _derived_out_of_date(store: FeatureStore, live: set[int]) -> bool:
    """True when a derived version (color+pattern, a trained head) does not hold exactly the live images."""
    for model in store.models():
        for version in store.versions(model):
            if model in BASE_MODELS and version == "v1":
                continue
            if set(int(i) for i in store.load(model, version).ids) != live:
                return True
    return False


class _Run:
    """The state of one ingest: catalogue, store, extractors and the rows extracted so far, per model."""

    def __init__(self, settings: Settings, root: str, base_models: list[str], given: dict[str, Extractor] | None,
                 summary: IngestSummary, say: Callable[[str], None], progress: bool):
        self.settings = settings
        self.root = root
        self.base_models = base_models
        self.given = given
        self.summary = summary
        self.say = say
        self.progress = progress
        self.catalog = Catalog(settings.database)
        self.store = FeatureStore(settings.features_dir)
        self.exs: dict[str, Extractor] = {}
        self.new_rows: dict[str, dict[int, np.ndarray]] = {m: {} for m in base_models}
        self.changed: set[str] = set()
        self.step: Callable[[str, float], None] | None = None  # progress hook; JobCancelled from it stops the run
        self.added_ids: list[int] = []  # rows this run inserted or brought back, and rows it retired (for a cancel)
        self.retired_ids: list[int] = []

    def report(self, message: str, fraction: float) -> None:
        """Tell the step hook; on its JobCancelled take back the rows this run wrote to `images`, and re-raise."""
        if self.step is None:
            return
        try:
            self.step(message, fraction)
        except JobCancelled:
            undo_rows(self.catalog, self.added_ids, self.retired_ids)
            self.catalog.close()
            raise

    def extractors(self) -> dict[str, Extractor]:
        """The base models' extractors: those passed in, else made from the registry (loaded once)."""
        for m in self.base_models:
            if m not in self.exs:
                self.exs[m] = (self.given or {}).get(m) or get_extractor(m)
        return self.exs

    def extract(self, items: list[_Work], pool: ThreadPoolExecutor) -> None:
        """Decode items, insert their catalogue rows batch by batch, and extract the models each one needs."""
        exs = self.extractors()
        side = max([exs[m].decode_side for m in self.base_models] + [self.settings.thumb_size])
        bar = tqdm(total=len(items), desc="extracting", unit="img", disable=not self.progress, file=sys.stderr)
        done = 0
        with ThreadPoolExecutor(max_workers=max(1, len(self.base_models) - 1)) as side_pool:
            for batch in _batched_decode(items, self.settings, side, pool):
                good = [d for d in batch if d.image is not None]
                for d in batch:
                    if d.image is None:
                        self.summary.failed[d.work.rel] = d.error or "unreadable"
                        self.say(f"failed: {d.work.rel}: {d.error}")
                if good:
                    self._insert_rows(good)
                    store_palettes(self.catalog, [(d.work.sha256, DEFAULT_PALETTE_K, d.palette)
                                                  for d in good if d.palette is not None])
                    self._extract_batch(good, exs, side_pool)
                    self.summary.extracted += len(good)
                bar.update(len(batch))
                done += len(batch)
                self.report(f"extracting {done}/{len(items)}", 0.1 + 0.8 * done / max(1, len(items)))
                if self.settings.ingest_pause_ms and done < len(items):
                    time.sleep(self.settings.ingest_pause_ms / 1000)
        bar.close()

    def _extract_batch(self, good: list[_Decoded], exs: dict[str, Extractor], side_pool: ThreadPoolExecutor) -> None:
        """Every model on its images of the batch; all but the last model run in a side thread (torch frees
        the GIL, so a light extractor overlaps the CNN)."""
        jobs: dict[str, tuple[list[int], Any]] = {}
        for k, m in enumerate(self.base_models):
            picked = [d for d in good if m in d.work.models]
            if not picked:
                continue
            ids = [int(d.work.image_id or 0) for d in picked]
            pics = [d.image for d in picked if d.image is not None]
            last = k == len(self.base_models) - 1
            jobs[m] = (ids, exs[m].extract(pics) if last else side_pool.submit(exs[m].extract, pics))
        for m, (ids, rows) in jobs.items():
            rows = rows if isinstance(rows, np.ndarray) else rows.result()
            for image_id, row in zip(ids, rows, strict=True):
                self.new_rows[m][image_id] = row

    def _insert_rows(self, good: list[_Decoded]) -> None:
        """One transaction inserting (or reviving) the batch's new catalogue rows; sets work.image_id."""
        fresh = [d for d in good if d.work.image_id is None]
        new: list[NewImage] = []
        for d in fresh:
            assert d.image is not None
            width, height = d.image.info["source_size"]
            new.append(NewImage(self.root, d.work.rel, d.work.sha256, d.work.size, width, height, d.thumbnail))
        for d, image_id in zip(fresh, self.catalog.add_images(new), strict=True):
            d.work.image_id = image_id
            self.added_ids.append(image_id)
            if d.work.rel not in self.changed:
                self.summary.added += 1

    def publish(self, current: dict[str, FeatureVersion]) -> None:
        """Each base v1 = old rows of live ids not re-extracted + the new rows, sorted by id, published atomically."""
        live = set(self.catalog.live_ids())
        registered = {(e["model"], e["version"]) for e in self.catalog.model_versions()}
        for m in self.base_models:
            old = current.get(m)
            new = self.new_rows[m]
            keep = np.zeros(0, dtype=bool)
            if old is not None:
                keep = np.fromiter((int(i) in live and int(i) not in new for i in old.ids), bool, len(old.ids))
            add_ids = sorted(i for i in new if i in live)
            if old is not None and not add_ids and bool(keep.all()):
                if (m, "v1") not in registered:
                    self._register(m, old.info)
                continue  # nothing changed for this model
            if old is None and not add_ids and not self.exs:
                continue  # nothing to publish and no extractor to describe it
            info = _extractor_info(m, self.extractors()[m])
            parts = [np.asarray(old.features[keep], dtype=np.float32)] if old is not None else []
            ids = [int(i) for i in old.ids[keep]] if old is not None else []
            if add_ids:
                parts.append(np.stack([new[i] for i in add_ids]).astype(np.float32))
                ids += add_ids
            rows = np.concatenate(parts) if parts else np.zeros((0, int(info["dim"])), np.float32)
            order = np.argsort(np.asarray(ids, dtype=np.int64), kind="stable")
            self.store.publish(m, "v1", rows[order], np.asarray(ids, dtype=np.int64)[order], info)
            self._register(m, info)
            self.summary.versions.append(f"{m}/v1")

    def _register(self, model: str, info: dict[str, Any]) -> None:
        self.catalog.register_model_version(model, "v1", {"kind": "pretrained", "extractor": model,
                                                          **info.get("params", {})})


def _plan(run: _Run, root_path: Path, progress: bool, pool: ThreadPoolExecutor) -> tuple[list[_Work], set[str]]:
    """Hash the folder: new and changed files to read (changed ones returned too); retire changed and gone rows."""
    s = run.settings
    run.report("scanning", 0.0)
    rels = scan_folder(root_path, skip=[s.thumbnails_dir, s.features_dir, s.models_dir, s.clusters_dir])
    known = run.catalog.images_under(run.root)
    seen: set[str] = set()
    todo: list[_Work] = []
    for n, (rel, sha, size) in enumerate(_hash_all(root_path, rels, pool, progress)):
        if n % 64 == 0:
            run.report(f"hashing {n}/{len(rels)}", 0.1 * n / max(1, len(rels)))
        if sha is None:
            run.summary.failed[rel] = "cannot read file"
            run.say(f"failed: {rel}: cannot read file")
            continue
        seen.add(rel)
        old = known.get(rel)
        if old is not None and old.sha256 == sha:
            run.summary.unchanged += 1
            continue
        todo.append(_Work(rel, root_path / rel, sha, size, tuple(run.base_models)))
    changed = {w.rel for w in todo if w.rel in known}
    gone = [img.id for rel, img in known.items() if rel not in seen or rel in changed]
    run.catalog.remove_images(gone)
    run.retired_ids = gone
    run.summary.removed = len([rel for rel in known if rel not in seen])
    run.summary.changed = len(changed)
    return todo, changed


def _lacking(run: _Run, current: dict[str, FeatureVersion]) -> list[_Work]:
    """Live catalogue images some base version lacks (a crash before publishing, a new or rebuilt model)."""
    live = set(run.catalog.live_ids())
    need: dict[int, list[str]] = {}
    for m in run.base_models:
        have = set(int(i) for i in current[m].ids) if m in current else set()
        for i in live - have:
            need.setdefault(i, []).append(m)
    rows: dict[int, ImageRow] = run.catalog.images_by_ids(sorted(need))
    return [
        _Work(row.path, row.full_path, row.sha256, row.size_bytes, tuple(need[row.id]), image_id=row.id)
        for row in rows.values()
        if row.full_path.is_file()
    ]


def ingest(
    images_dir: Path,
    settings: Settings,
    metadata_file: Path | None = None,
    models: Iterable[str] = MODEL_NAMES,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    extractors: dict[str, Extractor] | None = None,
    compact: int | None = None,
    step: Callable[[str, float], None] | None = None,
) -> IngestSummary:
    """Bring the catalogue and the v1 feature versions up to date with `images_dir`.

    New and changed files are decoded once for thumbnails and features; unchanged ones (same content hash) are
    skipped; files gone from the folder are marked removed. A base version made with other extractor settings
    (parameters, weights, dimension) is rebuilt. Rows reach the catalogue batch by batch, and feature versions
    are published at the end (atomically), so a crash at any point leaves a consistent store: the next run
    extracts whatever live image a version still lacks. Raises ValueError, FileNotFoundError or MetadataError
    on bad arguments before anything is written. `compact` (dimensions) fits a compact pattern projection
    (features/compact.py; ProjectionError, after the ingest is saved, when the catalogue is too small); without
    it an existing projection is refit once the catalogue has grown enough. `step(message, fraction)` is told
    each stage (scanning, hashing, extracting N/M, publishing); a JobCancelled from it during the scan or the
    extraction stops the ingest and takes back the catalogue rows it wrote, so nothing is published.
    """
    say = log or (lambda msg: tqdm.write(msg, file=sys.stderr))
    root_path = Path(images_dir).expanduser().resolve()
    if not root_path.is_dir():
        raise FileNotFoundError(f"image folder not found: {images_dir}")
    wanted = list(dict.fromkeys(models))
    for m in wanted:
        if m not in MODEL_NAMES:
            raise ValueError(f"unknown model {m!r}; choose from {', '.join(MODEL_NAMES)}")
    base_models = [m for m in BASE_MODELS if m in wanted or (COMBINED in wanted)]
    if metadata_file is None and (root_path / METADATA_MAP).is_file():
        metadata_file = root_path / METADATA_MAP
    metadata_sha = file_sha256(Path(metadata_file)) if metadata_file else None
    records = load_metadata_file(Path(metadata_file)) if metadata_file else {}

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    summary = IngestSummary()
    run = _Run(settings, str(root_path), base_models, extractors, summary, say, progress)
    run.step = step
    with ThreadPoolExecutor(max_workers=max(1, settings.decode_threads)) as pool:
        todo, run.changed = _plan(run, root_path, progress, pool)
        current = {m: run.store.load(m, "v1") for m in base_models if run.store.exists(m, "v1")}
        if todo or current or run.catalog.count_images():
            for m, ex in run.extractors().items():
                if m in current and _signature(current[m].info) != _signature(_extractor_info(m, ex)):
                    say(f"{m}/v1 was made with other extractor settings: rebuilding it")
                    summary.rebuilt.append(m)
                    del current[m]
        todo += _lacking(run, current)
        if todo:
            run.extract(todo, pool)
    run.report("publishing", 0.9)
    _apply_metadata(run.catalog, run.root, records)
    register_folder(run.catalog, run.root, str(metadata_file) if metadata_file else None, metadata_sha)
    run.publish(current)
    live = set(run.catalog.live_ids())
    if summary.versions or _derived_out_of_date(run.store, live) or (
        COMBINED in wanted and not run.store.exists(COMBINED, "v1")
    ):
        summary.versions += refresh_derived(run.store, run.catalog)
    try:
        if "pattern" in base_models:  # a compact projection when asked for, or a refit once the catalogue grew
            summary.versions += compact_rows(settings, run.catalog, run.store, compact)
    finally:
        run.catalog.close()
    return summary
