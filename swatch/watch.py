"""Catalogue change alerts: new, changed and removed files of the registered folders by stat, hashing candidates."""

from __future__ import annotations

import logging
import os
import stat
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from swatch.catalog.db import Catalog
from swatch.catalog.folders import FileStat, FolderRow, file_stats, get_folder, list_folders, remove_folder, save_check
from swatch.config import Settings
from swatch.features.store import FeatureStore
from swatch.features.versions import BASE_MODELS, refresh_derived
from swatch.fsutil import file_sha256
from swatch.images import is_supported_name

log = logging.getLogger(__name__)
LISTED = 50  # paths of each kind a report names (the counts are complete)
_CHECK_LOCK = threading.Lock()


@dataclass
class FolderChanges:
    """One folder's check: counts are complete, `new`/`changed`/`removed` name at most LISTED paths each."""

    folder: int
    name: str
    checked_at: str = ""
    missing: bool = False
    files: int = 0
    hashed: int = 0
    metadata_changed: bool = False
    counts: dict[str, int] = field(default_factory=lambda: {"new": 0, "changed": 0, "removed": 0})
    new: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    @property
    def pending(self) -> bool:
        return self.missing is False and (any(self.counts.values()) or self.metadata_changed)


def _walk(root: Path, skip: set[Path]) -> dict[str, FileStat]:
    """Every image file below root (hidden entries, links and the data folders left out) with its stat."""
    found: dict[str, FileStat] = {}
    stack = [root]
    while stack:
        here = stack.pop()
        try:
            entries = list(os.scandir(here))
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            full = Path(entry.path)
            if stat.S_ISDIR(st.st_mode):
                if full not in skip:
                    stack.append(full)
            elif stat.S_ISREG(st.st_mode) and is_supported_name(entry.name):
                found[full.relative_to(root).as_posix()] = FileStat(int(st.st_size), int(st.st_mtime_ns))
    return found


def _same_hash(path: Path, sha256: str) -> bool:
    try:
        return file_sha256(path) == sha256
    except OSError:
        return False


def _metadata_changed(folder: FolderRow) -> bool:
    """The metadata file the last ingest read now differs (or appeared, or went)."""
    name = folder.metadata_file or str(Path(folder.root) / "image_metadata_map.json")
    path = Path(name)
    if not path.is_file():
        return folder.metadata_sha256 is not None
    return folder.metadata_sha256 is None or not _same_hash(path, folder.metadata_sha256)


def check_folder(settings: Settings, catalog: Catalog, folder: FolderRow) -> FolderChanges:
    """Compare a folder with the catalogue: a file is a candidate only when its stat moved since it was last known
    to match; a candidate of the same size is hashed. The report and the verified stats are saved."""
    report = FolderChanges(folder.id, Path(folder.root).name or folder.root)
    root = Path(folder.root)
    if not root.is_dir():
        report.missing = True
        save_check(catalog, folder.id, asdict(report), {}, [])
        return report
    skip = {settings.thumbnails_dir, settings.features_dir, settings.models_dir, settings.clusters_dir}
    on_disk = _walk(root, {p.resolve() for p in skip})
    known = catalog.images_under(str(root))
    baseline = file_stats(catalog, folder.id)
    verified: dict[str, FileStat] = {}
    forget: list[str] = []
    for rel in sorted(on_disk):
        now = on_disk[rel]
        row = known.get(rel)
        if row is None:
            report.counts["new"] += 1
            report.new.append(rel)
            forget.append(rel)
            continue
        if baseline.get(rel) == now:
            continue
        if now.size_bytes == row.size_bytes:
            report.hashed += 1
            if _same_hash(root / rel, row.sha256):
                verified[rel] = now
                continue
        report.counts["changed"] += 1
        report.changed.append(rel)
        forget.append(rel)
    gone = sorted(set(known) - set(on_disk))
    report.counts["removed"] = len(gone)
    report.removed = gone[:LISTED]
    forget += gone
    report.new, report.changed = report.new[:LISTED], report.changed[:LISTED]
    report.files = len(on_disk)
    report.metadata_changed = _metadata_changed(folder)
    report.checked_at = catalog.now()
    save_check(catalog, folder.id, asdict(report), verified, forget)
    return report


def check_all(settings: Settings, catalog: Catalog) -> list[FolderChanges]:
    """Check every live folder (one check at a time per process)."""
    with _CHECK_LOCK:
        return [check_folder(settings, catalog, f) for f in list_folders(catalog, include_removed=False)]


def check_one(settings: Settings, catalog: Catalog, folder_id: int) -> FolderChanges | None:
    """Check one folder (after its ingest), in turn with the scheduled checks of this process."""
    with _CHECK_LOCK:
        folder = get_folder(catalog, folder_id)
        return check_folder(settings, catalog, folder) if folder is not None else None


def record_baseline(catalog: Catalog, folder_id: int, started_ns: int) -> None:
    """After an ingest of the folder: the stat of each of its live files that has its catalogued size and was
    not modified since the ingest began, so the next check hashes none of them."""
    folder = get_folder(catalog, folder_id)
    if folder is None:
        return
    known: dict[str, FileStat] = {}
    for rel, row in catalog.images_under(folder.root).items():
        try:
            st = os.stat(Path(folder.root) / rel, follow_symlinks=False)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) and st.st_size == row.size_bytes and st.st_mtime_ns < started_ns:
            known[rel] = FileStat(int(st.st_size), int(st.st_mtime_ns))
    save_check(catalog, folder_id, folder.changes, known, [])


def remove_folder_designs(settings: Settings, catalog: Catalog, folder_id: int) -> dict[str, Any]:
    """Mark a folder and its designs removed, then publish the feature versions without their rows (nothing on
    disk is deleted; an ingest of the folder brings the designs back)."""
    marked = remove_folder(catalog, folder_id)
    store = FeatureStore(settings.features_dir)
    live = set(catalog.live_ids())
    published: list[str] = []
    for model in BASE_MODELS:
        if not store.exists(model, "v1"):
            continue
        fv = store.load(model, "v1")
        keep = np.fromiter((int(i) in live for i in fv.ids), bool, len(fv.ids))
        if bool(keep.all()):
            continue
        store.publish(model, "v1", np.asarray(fv.features[keep]), np.asarray(fv.ids)[keep], fv.info)
        published.append(f"{model}/v1")
    if published:
        published += refresh_derived(store, catalog)
    return {"folder": folder_id, "removed": marked, "versions": published}
