"""Ingest: walk an image folder, sync the catalogue by content hash, write thumbnails and feature versions."""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm import tqdm

from swatch.catalog.db import Catalog, now_iso
from swatch.catalog.metadata import MetadataRecord, load_metadata_file, record_for
from swatch.config import Settings
from swatch.features.base import MODEL_NAMES, Extractor, get_extractor
from swatch.features.store import FeatureStore
from swatch.features.versions import BASE_MODELS, COMBINED, refresh_derived
from swatch.images import ImageError, file_sha256, fit_within, is_supported_name, open_image

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

    def line(self) -> str:
        return (
            f"added {self.added}, changed {self.changed}, unchanged {self.unchanged}, removed {self.removed}, "
            f"failed {len(self.failed)}"
        )


@dataclass
class _Work:
    rel: str
    path: Path
    sha256: str
    size: int
    image_id: int | None = None  # set for rows already in the catalogue that only lack features


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
    """JPEG thumbnail named by content hash (written atomically); returns its path relative to `folder`."""
    rel = f"{sha256[:2]}/{sha256}.jpg"
    dest = folder / rel
    if dest.exists():
        return rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.tmp")
    with open(tmp, "wb") as fh:
        fit_within(img, side).save(fh, "JPEG", quality=85, optimize=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, dest)
    return rel


def _decode(work: _Work, side: int, max_pixels: int) -> tuple[_Work, Image.Image | None, str | None]:
    try:
        return work, open_image(work.path, max_pixels=max_pixels, draft_side=side), None
    except ImageError as exc:
        return work, None, str(exc)
    except Exception as exc:  # noqa: BLE001 - one bad file must never stop an ingest
        return work, None, f"unexpected error: {type(exc).__name__}: {exc}"


def _batched_decode(
    items: list[_Work], side: int, max_pixels: int, threads: int, batch: int
) -> Iterator[list[tuple[_Work, Image.Image | None, str | None]]]:
    """Decode in a thread pool, one batch ahead of the consumer, so decoding overlaps extraction."""
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        chunks = [items[i : i + batch] for i in range(0, len(items), batch)]
        pending = None
        for chunk in chunks:
            nxt = [pool.submit(_decode, w, side, max_pixels) for w in chunk]
            if pending is not None:
                yield [f.result() for f in pending]
            pending = nxt
        if pending is not None:
            yield [f.result() for f in pending]


def _apply_metadata(catalog: Catalog, root: str, records: dict[str, MetadataRecord]) -> None:
    """Write metadata for every live image under root: the file's entry, else what its name says."""
    images = catalog.images_under(root)
    with catalog.transaction() as tx:
        for rel, img in images.items():
            rec = record_for(rel, records)
            comp = [[f, float(p)] for f, p in rec.composition]
            tx.execute(
                "INSERT INTO metadata(image_id, design, colourway, season, quality, composition, cluster, extras)"
                " VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(image_id) DO UPDATE SET design=excluded.design,"
                " colourway=excluded.colourway, season=excluded.season, quality=excluded.quality,"
                " composition=excluded.composition, cluster=excluded.cluster, extras=excluded.extras",
                (img.id, rec.design, rec.colourway, rec.season, rec.quality, json.dumps(comp), rec.cluster,
                 json.dumps(rec.extras, sort_keys=True, default=str)),
            )
            tx.execute("DELETE FROM composition WHERE image_id = ?", (img.id,))
            tx.executemany(
                "INSERT OR REPLACE INTO composition(image_id, fiber, pct) VALUES (?,?,?)",
                [(img.id, f, p) for f, p in comp],
            )


def _hash_all(root: Path, rels: list[str], threads: int, progress: bool) -> Iterator[tuple[str, str | None, int]]:
    def one(rel: str) -> tuple[str, str | None, int]:
        path = root / rel
        try:
            return rel, file_sha256(path), path.stat().st_size
        except OSError:
            return rel, None, 0

    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        yield from tqdm(pool.map(one, rels), total=len(rels), desc="hashing", unit="img", disable=not progress,
                        file=sys.stderr)


def ingest(
    images_dir: Path,
    settings: Settings,
    metadata_file: Path | None = None,
    models: Iterable[str] = MODEL_NAMES,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    extractors: dict[str, Extractor] | None = None,
) -> IngestSummary:
    """Bring the catalogue and the v1 feature versions up to date with `images_dir`.

    New and changed files are decoded once for thumbnails and features; unchanged ones (same content hash) are
    skipped; files gone from the folder are marked removed. Rows reach the catalogue batch by batch, and feature
    versions are published at the end (atomically), so a crash at any point leaves a consistent store: the next
    run extracts whatever live image a version still lacks.
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
    records = load_metadata_file(Path(metadata_file)) if metadata_file else {}

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    catalog = Catalog(settings.db_path)
    store = FeatureStore(settings.features_dir)
    root = str(root_path)
    summary = IngestSummary()

    skip_dirs = [settings.thumbnails_dir, settings.features_dir, settings.models_dir, settings.clusters_dir]
    rels = scan_folder(root_path, skip=skip_dirs)
    known = catalog.images_under(root)
    seen: set[str] = set()
    todo: list[_Work] = []
    for rel, sha, size in _hash_all(root_path, rels, settings.decode_threads, progress):
        if sha is None:
            summary.failed[rel] = "cannot read file"
            continue
        seen.add(rel)
        old = known.get(rel)
        if old is not None and old.sha256 == sha:
            summary.unchanged += 1
            continue
        todo.append(_Work(rel, root_path / rel, sha, size))

    # files that vanished, and files whose content changed, retire their old rows
    changed = {w.rel for w in todo if w.rel in known}
    gone = [img.id for rel, img in known.items() if rel not in seen or rel in changed]
    if gone:
        with catalog.transaction() as tx:
            tx.executemany("UPDATE images SET removed_at = ? WHERE id = ?", [(now_iso(), i) for i in gone])
    summary.removed = len([rel for rel in known if rel not in seen])
    summary.changed = len(changed)

    # live images a base version lacks (a crash before publishing, or a model asked for the first time)
    live = set(catalog.live_ids())
    current: dict[str, Any] = {}
    lacking: set[int] = set()
    for m in base_models:
        if store.exists(m, "v1"):
            fv = store.load(m, "v1")
            current[m] = fv
            lacking |= live - set(int(i) for i in fv.ids)
        else:
            lacking |= live
    lacking_rows = catalog.images_by_ids(sorted(lacking))
    for row in lacking_rows.values():
        if row.root == root or row.full_path.exists():
            todo.append(_Work(row.path, row.full_path, row.sha256, row.size_bytes, image_id=row.id))

    new_rows: dict[str, dict[int, np.ndarray]] = {m: {} for m in base_models}
    if todo:
        exs = extractors or {}
        for m in base_models:
            if m not in exs:
                exs[m] = get_extractor(m)
        side = max(exs[m].decode_side for m in base_models)
        bar = tqdm(total=len(todo), desc="extracting", unit="img", disable=not progress, file=sys.stderr)
        for batch in _batched_decode(todo, side, settings.max_image_pixels, settings.decode_threads,
                                     settings.batch_size):
            good: list[tuple[_Work, Image.Image]] = []
            for work, img, err in batch:
                if img is None:
                    summary.failed[work.rel] = err or "unreadable"
                    say(f"skipped {work.rel}: {err}")
                else:
                    good.append((work, img))
            if good:
                _store_batch(catalog, settings, root, good, summary, changed)
                pics = [img for _, img in good]
                ids = [w.image_id for w, _ in good]
                for m in base_models:
                    rows = exs[m].extract(pics)
                    for image_id, row in zip(ids, rows, strict=True):
                        new_rows[m][int(image_id or 0)] = row
                summary.extracted += len(good)
            bar.update(len(batch))
        bar.close()

    _apply_metadata(catalog, root, records)

    # publish: keep rows of live ids, add the new ones, drop the rest
    live = set(catalog.live_ids())
    for m in base_models:
        old = current.get(m)
        keep_ids: list[int] = []
        parts: list[np.ndarray] = []
        if old is not None:
            mask = np.array([int(i) in live and int(i) not in new_rows[m] for i in old.ids], dtype=bool)
            keep_ids = [int(i) for i in old.ids[mask]]
            parts.append(np.asarray(old.features[mask]))
        add_ids = sorted(i for i in new_rows[m] if i in live)
        if add_ids:
            parts.append(np.stack([new_rows[m][i] for i in add_ids]))
        all_ids = keep_ids + add_ids
        if old is not None and not add_ids and len(keep_ids) == len(old.ids):
            continue  # nothing changed for this model
        ex = (extractors or {}).get(m) or (get_extractor(m) if not parts else None)
        info = _base_info(m, ex, old)
        rows = np.concatenate(parts) if parts else np.zeros((0, int(info.get("dim", 0) or 1)), np.float32)
        order = np.argsort(np.array(all_ids, dtype=np.int64), kind="stable")
        store.publish(m, "v1", rows[order], np.array(all_ids, dtype=np.int64)[order], info)
        catalog.register_model_version(m, "v1", {"kind": "pretrained", "extractor": m, **info.get("params", {})})
        summary.versions.append(f"{m}/v1")
    if summary.versions or (COMBINED in wanted and not store.exists(COMBINED, "v1")):
        summary.versions += refresh_derived(store, catalog)
    return summary


def _base_info(model: str, ex: Extractor | None, old: Any) -> dict[str, Any]:
    if ex is not None:
        return {"extractor": model, "params": ex.params(), "weights_sha256": ex.weights_hash(), "kind": "pretrained"}
    if old is not None:
        return {k: v for k, v in old.info.items() if k in ("extractor", "params", "weights_sha256", "kind")}
    return {"extractor": model, "kind": "pretrained"}


def _store_batch(
    catalog: Catalog, settings: Settings, root: str,
    good: list[tuple[_Work, Image.Image]], summary: IngestSummary, changed: set[str],
) -> None:
    """Thumbnails, then one transaction inserting (or reviving) the batch's catalogue rows; sets work.image_id."""
    thumbs = {w.rel: write_thumbnail(img, w.sha256, settings.thumbnails_dir, settings.thumb_size) for w, img in good}
    stamp = now_iso()
    with catalog.transaction() as tx:
        for work, img in good:
            if work.image_id is not None:
                continue
            revived = catalog.removed_with_hash(root, work.rel, work.sha256)
            if revived is not None:
                tx.execute("UPDATE images SET removed_at = NULL, updated_at = ? WHERE id = ?", (stamp, revived))
                work.image_id = revived
            else:
                cur = tx.execute(
                    "INSERT INTO images(root, path, filename, sha256, size_bytes, width, height, thumbnail,"
                    " added_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (root, work.rel, Path(work.rel).name, work.sha256, work.size, *img.info["source_size"],
                     thumbs[work.rel], stamp, stamp),
                )
                work.image_id = int(cur.lastrowid or 0)
            if work.rel not in changed:
                summary.added += 1
